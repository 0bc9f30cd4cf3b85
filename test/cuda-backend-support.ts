// Shared by the cuda-backend tests: the library loaded against an addon with usable CUDA (the
// emulated build without a GPU, see cuda-emulated-support.ts), and a comparison of one
// computation on the tfjs 'cuda' and 'cpu' backends.
import assert from 'node:assert/strict';
import { cudaAddon, cudaBackendMissing } from './cuda-emulated-support.js';
import type { tf as TfType } from '../src/tfjs.js';

export type Tf = typeof TfType;

/** tfjs with the 'cuda' backend registered on a usable addon, or the reason to skip. */
export async function loadCudaTfjs(): Promise<{ tf: Tf } | { skip: string }> {
  const missing = cudaBackendMissing();
  if (missing !== undefined) return { skip: missing };
  const addon = cudaAddon();
  if ('skip' in addon) return { skip: addon.skip };
  // Before the library loads: the loader reads UCMG_NATIVE_PATH once.
  process.env.UCMG_NATIVE_PATH = addon.path;
  const { tf, initTfjs } = await import('../src/tfjs.js');
  await initTfjs('cuda');
  return { tf };
}

/** A deterministic pseudo-random array in [lo, hi) (xorshift), the same on every run. */
export function randomValues(count: number, seed: number, lo = -2, hi = 2): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (s ^ (s << 13)) >>> 0;
    s ^= s >>> 17;
    s = (s ^ (s << 5)) >>> 0;
    out[i] = lo + ((s >>> 8) / (1 << 24)) * (hi - lo);
  }
  return out;
}

type Result = { shape: number[]; dtype: string; values: number[] };

async function runOn(tf: Tf, backend: string, build: () => TfType.Tensor | TfType.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const made = tf.tidy(build);
  const list = Array.isArray(made) ? made : [made];
  const out: Result[] = [];
  for (const t of list) out.push({ shape: [...t.shape], dtype: t.dtype, values: Array.from(await t.data()) });
  tf.dispose(list);
  return out;
}

function close(a: number, b: number, rtol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= rtol * Math.max(1, Math.abs(a), Math.abs(b));
}

/**
 * Runs `build` (which makes its own inputs) on 'cpu' and on 'cuda' and asserts equal shapes and
 * dtypes and values within `rtol` (relative, absolute below 1). Leaves 'cuda' active.
 */
export async function assertSameOnCuda(
  tf: Tf,
  label: string,
  build: () => TfType.Tensor | TfType.Tensor[],
  rtol = 1e-6,
): Promise<void> {
  const expected = await runOn(tf, 'cpu', build);
  const actual = await runOn(tf, 'cuda', build);
  assert.equal(actual.length, expected.length, `${label}: number of outputs`);
  expected.forEach((e, i) => {
    const a = actual[i];
    assert.deepEqual(a.shape, e.shape, `${label}: shape of output ${i}`);
    assert.equal(a.dtype, e.dtype, `${label}: dtype of output ${i}`);
    const bad = e.values.findIndex((v, j) => !close(v, a.values[j], rtol));
    assert.equal(bad, -1, `${label}: output ${i} element ${bad}: cuda ${a.values[bad]}, cpu ${e.values[bad]}`);
  });
}
