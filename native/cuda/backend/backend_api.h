// The host-side API of the tfjs 'cuda' backend, free of CUDA types so that the N-API binding
// (native/binding/cuda_backend.cc) can include it without the toolkit's headers. Tensors are
// named by integer handles; every function here is called from the JavaScript thread only.
// The binding validates every argument (handles exist, views stay inside their buffers) before
// it calls in; these functions throw std::runtime_error on a CUDA failure and
// OutOfDeviceMemory when the device is full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ucmg::cuda::backend {

// Element types on the device. tfjs 'bool' is stored as Int32 (0 or 1).
enum class DType : int32_t { Float32 = 0, Int32 = 1 };

constexpr int kMaxRank = 8;

struct MemoryStats {
  int64_t bytesInUse = 0;       // held by live tensors (size-class rounded)
  int64_t bytesCached = 0;      // freed blocks kept in the pools
  int64_t peakBytesInUse = 0;
  int64_t driverAllocations = 0;  // cudaMalloc calls that succeeded
  int64_t liveTensors = 0;
  int64_t uploads = 0, uploadBytes = 0;      // host -> device copies
  int64_t downloads = 0, downloadBytes = 0;  // device -> host copies
};

class OutOfDeviceMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An element-wise view of a buffer: element i (a multi-index over the op's shape) sits at
// offset + sum(index[k] * strides[k]). Stride 0 broadcasts, a negative stride reverses.
struct View {
  int64_t handle = 0;
  int64_t offset = 0;
  int64_t strides[kMaxRank] = {};
};

struct Shape {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t size() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
};

// The operations of the strided engine; kElementwiseOpNames lists them in this order (the
// binding exports the names, so JavaScript never hard-codes the numbers).
enum class ElementwiseOp : int32_t {
  // no input: fills
  Fill, Iota,
  // one input
  Copy, ToBool, Neg, Abs, Sign, Exp, Expm1, Log, Log1p, Sqrt, Rsqrt, Square, Reciprocal,
  Relu, Relu6, Elu, Selu, LeakyRelu, Step, Sigmoid, Softplus, Tanh, Sin, Cos, Tan, Asin, Acos,
  Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Erf, Floor, Ceil, Round, LogicalNot, IsNan, IsInf,
  IsFinite, Clip,
  // two inputs
  Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Maximum, Minimum, SquaredDifference, Atan2,
  Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, LogicalAnd, LogicalOr, Prelu, EluGrad,
  // three inputs
  Select,
  Count
};
extern const char* const kElementwiseOpNames[];
// How many inputs the op reads (0 to 3).
int elementwiseArity(ElementwiseOp op);

enum class ReduceOp : int32_t { Sum, Mean, Max, Min, Prod, Any, All, ArgMax, ArgMin, Count };
extern const char* const kReduceOpNames[];

// ---- memory and handles ------------------------------------------------------------------
// A new tensor of `count` elements (contents undefined); returns its handle.
int64_t allocateTensor(int64_t count, DType dtype);
void freeTensor(int64_t handle);
bool tensorExists(int64_t handle);
int64_t tensorCount(int64_t handle);
DType tensorDType(int64_t handle);
// Copies `count` elements of 4 bytes between the host and a tensor (counted in the stats).
void upload(int64_t handle, const void* host, int64_t count);
void download(int64_t handle, void* host, int64_t count);
MemoryStats memoryStats();
void emptyCache();
// Zeroes the copy counters (uploads, downloads and their bytes) and the peak.
void resetCounters();
// Waits for every queued kernel (errors of asynchronous work surface here).
void synchronize();

// ---- kernels (handles resolved to device pointers, queued on the backend's stream) ----------
// out(view) = op(inputs(views)) over `shape`; alpha and beta are the op's scalars (Fill's value;
// Iota's start and step; LeakyRelu's and Step's alpha; Clip's bounds).
void elementwise(ElementwiseOp op, const std::vector<View>& inputs, const View& out, const Shape& shape,
                 double alpha, double beta);
// x seen as [outer, reduce] (the reduced axes innermost and contiguous): out[o] = op over row o,
// in double for sums and products, in a fixed order (the same result every run).
void reduce(ReduceOp op, int64_t x, int64_t out, int64_t outer, int64_t reduceSize);
// out[b, o, i, j] = x[b, o, indices[b, i], j] for x [batch, outer, axisSize, inner] and indices
// [batch, indexCount]; an index outside [0, axisSize) gives 0.
void gather(int64_t x, int64_t indices, int64_t out, int64_t batch, int64_t outer, int64_t axisSize,
            int64_t inner, int64_t indexCount);
// out[s, j] = sum over i with segmentIds[i] == s of x[i, j], in index order (deterministic).
void segmentSum(int64_t x, int64_t segmentIds, int64_t out, int64_t rows, int64_t inner, int64_t segments);
// out[i, j] = x[flat(indices[i, :]), j], x seen as [prod(xDims[:depth]), inner]; rows with an
// index out of range give 0.
void gatherNd(int64_t x, int64_t indices, int64_t out, int64_t rows, int64_t depth, const std::vector<int64_t>& xDims,
              int64_t inner);
// out (zeroed first) [prod(outDims[:depth]), inner] += updates[i, :] at flat(indices[i, :]), in
// index order.
void scatterNd(int64_t indices, int64_t updates, int64_t out, int64_t rows, int64_t depth,
               const std::vector<int64_t>& outDims, int64_t inner);

}  // namespace ucmg::cuda::backend
