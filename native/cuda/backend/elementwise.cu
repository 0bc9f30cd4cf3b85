// The strided element-wise engine. Every op computes in double and rounds once when stored:
// for + - * / and sqrt that is exactly the float result, and for the transcendental functions
// it is what tfjs's cpu backend does (JavaScript doubles stored into a Float32Array). The ops
// are memory-bound, so the double arithmetic costs little on the data-centre GPUs targeted.
#include <cmath>

#include "../runtime.cuh"
#include "elementwise.cuh"

namespace ucmg::cuda::backend {

const char* const kElementwiseOpNames[] = {
    "fill", "iota",
    "copy", "toBool", "neg", "abs", "sign", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "square",
    "reciprocal", "relu", "relu6", "elu", "selu", "leakyRelu", "step", "sigmoid", "softplus", "tanh", "sin",
    "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "floor", "ceil",
    "round", "logicalNot", "isNan", "isInf", "isFinite", "clip",
    "add", "sub", "mul", "div", "floorDiv", "mod", "pow", "maximum", "minimum", "squaredDifference", "atan2",
    "equal", "notEqual", "less", "lessEqual", "greater", "greaterEqual", "logicalAnd", "logicalOr", "prelu",
    "eluGrad",
    "select",
};
static_assert(sizeof(kElementwiseOpNames) / sizeof(kElementwiseOpNames[0]) == (size_t)ElementwiseOp::Count,
              "one name per elementwise op");

int elementwiseArity(ElementwiseOp op) {
  if (op < ElementwiseOp::Copy) return 0;
  if (op < ElementwiseOp::Add) return 1;
  if (op < ElementwiseOp::Select) return 2;
  return 3;
}

namespace {

__device__ __forceinline__ double load(const DeviceView& view, int64_t at) {
  return view.dtype == DType::Float32 ? (double)static_cast<const float*>(view.data)[at]
                                      : (double)static_cast<const int32_t*>(view.data)[at];
}

__device__ __forceinline__ void store(const DeviceView& view, int64_t at, double value) {
  if (view.dtype == DType::Float32) {
    static_cast<float*>(const_cast<void*>(view.data))[at] = (float)value;
  } else {
    // As an Int32Array stores a number: truncated toward zero, modulo 2^32; NaN and infinities give 0.
    const bool finite = value == value && fabs(value) <= 1.7976931348623157e308;
    const double wrapped = finite ? fmod(trunc(value), 4294967296.0) : 0.0;
    static_cast<int32_t*>(const_cast<void*>(view.data))[at] = (int32_t)(uint32_t)(int64_t)wrapped;
  }
}

__device__ __forceinline__ double quietNan() { return __longlong_as_double(0x7ff8000000000000LL); }

__device__ double apply(ElementwiseOp op, double a, double b, double c, double alpha, double beta,
                        int64_t index) {
  using Op = ElementwiseOp;
  switch (op) {
    case Op::Fill: return alpha;
    case Op::Iota: return alpha + beta * (double)index;
    case Op::Copy: return a;
    case Op::ToBool: return a != 0.0;
    case Op::Neg: return -a;
    case Op::Abs: return fabs(a);
    case Op::Sign: return (double)((a > 0) - (a < 0));  // NaN gives 0, as in tfjs
    case Op::Exp: return exp(a);
    case Op::Expm1: return expm1(a);
    case Op::Log: return log(a);
    case Op::Log1p: return log1p(a);
    case Op::Sqrt: return sqrt(a);
    case Op::Rsqrt: return 1.0 / sqrt(a);
    case Op::Square: return a * a;
    case Op::Reciprocal: return 1.0 / a;
    case Op::Relu: return a < 0 ? 0.0 : a;
    case Op::Relu6: return a < 0 ? 0.0 : a > 6 ? 6.0 : a;
    case Op::Elu: return a >= 0 ? a : exp(a) - 1.0;
    case Op::Selu: {
      const double scale = 1.0507009873554804934193349852946, selu = 1.6732632423543772848170429916717;
      return a >= 0 ? scale * a : scale * selu * (exp(a) - 1.0);
    }
    case Op::LeakyRelu: return a < 0 ? alpha * a : a;
    case Op::Step: return a != a ? quietNan() : a > 0 ? 1.0 : alpha;
    case Op::Sigmoid: return 1.0 / (1.0 + exp(-a));
    case Op::Softplus: {
      // tfjs's thresholds: x itself for large x, exp(x) for very negative x.
      const double threshold = log(1.1920928955078125e-7) + 2.0;
      if (a > -threshold) return a;
      if (a < threshold) return exp(a);
      return log(exp(a) + 1.0);
    }
    case Op::Tanh: return tanh(a);
    case Op::Sin: return sin(a);
    case Op::Cos: return cos(a);
    case Op::Tan: return tan(a);
    case Op::Asin: return asin(a);
    case Op::Acos: return acos(a);
    case Op::Atan: return atan(a);
    case Op::Sinh: return sinh(a);
    case Op::Cosh: return cosh(a);
    case Op::Asinh: return asinh(a);
    case Op::Acosh: return acosh(a);
    case Op::Atanh: return atanh(a);
    case Op::Erf: return erf(a);
    case Op::Floor: return floor(a);
    case Op::Ceil: return ceil(a);
    case Op::Round: return rint(a);  // half to even, as tfjs
    case Op::LogicalNot: return a == 0.0;
    case Op::IsNan: return a != a;
    case Op::IsInf: return a == a && fabs(a) > 1.7976931348623157e308;
    case Op::IsFinite: return a == a && fabs(a) <= 1.7976931348623157e308;
    case Op::Clip: return a < alpha ? alpha : a > beta ? beta : a;
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    case Op::Div: return a / b;
    case Op::FloorDiv: return floor(a / b);
    case Op::Mod: {
      const double rem = fmod(a, b);
      return (a < 0 && b < 0) || (a >= 0 && b >= 0) ? rem : fmod(rem + b, b);
    }
    case Op::Pow: return pow(a, b);
    case Op::Maximum: return a != a || b != b ? quietNan() : a > b ? a : b;
    case Op::Minimum: return a != a || b != b ? quietNan() : a < b ? a : b;
    case Op::SquaredDifference: return (a - b) * (a - b);
    case Op::Atan2: return atan2(a, b);
    case Op::Equal: return a == b;
    case Op::NotEqual: return a != b;
    case Op::Less: return a < b;
    case Op::LessEqual: return a <= b;
    case Op::Greater: return a > b;
    case Op::GreaterEqual: return a >= b;
    case Op::LogicalAnd: return a != 0.0 && b != 0.0;
    case Op::LogicalOr: return a != 0.0 || b != 0.0;
    case Op::Prelu: return a < 0 ? b * a : a;
    case Op::EluGrad: return b >= 0 ? a : a * (b + 1.0);  // a = dy, b = y
    case Op::Select: return a != 0.0 ? b : c;
    case Op::Count: break;
  }
  return quietNan();
}

__global__ void elementwiseKernel(ElementwiseArgs args) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < args.size; i += stride) {
    int64_t at[3] = {args.inputs[0].offset, args.inputs[1].offset, args.inputs[2].offset};
    int64_t outAt = args.out.offset;
    int64_t rest = i;
    for (int k = args.rank - 1; k >= 0; --k) {
      const int64_t index = rest % args.dims[k];
      rest /= args.dims[k];
      for (int j = 0; j < args.inputCount; ++j) at[j] += index * args.inputs[j].strides[k];
      outAt += index * args.out.strides[k];
    }
    double v[3] = {0, 0, 0};
    for (int j = 0; j < args.inputCount; ++j) v[j] = load(args.inputs[j], at[j]);
    store(args.out, outAt, apply(args.op, v[0], v[1], v[2], args.alpha, args.beta, i));
  }
}

}  // namespace

void launchElementwise(const ElementwiseArgs& args, cudaStream_t stream) {
  if (args.size == 0) return;
  constexpr int kThreads = 256;
  const unsigned blocks = blocksFor(args.size, kThreads, (int64_t)multiprocessorCount() * 8);
  elementwiseKernel<<<blocks, kThreads, 0, stream>>>(args);
  UCMG_CHECK_LAUNCH("elementwiseKernel");
}

}  // namespace ucmg::cuda::backend
