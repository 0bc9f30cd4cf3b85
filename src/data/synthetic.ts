// The embedded synthetic generator: paired clips of K modalities whose only shared content is a
// per-segment semantic latent (an event class prototype, or background). Each modality sees that
// latent through its own random linear map, plus a per-clip style vector (its own nuisance, drawn
// independently of the label) and noise. Some event segments show the event in one modality only,
// as in AVE. A head trained on one modality's raw features therefore cannot read another's: cross-
// modal transfer has to go through the shared semantics. Everything is drawn from one seeded Rng.
import { Rng } from '../util/rng.js';
import { fieldFailureIn } from '../util/validate.js';
import { InMemoryDataset } from './dataset.js';
import { InvalidInputError } from './errors.js';

export const SYNTHETIC_MODALITIES = ['audio', 'video', 'text'] as const;
export type SyntheticModality = (typeof SYNTHETIC_MODALITIES)[number];

export interface SyntheticConfig {
  name: string;
  modalities: SyntheticModality[];
  numClips: number;
  numClasses: number;
  /** Segments per clip, T. */
  segments: number;
  /** Per-segment feature shape: audio and text [dim], video [H, W, C]. */
  featureShapes: Record<SyntheticModality, number[]>;
  /** Size of the shared semantic latent. */
  latentDim: number;
  /** Size of each modality's nuisance (style) latent. */
  styleDim: number;
  /** Inclusive [min, max] length in segments of a clip's contiguous event. */
  eventLength: [number, number];
  /** Fraction of event segments present in one (random) modality only. */
  misalignedFraction: number;
  /** Std of the per-segment variation of the semantic latent (shared by the modalities). */
  semanticJitter: number;
  /** Std of the per-clip style latent. */
  nuisanceScale: number;
  /** Std of the independent per-element noise. */
  noiseStd: number;
  /** Fractions of clips in train, val and test (normalised). */
  splitFractions: { train: number; val: number; test: number };
  seed: number;
}

/** Small enough for tests and the demo, and learnable in a few epochs. */
export const SMALL_SYNTHETIC: SyntheticConfig = {
  name: 'synthetic-small',
  modalities: ['audio', 'video'],
  numClips: 1000,
  numClasses: 8,
  segments: 10,
  featureShapes: { audio: [32], video: [4, 4, 16], text: [32] },
  latentDim: 16,
  styleDim: 8,
  eventLength: [3, 8],
  misalignedFraction: 0.2,
  semanticJitter: 0.3,
  nuisanceScale: 0.7,
  noiseStd: 0.3,
  splitFractions: { train: 0.7, val: 0.1, test: 0.2 },
  seed: 0,
};

/** The published feature shapes: audio 128, video 7x7x512, text 256. */
export const PAPER_SHAPED_SYNTHETIC: SyntheticConfig = {
  ...SMALL_SYNTHETIC,
  name: 'synthetic-paper-shapes',
  featureShapes: { audio: [128], video: [7, 7, 512], text: [256] },
  latentDim: 32,
  styleDim: 16,
};

export type SyntheticOptions = Partial<Omit<SyntheticConfig, 'featureShapes'>> & {
  featureShapes?: Partial<Record<SyntheticModality, number[]>>;
};

function resolveConfig(options: SyntheticOptions): SyntheticConfig {
  // An option explicitly set to undefined keeps its default.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const config: SyntheticConfig = {
    ...SMALL_SYNTHETIC,
    ...given,
    featureShapes: { ...SMALL_SYNTHETIC.featureShapes, ...options.featureShapes },
  };
  const fail = fieldFailureIn('generateSynthetic', InvalidInputError);
  const positiveInt = (value: number, field: string) => {
    if (!Number.isInteger(value) || value < 1) fail(field, `must be a positive integer, got ${value}`);
  };
  const nonNegative = (value: number, field: string) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      fail(field, `must be a finite number >= 0, got ${value}`);
  };
  if (config.modalities.length === 0) fail('modalities', 'is empty');
  for (const m of config.modalities) {
    if (!SYNTHETIC_MODALITIES.includes(m))
      fail('modalities', `has unknown modality '${m}' (known: ${SYNTHETIC_MODALITIES.join(', ')})`);
  }
  if (new Set(config.modalities).size !== config.modalities.length) fail('modalities', 'has duplicates');
  for (const m of config.modalities) {
    const shape = config.featureShapes[m];
    const rank = m === 'video' ? 3 : 1;
    if (!Array.isArray(shape) || shape.length !== rank) fail(`featureShapes.${m}`, `must have ${rank} dimension(s)`);
    shape.forEach((d, i) => positiveInt(d, `featureShapes.${m}[${i}]`));
  }
  positiveInt(config.numClips, 'numClips');
  if (config.numClasses < 2 || !Number.isInteger(config.numClasses))
    fail('numClasses', `must be an integer >= 2, got ${config.numClasses}`);
  positiveInt(config.segments, 'segments');
  positiveInt(config.latentDim, 'latentDim');
  positiveInt(config.styleDim, 'styleDim');
  const [minLength, maxLength] = config.eventLength;
  if (
    !Number.isInteger(minLength) ||
    !Number.isInteger(maxLength) ||
    minLength < 1 ||
    maxLength < minLength ||
    maxLength > config.segments
  ) {
    fail('eventLength', `must be integers 1 <= min <= max <= segments, got [${config.eventLength.join(', ')}]`);
  }
  if (!(config.misalignedFraction >= 0 && config.misalignedFraction <= 1))
    fail('misalignedFraction', 'must be in [0, 1]');
  nonNegative(config.semanticJitter, 'semanticJitter');
  nonNegative(config.nuisanceScale, 'nuisanceScale');
  nonNegative(config.noiseStd, 'noiseStd');
  const { train, val, test } = config.splitFractions;
  [train, val, test].forEach((f, i) => nonNegative(f, `splitFractions.${['train', 'val', 'test'][i]}`));
  if (train + val + test <= 0) fail('splitFractions', 'must not all be zero');
  if (!Number.isSafeInteger(config.seed)) fail('seed', `must be a safe integer, got ${config.seed}`);
  return config;
}

const TWO_POW_32 = 4294967296;

/**
 * Standard normal draws from a seeded Rng, both Box-Muller outputs used and 32-bit uniforms: the
 * per-element noise of paper-sized video is tens of millions of draws, 4x cheaper this way.
 */
class Gaussian {
  private spare: number | undefined;
  constructor(private readonly rng: Rng) {}

  next(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u1 = (this.rng.nextUint32() + 1) / TWO_POW_32; // (0, 1]: the log stays finite
    const angle = (2 * Math.PI * this.rng.nextUint32()) / TWO_POW_32;
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

function gaussianMatrix(gaussian: Gaussian, rows: number, cols: number, std: number): Float32Array {
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = gaussian.next() * std;
  return m;
}

/** out[r] = sum_k matrix[r, k] * v[k], with matrix [rows, v.length]. */
function multiply(matrix: Float32Array, v: Float32Array, rows: number): Float32Array {
  const cols = v.length;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += matrix[r * cols + k] * v[k];
    out[r] = sum;
  }
  return out;
}

/** How one modality renders a semantic latent and its clip's style. */
interface ModalityView {
  /** [channels, latentDim] */
  semanticMap: Float32Array;
  /** [channels, styleDim] */
  styleMap: Float32Array;
  channels: number;
  /** H*W cells for video, 1 otherwise. */
  cells: number;
  gridSide: [number, number];
}

function makeView(gaussian: Gaussian, modality: SyntheticModality, config: SyntheticConfig): ModalityView {
  const shape = config.featureShapes[modality];
  const channels = shape[shape.length - 1];
  const gridSide: [number, number] = modality === 'video' ? [shape[0], shape[1]] : [1, 1];
  return {
    // Unit-variance features for a unit-variance latent.
    semanticMap: gaussianMatrix(gaussian, channels, config.latentDim, 1 / Math.sqrt(config.latentDim)),
    styleMap: gaussianMatrix(gaussian, channels, config.styleDim, 1 / Math.sqrt(config.styleDim)),
    channels,
    cells: gridSide[0] * gridSide[1],
    gridSide,
  };
}

/** A per-clip spatial blob (peak 1) at a random cell: where the "object" is; independent of the label. */
function spatialMask(rng: Rng, [h, w]: [number, number]): Float32Array {
  const mask = new Float32Array(h * w);
  if (h * w === 1) {
    mask[0] = 1;
    return mask;
  }
  const cy = rng.next() * (h - 1);
  const cx = rng.next() * (w - 1);
  const width = Math.max(h, w) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) mask[y * w + x] = Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * width * width));
  }
  return mask;
}

/**
 * Generates a paired dataset. Deterministic under `seed`. Shared segment labels mark segments whose
 * event is present in every modality (AVE's audio-visual event); each modality also has its own.
 */
export function generateSynthetic(options: SyntheticOptions = {}): InMemoryDataset {
  const config = resolveConfig(options);
  const { numClips: n, segments: t, numClasses: c, latentDim, styleDim, modalities } = config;
  const rng = new Rng(config.seed);
  const gaussian = new Gaussian(rng);

  // Class prototypes 0..C-1, then background at index C.
  const prototypes = Array.from({ length: c + 1 }, () => gaussianMatrix(gaussian, 1, latentDim, 1));
  const views = modalities.map((m) => makeView(gaussian, m, config));

  const features = modalities.map((m) => {
    const perSegment = config.featureShapes[m].reduce((a, b) => a * b, 1);
    return new Float32Array(n * t * perSegment);
  });
  const clipLabels = new Int32Array(n);
  const sharedLabels = new Uint8Array(n * t * c);
  const ownLabels = modalities.map(() => new Uint8Array(n * t * c));

  const latent = new Float32Array(latentDim);
  for (let clip = 0; clip < n; clip++) {
    const label = rng.int(c);
    clipLabels[clip] = label;
    const length = config.eventLength[0] + rng.int(config.eventLength[1] - config.eventLength[0] + 1);
    const start = rng.int(t - length + 1);
    const styles = views.map((view) => {
      const style = gaussianMatrix(gaussian, 1, styleDim, config.nuisanceScale);
      return { offset: multiply(view.styleMap, style, view.channels), mask: spatialMask(rng, view.gridSide) };
    });
    for (let s = 0; s < t; s++) {
      const inEvent = s >= start && s < start + length;
      // Which modalities show the event in this segment.
      let present = modalities.map(() => inEvent);
      if (inEvent && modalities.length > 1 && rng.next() < config.misalignedFraction) {
        const keeper = rng.int(modalities.length);
        present = modalities.map((_, k) => k === keeper);
      }
      // One jitter draw shared by every modality: paired segments carry the same content.
      const jitter = gaussianMatrix(gaussian, 1, latentDim, config.semanticJitter);
      if (present.every(Boolean)) sharedLabels[(clip * t + s) * c + label] = 1;
      views.forEach((view, k) => {
        const prototype = prototypes[present[k] ? label : c];
        for (let d = 0; d < latentDim; d++) latent[d] = prototype[d] + jitter[d];
        if (present[k]) ownLabels[k][(clip * t + s) * c + label] = 1;
        const semantic = multiply(view.semanticMap, latent, view.channels);
        const { offset, mask } = styles[k];
        const out = features[k];
        let at = (clip * t + s) * view.cells * view.channels;
        for (let cell = 0; cell < view.cells; cell++) {
          for (let ch = 0; ch < view.channels; ch++) {
            out[at++] = mask[cell] * semantic[ch] + offset[ch] + config.noiseStd * gaussian.next();
          }
        }
      });
    }
  }

  const order = rng.permutation(n);
  const { train, val, test } = config.splitFractions;
  const total = train + val + test;
  const trainEnd = Math.round((n * train) / total);
  const valEnd = trainEnd + Math.round((n * val) / total);
  const sorted = (a: Int32Array) => a.slice().sort();
  return new InMemoryDataset({
    name: config.name,
    classes: Array.from({ length: c }, (_, k) => `event_${k}`),
    modalities: Object.fromEntries(
      modalities.map((m, k) => [m, { data: features[k], shape: [n, t, ...config.featureShapes[m]] }]),
    ),
    clipLabels,
    segmentLabels: sharedLabels,
    modalitySegmentLabels: Object.fromEntries(modalities.map((m, k) => [m, ownLabels[k]])),
    splits: {
      train: sorted(order.subarray(0, trainEnd)),
      val: sorted(order.subarray(trainEnd, valEnd)),
      test: sorted(order.subarray(valEnd)),
    },
  });
}

/** The resolved configuration `generateSynthetic(options)` would use (for logs and manifests). */
export function syntheticConfig(options: SyntheticOptions = {}): SyntheticConfig {
  return resolveConfig(options);
}
