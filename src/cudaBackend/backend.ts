// The tfjs 'cuda' backend: tensors live in device memory (one native handle per tfjs data id),
// kernels are the addon's CUDA kernels (kernels/*.ts register them). Reading a tensor is the
// only way data comes back to the host; nothing falls back to another backend.
import {
  type BackendTimingInfo,
  type BackendValues,
  type DataId,
  type DataType,
  KernelBackend,
  type TensorInfo,
  engine,
} from '@tensorflow/tfjs-core';
import type { NativeCudaBackend, NativeDType, NativeMemoryStats } from './native.js';

export const CUDA_BACKEND_NAME = 'cuda';

interface DeviceData {
  handle: number;
  dtype: DataType;
  size: number;
  refCount: number;
}

/** What tf.memory() adds for this backend (device bytes, the allocator's cache, copy counts). */
export interface CudaMemoryInfo {
  unreliable: false;
  numBytesInGPU: number;
  numBytesInGPUAllocated: number;
  numBytesInGPUFree: number;
  peakBytesInGPU: number;
  hostToDeviceCopies: number;
  hostToDeviceBytes: number;
  deviceToHostCopies: number;
  deviceToHostBytes: number;
  /** Uniform host arrays (scalars, tf.ones) written by a fill kernel instead of a copy. */
  hostUniformWritesAsFills: number;
}

function nativeDType(dtype: DataType): NativeDType {
  if (dtype === 'float32') return 'float32';
  if (dtype === 'int32' || dtype === 'bool') return 'int32';
  throw new Error(`cuda backend: dtype '${dtype}' is not supported (float32, int32 and bool are)`);
}

/** Whether every element equals the first (NaN never does: those are copied). */
function uniform(values: ArrayLike<number>): boolean {
  const first = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return false;
  return !Number.isNaN(first);
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class CudaBackend extends KernelBackend {
  // A plain map, not tfjs's DataStorage: DataStorage.get would silently move a tensor of another
  // backend through the host, where this backend reports an error instead.
  private readonly data = new Map<DataId, DeviceData>();

  private readonly fillOp: number;
  /** Uniform arrays (scalars included) written by a fill kernel instead of a copy. */
  private uniformWrites = 0;

  constructor(readonly native: NativeCudaBackend) {
    super();
    this.fillOp = native.elementwiseOps.indexOf('fill');
  }

  /** A new device tensor of `shape` (contents undefined until a kernel writes it). */
  makeOutput(shape: number[], dtype: DataType): TensorInfo {
    const size = sizeOf(shape);
    const handle = this.allocate(size, dtype);
    const dataId = {};
    this.data.set(dataId, { handle, dtype, size, refCount: 1 });
    return { dataId, shape, dtype };
  }

  private allocate(size: number, dtype: DataType): number {
    try {
      return this.native.allocate(size, nativeDType(dtype));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`cuda backend: ${message.replace(/^allocate: /, '')}`);
    }
  }

  /**
   * The native handle of a tensor of this backend. A tensor of another backend is an error, not
   * a silent copy (tfjs's DataStorage would move it through the host).
   */
  handle(tensor: TensorInfo, kernelName = 'a cuda kernel'): number {
    if (!this.data.has(tensor.dataId)) {
      const owner = this.ownerName(tensor.dataId);
      throw new Error(
        `${kernelName}: the input tensor of shape [${tensor.shape}] ` +
          (owner === null
            ? 'was disposed or is unknown to the cuda backend'
            : `lives on the '${owner}' backend, not on 'cuda'; create it while 'cuda' is active`),
      );
    }
    return this.data.get(tensor.dataId)!.handle;
  }

  private ownerName(dataId: DataId): string | null {
    const backend = engine().state.tensorInfo.get(dataId)?.backend;
    if (backend === undefined) return null;
    return Object.entries(engine().registry).find(([, instance]) => instance === backend)?.[0] ?? 'another';
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const info = this.makeOutput(shape, dtype);
    this.upload(this.data.get(info.dataId)!.handle, values, dtype);
    return info.dataId;
  }

  private upload(handle: number, values: BackendValues, dtype: DataType): void {
    if (dtype === 'string' || dtype === 'complex64') nativeDType(dtype);
    const typed = values as ArrayLike<number>;
    if (typed.length === 0) return;
    if (uniform(typed)) {
      // Scalars (tfjs makes one for every constant in an op: learning rates, 0.5, -1, ...) and
      // constant arrays (tf.ones in gradients) go as a fill kernel's argument: queued like any
      // kernel, where a copy would wait for the device. The scan stops at the first difference.
      this.native.elementwise(this.fillOp, [typed.length], [handle, 0, 1], [], Number(typed[0]));
      this.uniformWrites++;
      return;
    }
    const array =
      dtype === 'float32'
        ? values instanceof Float32Array
          ? values
          : Float32Array.from(typed)
        : values instanceof Int32Array
          ? values
          : Int32Array.from(typed);
    this.native.upload(handle, array);
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    const size = sizeOf(shape);
    const handle = this.allocate(size, dtype);
    this.upload(handle, values, dtype);
    this.data.set(dataId, { handle, dtype, size, refCount });
  }

  override refCount(dataId: DataId): number {
    return this.data.get(dataId)?.refCount ?? 0;
  }

  override incRef(dataId: DataId): void {
    const entry = this.data.get(dataId);
    if (entry === undefined) throw new Error('cuda backend: incRef of a tensor that was disposed or is not on cuda');
    entry.refCount++;
  }

  decRef(dataId: DataId): void {
    const entry = this.data.get(dataId);
    if (entry !== undefined) entry.refCount--;
  }

  override numDataIds(): number {
    return this.data.size;
  }

  override readSync(dataId: DataId): BackendValues {
    const entry = this.data.get(dataId);
    if (entry === undefined) throw new Error('cuda backend: readSync of a tensor that was disposed or is not on cuda');
    const { handle, dtype, size } = entry;
    if (size === 0) {
      return dtype === 'float32' ? new Float32Array(0) : dtype === 'bool' ? new Uint8Array(0) : new Int32Array(0);
    }
    const values = this.native.download(handle);
    return dtype === 'bool' ? Uint8Array.from(values) : values;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.get(dataId);
    if (entry === undefined) return true;
    entry.refCount--;
    if (!force && entry.refCount > 0) return false;
    this.native.free(entry.handle);
    this.data.delete(dataId);
    return true;
  }

  /** Frees a kernel's intermediate tensor. */
  disposeIntermediateTensorInfo(tensor: TensorInfo): void {
    this.disposeData(tensor.dataId);
  }

  override memory(): CudaMemoryInfo & { unreliable: false } {
    const stats: NativeMemoryStats = this.native.memoryStats();
    return {
      unreliable: false,
      numBytesInGPU: stats.bytesInUse,
      numBytesInGPUAllocated: stats.bytesInUse + stats.bytesCached,
      numBytesInGPUFree: stats.bytesCached,
      peakBytesInGPU: stats.peakBytesInUse,
      hostToDeviceCopies: stats.uploads,
      hostToDeviceBytes: stats.uploadBytes,
      deviceToHostCopies: stats.downloads,
      deviceToHostBytes: stats.downloadBytes,
      hostUniformWritesAsFills: this.uniformWrites,
    };
  }

  override async time(f: () => void): Promise<BackendTimingInfo> {
    const start = performance.now();
    f();
    this.native.synchronize();
    return { kernelMs: performance.now() - start };
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return super.epsilon();
  }

  override dispose(): void {
    for (const dataId of [...this.data.keys()]) this.disposeData(dataId, true);
  }
}
