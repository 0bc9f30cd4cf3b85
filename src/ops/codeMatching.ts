// Code-matching loss L_cmcm (docs/algorithm.md §3.3, ops.h "code matching"): pushes paired clips of
// different modalities towards the same soft code distribution. Differentiable w.r.t. every z;
// the codebook is a constant here.
import { type OpBackend, resolveBackend } from '../backend.js';
import { activeCudaBackend, codeMatchingOnCuda } from '../cudaBackend/hotOps.js';
import { requireNativeBinding } from '../native/loader.js';
import { tf } from '../tfjs.js';
import { checkTfjsHeap } from './tfjsHeap.js';
import { checkFinite, checkModalityList, checkNumber, checkOptionKeys, checkTensor, fail } from './validate.js';

export interface CodeMatchingOptions {
  backend?: OpBackend;
  /** Added to the softmax denominator, in the min-shifted scale (default 1e-5, as published). */
  epsilon?: number;
}

const OP = 'codeMatchingLoss';

/**
 * A power of two that brings every value of z and the codebook to at most 1 in magnitude (1 when
 * they already are). Distances are computed on the scaled values, where squares cannot overflow
 * float32, and scaled back only after the per-row minimum is subtracted (softmax is shift
 * invariant), so that inputs near the float32 limit give the float64 answer of the native backends.
 */
function distanceScale(values: Float32Array[]): number {
  let largest = 0;
  for (const array of values) for (const v of array) largest = Math.max(largest, Math.abs(v));
  // 2^127 is the largest power of two in float32: the scaled values stay within 2.
  return largest <= 1 ? 1 : 2 ** Math.min(127, Math.ceil(Math.log2(largest)));
}

/** P_m = mean over T of softmax_j(-sqrt(d_tj)), [B, M], from z and the codebook divided by `scale`. */
function softCodeDistribution(
  z: tf.Tensor3D,
  codebookT: tf.Tensor2D,
  codeNormsSquared: tf.Tensor1D,
  scale: number,
): tf.Tensor2D {
  const [b, t, d] = z.shape;
  const flat = tf.mul(tf.reshape(z, [b * t, d]), tf.scalar(1 / scale)) as tf.Tensor2D;
  const cross = tf.matMul(flat, codebookT);
  const squared = tf.relu(
    tf.add(tf.sum(tf.square(flat), 1, true), tf.sub(codeNormsSquared, tf.mul(tf.scalar(2), cross))),
  );
  const root = tf.sqrt(squared);
  // -(root - min root) * scale: 0 for the nearest code, -Infinity (weight 0) where it overflows.
  const logits = tf.mul(tf.sub(root, tf.min(root, 1, true)), tf.scalar(-scale));
  const p = tf.softmax(logits);
  return tf.mean(tf.reshape(p, [b, t, codebookT.shape[1]]), 1) as tf.Tensor2D;
}

/** L_mn = -(1/B) sum_i [(S_ii - c) - log(sum_j exp(S_ij - c) + eps)], c = min S. */
function pairLoss(
  pm: tf.Tensor2D,
  logPm: tf.Tensor2D,
  pn: tf.Tensor2D,
  logPn: tf.Tensor2D,
  epsilon: number,
): tf.Scalar {
  const b = pm.shape[0];
  const scores = tf.add(tf.matMul(pm, logPn, false, true), tf.matMul(pn, logPm, false, true));
  const shifted = tf.sub(scores, tf.min(scores));
  const diagonal = tf.sum(tf.mul(shifted, tf.eye(b)), 1);
  const logDenominator = tf.log(tf.add(tf.sum(tf.exp(shifted), 1), tf.scalar(epsilon)));
  return tf.neg(tf.mean(tf.sub(diagonal, logDenominator))) as tf.Scalar;
}

/** `codebook` is already divided by `scale`, z is not. */
function codeMatchingTfjs(z: tf.Tensor3D[], codebook: tf.Tensor2D, scale: number, epsilon: number): tf.Scalar {
  return tf.tidy(() => {
    const codeNormsSquared = tf.sum(tf.square(codebook), 1) as tf.Tensor1D;
    const codebookT = tf.transpose(codebook); // once for the K products
    const p = z.map((zm) => softCodeDistribution(zm, codebookT, codeNormsSquared, scale));
    const logP = p.map((pm) => tf.log(tf.add(pm, tf.scalar(1e-10))) as tf.Tensor2D);
    let total: tf.Scalar = tf.scalar(0);
    for (let m = 0; m < z.length; m++) {
      for (let n = m + 1; n < z.length; n++) total = tf.add(total, pairLoss(p[m], logP[m], p[n], logP[n], epsilon));
    }
    return tf.mul(tf.scalar(0.5), total);
  });
}

/**
 * L_cmcm over K modalities, z[k] of shape [B, T, D], against the codebook [M, D]. The returned
 * scalar has gradients w.r.t. every z[k] (none w.r.t. the codebook).
 */
export function codeMatchingLoss(z: tf.Tensor3D[], codebook: tf.Tensor2D, opts?: CodeMatchingOptions): tf.Scalar {
  const options = checkOptionKeys(OP, 'opts', opts, ['backend', 'epsilon']);
  const list = checkModalityList(OP, 'z', z);
  const [b, t, d] = checkTensor(OP, 'z[0]', list[0], 3);
  list.forEach((x, k) => {
    const shape = checkTensor(OP, `z[${k}]`, x, 3);
    if (shape[0] !== b || shape[1] !== t || shape[2] !== d) {
      fail(
        OP,
        `z[${k}] has shape [${shape.join(', ')}] but z[0] has [${b}, ${t}, ${d}]: every modality needs the same B, T and D`,
      );
    }
  });
  if (b * t === 0) fail(OP, `z[0] has shape [${b}, ${t}, ${d}]: the batch is empty`);
  if (d === 0) fail(OP, 'z[0] has D = 0');
  const [m, codebookD] = checkTensor(OP, 'codebook', codebook, 2);
  if (m === 0) fail(OP, 'codebook is empty (0 rows)');
  if (codebookD !== d) fail(OP, `z has D = ${d} but codebook has D = ${codebookD}: they must match`);
  const epsilon = options.epsilon === undefined ? 1e-5 : checkNumber(OP, 'opts.epsilon', options.epsilon, { min: 0 });
  return runCodeMatching(z, codebook, epsilon, options.backend as OpBackend | undefined, true);
}

/**
 * codeMatchingLoss without the argument checks and without the finiteness scan on the tfjs 'cuda'
 * backend, for the model's training step (see quantizeTrusted): a non-finite z gives a non-finite
 * loss, which the trainer's loss-term check refuses. On the host the values are read anyway and
 * still checked. Not part of the ops surface (not exported from the ops index).
 */
export function codeMatchingLossTrusted(
  z: tf.Tensor3D[],
  codebook: tf.Tensor2D,
  epsilon: number,
  backend: OpBackend | undefined,
): tf.Scalar {
  return runCodeMatching(z, codebook, epsilon, backend, false);
}

function runCodeMatching(
  z: tf.Tensor3D[],
  codebook: tf.Tensor2D,
  epsilon: number,
  requested: OpBackend | undefined,
  scanOnDevice: boolean,
): tf.Scalar {
  const [b, t, d] = z[0].shape;
  const m = codebook.shape[0];
  const backend = resolveBackend(requested);
  // On the tfjs 'cuda' backend the CUDA kernels read z and the codebook where they are.
  const cudaBackend = backend === 'cuda' ? activeCudaBackend() : null;
  const onDevice = cudaBackend === null ? null : codeMatchingOnCuda(cudaBackend, z, codebook, epsilon, scanOnDevice);
  if (onDevice !== null) return onDevice;
  const zData = z.map((x, k) => {
    const values = x.dataSync() as Float32Array;
    checkFinite(OP, `z[${k}]`, values);
    return values;
  });
  const eData = codebook.dataSync() as Float32Array;
  checkFinite(OP, 'codebook', eData);

  if (backend === 'tfjs') {
    const k = z.length;
    // Per modality a dozen [B*T, M] intermediates and per pair about ten [B, B], twice with the gradient.
    checkTfjsHeap(
      OP,
      2 * (12 * k * b * t * m + ((10 * (k * (k - 1))) / 2) * b * b),
      `K = ${k} modalities of B*T = ${b * t} rows against M = ${m} codes (B = ${b})`,
    );
    const scale = distanceScale([...zData, eData]);
    // A detached copy keeps the codebook a constant even when it is a trainable variable.
    const constant = tf.tensor2d(
      eData.map((v) => v / scale),
      [m, d],
    );
    try {
      return codeMatchingTfjs(z, constant, scale, epsilon);
    } finally {
      constant.dispose();
    }
  }
  const binding = requireNativeBinding(OP);
  const lossWithGrad = tf.customGrad((..._inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const result = binding.codeMatching(backend, { z: zData, codebook: eData, b, t, d, m, epsilon, wantGrad: true });
    return {
      value: tf.scalar(result.loss, 'float32'),
      gradFunc: (dy: tf.Scalar) => result.grads.map((g) => tf.mul(dy, tf.tensor3d(g, [b, t, d]))),
    };
  });
  return lossWithGrad(...z) as tf.Scalar;
}
