// Zero-copy access to tfjs tensor memory for the native dense kernels. The wasm backend keeps
// every tensor in its wasm heap; the cpu backend keeps a typed array per tensor. Either way the
// native kernel reads and writes that memory directly through a Float32Array view.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';

/** The tfjs backends whose memory the dense kernels can use in place. */
export type DenseHostBackend = 'wasm' | 'cpu';
export const DENSE_HOST_BACKENDS: readonly DenseHostBackend[] = ['wasm', 'cpu'];

export interface TensorMemory {
  /**
   * A Float32Array over the tensor's own memory, or null when it is not plain float32 data.
   * For wasm the view dies when the heap grows: take views after every allocate() of a call.
   */
  view(tensor: TensorInfo): Float32Array | null;
  /** A new float32 tensor of `shape` owned by the backend; its contents are unspecified. */
  allocate(shape: number[]): TensorInfo;
  /** Frees a tensor made by allocate() that will not be returned. */
  release(tensor: TensorInfo): void;
  /** Another reference to `tensor`'s memory (the backend counts references; nothing is copied). */
  share(tensor: TensorInfo): TensorInfo;
}

/** Backends that count references to their data ids, as reshape relies on. */
interface RefCounting {
  incRef(dataId: object): void;
}

function shareOf(backend: RefCounting) {
  return (tensor: TensorInfo): TensorInfo => {
    backend.incRef(tensor.dataId);
    return { dataId: tensor.dataId, shape: [...tensor.shape], dtype: tensor.dtype };
  };
}

const wasmMemory = (backend: BackendWasm): TensorMemory => ({
  view(tensor) {
    const data = backend.dataIdMap.get(tensor.dataId);
    if (tensor.dtype !== 'float32' || data === undefined || data.memoryOffset == null) return null;
    // The module's typings omit HEAPU8, the heap every tensor lives in.
    const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
    const size = tf.util.sizeFromShape(tensor.shape);
    // tfjs does not check its wasm malloc: offset 0 means the allocation failed (the heap is
    // capped at 4 GiB), and writing there would corrupt the whole heap.
    if (size > 0 && (data.memoryOffset === 0 || data.memoryOffset + 4 * size > heap.byteLength)) {
      throw new Error(
        `dense kernel: the tfjs wasm heap could not hold a [${tensor.shape}] tensor ` +
          `(${(heap.byteLength / 2 ** 30).toFixed(2)} GiB in use); use a smaller batch or the cpu backend`,
      );
    }
    return new Float32Array(heap.buffer, data.memoryOffset, size);
  },
  allocate: (shape) => backend.makeOutput(shape, 'float32'),
  release: (tensor) => void backend.disposeData(tensor.dataId),
  share: shareOf(backend as unknown as RefCounting),
});

const cpuMemory = (backend: MathBackendCPU): TensorMemory => ({
  view(tensor) {
    const values = backend.data.get(tensor.dataId)?.values;
    return tensor.dtype === 'float32' && values instanceof Float32Array ? values : null;
  },
  allocate: (shape) => backend.makeTensorInfo(shape, 'float32', new Float32Array(tf.util.sizeFromShape(shape))),
  release: (tensor) => void backend.disposeData(tensor.dataId),
  share: shareOf(backend as unknown as RefCounting),
});

export function tensorMemory(backendName: DenseHostBackend, backend: KernelBackend): TensorMemory {
  return backendName === 'wasm'
    ? wasmMemory(backend as unknown as BackendWasm)
    : cpuMemory(backend as unknown as MathBackendCPU);
}
