// The code-matching loss L_cmcm and its gradient on device memory (contract: ucmg/ops.h,
// codeMatching).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "runtime.cuh"

namespace ucmg::cuda {

// Scratch kept between calls (grows to the largest sizes seen).
struct CodeMatchingWorkspace {
  DeviceBuffer codeNorms, distances, soft, mean, logMean, scores, scoreGrad, rowTotals;
  DeviceBuffer pairLosses, meanGrad, logMeanGrad, rowSums, inputGrad;
};

// z [k, b*t, d] (the modalities back to back) and the codebook [m, d] -> *loss (one double in
// device memory) and, when grad is not null, grad [k, b*t, d]. Queued on `stream`. Computed
// in float64 from the float32 inputs, like the CPU's: every modality's soft assignments at
// once, then all modality pairs from one matrix of P_x log(P_y + 1e-10)^T blocks.
void codeMatchingOnDevice(const float* z, int k, int64_t b, int64_t t, int64_t d,
                          const float* codebook, int64_t m, float epsilon, double* loss,
                          float* grad, CodeMatchingWorkspace& work, cudaStream_t stream);

}  // namespace ucmg::cuda
