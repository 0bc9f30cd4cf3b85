// The canonical quantize score. CMake compiles this file with -ffp-contract=off: every backend
// must round each multiply and each add separately, in the same order, to agree bit for bit.
#include <cmath>

#include "ucmg/ops.h"

namespace ucmg {

double exactSquaredDistance(const float* a, const float* b, int64_t d) {
  double sum = 0.0;
  for (int64_t t = 0; t < d; ++t) {
    const double diff = (double)a[t] - (double)b[t];
    sum += diff * diff;
  }
  return sum;
}

double quantizeErrorBound(int64_t d, double normZ, double maxNormE) {
  const double norms = normZ + maxNormE;
  return (double)(2 * d + 8) * std::ldexp(1.0, -24) * norms * norms * 1.01;
}

}  // namespace ucmg
