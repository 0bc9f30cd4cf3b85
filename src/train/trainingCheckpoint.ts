// Pretraining checkpoints: which parts of a trainer a checkpoint holds, under which names, and
// their restoration, checked in full before anything is assigned. The byte format is checkpoint.ts;
// the codebook names its own tensors (SharedCodebook.toTensors), so this file knows no codebook layout.
//
// Tensors: param.<name> (weights), codebook.<name> (the codebook's own), optimizer.<key>.{m,v}.<name>.
// Meta: kind, version, the model config and seed, the trainer seed and hyperparameters, the position,
// the RNG state and each optimizer's scalar state.
import { type ModelConfig, OPTIONS_ADDED_LATER, validateConfig } from '../model/config.js';
import type { CodebookTensors } from '../model/sharedCodebook.js';
import type { UniCodeModel } from '../model/uniCode.js';
import { fail } from '../util/validate.js';
import { Rng, type RngState } from '../util/rng.js';
import { type AdamMeta, ResumableAdam } from './adam.js';
import { type CheckpointPayload, type CheckpointTensor, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { DEFAULT_HYPERPARAMETERS, type TrainerHyperparameters } from './hyperparameters.js';

export const CHECKPOINT_KIND = 'unicode-cmg/pretrain';
const FORMAT_VERSION = 1;
const PARAM = 'param.';
const CODEBOOK = 'codebook.';

/** Where training stands: steps done, the current epoch and the batches of it already consumed. */
export interface TrainingPosition {
  globalStep: number;
  epoch: number;
  stepInEpoch: number;
}

/** One optimizer, its checkpoint key and the parameters it steps, in its fixed order. */
export interface OptimizerSlot {
  key: string;
  optimizer: ResumableAdam;
  names: string[];
}

/** The parts of a trainer that a checkpoint holds. */
export interface TrainingState {
  model: UniCodeModel;
  trainerSeed: number;
  hyper: TrainerHyperparameters;
  position: TrainingPosition;
  rng: Rng;
  optimizers: OptimizerSlot[];
}

/** What a checkpoint says about the model and trainer to rebuild before restoring into them. */
export interface CheckpointRecipe {
  config: ModelConfig;
  modelSeed: number;
  trainerSeed: number;
  hyper: Partial<TrainerHyperparameters>;
}

/** Writes `state` to `path` atomically. */
export async function saveTrainingCheckpoint(path: string, state: TrainingState): Promise<void> {
  const { model } = state;
  const tensors: Record<string, CheckpointTensor> = {};
  for (const [name, w] of Object.entries(model.params.exportWeights())) tensors[PARAM + name] = w;
  for (const [name, t] of Object.entries(model.codebook.toTensors())) tensors[CODEBOOK + name] = t;
  const optimizers: Record<string, AdamMeta> = {};
  for (const { key, optimizer, names } of state.optimizers) {
    const exported = await optimizer.exportState(`optimizer.${key}`, names);
    optimizers[key] = exported.meta;
    Object.assign(tensors, exported.tensors);
  }
  const meta = {
    kind: CHECKPOINT_KIND,
    version: FORMAT_VERSION,
    config: model.config as unknown as Record<string, unknown>,
    modelSeed: model.seed,
    trainerSeed: state.trainerSeed,
    trainer: { ...state.hyper },
    position: { ...state.position },
    rng: state.rng.getState() as unknown as Record<string, unknown>,
    optimizers: optimizers as unknown as Record<string, unknown>,
  };
  saveCheckpoint(path, { meta, tensors });
}

/**
 * Reads a pretraining checkpoint and what it needs built: its config (valid, and agreeing with the
 * codebook it holds, so that a corrupt size fails here, naming the field, not in an allocation),
 * seeds and hyperparameters.
 */
export function readTrainingCheckpoint(path: string): { payload: CheckpointPayload; recipe: CheckpointRecipe } {
  const payload = loadCheckpoint(path);
  const meta = checkedMeta(payload, path);
  const config = meta.config as ModelConfig;
  try {
    validateConfig(config);
  } catch (err) {
    fail(path, `the checkpoint's config is invalid: ${(err as Error).message}`);
  }
  const embedding = payload.tensors[`${CODEBOOK}embedding`];
  if (embedding === undefined) fail(path, `missing tensor ${CODEBOOK}embedding`);
  for (const [field, axis] of [
    ['codebookSize', 0],
    ['embeddingDim', 1],
  ] as const) {
    if (embedding.shape[axis] !== config[field]) {
      fail(
        path,
        `the checkpoint's config.${field} (${config[field]}) does not match its codebook ` +
          `[${embedding.shape.join(', ')}]: the file is inconsistent`,
      );
    }
  }
  const saved = (meta.trainer ?? {}) as Record<string, unknown>;
  // Only hyperparameters come from the file, never paths or hooks.
  const hyper = Object.fromEntries(
    Object.keys(DEFAULT_HYPERPARAMETERS)
      .filter((k) => k in saved)
      .map((k) => [k, saved[k]]),
  );
  return {
    payload,
    recipe: { config, modelSeed: meta.modelSeed as number, trainerSeed: meta.trainerSeed as number, hyper },
  };
}

/**
 * Checks `payload` against `state` (same config, every tensor and optimizer state present and of
 * the right shape, a valid RNG state and position), then assigns weights, codebook, optimizer
 * states and RNG. Returns the position to continue from. A refused checkpoint changes nothing.
 */
export async function restoreTrainingState(
  payload: CheckpointPayload,
  path: string,
  state: TrainingState,
): Promise<TrainingPosition> {
  const { model } = state;
  const meta = checkedMeta(payload, path);
  const differences = configDifferences(meta.config as ModelConfig, model.config);
  if (differences.length > 0) {
    fail(path, `the checkpoint was written for a different model config (${differences.join('; ')})`);
  }
  const weights = withPrefix(payload, PARAM);
  const codebook = withPrefix(payload, CODEBOOK) as Partial<CodebookTensors>;
  const position = meta.position as Partial<TrainingPosition> | undefined;
  for (const key of ['globalStep', 'epoch', 'stepInEpoch'] as const) {
    if (!Number.isInteger(position?.[key]) || position![key]! < 0) {
      fail(path, `meta.position.${key} is missing or invalid`);
    }
  }
  const optimizerMeta = (meta.optimizers ?? {}) as Record<string, AdamMeta>;
  const shapes = (names: string[]) => names.map((n) => ({ name: n, shape: [...model.params.get(n).shape] }));
  let rngState: RngState;
  try {
    model.params.checkWeights(weights);
    model.codebook.checkTensors(codebook);
    rngState = Rng.fromState(meta.rng as unknown as RngState).getState();
    for (const { key, names } of state.optimizers) {
      ResumableAdam.checkState(`optimizer.${key}`, optimizerMeta[key], payload.tensors, shapes(names));
    }
  } catch (err) {
    fail(path, (err as Error).message);
  }
  // Everything checked: assign.
  model.params.importWeights(weights);
  model.codebook.fromTensors(codebook);
  for (const { key, optimizer, names } of state.optimizers) {
    await optimizer.importState(
      `optimizer.${key}`,
      optimizerMeta[key],
      payload.tensors,
      shapes(names).map((p) => ({ ...p, engineName: model.params.engineName(p.name) })),
    );
  }
  state.rng.setState(rngState!);
  return { globalStep: position!.globalStep!, epoch: position!.epoch!, stepInEpoch: position!.stepInEpoch! };
}

function withPrefix(payload: CheckpointPayload, prefix: string): Record<string, CheckpointTensor> {
  const out: Record<string, CheckpointTensor> = {};
  for (const [key, t] of Object.entries(payload.tensors)) if (key.startsWith(prefix)) out[key.slice(prefix.length)] = t;
  return out;
}

function checkedMeta(payload: CheckpointPayload, path: string): Record<string, unknown> {
  const meta = payload.meta;
  if (meta.kind !== CHECKPOINT_KIND) {
    const expected = JSON.stringify(CHECKPOINT_KIND);
    fail(path, `not a pretraining checkpoint (kind ${JSON.stringify(meta.kind)}, expected ${expected})`);
  }
  if (meta.version !== FORMAT_VERSION) {
    fail(path, `pretraining checkpoint version ${String(meta.version)} is not supported (expected ${FORMAT_VERSION})`);
  }
  if (meta.config === null || typeof meta.config !== 'object') fail(path, 'the checkpoint has no model config');
  // A checkpoint older than an option was trained with the option's default.
  meta.config = { ...OPTIONS_ADDED_LATER, ...meta.config };
  if (!Number.isSafeInteger(meta.modelSeed) || !Number.isSafeInteger(meta.trainerSeed)) {
    fail(path, "the checkpoint's seeds are missing");
  }
  return meta;
}

/** Fields (other than the name) where two configs differ, "field: a (checkpoint) vs b (model)". */
export function configDifferences(saved: ModelConfig, current: ModelConfig): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  keys.delete('name');
  const out: string[] = [];
  for (const key of keys) {
    const a = JSON.stringify((saved as unknown as Record<string, unknown>)[key]);
    const b = JSON.stringify((current as unknown as Record<string, unknown>)[key]);
    if (a !== b) out.push(`${key}: ${a} (checkpoint) vs ${b} (this model)`);
  }
  return out;
}
