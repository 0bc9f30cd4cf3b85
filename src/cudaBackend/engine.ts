// What the kernel files share: views over device tensors for the strided engine, and calls of
// the engine by op name.
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';
import type { NativeView } from './native.js';

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = stride;
    stride *= shape[k];
  }
  return strides;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A view of `tensor` (contiguous) read over `shape` by numpy broadcasting (right-aligned). */
export function broadcastView(
  backend: CudaBackend,
  tensor: TensorInfo,
  shape: readonly number[],
  kernel: string,
): NativeView {
  const own = contiguousStrides(tensor.shape);
  const lead = shape.length - tensor.shape.length;
  if (lead < 0) throw new Error(`${kernel}: cannot broadcast [${tensor.shape}] to [${shape}]`);
  const strides = shape.map((dim, k) => {
    if (k < lead) return 0;
    const own_dim = tensor.shape[k - lead];
    if (own_dim === dim) return own_dim === 1 ? 0 : own[k - lead];
    if (own_dim === 1) return 0;
    throw new Error(`${kernel}: cannot broadcast [${tensor.shape}] to [${shape}]`);
  });
  return [backend.handle(tensor, kernel), 0, ...strides];
}

/** The contiguous view of a whole tensor. */
export function fullView(backend: CudaBackend, tensor: TensorInfo, kernel: string): NativeView {
  return [backend.handle(tensor, kernel), 0, ...contiguousStrides(tensor.shape)];
}

const opNumbers = new WeakMap<CudaBackend, Map<string, number>>();

function opNumber(backend: CudaBackend, op: string): number {
  let numbers = opNumbers.get(backend);
  if (numbers === undefined) {
    numbers = new Map(backend.native.elementwiseOps.map((name, i) => [name, i]));
    opNumbers.set(backend, numbers);
  }
  const number = numbers.get(op);
  if (number === undefined) throw new Error(`cuda backend: the addon has no elementwise op '${op}' (stale build?)`);
  return number;
}

/** Runs the engine's `op` into `out` (a view over `shape`). */
export function runElementwise(
  backend: CudaBackend,
  op: string,
  shape: readonly number[],
  out: NativeView,
  inputs: NativeView[],
  alpha = 0,
  beta = 0,
): void {
  backend.native.elementwise(opNumber(backend, op), [...shape], out, inputs, alpha, beta);
}

/** A new tensor of `shape` holding op(inputs) (each input broadcast to `shape`). */
export function elementwiseTensor(
  backend: CudaBackend,
  kernel: string,
  op: string,
  shape: number[],
  dtype: DataType,
  inputs: TensorInfo[],
  alpha = 0,
  beta = 0,
): TensorInfo {
  const views = inputs.map((input) => broadcastView(backend, input, shape, kernel));
  return withOutput(backend, shape, dtype, (out) =>
    runElementwise(backend, op, shape, fullView(backend, out, kernel), views, alpha, beta),
  );
}

/** Allocates an output, runs `fill` on it, and frees it again if `fill` throws. */
export function withOutput(
  backend: CudaBackend,
  shape: number[],
  dtype: DataType,
  fill: (out: TensorInfo) => void,
): TensorInfo {
  const out = backend.makeOutput(shape, dtype);
  try {
    fill(out);
  } catch (error) {
    backend.disposeIntermediateTensorInfo(out);
    throw error;
  }
  return out;
}

/** Runs `body` with temporaries that are freed afterwards, whether it succeeds or throws. */
export function withTemporaries<T>(backend: CudaBackend, body: (temp: (t: TensorInfo) => TensorInfo) => T): T {
  const temporaries: TensorInfo[] = [];
  try {
    return body((t) => {
      temporaries.push(t);
      return t;
    });
  } finally {
    for (const t of temporaries) backend.disposeIntermediateTensorInfo(t);
  }
}
