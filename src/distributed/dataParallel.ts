// Synchronous data parallelism for the trainer, identical to one process at the same global batch.
// Every rank sees every global batch and trains on its own contiguous shard of it. Per-clip loss
// terms (reconstruction, commitment, CLUB's log-likelihood) are means over the batch: each rank
// weights its shard's mean by shard/global and the gradients are summed. Terms that compare clips
// with each other (the CLUB MI bound over a batch permutation, Cross-CPC's InfoNCE, L_cmcm) are
// computed whole on every rank from inputs all-gathered across ranks, and each rank's gradient
// reaches only its own rows; summed over ranks that is the whole gradient. Dropout masks are drawn
// for the global batch and sliced, the step's other draws come from a generator every rank
// seeds alike, and the codebook applies statistics summed over ranks: every rank holds the same
// weights and codebook after every step (checked by checksum).
import type { AllReduce, MmEmaStatistics } from '../model/sharedCodebook.js';
import { type ForwardContext, trainingContext } from '../model/layers/context.js';
import type { UniCodeModel } from '../model/uniCode.js';
import { tf } from '../tfjs.js';
import type { ModelBatch } from '../train/pairedBatchSource.js';
import { checksumOf } from './checksum.js';
import { type Communicator, assertSameOnAllRanks } from './communicator.js';

/** This rank's part of a global batch: clips [offset, offset + local) of `global`. */
export interface BatchShard {
  offset: number;
  local: number;
  global: number;
}

/**
 * Splits `global` clips over `size` ranks in rank order, contiguous and without overlap; the first
 * global % size ranks take one clip more. Throws when a rank would get no clip.
 */
export function shardOf(global: number, rank: number, size: number): BatchShard {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`shardOf: size must be a positive integer, got ${String(size)}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new RangeError(`shardOf: rank must be an integer in [0, ${size}), got ${String(rank)}`);
  }
  if (!Number.isInteger(global) || global < size) {
    throw new RangeError(
      `a global batch of ${String(global)} clips cannot be split over ${size} ranks: ` +
        `every rank needs at least one clip (use a batch size >= the world size, ${size})`,
    );
  }
  const base = Math.floor(global / size);
  const extra = global % size;
  return { offset: rank * base + Math.min(rank, extra), local: base + (rank < extra ? 1 : 0), global };
}

export interface DataParallelOptions {
  /** Compare every rank's weights and codebook every this many steps (and at the end of train()). */
  checksumEvery?: number;
}

export const DEFAULT_CHECKSUM_EVERY = 10;

export class DataParallel {
  readonly comm: Communicator;
  readonly checksumEvery: number;
  private shardOfStep: BatchShard | null = null;

  constructor(comm: Communicator, options: DataParallelOptions = {}) {
    const valid =
      comm !== null &&
      typeof comm === 'object' &&
      Number.isInteger(comm.rank) &&
      Number.isInteger(comm.size) &&
      comm.size >= 1 &&
      comm.rank >= 0 &&
      comm.rank < comm.size &&
      typeof comm.allReduceSum === 'function';
    if (!valid) {
      throw new TypeError(
        'communicator must be a Communicator { rank, size, allReduceSum, barrier, abort }' + ' with 0 <= rank < size',
      );
    }
    const every = options.checksumEvery ?? DEFAULT_CHECKSUM_EVERY;
    if (!Number.isInteger(every) || every < 1) {
      throw new RangeError(`checksumEvery must be a positive integer, got ${String(every)}`);
    }
    this.comm = comm;
    this.checksumEvery = every;
  }

  /** Rank 0 writes checkpoints, metrics and progress. */
  get isLead(): boolean {
    return this.comm.rank === 0;
  }

  /** The shard of the step in progress. */
  get shard(): BatchShard {
    if (this.shardOfStep === null) throw new Error('DataParallel: no step in progress (call take() first)');
    return this.shardOfStep;
  }

  /** This rank's clips of a (validated) global batch; disposing the result disposes `batch` too. */
  take(batch: ModelBatch): ModelBatch {
    let shard: BatchShard;
    try {
      shard = shardOf(batch.size, this.comm.rank, this.comm.size);
    } catch (err) {
      batch.dispose();
      throw err;
    }
    this.shardOfStep = shard;
    const features = batch.features.map((f) => tf.slice(f, shard.offset, shard.local));
    return {
      size: shard.local,
      modalities: batch.modalities,
      features,
      dispose: () => {
        features.forEach((f) => f.dispose());
        batch.dispose();
      },
    };
  }

  /**
   * Training mode whose dropout masks are the global batch's masks (the same seeds, drawn for
   * the global shape) at this shard's rows. Every dropout input is batch-major: [B, ...] or
   * [B*H, ...].
   */
  trainingContext(stepSeed: number): ForwardContext {
    const base = trainingContext(stepSeed);
    const { offset, local, global } = this.shard;
    return {
      training: true,
      dropoutSeed: () => base.dropoutSeed(),
      dropout: (x, rate) => {
        const rowsPerClip = x.shape[0] / local;
        if (!Number.isInteger(rowsPerClip)) {
          throw new Error(`dropout: axis 0 (${x.shape[0]}) is not a multiple of the shard's ${local} clips`);
        }
        const seed = base.dropoutSeed();
        return tf.tidy(() => {
          // tf.dropout(x) is x * floor(U + keep) / keep: on ones it is exactly that multiplier.
          const multiplier = tf.dropout(tf.ones([global * rowsPerClip, ...x.shape.slice(1)]), rate, undefined, seed);
          return tf.mul(x, tf.slice(multiplier, offset * rowsPerClip, local * rowsPerClip));
        });
      },
    };
  }

  /**
   * The global batch of a per-shard tensor [local, ...] -> [global, ...] on every rank. Its
   * gradient is the incoming gradient at this rank's rows: the loss built on it is the same on
   * every rank, so each rank passes back exactly its rows' share.
   */
  readonly gather = <T extends tf.Tensor>(local: T): T => {
    const { offset, global } = this.shard;
    const rows = local.shape[0];
    const rowSize = local.size / rows;
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const all = new Float32Array(global * rowSize);
      all.set(x.dataSync() as Float32Array, offset * rowSize);
      this.comm.allReduceSum([all]);
      return {
        value: tf.tensor(all, [global, ...x.shape.slice(1)], 'float32'),
        gradFunc: (dy: tf.Tensor) => tf.slice(dy, offset, rows),
      };
    });
    return op(local) as T;
  };

  /** This shard's weight in a global-batch mean. */
  get share(): number {
    return this.shard.local / this.shard.global;
  }

  /**
   * Weights for a step's loss terms: the first `perClip` terms are shard means (weighted by the
   * shard's share), the rest are computed on the gathered batch (weight 1).
   */
  lossWeights(perClip: number, count: number): tf.Tensor1D {
    return tf.tensor1d(
      Array.from({ length: count }, (_, i) => (i < perClip ? this.share : 1)),
      'float32',
    );
  }

  /** The global values of a step's loss terms, ordered as for lossWeights. */
  globalTerms(terms: number[], perClip: number): number[] {
    const values = Float64Array.from(terms, (t, i) => (i < perClip ? t * this.share : t / this.comm.size));
    this.comm.allReduceSum([values]);
    return Array.from(values);
  }

  /** Per-shard counts summed over ranks. */
  sumCounts(counts: number[]): number[] {
    const values = Float64Array.from(counts);
    this.comm.allReduceSum([values]);
    return Array.from(values);
  }

  /** Sums gradients that are already weighted by share (the main loss carries the weights). */
  readonly sumGradients = (grads: Float32Array[]): Float32Array[] => {
    const copies = grads.map((g) => g.slice());
    this.comm.allReduceSum(copies);
    return copies;
  };

  /**
   * The global mean of a shard-mean loss and its gradients (CLUB's inner loop): share-weighted
   * sums over ranks. Disposes `value` and `grads`; the caller owns what it returns.
   */
  globalMean(value: tf.Scalar, grads: tf.NamedTensorMap): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    const share = this.share;
    const names = Object.keys(grads);
    const weighted = names.map((n) => Float32Array.from(grads[n].dataSync() as Float32Array, (v) => v * share));
    const scalar = Float64Array.of(value.dataSync()[0] * share);
    this.comm.allReduceSum([...weighted, scalar]);
    const out: tf.NamedTensorMap = {};
    names.forEach((n, i) => {
      out[n] = tf.tensor(weighted[i], grads[n].shape, 'float32');
      grads[n].dispose();
    });
    value.dispose();
    return { value: tf.scalar(scalar[0]), grads: out };
  }

  /** The codebook's statistics hook: counts, sums and n summed over ranks (float64, exact for counts). */
  readonly sumCodebookStatistics: AllReduce = (stats: MmEmaStatistics) => {
    const n = Float64Array.of(stats.n);
    const counts = stats.counts.map((c) => Float64Array.from(c));
    const sums = stats.sums.map((s) => Float64Array.from(s));
    this.comm.allReduceSum([n, ...counts, ...sums]);
    return { n: n[0], counts, sums };
  };

  /** Throws on every rank unless all ranks hold bit-identical weights and codebook state. */
  checkIdentical(model: UniCodeModel, step: number): void {
    const weights = Object.entries(model.params.exportWeights())
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, w]) => w.data);
    const cb = model.codebook.getState();
    const sum = checksumOf([...weights, cb.embedding, cb.emaCount, cb.emaWeight, cb.unusedCount]);
    assertSameOnAllRanks(this.comm, sum, `after step ${step}, the weights and codebook checksum`);
  }
}
