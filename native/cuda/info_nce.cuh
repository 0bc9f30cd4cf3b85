// Cross-CPC InfoNCE over all ordered modality pairs on device memory (contract: ucmg/ops.h,
// infoNce).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "runtime.cuh"

namespace ucmg::cuda {

// Scratch kept between calls (grows to the largest sizes seen).
struct InfoNceWorkspace {
  DeviceBuffer scores, rowMax, rowScale, diagonalTerms;
};

// targets, preds [k, b, d] (modalities back to back), weights [k * k] -> *loss (one double),
// hits [k * k] (columns whose argmax is the diagonal; accuracy = hits / b) and, where not
// null, gradTargets / gradPreds [k, b, d]. Queued on `stream`, all in device memory. All k*k
// score matrices are one GEMM, [k*b, k*b], held whole (k^2 b^2 floats).
void infoNceOnDevice(const float* targets, const float* preds, int k, int64_t b, int64_t d,
                     const float* weights, double* loss, unsigned int* hits, float* gradTargets,
                     float* gradPreds, InfoNceWorkspace& work, cudaStream_t stream);

}  // namespace ucmg::cuda
