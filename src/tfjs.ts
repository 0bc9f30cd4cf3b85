// The one place that sets up TensorFlow.js: every other module imports `tf` from here, so the
// whole library shares one tfjs-core instance and one registered backend.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers neither gradients nor chained ops (x.reshape(...)); the union
// package's Node build registers both onto the shared core (its registries are process-global).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { cudaBackendUnusableReason, registerCudaBackend } from './cudaBackend/index.js';
import { registerWasmRewrites } from './dense/wasmRewrites.js';

export { tf };

// tfjs wasm lacks some kernels the tfjs gradients call and is slow on others: so that model code
// can use the plain tfjs ops on every backend, those run as rewrites on its fast kernels.
registerWasmRewrites();
// The package's own device-resident backend ('cuda'); selecting it where CUDA cannot run is an error.
registerCudaBackend();

export type TfjsKind = 'wasm' | 'cpu' | 'cuda';
const TFJS_KINDS: readonly TfjsKind[] = ['wasm', 'cpu', 'cuda'];

let wasmPathsSet = false;

/** Where the backend's .wasm binaries live inside node_modules (Node cannot fetch them by URL). */
function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
}

/**
 * Selects the tfjs backend: `kind` if given, else env UCMG_TFJS_BACKEND, else wasm.
 * Resolves to the backend actually active; rejects with a message naming the bad setting.
 */
export async function initTfjs(kind?: TfjsKind): Promise<TfjsKind> {
  const fromEnv = process.env.UCMG_TFJS_BACKEND;
  const source = kind !== undefined ? 'kind' : 'UCMG_TFJS_BACKEND';
  const wanted = kind ?? (fromEnv === undefined || fromEnv === '' ? 'wasm' : fromEnv);
  if (!TFJS_KINDS.includes(wanted as TfjsKind)) {
    throw new Error(`initTfjs: ${source} must be 'wasm', 'cpu' or 'cuda', got ${JSON.stringify(wanted)}`);
  }
  if (wanted === 'cuda') {
    const reason = cudaBackendUnusableReason();
    if (reason !== undefined)
      throw new Error(`initTfjs: the tfjs 'cuda' backend was requested (${source}) but ${reason}`);
  }
  if (wanted === 'wasm' && !wasmPathsSet) {
    setWasmPaths(wasmDirectory());
    wasmPathsSet = true;
  }
  if (tf.getBackend() !== wanted) {
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`initTfjs: the tfjs '${wanted}' backend failed to initialise`);
  }
  await tf.ready();
  return wanted as TfjsKind;
}
