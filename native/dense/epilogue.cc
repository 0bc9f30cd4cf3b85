#include "epilogue.h"

#include <algorithm>
#include <cmath>

namespace ucmg {
namespace dense {

namespace {

// One row at a time with the activation fixed at compile time, so the inner loop vectorises.
template <Activation A>
void applyRows(float* out, int64_t rows, int64_t columns, const Epilogue& e) {
  const bool biasPerColumn = e.bias != nullptr && e.biasLength != 1;
  const float biasScalar = e.bias != nullptr && e.biasLength == 1 ? e.bias[0] : 0.0f;
  const bool alphaPerColumn = e.preluAlpha != nullptr && e.preluLength != 1;
  const float alphaScalar =
      A == Activation::Prelu ? (alphaPerColumn ? 0.0f : e.preluAlpha[0]) : e.leakyreluAlpha;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = out + r * columns;
    for (int64_t c = 0; c < columns; ++c) {
      float v = row[c] + (biasPerColumn ? e.bias[c] : biasScalar);
      switch (A) {
        case Activation::Linear: break;
        case Activation::Relu: v = v < 0.0f ? 0.0f : v; break;
        case Activation::Relu6: v = std::min(std::max(v, 0.0f), 6.0f); break;
        case Activation::Elu: v = v >= 0.0f ? v : std::expm1(v); break;
        case Activation::LeakyRelu: v = v < 0.0f ? alphaScalar * v : v; break;
        case Activation::Prelu:
          v = v < 0.0f ? (alphaPerColumn ? e.preluAlpha[c] : alphaScalar) * v : v;
          break;
        case Activation::Sigmoid: v = 1.0f / (1.0f + std::exp(-v)); break;
      }
      row[c] = v;
    }
  }
}

}  // namespace

void applyEpilogue(float* out, int64_t rows, int64_t columns, const Epilogue& e) {
  switch (e.activation) {
    case Activation::Linear:
      if (e.bias != nullptr) applyRows<Activation::Linear>(out, rows, columns, e);
      return;
    case Activation::Relu: return applyRows<Activation::Relu>(out, rows, columns, e);
    case Activation::Relu6: return applyRows<Activation::Relu6>(out, rows, columns, e);
    case Activation::Elu: return applyRows<Activation::Elu>(out, rows, columns, e);
    case Activation::LeakyRelu: return applyRows<Activation::LeakyRelu>(out, rows, columns, e);
    case Activation::Prelu: return applyRows<Activation::Prelu>(out, rows, columns, e);
    case Activation::Sigmoid: return applyRows<Activation::Sigmoid>(out, rows, columns, e);
  }
}

}  // namespace dense
}  // namespace ucmg
