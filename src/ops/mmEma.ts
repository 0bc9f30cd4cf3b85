// The multimodal EMA codebook update with dead-code reset (docs/algorithm.md §3.4-§3.6, ops.h "MM-EMA").
//
// The tfjs backend is plain typed-array JS in two phases, so that data-parallel training can
// all-reduce the per-step sums and counts between them (docs/algorithm.md §5.3: sums and counts, never means):
//   mmEmaStatistics   per-modality code counts and own/cross-weighted sums of this batch;
//   applyMmEmaStatistics  the sequential decay/smoothing/update, unused counters, reset, perplexity.
// mmEmaStep(tfjs) = applyMmEmaStatistics(mmEmaStatistics(...)) plus equalNum; the native backends
// run the same step fused.
import { type OpBackend, resolveBackend } from '../backend.js';
import { type DeviceCodebookState, activeCudaBackend, mmEmaOnCuda } from '../cudaBackend/hotOps.js';
import { requireNativeBinding } from '../native/loader.js';
import type { NativeMmEmaOptions } from '../native/binding.js';
import { tf } from '../tfjs.js';
import { MM_EMA_DEFAULTS } from './defaults.js';
import { resetNoise, resetRandom } from './resetRandom.js';
import {
  checkBoolean,
  checkFinite,
  checkModalityList,
  checkNumber,
  checkOptionKeys,
  checkTensor,
  describe,
  fail,
} from './validate.js';

/** The codebook state, on the host. Ops return a new state and never modify their input. */
export interface CodebookState {
  embedding: Float32Array; // [m, d]
  emaCount: Float32Array; // [m]
  emaWeight: Float32Array; // [m, d]
  /** Steps since each code was last used (the published "unactivated_count"); starts at -1. */
  unusedCount: Int32Array; // [m]
  m: number;
  d: number;
}

export interface MmEmaOptions {
  /** EMA decay, applied once per modality (default MM_EMA_DEFAULTS.decay). */
  decay?: number;
  /** Laplace smoothing of the counts (default MM_EMA_DEFAULTS.epsilon). */
  epsilon?: number;
  /** A code unused for more than this many steps is dead and revived (default MM_EMA_DEFAULTS.deadAfter). */
  deadAfter?: number;
  /** A code used within this many steps may be copied to revive a dead one (default MM_EMA_DEFAULTS.activeBelow). */
  activeBelow?: number;
  /** uint32 driving the reset choices and noise (see resetRandom.ts). */
  seed: number;
  /** Also reset the EMA weight of revived codes (default false; not the published behaviour). */
  resetEma?: boolean;
  /** Cross-modal EMA (default true); false is a plain per-modality EMA. */
  crossModal?: boolean;
  /** T: segments per clip, for equalNum. */
  segmentsPerClip: number;
}

export type MmEmaApplyOptions = Omit<MmEmaOptions, 'crossModal' | 'segmentsPerClip'>;

export interface MmEmaReport {
  /** Per modality, exp(entropy) of the batch's code usage. */
  perplexity: number[];
  /** Clips whose most frequent code over T is the same in every modality. */
  equalNum: number;
  /** Dead codes revived this step, ascending. */
  resetCodes: number[];
  /** The active code each revived code copied. */
  resetSources: number[];
}

export type MmEmaUpdateReport = Omit<MmEmaReport, 'equalNum'>;

/** One step's statistics. Summing these over workers gives the statistics of the whole batch. */
export interface MmEmaStatistics {
  /** Vectors per modality (B*T). */
  n: number;
  /** Per modality, in order: how many vectors chose each code, [m]. */
  counts: Float64Array[];
  /** Per modality, in order: the own/cross-weighted sum of the vectors at that modality's indices, [m*d]. */
  sums: Float64Array[];
}

type Vectors = tf.Tensor2D | Float32Array;
type Indices = tf.Tensor1D | Int32Array;

interface Batch {
  z: Float32Array[];
  indices: Int32Array[];
  n: number;
  d: number;
}

type ResolvedApplyOptions = Required<MmEmaApplyOptions>;

const INT32_MAX = 0x7fffffff;

const STEP_OPTION_KEYS = [
  'decay',
  'epsilon',
  'deadAfter',
  'activeBelow',
  'seed',
  'resetEma',
  'crossModal',
  'segmentsPerClip',
] as const;

// ---- validation -------------------------------------------------------------------------------

function readIndices(op: string, name: string, x: unknown, m: number): Int32Array {
  let values: Int32Array;
  if (x instanceof Int32Array) values = x;
  else if (x instanceof tf.Tensor) {
    checkTensor(op, name, x, 1, 'int32');
    values = x.dataSync() as Int32Array;
  } else fail(op, `${name} must be an int32 tf.Tensor1D or an Int32Array, got ${describe(x)}`);
  for (let i = 0; i < values.length; i++) {
    if (values[i] < 0 || values[i] >= m) fail(op, `${name}[${i}] = ${values[i]} is not a code index in [0, ${m})`);
  }
  return values;
}

function readVectors(op: string, name: string, x: unknown, n: number, d: number): Float32Array {
  let values: Float32Array;
  if (x instanceof Float32Array) {
    if (x.length !== n * d) fail(op, `${name} must hold n*d = ${n}*${d} = ${n * d} values, got ${x.length}`);
    values = x;
  } else if (x instanceof tf.Tensor) {
    const [rows, cols] = checkTensor(op, name, x, 2);
    if (rows !== n || cols !== d)
      fail(op, `${name} must have shape [${n}, ${d}] (n from indices, D from the codebook), got [${rows}, ${cols}]`);
    values = x.dataSync() as Float32Array;
  } else fail(op, `${name} must be a float32 tf.Tensor2D or a Float32Array, got ${describe(x)}`);
  checkFinite(op, name, values);
  return values;
}

/**
 * Reads K modalities of vectors and their indices; all share n. Vectors have `d` components, or
 * as many as z[0] shows when d is not known from a codebook state.
 */
function readBatch(op: string, z: unknown, indices: unknown, m: number, d?: number): Batch {
  const zList = checkModalityList(op, 'z', z);
  const indexList = checkModalityList(op, 'indices', indices);
  if (indexList.length !== zList.length)
    fail(op, `indices has ${indexList.length} modalities but z has ${zList.length}`);
  const indexData = indexList.map((x, k) => readIndices(op, `indices[${k}]`, x, m));
  const n = indexData[0].length;
  if (n === 0) fail(op, 'indices[0] is empty: the batch must hold at least one vector');
  indexData.forEach((x, k) => {
    if (x.length !== n)
      fail(op, `indices[${k}] has ${x.length} entries but indices[0] has ${n}: every modality needs the same B*T`);
  });
  const width = d ?? inferWidth(op, zList[0], n);
  const zData = zList.map((x, k) => readVectors(op, `z[${k}]`, x, n, width));
  return { z: zData, indices: indexData, n, d: width };
}

function inferWidth(op: string, z0: unknown, n: number): number {
  const width =
    z0 instanceof tf.Tensor && z0.rank === 2 ? z0.shape[1] : z0 instanceof Float32Array ? z0.length / n : NaN;
  if (!Number.isInteger(width) || width < 1) {
    fail(
      op,
      `z[0] must be a float32 [n, d] tensor or a Float32Array of n*d values with n = ${n} from indices[0], got ${describe(z0)}`,
    );
  }
  return width;
}

function checkState(op: string, state: unknown): CodebookState {
  if (state === null || typeof state !== 'object')
    fail(op, `state must be a CodebookState object, got ${describe(state)}`);
  const s = state as Record<string, unknown>;
  const m = checkNumber(op, 'state.m', s.m, { integer: true, min: 1 });
  const d = checkNumber(op, 'state.d', s.d, { integer: true, min: 1 });
  const expect = (key: string, type: Float32ArrayConstructor | Int32ArrayConstructor, length: number) => {
    const value = s[key];
    if (!(value instanceof type)) fail(op, `state.${key} must be a ${type.name}, got ${describe(value)}`);
    if (value.length !== length)
      fail(op, `state.${key} must hold ${length} values for m = ${m}, d = ${d}, got ${value.length}`);
    if (value instanceof Float32Array) checkFinite(op, `state.${key}`, value);
  };
  expect('embedding', Float32Array, m * d);
  expect('emaCount', Float32Array, m);
  (s.emaCount as Float32Array).forEach((count, j) => {
    if (count < 0) fail(op, `state.emaCount must be >= 0 (a decayed count), but state.emaCount[${j}] = ${count}`);
  });
  expect('emaWeight', Float32Array, m * d);
  expect('unusedCount', Int32Array, m);
  return state as CodebookState;
}

function resolveApplyOptions(op: string, o: Record<string, unknown>): ResolvedApplyOptions {
  if (o.seed === undefined) fail(op, 'opts.seed is required (a uint32 driving the dead-code reset)');
  const counter = { integer: true, min: 0, max: INT32_MAX };
  const option = <K extends keyof typeof MM_EMA_DEFAULTS>(key: K, rule: Parameters<typeof checkNumber>[3]): number =>
    o[key] === undefined ? MM_EMA_DEFAULTS[key] : checkNumber(op, `opts.${key}`, o[key], rule);
  return {
    decay: option('decay', { min: 0, below: 1 }),
    epsilon: option('epsilon', { above: 0 }),
    deadAfter: option('deadAfter', counter),
    activeBelow: option('activeBelow', counter),
    seed: checkNumber(op, 'opts.seed', o.seed, { integer: true, min: 0, max: 0xffffffff }),
    resetEma: o.resetEma === undefined ? false : checkBoolean(op, 'opts.resetEma', o.resetEma),
  };
}

function resolveCrossModal(op: string, o: Record<string, unknown>): boolean {
  return o.crossModal === undefined ? true : checkBoolean(op, 'opts.crossModal', o.crossModal);
}

function resolveSegmentsPerClip(op: string, name: string, value: unknown, n: number): number {
  if (value === undefined) fail(op, `${name} is required (T, the segments per clip)`);
  const t = checkNumber(op, name, value, { integer: true, min: 1 });
  if (n % t !== 0) fail(op, `${name} = ${t} does not divide the ${n} vectors per modality (n = B*T)`);
  return t;
}

// ---- the two phases -----------------------------------------------------------------------------

function statistics(batch: Batch, m: number, crossModal: boolean): MmEmaStatistics {
  const { z, indices, n, d } = batch;
  const k = z.length;
  const ownWeight = crossModal ? 0.5 : 1;
  const crossWeight = crossModal ? 0.5 / (k - 1) : 0;
  const counts: Float64Array[] = [];
  const sums: Float64Array[] = [];
  for (let mod = 0; mod < k; mod++) {
    const count = new Float64Array(m);
    const sum = new Float64Array(m * d);
    const idx = indices[mod];
    for (let i = 0; i < n; i++) count[idx[i]] += 1;
    // Source modality by source modality, as the native step sums, so that the float64 sums agree
    // bit for bit. The other modalities' vectors are gathered at this modality's indices: the
    // cross-modal part.
    for (let source = 0; source < k; source++) {
      const weight = source === mod ? ownWeight : crossWeight;
      if (weight === 0) continue;
      const v = z[source];
      for (let i = 0; i < n; i++) {
        const row = idx[i] * d;
        for (let t = 0; t < d; t++) sum[row + t] += weight * v[i * d + t];
      }
    }
    counts.push(count);
    sums.push(sum);
  }
  return { n, counts, sums };
}

function perplexity(counts: Float64Array, n: number): number {
  let entropy = 0;
  for (let j = 0; j < counts.length; j++) {
    const p = counts[j] / n;
    entropy -= p * Math.log(p + 1e-10);
  }
  return Math.exp(entropy);
}

function apply(
  state: CodebookState,
  stats: MmEmaStatistics,
  o: ResolvedApplyOptions,
): { state: CodebookState; report: MmEmaUpdateReport } {
  const { m, d } = state;
  // The EMA runs in float64 from the float32 state and is rounded once at the end, like the
  // native step; its options struct holds float32, so the constants are rounded the same way.
  const decay = Math.fround(o.decay);
  const eps = Math.fround(o.epsilon);
  const count = Float64Array.from(state.emaCount);
  const weight = Float64Array.from(state.emaWeight);
  for (let mod = 0; mod < stats.counts.length; mod++) {
    const hits = stats.counts[mod];
    const sums = stats.sums[mod];
    let total = 0;
    for (let j = 0; j < m; j++) {
      count[j] = decay * count[j] + (1 - decay) * hits[j];
      total += count[j];
    }
    for (let j = 0; j < m; j++) count[j] = ((count[j] + eps) / (total + m * eps)) * total;
    for (let e = 0; e < m * d; e++) weight[e] = decay * weight[e] + (1 - decay) * sums[e];
  }
  const emaCount = Float32Array.from(count);
  const emaWeight = Float32Array.from(weight);
  const embedding = new Float32Array(m * d);
  for (let j = 0; j < m; j++) {
    for (let t = 0; t < d; t++) embedding[j * d + t] = weight[j * d + t] / count[j];
  }

  // Dead-code reset on the updated float32 embedding (docs/algorithm.md §3.5, as ops.h states it).
  const unusedCount = Int32Array.from(state.unusedCount);
  const active: number[] = [];
  for (let j = 0; j < m; j++) {
    const used = stats.counts.some((hits) => hits[j] > 0);
    // Saturates instead of wrapping to INT32_MIN, which would make a long-dead code look active.
    unusedCount[j] = used ? 0 : Math.min(unusedCount[j] + 1, INT32_MAX);
    if (unusedCount[j] >= 0 && unusedCount[j] < o.activeBelow) active.push(j);
  }
  const resetCodes: number[] = [];
  const resetSources: number[] = [];
  // Without an active code to copy, nothing is revived (and dead counters keep counting).
  for (let j = 0; j < m && active.length > 0; j++) {
    if (unusedCount[j] <= o.deadAfter) continue;
    unusedCount[j] = 0;
    const source = active[Math.floor(resetRandom(o.seed, 0, j) * active.length)];
    for (let t = 0; t < d; t++) {
      embedding[j * d + t] = embedding[source * d + t] + resetNoise(o.seed, j * d + t);
      if (o.resetEma) emaWeight[j * d + t] = embedding[j * d + t] * emaCount[j];
    }
    resetCodes.push(j);
    resetSources.push(source);
  }

  return {
    state: { embedding, emaCount, emaWeight, unusedCount, m, d },
    report: { perplexity: stats.counts.map((hits) => perplexity(hits, stats.n)), resetCodes, resetSources },
  };
}

function modeOfClip(indices: Int32Array, start: number, length: number): number {
  let best = -1;
  let bestCount = 0;
  for (let a = start; a < start + length; a++) {
    let count = 0;
    for (let b = start; b < start + length; b++) if (indices[b] === indices[a]) count++;
    if (count > bestCount || (count === bestCount && indices[a] < best)) {
      best = indices[a];
      bestCount = count;
    }
  }
  return best;
}

function countEqualClips(indices: Int32Array[], segmentsPerClip: number): number {
  const clips = indices[0].length / segmentsPerClip;
  let equal = 0;
  for (let c = 0; c < clips; c++) {
    const mode = modeOfClip(indices[0], c * segmentsPerClip, segmentsPerClip);
    if (indices.every((idx) => modeOfClip(idx, c * segmentsPerClip, segmentsPerClip) === mode)) equal++;
  }
  return equal;
}

// ---- public API ---------------------------------------------------------------------------------

/**
 * Phase 1 of the tfjs MM-EMA step: per-modality code counts and weighted sums of this batch.
 * Independent of the codebook state, so workers can all-reduce (sum) them before phase 2.
 */
export function mmEmaStatistics(
  z: Vectors[],
  indices: Indices[],
  opts: { crossModal?: boolean; m: number },
): MmEmaStatistics {
  const op = 'mmEmaStatistics';
  const o = checkOptionKeys(op, 'opts', opts, ['crossModal', 'm']);
  const m = checkNumber(op, 'opts.m', o.m, { integer: true, min: 1 });
  const crossModal = resolveCrossModal(op, o);
  return statistics(readBatch(op, z, indices, m), m, crossModal);
}

/**
 * Phase 2 of the tfjs MM-EMA step: applies (possibly all-reduced) statistics to the state.
 * Returns a new state; `state` and `stats` are not modified.
 */
export function applyMmEmaStatistics(
  state: CodebookState,
  stats: MmEmaStatistics,
  opts: MmEmaApplyOptions,
): { state: CodebookState; report: MmEmaUpdateReport } {
  const op = 'applyMmEmaStatistics';
  const o = checkOptionKeys(op, 'opts', opts, STEP_OPTION_KEYS);
  const options = resolveApplyOptions(op, o);
  const { m, d } = checkState(op, state);
  if (stats === null || typeof stats !== 'object')
    fail(op, `stats must be an MmEmaStatistics object, got ${describe(stats)}`);
  const n = checkNumber(op, 'stats.n', stats.n, { integer: true, min: 1 });
  const counts = checkModalityList(op, 'stats.counts', stats.counts);
  const sums = checkModalityList(op, 'stats.sums', stats.sums);
  if (sums.length !== counts.length)
    fail(op, `stats.sums has ${sums.length} modalities but stats.counts has ${counts.length}`);
  counts.forEach((c, k) => {
    if (!(c instanceof Float64Array) || c.length !== m)
      fail(op, `stats.counts[${k}] must be a Float64Array of m = ${m} values, got ${describe(c)}`);
    c.forEach((v, j) => {
      if (!(v >= 0 && v <= n)) fail(op, `stats.counts[${k}][${j}] = ${v} is not a count in [0, stats.n = ${n}]`);
    });
  });
  sums.forEach((s, k) => {
    if (!(s instanceof Float64Array) || s.length !== m * d)
      fail(op, `stats.sums[${k}] must be a Float64Array of m*d = ${m * d} values, got ${describe(s)}`);
    s.forEach((v, e) => {
      if (!Number.isFinite(v)) fail(op, `stats.sums[${k}] contains a non-finite value (${v}) at flat index ${e}`);
    });
  });
  return apply(state, stats, options);
}

/** Clips (of segmentsPerClip consecutive entries) whose mode code agrees in every modality; mode ties go to the smaller index. */
export function equalNum(indices: Indices[], segmentsPerClip: number): number {
  const op = 'equalNum';
  const list = checkModalityList(op, 'indices', indices);
  const data = list.map((x, k) => readIndices(op, `indices[${k}]`, x, INT32_MAX));
  data.forEach((x, k) => {
    if (x.length !== data[0].length)
      fail(op, `indices[${k}] has ${x.length} entries but indices[0] has ${data[0].length}`);
  });
  if (data[0].length === 0) fail(op, 'indices[0] is empty');
  return countEqualClips(data, resolveSegmentsPerClip(op, 'segmentsPerClip', segmentsPerClip, data[0].length));
}

/**
 * One MM-EMA step over K modalities (z[k] are [n, d], indices[k] quantize's output for z[k]):
 * returns the new state and the step's report. The input state is never modified.
 */
export function mmEmaStep(
  state: CodebookState,
  z: Vectors[],
  indices: Indices[],
  opts: MmEmaOptions & { backend?: OpBackend },
): { state: CodebookState; report: MmEmaReport } {
  const op = 'mmEmaStep';
  if (opts === undefined) fail(op, 'opts is required (at least seed and segmentsPerClip)');
  const o = checkOptionKeys(op, 'opts', opts, [...STEP_OPTION_KEYS, 'backend']);
  const applyOptions = resolveApplyOptions(op, o);
  const crossModal = resolveCrossModal(op, o);
  const { m, d } = checkState(op, state);
  const batch = readBatch(op, z, indices, m, d);
  const segmentsPerClip = resolveSegmentsPerClip(op, 'opts.segmentsPerClip', o.segmentsPerClip, batch.n);
  return runStep(state, batch, {
    ...applyOptions,
    crossModal,
    segmentsPerClip,
    backend: o.backend as OpBackend | undefined,
  });
}

/** Options of {@link mmEmaStepTrusted}: every field given, already validated. */
export type TrustedMmEmaOptions = Required<MmEmaOptions> & { backend?: OpBackend };

/**
 * mmEmaStep without the argument checks, for SharedCodebook: it validates its state and options once
 * at its own API boundary, and its z and indices come straight from its forward (finite, in range,
 * n divisible by T). Not part of the ops surface (not exported from the ops index).
 */
export function mmEmaStepTrusted(
  state: CodebookState,
  z: Float32Array[],
  indices: Int32Array[],
  options: TrustedMmEmaOptions,
): { state: CodebookState; report: MmEmaReport } {
  return runStep(state, { z, indices, n: indices[0].length, d: state.d }, options);
}

export type { DeviceCodebookState };

/** Whether `backend` resolves to 'cuda' while the tfjs 'cuda' backend is active: the step can run on its tensors. */
export function mmEmaRunsOnDevice(backend: OpBackend | undefined): boolean {
  return activeCudaBackend() !== null && resolveBackend(backend) === 'cuda';
}

/**
 * mmEmaStepTrusted on device tensors of the active tfjs 'cuda' backend (when mmEmaRunsOnDevice):
 * z [k*n, d] and indices [k*n] hold the modalities back to back. Returns the new state as new device
 * tensors (the caller's) and the report, the only data read to the host; `state` is not modified.
 * The same CUDA kernel as the 'cuda' op backend's host-array step: the state matches the CPU
 * kernel's bit for bit.
 */
export function mmEmaStepOnDeviceTrusted(
  state: DeviceCodebookState,
  z: tf.Tensor2D,
  indices: tf.Tensor1D,
  k: number,
  options: TrustedMmEmaOptions,
): { state: DeviceCodebookState; report: MmEmaReport } {
  const backend = activeCudaBackend();
  if (backend === null) throw new Error("mmEmaStep: device tensors need the tfjs 'cuda' backend active");
  const { backend: _requested, ...native } = options;
  return mmEmaOnCuda(backend, state, z, indices, k, native);
}

function runStep(
  state: CodebookState,
  batch: Batch,
  o: TrustedMmEmaOptions,
): { state: CodebookState; report: MmEmaReport } {
  const { m, d } = state;
  const { crossModal, segmentsPerClip, backend: requested, ...applyOptions } = o;
  const backend = resolveBackend(requested);
  if (backend === 'tfjs') {
    const updated = apply(state, statistics(batch, m, crossModal), applyOptions);
    return {
      state: updated.state,
      report: { ...updated.report, equalNum: countEqualClips(batch.indices, segmentsPerClip) },
    };
  }
  const options: NativeMmEmaOptions = { ...applyOptions, crossModal, segmentsPerClip };
  const result = requireNativeBinding('mmEmaStep').mmEmaStep(backend, {
    state: {
      embedding: state.embedding,
      emaCount: state.emaCount,
      emaWeight: state.emaWeight,
      unusedCount: state.unusedCount,
    },
    m,
    d,
    z: batch.z,
    indices: batch.indices,
    n: batch.n,
    options,
  });
  return {
    state: { ...result.state, m, d },
    report: {
      perplexity: Array.from(result.perplexity),
      equalNum: result.equalNum,
      resetCodes: Array.from(result.resetCodes),
      resetSources: Array.from(result.resetSources),
    },
  };
}
