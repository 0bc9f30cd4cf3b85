// The steps the command bodies compose: open data (a dataset directory or the embedded synthetic
// generator), derive the model config from it, pretrain, load a pretrained encoder, count code
// usage, and run the cross-modal downstream tasks. Only command bodies import this module.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OpBackend } from '../backend.js';
import type { Communicator } from '../distributed/communicator.js';
import { iterateBatches } from '../data/batches.js';
import type { ClipDataset } from '../data/dataset.js';
import { openDataset } from '../data/directory.js';
import { InvalidInputError } from '../data/errors.js';
import { generateSynthetic } from '../data/synthetic.js';
import { type NamedEncoder, encodeClips, tensorEncoder } from '../downstream/encoder.js';
import type { DownstreamReport } from '../downstream/report.js';
import { selectChannels } from '../downstream/toc.js';
import type { CrossModalTask } from '../downstream/taskNames.js';
import {
  type CrossModalOptions,
  crossModalClassify,
  crossModalLocalize,
  crossModalRetrieve,
} from '../downstream/tasks.js';
import {
  type ConfigName,
  type Modality,
  type ModalitySet,
  type ModelConfig,
  inputShapeOf,
  makeConfig,
  modalitiesOf,
} from '../model/config.js';
import { UniCodeModel } from '../model/uniCode.js';
import type { PairedBatchSource } from '../train/pairedBatchSource.js';
import { type StepMetrics, type TrainSummary, Trainer } from '../train/trainer.js';
import type { ProgressStream } from '../util/progress.js';
import { UsageError } from './args.js';
import { type Ablation, SYNTHETIC } from './commonOptions.js';

/** The paper's "plain shared VQ" baseline: the shared codebook without any cross-modal objective. */
export const PLAIN_VQ_ABLATIONS: readonly Ablation[] = ['club', 'cpc', 'mm-ema', 'cmcm'];

export const UNI_CODE = 'Uni-Code';
export const PLAIN_VQ = 'plain VQ';

/** The two models the demo compares: the named config with and without its cross-modal objectives. */
export function uniCodeAndPlainVq(
  name: ConfigName,
  modalities: ModalitySet,
): Record<typeof UNI_CODE | typeof PLAIN_VQ, ModelConfig> {
  return {
    [UNI_CODE]: makeConfig(name, { modalities }),
    [PLAIN_VQ]: makeConfig(name, { modalities, ...ablationOverrides(PLAIN_VQ_ABLATIONS), name: `${name}-plain-vq` }),
  };
}

const MODALITY_LETTERS: Record<Modality, string> = { audio: 'A', video: 'V', text: 'T' };
const SETS: readonly ModalitySet[] = ['AV', 'AT', 'VT', 'AVT'];

/** ['audio', 'video'] -> 'AV'; an error naming `flag` for anything else. */
export function modalitySetOf(modalities: readonly string[], flag: string, command: string): ModalitySet {
  const letters = (['audio', 'video', 'text'] as const)
    .filter((m) => modalities.includes(m))
    .map((m) => MODALITY_LETTERS[m])
    .join('');
  const unknown = modalities.filter((m) => !(m in MODALITY_LETTERS));
  if (unknown.length > 0)
    throw new UsageError(`${flag}: unknown modality '${unknown[0]}' (known: audio, video, text)`, command);
  if (!(SETS as readonly string[]).includes(letters)) {
    throw new UsageError(
      `${flag}: pretraining needs two or three of audio, video, text; got ${modalities.join(', ') || 'none'}`,
      command,
    );
  }
  return letters as ModalitySet;
}

export function ablationOverrides(without: readonly string[]): Partial<ModelConfig> {
  return {
    ...(without.includes('club') ? { useClub: false } : {}),
    ...(without.includes('cpc') ? { useCpc: false } : {}),
    ...(without.includes('mm-ema') ? { crossModalEma: false } : {}),
    ...(without.includes('cmcm') ? { useCmcm: false } : {}),
    ...(without.includes('reset') ? { resetDeadCodes: false } : {}),
  };
}

export interface DataRequest {
  /** A dataset directory, or 'synthetic'. */
  data: string;
  /** Synthetic only: clips to generate, and the generator's seed. */
  clips?: number;
  dataSeed?: number;
}

/**
 * A model config for `data`: the named config with the input sizes taken from the data (a dataset
 * directory) or the synthetic data shaped to fit the config. Returns the config and the dataset.
 */
export function openDataForModel(
  request: DataRequest,
  model: { config: ConfigName; modalities?: string[]; without?: readonly string[] },
  command: string,
): { config: ModelConfig; dataset: ClipDataset } {
  const overrides = ablationOverrides(model.without ?? []);
  if (request.data === SYNTHETIC) {
    const modalities = modalitySetOf(model.modalities ?? ['audio', 'video'], '--modalities', command);
    const config = makeConfig(model.config, { modalities, ...overrides });
    return { config, dataset: syntheticFor(config, request) };
  }
  const dataset = openDatasetDir(request.data, command);
  const modalities = modalitySetOf(
    model.modalities ?? dataset.modalities.filter((m) => m in MODALITY_LETTERS),
    '--modalities',
    command,
  );
  const config = makeConfig(model.config, { modalities, ...inputSizesOf(dataset, modalities), ...overrides });
  return { config, dataset };
}

/** Data to run a pretrained model on: the directory given, or synthetic data shaped for its config. */
export function openDataFor(config: ModelConfig, request: DataRequest, command: string): ClipDataset {
  return request.data === SYNTHETIC ? syntheticFor(config, request) : openDatasetDir(request.data, command);
}

/** Refuses data whose per-clip feature shapes differ from what the model's encoders take. */
export function checkDataFitsModel(
  dataset: ClipDataset,
  config: ModelConfig,
  modalities: readonly string[],
  command: string,
): void {
  for (const m of modalities) {
    if (!dataset.modalities.includes(m)) {
      throw new UsageError(
        `--data: dataset '${dataset.name}' has no ${m} features (it has ${dataset.modalities.join(', ')})`,
        command,
      );
    }
    const expected = [config.segments, ...inputShapeOf(config, m as Modality)];
    const actual = dataset.featureShape(m);
    if (actual.length !== expected.length || actual.some((v, i) => v !== expected[i])) {
      throw new UsageError(
        `--data: ${m} clips of '${dataset.name}' are [${actual.join(', ')}], the model takes [${expected.join(', ')}]`,
        command,
      );
    }
  }
}

function syntheticFor(config: ModelConfig, request: DataRequest): ClipDataset {
  return generateSynthetic({
    modalities: modalitiesOf(config.modalities),
    segments: config.segments,
    featureShapes: {
      audio: [config.audioDim],
      video: [config.video.height, config.video.width, config.video.channels],
      text: [config.textFront ? config.textFront.inputDim : config.textDim],
    },
    numClips: request.clips,
    seed: request.dataSeed ?? 0,
  });
}

function openDatasetDir(dir: string, command: string): ClipDataset {
  try {
    return openDataset(dir);
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UsageError(`--data: ${err.message}`, command);
    throw err;
  }
}

/** Config fields fixed by a dataset's feature shapes [T, ...per segment]. */
function inputSizesOf(dataset: ClipDataset, set: ModalitySet): Partial<ModelConfig> {
  const out: Partial<ModelConfig> = { segments: dataset.segments };
  if (set.includes('A')) out.audioDim = dataset.featureShape('audio')[1];
  if (set.includes('T')) out.textDim = dataset.featureShape('text')[1];
  if (set.includes('V')) {
    const [, height, width, channels] = dataset.featureShape('video');
    out.video = { height, width, channels };
  }
  return out;
}

/** The split to train on, checked, and the one to report on (test, else val, else the training split). */
export function chooseSplits(
  dataset: ClipDataset,
  trainSplit: string,
  command: string,
): { train: string; report: string } {
  if (!dataset.splitNames.includes(trainSplit)) {
    throw new UsageError(
      `--split: dataset '${dataset.name}' has no split '${trainSplit}' (it has ${dataset.splitNames.join(', ')})`,
      command,
    );
  }
  const report = ['test', 'val'].find((s) => dataset.splitNames.includes(s)) ?? trainSplit;
  return { train: trainSplit, report };
}

/** Full batches of a split (one partial batch when the split is smaller than a batch). */
function batchesPerEpoch(clips: number, batchSize: number): number {
  return clips >= batchSize ? Math.floor(clips / batchSize) : 1;
}

/** Steps a run of `epochs` over `split` takes, at most `maxSteps`. */
export function plannedSteps(
  dataset: ClipDataset,
  split: string,
  batchSize: number,
  epochs: number,
  maxSteps?: number,
): number {
  return Math.min(maxSteps ?? Infinity, epochs * batchesPerEpoch(dataset.split(split).length, batchSize));
}

/** Shuffled batches of a split, a fresh order per epoch derived from `seed`; a partial last batch is dropped. */
function batchSource(
  dataset: ClipDataset,
  split: string,
  batchSize: number,
  modalities: readonly Modality[],
  seed: number,
): PairedBatchSource {
  const clips = dataset.split(split).length;
  const dropLast = clips >= batchSize;
  return {
    batchesPerEpoch: batchesPerEpoch(clips, batchSize),
    *epoch(index: number) {
      for (const batch of iterateBatches(dataset, {
        split,
        batchSize,
        modalities,
        seed: seed * 100_003 + index,
        dropLast,
      })) {
        yield batch.features;
      }
    },
  };
}

export interface PretrainRequest {
  config: ModelConfig;
  dataset: ClipDataset;
  split: string;
  dir: string;
  seed: number;
  batchSize: number;
  learningRate: number;
  epochs: number;
  checkpointEvery?: number;
  backend: OpBackend;
  /** Continue from this checkpoint instead of starting fresh. */
  resume?: string;
  /** Experimental: extra encoder passes per step, each followed by a codebook update (default: the trainer's). */
  legacyEncoderPasses?: number;
  /** Where the trainer's progress goes (default stderr). */
  progress?: ProgressStream;
  /** Data-parallel over these ranks: batchSize is the global batch, rank 0 writes. */
  communicator?: Communicator;
}

/** A model being pretrained into a directory (checkpoint.ckpt, metrics.jsonl), trained in one or more legs. */
export class PretrainRun {
  /** Seconds spent training so far. */
  seconds = 0;
  summary: TrainSummary | null = null;

  constructor(
    readonly trainer: Trainer,
    private readonly source: PairedBatchSource,
    private readonly epochs: number,
    readonly checkpoint: string,
    readonly metricsLog: string,
  ) {}

  get model(): UniCodeModel {
    return this.trainer.model;
  }

  /** Trains until `maxSteps` steps in total (or all epochs) are done, then checkpoints. */
  async trainUntil(maxSteps?: number): Promise<TrainSummary> {
    const started = performance.now();
    const leg = await this.trainer.train(this.source, {
      epochs: this.epochs,
      ...(maxSteps !== undefined ? { maxSteps } : {}),
    });
    this.seconds += (performance.now() - started) / 1000;
    // A leg with nothing left to do reports no last step; keep the previous leg's.
    this.summary = { ...leg, last: leg.last ?? this.summary?.last ?? null };
    return this.summary;
  }
}

export async function startPretraining(request: PretrainRequest): Promise<PretrainRun> {
  const checkpoint = path.join(request.dir, 'checkpoint.ckpt');
  const metricsLog = path.join(request.dir, 'metrics.jsonl');
  const trainerOptions = {
    learningRate: request.learningRate,
    checkpointPath: checkpoint,
    metricsPath: metricsLog,
    ...(request.checkpointEvery !== undefined ? { checkpointEvery: request.checkpointEvery } : {}),
    ...(request.legacyEncoderPasses !== undefined ? { legacyEncoderPasses: request.legacyEncoderPasses } : {}),
    ...(request.progress !== undefined ? { progress: request.progress } : {}),
    ...(request.communicator !== undefined ? { communicator: request.communicator } : {}),
  };
  const trainer =
    request.resume !== undefined
      ? await Trainer.fromCheckpoint(request.resume, { ...trainerOptions, backend: request.backend })
      : new Trainer(new UniCodeModel(request.config, { seed: request.seed, backend: request.backend }), trainerOptions);
  const source = batchSource(
    request.dataset,
    request.split,
    request.batchSize,
    modalitiesOf(trainer.model.config.modalities),
    request.seed,
  );
  return new PretrainRun(trainer, source, request.epochs, checkpoint, metricsLog);
}

/** A usage error naming `flag` unless `file` exists and is a file. */
export function requireFile(file: string, flag: string, command: string): string {
  if (!fs.existsSync(file)) throw new UsageError(`${flag} ${file} does not exist`, command);
  const stat = fs.statSync(file);
  if (!stat.isFile()) {
    throw new UsageError(
      `${flag} ${file} is not a regular file${stat.isDirectory() ? ' (it is a directory)' : ''}`,
      command,
    );
  }
  return file;
}

/** The frozen model of a pretraining checkpoint (`flag` names the option it came from). */
export async function loadPretrained(
  checkpoint: string,
  backend: OpBackend,
  command: string,
  flag = '--checkpoint',
): Promise<UniCodeModel> {
  requireFile(checkpoint, flag, command);
  const trainer = await Trainer.fromCheckpoint(checkpoint, { backend, progress: false });
  return trainer.model;
}

/** The frozen model as a named encoder; given `channels`, its code embeddings keep only those dimensions (TOC). */
export function namedEncoder(name: string, model: UniCodeModel, channels?: Int32Array): NamedEncoder {
  const encoder = tensorEncoder(model);
  return { name, encoder: channels === undefined ? encoder : selectChannels(encoder, channels) };
}

export interface ModalityCodes {
  modality: Modality;
  /** [n, T] */
  codes: Int32Array;
  n: number;
  segments: number;
  /** How often each of the M codes was chosen. */
  usage: number[];
}

/** Encodes `clips` of each modality with the frozen model and counts code usage. */
export async function encodeSplit(
  model: UniCodeModel,
  dataset: ClipDataset,
  clips: Int32Array,
  modalities: readonly Modality[],
  chunk = 256,
): Promise<ModalityCodes[]> {
  const encoder = tensorEncoder(model);
  const out: ModalityCodes[] = [];
  for (const modality of modalities) {
    const set = await encodeClips(encoder, dataset, modality, clips, chunk);
    const usage = new Array<number>(model.config.codebookSize).fill(0);
    for (const c of set.codes) usage[c] += 1;
    out.push({ modality, codes: set.codes, n: set.n, segments: set.segments, usage });
  }
  return out;
}

/** The tasks, encoders and data; the head options go to the classification and localization heads as they are. */
export interface DownstreamRequest extends CrossModalOptions {
  tasks: readonly CrossModalTask[];
  encoders: NamedEncoder[];
  dataset: ClipDataset;
}

/** Runs each requested task over every ordered modality pair for every encoder. */
export async function runDownstream(request: DownstreamRequest): Promise<DownstreamReport[]> {
  const { tasks, encoders, dataset, ...headOptions } = request;
  const reports: DownstreamReport[] = [];
  for (const task of tasks) {
    if (task === 'classify') reports.push(await crossModalClassify(encoders, dataset, headOptions));
    else if (task === 'localize') reports.push(await crossModalLocalize(encoders, dataset, headOptions));
    else
      reports.push(
        await crossModalRetrieve(encoders, dataset, { modalities: request.modalities, split: request.testSplit }),
      );
  }
  return reports;
}

/** The last step's losses, for summaries. */
export function finalLosses(last: StepMetrics | null): Record<string, unknown> | null {
  return last === null
    ? null
    : {
        step: last.step,
        epoch: last.epoch,
        loss: last.loss,
        perplexity: last.perplexity,
        cpcAccuracy: last.cpcAccuracy,
      };
}
