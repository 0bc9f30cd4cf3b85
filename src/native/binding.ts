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
  /** MPI was linked in (data-parallel pretraining, the optional `mpi` export). */
  mpi: boolean;
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

/** Every option is required here; the ops fill the unset ones from MM_EMA_DEFAULTS (src/ops/defaults.ts). */
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

// ---- dense kernels (native/dense/, native/binding/dense_binding.cc) -------------------------
// The heavy tfjs kernels run natively by src/dense/. Outputs are written in place into
// caller-provided arrays (views on tfjs tensor memory): nothing is returned or copied.

export type DenseActivation = 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'prelu' | 'sigmoid';

/** Fused tail y = activation(x + bias) over the last (channel) dimension of the output. */
export interface DenseEpilogue {
  /** Length 1 (broadcast) or the number of output columns / channels. */
  bias?: Float32Array;
  activation?: DenseActivation;
  /** For 'leakyrelu'; default 0.2. */
  leakyreluAlpha?: number;
  /** For 'prelu' (required then): length 1 or the number of output columns / channels. */
  preluAlpha?: Float32Array;
}

/** NHWC convolution geometry as tfjs's computeConv2DInfo gives it. Filters are [fh, fw, inC, outC]. */
export interface DenseConv2dGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

export interface NativeBinding {
  buildInfo(): NativeBuildInfo;
  cpuThreads(): number;
  cudaInfo(): NativeCudaInfo;

  quantize(
    device: NativeDevice,
    args: {
      z: Float32Array;
      codebook: Float32Array;
      n: number;
      m: number;
      d: number;
      gather: boolean;
    },
  ): NativeQuantizeResult;

  mmEmaStep(
    device: NativeDevice,
    args: {
      state: NativeCodebookState;
      m: number;
      d: number;
      z: Float32Array[];
      indices: Int32Array[];
      n: number;
      options: NativeMmEmaOptions;
    },
  ): NativeMmEmaResult;

  codeMatching(
    device: NativeDevice,
    args: {
      z: Float32Array[];
      codebook: Float32Array;
      b: number;
      t: number;
      d: number;
      m: number;
      epsilon: number;
      wantGrad: boolean;
    },
  ): NativeCodeMatchingResult;

  infoNce(
    device: NativeDevice,
    args: {
      targets: Float32Array[];
      preds: Float32Array[];
      weights: Float32Array;
      b: number;
      d: number;
      wantGrad: boolean;
    },
  ): NativeInfoNceResult;

  /**
   * Device-resident CUDA timings for the device check (no host transfers inside the timed
   * region). Per-run milliseconds. Throws when CUDA is not usable.
   * quantize: {n, m, d}; avtStep: {b, t, d, m}; infoNce: {b, d, k}.
   */
  cudaTime(op: 'quantize' | 'avtStep' | 'infoNce', params: Record<string, number>, iters: number): number[];

  // ---- dense kernels ----

  /**
   * out[i] = op(a[aBatchIndex[i]]) x op(b[bBatchIndex[i]]) for i < batch, then the epilogue.
   * a holds aBatches matrices [m, k] ([k, m] when transposeA), b holds bBatches [k, n] ([n, k]
   * when transposeB), out holds batch matrices [m, n].
   */
  denseMatMul(
    args: {
      a: Float32Array;
      b: Float32Array;
      out: Float32Array;
      m: number;
      n: number;
      k: number;
      transposeA: boolean;
      transposeB: boolean;
      batch: number;
      aBatches: number;
      bBatches: number;
      aBatchIndex: Int32Array;
      bBatchIndex: Int32Array;
    } & DenseEpilogue,
  ): void;

  /** out [batch, outH, outW, outC] = epilogue(conv2d(x [batch, inH, inW, inC], filter)). */
  denseConv2d(
    args: { x: Float32Array; filter: Float32Array; out: Float32Array; geometry: DenseConv2dGeometry } & DenseEpilogue,
  ): void;

  /** dx [batch, inH, inW, inC] from dy [batch, outH, outW, outC] (also conv2dTranspose's forward). */
  denseConv2dBackpropInput(args: {
    dy: Float32Array;
    filter: Float32Array;
    dx: Float32Array;
    geometry: DenseConv2dGeometry;
  }): void;

  /** dw [fh, fw, inC, outC] from x and dy. */
  denseConv2dBackpropFilter(args: {
    x: Float32Array;
    dy: Float32Array;
    dw: Float32Array;
    geometry: DenseConv2dGeometry;
  }): void;

  /**
   * out = x transposed: out's axis i is x's axis perm[i], read backwards where reversed[perm[i]] is
   * non-zero (reversed: one flag per axis of x, optional). shape is x's shape, rank 1..8.
   */
  denseTranspose(args: {
    x: Float32Array;
    out: Float32Array;
    rank: number;
    shape: Int32Array;
    perm: Int32Array;
    reversed?: Int32Array;
  }): void;

  /** out[o, j] = scale * sum over r of x[o, r, j], x seen as [outer, reduce, inner] (summed in double; scale default 1). */
  denseSumAxis(args: {
    x: Float32Array;
    out: Float32Array;
    outer: number;
    reduce: number;
    inner: number;
    scale?: number;
  }): void;

  /**
   * out = a op b over out [outer, mid, inner]; a and b each hold outer*mid*inner elements, or
   * outer*inner repeated along mid (at most one of them): tfjs broadcasting over one run of axes.
   */
  denseBinary(args: {
    op: 'add' | 'sub' | 'mul' | 'div';
    a: Float32Array;
    b: Float32Array;
    out: Float32Array;
    outer: number;
    mid: number;
    inner: number;
  }): void;

  /** out[i] = op(x[i]); step is tfjs's Step: x > 0 ? 1 : alpha (default 0). */
  denseUnary(args: {
    op: 'relu' | 'step' | 'sqrt' | 'square' | 'neg';
    x: Float32Array;
    out: Float32Array;
    alpha?: number;
  }): void;
}

/**
 * Every function of NativeBinding, each named once. The `satisfies` makes the compiler check this
 * list against the interface both ways (no key missing, none extra), so the loader, which refuses
 * a build lacking any of them, always asks for exactly what the interface promises.
 */
const EXPORTED = {
  buildInfo: true,
  cpuThreads: true,
  cudaInfo: true,
  quantize: true,
  mmEmaStep: true,
  codeMatching: true,
  infoNce: true,
  cudaTime: true,
  denseMatMul: true,
  denseConv2d: true,
  denseConv2dBackpropInput: true,
  denseConv2dBackpropFilter: true,
  denseTranspose: true,
  denseSumAxis: true,
  denseBinary: true,
  denseUnary: true,
} as const satisfies Record<keyof NativeBinding, true>;

/** The names of the addon's exports (the keys of NativeBinding). */
export const NATIVE_EXPORTS = Object.keys(EXPORTED) as readonly (keyof NativeBinding)[];

/** 'exact' fp32 (default) or 'tf32': operands rounded to TF32, tensor cores on sm_80+. */
export type CudaDensePrecision = 'exact' | 'tf32';

/**
 * The addon's optional `cudaDenseTest` export, present only in builds with CUDA (so, like the
 * `cudaBackend` and `mpi` exports, it is not in NATIVE_EXPORTS, which every build must satisfy):
 * the CUDA backend's dense kernels (native/cuda/backend/dense.cuh) on host arrays, copied to
 * the device and back, for the emulated kernel tests and the device check. Arguments as the
 * dense exports'; a matmul's batch broadcast is given as shapes (each axis equal or 1).
 */
export interface NativeCudaDenseTest {
  matMul(
    args: {
      a: Float32Array;
      b: Float32Array;
      out: Float32Array;
      m: number;
      n: number;
      k: number;
      transposeA: boolean;
      transposeB: boolean;
      batchRank: number;
      aBatchShape: Int32Array;
      bBatchShape: Int32Array;
      precision?: CudaDensePrecision;
    } & DenseEpilogue,
  ): void;
  conv2d(
    args: {
      x: Float32Array;
      filter: Float32Array;
      out: Float32Array;
      geometry: DenseConv2dGeometry;
      precision?: CudaDensePrecision;
    } & DenseEpilogue,
  ): void;
  conv2dBackpropInput(args: {
    dy: Float32Array;
    filter: Float32Array;
    dx: Float32Array;
    geometry: DenseConv2dGeometry;
    precision?: CudaDensePrecision;
  }): void;
  conv2dBackpropFilter(args: {
    x: Float32Array;
    dy: Float32Array;
    dw: Float32Array;
    geometry: DenseConv2dGeometry;
    precision?: CudaDensePrecision;
  }): void;
  /**
   * Device-resident timings (inputs made on the device, CUDA events, one warm-up): per-run ms
   * of a batched product or one convolution pass.
   */
  time(
    args: { iters: number; precision?: CudaDensePrecision } & (
      | { op: 'matMul'; batch: number; m: number; n: number; k: number }
      | { op: 'conv2d' | 'conv2dBackpropInput' | 'conv2dBackpropFilter'; geometry: DenseConv2dGeometry }
    ),
  ): number[];
}
