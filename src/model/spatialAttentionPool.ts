// Video front of the semantic encoder (docs/algorithm.md §2 steps 1-8): squeeze-excitation on the grid average,
// then attention over the H*W cells with a query from the average. [B,T,H,W,C] -> [B,T,C].
// As published, the attention weights are all 1 (see apply).
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import { Linear } from './layers/linear.js';
import type { ParamStore } from './params.js';

export class SpatialAttentionPool {
  private readonly squeeze: Linear;
  private readonly excite: Linear;

  constructor(store: ParamStore, group: string, name: string, channels: number) {
    this.squeeze = new Linear(store, group, `${name}.squeeze`, channels, channels / 8, { bias: false });
    this.excite = new Linear(store, group, `${name}.excite`, channels / 8, channels, { bias: false });
    // The query, key and score layers exist as published (their parameters are in the checkpoint and
    // the optimizer) but cannot change the output, see apply: registered in the store, never read here.
    new Linear(store, group, `${name}.query`, channels, channels / 2);
    new Linear(store, group, `${name}.key`, channels, channels / 2);
    new Linear(store, group, `${name}.score`, channels / 2, 1);
  }

  apply(video: Tensor): Tensor {
    const [b, t, h, w, c] = video.shape;
    const cells = tf.reshape(video, [b, t, h * w, c]);
    const average = tf.mean(cells, 2); // [B,T,C]
    const gate = tf.sigmoid(this.excite.apply(tf.relu(this.squeeze.apply(average))));
    const excited = tf.add(tf.mul(cells, tf.expandDims(gate, 2)), cells); // x*g + x
    // The published pool takes its softmax over the trailing axis of the [.., HW, 1] scores, of size
    // 1: every cell's weight is exactly 1 and the output is the sum of the excited cells. Matching it,
    // the query, key and score layers get a zero gradient, as they do there.
    return tf.sum(excited, 2);
  }
}
