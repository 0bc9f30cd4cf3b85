#include <algorithm>

#include "../runtime.cuh"
#include "reductions.cuh"

namespace ucmg::cuda::backend {

const char* const kReduceOpNames[] = {"sum", "mean", "max", "min", "prod", "any", "all", "argMax", "argMin"};
static_assert(sizeof(kReduceOpNames) / sizeof(kReduceOpNames[0]) == (size_t)ReduceOp::Count,
              "one name per reduce op");

namespace {

constexpr int kThreads = 128;

__device__ __forceinline__ double loadAt(const DeviceView& view, int64_t at) {
  return view.dtype == DType::Float32 ? (double)static_cast<const float*>(view.data)[at]
                                      : (double)static_cast<const int32_t*>(view.data)[at];
}

__device__ __forceinline__ void storeAt(const DeviceView& view, int64_t at, double value) {
  if (view.dtype == DType::Float32)
    static_cast<float*>(const_cast<void*>(view.data))[at] = (float)value;
  else
    static_cast<int32_t*>(const_cast<void*>(view.data))[at] = value != value ? 0 : (int32_t)value;
}

__device__ __forceinline__ double identity(ReduceOp op) {
  const double inf = __longlong_as_double(0x7ff0000000000000LL);
  switch (op) {
    case ReduceOp::Max: return -inf;
    case ReduceOp::Min: return inf;
    case ReduceOp::Prod: case ReduceOp::All: return 1.0;
    default: return 0.0;
  }
}

// NaN wins max and min, as in tfjs.
__device__ __forceinline__ double combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::Max: return a != a || a > b ? a : b;
    case ReduceOp::Min: return a != a || a < b ? a : b;
    case ReduceOp::Prod: return a * b;
    case ReduceOp::Any: return (a != 0.0 || b != 0.0) ? 1.0 : 0.0;
    case ReduceOp::All: return (a != 0.0 && b != 0.0) ? 1.0 : 0.0;
    default: return a + b;
  }
}

// One block per row (grid-stride over rows): strided partials per thread, then a fixed tree.
__global__ void reduceKernel(ReduceOp op, DeviceView x, DeviceView out, int64_t outer, int64_t reduceSize) {
  __shared__ double partial[kThreads];
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    double acc = identity(op);
    for (int64_t j = threadIdx.x; j < reduceSize; j += blockDim.x)
      acc = combine(op, acc, loadAt(x, row * reduceSize + j));
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int width = kThreads / 2; width > 0; width /= 2) {
      if ((int)threadIdx.x < width)
        partial[threadIdx.x] = combine(op, partial[threadIdx.x], partial[threadIdx.x + width]);
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      // tfjs gives NaN for the max or min of nothing.
      const bool empty = reduceSize == 0 && (op == ReduceOp::Max || op == ReduceOp::Min);
      const double value = empty ? __longlong_as_double(0x7ff8000000000000LL) : partial[0];
      storeAt(out, row, op == ReduceOp::Mean ? value / (double)reduceSize : value);
    }
    __syncthreads();
  }
}

// Arg reductions scan a row in order, one thread per row: the first extreme wins, as in tfjs.
__global__ void argReduceKernel(bool isMax, DeviceView x, DeviceView out, int64_t outer, int64_t reduceSize) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t row = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; row < outer; row += stride) {
    if (reduceSize == 0) {
      storeAt(out, row, 0.0);
      continue;
    }
    double best = loadAt(x, row * reduceSize);
    int64_t bestAt = 0;
    for (int64_t j = 1; j < reduceSize; ++j) {
      const double v = loadAt(x, row * reduceSize + j);
      if (isMax ? v > best : v < best) best = v, bestAt = j;
    }
    storeAt(out, row, (double)bestAt);
  }
}

__global__ void gatherKernel(DeviceView x, const int32_t* indices, DeviceView out, int64_t batch, int64_t outer,
                             int64_t axisSize, int64_t inner, int64_t indexCount) {
  const int64_t total = batch * outer * indexCount * inner;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t j = i % inner;
    const int64_t k = (i / inner) % indexCount;
    const int64_t o = (i / inner / indexCount) % outer;
    const int64_t b = i / inner / indexCount / outer;
    const int64_t index = indices[b * indexCount + k];
    const bool inside = index >= 0 && index < axisSize;
    storeAt(out, i, inside ? loadAt(x, ((b * outer + o) * axisSize + index) * inner + j) : 0.0);
  }
}

__global__ void segmentSumKernel(DeviceView x, const int32_t* segmentIds, DeviceView out, int64_t rows,
                                 int64_t inner, int64_t segments) {
  const int64_t total = segments * inner;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t segment = i / inner, j = i % inner;
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      if (segmentIds[r] == segment) sum += loadAt(x, r * inner + j);
    storeAt(out, i, sum);
  }
}

// The flat cell of row r's index vector, or -1 when a component is out of range.
__device__ int64_t cellOf(const int32_t* indices, int64_t r, const NdIndexing& nd) {
  int64_t cell = 0;
  for (int k = 0; k < nd.depth; ++k) {
    const int64_t v = indices[r * nd.depth + k];
    if (v < 0 || v >= nd.dims[k]) return -1;
    cell += v * nd.cellStrides[k];
  }
  return cell;
}

__global__ void gatherNdKernel(DeviceView x, const int32_t* indices, DeviceView out, int64_t rows, NdIndexing nd,
                               int64_t inner) {
  const int64_t total = rows * inner;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t cell = cellOf(indices, i / inner, nd);
    storeAt(out, i, cell < 0 ? 0.0 : loadAt(x, cell * inner + i % inner));
  }
}

__global__ void scatterNdKernel(const int32_t* indices, DeviceView updates, DeviceView out, int64_t rows,
                                NdIndexing nd, int64_t cells, int64_t inner) {
  const int64_t total = cells * inner;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t cell = i / inner, j = i % inner;
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      if (cellOf(indices, r, nd) == cell) sum += loadAt(updates, r * inner + j);
    storeAt(out, i, sum);
  }
}

unsigned gridFor(int64_t work) { return blocksFor(work, kThreads, (int64_t)multiprocessorCount() * 8); }

}  // namespace

void launchReduce(ReduceOp op, DeviceView x, DeviceView out, int64_t outer, int64_t reduceSize,
                  cudaStream_t stream) {
  if (outer == 0) return;
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    argReduceKernel<<<gridFor(outer), kThreads, 0, stream>>>(op == ReduceOp::ArgMax, x, out, outer, reduceSize);
    UCMG_CHECK_LAUNCH("argReduceKernel");
    return;
  }
  const unsigned blocks = (unsigned)std::min<int64_t>(outer, (int64_t)multiprocessorCount() * 16);
  reduceKernel<<<blocks, kThreads, 0, stream>>>(op, x, out, outer, reduceSize);
  UCMG_CHECK_LAUNCH("reduceKernel");
}

void launchGather(DeviceView x, const int32_t* indices, DeviceView out, int64_t batch, int64_t outer,
                  int64_t axisSize, int64_t inner, int64_t indexCount, cudaStream_t stream) {
  const int64_t total = batch * outer * indexCount * inner;
  if (total == 0) return;
  gatherKernel<<<gridFor(total), kThreads, 0, stream>>>(x, indices, out, batch, outer, axisSize, inner, indexCount);
  UCMG_CHECK_LAUNCH("gatherKernel");
}

void launchSegmentSum(DeviceView x, const int32_t* segmentIds, DeviceView out, int64_t rows, int64_t inner,
                      int64_t segments, cudaStream_t stream) {
  if (segments * inner == 0) return;
  segmentSumKernel<<<gridFor(segments * inner), kThreads, 0, stream>>>(x, segmentIds, out, rows, inner, segments);
  UCMG_CHECK_LAUNCH("segmentSumKernel");
}

void launchGatherNd(DeviceView x, const int32_t* indices, DeviceView out, int64_t rows, NdIndexing nd,
                    int64_t inner, cudaStream_t stream) {
  if (rows * inner == 0) return;
  gatherNdKernel<<<gridFor(rows * inner), kThreads, 0, stream>>>(x, indices, out, rows, nd, inner);
  UCMG_CHECK_LAUNCH("gatherNdKernel");
}

void launchScatterNd(const int32_t* indices, DeviceView updates, DeviceView out, int64_t rows, NdIndexing nd,
                     int64_t cells, int64_t inner, cudaStream_t stream) {
  if (cells * inner == 0) return;
  scatterNdKernel<<<gridFor(cells * inner), kThreads, 0, stream>>>(indices, updates, out, rows, nd, cells, inner);
  UCMG_CHECK_LAUNCH("scatterNdKernel");
}

}  // namespace ucmg::cuda::backend
