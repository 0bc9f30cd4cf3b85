// Text features: a fixed-size embedding of a short description by hashed character n-grams
// (each word padded as "<word>", n-grams plus the whole word, hashed with FNV-1a into `dim`
// signed buckets), scaled to unit RMS (so its entries are of the order of 1, like the other
// modalities'). No vocabulary, no training: words sharing n-grams land close.

/** FNV-1a, 32-bit, over UTF-16 code units. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Words of a description: lower-case runs of letters (any script, with marks), digits, apostrophes and hyphens. */
export function descriptionWords(text: string): string[] {
  return (
    text
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{M}\p{N}'-]+/gu) ?? []
  );
}

/** The hashed n-gram embedding of `text`, [dim], unit RMS (all zeros for text without words); n-gram lengths minN..maxN. */
export function hashedNgramEmbedding(text: string, dim: number, minN: number, maxN: number): Float32Array {
  const out = new Float32Array(dim);
  const add = (gram: string) => {
    const h = fnv1a(gram);
    // A second, independent hash picks the sign, so collisions cancel on average instead of piling up.
    out[h % dim] += fnv1a(gram, 0x9747b28c) & 1 ? 1 : -1;
  };
  for (const word of descriptionWords(text)) {
    const padded = `<${word}>`;
    add(padded);
    for (let n = minN; n <= maxN; n++) {
      for (let i = 0; i + n <= padded.length; i++) add(padded.slice(i, i + n));
    }
  }
  const rms = Math.hypot(...out) / Math.sqrt(dim);
  if (rms > 0) for (let i = 0; i < dim; i++) out[i] /= rms;
  return out;
}
