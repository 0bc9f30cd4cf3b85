// Learning-rate schedule and gradient clipping of the main optimizer (docs/algorithm.md §5.1).
import { tf } from '../tfjs.js';

/** torch MultiStepLR stepped once per epoch: base * gamma^(number of milestones <= epoch). */
export function multiStepLr(base: number, milestones: readonly number[], gamma: number, epoch: number): number {
  return base * gamma ** milestones.filter((m) => m <= epoch).length;
}

/** Each group's global L2 gradient norm, the total_norm torch.nn.utils.clip_grad_norm_ computes. */
export function gradientNorms(groups: tf.Tensor[][]): number[] {
  if (groups.length === 0) return [];
  const normTensor = tf.tidy(() =>
    tf.stack(groups.map((grads) => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))))),
  );
  const norms = Array.from(normTensor.dataSync());
  normTensor.dispose();
  return norms;
}

/** The factor clip_grad_norm_ scales a group's gradients by: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
