// Seeded uniform noise in [0, 1): tf.randomUniform(shape, 0, 1, 'float32', seed), drawn on the device
// when the tfjs 'cuda' backend is active (the same values: src/cudaBackend/random.ts).
import type { Tensor } from '@tensorflow/tfjs-core';
import { activeCudaBackend } from '../cudaBackend/hotOps.js';
import { uniformOnCuda } from '../cudaBackend/random.js';
import { tf } from '../tfjs.js';

export function seededUniform(shape: number[], seed: number): Tensor {
  const backend = activeCudaBackend();
  return backend === null ? tf.randomUniform(shape, 0, 1, 'float32', seed) : uniformOnCuda(backend, shape, seed);
}

/** tf.dropout(x, rate, undefined, seed) with its mask from seededUniform: the same values on every backend. */
export function seededDropout(x: Tensor, rate: number, seed: number): Tensor {
  const keep = 1 - rate;
  return tf.tidy(() => tf.mul(x, tf.div(tf.floor(tf.add(seededUniform(x.shape, seed), keep)), keep)));
}
