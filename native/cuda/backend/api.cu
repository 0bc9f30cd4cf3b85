// The kernel entry points of backend_api.h: handles resolved to device views, then queued on
// the backend's stream (the legacy default stream: downloads synchronise with it).
#include "../runtime.cuh"
#include "allocator.cuh"
#include "reductions.cuh"

namespace ucmg::cuda::backend {

namespace {

constexpr cudaStream_t kStream = nullptr;

DeviceView deviceView(int64_t handle, int64_t offset = 0, const int64_t* strides = nullptr, int rank = 0) {
  DeviceView view;
  view.data = devicePointer(handle);
  view.dtype = tensorDType(handle);
  view.offset = offset;
  for (int k = 0; k < rank; ++k) view.strides[k] = strides[k];
  return view;
}

NdIndexing ndIndexing(const std::vector<int64_t>& dims, int64_t depth) {
  NdIndexing nd;
  nd.depth = (int)depth;
  int64_t cell = 1;
  for (int64_t k = depth - 1; k >= 0; --k) {
    nd.dims[k] = dims[k];
    nd.cellStrides[k] = cell;
    cell *= dims[k];
  }
  return nd;
}

const int32_t* indexPointer(int64_t handle) { return static_cast<const int32_t*>(devicePointer(handle)); }

}  // namespace

void elementwise(ElementwiseOp op, const std::vector<View>& inputs, const View& out, const Shape& shape,
                 double alpha, double beta) {
  ElementwiseArgs args;
  args.op = op;
  args.inputCount = (int)inputs.size();
  for (size_t j = 0; j < inputs.size(); ++j)
    args.inputs[j] = deviceView(inputs[j].handle, inputs[j].offset, inputs[j].strides, shape.rank);
  args.out = deviceView(out.handle, out.offset, out.strides, shape.rank);
  args.rank = shape.rank;
  for (int k = 0; k < shape.rank; ++k) args.dims[k] = shape.dims[k];
  args.size = shape.size();
  args.alpha = alpha;
  args.beta = beta;
  launchElementwise(args, kStream);
}

void reduce(ReduceOp op, int64_t x, int64_t out, int64_t outer, int64_t reduceSize) {
  launchReduce(op, deviceView(x), deviceView(out), outer, reduceSize, kStream);
}

void gather(int64_t x, int64_t indices, int64_t out, int64_t batch, int64_t outer, int64_t axisSize,
            int64_t inner, int64_t indexCount) {
  launchGather(deviceView(x), indexPointer(indices), deviceView(out), batch, outer, axisSize, inner, indexCount,
               kStream);
}

void segmentSum(int64_t x, int64_t segmentIds, int64_t out, int64_t rows, int64_t inner, int64_t segments) {
  launchSegmentSum(deviceView(x), indexPointer(segmentIds), deviceView(out), rows, inner, segments, kStream);
}

void gatherNd(int64_t x, int64_t indices, int64_t out, int64_t rows, int64_t depth, const std::vector<int64_t>& xDims,
              int64_t inner) {
  launchGatherNd(deviceView(x), indexPointer(indices), deviceView(out), rows, ndIndexing(xDims, depth), inner,
                 kStream);
}

void scatterNd(int64_t indices, int64_t updates, int64_t out, int64_t rows, int64_t depth,
               const std::vector<int64_t>& outDims, int64_t inner) {
  int64_t cells = 1;
  for (int64_t k = 0; k < depth; ++k) cells *= outDims[k];
  launchScatterNd(indexPointer(indices), deviceView(updates), deviceView(out), rows, ndIndexing(outDims, depth),
                  cells, inner, kStream);
}

}  // namespace ucmg::cuda::backend
