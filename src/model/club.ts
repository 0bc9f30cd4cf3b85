// CLUB (docs/algorithm.md §4.1): a diagonal Gaussian q(y|x) whose sample estimator upper-bounds the mutual
// information between a modality's code x = q_m and its specific feature y. The net is trained by
// maximising loglikeli on detached inputs; miEst is the loss that reaches the encoders.
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import { Mlp } from './layers/linear.js';
import { matMul } from './layers/matMul.js';
import type { ParamStore } from './params.js';

export class Club {
  private readonly mu: Mlp;
  private readonly logvarNet: Mlp;

  /** Parameters are named `${name}.p_mu.{0,2,4,6}.*` and `${name}.p_logvar.*` (torch Sequential indices). */
  constructor(
    store: ParamStore,
    group: string,
    name: string,
    readonly xDim: number,
    readonly yDim: number,
    hidden: number,
  ) {
    const dims = [xDim, hidden / 2, hidden / 2, hidden / 2, yDim];
    this.mu = new Mlp(store, group, `${name}.p_mu`, dims);
    this.logvarNet = new Mlp(store, group, `${name}.p_logvar`, dims);
  }

  private muLogvar(x: Tensor): [Tensor, Tensor] {
    return [this.mu.apply(x), tf.tanh(this.logvarNet.apply(x))];
  }

  /** mean over the B*T rows of sum_dim (-(mu-y)^2 / exp(logvar) - logvar) / 2. x [B,T,xDim], y [B,T,yDim]. */
  loglikeli(x: Tensor, y: Tensor): Scalar {
    const [mu, logvar] = this.muLogvar(x);
    const perDim = tf.sub(tf.neg(tf.div(tf.squaredDifference(mu, y), tf.exp(logvar))), logvar);
    return tf.div(tf.mean(tf.sum(perDim, -1)), 2) as Scalar;
  }

  /**
   * The MI upper bound: pos = -mean_T((mu-y)^2) / exp(mean_T(logvar)), neg the same with y's batch
   * rows taken in `permutation` order; mi = mean_B(sum_dim pos - sum_dim neg) / 2.
   */
  miEst(x: Tensor, y: Tensor, permutation: Int32Array): Scalar {
    const b = y.shape[0];
    if (permutation.length !== b)
      throw new RangeError(`miEst: permutation has ${permutation.length} entries, the batch has ${b}`);
    const [mu, logvar] = this.muLogvar(x);
    const variance = tf.exp(tf.mean(logvar, 1));
    const score = (target: Tensor) =>
      tf.sum(tf.div(tf.neg(tf.mean(tf.squaredDifference(mu, target), 1)), variance), -1);
    // A one-hot permutation matrix instead of gather: exact, and its gradient needs no
    // UnsortedSegmentSum kernel (absent on the wasm backend).
    const rows = tf.cast(tf.oneHot(tf.tensor1d(permutation, 'int32'), b), 'float32');
    const shuffled = tf.reshape(matMul(rows, tf.reshape(y, [b, -1])), y.shape);
    return tf.div(tf.mean(tf.sub(score(y), score(shuffled))), 2) as Scalar;
  }
}
