// Under mpirun a dead-code reset keeps every rank's codebook identical; a rank killed with SIGKILL
// or failing with an error ends the whole job within seconds, naming the rank, and the last
// checkpoint resumes to the one-process result. Skipped, with the reason, without mpirun or MPI.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerResult } from './distributed-worker.js';
import { assertMatches, assertRanksIdentical, mpiSkipReason, runJob, tempDir } from './distributed-support.js';

const skip = mpiSkipReason();
// A dead-code threshold of one step: codes unused for two steps are revived, from the first steps on.
const job = { batches: 5, batchSize: 16, epochs: 1, overrides: { deadAfter: 1, activeBelow: 1 } };
let single: WorkerResult;

before(() => {
  if (skip !== undefined) return;
  const run = runJob({ ...job, out: tempDir('faults-single') }, 0);
  assert.equal(run.status, 0, run.stderr);
  single = run.results[0];
});

test('a dead-code reset under 2 ranks revives the same codes on both and matches one process', { skip }, () => {
  const run = runJob({ ...job, out: tempDir('reset'), checksumEvery: 1 }, 2);
  assert.equal(run.status, 0, run.stderr);
  assertRanksIdentical(run.results, 2);
  for (const r of run.results) {
    const resets = r.metrics.map((m) => m.resetCodes as number);
    assert.ok(
      resets.some((n) => n > 0),
      `rank ${r.rank}: no reset fired (${resets.join(', ')})`,
    );
    assertMatches(r, single, `rank ${r.rank} of 2`);
  }
});

test('kill -9 of one rank ends the job within 10 s naming it; the checkpoint resumes to the one-process result', {
  skip,
}, () => {
  const dir = tempDir('kill');
  const checkpoint = path.join(dir, 'ckpt.ucmg');
  const out = path.join(dir, 'killed');
  const killed = runJob({ ...job, out, checkpoint, checkpointEvery: 1, killRank: 1, killAtBatch: 3 }, 2);
  assert.notEqual(killed.status, 0, 'the job must fail');
  const killedAt = Number(fs.readFileSync(path.join(out, 'killed-at'), 'utf8'));
  assert.ok(killed.endedAt - killedAt < 10_000, `the job ended ${killed.endedAt - killedAt} ms after the kill`);
  assert.match(killed.stderr, /rank 1 .*(signal 9|Killed)/s);
  assert.equal(killed.results.length, 0, 'no rank finished');

  const resumedJob = {
    ...job,
    out: path.join(dir, 'resumed'),
    checkpoint,
    checkpointEvery: 1,
    resume: true,
    checksumEvery: 1,
  };
  const resumed = runJob(resumedJob, 2);
  assert.equal(resumed.status, 0, resumed.stderr);
  assertRanksIdentical(resumed.results, 2);
  for (const r of resumed.results) {
    assert.equal(r.steps, 5);
    const done = 5 - r.metrics.length;
    assert.ok(done >= 2, `resumed from step ${done}: the checkpoint of step 2 or 3 was expected`);
    const metrics = [...single.metrics.slice(0, done), ...r.metrics];
    assertMatches({ ...r, metrics }, single, `rank ${r.rank} (resumed)`);
  }
});

test('an error on one rank ends the whole job at once, naming the rank', { skip }, () => {
  const run = runJob({ ...job, out: tempDir('throw'), throwRank: 1, throwAtBatch: 1 }, 2);
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /rank 1 of 2 failed, ending the job: worker: planned failure at batch 1/);
  assert.equal(run.results.length, 0, 'no rank finished');
});
