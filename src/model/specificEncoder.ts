// ψ_m (docs/algorithm.md §2): what is particular to a modality. Audio/text: relu(Linear(dim -> specificDim)).
// Video: conv3x3 -> conv3x3 -> conv1x1 -> residual block on each segment's grid, plus the
// "CLUB feature" (grid average -> Linear -> ReLU -> Linear back to C) that CLUB pairs with the code.
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import type { ModelConfig, Modality } from './config.js';
import { Conv2d, ResidualBlock } from './layers/conv.js';
import { Linear } from './layers/linear.js';
import type { ParamStore } from './params.js';

export interface SpecificFeatures {
  /** Audio/text [B,T,specificDim]; video [B,T,H-4,W-4,videoWidths[1]]. */
  psi: Tensor;
  /** y of CLUB: audio/text the same as psi, video [B,T,C]. */
  clubFeature: Tensor;
}

export interface SpecificEncoder {
  apply(features: Tensor): SpecificFeatures;
}

export class DenseSpecificEncoder implements SpecificEncoder {
  private readonly layer: Linear;

  constructor(store: ParamStore, modality: Modality, featureDim: number, specificDim: number) {
    this.layer = new Linear(store, `specific.${modality}`, `specific.${modality}.proj`, featureDim, specificDim);
  }

  apply(features: Tensor): SpecificFeatures {
    const psi = tf.relu(this.layer.apply(features));
    return { psi, clubFeature: psi };
  }
}

export class VideoSpecificEncoder implements SpecificEncoder {
  private readonly conv1: Conv2d;
  private readonly conv2: Conv2d;
  private readonly conv3: Conv2d;
  private readonly residual: ResidualBlock;
  private readonly clubHidden: Linear;
  private readonly clubOut: Linear;

  constructor(store: ParamStore, config: ModelConfig) {
    const group = 'specific.video';
    const c = config.video.channels;
    const [w1, w2] = config.videoWidths;
    // Its input is the raw video: no gradient to propagate.
    this.conv1 = new Conv2d(store, group, `${group}.conv1`, c, w1, 3, 'valid', false);
    this.conv2 = new Conv2d(store, group, `${group}.conv2`, w1, w2, 3);
    this.conv3 = new Conv2d(store, group, `${group}.conv3`, w2, w2, 1);
    this.residual = new ResidualBlock(store, group, `${group}.residual`, w2);
    this.clubHidden = new Linear(store, group, `${group}.club_feature.0`, w2, w1);
    this.clubOut = new Linear(store, group, `${group}.club_feature.2`, w1, c);
  }

  apply(video: Tensor): SpecificFeatures {
    const [b, t, h, w, c] = video.shape;
    const grid = tf.reshape(video, [b * t, h, w, c]) as Tensor4D;
    const features = this.residual.apply(this.conv3.apply(tf.relu(this.conv2.apply(tf.relu(this.conv1.apply(grid))))));
    const [, gh, gw, gc] = features.shape;
    const pooled = tf.mean(features, [1, 2]); // [B*T, w2]
    const clubFeature = tf.reshape(this.clubOut.apply(tf.relu(this.clubHidden.apply(pooled))), [b, t, c]);
    return { psi: tf.reshape(features, [b, t, gh, gw, gc]), clubFeature };
  }
}
