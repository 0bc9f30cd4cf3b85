// N-API wrappers of the dense kernels (native/dense/dense.h). Every argument is checked (args.h)
// before any kernel runs; a bad one raises a TypeError or RangeError that names it, and nothing
// is written. Outputs are caller-provided Float32Arrays (tfjs's own tensor memory), written in
// place.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dense_binding.h"

#include "../dense/dense.h"
#include "args.h"

namespace ucmg::binding {

using ucmg::dense::Activation;
using ucmg::dense::Conv2DGeometry;
using ucmg::dense::Epilogue;

// Largest dimension BLAS accepts (32-bit integers).
constexpr int64_t kMaxDimension = std::numeric_limits<int32_t>::max();

Floats float32Array(const Args& args, const Napi::Value& value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    args.typeError(name + " must be a Float32Array, got " + describe(value));
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  return {array.Data(), static_cast<int64_t>(array.ElementLength())};
}

// A Float32Array of exactly `length` elements, used in place. Unlike Args::floats its values are
// not checked: tfjs tensors may hold NaN or Infinity, which these kernels propagate as tfjs does.
Floats floatView(const Args& args, const Napi::Value& value, const std::string& name,
                 int64_t length, const std::string& lengthText) {
  const Floats f = float32Array(args, value, name);
  if (f.length != length) {
    args.rangeError(name + " must have " + lengthText + " = " + std::to_string(length) +
                    " elements, got " + std::to_string(f.length));
  }
  return f;
}

// A Float32Array of 1 (broadcast) or `columns` (one per output channel) elements.
Floats channelVector(const Args& args, const Napi::Value& value, const char* name, int64_t columns) {
  const Floats f = float32Array(args, value, name);
  if (f.length != 1 && f.length != columns) {
    const std::string counts = columns == 1 ? "1 element" : "1 or " + std::to_string(columns) + " elements";
    args.rangeError(std::string(name) + " must have " + counts + " (one per output channel), got " +
                    std::to_string(f.length));
  }
  return f;
}

int64_t checkedProduct(const Args& args, std::initializer_list<int64_t> factors, const std::string& what) {
  int64_t product = 1;
  for (int64_t f : factors) {
    if (f != 0 && product > (int64_t(1) << 53) / f) args.rangeError(what + " is too large");
    product *= f;
  }
  return product;
}

// The kernels write the output while still reading the inputs: they must not share memory (two
// views into one wasm heap could).
void requireDisjoint(const Args& args, const Floats& out, const char* outName, const Floats& in,
                     const char* inName) {
  const char* o = reinterpret_cast<const char*>(out.data);
  const char* i = reinterpret_cast<const char*>(in.data);
  const int64_t ob = out.length * int64_t(sizeof(float)), ib = in.length * int64_t(sizeof(float));
  if (ob > 0 && ib > 0 && o < i + ib && i < o + ob) {
    args.rangeError(std::string(outName) + " overlaps " + inName);
  }
}

Activation parseActivation(const Args& args, const Napi::Value& value) {
  if (value.IsUndefined()) return Activation::Linear;
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "linear") return Activation::Linear;
  if (name == "relu") return Activation::Relu;
  if (name == "relu6") return Activation::Relu6;
  if (name == "elu") return Activation::Elu;
  if (name == "leakyrelu") return Activation::LeakyRelu;
  if (name == "prelu") return Activation::Prelu;
  if (name == "sigmoid") return Activation::Sigmoid;
  args.rangeError("activation must be one of 'linear', 'relu', 'relu6', 'elu', 'leakyrelu', "
                  "'prelu', 'sigmoid', got " + describe(value));
}

// bias / activation / leakyreluAlpha / preluAlpha, for outputs of `columns` channels; checks that
// `out` does not overlap them.
Epilogue readEpilogue(const Args& args, int64_t columns, const Floats& out, const char* outName) {
  Epilogue e;
  e.activation = parseActivation(args, args.optional("activation"));
  const Napi::Value bias = args.optional("bias");
  if (!bias.IsUndefined()) {
    Floats b = channelVector(args, bias, "bias", columns);
    requireDisjoint(args, out, outName, b, "bias");
    e.bias = b.data;
    e.biasLength = b.length;
  }
  if (!args.optional("leakyreluAlpha").IsUndefined()) {
    const double limit = std::numeric_limits<float>::max();
    e.leakyreluAlpha = static_cast<float>(args.number("leakyreluAlpha", -limit, limit));
  }
  const Napi::Value alpha = args.optional("preluAlpha");
  if (e.activation == Activation::Prelu) {
    if (alpha.IsUndefined()) args.typeError("preluAlpha is required for activation 'prelu'");
    Floats a = channelVector(args, alpha, "preluAlpha", columns);
    requireDisjoint(args, out, outName, a, "preluAlpha");
    e.preluAlpha = a.data;
    e.preluLength = a.length;
  }
  return e;
}

// Floor of a / b for b > 0 (a may be negative).
int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((b - 1 - a) / b); }

// The smallest output size along one axis that covers the input: the padding at the far end is
// implied by the output size, padEnd = (out - 1) * stride + span - in - pad for the dilated filter
// span, up to stride - 1 less when the last rows are skipped, and tfjs never pads by a negative
// amount. (A larger output is explicit padding, which may put whole windows into the padding.)
int64_t leastOutput(int64_t in, int64_t pad, int64_t filter, int64_t dilation, int64_t stride) {
  const int64_t span = (filter - 1) * dilation + 1;
  return std::max<int64_t>(0, floorDiv(in + pad - span, stride) + 1);
}

// RangeError unless the output is at least `least` along `axis` ("Height" or "Width").
void requireOutputCovers(const Args& args, const char* axis, int64_t in, int64_t out, int64_t filter,
                         int64_t stride, int64_t dilation, const char* padName, int64_t pad,
                         int64_t least) {
  if (out >= least) return;
  args.rangeError(std::string("geometry.out") + axis + " = " + std::to_string(out) + " does not match in" +
                  axis + " = " + std::to_string(in) + ", filter" + axis + " = " + std::to_string(filter) +
                  ", stride" + axis + " = " + std::to_string(stride) + ", dilation" + axis + " = " +
                  std::to_string(dilation) + " and " + padName + " = " + std::to_string(pad) +
                  ": expected at least " + std::to_string(least));
}

Conv2DGeometry readGeometry(const Args& args) {
  const Args g = args.object("geometry");
  Conv2DGeometry r;
  r.batch = g.integer("batch", 0, kMaxDimension);
  r.inHeight = g.integer("inHeight", 0, kMaxDimension);
  r.inWidth = g.integer("inWidth", 0, kMaxDimension);
  r.inChannels = g.integer("inChannels", 0, kMaxDimension);
  r.outHeight = g.integer("outHeight", 0, kMaxDimension);
  r.outWidth = g.integer("outWidth", 0, kMaxDimension);
  r.outChannels = g.integer("outChannels", 0, kMaxDimension);
  r.filterHeight = g.integer("filterHeight", 1, kMaxDimension);
  r.filterWidth = g.integer("filterWidth", 1, kMaxDimension);
  r.strideHeight = g.integer("strideHeight", 1, kMaxDimension);
  r.strideWidth = g.integer("strideWidth", 1, kMaxDimension);
  r.dilationHeight = g.integer("dilationHeight", 1, kMaxDimension);
  r.dilationWidth = g.integer("dilationWidth", 1, kMaxDimension);
  r.padTop = g.integer("padTop", 0, kMaxDimension);
  r.padLeft = g.integer("padLeft", 0, kMaxDimension);
  // The im2col matrix is [batch*outH*outW, filterH*filterW*inC]: both sides go to BLAS.
  if (checkedProduct(args, {r.filterHeight, r.filterWidth, r.inChannels}, "geometry") > kMaxDimension) {
    g.rangeError("filterHeight*filterWidth*inChannels exceeds 2^31 - 1");
  }
  if (checkedProduct(args, {r.batch, r.outHeight, r.outWidth}, "geometry") > kMaxDimension) {
    g.rangeError("batch*outHeight*outWidth exceeds 2^31 - 1");
  }
  // A geometry whose output stops short of its input does not describe the arrays. tfjs sizes the
  // width of a numerically padded convolution with the height's filter and stride, so either
  // bound admits a width.
  requireOutputCovers(args, "Height", r.inHeight, r.outHeight, r.filterHeight, r.strideHeight,
                      r.dilationHeight, "padTop", r.padTop,
                      leastOutput(r.inHeight, r.padTop, r.filterHeight, r.dilationHeight, r.strideHeight));
  requireOutputCovers(args, "Width", r.inWidth, r.outWidth, r.filterWidth, r.strideWidth,
                      r.dilationWidth, "padLeft", r.padLeft,
                      std::min(leastOutput(r.inWidth, r.padLeft, r.filterWidth, r.dilationWidth, r.strideWidth),
                               leastOutput(r.inWidth, r.padLeft, r.filterHeight, r.dilationHeight,
                                           r.strideHeight)));
  return r;
}

ConvTensors readConvTensors(const Args& args, const Conv2DGeometry& g, const char* xName,
                            const char* filterName, const char* yName) {
  const int64_t x = checkedProduct(args, {g.batch, g.inHeight, g.inWidth, g.inChannels}, xName);
  const int64_t f = checkedProduct(args, {g.filterHeight, g.filterWidth, g.inChannels, g.outChannels}, filterName);
  const int64_t y = checkedProduct(args, {g.batch, g.outHeight, g.outWidth, g.outChannels}, yName);
  return {floatView(args, args.field(xName), xName, x, "batch*inHeight*inWidth*inChannels"),
          floatView(args, args.field(filterName), filterName, f,
                    "filterHeight*filterWidth*inChannels*outChannels"),
          floatView(args, args.field(yName), yName, y, "batch*outHeight*outWidth*outChannels")};
}

namespace {

Napi::Value DenseMatMul(const Napi::CallbackInfo& info) {
  const Args args("denseMatMul", info[0]);
  ucmg::dense::MatMulProblem p;
  p.m = args.integer("m", 0, kMaxDimension);
  p.n = args.integer("n", 0, kMaxDimension);
  p.k = args.integer("k", 0, kMaxDimension);
  p.transposeA = args.flag("transposeA");
  p.transposeB = args.flag("transposeB");
  p.batch = args.integer("batch", 0, kMaxDimension);
  const int64_t aBatches = args.integer("aBatches", 1, kMaxDimension);
  const int64_t bBatches = args.integer("bBatches", 1, kMaxDimension);
  // Copied: the index arrays could share a buffer with `out`.
  const Napi::Int32Array aIndex = args.ints("aBatchIndex", p.batch, "batch");
  const Napi::Int32Array bIndex = args.ints("bBatchIndex", p.batch, "batch");
  const std::vector<int32_t> aBatchIndex(aIndex.Data(), aIndex.Data() + p.batch);
  const std::vector<int32_t> bBatchIndex(bIndex.Data(), bIndex.Data() + p.batch);
  for (int64_t i = 0; i < p.batch; ++i) {
    if (aBatchIndex[i] < 0 || aBatchIndex[i] >= aBatches) {
      args.rangeError("aBatchIndex[" + std::to_string(i) + "] = " + std::to_string(aBatchIndex[i]) +
                      " is outside [0, aBatches = " + std::to_string(aBatches) + ")");
    }
    if (bBatchIndex[i] < 0 || bBatchIndex[i] >= bBatches) {
      args.rangeError("bBatchIndex[" + std::to_string(i) + "] = " + std::to_string(bBatchIndex[i]) +
                      " is outside [0, bBatches = " + std::to_string(bBatches) + ")");
    }
  }
  // A batch whose a matrices are consecutive is one GEMM with batch*m rows.
  if (checkedProduct(args, {p.batch, p.m}, "batch*m") > kMaxDimension) {
    args.rangeError("batch*m exceeds 2^31 - 1");
  }
  const Floats a = floatView(args, args.field("a"), "a",
                             checkedProduct(args, {aBatches, p.m, p.k}, "a"), "aBatches*m*k");
  const Floats b = floatView(args, args.field("b"), "b",
                             checkedProduct(args, {bBatches, p.k, p.n}, "b"), "bBatches*k*n");
  const Floats out = floatView(args, args.field("out"), "out",
                               checkedProduct(args, {p.batch, p.m, p.n}, "out"), "batch*m*n");
  requireDisjoint(args, out, "out", a, "a");
  requireDisjoint(args, out, "out", b, "b");
  const Epilogue epilogue = readEpilogue(args, p.n, out, "out");
  p.aBatchIndex = aBatchIndex.data();
  p.bBatchIndex = bBatchIndex.data();
  ucmg::dense::matMul(a.data, b.data, out.data, p, epilogue);
  return info.Env().Undefined();
}

Napi::Value DenseConv2d(const Napi::CallbackInfo& info) {
  const Args args("denseConv2d", info[0]);
  const Conv2DGeometry g = readGeometry(args);
  const ConvTensors t = readConvTensors(args, g, "x", "filter", "out");
  requireDisjoint(args, t.y, "out", t.x, "x");
  requireDisjoint(args, t.y, "out", t.filter, "filter");
  const Epilogue epilogue = readEpilogue(args, g.outChannels, t.y, "out");
  ucmg::dense::conv2d(t.x.data, t.filter.data, t.y.data, g, epilogue);
  return info.Env().Undefined();
}

Napi::Value DenseConv2dBackpropInput(const Napi::CallbackInfo& info) {
  const Args args("denseConv2dBackpropInput", info[0]);
  const Conv2DGeometry g = readGeometry(args);
  const ConvTensors t = readConvTensors(args, g, "dx", "filter", "dy");
  requireDisjoint(args, t.x, "dx", t.y, "dy");
  requireDisjoint(args, t.x, "dx", t.filter, "filter");
  ucmg::dense::conv2dBackpropInput(t.y.data, t.filter.data, t.x.data, g);
  return info.Env().Undefined();
}

Napi::Value DenseConv2dBackpropFilter(const Napi::CallbackInfo& info) {
  const Args args("denseConv2dBackpropFilter", info[0]);
  const Conv2DGeometry g = readGeometry(args);
  const ConvTensors t = readConvTensors(args, g, "x", "dw", "dy");
  requireDisjoint(args, t.filter, "dw", t.x, "x");
  requireDisjoint(args, t.filter, "dw", t.y, "dy");
  ucmg::dense::conv2dBackpropFilter(t.x.data, t.y.data, t.filter.data, g);
  return info.Env().Undefined();
}

Napi::Value DenseTranspose(const Napi::CallbackInfo& info) {
  const Args args("denseTranspose", info[0]);
  const int rank = static_cast<int>(args.integer("rank", 1, ucmg::dense::kMaxTransposeRank));
  const Napi::Int32Array shapeArray = args.ints("shape", rank, "rank");
  const Napi::Int32Array permArray = args.ints("perm", rank, "rank");
  std::vector<int64_t> shape(rank);
  std::vector<int> perm(rank);
  std::vector<bool> seen(rank, false);
  int64_t size = 1;
  for (int i = 0; i < rank; ++i) {
    if (shapeArray[i] < 0) args.rangeError("shape[" + std::to_string(i) + "] is negative");
    shape[i] = shapeArray[i];
    size = checkedProduct(args, {size, shape[i]}, "shape");
    const int axis = permArray[i];
    if (axis < 0 || axis >= rank || seen[axis]) {
      args.rangeError("perm must be a permutation of 0.." + std::to_string(rank - 1) + ", got " +
                      std::to_string(axis) + " at " + std::to_string(i));
    }
    seen[axis] = true;
    perm[i] = axis;
  }
  // Optional: which axes of x to read backwards (tf.reverse).
  std::unique_ptr<bool[]> reversed;
  if (!args.optional("reversed").IsUndefined()) {
    const Napi::Int32Array flags = args.ints("reversed", rank, "rank");
    reversed.reset(new bool[rank]);
    for (int i = 0; i < rank; ++i) reversed[i] = flags[i] != 0;
  }
  const Floats x = floatView(args, args.field("x"), "x", size, "the product of shape");
  const Floats out = floatView(args, args.field("out"), "out", size, "the product of shape");
  requireDisjoint(args, out, "out", x, "x");
  ucmg::dense::transpose(x.data, out.data, shape.data(), perm.data(), reversed.get(), rank);
  return info.Env().Undefined();
}

// Element counts of the layout and elementwise kernels (no BLAS limit: up to 2^53).
constexpr int64_t kMaxCount = int64_t(1) << 53;

Napi::Value DenseSumAxis(const Napi::CallbackInfo& info) {
  const Args args("denseSumAxis", info[0]);
  const int64_t outer = args.integer("outer", 0, kMaxCount);
  const int64_t reduce = args.integer("reduce", 0, kMaxCount);
  const int64_t inner = args.integer("inner", 0, kMaxCount);
  const double scale = args.optional("scale").IsUndefined()
      ? 1.0 : args.number("scale", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
  const Floats x = floatView(args, args.field("x"), "x",
                             checkedProduct(args, {outer, reduce, inner}, "x"), "outer*reduce*inner");
  const Floats out = floatView(args, args.field("out"), "out",
                               checkedProduct(args, {outer, inner}, "out"), "outer*inner");
  requireDisjoint(args, out, "out", x, "x");
  ucmg::dense::sumAxis(x.data, out.data, outer, reduce, inner, scale);
  return info.Env().Undefined();
}

// The name of op, among `names` (in the enum's order).
template <typename Op, size_t N>
Op parseOp(const Args& args, const Napi::Value& value, const char* const (&names)[N]) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  std::string list;
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<Op>(i);
    list += std::string(i == 0 ? "'" : ", '") + names[i] + "'";
  }
  args.rangeError("op must be one of " + list + ", got " + describe(value));
}

Napi::Value DenseBinary(const Napi::CallbackInfo& info) {
  static const char* const kOps[] = {"add", "sub", "mul", "div"};
  const Args args("denseBinary", info[0]);
  const auto op = parseOp<ucmg::dense::BinaryOp>(args, args.field("op"), kOps);
  ucmg::dense::BinaryShape shape;
  shape.outer = args.integer("outer", 0, kMaxCount);
  shape.mid = args.integer("mid", 0, kMaxCount);
  shape.inner = args.integer("inner", 0, kMaxCount);
  const int64_t n = checkedProduct(args, {shape.outer, shape.mid, shape.inner}, "out");
  // Checked on its own: with mid = 0 the product above says nothing about outer*inner.
  const int64_t repeated = checkedProduct(args, {shape.outer, shape.inner}, "outer*inner");
  const Floats out = floatView(args, args.field("out"), "out", n, "outer*mid*inner");
  const Floats a = float32Array(args, args.field("a"), "a");
  const Floats b = float32Array(args, args.field("b"), "b");
  for (const auto& [operand, name] : {std::pair{a, "a"}, std::pair{b, "b"}}) {
    if (operand.length != n && operand.length != repeated) {
      args.rangeError(std::string(name) + " must have outer*mid*inner = " + std::to_string(n) +
                      " or outer*inner = " + std::to_string(repeated) + " elements, got " +
                      std::to_string(operand.length));
    }
  }
  shape.aRepeats = a.length != n;
  shape.bRepeats = b.length != n;
  if (shape.aRepeats && shape.bRepeats) args.rangeError("a or b must have outer*mid*inner elements");
  requireDisjoint(args, out, "out", a, "a");
  requireDisjoint(args, out, "out", b, "b");
  ucmg::dense::binary(op, a.data, b.data, out.data, shape);
  return info.Env().Undefined();
}

Napi::Value DenseUnary(const Napi::CallbackInfo& info) {
  static const char* const kOps[] = {"relu", "step", "sqrt", "square", "neg"};
  const Args args("denseUnary", info[0]);
  const auto op = parseOp<ucmg::dense::UnaryOp>(args, args.field("op"), kOps);
  const Floats out = float32Array(args, args.field("out"), "out");
  const Floats x = floatView(args, args.field("x"), "x", out.length, "out's length");
  const double limit = std::numeric_limits<float>::max();
  const float alpha =
      args.optional("alpha").IsUndefined() ? 0.0f : static_cast<float>(args.number("alpha", -limit, limit));
  requireDisjoint(args, out, "out", x, "x");
  ucmg::dense::unary(op, x.data, out.data, out.length, alpha);
  return info.Env().Undefined();
}

}  // namespace

void registerDenseBinding(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "denseMatMul", DenseMatMul);
  exportFunction(env, exports, "denseConv2d", DenseConv2d);
  exportFunction(env, exports, "denseConv2dBackpropInput", DenseConv2dBackpropInput);
  exportFunction(env, exports, "denseConv2dBackpropFilter", DenseConv2dBackpropFilter);
  exportFunction(env, exports, "denseTranspose", DenseTranspose);
  exportFunction(env, exports, "denseSumAxis", DenseSumAxis);
  exportFunction(env, exports, "denseBinary", DenseBinary);
  exportFunction(env, exports, "denseUnary", DenseUnary);
}

}  // namespace ucmg::binding
