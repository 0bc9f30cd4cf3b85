// The shared discrete codebook with multimodal EMA (docs/algorithm.md §3). One training step has two halves:
//   forward(z)  quantize every modality with the codebook as it is before the step, the
//               straight-through outputs, the commitment losses with cross-modal terms and L_cmcm
//               (all differentiable w.r.t. z; the codebook is a constant);
//   update(f)   the MM-EMA update, dead-code reset and metrics, through the ops.
// Splitting them lets a trainer take gradients of the forward and run the (possibly all-reduced,
// possibly asynchronous) update afterwards; step() runs both.
//
// On the tfjs 'cuda' backend (with the 'cuda' op backend) the state lives in device tensors: the
// forward keeps z and the codes there, the update runs the CUDA MM-EMA kernel on them and only its
// report is read. The host copy is made when asked for (getState, toTensors) and the device copy
// when a step needs it (after setState, fromTensors).
//
// Validation happens once, at this class's boundary: the options at construction, a state when it
// is set (setState, fromTensors), z in forward (by quantize). The state the update ops produce
// is trusted, so a training step scans no codebook array for NaN. The model's training step calls
// forward and encode through STEP_FORWARD and STEP_ENCODE, which skip the finiteness scan of z.
//
// Tensor ownership: forward() returns quantized, commitment and cmcm as new tensors owned by the
// caller (dispose them, or let an enclosing tidy or gradient tape do it); encode() likewise returns
// codes and quantized to the caller. embedding() stays owned by the codebook. Nothing else a
// method creates outlives the call, also when it throws.
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import { type OpBackend, OP_BACKENDS } from '../backend.js';
import { MM_EMA_DEFAULTS } from '../ops/defaults.js';
import {
  type CodebookState,
  type MmEmaStatistics,
  applyMmEmaStatistics,
  codeMatchingLoss,
  equalNum,
  mmEmaStatistics,
  quantize,
} from '../ops/index.js';
import {
  type DeviceCodebookState,
  type TrustedMmEmaOptions,
  mmEmaRunsOnDevice,
  mmEmaStepOnDeviceTrusted,
  mmEmaStepTrusted,
} from '../ops/mmEma.js';
import { codeMatchingLossTrusted } from '../ops/codeMatching.js';
import { quantizeTrusted } from '../ops/quantize.js';
import { checkBoolean, checkNumber, checkOptionKeys, describe, fail } from '../ops/validate.js';
import { tf } from '../tfjs.js';
import { Rng } from '../util/rng.js';
import { MODALITY_ORDER, type Modality } from './config.js';

export type { CodebookState, MmEmaStatistics };

/** Sums statistics over workers (data-parallel training); must return the sum over all of them. */
export type AllReduce = (stats: MmEmaStatistics) => MmEmaStatistics | Promise<MmEmaStatistics>;

/** A host array with its dtype and shape: how the codebook hands its state to a checkpoint. */
export interface StateTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** The codebook's state as named tensors (toTensors / fromTensors). */
export type CodebookTensors = Record<'embedding' | 'emaCount' | 'emaWeight' | 'unusedCount', StateTensor>;

/**
 * What rollback() returns the codebook to; cheap, as states are never modified in place. A device
 * state is held by clones of its tensors (sharing their data): releaseSnapshot() frees them.
 */
export interface CodebookSnapshot {
  readonly state: CodebookState | null;
  readonly device: DeviceCodebookState | null;
}

/** A device-mode forward's inputs of the MM-EMA step, kept on the device until update() takes them. */
interface DeviceUpdateInputs {
  forward: CodebookForward;
  /** z of every modality, [K*B*T, D], modalities back to back. */
  z: Tensor2D;
  /** Their codes, [K*B*T] int32. */
  indices: Tensor1D;
}

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
const OPTION_KEYS = [
  'size',
  'dim',
  'modalities',
  'segmentsPerClip',
  'commitment',
  'decay',
  'epsilon',
  'deadAfter',
  'activeBelow',
  'crossModalEma',
  'useCmcm',
  'resetDeadCodes',
  'resetEma',
  'backend',
  'allReduce',
] as const satisfies readonly (keyof SharedCodebookOptions)[];
const CLASS = 'SharedCodebook';

/**
 * Keys of forward and encode for the model's own training step: they skip the finiteness scan of z
 * (one device read per op on the tfjs 'cuda' backend), as its z come from the model's encoders and
 * the trainer refuses a non-finite loss term or CLUB cost before the MM-EMA update and the Adam step.
 * Not exported from the package: the public forward and encode keep the scan.
 */
export const STEP_FORWARD = Symbol('SharedCodebook.forward in a training step');
export const STEP_ENCODE = Symbol('SharedCodebook.encode in a training step');
/** docs/algorithm.md §3: embedding ~ U(-1/400, 1/400). */
const INIT_BOUND = 1 / 400;

export class SharedCodebook {
  readonly size: number;
  readonly dim: number;
  readonly modalities: Modality[];
  readonly segmentsPerClip: number;
  allReduce: AllReduce | undefined;
  private readonly commitment: number;
  private readonly useCmcm: boolean;
  private readonly backend: OpBackend | undefined;
  /** The MM-EMA options of every update, less the step's seed. */
  private readonly updateOptions: Omit<TrustedMmEmaOptions, 'seed'>;
  // The state lives on the host (state), on the device (device: the tfjs 'cuda' backend's tensors,
  // while the ops run there), or both (equal): one of them is never null.
  private state: CodebookState | null;
  private device: DeviceCodebookState | null = null;
  /** The inputs of the last device-mode forward, until update() takes them (or a failed step drops them). */
  private pending: DeviceUpdateInputs | null = null;
  private readonly deviceForwards = new WeakSet<CodebookForward>();
  private embeddingTensor: Tensor2D | null = null;
  /** Forwards this codebook produced: update() trusts their codes and values. */
  private readonly issued = new WeakSet<CodebookForward>();
  private disposed = false;

  /** Refuses unknown option keys, unknown or repeated modalities and out-of-range hyperparameters. */
  constructor(options: SharedCodebookOptions, init: Rng | CodebookState) {
    if (options === undefined) fail(CLASS, 'options are required ({ size, dim, modalities, segmentsPerClip, ... })');
    const o = checkOptionKeys(CLASS, 'options', options, OPTION_KEYS);
    const optional = <T>(key: (typeof OPTION_KEYS)[number], fallback: T, check: (v: unknown) => T): T =>
      o[key] === undefined ? fallback : check(o[key]);
    const integer =
      (key: (typeof OPTION_KEYS)[number], min: number, max = NEVER_DEAD) =>
      (v: unknown) =>
        checkNumber(CLASS, `options.${key}`, v, { integer: true, min, max });
    const flag = (key: (typeof OPTION_KEYS)[number], fallback: boolean) =>
      optional(key, fallback, (v) => checkBoolean(CLASS, `options.${key}`, v));
    this.size = integer('size', 2)(o.size);
    this.dim = integer('dim', 1)(o.dim);
    this.modalities = checkModalities(o.modalities);
    this.segmentsPerClip = integer('segmentsPerClip', 1)(o.segmentsPerClip);
    this.commitment = optional('commitment', 0.25, (v) => checkNumber(CLASS, 'options.commitment', v, { min: 0 }));
    this.useCmcm = flag('useCmcm', true);
    this.backend = optional('backend', undefined, (v) => {
      if (!(OP_BACKENDS as readonly unknown[]).includes(v)) {
        fail(CLASS, `options.backend must be one of ${OP_BACKENDS.join(', ')}, got ${describe(v)}`);
      }
      return v as OpBackend;
    });
    this.allReduce = optional('allReduce', undefined, (v) => {
      if (typeof v !== 'function') fail(CLASS, `options.allReduce must be a function, got ${describe(v)}`);
      return v as AllReduce;
    });
    const resetDeadCodes = flag('resetDeadCodes', true);
    const deadAfter = optional('deadAfter', MM_EMA_DEFAULTS.deadAfter, integer('deadAfter', 0));
    const real = (key: 'decay' | 'epsilon', rule: Parameters<typeof checkNumber>[3]) =>
      optional(key, MM_EMA_DEFAULTS[key], (v) => checkNumber(CLASS, `options.${key}`, v, rule));
    this.updateOptions = {
      decay: real('decay', { min: 0, below: 1 }),
      epsilon: real('epsilon', { above: 0 }),
      deadAfter: resetDeadCodes ? deadAfter : NEVER_DEAD,
      activeBelow: optional('activeBelow', MM_EMA_DEFAULTS.activeBelow, integer('activeBelow', 0)),
      resetEma: flag('resetEma', false),
      crossModal: flag('crossModalEma', true),
      segmentsPerClip: this.segmentsPerClip,
      backend: this.backend,
    };
    if (init instanceof Rng) this.state = initialState(this.size, this.dim, init);
    else this.state = this.checkedCopy(init, 'init');
  }

  /** A copy of the state. */
  getState(): CodebookState {
    this.live('getState');
    return copyState(this.hostState());
  }

  /** Replaces the state (validated: size, dims, finiteness) with a copy of `state`. */
  setState(state: CodebookState): void {
    this.live('setState');
    this.replaceState(this.checkedCopy(state, 'setState'));
  }

  /** The state as named host tensors (copies), for a checkpoint. */
  toTensors(): CodebookTensors {
    this.live('toTensors');
    const { embedding, emaCount, emaWeight, unusedCount } = copyState(this.hostState());
    const m = this.size;
    const d = this.dim;
    return {
      embedding: { dtype: 'float32', shape: [m, d], data: embedding },
      emaCount: { dtype: 'float32', shape: [m], data: emaCount },
      emaWeight: { dtype: 'float32', shape: [m, d], data: emaWeight },
      unusedCount: { dtype: 'int32', shape: [m], data: unusedCount },
    };
  }

  /** Throws unless `tensors` (as toTensors gives them) fit this codebook; changes nothing. */
  checkTensors(tensors: Partial<Record<keyof CodebookTensors, StateTensor>>): void {
    this.live('checkTensors');
    this.stateFromTensors(tensors, 'checkTensors');
  }

  /** Replaces the state with (a copy of) `tensors`, as toTensors gives them; validated first. */
  fromTensors(tensors: Partial<Record<keyof CodebookTensors, StateTensor>>): void {
    this.live('fromTensors');
    this.replaceState(this.stateFromTensors(tensors, 'fromTensors'));
  }

  /** Where rollback() can return to (for a caller that must undo a failed step). */
  snapshot(): CodebookSnapshot {
    this.live('snapshot');
    return { state: this.state, device: this.device === null ? null : cloneDeviceState(this.device) };
  }

  /**
   * Returns to `snapshot`'s state; also frees the embedding tensor and a forward's device inputs
   * that no update took, so a failed step leaves none behind. The snapshot stays valid.
   */
  rollback(snapshot: CodebookSnapshot): void {
    this.live('rollback');
    this.dropPending();
    this.replaceState(snapshot.state, snapshot.device === null ? null : cloneDeviceState(snapshot.device));
  }

  /** Frees what `snapshot` holds (its device tensors' clones); it must not be rolled back to afterwards. */
  releaseSnapshot(snapshot: CodebookSnapshot): void {
    if (snapshot.device !== null) disposeDeviceState(snapshot.device);
  }

  /** The current embedding as a tensor [M, D]; owned by the codebook (do not dispose). */
  embedding(): Tensor2D {
    this.live('embedding');
    if (this.device !== null || mmEmaRunsOnDevice(this.backend)) return this.deviceState().embedding;
    this.embeddingTensor ??= tf.keep(tf.tensor2d(this.hostState().embedding, [this.size, this.dim]));
    return this.embeddingTensor;
  }

  /** Frozen-model encoding: codes [B,T] (int32) and their embeddings [B,T,D], owned by the caller. No state change. */
  encode(z: Tensor3D): { codes: Tensor2D; quantized: Tensor3D } {
    return this.encodeWith(z, true);
  }

  /** encode in a training step (see STEP_ENCODE). */
  [STEP_ENCODE](z: Tensor3D): { codes: Tensor2D; quantized: Tensor3D } {
    return this.encodeWith(z, false);
  }

  private encodeWith(z: Tensor3D, scan: boolean): { codes: Tensor2D; quantized: Tensor3D } {
    this.live('encode');
    this.checkInputs([z], 'encode', 1);
    const [b, t, d] = z.shape;
    return tf.tidy(() => {
      const { indices } = this.nearest(tf.reshape(z, [b * t, d]) as Tensor2D, this.embedding(), scan);
      return {
        codes: tf.reshape(indices, [b, t]) as Tensor2D,
        quantized: tf.reshape(tf.gather(this.embedding(), indices), [b, t, d]) as Tensor3D,
      };
    });
  }

  /**
   * The differentiable half of a training step (no state change). z: one [B,T,D] per modality, in
   * `modalities` order. `gather` maps this process's z to the whole batch's before L_cmcm compares
   * clips with each other (data-parallel training; the identity otherwise).
   */
  forward(z: Tensor3D[], gather: (local: Tensor3D) => Tensor3D = (local) => local): CodebookForward {
    return this.forwardWith(z, gather, true);
  }

  /** forward in a training step (see STEP_FORWARD). */
  [STEP_FORWARD](z: Tensor3D[], gather: (local: Tensor3D) => Tensor3D = (local) => local): CodebookForward {
    return this.forwardWith(z, gather, false);
  }

  /** quantize's codes of z [n, D]: with the finiteness scan (the public ops' check) or without. */
  private nearest(z: Tensor2D, codebook: Tensor2D, scan: boolean): { indices: Tensor1D } {
    return scan ? quantize(z, codebook, { backend: this.backend }) : quantizeTrusted(z, codebook, this.backend);
  }

  private forwardWith(z: Tensor3D[], gather: (local: Tensor3D) => Tensor3D, scan: boolean): CodebookForward {
    this.live('forward');
    this.checkInputs(z, 'forward', this.modalities.length);
    const k = z.length;
    const [b, t, d] = z[0].shape;
    const beta = this.commitment;
    const codebook = this.embedding();
    // On the cuda backend the update's inputs stay on the device (the state is there too); with
    // allReduce the statistics are summed on the host, so they are read.
    const onDevice = this.device !== null && this.allReduce === undefined && mmEmaRunsOnDevice(this.backend);
    let indices: Int32Array[] = [];
    // Only the returned tensors survive the tidy, also when quantize refuses a non-finite z.
    const tensors = tf.tidy(() => {
      const flat = z.map((zm) => tf.reshape(zm, [b * t, d]) as Tensor2D);
      const found = flat.map((zm) => this.nearest(zm, codebook, scan));
      if (!onDevice) indices = found.map((f) => f.indices.dataSync() as Int32Array);
      // [z, indices], the modalities back to back, or [] on the host.
      const updateInputs: Tensor[] = onDevice ? [tf.concat(flat), tf.concat(found.map((f) => f.indices))] : [];
      const targets = found.map((f) => tf.reshape(tf.gather(codebook, f.indices), [b, t, d]) as Tensor3D);
      const commitment = z.map((zm, m) => {
        const terms = targets.map((q, n) =>
          tf.mul(tf.mean(tf.squaredDifference(zm, q)), n === m ? 2 * beta : beta / (k - 1)),
        );
        return tf.addN(terms) as Scalar;
      });
      const quantized = z.map((zm, m) => straightThrough(zm, targets[m]));
      const { epsilon } = this.updateOptions;
      const matched = z.map(gather);
      const cmcm = !this.useCmcm
        ? []
        : scan
          ? codeMatchingLoss(matched, codebook, { backend: this.backend, epsilon })
          : codeMatchingLossTrusted(matched, codebook, epsilon, this.backend);
      return { quantized, commitment, cmcm, updateInputs };
    });
    const zValues = onDevice ? [] : z.map((zm) => zm.dataSync() as Float32Array);
    const cmcm = Array.isArray(tensors.cmcm) ? null : (tensors.cmcm as Scalar);
    const { quantized, commitment, updateInputs } = tensors;
    const forward: CodebookForward = { indices, quantized, commitment, cmcm, zValues };
    if (onDevice) this.holdDeviceInputs(forward, updateInputs[0] as Tensor2D, updateInputs[1] as Tensor1D);
    this.issued.add(forward);
    return forward;
  }

  /**
   * Keeps a device-mode forward's update inputs (freeing an earlier forward's that no update took)
   * and makes its `indices` and `zValues` read them from the device when asked (tests, debugging).
   */
  private holdDeviceInputs(forward: CodebookForward, z: Tensor2D, indices: Tensor1D): void {
    this.dropPending();
    // Kept: forward() may run inside a gradient tape's scope, which ends before update().
    this.pending = { forward, z: tf.keep(z), indices: tf.keep(indices) };
    this.deviceForwards.add(forward);
    const k = this.modalities.length;
    const split = <A extends Float32Array | Int32Array>(name: string, tensor: Tensor): A[] => {
      if (this.pending?.forward !== forward) {
        fail(`${CLASS}.forward`, `${name} of a forward on the cuda backend can be read only until its update`);
      }
      const all = tensor.dataSync() as A;
      const part = all.length / k;
      return Array.from({ length: k }, (_, m) => all.slice(m * part, (m + 1) * part) as A);
    };
    Object.defineProperties(forward, {
      indices: { get: () => split<Int32Array>('indices', indices), enumerable: true },
      zValues: { get: () => split<Float32Array>('zValues', z), enumerable: true },
    });
  }

  /** Frees the device inputs of a forward that no update took. */
  private dropPending(): void {
    if (this.pending === null) return;
    this.pending.z.dispose();
    this.pending.indices.dispose();
    this.pending = null;
  }

  /**
   * The MM-EMA update, dead-code reset and metrics for a forward's codes (docs/algorithm.md §3.4-§3.6).
   * `forward` must come from this codebook's forward(). With allReduce set, the statistics are
   * summed over workers before they are applied. The state changes only when the whole update succeeded.
   */
  async update(forward: CodebookForward, seed: number): Promise<CodebookUpdateReport> {
    const where = `${CLASS}.update`;
    this.live('update');
    if (!this.issued.has(forward)) fail(where, "forward must be what this codebook's forward() returned");
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      fail(where, `seed must be a uint32, got ${describe(seed)}`);
    }
    if (this.deviceForwards.has(forward)) return this.updateOnDevice(forward, seed);
    const before = this.hostState();
    let next: CodebookState;
    let report: CodebookUpdateReport;
    if (this.allReduce === undefined) {
      const options = { ...this.updateOptions, seed };
      ({ state: next, report } = mmEmaStepTrusted(before, forward.zValues, forward.indices, options));
    } else {
      const { crossModal, segmentsPerClip: _t, backend: _b, ...applyOptions } = this.updateOptions;
      const local = mmEmaStatistics(forward.zValues, forward.indices, { crossModal, m: this.size });
      // The summed statistics come from outside; applyMmEmaStatistics validates them (and the state).
      const applied = applyMmEmaStatistics(before, await this.allReduce(local), { ...applyOptions, seed });
      next = applied.state;
      // equal_num counts this worker's clips (it is a metric, not a statistic of the update).
      report = { ...applied.report, equalNum: equalNum(forward.indices, this.segmentsPerClip) };
    }
    this.live('update');
    if (this.state !== before) {
      fail(where, 'the state changed while this update ran (concurrent updates are not supported)');
    }
    this.replaceState(next);
    return report;
  }

  /** update() for a forward whose inputs are on the device: the step runs there, on the device state. */
  private updateOnDevice(forward: CodebookForward, seed: number): CodebookUpdateReport {
    const pending = this.pending;
    if (pending?.forward !== forward) {
      fail(
        `${CLASS}.update`,
        "a later forward() or a rollback dropped this forward's device inputs: update each forward before the next",
      );
    }
    try {
      const options = { ...this.updateOptions, seed };
      const k = this.modalities.length;
      const { state, report } = mmEmaStepOnDeviceTrusted(this.deviceState(), pending.z, pending.indices, k, options);
      this.replaceState(null, state);
      return report;
    } finally {
      this.dropPending();
    }
  }

  /**
   * One full training step: the forward, returned at once so that it can sit inside a gradient
   * tape, and the update it starts; the state has changed once `report` resolves. The forward's
   * tensors are the caller's.
   */
  step(z: Tensor3D[], seed: number): { forward: CodebookForward; report: Promise<CodebookUpdateReport> } {
    const forward = this.forward(z);
    return { forward, report: this.update(forward, seed) };
  }

  /** Frees the embedding tensor; every later call throws. Disposing twice is harmless. */
  dispose(): void {
    this.dropEmbeddingTensor();
    this.dropPending();
    if (this.device !== null) disposeDeviceState(this.device);
    this.device = null;
    this.disposed = true;
  }

  private live(where: string): void {
    if (this.disposed) fail(`${CLASS}.${where}`, 'the codebook has been disposed');
  }

  /** Makes `next` (host) and `device` (its device tensors, now owned here) the state; frees the old device state. */
  private replaceState(next: CodebookState | null, device: DeviceCodebookState | null = null): void {
    if (this.device !== null && this.device !== device) disposeDeviceState(this.device);
    this.state = next;
    this.device = device;
    this.dropEmbeddingTensor();
  }

  /** The state on the host, read from the device (once per state) when only the device has it. */
  private hostState(): CodebookState {
    if (this.state === null) {
      const device = this.device!;
      this.state = {
        embedding: Float32Array.from(device.embedding.dataSync()),
        emaCount: Float32Array.from(device.emaCount.dataSync()),
        emaWeight: Float32Array.from(device.emaWeight.dataSync()),
        unusedCount: Int32Array.from(device.unusedCount.dataSync()),
        m: this.size,
        d: this.dim,
      };
    }
    return this.state;
  }

  /** The state as device tensors of the active backend, uploaded (once per state) when only the host has it. */
  private deviceState(): DeviceCodebookState {
    if (this.device === null) {
      const { embedding, emaCount, emaWeight, unusedCount } = this.state!;
      const [m, d] = [this.size, this.dim];
      this.device = {
        embedding: tf.keep(tf.tensor2d(embedding, [m, d])),
        emaCount: tf.keep(tf.tensor1d(emaCount)),
        emaWeight: tf.keep(tf.tensor2d(emaWeight, [m, d])),
        unusedCount: tf.keep(tf.tensor1d(unusedCount, 'int32')),
      };
    }
    return this.device;
  }

  private dropEmbeddingTensor(): void {
    this.embeddingTensor?.dispose();
    this.embeddingTensor = null;
  }

  private checkInputs(z: Tensor[], where: string, count: number): void {
    if (!Array.isArray(z) || z.length !== count) {
      fail(
        `${CLASS}.${where}`,
        `expected ${count} tensor(s) [B,T,D] (${this.modalities.join(', ')}), got ${Array.isArray(z) ? z.length : typeof z}`,
      );
    }
    z.forEach((zm, i) => {
      if (!(zm instanceof tf.Tensor) || zm.rank !== 3 || zm.dtype !== 'float32' || zm.isDisposed) {
        fail(`${CLASS}.${where}`, `z[${i}] must be a live float32 tensor [B,T,D]`);
      }
    });
    const first = z[0].shape;
    z.forEach((zm, i) => {
      if (zm.shape[2] !== this.dim)
        fail(`${CLASS}.${where}`, `z[${i}] has D = ${zm.shape[2]}, the codebook has D = ${this.dim}`);
      if (zm.shape[0] !== first[0] || zm.shape[1] !== first[1]) {
        fail(`${CLASS}.${where}`, `z[${i}] has shape [${zm.shape.join(', ')}] but z[0] has [${first.join(', ')}]`);
      }
    });
  }

  private stateFromTensors(tensors: Partial<Record<keyof CodebookTensors, StateTensor>>, where: string): CodebookState {
    const op = `${CLASS}.${where}`;
    if (tensors === null || typeof tensors !== 'object')
      fail(op, `tensors must be an object, got ${describe(tensors)}`);
    const m = this.size;
    const d = this.dim;
    const read = <A extends Float32Array | Int32Array>(
      key: keyof CodebookTensors,
      dtype: StateTensor['dtype'],
      shape: number[],
    ): A => {
      const t = tensors[key];
      if (t === undefined) fail(op, `tensor ${key} is missing`);
      if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        fail(op, `tensor ${key} must be ${dtype} [${shape.join(', ')}], got ${String(t.dtype)} [${String(t.shape)}]`);
      }
      return t.data as A;
    };
    return this.checkedCopy(
      {
        embedding: read('embedding', 'float32', [m, d]),
        emaCount: read('emaCount', 'float32', [m]),
        emaWeight: read('emaWeight', 'float32', [m, d]),
        unusedCount: read('unusedCount', 'int32', [m]),
        m,
        d,
      },
      where,
    );
  }

  private checkedCopy(state: CodebookState, where: string): CodebookState {
    const op = `${CLASS}.${where}`;
    if (state === null || typeof state !== 'object') fail(op, `state must be a CodebookState, got ${describe(state)}`);
    if (state.m !== this.size || state.d !== this.dim) {
      fail(op, `state is ${state.m} x ${state.d}, this codebook is ${this.size} x ${this.dim}`);
    }
    const expect = (
      name: keyof CodebookState,
      type: Float32ArrayConstructor | Int32ArrayConstructor,
      length: number,
    ) => {
      const value = state[name];
      if (!(value instanceof type) || value.length !== length)
        fail(op, `state.${name} must be a ${type.name} of ${length} values`);
      if (value instanceof Float32Array && !value.every(Number.isFinite))
        fail(op, `state.${name} holds a non-finite value`);
    };
    expect('embedding', Float32Array, this.size * this.dim);
    expect('emaCount', Float32Array, this.size);
    expect('emaWeight', Float32Array, this.size * this.dim);
    expect('unusedCount', Int32Array, this.size);
    return copyState(state);
  }
}

/** 2 or 3 distinct known modalities. */
function checkModalities(value: unknown): Modality[] {
  const where = 'options.modalities';
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    fail(CLASS, `${where} must list 2 or 3 modalities, got ${describe(value)}`);
  }
  value.forEach((m, i) => {
    if (!(MODALITY_ORDER as readonly unknown[]).includes(m)) {
      fail(CLASS, `${where}[${i}] is ${describe(m)}, not one of ${MODALITY_ORDER.join(', ')}`);
    }
    if (value.indexOf(m) !== i) fail(CLASS, `${where} lists ${describe(m)} twice`);
  });
  return [...value] as Modality[];
}

/** docs/algorithm.md §3: embedding U(-1/400, 1/400), ema_weight a copy, ema_count 0, unused -1. */
function initialState(m: number, d: number, rng: Rng): CodebookState {
  const embedding = new Float32Array(m * d);
  for (let i = 0; i < embedding.length; i++) embedding[i] = (2 * rng.next() - 1) * INIT_BOUND;
  return {
    embedding,
    emaCount: new Float32Array(m),
    emaWeight: Float32Array.from(embedding),
    unusedCount: new Int32Array(m).fill(-1),
    m,
    d,
  };
}

/** Clones of a device state's tensors (sharing the data: no copy), kept past any tidy. */
function cloneDeviceState(s: DeviceCodebookState): DeviceCodebookState {
  return {
    embedding: tf.keep(tf.clone(s.embedding)),
    emaCount: tf.keep(tf.clone(s.emaCount)),
    emaWeight: tf.keep(tf.clone(s.emaWeight)),
    unusedCount: tf.keep(tf.clone(s.unusedCount)),
  };
}

function disposeDeviceState(s: DeviceCodebookState): void {
  tf.dispose([s.embedding, s.emaCount, s.emaWeight, s.unusedCount]);
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
