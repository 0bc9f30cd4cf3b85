// The multimodal EMA codebook step on device memory (contract: ucmg/ops.h, mmEmaStep).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "runtime.cuh"
#include "ucmg/ops.h"

namespace ucmg::cuda {

// The codebook state in device memory (same layout as CodebookState).
struct DeviceCodebook {
  float* embedding;  // [m, d]
  float* emaCount;   // [m]
  float* emaWeight;  // [m, d]
  int32_t* unused;   // [m]
  int64_t m;
  int64_t d;
};

// The step's report, left in device memory (read it after the stream is done).
struct DeviceMmEmaReport {
  const double* perplexity;           // [k]
  const unsigned long long* equalNum;
  const int32_t* resetCount;          // how many codes were revived
  const int32_t* resetCodes;          // [resetCount], ascending
  const int32_t* resetSources;        // [resetCount]
  const int32_t* badIndexCount;       // indices outside [0, m); those rows were ignored
};

// Scratch kept between calls (grows to the largest k * n and m seen).
struct MmEmaWorkspace {
  DeviceBuffer sortKeys, sortedKeys, sortRows, sortedRows, sortTemp;
  DeviceBuffer hits, segmentStart, codeUpdate, countUpdate, activeCodes;
  DeviceBuffer perplexity, equalNum, resetCount, resetCodes, resetSources, badIndexCount;
};

// z [k, n, d] and indices [k, n] are the modalities back to back. Everything stays on the
// device: the whole step (including the reset) is queued on `stream` without a host round
// trip. The EMA runs in float64 and is rounded once, like the CPU's; the sums of rows per
// code are taken in ascending row order (a stable sort by code), so results are deterministic.
DeviceMmEmaReport mmEmaOnDevice(DeviceCodebook& state, const float* z, const int32_t* indices,
                                int k, int64_t n, const MmEmaOptions& options,
                                MmEmaWorkspace& work, cudaStream_t stream);

}  // namespace ucmg::cuda
