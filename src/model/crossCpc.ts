// Cross-CPC (docs/algorithm.md §4.2): per modality, a multi-layer LSTM summarises z_m[:, 0..t] and a Linear
// predicts z[:, t+1]; every ordered pair (m = target, n = prediction) is scored with InfoNCE,
// weight 1 across modalities and 0.1 within one. Parameter names follow the published state dict
// ("audio_ar_lstm.weight_ih_l0", "audio_predictors.0.weight") under the `cpc.` prefix.
import type { Scalar, Tensor3D } from '@tensorflow/tfjs-core';
import type { OpBackend } from '../backend.js';
import { infoNceLossTrusted } from '../ops/infoNce.js';
import { tf } from '../tfjs.js';
import type { Modality } from './config.js';
import { Linear } from './layers/linear.js';
import { Lstm } from './layers/lstm.js';
import type { ParamStore } from './params.js';

export const CPC_CROSS_WEIGHT = 1;
export const CPC_SAME_WEIGHT = 0.1;

export interface CpcResult {
  loss: Scalar;
  /** accuracies[m][n]: target modality m, prediction modality n (modality order of the model). */
  accuracies: number[][];
}

export class CrossCpc {
  private readonly contexts: Lstm[];
  private readonly predictors: Linear[];

  constructor(
    store: ParamStore,
    readonly modalities: Modality[],
    dim: number,
    hidden: number,
    layers: number,
    private readonly backend?: OpBackend,
  ) {
    this.contexts = modalities.map((m) => new Lstm(store, 'cpc', `cpc.${m}_ar_lstm`, dim, hidden, layers));
    this.predictors = modalities.map((m) => new Linear(store, 'cpc', `cpc.${m}_predictors.0`, hidden, dim));
  }

  /**
   * z: [B,T,D] per modality (model order); the context covers steps 0..tSample and predicts tSample+1.
   * `gather` maps this process's targets and predictions to the whole batch's before InfoNCE
   * compares them (data-parallel training; the identity otherwise).
   */
  forward(z: Tensor3D[], tSample: number, gather: (x: tf.Tensor2D) => tf.Tensor2D = (x) => x): CpcResult {
    const [b, t, d] = z[0].shape;
    if (!Number.isInteger(tSample) || tSample < 0 || tSample > t - 2) {
      throw new RangeError(
        `CrossCpc.forward: tSample must be an integer in [0, ${t - 2}] for T = ${t}, got ${String(tSample)}`,
      );
    }
    const targets = z.map((zm) => tf.reshape(tf.slice(zm, [0, tSample + 1, 0], [b, 1, d]), [b, d]) as tf.Tensor2D);
    const preds = z.map((zm, i) => {
      const context = this.contexts[i].apply(tf.slice(zm, [0, 0, 0], [b, tSample + 1, d]));
      const last = tf.reshape(tf.slice(context, [0, tSample, 0], [b, 1, this.contexts[i].hidden]), [
        b,
        this.contexts[i].hidden,
      ]);
      return this.predictors[i].apply(last) as tf.Tensor2D;
    });
    const weights = this.modalities.flatMap((_, m) =>
      this.modalities.map((__, n) => (m === n ? CPC_SAME_WEIGHT : CPC_CROSS_WEIGHT)),
    );
    // z comes from the model's encoders in a training step, whose loss-term check refuses a
    // non-finite loss before any state changes: no finiteness scan (a device read on cuda) here.
    return infoNceLossTrusted(targets.map(gather), preds.map(gather), weights, this.backend);
  }
}
