// Counter-based randomness for the dead-code reset, mirroring ops.h bit for bit so that every
// backend revives the same codes from the same sources with the same noise. uint32 arithmetic
// is Math.imul plus `>>> 0`.

/** murmur3's 32-bit finaliser. */
export function fmix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform double in [0, 1) with 24 random bits, from (seed, stream, counter). */
export function resetRandom(seed: number, stream: number, counter: number): number {
  const key = fmix32((seed + Math.imul(0x9e3779b9, (stream + 1) >>> 0)) >>> 0);
  const bits = fmix32((key ^ fmix32(counter >>> 0)) >>> 0);
  return (bits >>> 8) * (1 / 16777216);
}

/** The float32 noise in [-1/1024, 1/1024) added to component `counter` of a revived code. */
export function resetNoise(seed: number, counter: number): number {
  return Math.fround(Math.fround(2 * resetRandom(seed, 1, counter) - 1) * Math.fround(1 / 1024));
}
