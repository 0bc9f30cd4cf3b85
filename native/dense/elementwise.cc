#include <cmath>

#include "dense.h"

namespace ucmg {
namespace dense {

namespace {

template <BinaryOp Op>
inline float apply(float a, float b) {
  switch (Op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return 0.0f;
}

// The loop for one operator; the layouts are written out so each inner loop vectorises.
template <BinaryOp Op>
void binaryLoop(const float* a, const float* b, float* out, const BinaryShape& s) {
  const int64_t n = s.outer * s.mid * s.inner;
  if (!s.aRepeats && !s.bRepeats) {
    for (int64_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i], b[i]);
    return;
  }
  if (s.inner == 1) {
    // One repeated value per row of `mid` elements (a per-row scale).
    for (int64_t o = 0; o < s.outer; ++o) {
      const float* full = (s.aRepeats ? b : a) + o * s.mid;
      const float r = (s.aRepeats ? a : b)[o];
      float* row = out + o * s.mid;
      if (s.aRepeats) {
        for (int64_t m = 0; m < s.mid; ++m) row[m] = apply<Op>(r, full[m]);
      } else {
        for (int64_t m = 0; m < s.mid; ++m) row[m] = apply<Op>(full[m], r);
      }
    }
    return;
  }
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t m = 0; m < s.mid; ++m) {
      const int64_t full = (o * s.mid + m) * s.inner, repeated = o * s.inner;
      const float* ar = a + (s.aRepeats ? repeated : full);
      const float* br = b + (s.bRepeats ? repeated : full);
      float* row = out + full;
      for (int64_t i = 0; i < s.inner; ++i) row[i] = apply<Op>(ar[i], br[i]);
    }
  }
}

}  // namespace

void binary(BinaryOp op, const float* a, const float* b, float* out, const BinaryShape& shape) {
  switch (op) {
    case BinaryOp::Add: return binaryLoop<BinaryOp::Add>(a, b, out, shape);
    case BinaryOp::Sub: return binaryLoop<BinaryOp::Sub>(a, b, out, shape);
    case BinaryOp::Mul: return binaryLoop<BinaryOp::Mul>(a, b, out, shape);
    case BinaryOp::Div: return binaryLoop<BinaryOp::Div>(a, b, out, shape);
  }
}

void unary(UnaryOp op, const float* x, float* out, int64_t n, float alpha) {
  switch (op) {
    case UnaryOp::Relu:
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] < 0.0f ? 0.0f : x[i];
      return;
    case UnaryOp::Step:
      for (int64_t i = 0; i < n; ++i) out[i] = std::isnan(x[i]) ? x[i] : x[i] > 0.0f ? 1.0f : alpha;
      return;
    case UnaryOp::Sqrt:
      for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
      return;
    case UnaryOp::Square:
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] * x[i];
      return;
    case UnaryOp::Neg:
      for (int64_t i = 0; i < n; ++i) out[i] = -x[i];
      return;
  }
}

}  // namespace dense
}  // namespace ucmg
