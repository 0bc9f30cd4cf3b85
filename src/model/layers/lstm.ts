// Multi-layer LSTM in torch layout and gate order (i, f, g, o), zero initial state:
//   gates = x W_ih^T + b_ih + h W_hh^T + b_hh;  c = σ(f) c + σ(i) tanh(g);  h = σ(o) tanh(c).
// Parameter names follow torch (weight_ih_l0, ..., *_reverse for the backward direction).
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../../tfjs.js';
import type { ParamStore } from '../params.js';
import { matMul, matMulByTransposed } from './matMul.js';

interface Direction {
  weightIh: Variable;
  weightHh: Variable;
  biasIh: Variable;
  biasHh: Variable;
}

export class Lstm {
  private readonly directions: Direction[][] = [];

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    inDim: number,
    readonly hidden: number,
    layers: number,
    readonly bidirectional = false,
  ) {
    const bound = 1 / Math.sqrt(hidden);
    for (let layer = 0; layer < layers; layer++) {
      const layerIn = layer === 0 ? inDim : hidden * (bidirectional ? 2 : 1);
      const dirs: Direction[] = [];
      for (const suffix of bidirectional ? ['', '_reverse'] : ['']) {
        const p = (what: string, shape: number[]) =>
          store.uniform(group, `${name}.${what}_l${layer}${suffix}`, shape, bound);
        dirs.push({
          weightIh: p('weight_ih', [4 * hidden, layerIn]),
          weightHh: p('weight_hh', [4 * hidden, hidden]),
          biasIh: p('bias_ih', [4 * hidden]),
          biasHh: p('bias_hh', [4 * hidden]),
        });
      }
      this.directions.push(dirs);
    }
  }

  /** [B, T, in] -> [B, T, H] (or [B, T, 2H] when bidirectional: forward then backward features). */
  apply(x: Tensor): Tensor {
    return this.directions.reduce((input, dirs) => {
      const outs = dirs.map((dir, d) => this.run(input, dir, d === 1));
      return outs.length === 1 ? outs[0] : tf.concat(outs, -1);
    }, x);
  }

  private run(x: Tensor, dir: Direction, reverse: boolean): Tensor {
    const [b, t, inDim] = x.shape;
    const h4 = 4 * this.hidden;
    // The input projection of every step in one GEMM; only the recurrent part loops.
    const projected = tf.add(
      matMulByTransposed(tf.reshape(x, [b * t, inDim]), dir.weightIh),
      tf.add(dir.biasIh, dir.biasHh),
    );
    const recurrent = tf.transpose(dir.weightHh); // once, not per step
    const steps = tf.unstack(tf.reshape(projected, [b, t, h4]), 1) as Tensor2D[];
    let h: Tensor2D = tf.zeros([b, this.hidden]);
    let c: Tensor2D = tf.zeros([b, this.hidden]);
    const outputs: Tensor2D[] = new Array(t);
    for (let k = 0; k < t; k++) {
      const step = reverse ? t - 1 - k : k;
      const gates = tf.add(steps[step], matMul(h, recurrent));
      const [i, f, g, o] = tf.split(gates, 4, 1);
      c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      outputs[step] = h;
    }
    return tf.stack(outputs, 1);
  }
}
