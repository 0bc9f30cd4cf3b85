// Optional text front (docs/algorithm.md §2 "Text input"): a bidirectional LSTM over the segment axis that turns
// per-segment sentence embeddings (768-d BERT in the paper) into the textDim features the text
// encoders see. Trained with the model.
import type { Tensor } from '@tensorflow/tfjs-core';
import type { TextFrontConfig } from './config.js';
import { Lstm } from './layers/lstm.js';
import type { ParamStore } from './params.js';

export class TextFront {
  private readonly lstm: Lstm;

  constructor(store: ParamStore, front: TextFrontConfig) {
    this.lstm = new Lstm(store, 'front.text', 'front.text.lstm', front.inputDim, front.hidden, front.layers, true);
  }

  /** [B, T, inputDim] -> [B, T, 2*hidden] */
  apply(text: Tensor): Tensor {
    return this.lstm.apply(text);
  }
}
