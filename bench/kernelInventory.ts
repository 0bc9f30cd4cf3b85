// Which tfjs kernels real work dispatches: a recorder on the tfjs engine (backend-agnostic: it sees
// every kernel an op or a gradient asks the engine for, not the kernels a backend runs inside its
// own kernels) and the scenarios the tfjs 'cuda' backend must cover: pretraining steps (forward,
// backward, CLUB inner loop, codebook update, clipping and Adam) of the small and paper configs
// in AV, AT, VT and AVT, the BiLSTM text front, and the downstream heads and encoding of `eval`.
import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import type { OpBackend } from '../src/backend.js';
import { DownstreamHead } from '../src/downstream/heads.js';
import {
  type ConfigOverrides,
  type ModalitySet,
  type ModelConfig,
  inputShapeOf,
  makeConfig,
  modalitiesOf,
  PAPER_TEXT_FRONT,
} from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import { type StepPhase, Trainer } from '../src/train/trainer.js';
import { tf } from '../src/tfjs.js';

/** Where in the work a kernel was dispatched. */
export type UsePhase =
  | 'input'
  | 'club'
  | 'forward'
  | 'backward'
  | 'codebook'
  | 'clip'
  | 'adam'
  | 'metrics'
  | 'eval encode'
  | 'eval heads';

export interface KernelUse {
  calls: number;
  phases: Set<UsePhase>;
  scenarios: Set<string>;
}

type RunKernel = (name: string, inputs: NamedTensorMap, attrs?: unknown) => unknown;
interface EngineInternals {
  runKernel: RunKernel;
  state: { scopeStack: { name: string }[] };
}

/** The trainer's phase boundaries, in step order: the phase that begins after each. */
const NEXT_PHASE: Record<StepPhase, UsePhase> = {
  draws: 'club',
  club: 'forward',
  gradients: 'codebook',
  codebook: 'clip',
  clip: 'adam',
};

/**
 * Counts kernels by name while recording. Only the outermost dispatch counts: a kernel that a
 * backend implements with other kernels through the engine is still one kernel to cover.
 */
export class KernelRecorder {
  readonly uses = new Map<string, KernelUse>();
  phase: UsePhase = 'input';
  scenario = '';
  private depth = 0;
  private original: RunKernel | null = null;

  start(): void {
    if (this.original !== null) return;
    const engine = tf.engine() as unknown as EngineInternals;
    const original = engine.runKernel;
    this.original = original;
    engine.runKernel = (name, inputs, attrs) => {
      if (this.depth === 0) this.note(name, engine);
      this.depth++;
      try {
        return original.call(engine, name, inputs, attrs);
      } finally {
        this.depth--;
      }
    };
  }

  stop(): void {
    if (this.original === null) return;
    (tf.engine() as unknown as EngineInternals).runKernel = this.original;
    this.original = null;
  }

  /** Kernel names recorded, sorted. */
  kernels(): string[] {
    return [...this.uses.keys()].sort();
  }

  /** Forward kernels that run inside a gradient's backward scope are the backward pass's. */
  private note(name: string, engine: EngineInternals): void {
    const inBackward = engine.state.scopeStack.some((s) => s.name === 'backward');
    const phase: UsePhase = this.phase === 'forward' && inBackward ? 'backward' : this.phase;
    const use = this.uses.get(name) ?? { calls: 0, phases: new Set(), scenarios: new Set() };
    use.calls++;
    use.phases.add(phase);
    use.scenarios.add(this.scenario);
    this.uses.set(name, use);
  }
}

/** Smooth deterministic features shaped for `config` (values do not matter for which kernels run). */
export function featureBatch(config: ModelConfig, clips: number): PairedBatch {
  const batch: PairedBatch = {};
  for (const m of modalitiesOf(config.modalities)) {
    const size = clips * config.segments * inputShapeOf(config, m).reduce((a, b) => a * b, 1);
    batch[m] = Float32Array.from({ length: size }, (_, i) => Math.sin(0.37 * i + m.length));
  }
  return batch;
}

/**
 * `steps` pretraining steps of a fresh model, recorded by phase (the first step also creates the
 * optimizer state; a later one may reset dead codes).
 */
export async function recordStep(
  recorder: KernelRecorder,
  scenario: string,
  config: ModelConfig,
  clips: number,
  opBackend: OpBackend,
  steps = 1,
): Promise<void> {
  const model = new UniCodeModel(config, { seed: 1, backend: opBackend });
  const recording = { on: false };
  const trainer = new Trainer(model, {
    progress: false,
    afterPhase: (p) => {
      if (recording.on) recorder.phase = NEXT_PHASE[p];
    },
  });
  const batch = featureBatch(config, clips);
  try {
    for (let i = 0; i < steps; i++) {
      recorder.scenario = scenario;
      recorder.phase = 'input';
      recording.on = true;
      recorder.start();
      try {
        await trainer.step(batch);
      } finally {
        recorder.stop();
        recording.on = false;
      }
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** `eval`'s tfjs work: encoding clips with a frozen model, then training and applying both heads. */
export async function recordEval(
  recorder: KernelRecorder,
  scenario: string,
  config: ModelConfig,
  clips: number,
  opBackend: OpBackend,
): Promise<void> {
  const model = new UniCodeModel(config, { seed: 1, backend: opBackend });
  const batch = featureBatch(config, clips);
  const modality = modalitiesOf(config.modalities)[0];
  const shape = [clips, config.segments, ...inputShapeOf(config, modality)];
  const dim = config.embeddingDim;
  recorder.scenario = scenario;
  recorder.start();
  try {
    recorder.phase = 'eval encode';
    const raw = tf.tensor(batch[modality] as Float32Array, shape);
    const { codes, quantized } = model.encode(modality, raw);
    const codeValues = (await quantized.data()) as Float32Array;
    tf.dispose([raw, codes, quantized]);
    recorder.phase = 'eval heads';
    const classify = new DownstreamHead('classify', dim, 3, 1);
    const localize = new DownstreamHead('localize', dim, 3, 2);
    try {
      const labels = Int32Array.from({ length: clips }, (_, i) => i % 3);
      const multiHot = Uint8Array.from({ length: clips * config.segments * 3 }, (_, i) => (i % 4 === 0 ? 1 : 0));
      await classify.fit(codeValues, clips, config.segments, labels, { epochs: 1, batchSize: clips });
      await localize.fit(codeValues, clips, config.segments, multiHot, { epochs: 1, batchSize: clips });
      await classify.predict(codeValues, clips, config.segments);
      await localize.predict(codeValues, clips, config.segments);
      // Retrieval ranks a gallery by one product of the query and gallery codes.
      const rows = tf.tensor2d(codeValues, [clips * config.segments, dim]);
      tf.dispose([tf.matMul(rows, rows, false, true), rows]);
    } finally {
      classify.dispose();
      localize.dispose();
    }
  } finally {
    recorder.stop();
  }
}

/** A BiLSTM text front for the small config (textDim 32 = 2 x 16). */
export const SMALL_TEXT_FRONT: ConfigOverrides = { textFront: { inputDim: 48, hidden: 16, layers: 2 } };

export interface InventoryOptions {
  opBackend: OpBackend;
  /** Clips per step. */
  clips?: number;
  log?: (line: string) => void;
}

/** Every scenario of the inventory, into one recorder. */
export async function recordInventory(options: InventoryOptions): Promise<KernelRecorder> {
  const { opBackend, clips = 4, log = () => {} } = options;
  const recorder = new KernelRecorder();
  const sets: ModalitySet[] = ['AV', 'AT', 'VT', 'AVT'];
  const configs: [string, (set: ModalitySet) => ModelConfig][] = [
    ['small', (set) => makeConfig('small', { modalities: set })],
    ['paper', (set) => makeConfig('paper', { modalities: set })],
  ];
  for (const [label, make] of configs) {
    for (const set of sets) {
      const started = performance.now();
      await recordStep(recorder, `${label} ${set}`, make(set), label === 'paper' ? 2 : clips, opBackend);
      log(`recorded ${label} ${set} step (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
  await recordStep(recorder, 'small AVT text front', makeConfig('small', SMALL_TEXT_FRONT), clips, opBackend);
  const paperFront = makeConfig('paper', { textFront: PAPER_TEXT_FRONT, textDim: 2 * PAPER_TEXT_FRONT.hidden });
  await recordStep(recorder, 'paper AVT text front', paperFront, 2, opBackend);
  log('recorded the text-front steps');
  // A code unused for one step is dead: the second step resets codes.
  const resetting = makeConfig('small', { deadAfter: 1, activeBelow: 1 });
  await recordStep(recorder, 'small AVT dead-code reset', resetting, clips, opBackend, 3);
  log('recorded the dead-code reset steps');
  await recordEval(recorder, 'eval', makeConfig('small'), clips, opBackend);
  log('recorded eval');
  return recorder;
}
