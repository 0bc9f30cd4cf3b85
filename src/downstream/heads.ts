// The small heads trained on frozen codes (docs/algorithm.md §1), as hand-written tfjs parameters:
//   classification: Linear(D->D), max over T, Linear(D->classes), softmax cross-entropy on the clip label
//   localization:   Linear(D->D), Linear(D->classes) on every segment, per-segment multi-label BCE
// Trained with Adam; initialised like torch.nn.Linear from a seeded Rng.
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { InvalidInputError } from '../data/errors.js';
import { tf } from '../tfjs.js';
import { Rng } from '../util/rng.js';
import type { HeadTask } from './taskNames.js';

export interface HeadTrainingOptions {
  epochs: number;
  /** Default 80, as published. */
  batchSize?: number;
  /** Default 4e-4, as published. */
  learningRate?: number;
}

/** A trainable [rows, cols] (or [cols] when rows is 0) drawn U(-1/sqrt(fanIn), 1/sqrt(fanIn)), as torch.nn.Linear does. */
function uniformLinear(rng: Rng, rows: number, cols: number, fanIn: number): Variable {
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(Math.max(rows, 1) * cols);
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.next() - 1) * bound;
  // tf.variable keeps its own reference to the data; the initial tensor must still be disposed.
  const initial = tf.tensor(values, rows === 0 ? [cols] : [rows, cols]);
  const variable = tf.variable(initial);
  initial.dispose();
  return variable;
}

/** Copies rows `order[start..end)` of a row-major [n, rowSize] array into one block. */
function gather<T extends Float32Array | Int32Array | Uint8Array>(source: T, rowSize: number, order: Int32Array): T {
  const out = new (source.constructor as new (n: number) => T)(order.length * rowSize);
  order.forEach((row, i) => out.set(source.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
  return out;
}

export class DownstreamHead {
  private readonly rng: Rng;
  private readonly w1: Variable;
  private readonly b1: Variable;
  private readonly w2: Variable;
  private readonly b2: Variable;

  /**
   * @param outputs classes for classification; labels per segment (events + background) for localization
   * @param seed seeds the initial weights and the batch order
   */
  constructor(
    readonly kind: HeadTask,
    readonly dim: number,
    readonly outputs: number,
    seed: number,
  ) {
    if (!Number.isInteger(dim) || dim < 1)
      throw new InvalidInputError(`DownstreamHead: 'dim' must be a positive integer, got ${dim}`);
    if (!Number.isInteger(outputs) || outputs < 1) {
      throw new InvalidInputError(`DownstreamHead: 'outputs' must be a positive integer, got ${outputs}`);
    }
    this.rng = new Rng(seed);
    this.w1 = uniformLinear(this.rng, dim, dim, dim);
    this.b1 = uniformLinear(this.rng, 0, dim, dim);
    this.w2 = uniformLinear(this.rng, dim, outputs, dim);
    this.b2 = uniformLinear(this.rng, 0, outputs, dim);
  }

  /** Logits: [B, outputs] for classification, [B*T, outputs] for localization. */
  private logits(x: Tensor, batch: number, segments: number): Tensor2D {
    const rows = tf.reshape(x, [batch * segments, this.dim]) as Tensor2D;
    const hidden = tf.add(tf.matMul(rows, this.w1 as Tensor2D), this.b1);
    const pooled = this.kind === 'classify' ? tf.max(tf.reshape(hidden, [batch, segments, this.dim]), 1) : hidden;
    return tf.add(tf.matMul(pooled as Tensor2D, this.w2 as Tensor2D), this.b2) as Tensor2D;
  }

  private checkInputs(x: Float32Array, n: number, segments: number, what: string): void {
    if (
      !Number.isInteger(n) ||
      n < 1 ||
      !Number.isInteger(segments) ||
      segments < 1 ||
      x.length !== n * segments * this.dim
    ) {
      throw new InvalidInputError(
        `DownstreamHead.${what}: ${x.length} values are not [${n}, ${segments}, ${this.dim}]`,
      );
    }
  }

  /**
   * Trains on codes x [n, T, D]. Targets: clip labels [n] for classification, multi-hot
   * [n, T, outputs] for localization. Returns the mean loss of each epoch.
   */
  async fit(
    x: Float32Array,
    n: number,
    segments: number,
    targets: Int32Array | Uint8Array,
    options: HeadTrainingOptions,
  ): Promise<number[]> {
    this.checkInputs(x, n, segments, 'fit');
    const { epochs, batchSize = 80, learningRate = 4e-4 } = options;
    if (!Number.isInteger(epochs) || epochs < 0)
      throw new InvalidInputError(`DownstreamHead.fit: 'epochs' must be an integer >= 0, got ${epochs}`);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InvalidInputError(`DownstreamHead.fit: 'batchSize' must be a positive integer, got ${batchSize}`);
    if (!(learningRate > 0))
      throw new InvalidInputError(`DownstreamHead.fit: 'learningRate' must be > 0, got ${learningRate}`);
    const targetSize = this.kind === 'classify' ? 1 : segments * this.outputs;
    if (targets.length !== n * targetSize) {
      throw new InvalidInputError(
        `DownstreamHead.fit: ${targets.length} targets for ${n} clips, expected ${n * targetSize}`,
      );
    }
    if (this.kind === 'classify' && targets.some((label) => label < 0 || label >= this.outputs)) {
      throw new InvalidInputError(`DownstreamHead.fit: a clip label is outside [0, ${this.outputs})`);
    }
    const optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
    const variables = [this.w1, this.b1, this.w2, this.b2];
    const rowSize = segments * this.dim;
    const losses: number[] = [];
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = this.rng.permutation(n);
        let total = 0;
        for (let start = 0; start < n; start += batchSize) {
          const rows = order.subarray(start, Math.min(start + batchSize, n));
          const b = rows.length;
          const batchX = gather(x, rowSize, rows);
          const batchTargets = gather(targets, targetSize, rows);
          const cost = optimizer.minimize(
            () =>
              tf.tidy(() => {
                const logits = this.logits(tf.tensor3d(batchX, [b, segments, this.dim]), b, segments);
                if (this.kind === 'classify') {
                  const labels = tf.oneHot(tf.tensor1d(Int32Array.from(batchTargets), 'int32'), this.outputs);
                  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
                }
                const labels = tf.tensor2d(Float32Array.from(batchTargets), [b * segments, this.outputs]);
                return tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;
              }),
            true,
            variables,
          );
          total += (await cost!.data())[0] * b;
          cost!.dispose();
        }
        losses.push(total / n);
      }
    } finally {
      optimizer.dispose();
    }
    return losses;
  }

  /**
   * Probabilities for codes x [n, T, D]: softmax [n, outputs] for classification, sigmoid
   * [n, T, outputs] for localization.
   */
  async predict(x: Float32Array, n: number, segments: number, batchSize = 256): Promise<Float32Array> {
    this.checkInputs(x, n, segments, 'predict');
    const perClip = this.kind === 'classify' ? this.outputs : segments * this.outputs;
    const out = new Float32Array(n * perClip);
    const rowSize = segments * this.dim;
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const probabilities = tf.tidy(() => {
        const logits = this.logits(
          tf.tensor3d(x.subarray(start * rowSize, (start + b) * rowSize), [b, segments, this.dim]),
          b,
          segments,
        );
        return this.kind === 'classify' ? tf.softmax(logits) : tf.sigmoid(logits);
      });
      out.set(await probabilities.data(), start * perClip);
      probabilities.dispose();
    }
    return out;
  }

  dispose(): void {
    for (const v of [this.w1, this.b1, this.w2, this.b2]) v.dispose();
  }
}
