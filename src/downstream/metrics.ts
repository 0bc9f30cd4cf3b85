// Downstream metrics, as fractions in [0, 1]. Ties always resolve toward the lower index.

/** Index of the largest of `scores[offset .. offset + width)`; the first one on ties. */
export function argmax(scores: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (scores[offset + j] > scores[offset + best]) best = j;
  return best;
}

/** Top-1 accuracy of row-major scores [n, classes] against labels [n]. */
export function top1Accuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  const n = labels.length;
  if (scores.length !== n * classes) {
    throw new RangeError(`top1Accuracy: ${scores.length} scores for ${n} labels of ${classes} classes`);
  }
  if (n === 0) throw new RangeError('top1Accuracy: no samples');
  let correct = 0;
  for (let i = 0; i < n; i++) if (argmax(scores, i * classes, classes) === labels[i]) correct++;
  return correct / n;
}

export interface MultiLabelScores {
  /** True positives over predicted positives (0 when nothing is predicted). */
  precision: number;
  /** True positives over actual positives (0 when there are none). */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
}

/**
 * Multi-label precision, recall and F1 over every (sample, label) entry together, with a positive
 * prediction wherever probability > threshold (strictly, as in the published evaluation).
 */
export function multiLabelScores(
  probabilities: ArrayLike<number>,
  targets: ArrayLike<number>,
  threshold = 0.5,
): MultiLabelScores {
  if (probabilities.length !== targets.length) {
    throw new RangeError(`multiLabelScores: ${probabilities.length} probabilities for ${targets.length} targets`);
  }
  let predicted = 0;
  let actual = 0;
  let truePositive = 0;
  for (let i = 0; i < targets.length; i++) {
    const p = probabilities[i] > threshold;
    const t = targets[i] > 0;
    if (p) predicted++;
    if (t) actual++;
    if (p && t) truePositive++;
  }
  const precision = predicted === 0 ? 0 : truePositive / predicted;
  const recall = actual === 0 ? 0 : truePositive / actual;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/**
 * Recall@k for retrieval: similarity is row-major [queries, gallery], `targets[q]` the gallery index
 * of query q's match. The match's rank counts the gallery items scored higher, plus those scored
 * equal at a lower index; a query is a hit at k when that rank is below k.
 */
export function recallAtK(
  similarity: ArrayLike<number>,
  targets: ArrayLike<number>,
  gallery: number,
  ks: readonly number[],
): Record<number, number> {
  const queries = targets.length;
  if (similarity.length !== queries * gallery) {
    throw new RangeError(
      `recallAtK: ${similarity.length} similarities for ${queries} queries x ${gallery} gallery items`,
    );
  }
  if (queries === 0) throw new RangeError('recallAtK: no queries');
  const hits = ks.map(() => 0);
  for (let q = 0; q < queries; q++) {
    const target = targets[q];
    if (!Number.isInteger(target) || target < 0 || target >= gallery) {
      throw new RangeError(`recallAtK: target ${target} of query ${q} is outside [0, ${gallery})`);
    }
    const row = q * gallery;
    const score = similarity[row + target];
    let rank = 0;
    for (let j = 0; j < gallery; j++) {
      const s = similarity[row + j];
      if (s > score || (s === score && j < target)) rank++;
    }
    ks.forEach((k, i) => {
      if (rank < k) hits[i]++;
    });
  }
  return Object.fromEntries(ks.map((k, i) => [k, hits[i] / queries]));
}
