// General matrix product on device memory (there is no cuBLAS here).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ucmg::cuda {

// C [rows, cols] = alpha * op(A) op(B) + beta * C, every matrix row-major with the given
// leading dimension. op(A) is A [rows, depth], or A^T when aTransposed (A stored [depth, rows]);
// op(B) is B [depth, cols], or B^T when bTransposed (B stored [cols, depth]). T is the
// accumulation and output type; the inputs are read as SA and SB and widened to T. With
// beta == 0, C is not read. Instantiated for <float, float, float>, <double, float, float>,
// <double, double, double> and <double, double, float>.
template <class T, class SA, class SB>
void gemm(bool aTransposed, bool bTransposed, int64_t rows, int64_t cols, int64_t depth, T alpha,
          const SA* a, int64_t lda, const SB* b, int64_t ldb, T beta, T* c, int64_t ldc,
          cudaStream_t stream);

}  // namespace ucmg::cuda
