// Video front of the semantic encoder (SPEC §2 steps 1-8): squeeze-excitation on the grid average,
// then attention over the H*W cells with a query from the average. [B,T,H,W,C] -> [B,T,C].
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import { Linear } from './layers/linear.js';
import type { ParamStore } from './params.js';

export class SpatialAttentionPool {
  private readonly squeeze: Linear;
  private readonly excite: Linear;
  private readonly query: Linear;
  private readonly key: Linear;
  private readonly score: Linear;

  constructor(store: ParamStore, group: string, name: string, channels: number) {
    this.squeeze = new Linear(store, group, `${name}.squeeze`, channels, channels / 8, { bias: false });
    this.excite = new Linear(store, group, `${name}.excite`, channels / 8, channels, { bias: false });
    this.query = new Linear(store, group, `${name}.query`, channels, channels / 2);
    this.key = new Linear(store, group, `${name}.key`, channels, channels / 2);
    this.score = new Linear(store, group, `${name}.score`, channels / 2, 1);
  }

  apply(video: Tensor): Tensor {
    const [b, t, h, w, c] = video.shape;
    const cells = tf.reshape(video, [b, t, h * w, c]);
    const average = tf.mean(cells, 2); // [B,T,C]
    const gate = tf.sigmoid(this.excite.apply(tf.relu(this.squeeze.apply(average))));
    const excited = tf.add(tf.mul(cells, tf.expandDims(gate, 2)), cells); // x*g + x
    const query = tf.expandDims(tf.relu(this.query.apply(average)), 2); // [B,T,1,C/2]
    const keys = tf.relu(this.key.apply(excited)); // [B,T,HW,C/2]
    const scores = tf.tanh(this.score.apply(tf.mul(keys, query))); // [B,T,HW,1]
    const attention = tf.expandDims(tf.softmax(tf.squeeze(scores, [3]), -1), 3);
    return tf.sum(tf.mul(attention, excited), 2);
  }
}
