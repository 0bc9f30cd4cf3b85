// The tfjs fallbacks allocate on the active tfjs backend. tfjs wasm keeps every tensor in one wasm32
// heap of at most 4 GiB and does not survive a failed allocation: it aborts, and every later wasm op
// in the process fails. So a fallback estimates its peak before it allocates anything and refuses a
// call that cannot fit. The other tfjs backends fail an allocation with an ordinary error.
import { tf } from '../tfjs.js';
import { fail } from './validate.js';

const WASM_HEAP_BYTES = 2 ** 32;
/** The share of the free heap a call may plan to fill: malloc needs room beyond the live tensors. */
const USABLE_SHARE = 0.75;

const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1);

/**
 * Refuses the call when about `floats` float32 values (its peak, gradients included) would not fit
 * the free part of tfjs wasm's heap. `what` names the sizes that drive the estimate.
 */
export function checkTfjsHeap(op: string, floats: number, what: string): void {
  if (tf.getBackend() !== 'wasm') return;
  const bytes = 4 * floats;
  const free = WASM_HEAP_BYTES - tf.memory().numBytes;
  if (bytes > USABLE_SHARE * free) {
    fail(op, `the tfjs fallback needs about ${gib(bytes)} GiB for ${what}, more than tfjs wasm's 4 GiB heap can ` +
      `give (${gib(free)} GiB free); run it on the cpu or cuda backend, or on smaller batches`);
  }
}
