// A 52-bit checksum of typed arrays' bytes, for comparing states across ranks (which must agree
// bit for bit: every rank applies the same reduced update to the same values).

type Hashable = Float32Array | Float64Array | Int32Array | Uint32Array;

/** Two independent 32-bit multiply-xorshift lanes over the words of every array, in order. */
export function checksumOf(arrays: readonly Hashable[]): number {
  let a = 0x12345678;
  let b = 0x9abcdef0;
  for (const array of arrays) {
    const words = new Uint32Array(array.buffer, array.byteOffset, array.byteLength / 4);
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      a = Math.imul(a ^ w, 0x85ebca6b);
      a ^= a >>> 13;
      b = Math.imul(b + w, 0xc2b2ae35) ^ (b >>> 16);
    }
    // The length too, so that moving values between arrays changes the sum.
    a = Math.imul(a ^ words.length, 0x27d4eb2f);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}
