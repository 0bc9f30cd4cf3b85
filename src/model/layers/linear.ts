// Fully connected layer in torch layout (weight [out, in]) so published state dicts load as they are.
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { seededDropout } from '../../ops/seededUniform.js';
import { tf } from '../../tfjs.js';
import type { ParamStore } from '../params.js';
import type { ForwardContext } from './context.js';
import { matMulByTransposed } from './matMul.js';

export class Linear {
  readonly weight: Variable;
  readonly bias: Variable | null;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    readonly inDim: number,
    readonly outDim: number,
    { bias = true } = {},
  ) {
    const bound = 1 / Math.sqrt(inDim);
    this.weight = store.uniform(group, `${name}.weight`, [outDim, inDim], bound);
    this.bias = bias ? store.uniform(group, `${name}.bias`, [outDim], bound) : null;
  }

  /** [..., in] -> [..., out] */
  apply(x: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, this.inDim]);
    let y = matMulByTransposed(flat, this.weight);
    if (this.bias !== null) y = tf.add(y, this.bias);
    return x.rank === 2 ? y : tf.reshape(y, [...lead, this.outDim]);
  }
}

export class LayerNorm {
  readonly gain: Variable;
  readonly shift: Variable;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    dim: number,
    private readonly eps = 1e-5,
  ) {
    this.gain = store.constant(group, `${name}.weight`, [dim], 1);
    this.shift = store.constant(group, `${name}.bias`, [dim], 0);
  }

  /** Normalises over the last axis. */
  apply(x: Tensor): Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(normed, this.gain), this.shift);
  }
}

/** Inverted dropout with a seeded mask (tf.dropout's, drawn on the device on 'cuda'); identity at inference or rate 0. */
export function dropout(x: Tensor, rate: number, ctx: ForwardContext): Tensor {
  if (!ctx.training || rate <= 0) return x;
  return ctx.dropout !== undefined ? ctx.dropout(x, rate) : seededDropout(x, rate, ctx.dropoutSeed());
}

/** ReLU MLP: Linear layers with ReLU between them (none after the last). */
export class Mlp {
  readonly layers: Linear[];

  constructor(store: ParamStore, group: string, name: string, dims: number[]) {
    this.layers = dims.slice(1).map((out, i) => new Linear(store, group, `${name}.${2 * i}`, dims[i], out));
  }

  apply(x: Tensor): Tensor {
    return this.layers.reduce((h, layer, i) => (i === 0 ? layer.apply(h) : layer.apply(tf.relu(h))), x);
  }
}
