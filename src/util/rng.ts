// A seeded pseudo-random generator whose whole state is four uint32 words, so a run can be
// checkpointed and resumed draw for draw. Algorithm: xoshiro128** (Blackman & Vigna), seeded
// through splitmix32 so that nearby seeds give unrelated streams.

export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four state words, each an unsigned 32-bit integer, not all zero. */
  s: [number, number, number, number];
}

const TWO_POW_32 = 4294967296;

/** splitmix32 step: returns [next seed, output]. Used only to expand the seed. */
function splitmix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** seed: any safe integer (negative and values above 2^32 are fine, all 53 bits count). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Rng: seed must be a safe integer, got ${String(seed)}`);
    }
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    // Fold both halves into the splitmix stream so that seeds differing only above bit 32 differ.
    let x = low;
    let out: number;
    [x, out] = splitmix32(x ^ Math.imul(high, 0x27d4eb2f));
    this.s0 = out;
    [x, out] = splitmix32(x);
    this.s1 = out;
    [x, out] = splitmix32(x ^ high);
    this.s2 = out;
    [x, out] = splitmix32(x);
    this.s3 = out;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A standard normal draw (Box-Muller, two uniforms per draw; no cached spare, so the state is the words). */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A uniform integer in [0, n), without modulo bias. n: integer in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${String(n)}`);
    }
    // Reject the lowest (2^32 mod n) values so every residue is equally likely.
    const threshold = TWO_POW_32 % n;
    for (;;) {
      const r = this.nextUint32();
      if (r >= threshold) return r % n;
    }
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new RangeError(`Rng.permutation: n must be a non-negative int32, got ${String(n)}`);
    }
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** Restores a state from getState() (possibly after a JSON round trip). Invalid states change nothing. */
  setState(state: RngState): void {
    const words = validateState(state);
    [this.s0, this.s1, this.s2, this.s3] = words;
  }

  /** A new generator continuing from the given state. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }
}

function validateState(state: unknown): [number, number, number, number] {
  if (typeof state !== 'object' || state === null) {
    throw new TypeError('Rng.setState: state must be an object from getState()');
  }
  const { algorithm, s } = state as Partial<RngState>;
  if (algorithm !== 'xoshiro128**') {
    throw new TypeError(`Rng.setState: state.algorithm must be "xoshiro128**", got ${JSON.stringify(algorithm)}`);
  }
  if (!Array.isArray(s) || s.length !== 4) {
    throw new TypeError('Rng.setState: state.s must be an array of 4 uint32 words');
  }
  s.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
      throw new RangeError(`Rng.setState: state.s[${i}] must be a uint32, got ${String(w)}`);
    }
  });
  if (s.every((w) => w === 0)) {
    throw new RangeError('Rng.setState: state.s must not be all zero');
  }
  return [s[0], s[1], s[2], s[3]];
}
