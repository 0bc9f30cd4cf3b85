// cudaDenseTest.matMul / conv2d / conv2dBackpropInput / conv2dBackpropFilter: the arguments of
// the CPU dense exports (dense_binding.cc, read by the same readers) plus `precision`, with the
// batch broadcast given as shapes instead of index lists. Every argument is checked before any
// device work; outputs are caller-provided Float32Arrays, written in place.
#include "cuda_dense_binding.h"

#ifdef UCMG_WITH_CUDA

#include <limits>
#include <string>
#include <vector>

#include "../cuda/backend/dense_host.h"
#include "args.h"
#include "dense_binding.h"

namespace ucmg::binding {

namespace {

namespace be = ucmg::cuda::backend;

constexpr int64_t kMaxDimension = std::numeric_limits<int32_t>::max();
constexpr int kMaxBatchRank = 6;  // be::kMaxBatchRank (dense.cuh is CUDA-only)

// precision: 'exact' (default) or 'tf32'; true for tf32.
bool readTf32(const Args& args) {
  const Napi::Value value = args.optional("precision");
  if (value.IsUndefined()) return false;
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "exact") return false;
  if (name == "tf32") return true;
  args.rangeError("precision must be 'exact' or 'tf32', got " + describe(value));
}

Napi::Value MatMul(const Napi::CallbackInfo& info) {
  const Args args("cudaDenseTest.matMul", info[0]);
  const int64_t m = args.integer("m", 0, kMaxDimension);
  const int64_t n = args.integer("n", 0, kMaxDimension);
  const int64_t k = args.integer("k", 0, kMaxDimension);
  const bool transposeA = args.flag("transposeA"), transposeB = args.flag("transposeB");
  const bool tf32 = readTf32(args);
  const int rank = static_cast<int>(args.integer("batchRank", 0, kMaxBatchRank));
  const Napi::Int32Array aShapeArray = args.ints("aBatchShape", rank, "batchRank");
  const Napi::Int32Array bShapeArray = args.ints("bBatchShape", rank, "batchRank");
  int64_t aShape[kMaxBatchRank], bShape[kMaxBatchRank];
  int64_t aMatrices = 1, bMatrices = 1, batch = 1;
  for (int d = 0; d < rank; ++d) {
    aShape[d] = aShapeArray[d], bShape[d] = bShapeArray[d];
    if (aShape[d] < 0 || bShape[d] < 0) args.rangeError("batch shapes must not be negative");
    if (aShape[d] != bShape[d] && aShape[d] != 1 && bShape[d] != 1) {
      args.rangeError("aBatchShape[" + std::to_string(d) + "] = " + std::to_string(aShape[d]) +
                      " and bBatchShape[" + std::to_string(d) + "] = " + std::to_string(bShape[d]) +
                      " do not broadcast");
    }
    aMatrices = checkedProduct(args, {aMatrices, aShape[d]}, "aBatchShape");
    bMatrices = checkedProduct(args, {bMatrices, bShape[d]}, "bBatchShape");
    batch = checkedProduct(args, {batch, aShape[d] == 1 ? bShape[d] : aShape[d]}, "batch");
  }
  const Floats a = floatView(args, args.field("a"), "a", checkedProduct(args, {aMatrices, m, k}, "a"),
                             "product(aBatchShape)*m*k");
  const Floats b = floatView(args, args.field("b"), "b", checkedProduct(args, {bMatrices, k, n}, "b"),
                             "product(bBatchShape)*k*n");
  const Floats out = floatView(args, args.field("out"), "out", checkedProduct(args, {batch, m, n}, "out"),
                               "batch*m*n");
  requireDisjoint(args, out, "out", a, "a");
  requireDisjoint(args, out, "out", b, "b");
  const ucmg::dense::Epilogue epilogue = readEpilogue(args, n, out, "out");
  be::batchMatMulHost(a.data, b.data, out.data, m, n, k, transposeA, transposeB, rank, aShape, bShape,
                      epilogue, tf32);
  return info.Env().Undefined();
}

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const Args args("cudaDenseTest.conv2d", info[0]);
  const ucmg::dense::Conv2DGeometry g = readGeometry(args);
  const bool tf32 = readTf32(args);
  const ConvTensors t = readConvTensors(args, g, "x", "filter", "out");
  requireDisjoint(args, t.y, "out", t.x, "x");
  requireDisjoint(args, t.y, "out", t.filter, "filter");
  const ucmg::dense::Epilogue epilogue = readEpilogue(args, g.outChannels, t.y, "out");
  be::conv2dHost(t.x.data, t.filter.data, t.y.data, g, epilogue, tf32);
  return info.Env().Undefined();
}

Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  const Args args("cudaDenseTest.conv2dBackpropInput", info[0]);
  const ucmg::dense::Conv2DGeometry g = readGeometry(args);
  const bool tf32 = readTf32(args);
  const ConvTensors t = readConvTensors(args, g, "dx", "filter", "dy");
  requireDisjoint(args, t.x, "dx", t.y, "dy");
  requireDisjoint(args, t.x, "dx", t.filter, "filter");
  be::conv2dBackpropInputHost(t.y.data, t.filter.data, t.x.data, g, tf32);
  return info.Env().Undefined();
}

Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  const Args args("cudaDenseTest.conv2dBackpropFilter", info[0]);
  const ucmg::dense::Conv2DGeometry g = readGeometry(args);
  const bool tf32 = readTf32(args);
  const ConvTensors t = readConvTensors(args, g, "x", "dw", "dy");
  requireDisjoint(args, t.filter, "dw", t.x, "x");
  requireDisjoint(args, t.filter, "dw", t.y, "dy");
  be::conv2dBackpropFilterHost(t.x.data, t.y.data, t.filter.data, g, tf32);
  return info.Env().Undefined();
}

// time({op, precision?, iters, m, n, k, batch} | {op, precision?, iters, geometry}): per-run ms.
Napi::Value Time(const Napi::CallbackInfo& info) {
  const Args args("cudaDenseTest.time", info[0]);
  const Napi::Value opValue = args.field("op");
  const std::string op = opValue.IsString() ? opValue.As<Napi::String>().Utf8Value() : "";
  const bool tf32 = readTf32(args);
  const int iters = static_cast<int>(args.integer("iters", 1, 10000));
  std::vector<double> ms;
  if (op == "matMul") {
    const int64_t batch = args.integer("batch", 1, kMaxDimension);
    const int64_t m = args.integer("m", 1, kMaxDimension), n = args.integer("n", 1, kMaxDimension);
    const int64_t k = args.integer("k", 1, kMaxDimension);
    checkedProduct(args, {batch, m, k}, "batch*m*k");
    checkedProduct(args, {batch, k, n}, "batch*k*n");
    checkedProduct(args, {batch, m, n}, "batch*m*n");
    ms = be::timeBatchMatMul(batch, m, n, k, tf32, iters);
  } else if (op == "conv2d" || op == "conv2dBackpropInput" || op == "conv2dBackpropFilter") {
    const ucmg::dense::Conv2DGeometry g = readGeometry(args);
    const be::ConvPass pass = op == "conv2d" ? be::ConvPass::Forward
                              : op == "conv2dBackpropInput" ? be::ConvPass::BackpropInput
                                                             : be::ConvPass::BackpropFilter;
    ms = be::timeConv2d(pass, g, tf32, iters);
  } else {
    args.rangeError("op must be one of 'matMul', 'conv2d', 'conv2dBackpropInput', "
                    "'conv2dBackpropFilter', got " + describe(opValue));
  }
  Napi::Array out = Napi::Array::New(info.Env(), ms.size());
  for (size_t i = 0; i < ms.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), ms[i]));
  return out;
}

}  // namespace

void registerCudaDenseBinding(Napi::Env env, Napi::Object exports) {
  Napi::Object dense = Napi::Object::New(env);
  exportFunction(env, dense, "matMul", MatMul);
  exportFunction(env, dense, "conv2d", Conv2d);
  exportFunction(env, dense, "conv2dBackpropInput", Conv2dBackpropInput);
  exportFunction(env, dense, "conv2dBackpropFilter", Conv2dBackpropFilter);
  exportFunction(env, dense, "time", Time);
  exports.Set("cudaDenseTest", dense);
}

}  // namespace ucmg::binding

#endif  // UCMG_WITH_CUDA
