// Uni-Code pretraining (docs/algorithm.md §5). One step:
//   1. draw the step's randomness (dropout seed, EMA reset seed, CPC start t, CLUB permutations);
//   2. CLUB inner loop: encoders forward without gradients -> detached (q, y); each CLUB net takes
//      `clubSteps` Adam steps (lr 1e-3) maximising its log-likelihood;
//   3. main forward under the gradient tape: total = Σ_m (recon_m + commitment_m + mi_m) + cpc + L_cmcm;
//   4. the codebook's MM-EMA update and dead-code reset (statistics all-reduced when a hook is set);
//   5. each clipping group's gradient clipped to norm 0.5 on its own (see clipGroups.ts: by default
//      as published, all encoders as one group and all decoders as one), then one Adam step
//      (lr 4e-4, MultiStepLR per epoch).
// A step's inputs (batch shapes, values and size) are validated before anything changes. The
// main Adam step is the commit point; a step that fails before it (non-finite loss or gradients,
// a failing all-reduce) leaves the weights, the optimizers, the CLUB nets, the codebook and the RNG
// exactly as they were, and no tensor behind (stepUndo.ts).
//
// Where things live: hyperparameters.ts (defaults, resolution), clipGroups.ts (which gradients share
// a clip), trainingCheckpoint.ts (what a checkpoint holds, save and restore), stepUndo.ts (rollback),
// metricsLog.ts (the JSON Lines log). Seams: allReduceGradients, communicator, replayDraws,
// inspectGradients and afterPhase (TrainerOptions).
import type { Modality } from '../model/config.js';
import { asData } from '../model/layers/asData.js';
import { type ForwardContext, trainingContext } from '../model/layers/context.js';
import type { Communicator } from '../distributed/communicator.js';
import { DataParallel } from '../distributed/dataParallel.js';
import { type CodebookForward, STEP_ENCODE, STEP_FORWARD } from '../model/sharedCodebook.js';
import { type UniCodeModelOptions, UniCodeModel } from '../model/uniCode.js';
import { tf } from '../tfjs.js';
import { Progress, type ProgressStream } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { removeStaleTempFiles } from '../util/atomicWrite.js';
import { fail } from '../util/validate.js';
import { ResumableAdam } from './adam.js';
import { variableGradsOrNothing } from './gradients.js';
import { StepUndo } from './stepUndo.js';
import { type CheckpointPayload, loadCheckpoint } from './checkpoint.js';
import { MetricsLog } from './metricsLog.js';
import {
  type ModelBatch,
  type PairedBatch,
  type PairedBatchSource,
  prepareBatch,
  toBatchSource,
} from './pairedBatchSource.js';
import { PhaseTimer, type PhaseTimings } from './phaseTimer.js';
import { type ClipGroup, clipGroupsOf } from './clipGroups.js';
import { type TrainerHyperparameters, resolveHyperparameters } from './hyperparameters.js';
import {
  type OptimizerSlot,
  type TrainingState,
  readTrainingCheckpoint,
  restoreTrainingState,
  saveTrainingCheckpoint,
} from './trainingCheckpoint.js';
import { clipScale, gradientNorms, multiStepLr } from './schedule.js';

export { DEFAULT_HYPERPARAMETERS, type TrainerHyperparameters } from './hyperparameters.js';

/** One clipping group's gradients as the clip sees them (after any all-reduce). */
export interface GroupGradients {
  name: string;
  params: string[];
  /** Pre-clip gradients, one per parameter; valid only during the callback. */
  grads: tf.Tensor[];
  /** The pre-clip global norm and the factor the gradients are scaled by. */
  norm: number;
  scale: number;
  applied: boolean;
}

export interface TrainerOptions extends Partial<TrainerHyperparameters> {
  /** Seeds the per-step randomness (default: the model's seed). */
  seed?: number;
  /** Where checkpoints go; written every `checkpointEvery` steps and at the end of train(). */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Per-step metrics as JSON Lines (appended to when the trainer resumed from a checkpoint). */
  metricsPath?: string;
  /** Progress bar on stderr (default), on a given stream, or none. */
  progress?: boolean | ProgressStream;
  /**
   * Data-parallel seam for gradients: receives every main-model gradient (fixed order) and must
   * return the mean over workers. The codebook statistics have their own hook (model allReduce).
   * Alone it matches one process only for equal shards and without the batch-contrastive terms
   * (CLUB MI, Cross-CPC, L_cmcm); `communicator` handles those exactly.
   */
  allReduceGradients?: (grads: Float32Array[]) => Float32Array[] | Promise<Float32Array[]>;
  /** Test seam: replaces a step's random draws, e.g. with another implementation's recorded ones. */
  replayDraws?: (drawn: StepDraws) => StepDraws;
  /** Test and debugging seam: every clipping group's gradients, called once per step before the clip. */
  inspectGradients?: (groups: GroupGradients[]) => void;
  /**
   * Test seam: called after each phase of a step before its commit point (the main Adam step).
   * An exception thrown here fails the step, which must then leave no trace (see stepUndo.ts).
   */
  afterPhase?: (phase: StepPhase) => void;
  /**
   * Synchronous data parallelism (src/distributed): each step's batch is the global batch, every
   * rank trains on its shard, and every rank ends the step with the same weights and codebook as
   * one process on the whole batch. Rank 0 alone writes checkpoints, metrics and progress.
   */
  communicator?: Communicator;
  /** With a communicator: compare all ranks' state every this many steps and at the end (default 10). */
  checksumEvery?: number;
}

/** A step's phases in order; the main Adam step follows 'clip' and commits the step. */
export const STEP_PHASES = ['draws', 'club', 'gradients', 'codebook', 'clip'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export interface TrainOptions {
  epochs: number;
  /** Stop once this many steps (counted from the start of the run, across resumes) are done. */
  maxSteps?: number;
}

export interface StepMetrics {
  /** Steps done, this one included. */
  step: number;
  epoch: number;
  lr: number;
  loss: {
    total: number;
    recon: Partial<Record<Modality, number>>;
    commitment: Partial<Record<Modality, number>>;
    mi: Partial<Record<Modality, number>>;
    cpc: number;
    cmcm: number;
  };
  /** CLUB log-likelihood after the inner loop's last step, per modality. */
  clubLoglikeli: Partial<Record<Modality, number>>;
  perplexity: Partial<Record<Modality, number>>;
  equalNum: number;
  /** Cross-CPC accuracy of every ordered pair, key "target->prediction". */
  cpcAccuracy: Record<string, number>;
  /** Dead codes revived this step, by every codebook update it ran (legacy passes included). */
  resetCodes: number;
  /** Each clipping group's gradient norm before clipping (see clipGroups.ts). */
  gradNorm: Record<string, number>;
  timeMs: PhaseTimings;
}

export interface TrainSummary {
  steps: number;
  epochs: number;
  last: StepMetrics | null;
}

/** A step's randomness (the dead-code reset draws from emaSeed). */
export interface StepDraws {
  dropoutSeed: number;
  emaSeed: number;
  tSample: number;
  permutations: Int32Array[];
}

interface Encoded {
  /** What the encoders saw (the text front's output for text): also the reconstruction target. */
  inputs: tf.Tensor[];
  z: tf.Tensor3D[];
  psi: tf.Tensor[];
  clubFeature: tf.Tensor[];
}

export { CHECKPOINT_KIND } from './trainingCheckpoint.js';
const FORWARD_PHASES = ['encoders', 'codebook', 'club', 'cpc', 'decoders'] as const;

/** The values of scalars on the device, in one read. */
function readAll(scalars: tf.Scalar[]): Float32Array {
  const stacked = tf.stack(scalars);
  try {
    return stacked.dataSync() as Float32Array;
  } finally {
    stacked.dispose();
  }
}

export class Trainer {
  readonly model: UniCodeModel;
  readonly hyper: TrainerHyperparameters;
  /** Steps done so far (across resumes). */
  globalStep = 0;
  /** Current epoch (0-based) and batches of it already consumed. */
  epoch = 0;
  stepInEpoch = 0;
  /** The per-phase split of the last step. */
  lastTimings: PhaseTimings | null = null;
  private readonly seed: number;
  private readonly rng: Rng;
  private readonly options: TrainerOptions;
  /** Main-optimizer parameters, group after group: the order Adam keys its moments by. */
  private readonly mainNames: string[];
  private readonly clipGroups: ClipGroup[];
  /** CLUB parameters whose main-loss gradient is measured for the clip report (published grouping). */
  private readonly measuredClubNames: string[];
  /** Every CLUB parameter (they step in the inner loop, before the commit point). */
  private readonly clubNames: string[];
  private readonly mainOptimizer: ResumableAdam;
  private readonly clubOptimizers = new Map<Modality, ResumableAdam>();
  private readonly parallel: DataParallel | null;
  private disposed = false;

  constructor(model: UniCodeModel, options: TrainerOptions = {}) {
    if (!(model instanceof UniCodeModel)) throw new TypeError('Trainer: model must be a UniCodeModel');
    this.hyper = resolveHyperparameters(options);
    const seed = options.seed ?? model.seed;
    if (!Number.isSafeInteger(seed))
      throw new TypeError(`Trainer: options.seed must be a safe integer, got ${String(seed)}`);
    if (
      options.checkpointEvery !== undefined &&
      (!Number.isInteger(options.checkpointEvery) || options.checkpointEvery < 1)
    ) {
      throw new RangeError(
        `Trainer: options.checkpointEvery must be a positive integer, got ${String(options.checkpointEvery)}`,
      );
    }
    if (options.checkpointEvery !== undefined && options.checkpointPath === undefined) {
      throw new Error('Trainer: options.checkpointEvery needs options.checkpointPath');
    }
    this.parallel =
      options.communicator === undefined
        ? null
        : new DataParallel(options.communicator, { checksumEvery: options.checksumEvery });
    if (this.parallel !== null) {
      if (options.allReduceGradients !== undefined || model.codebook.allReduce !== undefined) {
        throw new Error(
          "Trainer: options.communicator does its own all-reduce; leave allReduceGradients and the model's allReduce unset",
        );
      }
      model.codebook.allReduce = this.parallel.sumCodebookStatistics;
    }
    this.model = model;
    this.options = options;
    this.seed = seed;
    // A stream apart from the weight init, which uses Rng(model seed).
    this.rng = new Rng(seed + 0x100000000);
    this.mainNames = model.mainGroups().flatMap((g) => model.params.namesIn(g));
    this.clipGroups = clipGroupsOf(model, this.hyper.clipGroups);
    this.measuredClubNames = this.clipGroups.filter((g) => !g.applied).flatMap((g) => g.params);
    this.clubNames = model.params
      .groups()
      .filter((g) => g.startsWith('club.'))
      .flatMap((g) => model.params.namesIn(g));
    this.mainOptimizer = new ResumableAdam(this.hyper.learningRate);
    if (model.config.useClub) {
      for (const m of model.modalities) this.clubOptimizers.set(m, new ResumableAdam(this.hyper.clubLearningRate));
    }
  }

  /** A model and trainer rebuilt from a checkpoint (its config, seeds and hyperparameters unless overridden). */
  static async fromCheckpoint(
    path: string,
    options: TrainerOptions & Omit<UniCodeModelOptions, 'seed'> = {},
  ): Promise<Trainer> {
    const { payload, recipe } = readTrainingCheckpoint(path);
    const { backend, allReduce, ...trainerOptions } = options;
    const model = new UniCodeModel(recipe.config, { seed: recipe.modelSeed, backend, allReduce });
    const trainer = new Trainer(model, { ...recipe.hyper, seed: recipe.trainerSeed, ...trainerOptions });
    await trainer.restorePayload(payload, path);
    return trainer;
  }

  /** Runs epochs over `data` until `epochs` are done (or maxSteps), continuing from the current position. */
  async train(
    data: PairedBatchSource | Iterable<PairedBatch> | AsyncIterable<PairedBatch>,
    options: TrainOptions,
  ): Promise<TrainSummary> {
    this.live('train');
    const { epochs, maxSteps } = options ?? ({} as TrainOptions);
    if (!Number.isInteger(epochs) || epochs < 1)
      throw new RangeError(`train: options.epochs must be a positive integer, got ${String(epochs)}`);
    if (maxSteps !== undefined && (!Number.isInteger(maxSteps) || maxSteps < 0)) {
      throw new RangeError(`train: options.maxSteps must be a non-negative integer, got ${String(maxSteps)}`);
    }
    const source = toBatchSource(data);
    const lead = this.parallel?.isLead ?? true;
    // A resumed run continues the log from its checkpoint's step (see metricsLog.ts).
    const logMode = this.globalStep > 0 ? { append: true, keepThroughStep: this.globalStep } : { overwrite: true };
    const log =
      this.options.metricsPath === undefined || !lead ? null : new MetricsLog(this.options.metricsPath, logMode);
    if (lead && this.options.checkpointPath !== undefined) removeStaleTempFiles(this.options.checkpointPath);
    const progress = lead ? this.makeProgress(source, epochs, maxSteps) : null;
    let last: StepMetrics | null = null;
    try {
      training: while (this.epoch < epochs) {
        this.mainOptimizer.setLearningRate(this.currentLr());
        let seen = 0;
        for await (const batch of source.epoch(this.epoch)) {
          // On resume, the batches this epoch already trained on are skipped.
          if (seen++ < this.stepInEpoch) continue;
          if (maxSteps !== undefined && this.globalStep >= maxSteps) break training;
          last = await this.step(batch);
          log?.write(last as unknown as Record<string, unknown>);
          progress?.tick(1, { loss: last.loss.total });
          if (this.parallel !== null && this.globalStep % this.parallel.checksumEvery === 0)
            this.parallel.checkIdentical(this.model, this.globalStep);
          if (
            lead &&
            this.options.checkpointEvery !== undefined &&
            this.globalStep % this.options.checkpointEvery === 0
          ) {
            await this.saveCheckpoint(this.options.checkpointPath!);
          }
        }
        if (seen === 0) throw new Error(`train: the data source yielded no batches for epoch ${this.epoch}`);
        this.epoch++;
        this.stepInEpoch = 0;
      }
    } finally {
      log?.close();
      progress?.done();
    }
    this.parallel?.checkIdentical(this.model, this.globalStep);
    if (lead && this.options.checkpointPath !== undefined) await this.saveCheckpoint(this.options.checkpointPath);
    return { steps: this.globalStep, epochs: this.epoch, last };
  }

  /** One training step on one batch (see the file comment). */
  async step(batch: PairedBatch): Promise<StepMetrics> {
    this.live('step');
    const whole = prepareBatch(this.model.config, batch);
    const prepared = this.parallel === null ? whole : this.parallel.take(whole);
    try {
      return await this.runStep(prepared);
    } finally {
      prepared.dispose();
    }
  }

  private async runStep(batch: ModelBatch): Promise<StepMetrics> {
    this.checkBatchSize(this.parallel?.shard.global ?? batch.size);
    const undo = new StepUndo({
      rng: this.rng,
      codebook: this.model.codebook,
      variables: this.clubNames.map((n) => this.model.params.get(n)),
      optimizers: [...this.clubOptimizers.values()],
    });
    const timer = new PhaseTimer();
    try {
      const drawn = this.drawStep(this.parallel?.shard.global ?? batch.size);
      const draws = this.options.replayDraws?.(drawn) ?? drawn;
      this.options.afterPhase?.('draws');
      const legacyResets = await this.legacyEncoderPasses(batch, draws, timer);
      const club = this.model.config.useClub
        ? this.trainClubs(batch, draws, timer)
        : { loglikeli: {}, lastGrads: new Map() };
      const clubLoglikeli = club.loglikeli;
      let main: ReturnType<Trainer['mainGradients']>;
      try {
        this.options.afterPhase?.('club');
        main = this.mainGradients(batch, draws, timer);
      } catch (err) {
        club.lastGrads.forEach((g) => g.dispose());
        throw err;
      }
      try {
        this.options.afterPhase?.('gradients');
        const local = Array.from(main.terms.dataSync());
        const terms = this.parallel === null ? local : this.parallel.globalTerms(local, 2 * batch.modalities.length);
        if (!terms.every(Number.isFinite))
          throw new Error(`step ${this.globalStep + 1}: a loss term is not finite (${this.describeTerms(terms)})`);
        const report = await timer.timeAsync('codebook', () =>
          this.model.codebook.update(main.codebook, draws.emaSeed),
        );
        this.options.afterPhase?.('codebook');
        if (this.parallel !== null) [report.equalNum] = this.parallel.sumCounts([report.equalNum]);
        const gradNorm = await this.applyMainGradients(
          main.grads,
          this.clubClipGradients(main.clubGrads, club.lastGrads),
          timer,
        );
        this.globalStep++;
        this.stepInEpoch++;
        this.lastTimings = timer.result();
        const metrics = this.metrics(terms, clubLoglikeli, main.accuracies, report, gradNorm, this.lastTimings);
        metrics.resetCodes += legacyResets;
        return metrics;
      } finally {
        // applyMainGradients frees the gradients it got; these cover the paths that never got there.
        main.terms.dispose();
        main.grads.forEach((g) => g.dispose());
        main.clubGrads.forEach((g) => g.dispose());
        club.lastGrads.forEach((g) => g.dispose());
      }
    } catch (err) {
      undo.rollback();
      throw err;
    } finally {
      undo.release();
    }
  }

  /** CLUB's negative pairs and Cross-CPC's contrast compare the clips of a batch with each other. */
  private checkBatchSize(clips: number): void {
    const { useClub, useCpc } = this.model.config;
    if ((useClub || useCpc) && clips < 2) {
      throw new RangeError(
        `step: the batch has ${clips} clip; ${useClub ? 'CLUB' : 'Cross-CPC'} needs at least 2 to compare clips with each other`,
      );
    }
  }

  private drawStep(b: number): StepDraws {
    return {
      dropoutSeed: this.rng.nextUint32(),
      emaSeed: this.rng.nextUint32(),
      // docs/algorithm.md §4.2: the context ends at t ~ U[1, T-2] and predicts t+1.
      tSample: 1 + this.rng.int(this.model.config.segments - 2),
      permutations: this.model.modalities.map(() => this.rng.permutation(b)),
    };
  }

  /** Training mode with the step's dropout seed (data-parallel: the global batch's masks at this shard). */
  private forwardContext(seed: number): ForwardContext {
    return this.parallel?.trainingContext(seed) ?? trainingContext(seed);
  }

  /**
   * Experimental (hyperparameter legacyEncoderPasses, 0 by default): the first released loop encoded
   * the batch again for every CLUB iteration, and each of those passes also ran the codebook update
   * and its reset clock. Here each extra pass is an encoder forward without gradients, then an update.
   * Returns the number of dead codes the passes revived.
   */
  private async legacyEncoderPasses(batch: ModelBatch, draws: StepDraws, timer: PhaseTimer): Promise<number> {
    let resets = 0;
    // Seeds of pass p apart from the step's own (p = 0 is the main forward's).
    const passSeed = (seed: number, pass: number) => (seed + Math.imul(0x9e3779b9, pass)) >>> 0;
    for (let pass = 1; pass <= this.hyper.legacyEncoderPasses; pass++) {
      const z = tf.tidy(() => this.encodeAll(batch, this.forwardContext(passSeed(draws.dropoutSeed, pass))).z);
      try {
        const seed = passSeed(draws.emaSeed, pass);
        const { forward, report } = timer.time('codebook', () => this.model.codebook.step(z, seed));
        try {
          resets += (await report).resetCodes.length;
        } finally {
          const cmcm = forward.cmcm === null ? [] : [forward.cmcm];
          [...forward.quantized, ...forward.commitment, ...cmcm].forEach((t) => t.dispose());
        }
      } finally {
        z.forEach((t) => t.dispose());
      }
    }
    return resets;
  }

  /** Encoder input -> z, ψ and CLUB's y for every modality (dropout calls in a fixed order). */
  private encodeAll(batch: ModelBatch, ctx: ForwardContext): Encoded {
    const m = this.model;
    const inputs = batch.modalities.map((mod, i) => m.encoderInput(mod, batch.features[i]));
    const z = batch.modalities.map((mod, i) => m.semanticOf(mod, inputs[i], ctx));
    const specific = batch.modalities.map((mod, i) => m.specificOf(mod, inputs[i]));
    return { inputs, z, psi: specific.map((s) => s.psi), clubFeature: specific.map((s) => s.clubFeature) };
  }

  /**
   * docs/algorithm.md §4.1: each CLUB net maximises its log-likelihood on this step's detached (q, y).
   * Returns the log-likelihoods and, for the nets whose clip is measured, the last inner step's
   * gradients (the published step clips their sum with the main loss's gradient).
   */
  private trainClubs(batch: ModelBatch, draws: StepDraws, timer: PhaseTimer) {
    return timer.time('club', () => {
      // The same dropout seed as the main forward: CLUB trains on exactly the pairs it will score.
      const pairs = tf.tidy(() => {
        const encoded = this.encodeAll(batch, this.forwardContext(draws.dropoutSeed));
        const codebook = this.model.codebook;
        return encoded.z.map((z, i) => ({ x: codebook[STEP_ENCODE](z).quantized, y: encoded.clubFeature[i] }));
      });
      const loglikeli: Partial<Record<Modality, number>> = {};
      const lastGrads = new Map<string, tf.Tensor>();
      const measured = new Set(this.measuredClubNames);
      // Each inner step's cost, by step then modality, stays on the device and is read once after the
      // loop. The steps after a non-finite cost still run: the step then fails, and its rollback
      // restores the CLUB nets and their optimizers.
      const costs: tf.Scalar[] = [];
      try {
        for (let iter = 0; iter < this.hyper.clubSteps; iter++) {
          const last = iter === this.hyper.clubSteps - 1;
          batch.modalities.forEach((mod, i) => {
            const club = this.model.club(mod);
            const names = this.model.params.namesIn(`club.${mod}`);
            let { value, grads } = variableGradsOrNothing(
              () => tf.neg(club.loglikeli(pairs[i].x, pairs[i].y)),
              names.map((n) => this.model.params.get(n)),
            );
            if (this.parallel !== null) ({ value, grads } = this.parallel.globalMean(value, grads));
            costs.push(value);
            try {
              this.clubOptimizers.get(mod)!.applyOrdered(
                names.map((n) => ({
                  engineName: this.model.params.engineName(n),
                  grad: grads[this.model.params.engineName(n)],
                })),
              );
            } finally {
              for (const n of names) {
                const g = grads[this.model.params.engineName(n)];
                if (last && measured.has(n) && g !== undefined) lastGrads.set(n, g);
                else g?.dispose();
              }
            }
          });
        }
        const k = batch.modalities.length;
        const values = costs.length === 0 ? new Float32Array(0) : readAll(costs);
        const bad = values.findIndex((cost) => !Number.isFinite(cost));
        if (bad >= 0) {
          throw new Error(
            `step ${this.globalStep + 1}: CLUB (${batch.modalities[bad % k]}) log-likelihood is not finite ` +
              `(inner step ${Math.floor(bad / k) + 1} of ${this.hyper.clubSteps})`,
          );
        }
        // The reported log-likelihoods are the last inner step's.
        const lastStep = values.subarray(values.length - k);
        if (values.length > 0)
          batch.modalities.forEach((mod, i) => {
            loglikeli[mod] = -lastStep[i];
          });
      } catch (err) {
        lastGrads.forEach((g) => g.dispose());
        throw err;
      } finally {
        tf.dispose(costs);
        pairs.forEach((p) => {
          p.x.dispose();
          p.y.dispose();
        });
      }
      return { loglikeli, lastGrads };
    });
  }

  /**
   * The main forward under the tape and its gradients, in mainNames order (zeros where a parameter
   * is unused), plus the gradients of the measured CLUB parameters in measuredClubNames order.
   */
  private mainGradients(batch: ModelBatch, draws: StepDraws, timer: PhaseTimer) {
    const m = this.model;
    const k = batch.modalities.length;
    let codebook: CodebookForward | undefined;
    // Kept past the tape; a property, as TypeScript does not see assignments made in closures.
    const kept: { terms?: tf.Tensor1D } = {};
    let accuracies: number[][] | null = null;
    const forwardBefore = timer.sum(FORWARD_PHASES);
    const start = performance.now();
    const variables = [...this.mainNames, ...this.measuredClubNames].map((n) => m.params.get(n));
    const { value, grads } = variableGradsOrNothing(
      () => {
        const encoded = timer.time('encoders', () => this.encodeAll(batch, this.forwardContext(draws.dropoutSeed)));
        const gather = this.parallel?.gather ?? (<T>(x: T) => x);
        const cb = timer.time('codebook', () => m.codebook[STEP_FORWARD](encoded.z, gather));
        codebook = cb;
        const mi = timer.time('club', () =>
          m.config.useClub
            ? batch.modalities.map((mod, i) =>
                m
                  .club(mod)
                  .miEst(
                    gather(m.config.detachMiCode ? asData(cb.quantized[i]) : cb.quantized[i]),
                    gather(encoded.clubFeature[i]),
                    draws.permutations[i],
                  ),
              )
            : [],
        );
        const cpc = timer.time('cpc', () => (m.cpc === null ? null : m.cpc.forward(encoded.z, draws.tSample, gather)));
        accuracies = cpc?.accuracies ?? null;
        const recon = timer.time('decoders', () =>
          batch.modalities.map(
            (mod, i) =>
              tf.mean(
                tf.squaredDifference(m.decode(mod, encoded.psi[i], cb.quantized[i]), encoded.inputs[i]),
              ) as tf.Scalar,
          ),
        );
        const zero = tf.scalar(0);
        // Term order: recon[k], commitment[k], mi[k], cpc, cmcm (see metrics()).
        const stacked = tf.stack([
          ...recon,
          ...cb.commitment,
          ...(mi.length === k ? mi : Array(k).fill(zero)),
          cpc?.loss ?? zero,
          cb.cmcm ?? zero,
        ]);
        kept.terms = tf.keep(stacked) as tf.Tensor1D;
        // Data-parallel: shard means weighted by the shard's share, gathered-batch terms as they are.
        return (
          this.parallel === null
            ? tf.sum(stacked)
            : tf.sum(tf.mul(stacked, this.parallel.lossWeights(2 * k, stacked.size)))
        ) as tf.Scalar;
      },
      variables,
      () => kept.terms?.dispose(),
    );
    timer.add('backward', performance.now() - start - (timer.sum(FORWARD_PHASES) - forwardBefore));
    value.dispose();
    const ordered = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
    const main = this.mainNames.length;
    return {
      codebook: codebook!,
      terms: kept.terms!,
      accuracies,
      grads: ordered.slice(0, main),
      clubGrads: ordered.slice(main),
    };
  }

  /**
   * Optional gradient all-reduce, per-group clipping and the Adam step; returns the pre-clip norms.
   * `clubGrads` (measuredClubNames order) are measured, never applied. Takes ownership of both
   * arrays and frees each generation of gradients as soon as the next exists
   * (at the paper size a set of gradients is ~0.4 GB).
   */
  private async applyMainGradients(
    grads: tf.Tensor[],
    clubGrads: tf.Tensor[],
    timer: PhaseTimer,
  ): Promise<Record<string, number>> {
    const start = performance.now();
    let current = grads;
    const replace = (next: tf.Tensor[]) => {
      const kept = new Set(next);
      current.forEach((g) => {
        if (!kept.has(g)) g.dispose();
      });
      current = next;
    };
    try {
      // Data-parallel: the loss is already weighted by shard, so the gradients are summed.
      const allReduce = this.options.allReduceGradients ?? this.parallel?.sumGradients;
      if (allReduce !== undefined) {
        const arrays = await allReduce(current.map((g) => g.dataSync() as Float32Array));
        if (
          !Array.isArray(arrays) ||
          arrays.length !== current.length ||
          arrays.some((a, i) => !(a instanceof Float32Array) || a.length !== current[i].size)
        ) {
          throw new Error('allReduceGradients must return one Float32Array per gradient, each of the same length');
        }
        replace(arrays.map((a, i) => tf.tensor(a, current[i].shape, 'float32')));
      }
      const byName = new Map(this.mainNames.map((n, i) => [n, current[i]]));
      this.measuredClubNames.forEach((n, i) => byName.set(n, clubGrads[i]));
      const groupGrads = this.clipGroups.map((g) => g.params.map((n) => byName.get(n)!));
      const norms = gradientNorms(groupGrads);
      const scales = norms.map((norm) => clipScale(norm, this.hyper.clipNorm));
      this.options.inspectGradients?.(
        this.clipGroups.map((g, i) => ({
          name: g.name,
          params: g.params,
          grads: groupGrads[i],
          norm: norms[i],
          scale: scales[i],
          applied: g.applied,
        })),
      );
      const bad = this.clipGroups.filter((_, i) => !Number.isFinite(norms[i])).map((g) => g.name);
      if (bad.length > 0) throw new Error(`step ${this.globalStep + 1}: non-finite gradients in ${bad.join(', ')}`);
      this.options.afterPhase?.('clip');
      const scaleOf = new Map(this.clipGroups.flatMap((g, i) => g.params.map((n) => [n, scales[i]] as const)));
      replace(this.mainNames.map((n, i) => (scaleOf.get(n)! === 1 ? current[i] : tf.mul(current[i], scaleOf.get(n)!))));
      this.mainOptimizer.applyOrdered(
        this.mainNames.map((n, i) => ({ engineName: this.model.params.engineName(n), grad: current[i] })),
      );
      timer.add('optimizer', performance.now() - start);
      return Object.fromEntries(this.clipGroups.map((g, i) => [g.name, norms[i]]));
    } finally {
      current.forEach((g) => g.dispose());
      clubGrads.forEach((g) => g.dispose());
    }
  }

  /** The measured CLUB nets' clip input: the main loss's gradient plus the last inner step's. Frees nothing. */
  private clubClipGradients(mainClub: tf.Tensor[], lastInner: Map<string, tf.Tensor>): tf.Tensor[] {
    return this.measuredClubNames.map((n, i) => {
      const inner = lastInner.get(n);
      return inner === undefined ? mainClub[i].clone() : tf.add(mainClub[i], inner);
    });
  }

  private metrics(
    terms: number[],
    clubLoglikeli: Partial<Record<Modality, number>>,
    accuracies: number[][] | null,
    report: { perplexity: number[]; equalNum: number; resetCodes: number[] },
    gradNorm: Record<string, number>,
    timeMs: PhaseTimings,
  ): StepMetrics {
    const mods = this.model.modalities;
    const k = mods.length;
    const perModality = (offset: number) => Object.fromEntries(mods.map((mod, i) => [mod, terms[offset + i]]));
    const cpcAccuracy: Record<string, number> = {};
    if (accuracies !== null)
      mods.forEach((a, i) =>
        mods.forEach((b, j) => {
          cpcAccuracy[`${a}->${b}`] = accuracies[i][j];
        }),
      );
    return {
      step: this.globalStep,
      epoch: this.epoch,
      lr: this.mainOptimizer.lr,
      loss: {
        total: terms.reduce((s, x) => s + x, 0),
        recon: perModality(0),
        commitment: perModality(k),
        mi: this.model.config.useClub ? perModality(2 * k) : {},
        cpc: terms[3 * k],
        cmcm: terms[3 * k + 1],
      },
      clubLoglikeli,
      perplexity: Object.fromEntries(mods.map((mod, i) => [mod, report.perplexity[i]])),
      equalNum: report.equalNum,
      cpcAccuracy,
      resetCodes: report.resetCodes.length,
      gradNorm,
      timeMs,
    };
  }

  private describeTerms(terms: number[]): string {
    const names = [
      ...['recon', 'commitment', 'mi'].flatMap((t) => this.model.modalities.map((m) => `${t}_${m}`)),
      'cpc',
      'cmcm',
    ];
    return terms.map((v, i) => `${names[i]}=${v}`).join(', ');
  }

  private currentLr(): number {
    return multiStepLr(this.hyper.learningRate, this.hyper.milestones, this.hyper.gamma, this.epoch);
  }

  private makeProgress(source: PairedBatchSource, epochs: number, maxSteps: number | undefined): Progress | null {
    if (this.options.progress === false) return null;
    const perEpoch = source.batchesPerEpoch;
    const planned = perEpoch === undefined ? maxSteps : Math.min(maxSteps ?? Infinity, epochs * perEpoch);
    if (planned === undefined) return null;
    const stream =
      this.options.progress === true || this.options.progress === undefined ? undefined : this.options.progress;
    return new Progress({
      total: Math.max(0, planned - this.globalStep),
      label: 'pretrain',
      ...(stream ? { stream } : {}),
    });
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  /** Writes weights, optimizer states, codebook, position, config and RNG state (atomically). */
  async saveCheckpoint(path: string): Promise<void> {
    this.live('saveCheckpoint');
    await saveTrainingCheckpoint(path, this.checkpointState());
  }

  /**
   * Continues from a checkpoint of the same config: weights, optimizer states, codebook, position
   * and RNG. Everything is checked before anything is assigned.
   */
  async restore(path: string): Promise<void> {
    this.live('restore');
    await this.restorePayload(loadCheckpoint(path), path);
  }

  private async restorePayload(payload: CheckpointPayload, path: string): Promise<void> {
    const position = await restoreTrainingState(payload, path, this.checkpointState());
    this.globalStep = position.globalStep;
    this.epoch = position.epoch;
    this.stepInEpoch = position.stepInEpoch;
    this.mainOptimizer.setLearningRate(this.currentLr());
  }

  /** The parts of this trainer a checkpoint holds (see trainingCheckpoint.ts). */
  private checkpointState(): TrainingState {
    const optimizers: OptimizerSlot[] = [{ key: 'main', optimizer: this.mainOptimizer, names: this.mainNames }];
    for (const [mod, optimizer] of this.clubOptimizers) {
      optimizers.push({ key: `club.${mod}`, optimizer, names: this.model.params.namesIn(`club.${mod}`) });
    }
    return {
      model: this.model,
      trainerSeed: this.seed,
      hyper: this.hyper,
      position: { globalStep: this.globalStep, epoch: this.epoch, stepInEpoch: this.stepInEpoch },
      rng: this.rng,
      optimizers,
    };
  }

  /** Frees the optimizers' state; every later use throws. The model is the caller's to dispose. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mainOptimizer.dispose();
    for (const opt of this.clubOptimizers.values()) opt.dispose();
  }

  private live(where: string): void {
    if (this.disposed) fail(`Trainer.${where}`, 'the trainer has been disposed');
    if (this.model.isDisposed) fail(`Trainer.${where}`, 'its model has been disposed');
  }
}
