// The Uni-Code model: per-modality semantic and specific encoders, decoders, CLUB nets, Cross-CPC
// and the shared codebook, built from one config and one seed. Parameters are created in a fixed
// order from the seeded Rng, so the same (config, seed) always gives the same weights.
import type { Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import type { OpBackend } from '../backend.js';
import { tf } from '../tfjs.js';
import { Rng } from '../util/rng.js';
import { Club } from './club.js';
import {
  type ModelConfig,
  type Modality,
  clubFeatureDim,
  inputShapeOf,
  modalitiesOf,
  validateConfig,
} from './config.js';
import { CrossCpc } from './crossCpc.js';
import { type Decoder, DenseDecoder, VideoDecoder } from './decoder.js';
import { type ForwardContext, INFERENCE } from './layers/context.js';
import { ParamStore } from './params.js';
import { SemanticEncoder } from './semanticEncoder.js';
import { type AllReduce, SharedCodebook } from './sharedCodebook.js';
import { DenseSpecificEncoder, type SpecificEncoder, VideoSpecificEncoder } from './specificEncoder.js';
import { TextFront } from './textFront.js';

export interface UniCodeModelOptions {
  /** Seeds the weight and codebook init (safe integer). */
  seed: number;
  /** Op backend for quantize / MM-EMA / code matching / InfoNCE (default: the fastest usable). */
  backend?: OpBackend;
  /** Data-parallel hook for the codebook statistics (see SharedCodebook). */
  allReduce?: AllReduce;
}

export class UniCodeModel {
  readonly config: ModelConfig;
  readonly seed: number;
  readonly modalities: Modality[];
  readonly params: ParamStore;
  readonly codebook: SharedCodebook;
  readonly cpc: CrossCpc | null;
  private readonly textFront: TextFront | null;
  private readonly semantic = new Map<Modality, SemanticEncoder>();
  private readonly specific = new Map<Modality, SpecificEncoder>();
  private readonly decoders = new Map<Modality, Decoder>();
  private readonly clubs = new Map<Modality, Club>();
  private disposed = false;

  constructor(config: ModelConfig, options: UniCodeModelOptions) {
    validateConfig(config);
    if (options === null || typeof options !== 'object' || !Number.isSafeInteger(options.seed)) {
      throw new TypeError(`UniCodeModel: options.seed must be a safe integer, got ${String(options?.seed)}`);
    }
    this.config = structuredClone(config);
    this.seed = options.seed;
    this.modalities = modalitiesOf(config.modalities);
    const rng = new Rng(options.seed);
    const store = new ParamStore(rng);
    this.params = store;
    const d = config.embeddingDim;
    this.textFront =
      config.textFront && this.modalities.includes('text') ? new TextFront(store, config.textFront) : null;
    for (const m of this.modalities)
      this.semantic.set(m, new SemanticEncoder(store, config, m, this.encoderInputDim(m)));
    for (const m of this.modalities) {
      this.specific.set(
        m,
        m === 'video'
          ? new VideoSpecificEncoder(store, config)
          : new DenseSpecificEncoder(store, m, this.encoderInputDim(m), config.specificDim),
      );
    }
    for (const m of this.modalities) {
      // As published, the text decoder rebuilds the front's output (not detached), not the raw embedding.
      this.decoders.set(
        m,
        m === 'video' ? new VideoDecoder(store, config) : new DenseDecoder(store, config, m, this.encoderInputDim(m)),
      );
    }
    if (config.useClub) {
      for (const m of this.modalities)
        this.clubs.set(m, new Club(store, `club.${m}`, `club.${m}`, d, clubFeatureDim(config, m), config.clubHidden));
    }
    this.cpc = config.useCpc
      ? new CrossCpc(store, this.modalities, d, config.cpcHidden, config.cpcLayers, options.backend)
      : null;
    this.codebook = new SharedCodebook(
      {
        size: config.codebookSize,
        dim: d,
        modalities: this.modalities,
        segmentsPerClip: config.segments,
        commitment: config.commitment,
        decay: config.decay,
        epsilon: config.epsilon,
        deadAfter: config.deadAfter,
        activeBelow: config.activeBelow,
        crossModalEma: config.crossModalEma,
        useCmcm: config.useCmcm,
        resetDeadCodes: config.resetDeadCodes,
        resetEma: config.resetEma,
        backend: options.backend,
        allReduce: options.allReduce,
      },
      rng,
    );
  }

  /** Sub-model groups trained by the main optimizer, each clipped on its own. */
  mainGroups(): string[] {
    return this.params.groups().filter((g) => !g.startsWith('club.'));
  }

  club(modality: Modality): Club {
    const club = this.clubs.get(modality);
    if (club === undefined)
      throw new Error(`UniCodeModel: no CLUB net for ${modality} (useClub is ${this.config.useClub})`);
    return club;
  }

  /** The per-segment features the encoders see: raw input, or the BiLSTM front's output for text. */
  encoderInput(modality: Modality, raw: Tensor): Tensor {
    return modality === 'text' && this.textFront !== null ? this.textFront.apply(raw) : raw;
  }

  /** Φ_m: encoder input [B,T,...] -> z [B,T,D]. */
  semanticOf(modality: Modality, features: Tensor, ctx: ForwardContext): Tensor3D {
    return this.encoderOf(this.semantic, modality).apply(features, ctx) as Tensor3D;
  }

  /** ψ_m and CLUB's y for encoder input [B,T,...]. */
  specificOf(modality: Modality, features: Tensor) {
    return this.encoderOf(this.specific, modality).apply(features);
  }

  /** Reconstruction of the encoder input (see encoderInput) from ψ_m and the (straight-through) code. */
  decode(modality: Modality, psi: Tensor, code: Tensor): Tensor {
    return this.encoderOf(this.decoders, modality).apply(psi, code);
  }

  /**
   * Frozen-model encoding of raw features [B,T,...] (downstream use): codes [B,T] and quantized [B,T,D].
   * No dropout, no state change.
   */
  encode(modality: Modality, raw: Tensor): { codes: Tensor2D; quantized: Tensor3D } {
    this.checkRaw(modality, raw);
    const z = tf.tidy(() => this.semanticOf(modality, this.encoderInput(modality, raw), INFERENCE));
    try {
      return this.codebook.encode(z);
    } finally {
      z.dispose();
    }
  }

  /** Throws unless `raw` is a float32 tensor [B,T,...] matching the config for `modality`. */
  checkRaw(modality: Modality, raw: unknown): void {
    if (!this.modalities.includes(modality)) {
      throw new Error(
        `UniCodeModel: modality '${String(modality)}' is not in this model (${this.modalities.join(', ')})`,
      );
    }
    const expected = [this.config.segments, ...inputShapeOf(this.config, modality)];
    if (!(raw instanceof tf.Tensor) || raw.dtype !== 'float32')
      throw new TypeError(`${modality}: expected a float32 tensor [B, ${expected.join(', ')}]`);
    if (
      raw.rank !== expected.length + 1 ||
      raw.shape.slice(1).some((v: number, i: number) => v !== expected[i]) ||
      raw.shape[0] < 1
    ) {
      throw new RangeError(`${modality}: expected shape [B, ${expected.join(', ')}], got [${raw.shape.join(', ')}]`);
    }
  }

  /** Frees every weight and the codebook; disposing twice is harmless. */
  dispose(): void {
    this.params.dispose();
    this.codebook.dispose();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private encoderInputDim(m: Modality): number {
    if (m === 'audio') return this.config.audioDim;
    if (m === 'text') return this.config.textDim;
    return this.config.video.channels;
  }

  private encoderOf<T>(map: Map<Modality, T>, modality: Modality): T {
    const found = map.get(modality);
    if (found === undefined)
      throw new Error(
        `UniCodeModel: modality '${String(modality)}' is not in this model (${this.modalities.join(', ')})`,
      );
    return found;
  }
}
