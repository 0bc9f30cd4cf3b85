// The N-API side of the tfjs 'cuda' backend: checks every handle, shape and view against the
// tensors it names (so a kernel never reads or writes outside a buffer), then calls the plain
// functions of native/cuda/backend/backend_api.h. Arguments are positional (the backend calls
// these once per tfjs kernel); a view is an Array [handle, offset, ...strides] of plain numbers.
#include "cuda_backend.h"

#ifdef UCMG_WITH_CUDA

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "../cuda/backend/alea_api.h"
#include "../cuda/backend/backend_api.h"
#include "../cuda/backend/dense_api.h"
#include "../cuda/backend/hot_ops_api.h"
#include "args.h"
#include "dense_binding.h"
#include "device.h"
#include "mm_ema_options.h"

namespace ucmg::binding {

namespace {

namespace be = ucmg::cuda::backend;

constexpr int64_t kMaxHandle = (int64_t)1 << 52;
constexpr int64_t kMaxCount = (int64_t)1 << 40;

[[noreturn]] void rangeError(Napi::Env env, const std::string& op, const std::string& message) {
  throw Napi::RangeError::New(env, op + ": " + message);
}

Napi::Value argument(const Napi::CallbackInfo& info, size_t at) {
  return info.Length() > at ? info[at] : info.Env().Undefined();
}

int64_t handleArg(const std::string& op, const Napi::Value& value, const std::string& name) {
  const int64_t handle = integerValue(op, value, name, 1, kMaxHandle);
  if (!be::tensorExists(handle))
    rangeError(value.Env(), op, name + " names no live device tensor (handle " + std::to_string(handle) +
                                    "): it was disposed or belongs to no cuda tensor");
  return handle;
}

// A JS Array of integers in [lo, hi] (plain numbers; read once each).
std::vector<int64_t> integerList(const std::string& op, const Napi::Value& value, const std::string& name,
                                 int64_t lo, int64_t hi, size_t maxLength) {
  if (!value.IsArray())
    throw Napi::TypeError::New(value.Env(), op + ": " + name + " must be an Array, got " + describe(value));
  const Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > maxLength)
    rangeError(value.Env(), op, name + " must have at most " + std::to_string(maxLength) + " elements");
  const std::vector<Napi::Value> elements = ownElements(op, array, name);  // runs no getter
  std::vector<int64_t> out;
  for (size_t i = 0; i < elements.size(); ++i)
    out.push_back(integerValue(op, elements[i], name + "[" + std::to_string(i) + "]", lo, hi));
  return out;
}

be::Shape shapeArg(const std::string& op, const Napi::Value& value) {
  const std::vector<int64_t> dims = integerList(op, value, "shape", 0, kMaxCount, be::kMaxRank);
  be::Shape shape;
  shape.rank = (int)dims.size();
  int64_t size = 1;
  for (int k = 0; k < shape.rank; ++k) {
    shape.dims[k] = dims[k];
    size *= dims[k];
    if (size > kMaxCount) rangeError(value.Env(), op, "shape has more than 2^40 elements");
  }
  return shape;
}

// [handle, offset, ...strides (one per axis of shape)], every element reached inside the buffer.
be::View viewArg(const std::string& op, const Napi::Value& value, const std::string& name, const be::Shape& shape,
                 bool isOutput) {
  const std::vector<int64_t> parts = integerList(op, value, name, -kMaxCount, kMaxHandle, 2 + be::kMaxRank);
  if ((int)parts.size() != 2 + shape.rank)
    rangeError(value.Env(), op, name + " must be [handle, offset, " + std::to_string(shape.rank) +
                                    " strides], got " + std::to_string(parts.size()) + " numbers");
  be::View view;
  view.handle = handleArg(op, Napi::Number::New(value.Env(), (double)parts[0]), name + "[0] (handle)");
  view.offset = parts[1];
  int64_t lowest = view.offset, highest = view.offset;
  for (int k = 0; k < shape.rank; ++k) {
    view.strides[k] = parts[2 + k];
    if (isOutput && view.strides[k] == 0 && shape.dims[k] > 1 && shape.size() > 0)
      rangeError(value.Env(), op, name + " has stride 0 on axis " + std::to_string(k) + ": outputs cannot broadcast");
    const int64_t reach = (shape.dims[k] - 1) * view.strides[k];
    (reach < 0 ? lowest : highest) += reach;
  }
  const int64_t count = be::tensorCount(view.handle);
  if (shape.size() > 0 && (lowest < 0 || highest >= count))
    rangeError(value.Env(), op, name + " reaches elements " + std::to_string(lowest) + ".." + std::to_string(highest) +
                                    " of a tensor of " + std::to_string(count));
  return view;
}

be::DType dtypeArg(const std::string& op, const Napi::Value& value) {
  const std::string message = op + ": dtype must be 'float32' or 'int32', got " + describe(value);
  if (!value.IsString()) throw Napi::TypeError::New(value.Env(), message);
  const std::string name = value.As<Napi::String>().Utf8Value();
  if (name == "float32") return be::DType::Float32;
  if (name == "int32") return be::DType::Int32;
  throw Napi::RangeError::New(value.Env(), message);
}

void requireCount(const std::string& op, Napi::Env env, int64_t handle, const std::string& name, int64_t count,
                  const std::string& countText) {
  if (be::tensorCount(handle) != count)
    rangeError(env, op, name + " must hold " + countText + " = " + std::to_string(count) + " elements, got " +
                            std::to_string(be::tensorCount(handle)));
}

void requireInt32(const std::string& op, Napi::Env env, int64_t handle, const std::string& name) {
  if (be::tensorDType(handle) != be::DType::Int32) rangeError(env, op, name + " must be an int32 tensor");
}

Napi::Value allocate(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.allocate";
  requireUsable(op, info.Env(), Device::Cuda);
  const int64_t count = integerValue(op, argument(info, 0), "count", 0, kMaxCount);
  const be::DType dtype = dtypeArg(op, argument(info, 1));
  return Napi::Number::New(info.Env(), (double)be::allocateTensor(count, dtype));
}

Napi::Value freeTensor(const Napi::CallbackInfo& info) {
  be::freeTensor(handleArg("cudaBackend.free", argument(info, 0), "handle"));
  return info.Env().Undefined();
}

// upload(handle, Float32Array | Int32Array): the array's dtype must match the tensor's.
Napi::Value upload(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.upload";
  const int64_t handle = handleArg(op, argument(info, 0), "handle");
  const Napi::Value data = argument(info, 1);
  const bool isFloat = be::tensorDType(handle) == be::DType::Float32;
  const napi_typedarray_type wanted = isFloat ? napi_float32_array : napi_int32_array;
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != wanted)
    throw Napi::TypeError::New(info.Env(), op + ": data must be " + (isFloat ? "a Float32Array" : "an Int32Array") +
                                               " for this tensor, got " + describe(data));
  const Napi::TypedArray array = data.As<Napi::TypedArray>();
  requireCount(op, info.Env(), handle, "data", (int64_t)array.ElementLength(), "data.length");
  be::upload(handle, static_cast<const char*>(array.ArrayBuffer().Data()) + array.ByteOffset(),
             (int64_t)array.ElementLength());
  return info.Env().Undefined();
}

// download(handle): a fresh Float32Array or Int32Array with the tensor's contents.
Napi::Value download(const Napi::CallbackInfo& info) {
  const int64_t handle = handleArg("cudaBackend.download", argument(info, 0), "handle");
  const int64_t count = be::tensorCount(handle);
  if (be::tensorDType(handle) == be::DType::Float32) {
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)count);
    be::download(handle, out.Data(), count);
    return out;
  }
  Napi::Int32Array out = Napi::Int32Array::New(info.Env(), (size_t)count);
  be::download(handle, out.Data(), count);
  return out;
}

Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  const be::MemoryStats s = be::memoryStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("bytesInUse", (double)s.bytesInUse);
  out.Set("bytesCached", (double)s.bytesCached);
  out.Set("peakBytesInUse", (double)s.peakBytesInUse);
  out.Set("driverAllocations", (double)s.driverAllocations);
  out.Set("liveTensors", (double)s.liveTensors);
  out.Set("uploads", (double)s.uploads);
  out.Set("uploadBytes", (double)s.uploadBytes);
  out.Set("downloads", (double)s.downloads);
  out.Set("downloadBytes", (double)s.downloadBytes);
  return out;
}

Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  be::emptyCache();
  return info.Env().Undefined();
}

Napi::Value resetCounters(const Napi::CallbackInfo& info) {
  be::resetCounters();
  return info.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  be::synchronize();
  return info.Env().Undefined();
}

double scalarArg(const std::string& op, const Napi::Value& value, const std::string& name) {
  if (value.IsUndefined()) return 0.0;
  if (!value.IsNumber())
    throw Napi::TypeError::New(value.Env(), op + ": " + name + " must be a number, got " + describe(value));
  return value.As<Napi::Number>().DoubleValue();
}

// elementwise(op, shape, out, inputs, alpha?, beta?)
Napi::Value elementwise(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.elementwise";
  const int64_t opIndex = integerValue(op, argument(info, 0), "op", 0, (int64_t)be::ElementwiseOp::Count - 1);
  const be::ElementwiseOp kind = (be::ElementwiseOp)opIndex;
  const be::Shape shape = shapeArg(op, argument(info, 1));
  const be::View out = viewArg(op, argument(info, 2), "out", shape, true);
  const Napi::Value inputsValue = argument(info, 3);
  if (!inputsValue.IsArray()) throw Napi::TypeError::New(info.Env(), op + ": inputs must be an Array of views");
  const Napi::Array inputsArray = inputsValue.As<Napi::Array>();
  const int arity = be::elementwiseArity(kind);
  if ((int)inputsArray.Length() != arity)
    rangeError(info.Env(), op, std::string("op '") + be::kElementwiseOpNames[opIndex] + "' takes " +
                                   std::to_string(arity) +
                                   " inputs, got " + std::to_string(inputsArray.Length()));
  // Read getter-free: a getter could otherwise dispose a tensor whose handle was already checked.
  const std::vector<Napi::Value> inputValues = ownElements(op, inputsArray, "inputs");
  std::vector<be::View> inputs;
  for (size_t j = 0; j < inputValues.size(); ++j)
    inputs.push_back(viewArg(op, inputValues[j], "inputs[" + std::to_string(j) + "]", shape, false));
  const double alpha = scalarArg(op, argument(info, 4), "alpha");
  const double beta = scalarArg(op, argument(info, 5), "beta");
  be::elementwise(kind, inputs, out, shape, alpha, beta);
  return info.Env().Undefined();
}

// reduce(op, x, out, outer, reduceSize): x holds outer*reduceSize elements, out outer.
Napi::Value reduce(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.reduce";
  const int64_t opIndex = integerValue(op, argument(info, 0), "op", 0, (int64_t)be::ReduceOp::Count - 1);
  const int64_t x = handleArg(op, argument(info, 1), "x");
  const int64_t out = handleArg(op, argument(info, 2), "out");
  const int64_t outer = integerValue(op, argument(info, 3), "outer", 0, kMaxCount);
  const int64_t reduceSize = integerValue(op, argument(info, 4), "reduceSize", 0, kMaxCount);
  requireCount(op, info.Env(), x, "x", outer * reduceSize, "outer*reduceSize");
  requireCount(op, info.Env(), out, "out", outer, "outer");
  be::reduce((be::ReduceOp)opIndex, x, out, outer, reduceSize);
  return info.Env().Undefined();
}

// gather(x, indices, out, batch, outer, axisSize, inner, indexCount)
Napi::Value gather(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.gather";
  const int64_t x = handleArg(op, argument(info, 0), "x");
  const int64_t indices = handleArg(op, argument(info, 1), "indices");
  const int64_t out = handleArg(op, argument(info, 2), "out");
  const char* names[] = {"batch", "outer", "axisSize", "inner", "indexCount"};
  int64_t d[5];
  for (int i = 0; i < 5; ++i) d[i] = integerValue(op, argument(info, 3 + i), names[i], 0, kMaxCount);
  requireInt32(op, info.Env(), indices, "indices");
  requireCount(op, info.Env(), x, "x", d[0] * d[1] * d[2] * d[3], "batch*outer*axisSize*inner");
  requireCount(op, info.Env(), indices, "indices", d[0] * d[4], "batch*indexCount");
  requireCount(op, info.Env(), out, "out", d[0] * d[1] * d[4] * d[3], "batch*outer*indexCount*inner");
  be::gather(x, indices, out, d[0], d[1], d[2], d[3], d[4]);
  return info.Env().Undefined();
}

// segmentSum(x, segmentIds, out, rows, inner, segments)
Napi::Value segmentSum(const Napi::CallbackInfo& info) {
  const std::string op = "cudaBackend.segmentSum";
  const int64_t x = handleArg(op, argument(info, 0), "x");
  const int64_t ids = handleArg(op, argument(info, 1), "segmentIds");
  const int64_t out = handleArg(op, argument(info, 2), "out");
  const int64_t rows = integerValue(op, argument(info, 3), "rows", 0, kMaxCount);
  const int64_t inner = integerValue(op, argument(info, 4), "inner", 0, kMaxCount);
  const int64_t segments = integerValue(op, argument(info, 5), "segments", 0, kMaxCount);
  requireInt32(op, info.Env(), ids, "segmentIds");
  requireCount(op, info.Env(), x, "x", rows * inner, "rows*inner");
  requireCount(op, info.Env(), ids, "segmentIds", rows, "rows");
  requireCount(op, info.Env(), out, "out", segments * inner, "segments*inner");
  be::segmentSum(x, ids, out, rows, inner, segments);
  return info.Env().Undefined();
}

// gatherNd(x, indices, out, rows, xDims (the indexed leading dims), inner) and
// scatterNd(indices, updates, out, rows, outDims, inner): index vectors of length dims.length.
Napi::Value indexedNd(const Napi::CallbackInfo& info, bool isScatter) {
  const std::string op = isScatter ? "cudaBackend.scatterNd" : "cudaBackend.gatherNd";
  const int64_t a = handleArg(op, argument(info, 0), isScatter ? "indices" : "x");
  const int64_t b = handleArg(op, argument(info, 1), isScatter ? "updates" : "indices");
  const int64_t out = handleArg(op, argument(info, 2), "out");
  const int64_t rows = integerValue(op, argument(info, 3), "rows", 0, kMaxCount);
  const std::vector<int64_t> dims = integerList(op, argument(info, 4), "dims", 1, kMaxCount, be::kMaxRank);
  const int64_t inner = integerValue(op, argument(info, 5), "inner", 0, kMaxCount);
  if (dims.empty()) rangeError(info.Env(), op, "dims must not be empty");
  int64_t cells = 1;
  for (int64_t dim : dims) cells *= dim;
  const int64_t depth = (int64_t)dims.size();
  const int64_t indices = isScatter ? a : b;
  requireInt32(op, info.Env(), indices, "indices");
  requireCount(op, info.Env(), indices, "indices", rows * depth, "rows*dims.length");
  if (isScatter) {
    requireCount(op, info.Env(), b, "updates", rows * inner, "rows*inner");
    requireCount(op, info.Env(), out, "out", cells * inner, "prod(dims)*inner");
    be::scatterNd(indices, b, out, rows, depth, dims, inner);
  } else {
    requireCount(op, info.Env(), a, "x", cells * inner, "prod(dims)*inner");
    requireCount(op, info.Env(), out, "out", rows * inner, "rows*inner");
    be::gatherNd(a, indices, out, rows, depth, dims, inner);
  }
  return info.Env().Undefined();
}

Napi::Value gatherNd(const Napi::CallbackInfo& info) { return indexedNd(info, false); }
Napi::Value scatterNd(const Napi::CallbackInfo& info) { return indexedNd(info, true); }

// ---- dense kernels: one argument object each ------------------------------------------------

int64_t handleField(const Args& args, const char* name) {
  return handleArg(args.op(), args.field(name), name);
}

void requireFloatCount(const Args& args, int64_t handle, const std::string& name, int64_t count,
                       const std::string& countText) {
  if (be::tensorDType(handle) != be::DType::Float32) args.rangeError(name + " must be a float32 tensor");
  requireCount(args.op(), args.env(), handle, name, count, countText);
}

// bias / preluAlpha (handles of 1 or `columns` floats), activation, leakyreluAlpha.
be::EpilogueHandles epilogueArgs(const Args& args, int64_t columns) {
  be::EpilogueHandles e;
  const std::string activation = args.optional("activation").IsUndefined()
                                     ? "linear" : args.optional("activation").ToString().Utf8Value();
  const std::pair<const char*, dense::Activation> known[] = {
      {"linear", dense::Activation::Linear}, {"relu", dense::Activation::Relu}, {"relu6", dense::Activation::Relu6},
      {"elu", dense::Activation::Elu}, {"leakyrelu", dense::Activation::LeakyRelu},
      {"prelu", dense::Activation::Prelu}, {"sigmoid", dense::Activation::Sigmoid}};
  bool found = false;
  for (const auto& [name, value] : known) if (activation == name) e.activation = value, found = true;
  if (!found) args.rangeError("activation must be one of linear, relu, relu6, elu, leakyrelu, prelu, sigmoid, got '" +
                              activation + "'");
  for (const char* name : {"bias", "preluAlpha"}) {
    if (args.optional(name).IsUndefined()) continue;
    const int64_t handle = handleField(args, name);
    const int64_t count = be::tensorCount(handle);
    if (count != 1 && count != columns)
      args.rangeError(std::string(name) + " must hold 1 or " + std::to_string(columns) + " elements, got " +
                      std::to_string(count));
    if (be::tensorDType(handle) != be::DType::Float32) args.rangeError(std::string(name) + " must be a float32 tensor");
    (std::string(name) == "bias" ? e.bias : e.preluAlpha) = handle;
  }
  if (e.activation == dense::Activation::Prelu && e.preluAlpha == 0)
    args.typeError("preluAlpha is required for activation 'prelu'");
  if (!args.optional("leakyreluAlpha").IsUndefined())
    e.leakyreluAlpha = (float)args.number("leakyreluAlpha", -3.4e38, 3.4e38);
  return e;
}

bool tf32Arg(const Args& args) { return !args.optional("tf32").IsUndefined() && args.flag("tf32"); }

// matMul({a, b, out, m, n, k, transposeA, transposeB, aBatch, bBatch, tf32?, bias?, activation?, ...})
Napi::Value matMul(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.matMul", argument(info, 0));
  const int64_t m = args.integer("m", 0, kMaxCount), n = args.integer("n", 0, kMaxCount);
  const int64_t k = args.integer("k", 0, kMaxCount);
  const std::vector<int64_t> aBatch = integerList(args.op(), args.field("aBatch"), "aBatch", 1, kMaxCount, 6);
  const std::vector<int64_t> bBatch = integerList(args.op(), args.field("bBatch"), "bBatch", 1, kMaxCount, 6);
  if (aBatch.size() != bBatch.size()) args.rangeError("aBatch and bBatch must have the same length");
  int64_t aCount = m * k, bCount = k * n, outCount = m * n;
  for (size_t d = 0; d < aBatch.size(); ++d) {
    if (aBatch[d] != bBatch[d] && aBatch[d] != 1 && bBatch[d] != 1)
      args.rangeError("aBatch and bBatch differ on axis " + std::to_string(d) + " where neither is 1");
    aCount *= aBatch[d], bCount *= bBatch[d], outCount *= std::max(aBatch[d], bBatch[d]);
  }
  const int64_t a = handleField(args, "a"), b = handleField(args, "b"), out = handleField(args, "out");
  requireFloatCount(args, a, "a", aCount, "prod(aBatch)*m*k");
  requireFloatCount(args, b, "b", bCount, "prod(bBatch)*k*n");
  requireFloatCount(args, out, "out", outCount, "prod(batch)*m*n");
  be::matMul(a, b, out, m, n, k, args.flag("transposeA"), args.flag("transposeB"), aBatch, bBatch,
             epilogueArgs(args, n), tf32Arg(args));
  return info.Env().Undefined();
}

// The three tensors of a convolution, checked against the geometry.
struct ConvHandles {
  int64_t x, filter, y;
};
ConvHandles convHandles(const Args& args, const dense::Conv2DGeometry& g, const char* xName, const char* filterName,
                        const char* yName) {
  ConvHandles h{handleField(args, xName), handleField(args, filterName), handleField(args, yName)};
  requireFloatCount(args, h.x, xName, g.batch * g.inHeight * g.inWidth * g.inChannels, "batch*inH*inW*inC");
  requireFloatCount(args, h.filter, filterName, g.filterHeight * g.filterWidth * g.inChannels * g.outChannels,
                    "fh*fw*inC*outC");
  requireFloatCount(args, h.y, yName, g.batch * g.outHeight * g.outWidth * g.outChannels, "batch*outH*outW*outC");
  return h;
}

// conv2d({x, filter, out, geometry, tf32?, bias?, activation?, ...})
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.conv2d", argument(info, 0));
  const dense::Conv2DGeometry g = readGeometry(args);
  const ConvHandles h = convHandles(args, g, "x", "filter", "out");
  be::conv2d(h.x, h.filter, h.y, g, epilogueArgs(args, g.outChannels), tf32Arg(args));
  return info.Env().Undefined();
}

// conv2dBackpropInput({dy, filter, dx, geometry, tf32?})
Napi::Value conv2dBackpropInput(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.conv2dBackpropInput", argument(info, 0));
  const dense::Conv2DGeometry g = readGeometry(args);
  const ConvHandles h = convHandles(args, g, "dx", "filter", "dy");
  be::conv2dBackpropInput(h.y, h.filter, h.x, g, tf32Arg(args));
  return info.Env().Undefined();
}

// conv2dBackpropFilter({x, dy, dw, geometry, tf32?})
Napi::Value conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.conv2dBackpropFilter", argument(info, 0));
  const dense::Conv2DGeometry g = readGeometry(args);
  const ConvHandles h = convHandles(args, g, "x", "dw", "dy");
  be::conv2dBackpropFilter(h.x, h.y, h.filter, g, tf32Arg(args));
  return info.Env().Undefined();
}

// quantize({z, codebook, n, m, d, indices, distances, gathered?}): every operand a device tensor.
Napi::Value quantize(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.quantize", argument(info, 0));
  const int64_t n = args.dim("n"), m = args.dim("m"), d = args.dim("d");
  const int64_t z = handleField(args, "z"), codebook = handleField(args, "codebook");
  const int64_t indices = handleField(args, "indices"), distances = handleField(args, "distances");
  requireFloatCount(args, z, "z", n * d, "n*d");
  requireFloatCount(args, codebook, "codebook", m * d, "m*d");
  requireFloatCount(args, distances, "distances", n, "n");
  requireInt32(args.op(), args.env(), indices, "indices");
  requireCount(args.op(), args.env(), indices, "indices", n, "n");
  int64_t gathered = 0;
  if (!args.optional("gathered").IsUndefined()) {
    gathered = handleField(args, "gathered");
    requireFloatCount(args, gathered, "gathered", n * d, "n*d");
  }
  be::quantize(z, codebook, n, m, d, indices, distances, gathered);
  return info.Env().Undefined();
}

int64_t optionalHandle(const Args& args, const char* name) {
  return args.optional(name).IsUndefined() ? 0 : handleField(args, name);
}

// infoNce({targets, preds, k, b, d, weights, loss, hits, gradTargets?, gradPreds?})
Napi::Value infoNce(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.infoNce", argument(info, 0));
  const int64_t k = args.integer("k", 2, 3), b = args.dim("b"), d = args.dim("d");
  const int64_t targets = handleField(args, "targets"), preds = handleField(args, "preds");
  const int64_t weights = handleField(args, "weights"), loss = handleField(args, "loss");
  const int64_t hits = handleField(args, "hits");
  const int64_t gradTargets = optionalHandle(args, "gradTargets"), gradPreds = optionalHandle(args, "gradPreds");
  requireFloatCount(args, targets, "targets", k * b * d, "k*b*d");
  requireFloatCount(args, preds, "preds", k * b * d, "k*b*d");
  requireFloatCount(args, weights, "weights", k * k, "k*k");
  requireFloatCount(args, loss, "loss", 1, "1");
  requireInt32(args.op(), args.env(), hits, "hits");
  requireCount(args.op(), args.env(), hits, "hits", k * k, "k*k");
  if (gradTargets != 0) requireFloatCount(args, gradTargets, "gradTargets", k * b * d, "k*b*d");
  if (gradPreds != 0) requireFloatCount(args, gradPreds, "gradPreds", k * b * d, "k*b*d");
  be::infoNce(targets, preds, (int)k, b, d, weights, loss, hits, gradTargets, gradPreds);
  return info.Env().Undefined();
}

// codeMatching({z, k, b, t, d, codebook, m, epsilon, loss, grad?})
Napi::Value codeMatching(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.codeMatching", argument(info, 0));
  const int64_t k = args.integer("k", 2, 3), b = args.dim("b"), t = args.dim("t"), d = args.dim("d");
  const int64_t m = args.dim("m");
  const double epsilon = args.atLeast("epsilon", 0, false);
  const int64_t z = handleField(args, "z"), codebook = handleField(args, "codebook");
  const int64_t loss = handleField(args, "loss"), grad = optionalHandle(args, "grad");
  requireFloatCount(args, z, "z", k * b * t * d, "k*b*t*d");
  requireFloatCount(args, codebook, "codebook", m * d, "m*d");
  requireFloatCount(args, loss, "loss", 1, "1");
  if (grad != 0) requireFloatCount(args, grad, "grad", k * b * t * d, "k*b*t*d");
  be::codeMatching(z, (int)k, b, t, d, codebook, m, (float)epsilon, loss, grad);
  return info.Env().Undefined();
}

// The four state tensors of a codebook object {embedding, emaCount, emaWeight, unusedCount}.
be::CodebookHandles codebookArg(const Args& args, const char* name, int64_t m, int64_t d) {
  const Args state = args.object(name);
  const std::string prefix = std::string(name) + ".";
  const auto handle = [&](const char* field) { return handleArg(args.op(), state.field(field), prefix + field); };
  const be::CodebookHandles h{handle("embedding"), handle("emaCount"), handle("emaWeight"), handle("unusedCount")};
  requireFloatCount(args, h.embedding, prefix + "embedding", m * d, "m*d");
  requireFloatCount(args, h.emaCount, prefix + "emaCount", m, "m");
  requireFloatCount(args, h.emaWeight, prefix + "emaWeight", m * d, "m*d");
  requireInt32(args.op(), args.env(), h.unusedCount, prefix + "unusedCount");
  requireCount(args.op(), args.env(), h.unusedCount, prefix + "unusedCount", m, "m");
  return h;
}

// mmEma({before, after, m, d, z, indices, k, n, options, report}): before and after are codebook
// objects (codebookArg); every tensor the step writes (after, report) must be distinct from the others.
Napi::Value mmEma(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.mmEma", argument(info, 0));
  const int64_t m = args.dim("m"), d = args.dim("d"), n = args.dim("n"), k = args.integer("k", 1, 3);
  const be::CodebookHandles before = codebookArg(args, "before", m, d);
  const be::CodebookHandles after = codebookArg(args, "after", m, d);
  const int64_t z = handleField(args, "z"), indices = handleField(args, "indices");
  const int64_t report = handleField(args, "report");
  requireFloatCount(args, z, "z", k * n * d, "k*n*d");
  requireInt32(args.op(), args.env(), indices, "indices");
  requireCount(args.op(), args.env(), indices, "indices", k * n, "k*n");
  requireInt32(args.op(), args.env(), report, "report");
  requireCount(args.op(), args.env(), report, "report", be::mmEmaReportSize(k, m), "2k+3+2m");
  const int64_t written[] = {after.embedding, after.emaCount, after.emaWeight, after.unusedCount, report};
  const int64_t read[] = {before.embedding, before.emaCount, before.emaWeight, before.unusedCount, z, indices};
  for (size_t i = 0; i < std::size(written); ++i) {
    const bool shared = std::count(std::begin(written), std::end(written), written[i]) > 1 ||
                        std::count(std::begin(read), std::end(read), written[i]) > 0;
    if (shared) args.rangeError("the tensors of after and report must be distinct from each other and the inputs");
  }
  const MmEmaOptions options = readMmEmaOptions(args, args.object("options"), n);
  be::mmEma(before, after, m, d, z, indices, (int)k, n, options, report);
  return info.Env().Undefined();
}

// aleaUniform({out, s0, s1, s2, carry}): out (float32) receives the next values of alea in that state.
Napi::Value aleaUniform(const Napi::CallbackInfo& info) {
  const Args args("cudaBackend.aleaUniform", argument(info, 0));
  const int64_t out = handleField(args, "out");
  if (be::tensorDType(out) != be::DType::Float32) args.rangeError("out must be a float32 tensor");
  const auto word = [&](const char* name) { return (uint32_t)args.integer(name, 0, 4294967295LL); };
  const uint32_t s0 = word("s0"), s1 = word("s1"), s2 = word("s2");
  const uint32_t carry = (uint32_t)args.integer("carry", 0, be::kAleaMultiplier - 1);
  be::aleaUniform(out, be::tensorCount(out), s0, s1, s2, carry);
  return info.Env().Undefined();
}

Napi::Array names(Napi::Env env, const char* const* list, int count) {
  Napi::Array out = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) out.Set(i, list[i]);
  return out;
}

}  // namespace

void registerCudaBackendBinding(Napi::Env env, Napi::Object exports) {
  Napi::Object backend = Napi::Object::New(env);
  backend.Set("elementwiseOps", names(env, be::kElementwiseOpNames, (int)be::ElementwiseOp::Count));
  backend.Set("reduceOps", names(env, be::kReduceOpNames, (int)be::ReduceOp::Count));
  exportFunction(env, backend, "allocate", allocate);
  exportFunction(env, backend, "free", freeTensor);
  exportFunction(env, backend, "upload", upload);
  exportFunction(env, backend, "download", download);
  exportFunction(env, backend, "memoryStats", memoryStats);
  exportFunction(env, backend, "emptyCache", emptyCache);
  exportFunction(env, backend, "resetCounters", resetCounters);
  exportFunction(env, backend, "synchronize", synchronize);
  exportFunction(env, backend, "elementwise", elementwise);
  exportFunction(env, backend, "reduce", reduce);
  exportFunction(env, backend, "gather", gather);
  exportFunction(env, backend, "segmentSum", segmentSum);
  exportFunction(env, backend, "gatherNd", gatherNd);
  exportFunction(env, backend, "scatterNd", scatterNd);
  exportFunction(env, backend, "quantize", quantize);
  exportFunction(env, backend, "infoNce", infoNce);
  exportFunction(env, backend, "codeMatching", codeMatching);
  exportFunction(env, backend, "mmEma", mmEma);
  exportFunction(env, backend, "aleaUniform", aleaUniform);
  exportFunction(env, backend, "matMul", matMul);
  exportFunction(env, backend, "conv2d", conv2d);
  exportFunction(env, backend, "conv2dBackpropInput", conv2dBackpropInput);
  exportFunction(env, backend, "conv2dBackpropFilter", conv2dBackpropFilter);
  exports.Set("cudaBackend", backend);
}

}  // namespace ucmg::binding

#endif  // UCMG_WITH_CUDA
