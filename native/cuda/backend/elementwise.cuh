// The strided element-wise engine of the tfjs 'cuda' backend: one kernel for every unary,
// binary and ternary op, casts, fills, copies between arbitrary views (transposes, slices,
// reverses, broadcasts, pads and concatenations are copies between views).
#pragma once

#include <cuda_runtime.h>

#include "backend_api.h"

namespace ucmg::cuda::backend {

struct DeviceView {
  const void* data = nullptr;
  DType dtype = DType::Float32;
  int64_t offset = 0;
  int64_t strides[kMaxRank] = {};
};

struct ElementwiseArgs {
  ElementwiseOp op = ElementwiseOp::Copy;
  int inputCount = 0;
  DeviceView inputs[3];
  DeviceView out;  // data is written through a cast
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t size = 0;
  double alpha = 0, beta = 0;
};

// Queues the op on `stream`. Inputs all Int32 compute in double (exact integers); otherwise
// in float, as tfjs does.
void launchElementwise(const ElementwiseArgs& args, cudaStream_t stream);

}  // namespace ucmg::cuda::backend
