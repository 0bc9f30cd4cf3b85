// Post-norm transformer encoder over the segment axis, torch semantics (nn.TransformerEncoderLayer):
//   x = LN(x + drop(MHA(x)));  x = LN(x + drop(W2 drop(relu(W1 x)))).
// Attention weights get dropout too, as torch's MultiheadAttention does in training.
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../../tfjs.js';
import type { ParamStore } from '../params.js';
import type { ForwardContext } from './context.js';
import { LayerNorm, Linear, dropout } from './linear.js';
import { matMul, matMulByTransposed } from './matMul.js';

export interface TransformerShape {
  layers: number;
  heads: number;
  feedForward: number;
  dropout: number;
}

class SelfAttention {
  /** torch in_proj layout: q, k, v stacked, [3D, D]. */
  private readonly inProj: Variable;
  private readonly inBias: Variable;
  private readonly outProj: Linear;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    private readonly dim: number,
    private readonly heads: number,
    private readonly rate: number,
  ) {
    // torch: xavier_uniform over the stacked [3D, D] matrix, zero bias.
    this.inProj = store.uniform(group, `${name}.in_proj_weight`, [3 * dim, dim], Math.sqrt(6 / (4 * dim)));
    this.inBias = store.constant(group, `${name}.in_proj_bias`, [3 * dim], 0);
    this.outProj = new Linear(store, group, `${name}.out_proj`, dim, dim);
  }

  /** x [B, T, D] -> [B, T, D] */
  apply(x: Tensor, ctx: ForwardContext): Tensor {
    const [b, t] = x.shape;
    const headDim = this.dim / this.heads;
    const qkv = tf.add(matMulByTransposed(tf.reshape(x, [b * t, this.dim]), this.inProj), this.inBias);
    // [B*T, 3D] -> [3, B, H, T, hd]
    const split = tf.transpose(tf.reshape(qkv, [b, t, 3, this.heads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(split).map((m) => tf.reshape(m, [b * this.heads, t, headDim]));
    const scores = tf.mul(matMulByTransposed(q, k), 1 / Math.sqrt(headDim));
    const weights = dropout(tf.softmax(scores), this.rate, ctx);
    const context = tf.reshape(
      tf.transpose(tf.reshape(matMul(weights, v), [b, this.heads, t, headDim]), [0, 2, 1, 3]),
      [b, t, this.dim],
    );
    return this.outProj.apply(context);
  }
}

class EncoderLayer {
  private readonly attention: SelfAttention;
  private readonly norm1: LayerNorm;
  private readonly norm2: LayerNorm;
  private readonly ff1: Linear;
  private readonly ff2: Linear;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    dim: number,
    private readonly shape: TransformerShape,
  ) {
    this.attention = new SelfAttention(store, group, `${name}.self_attn`, dim, shape.heads, shape.dropout);
    this.ff1 = new Linear(store, group, `${name}.linear1`, dim, shape.feedForward);
    this.ff2 = new Linear(store, group, `${name}.linear2`, shape.feedForward, dim);
    this.norm1 = new LayerNorm(store, group, `${name}.norm1`, dim);
    this.norm2 = new LayerNorm(store, group, `${name}.norm2`, dim);
  }

  apply(x: Tensor, ctx: ForwardContext): Tensor {
    const rate = this.shape.dropout;
    const attended = this.norm1.apply(tf.add(x, dropout(this.attention.apply(x, ctx), rate, ctx)));
    const hidden = dropout(tf.relu(this.ff1.apply(attended)), rate, ctx);
    return this.norm2.apply(tf.add(attended, dropout(this.ff2.apply(hidden), rate, ctx)));
  }
}

/** A stack of post-norm encoder layers, each with its own weights. */
export class TransformerEncoder {
  private readonly layers: EncoderLayer[];

  constructor(store: ParamStore, group: string, name: string, dim: number, shape: TransformerShape) {
    this.layers = Array.from(
      { length: shape.layers },
      (_, i) => new EncoderLayer(store, group, `${name}.layers.${i}`, dim, shape),
    );
  }

  /** [B, T, D] -> [B, T, D] */
  apply(x: Tensor, ctx: ForwardContext): Tensor {
    return this.layers.reduce((h, layer) => layer.apply(h, ctx), x);
  }
}
