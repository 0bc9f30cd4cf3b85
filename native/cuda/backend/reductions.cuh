// Row reductions of the tfjs 'cuda' backend (the reduced axes are made innermost first) and the
// index kernels: gather, gatherNd, segment sums and scatterNd. Deterministic: every sum runs in
// a fixed order, in double.
#pragma once

#include <cuda_runtime.h>

#include "elementwise.cuh"

namespace ucmg::cuda::backend {

// out[o] = op(x[o, 0..reduceSize)), x [outer, reduceSize] contiguous.
void launchReduce(ReduceOp op, DeviceView x, DeviceView out, int64_t outer, int64_t reduceSize,
                  cudaStream_t stream);

void launchGather(DeviceView x, const int32_t* indices, DeviceView out, int64_t batch, int64_t outer,
                  int64_t axisSize, int64_t inner, int64_t indexCount, cudaStream_t stream);

void launchSegmentSum(DeviceView x, const int32_t* segmentIds, DeviceView out, int64_t rows, int64_t inner,
                      int64_t segments, cudaStream_t stream);

// cellStrides[k]: the flat cell of index vector v is sum(v[k] * cellStrides[k]); cells in total.
struct NdIndexing {
  int depth = 0;
  int64_t dims[kMaxRank] = {};
  int64_t cellStrides[kMaxRank] = {};
};

void launchGatherNd(DeviceView x, const int32_t* indices, DeviceView out, int64_t rows, NdIndexing nd,
                    int64_t inner, cudaStream_t stream);

void launchScatterNd(const int32_t* indices, DeviceView updates, DeviceView out, int64_t rows, NdIndexing nd,
                     int64_t cells, int64_t inner, cudaStream_t stream);

}  // namespace ucmg::cuda::backend
