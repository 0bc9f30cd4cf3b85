// Dense kernels that tfjs hands to the native addon during training: batched matrix
// products with a fused bias + activation epilogue, and 2-D convolutions with their two
// backprops. Plain C++ on OpenBLAS; nothing here knows N-API or tfjs. The binding
// (native/binding/dense_binding.cc) validates every argument first, so these functions assume
// consistent sizes and output buffers that do not overlap their inputs.
//
// Layout: row-major float32 throughout. Images are NHWC, filters [filterH, filterW, inC, outC]
// (the tfjs layouts, so tfjs memory is used in place).
#pragma once

#include <cstdint>

namespace ucmg {
namespace dense {

enum class Activation { Linear, Relu, Relu6, Elu, LeakyRelu, Prelu, Sigmoid };

// Applied to every output row of `columns` values after the product:
//   y = act(x + bias[c]) with bias of length 1 (broadcast) or `columns`.
struct Epilogue {
  const float* bias = nullptr;
  int64_t biasLength = 0;
  Activation activation = Activation::Linear;
  float leakyreluAlpha = 0.2f;
  const float* preluAlpha = nullptr;  // Prelu: length 1 or `columns`
  int64_t preluLength = 0;
};

// out[i] = op(a[aBatchIndex[i]]) x op(b[bBatchIndex[i]]) for i < batch, op = transpose or not.
// a matrices are [m, k] ([k, m] transposed), b matrices [k, n] ([n, k] transposed), out [m, n].
struct MatMulProblem {
  int64_t batch = 1;
  int64_t m = 0, n = 0, k = 0;
  bool transposeA = false, transposeB = false;
  const int32_t* aBatchIndex = nullptr;  // [batch]
  const int32_t* bBatchIndex = nullptr;  // [batch]
};
void matMul(const float* a, const float* b, float* out, const MatMulProblem& problem,
            const Epilogue& epilogue);

// The geometry tfjs's computeConv2DInfo produces (padBottom/padRight are implied by out sizes).
struct Conv2DGeometry {
  int64_t batch = 0, inHeight = 0, inWidth = 0, inChannels = 0;
  int64_t outHeight = 0, outWidth = 0, outChannels = 0;
  int64_t filterHeight = 0, filterWidth = 0;
  int64_t strideHeight = 1, strideWidth = 1, dilationHeight = 1, dilationWidth = 1;
  int64_t padTop = 0, padLeft = 0;
};

// out [batch, outH, outW, outC] = epilogue(conv(x [batch, inH, inW, inC], filter)).
void conv2d(const float* x, const float* filter, float* out, const Conv2DGeometry& g,
            const Epilogue& epilogue);
// dx [batch, inH, inW, inC] = d conv / d x applied to dy [batch, outH, outW, outC].
void conv2dBackpropInput(const float* dy, const float* filter, float* dx,
                         const Conv2DGeometry& g);
// dw [filterH, filterW, inC, outC] = d conv / d filter applied to dy.
void conv2dBackpropFilter(const float* x, const float* dy, float* dw, const Conv2DGeometry& g);

// ---- layout and reduction kernels ----------------------------------------------------------
// Memory-bound companions of the products: in a training step tfjs wasm spends more time on its
// generic transposes (rank 5 runs at a few million elements per second) and on sums over leading
// axes (bias gradients) than on many of the products themselves.

constexpr int kMaxTransposeRank = 8;

// y = x transposed: y's axis i is x's axis perm[i], read backwards where reversed[perm[i]] (a flag
// per axis of x; null: none). shape is x's shape, rank <= kMaxTransposeRank. Covers Reverse too.
void transpose(const float* x, float* y, const int64_t* shape, const int* perm,
               const bool* reversed, int rank);

// y[o, j] = scale * sum over r of x[o, r, j] for x [outer, reduce, inner] (row-major), summed in
// double (scale 1: Sum, 1/reduce: Mean).
void sumAxis(const float* x, float* y, int64_t outer, int64_t reduce, int64_t inner, double scale);

// ---- elementwise kernels ----------------------------------------------------------------------
// For tfjs's cpu backend, whose elementwise kernels are plain JavaScript: when it hosts a model
// too big for the wasm heap, the optimizer's and the backward's elementwise passes over the
// weights take longer than the products.

enum class BinaryOp { Add, Sub, Mul, Div };
// out[o, m, i] = a op b over out [outer, mid, inner], each operand either full ([outer, mid,
// inner]) or repeated along mid ([outer, inner]): tfjs broadcasting over one run of axes, which
// covers same shapes, scalars, biases ([n] over [.., n]) and per-row scales ([.., 1] over [.., n]).
struct BinaryShape {
  int64_t outer = 1, mid = 1, inner = 1;
  bool aRepeats = false, bRepeats = false;  // at most one
};
void binary(BinaryOp op, const float* a, const float* b, float* out, const BinaryShape& shape);

enum class UnaryOp { Relu, Step, Sqrt, Square, Neg };
// out[i] = op(x[i]); Step is tfjs's: x > 0 ? 1 : alpha (NaN stays NaN).
void unary(UnaryOp op, const float* x, float* out, int64_t n, float alpha);

}  // namespace dense
}  // namespace ucmg
