// The addon's optional `cudaBackend` export (native/binding/cuda_backend.cc): device tensors
// named by integer handles, and the kernels of the tfjs 'cuda' backend. Builds without CUDA
// lack it, so it is not part of NativeBinding.
import type { DenseConv2dGeometry, NativeMmEmaOptions } from '../native/binding.js';
import { loadNative, nativeBinding } from '../native/loader.js';

/** [handle, offset, ...one stride per axis of the op's shape], in elements. */
export type NativeView = number[];

export interface NativeMemoryStats {
  /** Bytes held by live tensors (rounded up to the allocator's size classes). */
  bytesInUse: number;
  /** Bytes of freed blocks the allocator keeps for reuse. */
  bytesCached: number;
  peakBytesInUse: number;
  /** cudaMalloc calls so far. */
  driverAllocations: number;
  liveTensors: number;
  /** Host -> device copies and their bytes since the last resetCounters(). */
  uploads: number;
  uploadBytes: number;
  /** Device -> host copies and their bytes since the last resetCounters(). */
  downloads: number;
  downloadBytes: number;
}

export type NativeDType = 'float32' | 'int32';

export interface NativeCudaBackend {
  /** The strided engine's ops in the order of their numbers. */
  elementwiseOps: string[];
  reduceOps: string[];
  /** A new tensor of `count` elements (contents undefined); throws when the device is full. */
  allocate(count: number, dtype: NativeDType): number;
  free(handle: number): void;
  upload(handle: number, data: Float32Array | Int32Array): void;
  download(handle: number): Float32Array | Int32Array;
  memoryStats(): NativeMemoryStats;
  /** Returns the cached blocks to the driver. */
  emptyCache(): void;
  /** Zeroes the copy counters and resets the peak to what is in use now. */
  resetCounters(): void;
  synchronize(): void;
  /** out = op(inputs) over `shape`, every operand a view (see NativeView). */
  elementwise(op: number, shape: number[], out: NativeView, inputs: NativeView[], alpha?: number, beta?: number): void;
  /** out[o] = op(x[o, :]), x [outer, reduceSize] contiguous. */
  reduce(op: number, x: number, out: number, outer: number, reduceSize: number): void;
  gather(
    x: number,
    indices: number,
    out: number,
    batch: number,
    outer: number,
    axisSize: number,
    inner: number,
    indexCount: number,
  ): void;
  segmentSum(x: number, segmentIds: number, out: number, rows: number, inner: number, segments: number): void;
  gatherNd(x: number, indices: number, out: number, rows: number, dims: number[], inner: number): void;
  scatterNd(indices: number, updates: number, out: number, rows: number, dims: number[], inner: number): void;
  /** The exact nearest codebook row per row of z (native/cuda/quantize.cuh), all operands device tensors. */
  quantize(args: {
    z: number;
    codebook: number;
    n: number;
    m: number;
    d: number;
    indices: number;
    distances: number;
    gathered?: number;
  }): void;
  /** InfoNCE over k modalities (native/cuda/info_nce.cuh): targets, preds [k, b, d]; loss [1]; hits [k*k] int32. */
  infoNce(args: {
    targets: number;
    preds: number;
    k: number;
    b: number;
    d: number;
    weights: number;
    loss: number;
    hits: number;
    gradTargets?: number;
    gradPreds?: number;
  }): void;
  /** The code-matching loss (native/cuda/code_matching.cuh): z [k, b*t, d], codebook [m, d]; loss [1]. */
  codeMatching(args: {
    z: number;
    k: number;
    b: number;
    t: number;
    d: number;
    codebook: number;
    m: number;
    epsilon: number;
    loss: number;
    grad?: number;
  }): void;
  /**
   * One MM-EMA step (native/cuda/mm_ema.cuh) on device tensors: `before` copied to `after` and updated
   * there from z [k, n, d] and indices [k, n]; report [2k + 3 + 2m] int32 (see hotOps.ts, readMmEmaReport).
   */
  mmEma(args: {
    before: NativeCodebookHandles;
    after: NativeCodebookHandles;
    m: number;
    d: number;
    z: number;
    indices: number;
    k: number;
    n: number;
    options: NativeMmEmaOptions;
    report: number;
  }): void;
  /** out (float32) = the next values of alea in state (s0, s1, s2 as 32-bit integers, carry): native/cuda/backend/alea_api.h. */
  aleaUniform(args: { out: number; s0: number; s1: number; s2: number; carry: number }): void;
  /** out [batch..., m, n] = epilogue(op(a) op(b)), batch broadcast from aBatch and bBatch (same length). */
  matMul(
    args: {
      a: number;
      b: number;
      out: number;
      m: number;
      n: number;
      k: number;
      transposeA: boolean;
      transposeB: boolean;
      aBatch: number[];
      bBatch: number[];
      tf32?: boolean;
    } & NativeDeviceEpilogue,
  ): void;
  conv2d(
    args: {
      x: number;
      filter: number;
      out: number;
      geometry: DenseConv2dGeometry;
      tf32?: boolean;
    } & NativeDeviceEpilogue,
  ): void;
  conv2dBackpropInput(args: {
    dy: number;
    filter: number;
    dx: number;
    geometry: DenseConv2dGeometry;
    tf32?: boolean;
  }): void;
  conv2dBackpropFilter(args: {
    x: number;
    dy: number;
    dw: number;
    geometry: DenseConv2dGeometry;
    tf32?: boolean;
  }): void;
}

/** Device handles of a codebook's state tensors. */
export interface NativeCodebookHandles {
  embedding: number;
  emaCount: number;
  emaWeight: number;
  unusedCount: number;
}

/** Device handles of a fused tail: bias and PReLU weights hold 1 or `columns` floats. */
export interface NativeDeviceEpilogue {
  bias?: number;
  activation?: 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'prelu' | 'sigmoid';
  leakyreluAlpha?: number;
  preluAlpha?: number;
}

/** The loaded addon's `cudaBackend` export, or why there is none usable. */
export function nativeCudaBackend(): { backend: NativeCudaBackend } | { reason: string } {
  const binding = nativeBinding();
  if (binding === null) return { reason: `the native addon is unavailable (${loadNative().failures.join('; ')})` };
  const exported = (binding as unknown as { cudaBackend?: NativeCudaBackend }).cudaBackend;
  if (exported === undefined || !binding.buildInfo().cuda) {
    return { reason: `the native addon at ${loadNative().path} was built without CUDA (rebuild with UCMG_CUDA=ON)` };
  }
  const info = binding.cudaInfo();
  if (!info.usable) return { reason: `CUDA is not usable here: ${info.reason ?? 'no reason given'}` };
  return { backend: exported };
}
