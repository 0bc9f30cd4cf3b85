// Shared helpers of the ops tests: seeded random inputs, tolerance checks, backend discovery.
import assert from 'node:assert/strict';
import { cudaUnusableReason, nativeBinding } from '../src/backend.js';
import { loadNative } from '../src/native/loader.js';
import type { CodebookState } from '../src/ops/index.js';
import { Rng } from '../src/util/rng.js';

/** Fresh inputs every run; UCMG_TEST_SEED replays a failing one (the seed is in every message). */
export const TEST_SEED =
  process.env.UCMG_TEST_SEED !== undefined ? Number(process.env.UCMG_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);

export function rng(salt: number): Rng {
  return new Rng(TEST_SEED * 1000 + salt);
}

export function normals(r: Rng, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = r.normal() * scale;
  return out;
}

/** Why the native addon is missing, or undefined when it loaded. */
export function nativeMissingReason(): string | undefined {
  return nativeBinding() === null ? loadNative().failures.join('; ') : undefined;
}

/** The native devices to compare with tfjs, each with the reason it must be skipped, if any. */
export function nativeDevices(): { device: 'cpu' | 'cuda'; skip?: string }[] {
  const missing = nativeMissingReason();
  if (missing !== undefined) {
    return [
      { device: 'cpu', skip: `native addon unavailable: ${missing}` },
      { device: 'cuda', skip: `no usable CUDA: ${missing}` },
    ];
  }
  const cuda = cudaUnusableReason(); // the addon loaded, so this is CUDA's own one-line reason
  return [{ device: 'cpu' }, { device: 'cuda', ...(cuda === undefined ? {} : { skip: `no usable CUDA: ${cuda}` }) }];
}

/**
 * |actual - expected| <= rtol * max(|expected|, floor) elementwise, where floor = max|expected| *
 * floorFraction keeps near-zero entries of a tensor from demanding more than the tensor's scale.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what: string,
  floorFraction = 1e-3,
): void {
  assert.equal(actual.length, expected.length, `${what}: length (seed ${TEST_SEED})`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = scale * floorFraction;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor, Number.MIN_VALUE);
    if (!(error <= worst)) {
      worst = error;
      worstAt = i;
    }
  }
  assert.ok(
    worst <= rtol,
    `${what}: relative error ${worst.toExponential(2)} > ${rtol} at [${worstAt}] (got ${actual[worstAt]}, want ${expected[worstAt]}; seed ${TEST_SEED})`,
  );
}

export function assertBitwiseEqual(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length (seed ${TEST_SEED})`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]))
      assert.fail(`${what}[${i}]: got ${actual[i]}, want ${expected[i]} (seed ${TEST_SEED})`);
  }
}

/**
 * A state as training produces it: counts and weights consistent, unused counters spread so that
 * some codes are dead (> 300), some active (< 100), some in between and some fresh (-1).
 */
export function randomState(r: Rng, m: number, d: number): CodebookState {
  const embedding = normals(r, m * d, 0.5);
  const emaCount = new Float32Array(m);
  const emaWeight = new Float32Array(m * d);
  const unusedCount = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    emaCount[j] = 0.01 + r.next() * 2;
    for (let t = 0; t < d; t++) emaWeight[j * d + t] = embedding[j * d + t] * emaCount[j];
    unusedCount[j] = [-1, r.int(100), 100 + r.int(201), 301 + r.int(50)][r.int(4)];
  }
  return { embedding, emaCount, emaWeight, unusedCount, m, d };
}

export function copyState(s: CodebookState): CodebookState {
  return {
    embedding: s.embedding.slice(),
    emaCount: s.emaCount.slice(),
    emaWeight: s.emaWeight.slice(),
    unusedCount: s.unusedCount.slice(),
    m: s.m,
    d: s.d,
  };
}
