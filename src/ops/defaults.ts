// Defaults of the MM-EMA codebook update, written down once: the model config, SharedCodebook,
// the ops and the native binding all read them from here (docs/algorithm.md §3.4-§3.5).

/** Default hyperparameters of the multi-modal EMA codebook update. */
export const MM_EMA_DEFAULTS = Object.freeze({
  /** EMA decay of the code counts and sums, applied once per modality. */
  decay: 0.99,
  /** Laplace smoothing added to the counts before the codewords are renormalised. */
  epsilon: 1e-5,
  /** A code unused for more than this many steps counts as dead and is revived. */
  deadAfter: 300,
  /** A code unused for fewer than this many steps counts as active (a donor for revival). */
  activeBelow: 100,
} as const);

/** The shape of {@link MM_EMA_DEFAULTS}. */
export type MmEmaDefaults = typeof MM_EMA_DEFAULTS;
