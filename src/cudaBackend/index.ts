// The tfjs 'cuda' backend: registers the backend and its kernels with tfjs, and says why it
// cannot run where it cannot (never falling back to another backend).
import { registerBackend, registerKernel, getKernel } from '@tensorflow/tfjs-core';
import { CUDA_BACKEND_NAME, CudaBackend } from './backend.js';
import { DENSE_KERNELS } from './denseKernels.js';
import { ELEMENTWISE_KERNELS } from './elementwiseKernels.js';
import { LAYOUT_KERNELS } from './layoutKernels.js';
import { nativeCudaBackend } from './native.js';
import { REDUCTION_KERNELS } from './reductionKernels.js';

export { CUDA_BACKEND_NAME, CudaBackend, type CudaMemoryInfo } from './backend.js';
export { nativeCudaBackend, type NativeCudaBackend, type NativeMemoryStats } from './native.js';

/** Every kernel the backend registers. */
export const CUDA_KERNELS = [...ELEMENTWISE_KERNELS, ...LAYOUT_KERNELS, ...REDUCTION_KERNELS, ...DENSE_KERNELS];

/** The names of the tfjs kernels the 'cuda' backend runs. */
export function cudaKernelNames(): string[] {
  return CUDA_KERNELS.map((config) => config.kernelName);
}

/** Why the 'cuda' backend cannot run in this process, or undefined when it can. */
export function cudaBackendUnusableReason(): string | undefined {
  const found = nativeCudaBackend();
  return 'reason' in found ? found.reason : undefined;
}

let registered = false;

/**
 * Registers the 'cuda' backend and its kernels with tfjs (once; idempotent). The backend's
 * factory throws, naming why, where CUDA cannot run, so tf.setBackend('cuda') fails loudly.
 */
export function registerCudaBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend(
    CUDA_BACKEND_NAME,
    () => {
      const found = nativeCudaBackend();
      if ('reason' in found) throw new Error(`the tfjs 'cuda' backend cannot run: ${found.reason}`);
      return new CudaBackend(found.backend);
    },
    0,
  );
  for (const config of CUDA_KERNELS) {
    if (getKernel(config.kernelName, CUDA_BACKEND_NAME) === undefined) registerKernel(config);
  }
}
