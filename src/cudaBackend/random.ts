// tf.randomUniform(shape, 0, 1, 'float32', seed) made on the 'cuda' backend's device: the same values,
// so that a seeded dropout mask is drawn where it is used instead of being copied from the host.
// tfjs draws them from seedrandom's alea generator, seeded by the seed's string through Mash (both
// by Johannes Baagøe, public domain); the seeding runs here, the generator in CUDA (alea.cu).
import { type Tensor, engine } from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';

/** alea's state: three fractions (multiples of 2^-32 in [0, 1)) and the carry. */
export interface AleaState {
  s0: number;
  s1: number;
  s2: number;
  c: number;
}

/** Baagøe's Mash hash: each call folds `data` into the running value and returns it as a fraction. */
function mash(): (data: string) => number {
  let n = 0xefc8249d;
  return (data) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2 ** -32;
  };
}

/** The state alea starts from for `seed` (tfjs passes a number seed as its string). */
export function aleaState(seed: string): AleaState {
  const hash = mash();
  const fractions = [hash(' '), hash(' '), hash(' ')].map((s) => {
    const f = s - hash(seed);
    return f < 0 ? f + 1 : f;
  });
  return { s0: fractions[0], s1: fractions[1], s2: fractions[2], c: 1 };
}

/** tf.randomUniform(shape, 0, 1, 'float32', seed)'s values as a new device tensor. */
export function uniformOnCuda(backend: CudaBackend, shape: number[], seed: number): Tensor {
  const { s0, s1, s2, c } = aleaState(String(seed));
  const info = backend.makeOutput(shape, 'float32');
  try {
    backend.native.aleaUniform({
      out: backend.handle(info),
      s0: s0 * 2 ** 32,
      s1: s1 * 2 ** 32,
      s2: s2 * 2 ** 32,
      carry: c,
    });
  } catch (error) {
    backend.disposeIntermediateTensorInfo(info);
    throw error;
  }
  return engine().makeTensorFromTensorInfo(info, backend);
}
