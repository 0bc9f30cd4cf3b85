// The trainer's hyperparameters (docs/algorithm.md §5): the published values as defaults, and the resolution of
// a caller's partial choice into a complete, checked set. A checkpoint stores the resolved set.
import { checkNumber, describe, fail } from '../ops/validate.js';
import { CLIP_GROUPINGS, type ClipGrouping } from './clipGroups.js';

export interface TrainerHyperparameters {
  learningRate: number;
  clubLearningRate: number;
  clubSteps: number;
  clipNorm: number;
  milestones: number[];
  gamma: number;
  /** Which parameters share one clip (default 'published'). */
  clipGroups: ClipGrouping;
  /**
   * Experimental, 0 (off) by default: extra encoder passes without gradients per step, each followed
   * by a codebook update, as the first released training loop ran (docs/algorithm.md §5.4).
   */
  legacyEncoderPasses: number;
}

export const DEFAULT_HYPERPARAMETERS: Readonly<TrainerHyperparameters> = Object.freeze({
  learningRate: 4e-4,
  clubLearningRate: 1e-3,
  clubSteps: 5,
  clipNorm: 0.5,
  milestones: Object.freeze([10, 20, 30]) as number[],
  gamma: 0.5,
  clipGroups: 'published',
  legacyEncoderPasses: 0,
});

const WHERE = 'Trainer';

/** The defaults with `options`' hyperparameter fields applied; throws an Error naming a bad field. */
export function resolveHyperparameters(options: Partial<TrainerHyperparameters>): TrainerHyperparameters {
  if (options === null || typeof options !== 'object') throw new TypeError(`${WHERE}: options must be an object`);
  const given = <K extends keyof TrainerHyperparameters>(key: K, check: (v: unknown) => TrainerHyperparameters[K]) =>
    options[key] === undefined ? DEFAULT_HYPERPARAMETERS[key] : check(options[key]);
  const positive = (key: 'learningRate' | 'clubLearningRate' | 'clipNorm' | 'gamma') =>
    given(key, (v) => checkNumber(WHERE, `options.${key}`, v, { above: 0 }));
  return {
    learningRate: positive('learningRate'),
    clubLearningRate: positive('clubLearningRate'),
    clubSteps: given('clubSteps', (v) => checkNumber(WHERE, 'options.clubSteps', v, { integer: true, min: 0 })),
    clipNorm: positive('clipNorm'),
    milestones: [
      ...given('milestones', (v) => {
        if (!Array.isArray(v) || v.some((m) => !Number.isInteger(m) || m < 0)) {
          fail(WHERE, `options.milestones must be an array of non-negative integers (epochs), got ${describe(v)}`);
        }
        return v as number[];
      }),
    ],
    gamma: positive('gamma'),
    clipGroups: given('clipGroups', (v) => {
      if (!(CLIP_GROUPINGS as readonly unknown[]).includes(v)) {
        const known = CLIP_GROUPINGS.map((g) => `'${g}'`).join(', ');
        fail(WHERE, `options.clipGroups must be one of ${known}, got ${String(v)}`);
      }
      return v as ClipGrouping;
    }),
    legacyEncoderPasses: given('legacyEncoderPasses', (v) =>
      checkNumber(WHERE, 'options.legacyEncoderPasses', v, { integer: true, min: 0 }),
    ),
  };
}
