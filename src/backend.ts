// Which compute backend runs the hot ops (docs/algorithm.md §6): the native addon on CUDA or CPU, or the
// TensorFlow.js fallback. Resolution order: explicit option > env UCMG_BACKEND > cuda, cpu, tfjs.
// An explicit request that cannot be honoured is an error, never a silent fallback.
import os from 'node:os';
import { nativeDenseStatus, type NativeDenseStatus } from './dense/index.js';
import { type MpiSupport, mpiSupport } from './distributed/mpi.js';
import type { NativeBinding, NativeCudaInfo } from './native/binding.js';
import { loadNative, nativeBinding, nativeFallbackNotice, nativeUnavailableMessage } from './native/loader.js';
import { tf } from './tfjs.js';

export type OpBackend = 'cuda' | 'cpu' | 'tfjs';
export const OP_BACKENDS: readonly OpBackend[] = ['cuda', 'cpu', 'tfjs'];

export interface BackendInfo {
  compiled: { cuda: boolean; cudaArchitectures: string[]; blas: string | null; openmp: boolean; mpi?: boolean } | null;
  runtime: {
    gpu: string | null;
    computeCapability: string | null;
    memoryBytes: number | null;
    cpuThreads: number;
  };
  cudaUnusableReason?: string;
  nativeLoadFailures: string[];
  selected: OpBackend;
  /** The active tfjs backend ('wasm', 'cpu'), or 'none' before tfjs picked one. */
  tfjsBackend: string;
  /** Whether tfjs's matmul / conv kernels run on the native dense kernels (src/dense), or why not. */
  denseKernels: NativeDenseStatus;
  /** Whether data-parallel pretraining (MPI) is compiled in, with which library, or why not. */
  mpi: MpiSupport;
}

let cuda: NativeCudaInfo | undefined;
let warnedTfjsOnly = false;

export { nativeBinding };

function cudaInfo(binding: NativeBinding): NativeCudaInfo {
  cuda ??= binding.cudaInfo();
  return cuda;
}

/** Why CUDA cannot run here, or undefined when it can. */
export function cudaUnusableReason(): string | undefined {
  const binding = nativeBinding();
  if (binding === null) return `native addon unavailable (${loadNative().failures.join('; ')})`;
  const info = cudaInfo(binding);
  return info.usable ? undefined : (info.reason ?? 'CUDA reported unusable without a reason');
}

function parseBackend(value: unknown, argument: string): OpBackend {
  if (typeof value === 'string' && (OP_BACKENDS as readonly string[]).includes(value)) {
    return value as OpBackend;
  }
  throw new Error(`${argument} must be one of ${OP_BACKENDS.join(', ')}; got ${JSON.stringify(value)}`);
}

/**
 * The backend an op runs on. `requested` (the op's `backend` option) wins over env UCMG_BACKEND;
 * without either, the fastest usable one. Throws when an explicitly requested backend is unusable.
 */
export function resolveBackend(requested?: OpBackend): OpBackend {
  const fromEnv = process.env.UCMG_BACKEND;
  let wanted: OpBackend | undefined;
  if (requested !== undefined) wanted = parseBackend(requested, 'backend');
  else if (fromEnv !== undefined && fromEnv !== '') wanted = parseBackend(fromEnv, 'UCMG_BACKEND');

  if (wanted === 'tfjs') return 'tfjs';
  const binding = nativeBinding();
  if (wanted !== undefined) {
    if (binding === null) {
      throw new Error(`backend '${wanted}' requested but ${nativeUnavailableMessage(loadNative())}`);
    }
    if (wanted === 'cuda') {
      const reason = cudaUnusableReason();
      if (reason !== undefined) throw new Error(`backend 'cuda' requested but CUDA is unusable: ${reason}`);
    }
    return wanted;
  }
  if (binding === null) {
    if (!warnedTfjsOnly) {
      warnedTfjsOnly = true;
      console.warn(nativeFallbackNotice(loadNative()));
    }
    return 'tfjs';
  }
  return cudaUnusableReason() === undefined ? 'cuda' : 'cpu';
}

/** Every backend usable in this process, fastest first. */
export function availableBackends(): OpBackend[] {
  const binding = nativeBinding();
  if (binding === null) return ['tfjs'];
  return cudaUnusableReason() === undefined ? ['cuda', 'cpu', 'tfjs'] : ['cpu', 'tfjs'];
}

/** What was compiled in, what this machine offers, and what the ops will run on. */
export function backendInfo(): BackendInfo {
  const binding = nativeBinding();
  const info = binding === null ? undefined : cudaInfo(binding);
  const reason = cudaUnusableReason();
  return {
    compiled: binding === null ? null : binding.buildInfo(),
    runtime: {
      gpu: info?.name ?? null,
      computeCapability: info?.computeCapability ?? null,
      memoryBytes: info?.totalMemoryBytes ?? null,
      cpuThreads: binding === null ? os.availableParallelism() : binding.cpuThreads(),
    },
    ...(reason === undefined ? {} : { cudaUnusableReason: reason }),
    nativeLoadFailures: loadNative().failures,
    selected: resolveBackend(),
    tfjsBackend: tf.getBackend() ?? 'none',
    denseKernels: nativeDenseStatus(),
    mpi: mpiSupport(),
  };
}
