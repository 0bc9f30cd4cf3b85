// `buildAvFashion`: the AV-Fashion dataset, end to end. Resolve and check the config, check that
// the two Debian sources are installed, plan the clips, synthesise each speaker's vocabulary once,
// render every clip's features, standardise each feature channel with the training split's
// statistics, and write the dataset in our format plus provenance.json (the config and every
// clip's plan: which image, word, voice and description each segment holds).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../util/atomicWrite.js';
import { InMemoryDataset } from '../dataset.js';
import { writeDataset } from '../directory.js';
import { InvalidInputError } from '../errors.js';
import type { DatasetManifest } from '../manifest.js';
import { SegmentAudioFeatures } from './audioFeatures.js';
import {
  AV_FASHION_MODALITIES,
  type AvFashionModality,
  type ClipPlan,
  featureShapes,
  imagePools,
  planClips,
  renderClip,
  segmentLabels,
} from './composer.js';
import { type AvFashionConfig, type AvFashionOverrides, resolveAvFashionConfig } from './config.js';
import {
  ESPEAK_APT_PACKAGE,
  type EspeakInstallation,
  type SpeechStyle,
  UtteranceBank,
  checkVoice,
  probeEspeak,
} from './espeak.js';
import {
  FASHION_MNIST_APT_PACKAGE,
  type FashionMnistImages,
  type FashionMnistPart,
  loadFashionMnist,
  missingFashionMnistFiles,
} from './fashionMnist.js';

export const PROVENANCE_FILE = 'provenance.json';

export interface BuildAvFashionOptions {
  /** Output dataset directory. */
  out: string;
  /** Replace a non-empty `out`. */
  force?: boolean;
  /** A JSON file with any part of the config, merged over config/av-fashion.json. */
  configFile?: string;
  /** Applied after `configFile` (e.g. numClips, seed from command-line flags). */
  overrides?: AvFashionOverrides;
}

export interface BuildProgress {
  stage: 'speech' | 'clips' | 'write';
  done: number;
  total: number;
}

export interface BuildAvFashionResult {
  dir: string;
  manifest: DatasetManifest;
  config: AvFashionConfig;
  /** Distinct (word, voice, pitch, speed) utterances synthesised. */
  utterances: number;
  clipsPerSplit: Record<string, number>;
  seconds: number;
}

export interface MissingPackage {
  aptPackage: string;
  why: string;
}

/** The Debian packages the build needs and cannot find, given where `config` looks for them. */
export function missingAvFashionPackages(config: AvFashionConfig): MissingPackage[] {
  const missing: MissingPackage[] = [];
  if (probeEspeak(config.sources.espeak) === null) {
    missing.push({ aptPackage: ESPEAK_APT_PACKAGE, why: `'${config.sources.espeak}' cannot be run` });
  }
  const files = missingFashionMnistFiles(config.sources.fashionMnistDir);
  if (files.length > 0)
    missing.push({
      aptPackage: FASHION_MNIST_APT_PACKAGE,
      why: `${config.sources.fashionMnistDir} lacks ${files.join(', ')}`,
    });
  return missing;
}

/** The installed espeak-ng, after checking both sources; the error names every missing apt package. */
function requireSources(config: AvFashionConfig): EspeakInstallation {
  const missing = missingAvFashionPackages(config);
  if (missing.length > 0) {
    throw new InvalidInputError(
      `build-av-fashion needs Debian packages that are missing: ${missing.map((m) => `${m.aptPackage} (${m.why})`).join('; ')}. ` +
        `Install them with: apt-get install -y ${missing.map((m) => m.aptPackage).join(' ')}`,
    );
  }
  return probeEspeak(config.sources.espeak)!;
}

/** The split whose statistics standardise the features: 'train', else the first. */
function statisticsSplit(config: AvFashionConfig): string {
  return 'train' in config.splits ? 'train' : Object.keys(config.splits)[0];
}

export interface ChannelStatistics {
  mean: number[];
  std: number[];
}

/**
 * Standardises every channel (last axis) of one modality's features [N, T, ..., channels] with its
 * mean and std over the segments (and, for video, grid cells) of `split`'s clips: log energies have
 * an arbitrary offset, grey levels and edge histograms different scales, description embeddings a
 * component every template shares; the encoders train better on zero-mean, unit-variance input.
 */
function standardize(
  features: Float32Array,
  channels: number,
  plans: readonly ClipPlan[],
  split: string,
): ChannelStatistics {
  const perClip = features.length / plans.length;
  const mean = new Float64Array(channels);
  const square = new Float64Array(channels);
  let count = 0;
  plans.forEach((plan, clip) => {
    if (plan.split !== split) return;
    for (let i = clip * perClip; i < (clip + 1) * perClip; i++) {
      mean[i % channels] += features[i];
      square[i % channels] += features[i] ** 2;
    }
    count += perClip / channels;
  });
  const std = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    mean[c] /= Math.max(1, count);
    std[c] = Math.sqrt(Math.max(0, square[c] / Math.max(1, count) - mean[c] ** 2)) || 1; // a constant channel stays as it is, centred
  }
  for (let i = 0; i < features.length; i++) features[i] = (features[i] - mean[i % channels]) / std[i % channels];
  return { mean: Array.from(mean), std: Array.from(std) };
}

function isNonEmptyDirectory(dir: string): boolean {
  return fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0);
}

/** Builds the dataset into `options.out`. Nothing is written unless every check passes. */
export async function buildAvFashion(
  options: BuildAvFashionOptions,
  { onProgress }: { onProgress?: (progress: BuildProgress) => void } = {},
): Promise<BuildAvFashionResult> {
  const started = performance.now();
  if (typeof options?.out !== 'string' || options.out === '')
    throw new InvalidInputError("buildAvFashion: 'out' must name the output directory");
  const config = resolveAvFashionConfig(options.configFile, options.overrides);
  if (isNonEmptyDirectory(options.out) && !options.force) {
    throw new InvalidInputError(`${options.out}: exists and is not empty (pass force / --force to replace it)`);
  }
  const espeak = requireSources(config);
  for (const [name, split] of Object.entries(config.splits))
    split.voices.forEach((v, i) => checkVoice(espeak, v, `splits.${name}.voices[${i}]`));

  const parts = [...new Set(Object.values(config.splits).map((s) => s.images.part))];
  const images = {} as Record<FashionMnistPart, FashionMnistImages>;
  for (const part of parts) images[part] = loadFashionMnist(config.sources.fashionMnistDir, part);
  const plans = planClips(config, imagePools(config, images));

  // Every speaker a plan uses speaks the whole vocabulary: each utterance then comes from the same
  // espeak-ng call whatever the clips, so a build depends only on its config.
  const styles = new Map<string, SpeechStyle>();
  for (const plan of plans) styles.set(JSON.stringify(plan.speaker), plan.speaker);
  const vocabulary = [...new Set([...config.classes.flatMap((c) => c.words), ...config.speech.backgroundWords])];
  const speech = new UtteranceBank();
  let stylesDone = 0;
  onProgress?.({ stage: 'speech', done: 0, total: styles.size });
  await speech.add(espeak.binary, vocabulary, [...styles.values()], () =>
    onProgress?.({ stage: 'speech', done: ++stylesDone, total: styles.size }),
  );

  const n = config.numClips;
  const t = config.segments;
  const shapes = featureShapes(config);
  const features = Object.fromEntries(
    AV_FASHION_MODALITIES.map((m) => [m, new Float32Array(n * t * shapes[m].reduce((a, b) => a * b, 1))]),
  ) as Record<AvFashionModality, Float32Array>;
  const audioFeatures = new SegmentAudioFeatures(
    { sampleRate: speech.sampleRate, ...config.audio },
    config.audio.parts,
  );
  const every = Math.max(1, Math.floor(n / 100));
  plans.forEach((plan, clip) => {
    renderClip(plan, clip, config, { images, speech, audioFeatures }, features);
    if ((clip + 1) % every === 0 || clip + 1 === n) onProgress?.({ stage: 'clips', done: clip + 1, total: n });
  });
  const statsSplit = statisticsSplit(config);
  const standardization = {
    split: statsSplit,
    ...Object.fromEntries(
      AV_FASHION_MODALITIES.map((m) => [m, standardize(features[m], shapes[m].at(-1)!, plans, statsSplit)]),
    ),
  };

  const numClasses = config.classes.length;
  const splitNames = Object.keys(config.splits);
  const dataset = new InMemoryDataset({
    name: config.name,
    classes: config.classes.map((c) => c.name),
    modalities: Object.fromEntries(
      AV_FASHION_MODALITIES.map((m) => [m, { data: features[m], shape: [n, t, ...shapes[m]] }]),
    ),
    clipLabels: Int32Array.from(plans, (p) => p.label),
    segmentLabels: segmentLabels(plans, numClasses),
    modalitySegmentLabels: Object.fromEntries(
      AV_FASHION_MODALITIES.map((m) => [m, segmentLabels(plans, numClasses, m)]),
    ),
    splits: Object.fromEntries(
      splitNames.map((s) => [s, Int32Array.from(plans.flatMap((p, i) => (p.split === s ? [i] : [])))]),
    ),
  });
  onProgress?.({ stage: 'write', done: 0, total: 1 });
  const manifest = writeDataset(options.out, dataset, { force: options.force, featureDtype: config.featureDtype });
  writeFileAtomic(
    path.join(options.out, PROVENANCE_FILE),
    `${JSON.stringify({
      builder: 'unicode-cmg build-av-fashion',
      sources: {
        espeak: { binary: espeak.binary, version: espeak.version },
        fashionMnistDir: config.sources.fashionMnistDir,
      },
      config,
      standardization,
      clips: plans,
    })}\n`,
  );
  onProgress?.({ stage: 'write', done: 1, total: 1 });

  return {
    dir: options.out,
    manifest,
    config,
    utterances: speech.size,
    clipsPerSplit: Object.fromEntries(splitNames.map((s) => [s, dataset.split(s).length])),
    seconds: (performance.now() - started) / 1000,
  };
}
