// alea_api.h. alea is a lag-3 multiply-with-carry generator: t = a x[n-3] + c, x[n] = t mod 2^32,
// c = t / 2^32 (integer part), a = 2091639. Such a generator is a linear congruential one in
// disguise: with Z = x[n-2] + x[n-1] 2^32 + x[n] 2^64 + c 2^96, the next state is exactly
// (Z + M (Z mod 2^32)) / 2^32 = Z 2^-32 mod M, M = a 2^96 - 1 (< 2^117). So a thread jumps to its
// chunk of the sequence with one product mod M by a power of 2^-32 mod M = a 2^64, then runs the
// plain recurrence through the chunk: every value equals the host's, in any launch shape.
#include "../runtime.cuh"
#include "alea_api.h"
#include "allocator.cuh"

namespace ucmg::cuda::backend {

namespace {

using Wide = unsigned __int128;

constexpr int64_t kChunk = 1024;  // values per thread after its jump
constexpr int kJumpBits = 48;     // chunks per call below 2^48

__host__ __device__ inline Wide modulus() { return ((Wide)kAleaMultiplier << 96) - 1; }

// a * b mod M for a, b < M < 2^117, by doubling and adding (no product wider than 118 bits).
__host__ __device__ Wide mulMod(Wide a, Wide b) {
  const Wide m = modulus();
  Wide r = 0;
  for (int bit = 116; bit >= 0; --bit) {
    r <<= 1;
    if (r >= m) r -= m;
    if ((b >> bit) & 1) {
      r += a;
      if (r >= m) r -= m;
    }
  }
  return r;
}

// jump[i] = (2^-32)^(kChunk 2^i) mod M: the multiplier that moves a state kChunk 2^i values on.
struct JumpTable {
  unsigned long long low[kJumpBits], high[kJumpBits];
};

JumpTable makeJumpTable() {
  const Wide inverseBase = (Wide)kAleaMultiplier << 64;  // 2^32 a 2^64 = M + 1
  Wide step = 1;
  for (int64_t i = 0; i < kChunk; ++i) step = mulMod(step, inverseBase);
  JumpTable table{};
  for (int i = 0; i < kJumpBits; ++i, step = mulMod(step, step)) {
    table.low[i] = (unsigned long long)step;
    table.high[i] = (unsigned long long)(step >> 64);
  }
  return table;
}

__global__ void aleaKernel(float* out, int64_t count, unsigned long long stateLow, unsigned long long stateHigh,
                           JumpTable jumps) {
  const int64_t chunks = (count + kChunk - 1) / kChunk, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t chunk = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; chunk < chunks; chunk += stride) {
    Wide z = ((Wide)stateHigh << 64) | stateLow;
    for (int i = 0; i < kJumpBits && (chunk >> i) != 0; ++i)
      if ((chunk >> i) & 1) z = mulMod(z, ((Wide)jumps.high[i] << 64) | jumps.low[i]);
    uint32_t x0 = (uint32_t)z, x1 = (uint32_t)(z >> 32), x2 = (uint32_t)(z >> 64);
    uint64_t carry = (uint64_t)(z >> 96);
    const int64_t end = count < (chunk + 1) * kChunk ? count : (chunk + 1) * kChunk;
    for (int64_t e = chunk * kChunk; e < end; ++e) {
      const uint64_t t = (uint64_t)kAleaMultiplier * x0 + carry;
      x0 = x1;
      x1 = x2;
      x2 = (uint32_t)t;
      carry = t >> 32;
      out[e] = (float)((double)x2 * (1.0 / 4294967296.0));
    }
  }
}

}  // namespace

void aleaUniform(int64_t out, int64_t count, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t carry) {
  if (count == 0) return;
  static const JumpTable jumps = makeJumpTable();
  const Wide state = (Wide)s0 | ((Wide)s1 << 32) | ((Wide)s2 << 64) | ((Wide)carry << 96);
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  aleaKernel<<<blocksFor(chunks, 128, 65535), 128>>>(static_cast<float*>(devicePointer(out)), count,
                                                      (unsigned long long)state,
                                                      (unsigned long long)(state >> 64), jumps);
  UCMG_CHECK_LAUNCH("aleaKernel");
}

}  // namespace ucmg::cuda::backend
