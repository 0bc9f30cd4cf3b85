// The hot ops on device tensors of the tfjs 'cuda' backend: the *OnDevice kernels of native/cuda
// on handles, so that no operand or result goes through the host. CUDA-free (for the binding).
#pragma once

#include <cstdint>

namespace ucmg::cuda::backend {

// z [n, d], codebook [m, d] -> indices [n] (int32), distances [n], gathered [n, d] (0: none).
void quantize(int64_t z, int64_t codebook, int64_t n, int64_t m, int64_t d, int64_t indices, int64_t distances,
              int64_t gathered);

}  // namespace ucmg::cuda::backend
