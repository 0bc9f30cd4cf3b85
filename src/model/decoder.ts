// Decoders (docs/algorithm.md §2): reconstruct a modality's input from ψ_m and a Linear of the quantized code;
// the loss is the MSE against the input.
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import type { ModelConfig, Modality } from './config.js';
import { ConvTranspose2d, ResidualBlock } from './layers/conv.js';
import { Linear } from './layers/linear.js';
import type { ParamStore } from './params.js';

export interface Decoder {
  /** psi: ψ_m; code: the (straight-through) quantized code [B,T,D]. Returns the reconstruction. */
  apply(psi: Tensor, code: Tensor): Tensor;
}

/** Audio and text: Linear(2S -> dim) on concat(ψ, Linear(D -> S)(q)). */
export class DenseDecoder implements Decoder {
  private readonly codeProjection: Linear;
  private readonly output: Linear;

  constructor(store: ParamStore, config: ModelConfig, modality: Modality, outputDim: number) {
    const group = `decoder.${modality}`;
    this.codeProjection = new Linear(store, group, `${group}.code_proj`, config.embeddingDim, config.specificDim);
    this.output = new Linear(store, group, `${group}.out`, 2 * config.specificDim, outputDim);
  }

  apply(psi: Tensor, code: Tensor): Tensor {
    return this.output.apply(tf.concat([psi, this.codeProjection.apply(code)], -1));
  }
}

/** Video: Linear(D -> D) of the code tiled over ψ's grid, then transposed convs back to H x W x C. */
export class VideoDecoder implements Decoder {
  private readonly codeProjection: Linear;
  private readonly up1: ConvTranspose2d;
  private readonly residual: ResidualBlock;
  private readonly up2: ConvTranspose2d;
  private readonly out: ConvTranspose2d;

  constructor(store: ParamStore, config: ModelConfig) {
    const group = 'decoder.video';
    const d = config.embeddingDim;
    const [w1, w2] = config.videoWidths;
    const c = config.video.channels;
    this.codeProjection = new Linear(store, group, `${group}.code_proj`, d, d);
    this.up1 = new ConvTranspose2d(store, group, `${group}.up1`, w2 + d, w1, 3);
    this.residual = new ResidualBlock(store, group, `${group}.residual`, w1);
    this.up2 = new ConvTranspose2d(store, group, `${group}.up2`, w1, c, 3);
    this.out = new ConvTranspose2d(store, group, `${group}.out`, c, c, 1);
  }

  apply(psi: Tensor, code: Tensor): Tensor {
    const [b, t, gh, gw, gc] = psi.shape;
    const d = code.shape[2] as number;
    const tiled = tf.tile(tf.reshape(this.codeProjection.apply(code), [b * t, 1, 1, d]), [1, gh, gw, 1]);
    const grid = tf.concat([tf.reshape(psi, [b * t, gh, gw, gc]), tiled], 3) as Tensor4D;
    const restored = this.out.apply(tf.relu(this.up2.apply(this.residual.apply(this.up1.apply(grid)))));
    const [, h, w, c] = restored.shape;
    return tf.reshape(restored, [b, t, h, w, c]);
  }
}
