// Shared helpers of the model and trainer tests: a tiny config that trains in milliseconds per
// step, and synthetic paired clips whose modalities are different random views of one latent class.
import { type ConfigOverrides, type ModelConfig, inputShapeOf, makeConfig, modalitiesOf } from '../src/model/config.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import { Rng } from '../src/util/rng.js';

/** The smallest config that still has every part: T=5, D=16, M=32, video 5x5x16. */
export function tinyConfig(overrides: ConfigOverrides = {}): ModelConfig {
  return makeConfig('small', {
    segments: 5,
    embeddingDim: 16,
    codebookSize: 32,
    audioDim: 12,
    textDim: 12,
    video: { height: 5, width: 5, channels: 16 },
    transformer: { heads: 2, feedForward: 32 },
    videoWidths: [8, 16],
    specificDim: 16,
    clubHidden: 16,
    cpcHidden: 16,
    ...overrides,
  });
}

export interface SyntheticOptions {
  batches: number;
  batchSize: number;
  /** Draws the clips. */
  seed: number;
  /** Draws the classes and each modality's view of them: equal worlds give equally distributed data. */
  worldSeed?: number;
  /** Latent classes; each batch draws distinct classes when batchSize <= classes. */
  classes?: number;
  noise?: number;
}

/**
 * Clips of one latent class each (constant over T, plus noise); every modality sees it through its
 * own fixed random projection and tanh. So modalities share meaning, and step t+1 is predictable
 * from any modality's past: what Cross-CPC and the shared codebook should discover.
 */
export function syntheticBatches(config: ModelConfig, options: SyntheticOptions): PairedBatch[] {
  const { batches, batchSize, seed, worldSeed = 0, classes = 8, noise = 0.1 } = options;
  const world = new Rng(worldSeed);
  const rng = new Rng(seed);
  const latentDim = 6;
  const centres = Array.from({ length: classes }, () => Array.from({ length: latentDim }, () => world.normal()));
  const modalities = modalitiesOf(config.modalities);
  const views = modalities.map((m) => {
    const size = inputShapeOf(config, m).reduce((a, b) => a * b, 1);
    return {
      m,
      size,
      weights: Float64Array.from({ length: size * latentDim }, () => world.normal() / Math.sqrt(latentDim)),
    };
  });
  const t = config.segments;
  return Array.from({ length: batches }, () => {
    const order = rng.permutation(classes);
    const out: PairedBatch = {};
    const data = views.map((v) => new Float32Array(batchSize * t * v.size));
    for (let b = 0; b < batchSize; b++) {
      const centre = centres[batchSize <= classes ? order[b] : rng.int(classes)];
      for (let s = 0; s < t; s++) {
        const latent = centre.map((c) => c + 0.3 * rng.normal());
        views.forEach((v, k) => {
          for (let i = 0; i < v.size; i++) {
            let sum = 0;
            for (let l = 0; l < latentDim; l++) sum += v.weights[i * latentDim + l] * latent[l];
            data[k][(b * t + s) * v.size + i] = Math.tanh(sum) + noise * rng.normal();
          }
        });
      }
    }
    views.forEach((v, k) => {
      out[v.m] = data[k];
    });
    return out;
  });
}
