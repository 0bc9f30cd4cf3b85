// The tfjs fallbacks allocate on the active tfjs backend. tfjs wasm keeps every tensor in one wasm32
// heap of at most 4 GiB and does not survive a failed allocation: it aborts, and every later wasm op
// in the process fails. tfjs cpu keeps them in the process's memory, where a call far too large
// ends in the system's out-of-memory killer rather than an error. So a fallback estimates its peak
// before it allocates anything and refuses a call that cannot fit.
import os from 'node:os';
import { tf } from '../tfjs.js';
import { fail } from './validate.js';

const WASM_HEAP_BYTES = 2 ** 32;
/** The share of the free memory a call may plan to fill: malloc needs room beyond the live tensors. */
const USABLE_SHARE = 0.75;

const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1);

/**
 * Refuses the call when about `floats` float32 values (its peak, gradients included) would not fit
 * the free part of the tfjs backend's memory. `what` names the sizes that drive the estimate.
 */
export function checkTfjsHeap(op: string, floats: number, what: string): void {
  const wasm = tf.getBackend() === 'wasm';
  const capacity = wasm ? WASM_HEAP_BYTES : os.totalmem();
  const bytes = 4 * floats;
  const free = capacity - tf.memory().numBytes;
  if (bytes > USABLE_SHARE * free) {
    const where = wasm ? "tfjs wasm's 4 GiB heap" : `this machine's ${gib(capacity)} GiB of memory`;
    fail(
      op,
      `the tfjs fallback needs about ${gib(bytes)} GiB for ${what}, more than ${where} can give ` +
        `(${gib(free)} GiB free); run it on the cpu or cuda backend, or on smaller batches`,
    );
  }
}
