// Data parallelism over mpirun is the one-process computation at the same global batch: losses and
// metrics, weights and codebook agree on every rank (2 ranks, and 3 ranks with an uneven split),
// the ranks hold bit-identical state after every step, and a checkpoint written by 2 ranks resumes
// on 3. Skipped, with the reason, where mpirun or the addon's MPI support is missing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { WorkerResult } from './distributed-worker.js';
import { maxAbsDiff, mpiSkipReason, numbersOf, runJob, tempDir } from './distributed-support.js';

const skip = mpiSkipReason();
const STEPS = 5;
const job = { batches: STEPS, batchSize: 16, epochs: 1 };
let single: WorkerResult;

before(() => {
  if (skip !== undefined) return;
  const run = runJob({ ...job, out: tempDir('single') }, 0);
  assert.equal(run.status, 0, run.stderr);
  single = run.results[0];
});

// The attention key bias shifts every score of a softmax row by the same amount and the Cross-CPC
// predictor bias shifts every score of an InfoNCE row likewise: no loss depends on them, their
// gradient is 0 up to rounding, and Adam (which divides a gradient by its own size) turns that
// rounding into steps of ±lr in any two implementations. They are held to Adam's bound instead.
function lossInvariant(name: string, index: number, dim: number): boolean {
  return /^cpc\.\w+_predictors\.0\.bias$/.test(name) || (name.endsWith('self_attn.in_proj_bias') && index >= dim && index < 2 * dim);
}

function assertMatchesSingle(result: WorkerResult, label: string): void {
  assert.equal(result.metrics.length, single.metrics.length, `${label}: steps`);
  result.metrics.forEach((m, step) => {
    const expected = numbersOf(single.metrics[step]);
    for (const [key, value] of numbersOf(m)) {
      const want = expected.get(key)!;
      // Relative for values of size >= 1, absolute below (the MI terms are ~1e-6).
      assert.ok(Math.abs(value - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${label}: step ${step + 1} ${key} = ${value}, one process ${want}`);
    }
  });
  const dim = 16;
  const adamBound = STEPS * 4e-4 * 2;
  for (const [name, values] of Object.entries(single.weights)) {
    const got = result.weights[name];
    values.forEach((want, i) => {
      const tolerance = lossInvariant(name, i, dim) ? adamBound : 1e-5;
      assert.ok(Math.abs(got[i] - want) <= tolerance, `${label}: ${name}[${i}] = ${got[i]}, one process ${want}`);
    });
  }
  for (const key of ['embedding', 'emaCount', 'emaWeight', 'unusedCount'] as const) {
    const diff = maxAbsDiff(result.codebook[key], single.codebook[key]);
    assert.ok(diff <= 1e-5, `${label}: codebook ${key} differs by ${diff}`);
  }
}

function assertRanksIdentical(results: WorkerResult[], size: number): void {
  assert.equal(results.length, size, 'every rank wrote its result');
  for (const r of results.slice(1)) {
    assert.deepEqual(r.checksums, results[0].checksums, `rank ${r.rank}: the state checksum after every step equals rank 0's`);
    assert.deepEqual(r.weights, results[0].weights, `rank ${r.rank}: weights`);
    assert.deepEqual(r.codebook, results[0].codebook, `rank ${r.rank}: codebook`);
  }
}

test('2 ranks at global batch 16 match one process for 5 steps, on every rank', { skip }, () => {
  const run = runJob({ ...job, out: tempDir('two'), checksumEvery: 1 }, 2);
  assert.equal(run.status, 0, run.stderr);
  assertRanksIdentical(run.results, 2);
  run.results.forEach((r) => assertMatchesSingle(r, `rank ${r.rank} of 2`));
});

test('a checkpoint of 2 ranks resumes on 3 ranks (16 = 6 + 5 + 5) and still matches one process', { skip }, () => {
  const dir = tempDir('resize');
  const checkpoint = path.join(dir, 'ckpt.ucmg');
  const first = runJob({ ...job, out: path.join(dir, 'first'), maxSteps: 3, checkpoint }, 2);
  assert.equal(first.status, 0, first.stderr);
  const resumed = runJob({ ...job, out: path.join(dir, 'resumed'), checkpoint, resume: true, checksumEvery: 1 }, 3);
  assert.equal(resumed.status, 0, resumed.stderr);
  assertRanksIdentical(resumed.results, 3);
  for (const r of resumed.results) {
    assert.equal(r.steps, STEPS);
    // The resumed run records steps 4 and 5; compare them and the end state with one process.
    assertMatchesSingle({ ...r, metrics: [...single.metrics.slice(0, 3), ...r.metrics] }, `rank ${r.rank} of 3 (resumed)`);
  }
});
