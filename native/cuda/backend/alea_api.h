// The uniform draws of tfjs's tf.randomUniform (seedrandom's alea generator) made on the device, so
// that a seeded dropout mask needs no copy from the host. CUDA-free (for the binding).
#pragma once

#include <cstdint>

namespace ucmg::cuda::backend {

// alea's multiplier; its carry is always below it.
constexpr uint32_t kAleaMultiplier = 2091639;

// out [count] (float32) receives the next `count` values of an alea generator in state (s0, s1, s2,
// carry), the s as 32-bit integers (alea's fractions times 2^32): each value is x / 2^32 rounded to
// float32, the float32 tf.randomUniform(shape, 0, 1, 'float32', seed) stores.
void aleaUniform(int64_t out, int64_t count, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t carry);

}  // namespace ucmg::cuda::backend
