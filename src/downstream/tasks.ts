// The cross-modal generalization tasks (docs/algorithm.md §1). The encoder is frozen; a head is trained on
// modality X's quantized codes and tested on modality Y's, for every ordered pair, including the
// labelled-modality upper bound Y→Y. Every encoder given (Uni-Code, the plain shared-VQ baseline)
// gets its own row of the report.
import type { ClipDataset } from '../data/dataset.js';
import { InvalidInputError } from '../data/errors.js';
import { tf } from '../tfjs.js';
import { encodeClips, type CodeSet, type NamedEncoder } from './encoder.js';
import { DownstreamHead } from './heads.js';
import { multiLabelScores, recallAtK, top1Accuracy } from './metrics.js';
import type { DownstreamReport, EncoderResult, PairResult } from './report.js';
import type { HeadTask } from './taskNames.js';

export interface CrossModalOptions {
  /** Modalities to pair; default every dataset modality all encoders know. */
  modalities?: string[];
  trainSplit?: string;
  testSplit?: string;
  /** Default 30 for classification, 50 for localization, as published. */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seeds the heads' initial weights and batch order. */
  seed?: number;
  /** Clips per encoder call. */
  encodeChunk?: number;
}

export interface TransferOptions extends CrossModalOptions {
  head: HeadTask;
  /** Target class name -> source class name. Default: classes with the same name. */
  classMapping?: Record<string, string>;
  /** Modalities trained on in the source; default every source modality all encoders know. */
  sourceModalities?: string[];
  /** Modalities tested on in the target; default every target modality all encoders know. */
  targetModalities?: string[];
}

export interface RetrievalOptions {
  modalities?: string[];
  split?: string;
  /** Default [1, 5, 10]. */
  ks?: number[];
  encodeChunk?: number;
}

const DEFAULT_EPOCHS: Record<HeadTask, number> = { classify: 30, localize: 50 };

function checkEncoders(encoders: NamedEncoder[]): void {
  if (!Array.isArray(encoders) || encoders.length === 0) throw new InvalidInputError('downstream: no encoders given');
  const names = encoders.map((e) => e.name);
  if (new Set(names).size !== names.length)
    throw new InvalidInputError(`downstream: duplicate encoder names (${names.join(', ')})`);
}

/** The requested modalities, each checked against the dataset and every encoder. */
function resolveModalities(dataset: ClipDataset, encoders: NamedEncoder[], requested: string[] | undefined): string[] {
  const known = (m: string) => encoders.every((e) => e.encoder.modalities.includes(m));
  if (requested === undefined) {
    const common = dataset.modalities.filter(known);
    if (common.length === 0)
      throw new InvalidInputError(`dataset '${dataset.name}' shares no modality with the encoders`);
    return common;
  }
  if (requested.length === 0) throw new InvalidInputError('downstream: the modality list is empty');
  for (const m of requested) {
    dataset.requireModality(m);
    const missing = encoders.find((e) => !e.encoder.modalities.includes(m));
    if (missing)
      throw new InvalidInputError(
        `unknown modality '${m}' for encoder '${missing.name}' (it has ${missing.encoder.modalities.join(', ')})`,
      );
  }
  return [...requested];
}

/** Per-segment targets for localization: the C event labels plus a background column. */
function localizationTargets(eventLabels: Uint8Array, rows: number, classes: number): Uint8Array {
  const out = new Uint8Array(rows * (classes + 1));
  for (let r = 0; r < rows; r++) {
    let any = false;
    for (let c = 0; c < classes; c++) {
      const v = eventLabels[r * classes + c] > 0 ? 1 : 0;
      out[r * (classes + 1) + c] = v;
      any ||= v === 1;
    }
    out[r * (classes + 1) + classes] = any ? 0 : 1;
  }
  return out;
}

/** Labelled clips of one side of a pair, with labels in the head's class space. */
interface LabelledSplit {
  dataset: ClipDataset;
  clips: Int32Array;
  classes: number;
  clipLabels: Int32Array;
  /** [n, T, classes] events of `modality`. */
  events(modality: string): Uint8Array;
}

function labelledSplit(dataset: ClipDataset, split: string): LabelledSplit {
  const clips = dataset.split(split);
  if (clips.length === 0) throw new InvalidInputError(`split '${split}' of dataset '${dataset.name}' is empty`);
  return {
    dataset,
    clips,
    classes: dataset.classes.length,
    clipLabels: dataset.readClipLabels(clips),
    events: (modality) => dataset.readSegmentLabels(clips, modality),
  };
}

/**
 * The target side of a transfer, relabelled into the source's class space: clips whose class has
 * no counterpart are dropped, and so are events of unmapped classes inside kept clips.
 */
function mappedSplit(
  source: ClipDataset,
  target: ClipDataset,
  split: string,
  mapping: Record<string, string> | undefined,
): LabelledSplit {
  const toSource = target.classes.map((name) => {
    const mapped = mapping === undefined ? name : mapping[name];
    if (mapped === undefined) return -1;
    const index = source.classes.indexOf(mapped);
    if (index < 0 && mapping !== undefined) {
      throw new InvalidInputError(
        `classMapping maps '${name}' to '${mapped}', which is not a class of '${source.name}'`,
      );
    }
    return index;
  });
  if (mapping !== undefined) {
    for (const name of Object.keys(mapping)) {
      if (!target.classes.includes(name))
        throw new InvalidInputError(`classMapping names '${name}', which is not a class of '${target.name}'`);
    }
  }
  const all = labelledSplit(target, split);
  const keep = all.clips.filter((_, i) => toSource[all.clipLabels[i]] >= 0);
  if (keep.length === 0) {
    throw new InvalidInputError(
      `no clip of '${target.name}' split '${split}' has a class shared with '${source.name}'`,
    );
  }
  const classes = source.classes.length;
  const t = target.segments;
  return {
    dataset: target,
    clips: keep,
    classes,
    clipLabels: Int32Array.from(target.readClipLabels(keep), (c) => toSource[c]),
    events(modality) {
      const raw = target.readSegmentLabels(keep, modality);
      const out = new Uint8Array(keep.length * t * classes);
      const width = target.classes.length;
      for (let r = 0; r < keep.length * t; r++) {
        for (let c = 0; c < width; c++)
          if (raw[r * width + c] > 0 && toSource[c] >= 0) out[r * classes + toSource[c]] = 1;
      }
      return out;
    },
  };
}

/** Cross-pairs first, then the upper bounds, each in training-modality order. */
function orderPairs(pairs: PairResult[]): PairResult[] {
  return [...pairs.filter((p) => !p.upperBound), ...pairs.filter((p) => p.upperBound)];
}

/** Trains one head per (encoder, training modality) and tests it on every test modality. */
async function runHeadPairs(
  kind: HeadTask,
  encoders: NamedEncoder[],
  train: LabelledSplit,
  trainModalities: string[],
  test: LabelledSplit,
  testModalities: string[],
  options: CrossModalOptions,
): Promise<EncoderResult[]> {
  const epochs = options.epochs ?? DEFAULT_EPOCHS[kind];
  const outputs = kind === 'classify' ? train.classes : train.classes + 1;
  const rows: EncoderResult[] = [];
  for (const { name, encoder } of encoders) {
    const testCodes = new Map<string, CodeSet>();
    for (const y of testModalities)
      testCodes.set(y, await encodeClips(encoder, test.dataset, y, test.clips, options.encodeChunk));
    const pairs: PairResult[] = [];
    for (const x of trainModalities) {
      const codes = await encodeClips(encoder, train.dataset, x, train.clips, options.encodeChunk);
      const targets =
        kind === 'classify'
          ? train.clipLabels
          : localizationTargets(train.events(x), codes.n * codes.segments, train.classes);
      const head = new DownstreamHead(kind, codes.dim, outputs, options.seed ?? 0);
      try {
        await head.fit(codes.quantized, codes.n, codes.segments, targets, {
          epochs,
          batchSize: options.batchSize,
          learningRate: options.learningRate,
        });
        for (const y of testModalities) {
          const tested = testCodes.get(y)!;
          if (tested.dim !== codes.dim || tested.segments !== codes.segments) {
            throw new InvalidInputError(
              `codes of '${y}' are [T=${tested.segments}, D=${tested.dim}], the head was trained on [T=${codes.segments}, D=${codes.dim}]`,
            );
          }
          const probabilities = await head.predict(tested.quantized, tested.n, tested.segments);
          const metrics: Record<string, number> =
            kind === 'classify'
              ? { top1: top1Accuracy(probabilities, test.clipLabels, outputs) }
              : {
                  ...multiLabelScores(
                    probabilities,
                    localizationTargets(test.events(y), tested.n * tested.segments, test.classes),
                  ),
                };
          pairs.push({ train: x, test: y, upperBound: x === y, metrics, samples: tested.n });
        }
      } finally {
        head.dispose();
      }
    }
    rows.push({ encoder: name, pairs: orderPairs(pairs) });
  }
  return rows;
}

function headSettings(kind: HeadTask, options: CrossModalOptions, trainSplit: string, testSplit: string) {
  return {
    epochs: options.epochs ?? DEFAULT_EPOCHS[kind],
    batchSize: options.batchSize ?? 80,
    learningRate: options.learningRate ?? 4e-4,
    seed: options.seed ?? 0,
    trainSplit,
    testSplit,
  };
}

async function crossModalHeads(
  kind: HeadTask,
  encoders: NamedEncoder[],
  dataset: ClipDataset,
  options: CrossModalOptions,
): Promise<DownstreamReport> {
  checkEncoders(encoders);
  const modalities = resolveModalities(dataset, encoders, options.modalities);
  const trainSplit = options.trainSplit ?? 'train';
  const testSplit = options.testSplit ?? 'test';
  const train = labelledSplit(dataset, trainSplit);
  const test = labelledSplit(dataset, testSplit);
  return {
    task: kind,
    trainDataset: dataset.name,
    testDataset: dataset.name,
    metrics: kind === 'classify' ? ['top1'] : ['precision', 'recall', 'f1'],
    rows: await runHeadPairs(kind, encoders, train, modalities, test, modalities, options),
    settings: headSettings(kind, options, trainSplit, testSplit),
  };
}

/** Event classification (top-1 on clips) for every ordered modality pair of `dataset`. */
export function crossModalClassify(
  encoders: NamedEncoder[],
  dataset: ClipDataset,
  options: CrossModalOptions = {},
): Promise<DownstreamReport> {
  return crossModalHeads('classify', encoders, dataset, options);
}

/** Event localization (per-segment multi-label precision at 0.5, recall, F1) for every ordered pair. */
export function crossModalLocalize(
  encoders: NamedEncoder[],
  dataset: ClipDataset,
  options: CrossModalOptions = {},
): Promise<DownstreamReport> {
  return crossModalHeads('localize', encoders, dataset, options);
}

/**
 * Cross-dataset transfer: heads trained on `source` (train split) and tested on `target` (test
 * split) through the class mapping. The pair of a modality with itself is the upper bound.
 */
export async function crossDatasetTransfer(
  encoders: NamedEncoder[],
  source: ClipDataset,
  target: ClipDataset,
  options: TransferOptions,
): Promise<DownstreamReport> {
  checkEncoders(encoders);
  const kind = options.head;
  if (kind !== 'classify' && kind !== 'localize') {
    throw new InvalidInputError(`crossDatasetTransfer: 'head' must be 'classify' or 'localize', got '${String(kind)}'`);
  }
  if (source.segments !== target.segments) {
    throw new InvalidInputError(
      `crossDatasetTransfer: '${source.name}' has T=${source.segments}, '${target.name}' has T=${target.segments}`,
    );
  }
  const sourceModalities = resolveModalities(source, encoders, options.sourceModalities ?? options.modalities);
  const targetModalities = resolveModalities(target, encoders, options.targetModalities ?? options.modalities);
  const trainSplit = options.trainSplit ?? 'train';
  const testSplit = options.testSplit ?? 'test';
  const train = labelledSplit(source, trainSplit);
  const test = mappedSplit(source, target, testSplit, options.classMapping);
  return {
    task: 'transfer',
    trainDataset: source.name,
    testDataset: target.name,
    metrics: kind === 'classify' ? ['top1'] : ['f1', 'precision', 'recall'],
    rows: await runHeadPairs(kind, encoders, train, sourceModalities, test, targetModalities, options),
    settings: { head: kind, ...headSettings(kind, options, trainSplit, testSplit) },
  };
}

/** Mean over segments of each clip's quantized vectors, L2-normalised: [n, D]. */
function clipEmbeddings(codes: CodeSet): Float32Array {
  const { n, segments, dim, quantized } = codes;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      let sum = 0;
      for (let s = 0; s < segments; s++) sum += quantized[(i * segments + s) * dim + d];
      out[i * dim + d] = sum / segments;
      norm += (sum / segments) ** 2;
    }
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) out[i * dim + d] *= scale;
  }
  return out;
}

const RETRIEVAL_BLOCK = 1024;

/**
 * Recall@k of queries [n, dim] against a gallery [n, dim] whose match for query i is item i. The
 * similarity matrix is built RETRIEVAL_BLOCK query rows at a time, so memory stays O(block * n).
 */
async function blockedRecall(
  queries: Float32Array,
  gallery: Float32Array,
  n: number,
  dim: number,
  ks: number[],
): Promise<Record<number, number>> {
  const hits: Record<number, number> = Object.fromEntries(ks.map((k) => [k, 0]));
  const galleryTensor = tf.tensor2d(gallery, [n, dim]);
  try {
    for (let start = 0; start < n; start += RETRIEVAL_BLOCK) {
      const rows = Math.min(RETRIEVAL_BLOCK, n - start);
      const product = tf.tidy(() =>
        tf.matMul(
          tf.tensor2d(queries.subarray(start * dim, (start + rows) * dim), [rows, dim]),
          galleryTensor,
          false,
          true,
        ),
      );
      const similarity = (await product.data()) as Float32Array;
      product.dispose();
      const recall = recallAtK(
        similarity,
        Int32Array.from({ length: rows }, (_, i) => start + i),
        n,
        ks,
      );
      for (const k of ks) hits[k] += recall[k] * rows;
    }
  } finally {
    galleryTensor.dispose();
  }
  return Object.fromEntries(ks.map((k) => [k, hits[k] / n]));
}

/**
 * Paired cross-modal retrieval on one split: each clip's X embedding queries the Y embeddings of all
 * clips; the hit is the same clip. Clip embedding: mean quantized vector, cosine similarity.
 * Only X≠Y pairs: retrieving a modality from itself is trivially perfect, so there is no upper bound.
 */
export async function crossModalRetrieve(
  encoders: NamedEncoder[],
  dataset: ClipDataset,
  options: RetrievalOptions = {},
): Promise<DownstreamReport> {
  checkEncoders(encoders);
  const modalities = resolveModalities(dataset, encoders, options.modalities);
  if (modalities.length < 2) throw new InvalidInputError('crossModalRetrieve: needs at least two modalities');
  const ks = options.ks ?? [1, 5, 10];
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new InvalidInputError(`crossModalRetrieve: 'ks' must be positive integers, got [${ks.join(', ')}]`);
  }
  const split = options.split ?? 'test';
  const clips = dataset.split(split);
  if (clips.length === 0) throw new InvalidInputError(`split '${split}' of dataset '${dataset.name}' is empty`);
  const n = clips.length;
  const rows: EncoderResult[] = [];
  for (const { name, encoder } of encoders) {
    const embeddings = new Map<string, { data: Float32Array; dim: number }>();
    for (const m of modalities) {
      const codes = await encodeClips(encoder, dataset, m, clips, options.encodeChunk);
      embeddings.set(m, { data: clipEmbeddings(codes), dim: codes.dim });
    }
    const pairs: PairResult[] = [];
    for (const x of modalities) {
      for (const y of modalities) {
        if (x === y) continue;
        const q = embeddings.get(x)!;
        const g = embeddings.get(y)!;
        if (q.dim !== g.dim) throw new InvalidInputError(`codes of '${x}' have D=${q.dim}, of '${y}' D=${g.dim}`);
        const recall = await blockedRecall(q.data, g.data, n, q.dim, ks);
        pairs.push({
          train: x,
          test: y,
          upperBound: false,
          metrics: Object.fromEntries(ks.map((k) => [`R@${k}`, recall[k]])),
          samples: n,
        });
      }
    }
    rows.push({ encoder: name, pairs });
  }
  return {
    task: 'retrieve',
    trainDataset: dataset.name,
    testDataset: dataset.name,
    metrics: ks.map((k) => `R@${k}`),
    rows,
    settings: { split },
  };
}
