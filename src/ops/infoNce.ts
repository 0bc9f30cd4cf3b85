// InfoNCE over every ordered modality pair (docs/algorithm.md §4.2, ops.h "InfoNCE"): the loss is
// differentiable w.r.t. all targets and predictions; accuracies are plain numbers.
import { type OpBackend, resolveBackend } from '../backend.js';
import { activeCudaBackend, infoNceOnCuda } from '../cudaBackend/hotOps.js';
import { requireNativeBinding } from '../native/loader.js';
import { tf } from '../tfjs.js';
import { checkTfjsHeap } from './tfjsHeap.js';
import { checkFinite, checkModalityList, checkOptionKeys, checkTensor, describe, fail } from './validate.js';

export interface InfoNceOptions {
  backend?: OpBackend;
}

export interface InfoNceResult {
  /** -(1/B) sum_{m,n} w_mn sum_i log_softmax_row(targets[m] preds[n]^T)_ii */
  loss: tf.Scalar;
  /** [m][n]: fraction of columns j whose argmax_i of the row-softmaxed scores is j. */
  accuracies: number[][];
}

const OP = 'infoNceLoss';

function checkWeights(weights: unknown, k: number): number[] {
  const shape = `a ${k} x ${k} array (K = ${k} modalities)`;
  if (!Array.isArray(weights) || weights.length !== k) fail(OP, `weights must be ${shape}, got ${describe(weights)}`);
  const flat: number[] = [];
  weights.forEach((row: unknown, m) => {
    if (!Array.isArray(row) || row.length !== k)
      fail(OP, `weights must be ${shape}; weights[${m}] is ${describe(row)}`);
    row.forEach((w: unknown, n) => {
      if (typeof w !== 'number' || !Number.isFinite(w))
        fail(OP, `weights[${m}][${n}] must be a finite number, got ${describe(w)}`);
      flat.push(w);
    });
  });
  return flat;
}

function infoNceTfjs(targets: tf.Tensor2D[], preds: tf.Tensor2D[], weights: number[]): InfoNceResult {
  const k = targets.length;
  const b = targets[0].shape[0];
  const accuracies: number[][] = [];
  const loss = tf.tidy(() => {
    const columns = tf.range(0, b, 1, 'int32');
    let total: tf.Scalar = tf.scalar(0);
    const hits: tf.Scalar[] = [];
    for (let m = 0; m < k; m++) {
      for (let n = 0; n < k; n++) {
        const scores = tf.matMul(targets[m], preds[n], false, true);
        // log_softmax_row(S)_ii = S_ii - logsumexp_j S_ij, with S_ii = targets[m]_i . preds[n]_i
        const diagonal = tf.sum(tf.mul(targets[m], preds[n]), 1);
        const logSoftmaxDiagonal = tf.sub(diagonal, tf.logSumExp(scores, 1));
        total = tf.add(total, tf.mul(tf.scalar(weights[m * k + n]), tf.sum(logSoftmaxDiagonal)));
        const winners = tf.argMax(tf.softmax(scores), 0);
        hits.push(tf.sum(tf.cast(tf.equal(winners, columns), 'int32')));
      }
    }
    const counts = tf.stack(hits).dataSync();
    for (let m = 0; m < k; m++) accuracies.push(Array.from(counts.subarray(m * k, (m + 1) * k), (hit) => hit / b));
    return tf.mul(tf.scalar(-1 / b), total) as tf.Scalar;
  });
  return { loss, accuracies };
}

/**
 * InfoNCE over every ordered pair (m = target modality, n = prediction modality) of K modalities,
 * targets[k] and preds[k] of shape [B, D], weighted by weights[m][n].
 */
export function infoNceLoss(
  targets: tf.Tensor2D[],
  preds: tf.Tensor2D[],
  weights: number[][],
  opts?: InfoNceOptions,
): InfoNceResult {
  const options = checkOptionKeys(OP, 'opts', opts, ['backend']);
  const targetList = checkModalityList(OP, 'targets', targets);
  const predList = checkModalityList(OP, 'preds', preds);
  if (predList.length !== targetList.length)
    fail(OP, `preds has ${predList.length} modalities but targets has ${targetList.length}`);
  const k = targetList.length;
  const [b, d] = checkTensor(OP, 'targets[0]', targetList[0], 2);
  const checkShape = (name: string, x: unknown) => {
    const shape = checkTensor(OP, name, x, 2);
    if (shape[0] !== b || shape[1] !== d)
      fail(
        OP,
        `${name} has shape [${shape.join(', ')}] but targets[0] has [${b}, ${d}]: every input needs the same B and D`,
      );
  };
  targetList.forEach((x, i) => checkShape(`targets[${i}]`, x));
  predList.forEach((x, i) => checkShape(`preds[${i}]`, x));
  if (b === 0) fail(OP, 'targets[0] has B = 0: the batch is empty');
  if (d === 0) fail(OP, 'targets[0] has D = 0');
  const flatWeights = checkWeights(weights, k);
  return runInfoNce(targets, preds, flatWeights, options.backend as OpBackend | undefined, true);
}

/**
 * infoNceLoss without the argument checks and without the finiteness scan on the tfjs 'cuda' backend,
 * for the model's training step (see quantizeTrusted): a non-finite input gives a non-finite loss,
 * which the trainer's loss-term check refuses. `weights` is the k x k matrix row by row. On the host
 * the values are read anyway and still checked. Not part of the ops surface (not exported from the
 * ops index).
 */
export function infoNceLossTrusted(
  targets: tf.Tensor2D[],
  preds: tf.Tensor2D[],
  weights: number[],
  backend: OpBackend | undefined,
): InfoNceResult {
  return runInfoNce(targets, preds, weights, backend, false);
}

function runInfoNce(
  targets: tf.Tensor2D[],
  preds: tf.Tensor2D[],
  flatWeights: number[],
  requested: OpBackend | undefined,
  scanOnDevice: boolean,
): InfoNceResult {
  const k = targets.length;
  const [b, d] = targets[0].shape;
  const backend = resolveBackend(requested);
  // On the tfjs 'cuda' backend the CUDA kernels read the embeddings where they are.
  const cudaBackend = backend === 'cuda' ? activeCudaBackend() : null;
  const onDevice =
    cudaBackend === null ? null : infoNceOnCuda(cudaBackend, targets, preds, flatWeights, b, d, scanOnDevice);
  if (onDevice !== null) return onDevice;
  const read = (x: tf.Tensor2D, name: string) => {
    const values = x.dataSync() as Float32Array;
    checkFinite(OP, name, values);
    return values;
  };
  const targetData = targets.map((x, i) => read(x, `targets[${i}]`));
  const predData = preds.map((x, i) => read(x, `preds[${i}]`));

  if (backend === 'tfjs') {
    // Per ordered pair about ten [B, B] intermediates (scores, log-sum-exp, softmax), twice with the gradient.
    checkTfjsHeap(
      OP,
      2 * 10 * k * k * b * b,
      `K = ${k} modalities of B = ${b} rows (${k * k} score matrices of B x B)`,
    );
    return infoNceTfjs(targets, preds, flatWeights);
  }

  const binding = requireNativeBinding(OP);
  const accuracies: number[][] = [];
  const lossWithGrad = tf.customGrad((..._inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const result = binding.infoNce(backend, {
      targets: targetData,
      preds: predData,
      weights: Float32Array.from(flatWeights),
      b,
      d,
      wantGrad: true,
    });
    // float32 h/b -> the exact ratio, so every backend reports the same numbers.
    for (let m = 0; m < k; m++)
      accuracies.push(Array.from(result.accuracies.subarray(m * k, (m + 1) * k), (a) => Math.round(a * b) / b));
    return {
      value: tf.scalar(result.loss, 'float32'),
      gradFunc: (dy: tf.Scalar) =>
        [...result.gradTargets, ...result.gradPreds].map((g) => tf.mul(dy, tf.tensor2d(g, [b, d]))),
    };
  });
  const loss = lossWithGrad(...targets, ...preds) as tf.Scalar;
  return { loss, accuracies };
}
