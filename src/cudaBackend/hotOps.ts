// The hot ops on the 'cuda' backend's device tensors: their CUDA kernels read the operands where
// they are and write fresh device tensors. The public ops ask for a finiteness scan of the operands
// first (one flag read from the device); the model's training step skips it (see quantizeTrusted).
import {
  type GradSaveFunc,
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
  type TensorInfo,
  all,
  concat,
  customGrad,
  engine,
  isFinite as isFiniteTensor,
  keep,
  logicalAnd,
  mul,
  reshape,
  split,
  tensor1d,
  tidy,
} from '@tensorflow/tfjs-core';
import type { NativeMmEmaOptions } from '../native/binding.js';
import type { MmEmaReport } from '../ops/mmEma.js';
import { CUDA_BACKEND_NAME, type CudaBackend } from './backend.js';

/** The active tfjs backend when it is 'cuda', else null. */
export function activeCudaBackend(): CudaBackend | null {
  return engine().backendName === CUDA_BACKEND_NAME ? (engine().backend as CudaBackend) : null;
}

/** Whether every element of every tensor is finite: one scalar read from the device. */
function allFinite(tensors: Tensor[]): boolean {
  const flag = tidy(() => tensors.map((t) => all(isFiniteTensor(t))).reduce((a, b) => logicalAnd(a, b)));
  const value = flag.dataSync()[0];
  flag.dispose();
  return value !== 0;
}

/** Makes tensors of `infos` after `run` filled them; frees them all if it throws. */
function outputs<T extends Tensor[]>(backend: CudaBackend, infos: TensorInfo[], run: () => void): T {
  try {
    run();
  } catch (error) {
    for (const info of infos) backend.disposeIntermediateTensorInfo(info);
    throw error;
  }
  return infos.map((info) => engine().makeTensorFromTensorInfo(info, backend)) as T;
}

/**
 * quantize on device tensors: indices, distances (and the gathered rows) stay on the device.
 * With `scan`, returns null when an operand is not finite, so that the caller's host check names the
 * element.
 */
export function quantizeOnCuda(
  backend: CudaBackend,
  z: Tensor2D,
  codebook: Tensor2D,
  gather: boolean,
  scan: boolean,
): { indices: Tensor1D; distances: Tensor1D; quantized?: Tensor2D } | null {
  if (scan && !allFinite([z, codebook])) return null;
  const [n, d] = z.shape;
  const m = codebook.shape[0];
  const infos = [
    backend.makeOutput([n], 'int32'),
    backend.makeOutput([n], 'float32'),
    ...(gather ? [backend.makeOutput([n, d], 'float32')] : []),
  ];
  const [indices, distances, quantized] = outputs<Tensor[]>(backend, infos, () =>
    backend.native.quantize({
      z: backend.handle(z, 'quantize'),
      codebook: backend.handle(codebook, 'quantize'),
      n,
      m,
      d,
      indices: backend.handle(infos[0]),
      distances: backend.handle(infos[1]),
      ...(gather ? { gathered: backend.handle(infos[2]) } : {}),
    }),
  );
  return {
    indices: indices as Tensor1D,
    distances: distances as Tensor1D,
    ...(quantized === undefined ? {} : { quantized: quantized as Tensor2D }),
  };
}

const weightTensors = new Map<string, Tensor1D>();

/** The loss weights as a device tensor, uploaded once per distinct set (they are configuration). */
function weightsTensor(weights: number[]): Tensor1D {
  const key = weights.join(',');
  let found = weightTensors.get(key);
  if (found === undefined || found.isDisposed) {
    found = keep(tensor1d(weights));
    weightTensors.set(key, found);
  }
  return found;
}

/** New device tensors of `shapes`, filled by `run` (all freed if it throws), inside the caller's scope. */
function filled(
  backend: CudaBackend,
  shapes: Array<[number[], 'float32' | 'int32'] | null>,
  run: (handles: number[]) => void,
): Array<Tensor | null> {
  const infos = shapes.map((s) => (s === null ? null : backend.makeOutput(s[0], s[1])));
  const made = outputs<Tensor[]>(
    backend,
    infos.filter((x): x is TensorInfo => x !== null),
    () => run(infos.map((x) => (x === null ? 0 : backend.handle(x)))),
  );
  let next = 0;
  return infos.map((x) => (x === null ? null : made[next++]));
}

/**
 * InfoNCE on device tensors. The kernel runs in the forward pass for the loss and the hits, and
 * again in the backward pass with the gradients, so that no gradient tensor outlives a forward
 * pass whose backward never comes. The hits (k*k integers, the accuracies) are read to the host.
 * With `scan`, returns null when an operand is not finite, so that the caller's host check names the
 * element.
 */
export function infoNceOnCuda(
  backend: CudaBackend,
  targets: Tensor2D[],
  preds: Tensor2D[],
  weights: number[],
  b: number,
  d: number,
  scan: boolean,
): { loss: Scalar; accuracies: number[][] } | null {
  if (scan && !allFinite([...targets, ...preds])) return null;
  const k = targets.length;
  const weightHandle = backend.handle(weightsTensor(weights), 'infoNce');
  const run = (inputs: Tensor[], withGrad: boolean) =>
    tidy(() => {
      const t = concat(inputs.slice(0, k)),
        p = concat(inputs.slice(k));
      const grad: [number[], 'float32'] | null = withGrad ? [[k * b, d], 'float32'] : null;
      return filled(
        backend,
        [[[1], 'float32'], [[k * k], 'int32'], grad, grad],
        ([loss, hits, gradTargets, gradPreds]) =>
          backend.native.infoNce({
            targets: backend.handle(t, 'infoNce'),
            preds: backend.handle(p, 'infoNce'),
            k,
            b,
            d,
            weights: weightHandle,
            loss,
            hits,
            ...(withGrad ? { gradTargets, gradPreds } : {}),
          }),
      ) as Tensor[];
    });
  const accuracies: number[][] = [];
  const lossWithGrad = customGrad((...args: unknown[]) => {
    const inputs = args.slice(0, 2 * k) as Tensor[];
    // Saved copies: the caller may dispose the inputs between the forward and the backward pass.
    (args[2 * k] as GradSaveFunc)(inputs);
    const [loss, hits] = run(inputs, false);
    const counts = hits.dataSync();
    for (let m = 0; m < k; m++) accuracies.push(Array.from(counts.subarray(m * k, (m + 1) * k), (h) => h / b));
    const value = reshape(loss, []) as Scalar;
    loss.dispose();
    hits.dispose();
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [gradLoss, gradHits, gradTargets, gradPreds] = run(saved, true);
        const grads = [...split(gradTargets, k), ...split(gradPreds, k)].map((g) => mul(dy, g));
        [gradLoss, gradHits, gradTargets, gradPreds].forEach((x) => x.dispose());
        return grads;
      },
    };
  });
  return { loss: lossWithGrad(...targets, ...preds) as Scalar, accuracies };
}

/** The code-matching loss on device tensors (the gradient recomputed in the backward pass, and `scan`, as above). */
export function codeMatchingOnCuda(
  backend: CudaBackend,
  z: Tensor3D[],
  codebook: Tensor2D,
  epsilon: number,
  scan: boolean,
): Scalar | null {
  if (scan && !allFinite([...z, codebook])) return null;
  const k = z.length;
  const [b, t, d] = z[0].shape;
  const m = codebook.shape[0];
  const run = (inputs: Tensor[], withGrad: boolean) =>
    tidy(() => {
      const all3 = concat(inputs);
      return filled(backend, [[[1], 'float32'], withGrad ? [[k * b, t, d], 'float32'] : null], ([loss, grad]) =>
        backend.native.codeMatching({
          z: backend.handle(all3, 'codeMatching'),
          k,
          b,
          t,
          d,
          codebook: backend.handle(codebook, 'codeMatching'),
          m,
          epsilon,
          loss,
          ...(withGrad ? { grad } : {}),
        }),
      ) as Tensor[];
    });
  const lossWithGrad = customGrad((...args: unknown[]) => {
    const inputs = args.slice(0, k) as Tensor[];
    (args[k] as GradSaveFunc)(inputs);
    const [loss] = run(inputs, false);
    const value = reshape(loss, []) as Scalar;
    loss.dispose();
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [gradLoss, grad] = run(saved, true);
        const grads = split(grad, k).map((g) => mul(dy, g));
        gradLoss.dispose();
        grad.dispose();
        return grads;
      },
    };
  });
  return lossWithGrad(...z) as Scalar;
}

/** A codebook's state as device tensors of this backend (ucmg/ops.h, CodebookState). */
export interface DeviceCodebookState {
  embedding: Tensor2D;
  emaCount: Tensor1D;
  emaWeight: Tensor2D;
  unusedCount: Tensor1D;
}

/** Decodes the report tensor of native mmEma: [perplexity as float64 x k, equalNum, bad, resets, codes m, sources m]. */
function readMmEmaReport(values: Int32Array, k: number, m: number): MmEmaReport & { badIndices: number } {
  const perplexity = Array.from(new Float64Array(Int32Array.from(values.subarray(0, 2 * k)).buffer));
  const resets = values[2 * k + 2];
  const codes = 2 * k + 3;
  return {
    perplexity,
    equalNum: values[2 * k],
    badIndices: values[2 * k + 1],
    resetCodes: Array.from(values.subarray(codes, codes + resets)),
    resetSources: Array.from(values.subarray(codes + m, codes + m + resets)),
  };
}

/**
 * One MM-EMA step on device tensors: z [k*n, d] and indices [k*n] (the modalities back to back,
 * quantize's codes) update a copy of `state`, which is returned (new tensors, kept: the caller owns
 * them); `state` is unchanged. The report is the one read from the device (2k + 3 + 2m int32).
 */
export function mmEmaOnCuda(
  backend: CudaBackend,
  state: DeviceCodebookState,
  z: Tensor2D,
  indices: Tensor1D,
  k: number,
  options: NativeMmEmaOptions,
): { state: DeviceCodebookState; report: MmEmaReport } {
  const [m, d] = state.embedding.shape;
  const n = indices.shape[0] / k;
  const op = 'mmEma';
  const handles = (s: Record<keyof DeviceCodebookState, TensorInfo>) => ({
    embedding: backend.handle(s.embedding, op),
    emaCount: backend.handle(s.emaCount, op),
    emaWeight: backend.handle(s.emaWeight, op),
    unusedCount: backend.handle(s.unusedCount, op),
  });
  const made = filled(
    backend,
    [
      [[m, d], 'float32'],
      [[m], 'float32'],
      [[m, d], 'float32'],
      [[m], 'int32'],
      [[2 * k + 3 + 2 * m], 'int32'],
    ],
    ([embedding, emaCount, emaWeight, unusedCount, report]) =>
      backend.native.mmEma({
        before: handles(state),
        after: { embedding, emaCount, emaWeight, unusedCount },
        m,
        d,
        z: backend.handle(z, op),
        indices: backend.handle(indices, op),
        k,
        n,
        options,
        report,
      }),
  ) as Tensor[];
  const [embedding, emaCount, emaWeight, unusedCount, reportTensor] = made;
  let report: ReturnType<typeof readMmEmaReport> | undefined;
  try {
    report = readMmEmaReport(reportTensor.dataSync() as Int32Array, k, m);
  } finally {
    reportTensor.dispose();
    // Indices come from quantize; a bad one means a broken caller, and the state stays as it was.
    if (report === undefined || report.badIndices > 0) for (const t of made) t.dispose();
  }
  if (report.badIndices > 0) throw new RangeError(`mmEmaStep: ${report.badIndices} indices lie outside [0, m = ${m})`);
  const { badIndices: _bad, ...metrics } = report;
  for (const t of [embedding, emaCount, emaWeight, unusedCount]) keep(t);
  return {
    state: {
      embedding: embedding as Tensor2D,
      emaCount: emaCount as Tensor1D,
      emaWeight: emaWeight as Tensor2D,
      unusedCount: unusedCount as Tensor1D,
    },
    report: metrics,
  };
}
