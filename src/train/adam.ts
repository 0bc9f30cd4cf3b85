// Adam (torch defaults: betas 0.9/0.999, eps 1e-8) whose whole state goes into a checkpoint and
// comes back exactly, keyed by logical parameter names rather than tfjs engine names.
// tfjs's setWeights recomputes the bias-correction powers as beta^(t+1); after many steps that can
// differ in the last bit from the running product the optimizer kept, so the powers are saved too.
import type { CheckpointTensor } from './checkpoint.js';
import { tf } from '../tfjs.js';

export interface AdamMeta {
  learningRate: number;
  iterations: number;
  /** beta1^(t+1), beta2^(t+1) as the optimizer holds them (float32 values). */
  accBeta1: number;
  accBeta2: number;
  /** False until the first update created the moment estimates. */
  hasMoments: boolean;
}

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { variable: tf.Variable }[];
  accumulatedSecondMoment: { variable: tf.Variable }[];
  iterations_: number | undefined;
}

/**
 * The optimizer's whole state at one moment, for undoing a failed step. Its tensors share data
 * with the optimizer's (tfjs tensors are immutable; a step assigns new ones), so it costs no copy.
 */
export interface AdamSnapshot {
  readonly iterations: number;
  readonly tensors: tf.Tensor[];
  /** How many moment pairs existed (the optimizer creates them on its first update). */
  readonly moments: number;
  dispose(): void;
}

export class ResumableAdam extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999, 1e-8);
  }

  get lr(): number {
    return this.learningRate;
  }

  /** Per-epoch schedules change the rate between steps. */
  setLearningRate(value: number): void {
    if (!(value > 0) || !Number.isFinite(value))
      throw new RangeError(`setLearningRate: value must be a finite number > 0, got ${value}`);
    this.learningRate = value;
  }

  snapshot(): AdamSnapshot {
    const internals = this as unknown as AdamInternals;
    const moments = internals.accumulatedFirstMoment.length;
    const tensors = [
      internals.accBeta1,
      internals.accBeta2,
      ...internals.accumulatedFirstMoment.map((m) => m.variable),
      ...internals.accumulatedSecondMoment.map((m) => m.variable),
    ].map((v) => tf.clone(v));
    return { iterations: this.iterations, tensors, moments, dispose: () => tf.dispose(tensors) };
  }

  /** Puts back the state of `snapshot` (which stays the caller's to dispose). */
  rollback(snapshot: AdamSnapshot): void {
    const internals = this as unknown as AdamInternals;
    const [beta1, beta2, ...moments] = snapshot.tensors;
    internals.accBeta1.assign(beta1);
    internals.accBeta2.assign(beta2);
    for (const [list, offset] of [
      [internals.accumulatedFirstMoment, 0],
      [internals.accumulatedSecondMoment, snapshot.moments],
    ] as const) {
      list.slice(snapshot.moments).forEach((m) => m.variable.dispose());
      list.length = snapshot.moments;
      list.forEach((m, i) => m.variable.assign(moments[offset + i]));
    }
    internals.iterations_ = snapshot.iterations;
  }

  /** Applies gradients given in `order` (the same order every step: Adam keys its moments by position). */
  applyOrdered(order: { engineName: string; grad: tf.Tensor }[]): void {
    this.applyGradients(order.map(({ engineName, grad }) => ({ name: engineName, tensor: grad })));
  }

  /** State as checkpoint tensors `${prefix}.m.${param}` / `${prefix}.v.${param}` plus JSON meta. */
  async exportState(
    prefix: string,
    paramNames: string[],
  ): Promise<{ meta: AdamMeta; tensors: Record<string, CheckpointTensor> }> {
    const weights = await this.getWeights();
    const iterations = (await weights[0].tensor.data())[0];
    const moments = weights.slice(1);
    const internals = this as unknown as AdamInternals;
    const tensors: Record<string, CheckpointTensor> = {};
    const hasMoments = moments.length > 0;
    if (hasMoments) {
      if (moments.length !== 2 * paramNames.length) {
        throw new Error(
          `ResumableAdam.exportState(${prefix}): the optimizer holds ${moments.length / 2} moment pairs for ${paramNames.length} parameters`,
        );
      }
      paramNames.forEach((name, i) => {
        for (const [kind, entry] of [
          ['m', moments[i]],
          ['v', moments[paramNames.length + i]],
        ] as const) {
          tensors[`${prefix}.${kind}.${name}`] = {
            dtype: 'float32',
            shape: [...entry.tensor.shape],
            data: Float32Array.from(entry.tensor.dataSync()),
          };
        }
      });
    }
    return {
      meta: {
        learningRate: this.learningRate,
        iterations,
        accBeta1: internals.accBeta1.dataSync()[0],
        accBeta2: internals.accBeta2.dataSync()[0],
        hasMoments,
      },
      tensors,
    };
  }

  /** Restores exportState's output for parameters `params` (same names and order). Checks everything first. */
  async importState(
    prefix: string,
    meta: AdamMeta,
    tensors: Record<string, CheckpointTensor>,
    params: { name: string; engineName: string; shape: number[] }[],
  ): Promise<void> {
    const moment = ResumableAdam.checkState(prefix, meta, tensors, params);
    const named: { name: string; tensor: tf.Tensor }[] = [];
    if (meta.hasMoments) {
      for (const kind of ['m', 'v'] as const) {
        for (const p of params) {
          const t = moment(kind, p);
          named.push({ name: `${p.engineName}/${kind}`, tensor: tf.tensor(t.data, t.shape, 'float32') });
        }
      }
    }
    const iterations = tf.scalar(meta.iterations, 'int32');
    await this.setWeights([{ name: 'iter', tensor: iterations }, ...named]);
    // setWeights copied the tensors into new variables.
    iterations.dispose();
    named.forEach((n) => n.tensor.dispose());
    const internals = this as unknown as AdamInternals;
    tf.tidy(() => {
      internals.accBeta1.assign(tf.scalar(meta.accBeta1));
      internals.accBeta2.assign(tf.scalar(meta.accBeta2));
    });
    this.learningRate = meta.learningRate;
  }

  /** Throws unless importState would succeed; returns the moment lookup. */
  static checkState(
    prefix: string,
    meta: AdamMeta,
    tensors: Record<string, CheckpointTensor>,
    params: { name: string; shape: number[] }[],
  ) {
    for (const key of ['learningRate', 'iterations', 'accBeta1', 'accBeta2'] as const) {
      if (typeof meta?.[key] !== 'number' || !Number.isFinite(meta[key]))
        throw new Error(`optimizer ${prefix}: meta.${key} is missing or not a finite number`);
    }
    const moment = (kind: 'm' | 'v', p: { name: string; shape: number[] }): CheckpointTensor => {
      const t = tensors[`${prefix}.${kind}.${p.name}`];
      if (t === undefined) throw new Error(`optimizer ${prefix}: no ${kind} state for parameter '${p.name}'`);
      if (t.dtype !== 'float32' || t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `optimizer ${prefix}: ${kind} state of '${p.name}' has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`,
        );
      }
      return t;
    };
    if (typeof meta.hasMoments !== 'boolean') throw new Error(`optimizer ${prefix}: meta.hasMoments must be a boolean`);
    if (meta.hasMoments)
      params.forEach((p) => {
        moment('m', p);
        moment('v', p);
      });
    return moment;
  }
}
