// What a forward pass needs to know besides its inputs: training mode and the dropout seeds.
// Seeds are handed out in call order, so the same step seed gives the same dropout masks.
import type { Tensor } from '@tensorflow/tfjs-core';

export interface ForwardContext {
  readonly training: boolean;
  /** A fresh seed for the next dropout mask (only called when training). */
  dropoutSeed(): number;
  /** Replaces tf.dropout when set (data-parallel: the global batch's mask at this shard's rows). */
  dropout?(x: Tensor, rate: number): Tensor;
}

/** Inference: no dropout. */
export const INFERENCE: ForwardContext = {
  training: false,
  dropoutSeed: () => {
    throw new Error('dropoutSeed: no dropout runs at inference');
  },
};

/** Training with dropout masks derived from `stepSeed` (uint32). */
export function trainingContext(stepSeed: number): ForwardContext {
  let counter = 0;
  return { training: true, dropoutSeed: () => stepSeed * 1024 + counter++ };
}
