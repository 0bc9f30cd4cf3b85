// Training-free codebook optimisation (TOC, docs/algorithm.md §8): rank the embedding dimensions
// of a trained codebook by how distinct and how spread out the codes are along each, keep the best
// k, and let downstream heads see only those dimensions of the code embeddings.
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import type { EncodedClips, FrozenEncoder } from './encoder.js';

/** A codebook as a row-major [size, dim] array. */
export interface CodebookMatrix {
  data: Float32Array;
  /** Number of codes M. */
  size: number;
  /** Embedding size D. */
  dim: number;
}

/** Weights of the pairwise-product and the variance terms of the score, as published. */
const PAIRWISE_WEIGHT = -0.7;
const VARIANCE_WEIGHT = 0.3;

/**
 * score(d) = -0.7 * mean_{i != j} e_i[d] e_j[d] + 0.3 * var_i(e_i[d]) / (M - 1), in float64, for
 * every dimension d of a codebook [M, D]. The pairwise mean uses its closed form
 * ((sum_i e_i[d])^2 - sum_i e_i[d]^2) / (M (M - 1)); the variance is the sample variance (over M - 1).
 */
export function tocScores(codebook: Tensor | CodebookMatrix): Float64Array {
  const { data, size: m, dim: d } = readCodebook(codebook);
  const sum = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < d; t++) {
      const x = data[i * d + t];
      sum[t] += x;
      sumSquares[t] += x * x;
    }
  }
  const scores = new Float64Array(d);
  for (let t = 0; t < d; t++) {
    const pairwiseMean = (sum[t] * sum[t] - sumSquares[t]) / (m * (m - 1));
    // Centred second pass: the variance stays accurate when the mean is large against the spread.
    const mean = sum[t] / m;
    let centred = 0;
    for (let i = 0; i < m; i++) centred += (data[i * d + t] - mean) ** 2;
    const variance = centred / (m - 1);
    scores[t] = PAIRWISE_WEIGHT * pairwiseMean + (VARIANCE_WEIGHT * variance) / (m - 1);
  }
  return scores;
}

/**
 * The k dimensions of `codebook` ([M, D] tensor, or a Float32Array with its size and dim) with the
 * highest TOC score, in descending score; equal scores keep the lower dimension first.
 */
export function tocChannels(codebook: Tensor | CodebookMatrix, k: number): Int32Array {
  const scores = tocScores(codebook);
  if (!Number.isInteger(k) || k < 1 || k > scores.length) {
    const range = `from 1 to the codebook's dim ${scores.length}`;
    throw new RangeError(`tocChannels: k must be an integer ${range}, got ${String(k)}`);
  }
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(order.slice(0, k));
}

/** An encoder whose quantized outputs keep only `channels` of each code embedding, in that order. */
export function selectChannels(encoder: FrozenEncoder, channels: Int32Array): FrozenEncoder {
  if (!(channels instanceof Int32Array) || channels.length === 0) {
    throw new TypeError('selectChannels: channels must be a non-empty Int32Array of dimension indices');
  }
  return {
    modalities: encoder.modalities,
    async encode(modality, features, shape): Promise<EncodedClips> {
      const out = await encoder.encode(modality, features, shape);
      const rows = out.codes.length;
      const dim = rows === 0 ? 0 : out.quantized.length / rows;
      const outside = channels.find((c) => c < 0 || c >= dim);
      if (outside !== undefined) {
        throw new RangeError(`selectChannels: channel ${outside} is outside the encoder's embedding size ${dim}`);
      }
      const kept = new Float32Array(rows * channels.length);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < channels.length; c++) {
          kept[r * channels.length + c] = out.quantized[r * dim + channels[c]];
        }
      }
      return { codes: out.codes, quantized: kept };
    },
  };
}

function readCodebook(codebook: Tensor | CodebookMatrix): CodebookMatrix {
  if (codebook instanceof tf.Tensor) {
    if (codebook.rank !== 2) {
      const shape = codebook.shape.join(', ');
      throw new TypeError(`tocChannels: codebook must be a 2-D tensor [M, D], got shape [${shape}]`);
    }
    const [size, dim] = codebook.shape;
    return checkedMatrix({ data: Float32Array.from(codebook.dataSync() as ArrayLike<number>), size, dim });
  }
  if (codebook === null || typeof codebook !== 'object' || !(codebook.data instanceof Float32Array)) {
    throw new TypeError('tocChannels: codebook must be a tf tensor [M, D] or { data: Float32Array, size, dim }');
  }
  return checkedMatrix(codebook);
}

function checkedMatrix(codebook: CodebookMatrix): CodebookMatrix {
  const { data, size, dim } = codebook;
  if (!Number.isInteger(size) || size < 2) {
    throw new RangeError(`tocChannels: codebook size must be an integer >= 2, got ${String(size)}`);
  }
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`tocChannels: codebook dim must be a positive integer, got ${String(dim)}`);
  }
  if (data.length !== size * dim) {
    throw new RangeError(`tocChannels: codebook data has ${data.length} values, size * dim is ${size * dim}`);
  }
  const bad = data.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new RangeError(`tocChannels: codebook value ${bad} (code ${Math.floor(bad / dim)}) is not finite`);
  }
  return codebook;
}
