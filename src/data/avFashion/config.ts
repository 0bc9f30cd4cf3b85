// The AV-Fashion build configuration: its type, the defaults (config/av-fashion.json, the one
// place they live), merging of a user's partial config over them, and validation with errors that
// name the field at fault.
import * as fs from 'node:fs';
import defaults from '../../../config/av-fashion.json' with { type: 'json' };
import { isPlainObject } from '../../util/json.js';
import { fieldFailureIn } from '../../util/validate.js';
import { InvalidInputError } from '../errors.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_PARTS, type FashionMnistPart } from './fashionMnist.js';

export type Range = [number, number];

export interface ClassConfig {
  /** Class name in the dataset's manifest. */
  name: string;
  /** The Fashion-MNIST label (0..9) whose images show this class. */
  fashionMnistLabel: number;
  /** Words that stand for the class in speech and in text; one is drawn per segment. */
  words: string[];
}

/** Images [from, to) of one Fashion-MNIST part. */
export interface ImageRange {
  part: FashionMnistPart;
  from: number;
  to: number;
}

export interface SplitConfig {
  /** Share of the clips (normalised over the splits). */
  fraction: number;
  /** espeak-ng voices (`language[+variant]`) of this split's speakers; no voice is in two splits. */
  voices: string[];
  /** Where this split's images come from; ranges of different splits do not overlap. */
  images: ImageRange;
}

export interface AvFashionConfig {
  name: string;
  numClips: number;
  /** Segments per clip, T (one second each). */
  segments: number;
  seed: number;
  /** Inclusive [min, max] length in segments of a clip's event. */
  eventLength: Range;
  /** Share of event segments that show the event in one modality only. */
  misalignedFraction: number;
  featureDtype: 'float32' | 'float16';
  sources: { fashionMnistDir: string; espeak: string };
  classes: ClassConfig[];
  splits: Record<string, SplitConfig>;
  speech: {
    /** espeak-ng pitches (0..99); each clip's speaker uses one. */
    pitches: number[];
    /** espeak-ng speeds in words per minute (80..450); each clip's speaker uses one. */
    speeds: number[];
    /** Per-clip gain of the speech, dB. */
    gainDb: Range;
    /** Per-clip level of the white noise under every segment, dB re full scale (RMS). */
    noiseFloorDb: Range;
    /** Words unrelated to any class, spoken in background segments. */
    backgroundWords: string[];
    /** Relative odds of the three kinds of background segment. */
    background: { silence: number; noise: number; words: number };
    /** Level of the noise of a 'noise' background segment, dB re full scale (RMS). */
    noiseBurstDb: Range;
  };
  audio: { melBins: number; parts: number; frameLength: number; hop: number; minHz: number; maxHz: number };
  video: {
    /** Share of background segments that show a blank frame rather than another class's image. */
    blankFraction: number;
    contrast: Range;
    brightness: Range;
    gamma: Range;
    /** Largest shift in pixels of an image within its frame, per axis. */
    maxShift: number;
    /** Std of the per-pixel noise, in units of full scale. */
    noiseStd: number;
  };
  text: {
    dim: number;
    /** Inclusive [min, max] character n-gram length. */
    ngram: Range;
    /** Descriptions of a segment showing the event; `{word}` is replaced by a word of the class. */
    eventTemplates: string[];
    /** Descriptions of a background segment; `{word}`, if present, by a background word. */
    backgroundTemplates: string[];
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** The defaults, from config/av-fashion.json (frozen: every build starts from the same ones). */
export const AV_FASHION_DEFAULTS: AvFashionConfig = deepFreeze(
  validateAvFashionConfig(defaults, 'config/av-fashion.json'),
);

/** Any part of a config: objects merge field by field into the defaults, arrays and values replace, null removes. */
export type AvFashionOverrides = {
  [K in keyof AvFashionConfig]?: AvFashionConfig[K] extends unknown[]
    ? AvFashionConfig[K]
    : AvFashionConfig[K] extends object
      ? { [F in keyof AvFashionConfig[K]]?: unknown }
      : AvFashionConfig[K];
};

/**
 * `over` merged into `base`: plain objects field by field (recursively), anything else replaced;
 * a null field removes it (e.g. a split). Unknown fields are kept for validation to refuse.
 */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else out[key] = merge(base[key], value);
  }
  return out;
}

/**
 * The config of a build: the defaults, then the JSON file `configFile` (if any), then `overrides`,
 * validated. Errors name the file and the field.
 */
export function resolveAvFashionConfig(configFile?: string, overrides: AvFashionOverrides = {}): AvFashionConfig {
  let merged: unknown = AV_FASHION_DEFAULTS;
  let where = 'av-fashion config';
  if (configFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(configFile, 'utf8');
    } catch (err) {
      throw new InvalidInputError(
        `config file ${configFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InvalidInputError(`config file ${configFile}: not valid JSON (${(err as Error).message})`);
    }
    if (!isPlainObject(parsed)) throw new InvalidInputError(`config file ${configFile}: must hold a JSON object`);
    merged = merge(merged, parsed);
    where = `config file ${configFile}`;
  }
  return validateAvFashionConfig(merge(merged, overrides), where);
}

/** Checks every field of a complete config; `where` prefixes the messages. */
export function validateAvFashionConfig(raw: unknown, where: string): AvFashionConfig {
  const fail = fieldFailureIn(where, InvalidInputError);
  const object = (value: unknown, field: string, keys: readonly string[]): Record<string, unknown> => {
    if (!isPlainObject(value)) return fail(field, 'must be an object');
    const unknown = Object.keys(value).find((k) => !keys.includes(k));
    if (unknown !== undefined)
      fail(`${field === '' ? '' : `${field}.`}${unknown}`, `is not a known field (known: ${keys.join(', ')})`);
    for (const k of keys) if (value[k] === undefined) fail(`${field === '' ? '' : `${field}.`}${k}`, 'is missing');
    return value;
  };
  const number = (value: unknown, field: string, min: number, max: number, integer = false): number => {
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      fail(field, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const range = (value: unknown, field: string, min: number, max: number, integer = false): Range => {
    if (!Array.isArray(value) || value.length !== 2)
      return fail(field, `must be a pair [low, high], got ${JSON.stringify(value)}`);
    const [low, high] = [
      number(value[0], `${field}[0]`, min, max, integer),
      number(value[1], `${field}[1]`, min, max, integer),
    ];
    if (low > high) fail(field, `must have low <= high, got [${low}, ${high}]`);
    return [low, high];
  };
  const list = <T>(value: unknown, field: string, item: (v: unknown, f: string) => T, { unique = true } = {}): T[] => {
    if (!Array.isArray(value) || value.length === 0) return fail(field, 'must be a non-empty array');
    const items = value.map((v, i) => item(v, `${field}[${i}]`));
    if (unique && new Set(items.map((v) => JSON.stringify(v))).size !== items.length) fail(field, 'has duplicates');
    return items;
  };
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value.trim() === '')
      fail(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
    return value as string;
  };
  // Words and templates of any language, in NFC so that a letter typed precomposed or as base plus
  // combining mark is the same word. Control characters (tabs, newlines, NUL, ...) never belong.
  const written = (value: unknown, field: string): string => {
    const t = text(value, field).normalize('NFC');
    if (/\p{Cc}/u.test(t)) fail(field, `must not contain control characters, got ${JSON.stringify(t)}`);
    return t;
  };
  // Spoken words: letters (any script, with their combining marks) and single inner spaces,
  // hyphens or apostrophes only. Punctuation would make espeak-ng pause inside a word, and SSML
  // markup would be interpreted.
  const word = (value: unknown, field: string): string => {
    const w = written(value, field);
    if (!/^(?:\p{L}\p{M}*)+(?:[ '-](?:\p{L}\p{M}*)+)*$/u.test(w)) {
      fail(field, `must be letters, with single inner spaces, hyphens or apostrophes, got ${JSON.stringify(w)}`);
    }
    return w.toLowerCase();
  };

  const top = object(raw, '', [
    'name',
    'numClips',
    'segments',
    'seed',
    'eventLength',
    'misalignedFraction',
    'featureDtype',
    'sources',
    'classes',
    'splits',
    'speech',
    'audio',
    'video',
    'text',
  ]);
  const name = text(top.name, 'name');
  const numClips = number(top.numClips, 'numClips', 1, 10_000_000, true);
  const segments = number(top.segments, 'segments', 1, 1000, true);
  const seed = number(top.seed, 'seed', 0, Number.MAX_SAFE_INTEGER, true);
  const eventLength = range(top.eventLength, 'eventLength', 1, segments, true);
  const misalignedFraction = number(top.misalignedFraction, 'misalignedFraction', 0, 1);
  if (top.featureDtype !== 'float32' && top.featureDtype !== 'float16')
    fail('featureDtype', `must be "float32" or "float16", got ${JSON.stringify(top.featureDtype)}`);
  const sourcesRaw = object(top.sources, 'sources', ['fashionMnistDir', 'espeak']);
  const sources = {
    fashionMnistDir: text(sourcesRaw.fashionMnistDir, 'sources.fashionMnistDir'),
    espeak: text(sourcesRaw.espeak, 'sources.espeak'),
  };

  const classes = list(
    top.classes,
    'classes',
    (v, f) => {
      const c = object(v, f, ['name', 'fashionMnistLabel', 'words']);
      return {
        name: text(c.name, `${f}.name`),
        fashionMnistLabel: number(
          c.fashionMnistLabel,
          `${f}.fashionMnistLabel`,
          0,
          FASHION_MNIST_CLASSES.length - 1,
          true,
        ),
        words: list(c.words, `${f}.words`, word),
      };
    },
    { unique: false },
  );
  if (classes.length < 2) fail('classes', `must name at least 2 classes, got ${classes.length}`);
  const once = <T>(values: T[], field: (i: number) => string, what: string) => {
    values.forEach((v, i) => {
      const first = values.indexOf(v);
      if (first !== i) fail(field(i), `repeats ${what} ${JSON.stringify(v)} of ${field(first)}`);
    });
  };
  once(
    classes.map((c) => c.name),
    (i) => `classes[${i}].name`,
    'the name',
  );
  once(
    classes.map((c) => c.fashionMnistLabel),
    (i) => `classes[${i}].fashionMnistLabel`,
    'the label',
  );
  const classWords = classes.flatMap((c, i) => c.words.map((w, j) => ({ w, field: `classes[${i}].words[${j}]` })));
  once(
    classWords.map((x) => x.w),
    (i) => classWords[i].field,
    'the word',
  );

  const speechRaw = object(top.speech, 'speech', [
    'pitches',
    'speeds',
    'gainDb',
    'noiseFloorDb',
    'backgroundWords',
    'background',
    'noiseBurstDb',
  ]);
  const backgroundWords = list(speechRaw.backgroundWords, 'speech.backgroundWords', word);
  backgroundWords.forEach((w, i) => {
    const clash = classWords.find((x) => x.w === w);
    if (clash)
      fail(`speech.backgroundWords[${i}]`, `'${w}' is also ${clash.field}: a background word must not name a class`);
  });
  const backgroundRaw = object(speechRaw.background, 'speech.background', ['silence', 'noise', 'words']);
  const background = {
    silence: number(backgroundRaw.silence, 'speech.background.silence', 0, 1e6),
    noise: number(backgroundRaw.noise, 'speech.background.noise', 0, 1e6),
    words: number(backgroundRaw.words, 'speech.background.words', 0, 1e6),
  };
  if (background.silence + background.noise + background.words <= 0)
    fail('speech.background', 'must give some kind a positive weight');
  const speech = {
    pitches: list(speechRaw.pitches, 'speech.pitches', (v, f) => number(v, f, 0, 99, true)),
    speeds: list(speechRaw.speeds, 'speech.speeds', (v, f) => number(v, f, 80, 450, true)),
    gainDb: range(speechRaw.gainDb, 'speech.gainDb', -60, 20),
    noiseFloorDb: range(speechRaw.noiseFloorDb, 'speech.noiseFloorDb', -120, 0),
    backgroundWords,
    background,
    noiseBurstDb: range(speechRaw.noiseBurstDb, 'speech.noiseBurstDb', -120, 0),
  };

  const splitsRaw = top.splits;
  if (!isPlainObject(splitsRaw) || Object.keys(splitsRaw).length === 0)
    return fail('splits', 'must be an object naming at least one split');
  const splits: Record<string, SplitConfig> = {};
  for (const [splitName, value] of Object.entries(splitsRaw)) {
    const f = `splits.${splitName}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(splitName)) fail(f, 'is not a valid split name (letters, digits, _ and -)');
    const s = object(value, f, ['fraction', 'voices', 'images']);
    const images = object(s.images, `${f}.images`, ['part', 'from', 'to']);
    if (!FASHION_MNIST_PARTS.includes(images.part as FashionMnistPart))
      fail(`${f}.images.part`, `must be one of ${FASHION_MNIST_PARTS.join(', ')}, got ${JSON.stringify(images.part)}`);
    const from = number(images.from, `${f}.images.from`, 0, 1e9, true);
    const to = number(images.to, `${f}.images.to`, from + 1, 1e9, true);
    splits[splitName] = {
      fraction: number(s.fraction, `${f}.fraction`, 0, 1),
      voices: list(s.voices, `${f}.voices`, text),
      images: { part: images.part as FashionMnistPart, from, to },
    };
  }
  const splitNames = Object.keys(splits);
  if (splitNames.every((s) => splits[s].fraction === 0)) fail('splits', 'must give some split a positive fraction');
  // No leakage: a speaker or an image belongs to one split only.
  splitNames.forEach((a, i) =>
    splitNames.slice(i + 1).forEach((b) => {
      const shared = splits[a].voices.find((v) => splits[b].voices.includes(v));
      if (shared !== undefined)
        fail(`splits.${b}.voices`, `shares voice '${shared}' with splits.${a}: splits must not share speakers`);
      const [ra, rb] = [splits[a].images, splits[b].images];
      if (ra.part === rb.part && ra.from < rb.to && rb.from < ra.to) {
        fail(
          `splits.${b}.images`,
          `overlaps splits.${a}.images (${ra.part} [${ra.from}, ${ra.to})): splits must not share images`,
        );
      }
    }),
  );

  const audioRaw = object(top.audio, 'audio', ['melBins', 'parts', 'frameLength', 'hop', 'minHz', 'maxHz']);
  const audio = {
    melBins: number(audioRaw.melBins, 'audio.melBins', 1, 256, true),
    parts: number(audioRaw.parts, 'audio.parts', 1, 16, true),
    frameLength: number(audioRaw.frameLength, 'audio.frameLength', 16, 8192, true),
    hop: number(audioRaw.hop, 'audio.hop', 1, 8192, true),
    minHz: number(audioRaw.minHz, 'audio.minHz', 0, 1e5),
    maxHz: number(audioRaw.maxHz, 'audio.maxHz', 1, 1e5),
  };
  const videoRaw = object(top.video, 'video', [
    'blankFraction',
    'contrast',
    'brightness',
    'gamma',
    'maxShift',
    'noiseStd',
  ]);
  const video = {
    blankFraction: number(videoRaw.blankFraction, 'video.blankFraction', 0, 1),
    contrast: range(videoRaw.contrast, 'video.contrast', 0, 10),
    brightness: range(videoRaw.brightness, 'video.brightness', -1, 1),
    gamma: range(videoRaw.gamma, 'video.gamma', 0.05, 20),
    maxShift: number(videoRaw.maxShift, 'video.maxShift', 0, 8, true),
    noiseStd: number(videoRaw.noiseStd, 'video.noiseStd', 0, 1),
  };
  const textRaw = object(top.text, 'text', ['dim', 'ngram', 'eventTemplates', 'backgroundTemplates']);
  const template =
    (mustHaveWord: boolean) =>
    (v: unknown, f: string): string => {
      const t = written(v, f);
      const slots = t.split('{word}').length - 1;
      if (slots > 1 || (mustHaveWord && slots === 0))
        fail(f, `must contain '{word}' ${mustHaveWord ? 'exactly' : 'at most'} once, got ${JSON.stringify(t)}`);
      return t;
    };
  const textConfig = {
    dim: number(textRaw.dim, 'text.dim', 1, 65536, true),
    ngram: range(textRaw.ngram, 'text.ngram', 1, 16, true),
    eventTemplates: list(textRaw.eventTemplates, 'text.eventTemplates', template(true)),
    backgroundTemplates: list(textRaw.backgroundTemplates, 'text.backgroundTemplates', template(false)),
  };
  return {
    name,
    numClips,
    segments,
    seed,
    eventLength,
    misalignedFraction,
    featureDtype: top.featureDtype as 'float32' | 'float16',
    sources,
    classes,
    splits,
    speech,
    audio,
    video,
    text: textConfig,
  };
}
