// Φ_m (docs/algorithm.md §2): features -> [B, T, D]. A Linear to D then the post-norm transformer over T;
// video is first pooled over its grid by the spatial attention pool.
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ModelConfig, Modality } from './config.js';
import type { ForwardContext } from './layers/context.js';
import { Linear } from './layers/linear.js';
import { TransformerEncoder } from './layers/transformer.js';
import type { ParamStore } from './params.js';
import { SpatialAttentionPool } from './spatialAttentionPool.js';

export class SemanticEncoder {
  private readonly pool: SpatialAttentionPool | null;
  private readonly projection: Linear;
  private readonly transformer: TransformerEncoder;

  /** `featureDim`: what the encoder sees per segment (audioDim, textDim or video channels). */
  constructor(
    store: ParamStore,
    config: ModelConfig,
    readonly modality: Modality,
    featureDim: number,
  ) {
    const group = `semantic.${modality}`;
    this.pool = modality === 'video' ? new SpatialAttentionPool(store, group, `${group}.pool`, featureDim) : null;
    this.projection = new Linear(store, group, `${group}.proj`, featureDim, config.embeddingDim);
    this.transformer = new TransformerEncoder(
      store,
      group,
      `${group}.transformer`,
      config.embeddingDim,
      config.transformer,
    );
  }

  apply(features: Tensor, ctx: ForwardContext): Tensor {
    const pooled = this.pool === null ? features : this.pool.apply(features);
    return this.transformer.apply(this.projection.apply(pooled), ctx);
  }
}
