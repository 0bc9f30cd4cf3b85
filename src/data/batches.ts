// Batch iteration over a split of any ClipDataset: shuffled with a seed, features of each requested
// modality as float32 with their shapes, plus clip and segment labels. Only one batch is in memory.
import { Rng } from '../util/rng.js';
import type { ClipDataset } from './dataset.js';
import { InvalidInputError } from './errors.js';

export interface ClipBatch {
  /** Dataset clip indices of the batch rows. */
  clips: Int32Array;
  /** Row-major [B, ...featureShape] per modality. */
  features: Record<string, Float32Array>;
  /** [B, T, ...] per modality. */
  shapes: Record<string, number[]>;
  /** [B] event class per clip. */
  clipLabels: Int32Array;
  /** [B, T, C] shared multi-hot segment labels. */
  segmentLabels: Uint8Array;
}

export interface BatchOptions {
  split: string;
  batchSize: number;
  /** Default: every modality of the dataset. */
  modalities?: readonly string[];
  /** Shuffle the split's order (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle; the order depends on nothing else. */
  seed?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** The split's clip order for one pass: shuffled with `seed` or as stored. */
export function splitOrder(dataset: ClipDataset, split: string, shuffle: boolean, seed: number): Int32Array {
  const indices = dataset.split(split);
  if (!shuffle) return indices;
  const permutation = new Rng(seed).permutation(indices.length);
  return Int32Array.from(permutation, (p) => indices[p]);
}

/** Reads the rows `clips` of every requested modality and the labels into one batch. */
export function readBatch(dataset: ClipDataset, clips: Int32Array, modalities: readonly string[]): ClipBatch {
  const features: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const m of modalities) {
    features[m] = dataset.readFeatures(m, clips);
    shapes[m] = [clips.length, ...dataset.featureShape(m)];
  }
  return {
    clips,
    features,
    shapes,
    clipLabels: dataset.readClipLabels(clips),
    segmentLabels: dataset.readSegmentLabels(clips),
  };
}

/** Yields the batches of one pass over `options.split`. Arguments are checked before the first batch. */
export function iterateBatches(dataset: ClipDataset, options: BatchOptions): IterableIterator<ClipBatch> {
  const { split, batchSize, shuffle = true, seed = 0, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidInputError(`iterateBatches: 'batchSize' must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isSafeInteger(seed))
    throw new InvalidInputError(`iterateBatches: 'seed' must be a safe integer, got ${seed}`);
  const modalities = options.modalities ?? dataset.modalities;
  for (const m of modalities) dataset.requireModality(m);
  const order = splitOrder(dataset, split, shuffle, seed);
  const end = dropLast ? order.length - (order.length % batchSize) : order.length;
  function* generate(): IterableIterator<ClipBatch> {
    for (let start = 0; start < end; start += batchSize) {
      yield readBatch(dataset, order.slice(start, Math.min(start + batchSize, end)), modalities);
    }
  }
  return generate();
}
