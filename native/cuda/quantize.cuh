// Exact nearest-code search on device memory (contract: ucmg/ops.h, quantize).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "runtime.cuh"

namespace ucmg::cuda {

// Scratch kept between calls (grows to the largest n and m seen).
struct QuantizeWorkspace {
  DeviceBuffer codeNorms;       // [m] float ||e_j||^2
  DeviceBuffer maxNormBits;     // 1 double, as bits
  DeviceBuffer nearest;         // [n] best and second-best screening scores
  DeviceBuffer ambiguousRows;   // [n] rows the screen could not settle
  DeviceBuffer ambiguousCount;  // 1
};

// z [n, d], codebook [m, d] -> indices [n], distances [n], gathered [n, d] (may be null).
// Queued on `stream`; nothing is copied to the host. m >= 1.
//   1. screen: a fused tiled GEMM keeps, per row, the smallest approximate score
//      ||e||^2 - 2 z.e, its code and the second smallest score (no n x m matrix);
//   2. confirm: where the second smallest lies outside the candidate window of ops.h, the
//      screen's code is the only candidate: its exact distance is taken and the row is done;
//   3. resolve: every other row (ties, near-ties, a void bound) rescans the codebook alone,
//      rescoring every code in its window exactly.
void quantizeOnDevice(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
                      int32_t* indices, float* distances, float* gathered, QuantizeWorkspace& work,
                      cudaStream_t stream);

}  // namespace ucmg::cuda
