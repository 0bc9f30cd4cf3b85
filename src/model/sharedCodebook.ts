// The shared discrete codebook with multimodal EMA (SPEC §3). One training step has two halves:
//   forward(z)  quantize every modality with the codebook as it is before the step, the
//               straight-through outputs, the commitment losses with cross-modal terms and L_cmcm
//               (all differentiable w.r.t. z; the codebook is a constant);
//   update(f)   the MM-EMA update, dead-code reset and metrics, through the ops.
// Splitting them lets a trainer take gradients of the forward and run the (possibly all-reduced,
// possibly asynchronous) update afterwards; step() runs both.
import type { Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import type { OpBackend } from '../backend.js';
import {
  type CodebookState, type MmEmaStatistics, applyMmEmaStatistics, codeMatchingLoss, equalNum, mmEmaStatistics, mmEmaStep, quantize,
} from '../ops/index.js';
import { tf } from '../tfjs.js';
import type { Rng } from '../util/rng.js';
import type { Modality } from './config.js';

export type { CodebookState, MmEmaStatistics };

/** Sums statistics over workers (data-parallel training); must return the sum over all of them. */
export type AllReduce = (stats: MmEmaStatistics) => MmEmaStatistics | Promise<MmEmaStatistics>;

export interface SharedCodebookOptions {
  /** Codebook size M. */
  size: number;
  /** Embedding size D. */
  dim: number;
  /** Modalities in processing order (the MM-EMA applies them one after another). */
  modalities: Modality[];
  /** T, for equal_num. */
  segmentsPerClip: number;
  commitment?: number;
  decay?: number;
  epsilon?: number;
  deadAfter?: number;
  activeBelow?: number;
  crossModalEma?: boolean;
  useCmcm?: boolean;
  resetDeadCodes?: boolean;
  resetEma?: boolean;
  backend?: OpBackend;
  allReduce?: AllReduce;
}

export interface CodebookForward {
  /** Codes per modality, [B*T] row-major over (B, T). */
  indices: Int32Array[];
  /** Straight-through outputs z + sg(q - z) per modality, [B,T,D]. */
  quantized: Tensor3D[];
  /** loss_m = 2β mse(z_m, sg(q_m)) + Σ_{n≠m} β/(K-1) mse(z_m, sg(q_n)), per modality. */
  commitment: Scalar[];
  /** 0.5 Σ_pairs L_mn, or null when useCmcm is off. */
  cmcm: Scalar | null;
  /** The values of z (detached) for the update. */
  zValues: Float32Array[];
}

export interface CodebookUpdateReport {
  perplexity: number[];
  equalNum: number;
  resetCodes: number[];
  resetSources: number[];
}

/** Never dies: makes the dead-code reset a no-op when resetDeadCodes is off. */
const NEVER_DEAD = 0x7fffffff;
/** SPEC §3: embedding ~ U(-1/400, 1/400). */
const INIT_BOUND = 1 / 400;

export class SharedCodebook {
  readonly size: number;
  readonly dim: number;
  readonly modalities: Modality[];
  readonly segmentsPerClip: number;
  allReduce: AllReduce | undefined;
  private readonly opts: Required<Omit<SharedCodebookOptions, 'backend' | 'allReduce' | 'modalities'>> & { backend?: OpBackend };
  private state: CodebookState;
  private embeddingTensor: Tensor2D | null = null;

  constructor(options: SharedCodebookOptions, init: Rng | CodebookState) {
    const { size, dim, modalities, segmentsPerClip } = options;
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`SharedCodebook: size must be an integer >= 2, got ${String(size)}`);
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`SharedCodebook: dim must be a positive integer, got ${String(dim)}`);
    if (!Array.isArray(modalities) || modalities.length < 2 || modalities.length > 3) {
      throw new RangeError('SharedCodebook: modalities must list 2 or 3 modalities');
    }
    if (!Number.isInteger(segmentsPerClip) || segmentsPerClip < 1) {
      throw new RangeError(`SharedCodebook: segmentsPerClip must be a positive integer, got ${String(segmentsPerClip)}`);
    }
    this.size = size;
    this.dim = dim;
    this.modalities = [...modalities];
    this.segmentsPerClip = segmentsPerClip;
    this.allReduce = options.allReduce;
    this.opts = {
      size, dim, segmentsPerClip,
      commitment: options.commitment ?? 0.25,
      decay: options.decay ?? 0.99,
      epsilon: options.epsilon ?? 1e-5,
      deadAfter: options.deadAfter ?? 300,
      activeBelow: options.activeBelow ?? 100,
      crossModalEma: options.crossModalEma ?? true,
      useCmcm: options.useCmcm ?? true,
      resetDeadCodes: options.resetDeadCodes ?? true,
      resetEma: options.resetEma ?? false,
      backend: options.backend,
    };
    this.state = 'next' in init ? initialState(size, dim, init) : this.checkedCopy(init, 'init');
  }

  /** A copy of the state. */
  getState(): CodebookState {
    return copyState(this.state);
  }

  /** Replaces the state (validated: size, dims, finiteness) with a copy of `state`. */
  setState(state: CodebookState): void {
    this.state = this.checkedCopy(state, 'setState');
    this.dropEmbeddingTensor();
  }

  /** The current embedding as a tensor [M, D]; owned by the codebook (do not dispose). */
  embedding(): Tensor2D {
    this.embeddingTensor ??= tf.keep(tf.tensor2d(this.state.embedding, [this.size, this.dim]));
    return this.embeddingTensor;
  }

  /** Frozen-model encoding: codes [B,T] (int32) and their embeddings [B,T,D]. No state change. */
  encode(z: Tensor3D): { codes: Tensor2D; quantized: Tensor3D } {
    this.checkInputs([z], 'encode', 1);
    const [b, t, d] = z.shape;
    return tf.tidy(() => {
      const { indices } = quantize(tf.reshape(z, [b * t, d]), this.embedding(), { backend: this.opts.backend });
      return {
        codes: tf.reshape(indices, [b, t]) as Tensor2D,
        quantized: tf.reshape(tf.gather(this.embedding(), indices), [b, t, d]) as Tensor3D,
      };
    });
  }

  /** The differentiable half of a training step (no state change). z: one [B,T,D] per modality, in `modalities` order. */
  forward(z: Tensor3D[]): CodebookForward {
    this.checkInputs(z, 'forward', this.modalities.length);
    const k = z.length;
    const [b, t, d] = z[0].shape;
    const beta = this.opts.commitment;
    const codebook = this.embedding();
    const zValues = z.map((zm) => zm.dataSync() as Float32Array);
    const found = z.map((zm) => quantize(tf.reshape(zm, [b * t, d]) as Tensor2D, codebook, { backend: this.opts.backend }));
    const indices = found.map((f) => f.indices.dataSync() as Int32Array);
    const targets = found.map((f) => tf.reshape(tf.gather(codebook, f.indices), [b, t, d]) as Tensor3D);
    found.forEach((f) => { f.indices.dispose(); f.distances.dispose(); });
    const commitment = z.map((zm, m) => {
      const terms = targets.map((q, n) => tf.mul(tf.mean(tf.squaredDifference(zm, q)), n === m ? 2 * beta : beta / (k - 1)));
      return tf.addN(terms) as Scalar;
    });
    const quantized = z.map((zm, m) => straightThrough(zm, targets[m]));
    const cmcm = this.opts.useCmcm ? codeMatchingLoss(z, codebook, { backend: this.opts.backend, epsilon: this.opts.epsilon }) : null;
    return { indices, quantized, commitment, cmcm, zValues };
  }

  /**
   * The MM-EMA update, dead-code reset and metrics for a forward's codes (SPEC §3 steps 4-6).
   * With allReduce set, the statistics are summed over workers before they are applied.
   * The state changes only when the whole update succeeded.
   */
  async update(forward: CodebookForward, seed: number): Promise<CodebookUpdateReport> {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`SharedCodebook.update: seed must be a uint32, got ${String(seed)}`);
    const options = {
      decay: this.opts.decay,
      epsilon: this.opts.epsilon,
      deadAfter: this.opts.resetDeadCodes ? this.opts.deadAfter : NEVER_DEAD,
      activeBelow: this.opts.activeBelow,
      resetEma: this.opts.resetEma,
      seed,
    };
    let next: CodebookState;
    let report: CodebookUpdateReport;
    if (this.allReduce === undefined) {
      const stepped = mmEmaStep(this.state, forward.zValues, forward.indices, {
        ...options, crossModal: this.opts.crossModalEma, segmentsPerClip: this.segmentsPerClip, backend: this.opts.backend,
      });
      next = stepped.state;
      report = stepped.report;
    } else {
      const local = mmEmaStatistics(forward.zValues, forward.indices, { crossModal: this.opts.crossModalEma, m: this.size });
      const applied = applyMmEmaStatistics(this.state, await this.allReduce(local), options);
      next = applied.state;
      // equal_num counts this worker's clips (it is a metric, not a statistic of the update).
      report = { ...applied.report, equalNum: equalNum(forward.indices, this.segmentsPerClip) };
    }
    this.state = next;
    this.dropEmbeddingTensor();
    return report;
  }

  /**
   * One full training step: the forward, returned at once so that it can sit inside a gradient
   * tape, and the update it starts; the state has changed once `report` resolves.
   */
  step(z: Tensor3D[], seed: number): { forward: CodebookForward; report: Promise<CodebookUpdateReport> } {
    const forward = this.forward(z);
    return { forward, report: this.update(forward, seed) };
  }

  dispose(): void {
    this.dropEmbeddingTensor();
  }

  private dropEmbeddingTensor(): void {
    this.embeddingTensor?.dispose();
    this.embeddingTensor = null;
  }

  private checkInputs(z: Tensor[], where: string, count: number): void {
    if (!Array.isArray(z) || z.length !== count) {
      throw new Error(`SharedCodebook.${where}: expected ${count} tensor(s) [B,T,D] (${this.modalities.join(', ')}), got ${Array.isArray(z) ? z.length : typeof z}`);
    }
    const first = z[0]?.shape;
    z.forEach((zm, i) => {
      if (!(zm instanceof tf.Tensor) || zm.rank !== 3 || zm.dtype !== 'float32') {
        throw new Error(`SharedCodebook.${where}: z[${i}] must be a float32 tensor [B,T,D]`);
      }
      if (zm.shape[2] !== this.dim) throw new Error(`SharedCodebook.${where}: z[${i}] has D = ${zm.shape[2]}, the codebook has D = ${this.dim}`);
      if (zm.shape[0] !== first[0] || zm.shape[1] !== first[1]) {
        throw new Error(`SharedCodebook.${where}: z[${i}] has shape [${zm.shape.join(', ')}] but z[0] has [${first.join(', ')}]`);
      }
    });
  }

  /** Throws unless `state` fits this codebook (size, dims, array types, finite values). */
  checkState(state: CodebookState, where = 'checkState'): void {
    this.checkedCopy(state, where);
  }

  private checkedCopy(state: CodebookState, where: string): CodebookState {
    if (state === null || typeof state !== 'object') throw new TypeError(`SharedCodebook.${where}: state must be a CodebookState`);
    if (state.m !== this.size || state.d !== this.dim) {
      throw new Error(`SharedCodebook.${where}: state is ${state.m} x ${state.d}, this codebook is ${this.size} x ${this.dim}`);
    }
    const expect = (name: keyof CodebookState, type: Float32ArrayConstructor | Int32ArrayConstructor, length: number) => {
      const value = state[name];
      if (!(value instanceof type) || value.length !== length) throw new Error(`SharedCodebook.${where}: state.${name} must be a ${type.name} of ${length} values`);
      if (value instanceof Float32Array && !value.every(Number.isFinite)) throw new Error(`SharedCodebook.${where}: state.${name} holds a non-finite value`);
    };
    expect('embedding', Float32Array, this.size * this.dim);
    expect('emaCount', Float32Array, this.size);
    expect('emaWeight', Float32Array, this.size * this.dim);
    expect('unusedCount', Int32Array, this.size);
    return copyState(state);
  }
}

/** SPEC §3 init: embedding U(-1/400, 1/400), ema_weight a copy, ema_count 0, unused -1. */
function initialState(m: number, d: number, rng: Rng): CodebookState {
  const embedding = new Float32Array(m * d);
  for (let i = 0; i < embedding.length; i++) embedding[i] = (2 * rng.next() - 1) * INIT_BOUND;
  return { embedding, emaCount: new Float32Array(m), emaWeight: Float32Array.from(embedding), unusedCount: new Int32Array(m).fill(-1), m, d };
}

function copyState(s: CodebookState): CodebookState {
  return {
    embedding: Float32Array.from(s.embedding),
    emaCount: Float32Array.from(s.emaCount),
    emaWeight: Float32Array.from(s.emaWeight),
    unusedCount: Int32Array.from(s.unusedCount),
    m: s.m,
    d: s.d,
  };
}

/** z + sg(q - z): the value of q with the identity gradient to z. */
function straightThrough(z: Tensor3D, q: Tensor3D): Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.add(args[0] as Tensor3D, tf.sub(q, args[0] as Tensor3D)),
    gradFunc: (dy) => dy,
  }));
  return op(z) as Tensor3D;
}
