// quantize: exact float32 nearest-codebook-row search (docs/algorithm.md §3.1, ops.h "quantize").
// Every backend uses the same method, a float32 GEMM to shortlist candidates and an exact
// float64 rescoring in a fixed order, so indices and distances agree bit for bit.
import { type OpBackend, resolveBackend } from '../backend.js';
import { activeCudaBackend, quantizeOnCuda } from '../cudaBackend/hotOps.js';
import { requireNativeBinding } from '../native/loader.js';
import { tf } from '../tfjs.js';
import { checkBoolean, checkFinite, checkOptionKeys, checkTensor, fail } from './validate.js';

export interface QuantizeOptions {
  backend?: OpBackend;
  /** Also return the selected codebook rows (default false). */
  gather?: boolean;
}

export interface QuantizeResult {
  /** int32 [n]: argmin_j ||z_i - e_j||^2, ties to the lowest j. */
  indices: tf.Tensor1D;
  /** float32 [n]: the exact squared distance to the chosen row, rounded once to float32. */
  distances: tf.Tensor1D;
  /** [n, d] the chosen rows; only with `gather: true`. */
  quantized?: tf.Tensor2D;
}

const OP = 'quantize';

/**
 * sum_t ((double)a[aOffset+t] - (double)b[bOffset+t])^2 summed in order t = 0..d-1. JS numbers
 * are doubles and V8 never fuses multiply-add, so this is ops.h's exactSquaredDistance as is.
 */
export function exactSquaredDistance(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  d: number,
): number {
  let sum = 0;
  for (let t = 0; t < d; t++) {
    const diff = a[aOffset + t] - b[bOffset + t];
    sum += diff * diff;
  }
  return sum;
}

/** Bound on the float32 error of ||e||^2 - 2 z.e for any summation order (ops.h). */
export function quantizeErrorBound(d: number, normZ: number, maxNormE: number): number {
  const s = normZ + maxNormE;
  return (2 * d + 8) * 2 ** -24 * s * s * 1.01;
}

/** Bounds the n x m distance tile that tfjs materialises at once (elements). */
const TILE_ELEMENTS = 1 << 22;

function rowNorm(values: Float32Array, row: number, d: number): number {
  let sum = 0;
  for (let t = 0; t < d; t++) sum += values[row * d + t] * values[row * d + t];
  return Math.sqrt(sum);
}

/** The tfjs implementation: tf GEMM per row tile, candidate window, exact rescoring in JS. */
function quantizeTfjs(
  z: tf.Tensor2D,
  codebook: tf.Tensor2D,
  zData: Float32Array,
  eData: Float32Array,
  n: number,
  m: number,
  d: number,
): { indices: Int32Array; distances: Float32Array } {
  let maxNormE = 0;
  for (let j = 0; j < m; j++) maxNormE = Math.max(maxNormE, rowNorm(eData, j, d));
  const indices = new Int32Array(n);
  const distances = new Float32Array(n);
  const rowsPerTile = Math.max(1, Math.min(n, Math.floor(TILE_ELEMENTS / m)));
  const codeNormsSquared = tf.tidy(() => tf.sum(tf.square(codebook), 1));
  const codebookT = tf.transpose(codebook); // once for all row tiles
  try {
    for (let start = 0; start < n; start += rowsPerTile) {
      const rows = Math.min(rowsPerTile, n - start);
      const approx = tf.tidy(() => {
        const zTile = tf.slice(z, [start, 0], [rows, d]);
        return tf.sub(codeNormsSquared, tf.mul(tf.scalar(2), tf.matMul(zTile, codebookT)));
      });
      const dt = approx.dataSync() as Float32Array;
      approx.dispose();
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        const base = r * m;
        let smallest = Infinity;
        for (let j = 0; j < m; j++) if (dt[base + j] < smallest) smallest = dt[base + j];
        const threshold = smallest + 2 * quantizeErrorBound(d, rowNorm(zData, i, d), maxNormE);
        let best = Infinity;
        let bestIndex = 0;
        for (let j = 0; j < m; j++) {
          // `!(x > t)` keeps NaN approximations (overflowed norms) as candidates.
          if (!(dt[base + j] > threshold)) {
            const exact = exactSquaredDistance(zData, i * d, eData, j * d, d);
            if (exact < best) {
              best = exact;
              bestIndex = j;
            }
          }
        }
        indices[i] = bestIndex;
        distances[i] = best;
      }
    }
  } finally {
    codeNormsSquared.dispose();
    codebookT.dispose();
  }
  return { indices, distances };
}

/** Nearest codebook row for every row of z. No gradient. */
export function quantize(z: tf.Tensor2D, codebook: tf.Tensor2D, opts?: QuantizeOptions): QuantizeResult {
  const options = checkOptionKeys(OP, 'opts', opts, ['backend', 'gather']);
  const [n, d] = checkTensor(OP, 'z', z, 2);
  const [m, codebookD] = checkTensor(OP, 'codebook', codebook, 2);
  if (n === 0) fail(OP, 'z is empty (0 rows): the batch must hold at least one vector');
  if (m === 0) fail(OP, 'codebook is empty (0 rows)');
  if (d === 0) fail(OP, 'z has D = 0: vectors must have at least one component');
  if (codebookD !== d) fail(OP, `z has D = ${d} but codebook has D = ${codebookD}: they must match`);
  const gather = options.gather === undefined ? false : checkBoolean(OP, 'opts.gather', options.gather);
  return runQuantize(z, codebook, gather, options.backend as OpBackend | undefined, true);
}

/**
 * quantize without the argument checks and without the finiteness scan on the tfjs 'cuda' backend
 * (one flag read from the device per call), for the model's training step: its z come from its own
 * encoders and its codebook from the MM-EMA ops, and the trainer checks the loss terms, which a
 * non-finite z or code makes non-finite, before anything changes state. On the host the values are
 * read anyway and still checked: the host kernels index the codebook with the result. A NaN row has
 * no nearest code: on the device it may get an index outside [0, m), which tfjs's gather reads as zeros.
 * Not part of the ops surface (not exported from the ops index).
 */
export function quantizeTrusted(
  z: tf.Tensor2D,
  codebook: tf.Tensor2D,
  backend: OpBackend | undefined,
): { indices: tf.Tensor1D; distances: tf.Tensor1D } {
  return runQuantize(z, codebook, false, backend, false);
}

function runQuantize(
  z: tf.Tensor2D,
  codebook: tf.Tensor2D,
  gather: boolean,
  requested: OpBackend | undefined,
  scanOnDevice: boolean,
): QuantizeResult {
  const [n, d] = z.shape;
  const m = codebook.shape[0];
  const backend = resolveBackend(requested);
  // On the tfjs 'cuda' backend the CUDA kernels read z and the codebook where they are.
  const cudaBackend = backend === 'cuda' ? activeCudaBackend() : null;
  const onDevice = cudaBackend === null ? null : quantizeOnCuda(cudaBackend, z, codebook, gather, scanOnDevice);
  if (onDevice !== null) return onDevice;
  const zData = z.dataSync() as Float32Array;
  checkFinite(OP, 'z', zData);
  const eData = codebook.dataSync() as Float32Array;
  checkFinite(OP, 'codebook', eData);

  if (backend === 'tfjs') {
    const found = quantizeTfjs(z, codebook, zData, eData, n, m, d);
    const indices = tf.tensor1d(found.indices, 'int32');
    return {
      indices,
      distances: tf.tensor1d(found.distances, 'float32'),
      ...(gather ? { quantized: tf.gather(codebook, indices) as tf.Tensor2D } : {}),
    };
  }
  const found = requireNativeBinding(OP).quantize(backend, { z: zData, codebook: eData, n, m, d, gather });
  return {
    indices: tf.tensor1d(found.indices, 'int32'),
    distances: tf.tensor1d(found.distances, 'float32'),
    ...(gather ? { quantized: tf.tensor2d(found.quantized!, [n, d]) } : {}),
  };
}
