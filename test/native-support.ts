// Hostile arguments for the native binding tests: getters that free a typed array's memory
// while the binding runs, the way a use-after-free in the binding would be triggered.
import v8 from 'node:v8';
import vm from 'node:vm';

// gc() without --expose-gc: the flag may be set at run time, and a new context then has gc.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext('gc') as () => void);

/** Detaches `view`'s buffer (its length becomes 0) and frees the memory it had. */
export function freeMemoryOf(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  collectGarbage();
}

/**
 * Replaces `target[key]` by a getter that frees `victim`'s memory and then returns the value
 * the key had. Returns how often the getter ran.
 */
export function freeingGetter(target: object, key: string, victim: ArrayBufferView): { calls: number } {
  const value: unknown = (target as Record<string, unknown>)[key];
  const counter = { calls: 0 };
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      counter.calls++;
      freeMemoryOf(victim);
      return value;
    },
  });
  return counter;
}
