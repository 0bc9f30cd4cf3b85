// The clip composer. Planning draws, from one seeded Rng, everything a clip is made of: its split,
// event class and contiguous event run, its speaker (voice, pitch, speed), loudness, noise floor
// and lighting, and per segment which modalities show the event (some event segments show it in
// one modality only, as in AVE) and what each modality holds: a spoken word, silence or a noise
// burst; an image of the class, of another class, or a blank frame; a one-line description.
// Rendering turns a plan into features; it depends only on the plan, so plans are the provenance.
import { Rng } from '../../util/rng.js';
import { InvalidInputError } from '../errors.js';
import { type SegmentAudioFeatures, mixSegment } from './audioFeatures.js';
import type { AvFashionConfig, Range } from './config.js';
import type { SpeechStyle, UtteranceBank } from './espeak.js';
import { FASHION_MNIST_SIDE, type FashionMnistImages, type FashionMnistPart } from './fashionMnist.js';
import { GRID, type Lighting, VIDEO_CHANNELS, patchGridFeatures, renderFrame } from './imageFeatures.js';
import { hashedNgramEmbedding } from './textFeatures.js';

export const AV_FASHION_MODALITIES = ['audio', 'video', 'text'] as const;
export type AvFashionModality = (typeof AV_FASHION_MODALITIES)[number];

export interface ImageRef {
  part: FashionMnistPart;
  index: number;
}

export type AudioContent =
  | { kind: 'word'; word: string; offset: number }
  | { kind: 'silence' }
  | { kind: 'noise'; levelDb: number };
export type VideoContent = { kind: 'image'; image: ImageRef; shift: [number, number] } | { kind: 'blank' };

export interface SegmentPlan {
  /** Which modalities show the clip's event in this segment. */
  event: Record<AvFashionModality, boolean>;
  audio: AudioContent;
  video: VideoContent;
  text: string;
}

export interface ClipPlan {
  split: string;
  /** Index into config.classes. */
  label: number;
  event: { start: number; length: number };
  speaker: SpeechStyle;
  gainDb: number;
  noiseFloorDb: number;
  lighting: Lighting;
  /** Seeds the clip's audio and pixel noise. */
  noiseSeed: number;
  segments: SegmentPlan[];
}

/** Per split, per class (index into config.classes), the images that may show it. */
export type ImagePools = Record<string, Int32Array[]>;

/** Groups each split's image range by class; every class needs an image in every split that gets clips. */
export function imagePools(config: AvFashionConfig, images: Record<FashionMnistPart, FashionMnistImages>): ImagePools {
  const pools: ImagePools = {};
  for (const [name, split] of Object.entries(config.splits)) {
    const { part, from, to } = split.images;
    const source = images[part];
    if (to > source.count) {
      throw new InvalidInputError(
        `av-fashion config: 'splits.${name}.images.to' is ${to}, but Fashion-MNIST '${part}' has ${source.count} images`,
      );
    }
    pools[name] = config.classes.map((c, k) => {
      const pool: number[] = [];
      for (let i = from; i < to; i++) if (source.labels[i] === c.fashionMnistLabel) pool.push(i);
      if (pool.length === 0 && split.fraction > 0) {
        throw new InvalidInputError(
          `av-fashion config: 'splits.${name}.images' (${part} [${from}, ${to})) holds no image of class ${k} '${c.name}'`,
        );
      }
      return Int32Array.from(pool);
    });
  }
  return pools;
}

/** The (voice, pitch, speed) combinations a split's speakers use. */
export function speechStyles(config: AvFashionConfig, split: string): SpeechStyle[] {
  const { pitches, speeds } = config.speech;
  return config.splits[split].voices.flatMap((voice) =>
    pitches.flatMap((pitch) => speeds.map((speed) => ({ voice, pitch, speed }))),
  );
}

const uniform = (rng: Rng, [low, high]: Range) => low + (high - low) * rng.next();
const pick = <T>(rng: Rng, items: ArrayLike<T>): T => items[rng.int(items.length)];
const fillTemplate = (template: string, word: string) => template.replace('{word}', word);

/** Clip counts per split, in config order: the fractions of numClips, rounded, summing to numClips. */
function splitCounts(config: AvFashionConfig): [string, number][] {
  const names = Object.keys(config.splits);
  const total = names.reduce((sum, s) => sum + config.splits[s].fraction, 0);
  let assigned = 0;
  return names.map((s, i) => {
    const count =
      i === names.length - 1
        ? config.numClips - assigned
        : Math.round((config.numClips * config.splits[s].fraction) / total);
    assigned += count;
    return [s, count];
  });
}

/** Plans every clip of a build. Deterministic under config.seed. */
export function planClips(config: AvFashionConfig, pools: ImagePools): ClipPlan[] {
  const rng = new Rng(config.seed);
  const splitOfClip: string[] = [];
  for (const [name, count] of splitCounts(config)) for (let i = 0; i < count; i++) splitOfClip.push(name);
  const order = rng.permutation(config.numClips);
  const numClasses = config.classes.length;
  const { speech, video, text } = config;
  const backgroundKinds = [speech.background.silence, speech.background.noise, speech.background.words];
  const backgroundTotal = backgroundKinds[0] + backgroundKinds[1] + backgroundKinds[2];

  const otherClass = (label: number) => (label + 1 + rng.int(numClasses - 1)) % numClasses;
  const shift = (): [number, number] => [
    rng.int(2 * video.maxShift + 1) - video.maxShift,
    rng.int(2 * video.maxShift + 1) - video.maxShift,
  ];

  return Array.from(order, (slot) => {
    const split = splitOfClip[slot];
    const pool = pools[split];
    const label = rng.int(numClasses);
    const length = config.eventLength[0] + rng.int(config.eventLength[1] - config.eventLength[0] + 1);
    const start = rng.int(config.segments - length + 1);
    const speaker: SpeechStyle = {
      voice: pick(rng, config.splits[split].voices),
      pitch: pick(rng, speech.pitches),
      speed: pick(rng, speech.speeds),
    };
    const gainDb = uniform(rng, speech.gainDb);
    const noiseFloorDb = uniform(rng, speech.noiseFloorDb);
    const lighting: Lighting = {
      contrast: uniform(rng, video.contrast),
      brightness: uniform(rng, video.brightness),
      gamma: uniform(rng, video.gamma),
    };
    const noiseSeed = rng.nextUint32();
    const words = config.classes[label].words;

    const segments = Array.from({ length: config.segments }, (_, s): SegmentPlan => {
      const inEvent = s >= start && s < start + length;
      let event = { audio: inEvent, video: inEvent, text: inEvent };
      if (inEvent && rng.next() < config.misalignedFraction) {
        const keeper = pick(rng, AV_FASHION_MODALITIES);
        event = { audio: keeper === 'audio', video: keeper === 'video', text: keeper === 'text' };
      }
      let audio: AudioContent;
      if (event.audio) audio = { kind: 'word', word: pick(rng, words), offset: rng.next() };
      else {
        const r = rng.next() * backgroundTotal;
        if (r < backgroundKinds[0]) audio = { kind: 'silence' };
        else if (r < backgroundKinds[0] + backgroundKinds[1])
          audio = { kind: 'noise', levelDb: uniform(rng, speech.noiseBurstDb) };
        else audio = { kind: 'word', word: pick(rng, speech.backgroundWords), offset: rng.next() };
      }
      let videoContent: VideoContent;
      if (event.video)
        videoContent = {
          kind: 'image',
          image: { part: config.splits[split].images.part, index: pick(rng, pool[label]) },
          shift: shift(),
        };
      else if (rng.next() < video.blankFraction) videoContent = { kind: 'blank' };
      else
        videoContent = {
          kind: 'image',
          image: { part: config.splits[split].images.part, index: pick(rng, pool[otherClass(label)]) },
          shift: shift(),
        };
      const description = event.text
        ? fillTemplate(pick(rng, text.eventTemplates), pick(rng, words))
        : fillTemplate(pick(rng, text.backgroundTemplates), pick(rng, speech.backgroundWords));
      return { event, audio, video: videoContent, text: description };
    });
    return { split, label, event: { start, length }, speaker, gainDb, noiseFloorDb, lighting, noiseSeed, segments };
  });
}

export interface RenderSources {
  images: Record<FashionMnistPart, FashionMnistImages>;
  speech: UtteranceBank;
  audioFeatures: SegmentAudioFeatures;
}

/** Per-segment feature sizes: audio and text [dim], video [7, 7, 32]. */
export function featureShapes(config: AvFashionConfig): Record<AvFashionModality, number[]> {
  return {
    audio: [config.audio.melBins * config.audio.parts],
    video: [GRID, GRID, VIDEO_CHANNELS],
    text: [config.text.dim],
  };
}

const decibels = (db: number) => 10 ** (db / 20);

/** Writes the features of clip `clip` (its plan) into the [N, T, ...] arrays of `out`. */
export function renderClip(
  plan: ClipPlan,
  clip: number,
  config: AvFashionConfig,
  sources: RenderSources,
  out: Record<AvFashionModality, Float32Array>,
): void {
  const rng = new Rng(plan.noiseSeed);
  const sizes = featureShapes(config);
  const per = (m: AvFashionModality) => sizes[m].reduce((a, b) => a * b, 1);
  const pixelNoise = new Float32Array(FASHION_MNIST_SIDE * FASHION_MNIST_SIDE);
  const { sampleRate } = sources.speech;
  plan.segments.forEach((segment, s) => {
    const row = clip * config.segments + s;

    const { audio } = segment;
    const noiseLevel = decibels(audio.kind === 'noise' ? audio.levelDb : plan.noiseFloorDb);
    const speech =
      audio.kind === 'word'
        ? {
            samples: sources.speech.get(audio.word, plan.speaker).samples,
            gain: decibels(plan.gainDb),
            offset: audio.offset,
          }
        : undefined;
    sources.audioFeatures.compute(
      mixSegment({ noiseLevel, ...(speech ? { speech } : {}) }, sampleRate, rng),
      out.audio,
      row * per('audio'),
    );

    for (let i = 0; i < pixelNoise.length; i++) pixelNoise[i] = rng.normal();
    const { video } = segment;
    const pixels =
      video.kind === 'image'
        ? sources.images[video.image.part].pixels.subarray(
            video.image.index * pixelNoise.length,
            (video.image.index + 1) * pixelNoise.length,
          )
        : null;
    const frame = renderFrame(
      pixels,
      video.kind === 'image' ? video.shift : [0, 0],
      plan.lighting,
      pixelNoise,
      config.video.noiseStd,
    );
    patchGridFeatures(frame, out.video, row * per('video'));

    out.text.set(
      hashedNgramEmbedding(segment.text, config.text.dim, config.text.ngram[0], config.text.ngram[1]),
      row * per('text'),
    );
  });
}

/** [N, T, C] multi-hot labels: of one modality, or (shared) where the event is in every modality. */
export function segmentLabels(
  plans: readonly ClipPlan[],
  numClasses: number,
  modality?: AvFashionModality,
): Uint8Array {
  const t = plans.length === 0 ? 0 : plans[0].segments.length;
  const labels = new Uint8Array(plans.length * t * numClasses);
  plans.forEach((plan, clip) =>
    plan.segments.forEach((segment, s) => {
      const present =
        modality === undefined ? AV_FASHION_MODALITIES.every((m) => segment.event[m]) : segment.event[modality];
      if (present) labels[(clip * t + s) * numClasses + plan.label] = 1;
    }),
  );
  return labels;
}
