// The one GEMM entry point of the CPU and dense kernels: OpenBLAS when the build found it
// (UCMG_HAVE_OPENBLAS), otherwise the portable blocked GEMM in portable_gemm.cc.
#pragma once

#include <cstdint>

namespace ucmg::cpu {

// Row-major C[M,N] = alpha * op(A) op(B) + beta * C, with op(A) [M,K] and op(B) [K,N];
// op(X) = X^T when transX. lda/ldb/ldc are the row strides of A, B, C as stored.
// beta == 0 overwrites C (its old contents may be garbage).
template <typename T>
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The portable blocked GEMM (always compiled; gemm() uses it when OpenBLAS is absent or
// UCMG_BLAS=OFF). Parallel over row blocks unless called inside an OpenMP parallel region.
template <typename T>
void portableGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// While one of these lives, gemm() runs on its calling thread only, so each thread of an
// OpenMP parallel region may call it on its own tile without oversubscribing the cores.
class SerialGemmScope {
 public:
  SerialGemmScope();
  ~SerialGemmScope();
  SerialGemmScope(const SerialGemmScope&) = delete;
  SerialGemmScope& operator=(const SerialGemmScope&) = delete;
};

}  // namespace ucmg::cpu
