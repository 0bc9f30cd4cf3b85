// exp() for float arguments <= 0, written so that `#pragma omp simd` loops vectorise it (libm's
// expf is a scalar call). Relative error about 2 ulp; arguments below -87 give 0 or a value
// below 2e-38, which the softmax sums ignore anyway.
#pragma once

#include <cstdint>
#include <cstring>

namespace ucmg::cpu {

#pragma omp declare simd notinbranch
inline float expNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;  // not std::max: its reference result blocks vectorisation
  // x = n ln2 + r with |r| <= ln2/2; n rounded with the 1.5 * 2^23 trick (SSE2 has no round).
  const float shifter = 12582912.0f;
  const float n = (x * 1.44269504f + shifter) - shifter;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  // Minimax polynomial for e^r on [-ln2/2, ln2/2] (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = (p * r) * r + r + 1.0f;
  const int32_t scale = ((int32_t)n + 127) << 23;  // 2^n, n in [-126, 0]
  float twoN;
  std::memcpy(&twoN, &scale, sizeof twoN);
  return er * twoN;
}

}  // namespace ucmg::cpu
