// The frozen encoder the downstream tasks consume, and encoding a dataset split with it in chunks.
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ClipDataset } from '../data/dataset.js';
import { InvalidInputError } from '../data/errors.js';
import { tf } from '../tfjs.js';

export interface EncodedClips {
  /** [N, T] code indices. */
  codes: Int32Array;
  /** [N, T, D] quantized vectors (the codebook rows of `codes`). */
  quantized: Float32Array;
}

/** A pretrained encoder, frozen: maps raw features [N, T, ...] of a modality into the shared codebook. */
export interface FrozenEncoder {
  readonly modalities: readonly string[];
  encode(modality: string, features: Float32Array, shape: number[]): EncodedClips | Promise<EncodedClips>;
}

/** An encoder under the name its report row carries, e.g. 'uni-code' or 'plain shared VQ'. */
export interface NamedEncoder {
  name: string;
  encoder: FrozenEncoder;
}

/** Codes of some clips of one modality, with their sizes. */
export interface CodeSet extends EncodedClips {
  n: number;
  segments: number;
  dim: number;
}

/**
 * Adapts a tensor-level encoder (such as UniCodeModel.encode) to FrozenEncoder: builds the input
 * tensor, reads both outputs back and disposes every tensor.
 */
export function tensorEncoder(model: {
  readonly modalities: readonly string[];
  encode(modality: never, raw: Tensor): { codes: Tensor; quantized: Tensor };
}): FrozenEncoder {
  return {
    modalities: model.modalities,
    async encode(modality, features, shape) {
      const raw = tf.tensor(features, shape, 'float32');
      try {
        const { codes, quantized } = model.encode(modality as never, raw);
        try {
          const [codeData, quantizedData] = await Promise.all([codes.data(), quantized.data()]);
          return { codes: Int32Array.from(codeData), quantized: quantizedData as Float32Array };
        } finally {
          codes.dispose();
          quantized.dispose();
        }
      } finally {
        raw.dispose();
      }
    },
  };
}

/** Encodes `clips` of `modality`, `chunkClips` at a time, and checks the encoder's output sizes. */
export async function encodeClips(
  encoder: FrozenEncoder,
  dataset: ClipDataset,
  modality: string,
  clips: Int32Array,
  chunkClips = 256,
): Promise<CodeSet> {
  if (!encoder.modalities.includes(modality)) {
    throw new InvalidInputError(
      `unknown modality '${modality}' for the encoder (it has ${encoder.modalities.join(', ')})`,
    );
  }
  dataset.requireModality(modality);
  const clipShape = dataset.featureShape(modality);
  const segments = clipShape[0];
  const n = clips.length;
  const codes = new Int32Array(n * segments);
  let quantized: Float32Array | undefined;
  let dim = 0;
  for (let start = 0; start < n; start += chunkClips) {
    const chunk = clips.subarray(start, Math.min(start + chunkClips, n));
    const out = await encoder.encode(modality, dataset.readFeatures(modality, chunk), [chunk.length, ...clipShape]);
    const rows = chunk.length * segments;
    if (out.codes.length !== rows || out.quantized.length === 0 || out.quantized.length % rows !== 0) {
      throw new Error(
        `encoder returned ${out.codes.length} codes and ${out.quantized.length} quantized values for ${chunk.length} clips of ${segments} segments`,
      );
    }
    if (quantized === undefined) {
      dim = out.quantized.length / rows;
      quantized = new Float32Array(n * segments * dim);
    } else if (out.quantized.length / rows !== dim) {
      throw new Error(`encoder changed its embedding size from ${dim} to ${out.quantized.length / rows}`);
    }
    codes.set(out.codes, start * segments);
    quantized.set(out.quantized, start * segments * dim);
  }
  return { codes, quantized: quantized ?? new Float32Array(0), n, segments, dim };
}
