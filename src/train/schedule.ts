// Learning-rate schedule and gradient clipping of the main optimizer (SPEC §5).
import { tf } from '../tfjs.js';

/** torch MultiStepLR stepped once per epoch: base * gamma^(number of milestones <= epoch). */
export function multiStepLr(base: number, milestones: readonly number[], gamma: number, epoch: number): number {
  return base * gamma ** milestones.filter((m) => m <= epoch).length;
}

/**
 * torch.nn.utils.clip_grad_norm_ applied to each group on its own: every gradient of a group is
 * scaled by min(1, maxNorm / (norm + 1e-6)), norm the group's global L2 norm. Returns the scaled
 * gradients (new tensors) and the norms before clipping.
 */
export function clipGradientGroups(groups: tf.Tensor[][], maxNorm: number): { clipped: tf.Tensor[][]; norms: number[] } {
  const normTensor = tf.tidy(() => tf.stack(groups.map((grads) => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))))));
  const norms = Array.from(normTensor.dataSync());
  normTensor.dispose();
  const clipped = groups.map((grads, i) => {
    const scale = Math.min(1, maxNorm / (norms[i] + 1e-6));
    return scale === 1 ? grads : grads.map((g) => tf.mul(g, scale));
  });
  return { clipped, norms };
}
