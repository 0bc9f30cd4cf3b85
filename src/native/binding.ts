// The whole native surface in one typed interface: what build/Release/unicode_cmg.node exports.
// The C++ side (native/binding/addon.cc) validates every argument and throws a TypeError or
// RangeError naming it; the compute contracts are documented in native/include/ucmg/ops.h.

/** A native compute device. `tfjs` is not native and never reaches this interface. */
export type NativeDevice = 'cpu' | 'cuda';

export interface NativeBuildInfo {
  /** CUDA kernels were compiled in. */
  cuda: boolean;
  /** CUDA architectures as compiled, e.g. ["80", "90"]; empty without CUDA. */
  cudaArchitectures: string[];
  /** "openblas" when the CPU GEMMs call OpenBLAS, null for the portable fallback GEMM. */
  blas: string | null;
  openmp: boolean;
}

export interface NativeCudaInfo {
  usable: boolean;
  /** Why CUDA cannot be used ("not compiled", "no CUDA driver", "no CUDA device", ...). */
  reason?: string;
  deviceCount: number;
  name?: string;
  /** "9.0" */
  computeCapability?: string;
  totalMemoryBytes?: number;
  driverVersion?: number;
  runtimeVersion?: number;
}

export interface NativeQuantizeResult {
  indices: Int32Array;
  distances: Float32Array;
  /** The selected codebook rows, [n, d]; only when `gather` was true. */
  quantized?: Float32Array;
}

export interface NativeCodebookState {
  embedding: Float32Array; // [m, d]
  emaCount: Float32Array; // [m]
  emaWeight: Float32Array; // [m, d]
  unusedCount: Int32Array; // [m]
}

export interface NativeMmEmaOptions {
  decay: number;
  epsilon: number;
  deadAfter: number;
  activeBelow: number;
  /** uint32 */
  seed: number;
  resetEma: boolean;
  crossModal: boolean;
  segmentsPerClip: number;
}

export interface NativeMmEmaResult {
  /** Fresh arrays: the inputs are never modified. */
  state: NativeCodebookState;
  perplexity: Float64Array; // [k]
  equalNum: number;
  resetCodes: Int32Array;
  resetSources: Int32Array;
}

export interface NativeCodeMatchingResult {
  loss: number;
  /** dL/dz per modality, [b*t*d] each; empty when wantGrad was false. */
  grads: Float32Array[];
}

export interface NativeInfoNceResult {
  loss: number;
  /** [k*k], row m = target modality, column n = prediction modality. */
  accuracies: Float32Array;
  gradTargets: Float32Array[];
  gradPreds: Float32Array[];
}

export interface NativeBinding {
  buildInfo(): NativeBuildInfo;
  cpuThreads(): number;
  cudaInfo(): NativeCudaInfo;

  quantize(device: NativeDevice, args: {
    z: Float32Array; codebook: Float32Array; n: number; m: number; d: number; gather: boolean;
  }): NativeQuantizeResult;

  mmEmaStep(device: NativeDevice, args: {
    state: NativeCodebookState; m: number; d: number;
    z: Float32Array[]; indices: Int32Array[]; n: number; options: NativeMmEmaOptions;
  }): NativeMmEmaResult;

  codeMatching(device: NativeDevice, args: {
    z: Float32Array[]; codebook: Float32Array; b: number; t: number; d: number; m: number;
    epsilon: number; wantGrad: boolean;
  }): NativeCodeMatchingResult;

  infoNce(device: NativeDevice, args: {
    targets: Float32Array[]; preds: Float32Array[]; weights: Float32Array; b: number; d: number;
    wantGrad: boolean;
  }): NativeInfoNceResult;

  /**
   * Device-resident CUDA timings for the device check (no host transfers inside the timed
   * region). Per-run milliseconds. Throws when CUDA is not usable.
   * quantize: {n, m, d}; avtStep: {b, t, d, m}; infoNce: {b, d, k}.
   */
  cudaTime(op: 'quantize' | 'avtStep' | 'infoNce', params: Record<string, number>, iters: number): number[];
}
