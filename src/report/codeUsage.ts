// Summary statistics of how a modality uses the codebook.

export interface UsageStats {
  /** Codes chosen at least once. */
  used: number;
  /** Codebook size. */
  of: number;
  /** exp(entropy) of the empirical code distribution: the effective number of codes in use. */
  perplexity: number;
}

export function usageStats(counts: ArrayLike<number>): UsageStats {
  let total = 0;
  let used = 0;
  for (let j = 0; j < counts.length; j++) {
    total += counts[j];
    if (counts[j] > 0) used += 1;
  }
  let entropy = 0;
  for (let j = 0; j < counts.length; j++) {
    const p = total > 0 ? counts[j] / total : 0;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return { used, of: counts.length, perplexity: Math.exp(entropy) };
}
