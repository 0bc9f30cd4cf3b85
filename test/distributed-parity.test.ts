// Data parallelism over mpirun is the one-process computation at the same global batch: losses and
// metrics, weights and codebook agree on every rank (2 ranks, and 3 ranks with an uneven split),
// the ranks hold bit-identical state after every step, and a checkpoint written by 2 ranks resumes
// on 3. Skipped, with the reason, where mpirun or the addon's MPI support is missing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { WorkerResult } from './distributed-worker.js';
import { assertMatches, assertRanksIdentical, mpiSkipReason, runJob, tempDir } from './distributed-support.js';

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

test('2 ranks at global batch 16 match one process for 5 steps, on every rank', { skip }, () => {
  const run = runJob({ ...job, out: tempDir('two'), checksumEvery: 1 }, 2);
  assert.equal(run.status, 0, run.stderr);
  assertRanksIdentical(run.results, 2);
  run.results.forEach((r) => assertMatches(r, single, `rank ${r.rank} of 2`));
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
    const metrics = [...single.metrics.slice(0, 3), ...r.metrics];
    assertMatches({ ...r, metrics }, single, `rank ${r.rank} of 3 (resumed)`);
  }
});
