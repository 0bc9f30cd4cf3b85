// Model configuration: which modalities, every layer width, and the ablation switches (docs/algorithm.md §2-§4).
import { MM_EMA_DEFAULTS } from '../ops/defaults.js';

export type Modality = 'audio' | 'video' | 'text';
export type ModalitySet = 'AV' | 'AT' | 'VT' | 'AVT';

/** Canonical processing order (docs/algorithm.md §3: the MM-EMA update runs a, v, t). */
export const MODALITY_ORDER: readonly Modality[] = ['audio', 'video', 'text'];

const SET_MEMBERS: Record<ModalitySet, readonly Modality[]> = {
  AV: ['audio', 'video'],
  AT: ['audio', 'text'],
  VT: ['video', 'text'],
  AVT: ['audio', 'video', 'text'],
};

/** The modalities of a set in canonical order. */
export function modalitiesOf(set: ModalitySet): Modality[] {
  return [...SET_MEMBERS[set]];
}

export interface TextFrontConfig {
  /** Per-segment embedding size fed to the BiLSTM (768 for BERT). */
  inputDim: number;
  /** Hidden size per direction; the front outputs 2*hidden = textDim. */
  hidden: number;
  layers: number;
}

export interface ModelConfig {
  name: string;
  modalities: ModalitySet;
  /** Segments per clip, T. */
  segments: number;
  /** Shared embedding size D. */
  embeddingDim: number;
  /** Codebook size M. */
  codebookSize: number;
  audioDim: number;
  /** Text features seen by the encoders (the BiLSTM front's output when textFront is set). */
  textDim: number;
  video: { height: number; width: number; channels: number };
  transformer: { layers: number; heads: number; feedForward: number; dropout: number };
  /** Video specific encoder conv widths (1024/2048 in the paper); the residual block keeps the second. */
  videoWidths: [number, number];
  /** ψ width for audio and text, and the decoders' code projection width. */
  specificDim: number;
  /** CLUB hidden size h: the MLPs are x -> h/2 -> h/2 -> h/2 -> y. */
  clubHidden: number;
  cpcHidden: number;
  cpcLayers: number;
  textFront: TextFrontConfig | null;
  commitment: number;
  decay: number;
  epsilon: number;
  deadAfter: number;
  activeBelow: number;
  useClub: boolean;
  useCpc: boolean;
  /** MM-EMA cross-modal terms; off gives the plain per-modality EMA. */
  crossModalEma: boolean;
  useCmcm: boolean;
  resetDeadCodes: boolean;
  /** Also reset ema_weight of revived codes (not the published behaviour). */
  resetEma: boolean;
  /** CLUB's MI loss reaches only the specific encoders, not the code (not the published behaviour). */
  detachMiCode: boolean;
}

/** Options newer than the checkpoint format: a checkpoint without them was trained with these values. */
export const OPTIONS_ADDED_LATER: Partial<ModelConfig> = { detachMiCode: false };

export type ConfigOverrides = Partial<Omit<ModelConfig, 'video' | 'transformer'>> & {
  video?: Partial<ModelConfig['video']>;
  transformer?: Partial<ModelConfig['transformer']>;
};

const PAPER: ModelConfig = {
  name: 'paper',
  modalities: 'AVT',
  segments: 10,
  embeddingDim: 256,
  codebookSize: 400,
  audioDim: 128,
  textDim: 256,
  video: { height: 7, width: 7, channels: 512 },
  transformer: { layers: 2, heads: 4, feedForward: 1024, dropout: 0.1 },
  videoWidths: [1024, 2048],
  specificDim: 256,
  clubHidden: 256,
  cpcHidden: 256,
  cpcLayers: 2,
  textFront: null,
  commitment: 0.25,
  decay: MM_EMA_DEFAULTS.decay,
  epsilon: MM_EMA_DEFAULTS.epsilon,
  deadAfter: MM_EMA_DEFAULTS.deadAfter,
  activeBelow: MM_EMA_DEFAULTS.activeBelow,
  useClub: true,
  useCpc: true,
  crossModalEma: true,
  useCmcm: true,
  resetDeadCodes: true,
  resetEma: false,
  detachMiCode: false,
};

const SMALL: ModelConfig = {
  ...PAPER,
  name: 'small',
  embeddingDim: 64,
  codebookSize: 96,
  audioDim: 32,
  textDim: 32,
  video: { height: 7, width: 7, channels: 32 },
  transformer: { layers: 2, heads: 4, feedForward: 128, dropout: 0.1 },
  videoWidths: [64, 128],
  specificDim: 64,
  clubHidden: 64,
  cpcHidden: 64,
};

export const NAMED_CONFIGS = { paper: PAPER, small: SMALL } as const;
export type ConfigName = keyof typeof NAMED_CONFIGS;

/** The paper's BiLSTM text front (BERT 768 -> 2 x 128). Pass as `textFront` to enable it. */
export const PAPER_TEXT_FRONT: TextFrontConfig = { inputDim: 768, hidden: 128, layers: 2 };

/** A named config with any field overridden, validated. */
export function makeConfig(name: ConfigName = 'small', overrides: ConfigOverrides = {}): ModelConfig {
  const base = NAMED_CONFIGS[name];
  if (base === undefined) {
    throw new Error(
      `makeConfig: unknown config name '${String(name)}' (expected one of ${Object.keys(NAMED_CONFIGS).join(', ')})`,
    );
  }
  if (overrides === null || typeof overrides !== 'object')
    throw new TypeError('makeConfig: overrides must be an object');
  for (const key of Object.keys(overrides)) {
    if (!(key in base)) throw new Error(`makeConfig: unknown config field '${key}'`);
  }
  const config: ModelConfig = {
    ...base,
    ...overrides,
    name: overrides.name ?? (Object.keys(overrides).length > 0 ? `${base.name}*` : base.name),
    video: { ...base.video, ...overrides.video },
    transformer: { ...base.transformer, ...overrides.transformer },
    videoWidths: [...(overrides.videoWidths ?? base.videoWidths)] as [number, number],
    textFront: overrides.textFront === undefined ? base.textFront : overrides.textFront && { ...overrides.textFront },
  };
  validateConfig(config);
  return config;
}

function positiveInt(value: unknown, field: string, min = 1): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`config.${field} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function probability(value: unknown, field: string, { openAtOne = false } = {}): void {
  if (typeof value !== 'number' || !(value >= 0) || (openAtOne ? value >= 1 : value > 1)) {
    throw new RangeError(`config.${field} must be a number in [0, ${openAtOne ? '1)' : '1]'}, got ${String(value)}`);
  }
}

/** Throws a RangeError/TypeError naming the first invalid field. */
export function validateConfig(config: ModelConfig): void {
  if (!(config.modalities in SET_MEMBERS)) {
    throw new RangeError(
      `config.modalities must be one of ${Object.keys(SET_MEMBERS).join(', ')}, got ${String(config.modalities)}`,
    );
  }
  // Cross-CPC predicts step t+1 from a context ending at t in [1, T-2].
  positiveInt(config.segments, 'segments', 3);
  positiveInt(config.embeddingDim, 'embeddingDim');
  positiveInt(config.codebookSize, 'codebookSize', 2);
  positiveInt(config.audioDim, 'audioDim');
  positiveInt(config.textDim, 'textDim');
  // Two valid 3x3 convolutions shrink the grid by 4; the decoder grows it back.
  positiveInt(config.video.height, 'video.height', 5);
  positiveInt(config.video.width, 'video.width', 5);
  positiveInt(config.video.channels, 'video.channels', 8);
  if (config.video.channels % 8 !== 0) {
    throw new RangeError(
      `config.video.channels must be divisible by 8 (squeeze-excitation uses C/8), got ${config.video.channels}`,
    );
  }
  positiveInt(config.transformer.layers, 'transformer.layers');
  positiveInt(config.transformer.heads, 'transformer.heads');
  positiveInt(config.transformer.feedForward, 'transformer.feedForward');
  probability(config.transformer.dropout, 'transformer.dropout', { openAtOne: true });
  if (config.embeddingDim % config.transformer.heads !== 0) {
    throw new RangeError(
      `config.embeddingDim (${config.embeddingDim}) must be divisible by config.transformer.heads (${config.transformer.heads})`,
    );
  }
  if (!Array.isArray(config.videoWidths) || config.videoWidths.length !== 2) {
    throw new RangeError('config.videoWidths must be a pair [first, second]');
  }
  positiveInt(config.videoWidths[0], 'videoWidths[0]');
  positiveInt(config.videoWidths[1], 'videoWidths[1]');
  positiveInt(config.specificDim, 'specificDim');
  positiveInt(config.clubHidden, 'clubHidden', 2);
  if (config.clubHidden % 2 !== 0)
    throw new RangeError(`config.clubHidden must be even (layers are h/2 wide), got ${config.clubHidden}`);
  positiveInt(config.cpcHidden, 'cpcHidden');
  positiveInt(config.cpcLayers, 'cpcLayers');
  if (config.textFront !== null) {
    if (typeof config.textFront !== 'object')
      throw new TypeError('config.textFront must be null or {inputDim, hidden, layers}');
    positiveInt(config.textFront.inputDim, 'textFront.inputDim');
    positiveInt(config.textFront.hidden, 'textFront.hidden');
    positiveInt(config.textFront.layers, 'textFront.layers');
    if (2 * config.textFront.hidden !== config.textDim) {
      throw new RangeError(
        `config.textDim (${config.textDim}) must equal 2 * textFront.hidden (${2 * config.textFront.hidden}): the BiLSTM front feeds the text encoders`,
      );
    }
  }
  if (typeof config.commitment !== 'number' || !(config.commitment >= 0) || !Number.isFinite(config.commitment)) {
    throw new RangeError(`config.commitment must be a finite number >= 0, got ${String(config.commitment)}`);
  }
  probability(config.decay, 'decay', { openAtOne: true });
  if (typeof config.epsilon !== 'number' || !(config.epsilon > 0) || !Number.isFinite(config.epsilon)) {
    throw new RangeError(`config.epsilon must be a finite number > 0, got ${String(config.epsilon)}`);
  }
  positiveInt(config.activeBelow, 'activeBelow');
  positiveInt(config.deadAfter, 'deadAfter');
  if (config.deadAfter < config.activeBelow) {
    throw new RangeError(
      `config.deadAfter (${config.deadAfter}) must be >= config.activeBelow (${config.activeBelow})`,
    );
  }
  for (const flag of [
    'useClub',
    'useCpc',
    'crossModalEma',
    'useCmcm',
    'resetDeadCodes',
    'resetEma',
    'detachMiCode',
  ] as const) {
    if (typeof config[flag] !== 'boolean')
      throw new TypeError(`config.${flag} must be a boolean, got ${String(config[flag])}`);
  }
}

/** Per-segment input shape (after B, T) of a modality's raw features. */
export function inputShapeOf(config: ModelConfig, modality: Modality): number[] {
  switch (modality) {
    case 'audio':
      return [config.audioDim];
    case 'text':
      return [config.textFront ? config.textFront.inputDim : config.textDim];
    case 'video':
      return [config.video.height, config.video.width, config.video.channels];
  }
}

/** Size of the specific feature y that CLUB pairs with the code (docs/algorithm.md §4.1). */
export function clubFeatureDim(config: ModelConfig, modality: Modality): number {
  return modality === 'video' ? config.video.channels : config.specificDim;
}
