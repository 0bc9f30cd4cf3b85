// Native dense kernels for tfjs: while enabled, the matrix-product and convolution
// kernels of the wasm and cpu tfjs backends run on the native addon's OpenBLAS kernels, and their
// transposes, reverses and axis sums / means on its layout kernels (on tfjs cpu, whose kernels are
// plain JavaScript, the common elementwise kernels, splits and unstacks too; on tfjs wasm, Identity
// shares memory instead of copying it), in place on tfjs's tensor memory. Model code does not
// change: the kernels are swapped in tfjs's kernel registry, gradients keep their tfjs definitions
// (and call these kernels in turn). Without them, tfjs wasm runs the rewrites of wasmRewrites.ts.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBinding } from '../native/binding.js';
import { nativeBinding } from '../native/loader.js';
import { tf } from '../tfjs.js';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel, conv2dKernel } from './convKernels.js';
import { ELEMENTWISE_KERNELS } from './elementwiseKernels.js';
import { identityKernel, meanKernel, reverseKernel, sumKernel, transposeKernel } from './layoutKernels.js';
import { matMulKernel } from './matMulKernel.js';
import { splitVKernel, unpackKernel } from './splitKernels.js';
import type { DenseKernelArgs, DenseKernelImpl } from './nativeCall.js';
import { DENSE_HOST_BACKENDS, tensorMemory, type DenseHostBackend } from './tensorMemory.js';

/** The tfjs kernels this module replaces, and on which backends. */
const DENSE_KERNELS: Readonly<Record<string, { impl: DenseKernelImpl; hosts: readonly DenseHostBackend[] }>> = {
  ...Object.fromEntries(
    Object.entries({
      BatchMatMul: matMulKernel,
      _FusedMatMul: matMulKernel,
      Conv2D: conv2dKernel,
      FusedConv2D: conv2dKernel,
      Conv2DBackpropInput: conv2dBackpropInputKernel,
      Conv2DBackpropFilter: conv2dBackpropFilterKernel,
      Transpose: transposeKernel,
      Reverse: reverseKernel,
      Sum: sumKernel,
      Mean: meanKernel,
    }).map(([name, impl]) => [name, { impl, hosts: DENSE_HOST_BACKENDS }]),
  ),
  Identity: { impl: identityKernel, hosts: ['wasm'] },
  // tfjs wasm's own kernels for these are fast already; tfjs cpu's are JavaScript loops.
  ...Object.fromEntries(
    Object.entries({ ...ELEMENTWISE_KERNELS, SplitV: splitVKernel, Unpack: unpackKernel }).map(([name, impl]) => [
      name,
      { impl, hosts: ['cpu'] as const },
    ]),
  ),
};

/**
 * Below this many flops a product stays on the tfjs kernel, which wins on tiny products where the
 * native call's fixed cost dominates. Measured by `npm run bench -- dense` (kernel suite): wasm's
 * own kernels are fast on small products, tfjs cpu's are about 1 GFLOP/s.
 */
export const DEFAULT_MIN_FLOPS: Readonly<Record<DenseHostBackend, number>> = { wasm: 2_000_000, cpu: 20_000 };
/** Below this many elements a layout, reduction or elementwise call stays on the tfjs kernel. */
export const DEFAULT_MIN_ELEMENTS = 16_384;

export interface NativeDenseOptions {
  /** Products below this many flops run on the original tfjs kernel. Default: DEFAULT_MIN_FLOPS per backend. */
  minFlops?: number;
  /** Layout, reduction and elementwise calls below this many elements run on the original tfjs kernel. Default DEFAULT_MIN_ELEMENTS. */
  minElements?: number;
  /** The addon to use; default: the library's loaded addon. */
  binding?: NativeBinding;
}

export interface NativeDenseCounts {
  /** Calls that ran natively. */
  native: number;
  /** Calls handed to the original tfjs kernel (too small, unsupported attributes). */
  fallback: number;
  /** GEMM flops of the native calls. */
  nativeFlops: number;
  /** GEMM flops of the products handed on for being below minFlops. */
  smallFlops: number;
}

export interface NativeDenseStatus {
  enabled: boolean;
  /** Why the native dense kernels are off (absent while enabled). */
  reason?: string;
  /** The tfjs backends whose kernels are replaced. */
  backends: DenseHostBackend[];
  kernels: string[];
  minFlops: Record<DenseHostBackend, number>;
  minElements: number;
  /** Per kernel name, since the process started. */
  counts: Record<string, NativeDenseCounts>;
}

interface Override {
  kernelName: string;
  backendName: DenseHostBackend;
  original: KernelConfig | undefined;
}

let overrides: Override[] = [];
interface Thresholds {
  minFlops: Record<DenseHostBackend, number>;
  minElements: number;
}

let state: { enabled: boolean; reason?: string } & Thresholds = {
  enabled: false,
  reason: 'enableNativeDense() was not called',
  minFlops: { ...DEFAULT_MIN_FLOPS },
  minElements: DEFAULT_MIN_ELEMENTS,
};
const counts: Record<string, NativeDenseCounts> = Object.fromEntries(
  Object.keys(DENSE_KERNELS).map((name) => [name, { native: 0, fallback: 0, nativeFlops: 0, smallFlops: 0 }]),
);

function nativeKernelFunc(
  kernelName: string,
  backendName: DenseHostBackend,
  original: KernelConfig | undefined,
  binding: NativeBinding,
  minFlops: number,
  minElements: number,
): KernelFunc {
  const impl = DENSE_KERNELS[kernelName].impl;
  const count = counts[kernelName];
  const handOn = (args: Parameters<KernelFunc>[0], why: string) => {
    if (original === undefined) {
      throw new Error(
        `${kernelName}: the native dense kernel cannot run this call (${why}) and the tfjs '${backendName}' backend has no kernel of its own`,
      );
    }
    count.fallback++;
    return original.kernelFunc(args) as TensorInfo | TensorInfo[];
  };
  return (args) => {
    const call = args as unknown as DenseKernelArgs;
    const plan = impl(call, { binding, memory: tensorMemory(backendName, call.backend) });
    if ('declined' in plan) return handOn(args, plan.declined);
    // Tiny calls run faster on the tfjs kernel than through the native call (when there is one).
    const flops = 'flops' in plan.size ? plan.size.flops : 0;
    if (original !== undefined) {
      if ('flops' in plan.size && flops < minFlops) {
        count.smallFlops += flops;
        return handOn(args, `${flops} flops < minFlops ${minFlops}`);
      }
      if ('elements' in plan.size && plan.size.elements < minElements) {
        return handOn(args, `${plan.size.elements} elements < minElements ${minElements}`);
      }
    }
    const result = plan.run();
    if ('declined' in result) return handOn(args, result.declined);
    count.native++;
    count.nativeFlops += flops;
    return result;
  };
}

/** Why `binding` cannot provide the dense kernels, or undefined when it can. */
function unusableReason(binding: NativeBinding | null): string | undefined {
  // The loader refuses a build lacking any export, the dense ones included.
  if (binding === null) return 'native addon unavailable (see backendInfo().nativeLoadFailures)';
  if (binding.buildInfo().blas === null)
    return 'native addon built without OpenBLAS (install libopenblas-dev and rebuild)';
  return undefined;
}

/**
 * Replaces the dense kernels of the registered wasm and cpu tfjs backends with the native ones.
 * Call after the tfjs backends are imported (src/tfjs.ts does). Idempotent: a second call
 * re-applies with the new options. When the addon or OpenBLAS is missing nothing changes and
 * the tfjs kernels stay in use; the result says why.
 */
export function enableNativeDense(options: NativeDenseOptions = {}): { enabled: boolean; reason?: string } {
  for (const key of ['minFlops', 'minElements'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`enableNativeDense: options.${key} must be a finite number >= 0, got ${value}`);
    }
  }
  const thresholds: Thresholds = {
    minFlops:
      options.minFlops === undefined ? { ...DEFAULT_MIN_FLOPS } : { wasm: options.minFlops, cpu: options.minFlops },
    minElements: options.minElements ?? DEFAULT_MIN_ELEMENTS,
  };
  const binding = options.binding ?? nativeBinding();
  const reason = unusableReason(binding);
  if (reason !== undefined) {
    disableNativeDense();
    state = { enabled: false, reason, ...thresholds };
    return { enabled: false, reason };
  }
  const backends = DENSE_HOST_BACKENDS.filter((name) => tf.getKernelsForBackend(name).length > 0);
  if (backends.length === 0) {
    disableNativeDense();
    state = { enabled: false, reason: 'neither the tfjs wasm nor the cpu backend is registered', ...thresholds };
    return { enabled: false, reason: state.reason };
  }
  disableNativeDense();
  for (const backendName of backends) {
    for (const [kernelName, { hosts }] of Object.entries(DENSE_KERNELS)) {
      if (!hosts.includes(backendName)) continue;
      const original = tf.getKernel(kernelName, backendName);
      if (original !== undefined) tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({
        kernelName,
        backendName,
        // The original's setup/dispose still prepare the backend for the fallback path.
        setupFunc: original?.setupFunc,
        disposeFunc: original?.disposeFunc,
        kernelFunc: nativeKernelFunc(
          kernelName,
          backendName,
          original,
          binding!,
          thresholds.minFlops[backendName],
          thresholds.minElements,
        ),
      });
      overrides.push({ kernelName, backendName, original });
    }
  }
  state = { enabled: true, ...thresholds };
  return { enabled: true };
}

/** Restores the tfjs kernels that enableNativeDense() replaced. A no-op when not enabled. */
export function disableNativeDense(): void {
  for (const { kernelName, backendName, original } of overrides) {
    tf.unregisterKernel(kernelName, backendName);
    if (original !== undefined) tf.registerKernel(original);
  }
  overrides = [];
  state = {
    enabled: false,
    reason: 'disabled by disableNativeDense()',
    minFlops: state.minFlops,
    minElements: state.minElements,
  };
}

/** What runs where, for backendInfo() and the benchmarks. */
export function nativeDenseStatus(): NativeDenseStatus {
  return {
    enabled: state.enabled,
    ...(state.reason === undefined ? {} : { reason: state.reason }),
    backends: [...new Set(overrides.map((o) => o.backendName))],
    kernels: [...new Set(overrides.map((o) => o.kernelName))],
    minFlops: state.minFlops,
    minElements: state.minElements,
    counts: Object.fromEntries(Object.entries(counts).map(([name, c]) => [name, { ...c }])),
  };
}
