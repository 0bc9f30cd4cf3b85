// Shared by the distributed tests: whether mpirun and an MPI-enabled addon are here, and running
// test/distributed-worker.ts under mpirun (or alone) with its results read back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiSupport } from '../src/distributed/index.js';
import type { WorkerJob, WorkerResult } from './distributed-worker.js';

export const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'distributed-worker.js');

/** Why the mpirun tests cannot run here, or undefined when they can. */
export function mpiSkipReason(): string | undefined {
  const which = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (which.error !== undefined || which.status !== 0) {
    return 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';
  }
  const support = mpiSupport();
  if (!support.built) {
    return `no MPI support: ${support.reason ?? 'unknown'} (rebuild the addon with libopenmpi-dev installed)`;
  }
  return undefined;
}

/** One thread per process (2 cores), and mpirun allowed as root (containers). */
export function workerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMP_NUM_THREADS: '1',
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    ...extra,
  };
}

export interface JobOutcome {
  status: number | null;
  stderr: string;
  /** Wall-clock ms from start to exit. */
  elapsedMs: number;
  /** Epoch ms when the job ended. */
  endedAt: number;
  /** One per rank that finished, in rank order. */
  results: WorkerResult[];
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ucmg-${label}-`));
}

/** Runs the worker on `ranks` MPI ranks (0: one plain process, no MPI) and reads back its results. */
export function runJob(
  job: Omit<WorkerJob, 'distributed'>,
  ranks: number,
  env: Record<string, string> = {},
): JobOutcome {
  fs.mkdirSync(job.out, { recursive: true });
  const full: WorkerJob = { ...job, distributed: ranks > 0 };
  const worker = [process.execPath, WORKER, JSON.stringify(full)];
  const [command, ...args] = ranks > 0 ? ['mpirun', '--oversubscribe', '-np', String(ranks), ...worker] : worker;
  const start = Date.now();
  const run = spawnSync(command, args, { encoding: 'utf8', env: workerEnv(env), timeout: 180_000 });
  const endedAt = Date.now();
  const results = fs
    .readdirSync(job.out)
    .filter((f) => /^rank-\d+\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(job.out, f), 'utf8')) as WorkerResult);
  const stderr = `${run.stderr ?? ''}${run.error?.message ?? ''}`;
  return { status: run.status, stderr, elapsedMs: endedAt - start, endedAt, results };
}

/** Largest |a - b| over two equally long lists. */
export function maxAbsDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Every number in two metrics records, by path (wall-clock times left out). */
export function numbersOf(value: unknown, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof value === 'number') out.set(prefix, value);
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'timeMs') continue;
      for (const [p, v] of numbersOf(inner, prefix === '' ? key : `${prefix}.${key}`)) out.set(p, v);
    }
  }
  return out;
}

// The attention key bias shifts every score of a softmax row by the same amount and the Cross-CPC
// predictor bias shifts every score of an InfoNCE row likewise: no loss depends on them, their
// gradient is 0 up to rounding, and Adam (which divides a gradient by its own size) turns that
// rounding into steps of ±lr in any two implementations. They are held to Adam's bound instead.
function lossInvariant(name: string, index: number, length: number): boolean {
  // in_proj_bias is [q; k; v], each of length/3.
  if (/^cpc\.\w+_predictors\.0\.bias$/.test(name)) return true;
  return name.endsWith('self_attn.in_proj_bias') && index >= length / 3 && index < (2 * length) / 3;
}

/**
 * Weights (by name) within `tolerance` of `want` after `steps` Adam steps of lr 4e-4; the
 * loss-invariant parameters within Adam's bound.
 */
export function assertWeightsMatch(
  got: Record<string, ArrayLike<number>>,
  want: Record<string, ArrayLike<number>>,
  steps: number,
  label: string,
  tolerance: number,
): void {
  const adamBound = steps * 4e-4 * 2;
  for (const [name, values] of Object.entries(want)) {
    for (let i = 0; i < values.length; i++) {
      const bound = lossInvariant(name, i, values.length) ? adamBound : tolerance;
      const message = `${label}: ${name}[${i}] = ${got[name][i]}, one process ${values[i]}`;
      assert.ok(Math.abs(got[name][i] - values[i]) <= bound, message);
    }
  }
}

/** Metrics, weights and codebook of `result` agree with the one-process `single` (see lossInvariant). */
export function assertMatches(result: WorkerResult, single: WorkerResult, label: string): void {
  assert.equal(result.metrics.length, single.metrics.length, `${label}: steps`);
  result.metrics.forEach((m, step) => {
    const expected = numbersOf(single.metrics[step]);
    for (const [key, value] of numbersOf(m)) {
      const want = expected.get(key)!;
      // Relative for values of size >= 1, absolute below (the MI terms are ~1e-6).
      const message = `${label}: step ${step + 1} ${key} = ${value}, one process ${want}`;
      assert.ok(Math.abs(value - want) <= 1e-5 * Math.max(1, Math.abs(want)), message);
    }
  });
  assertWeightsMatch(result.weights, single.weights, single.metrics.length, label, 1e-5);
  for (const key of ['embedding', 'emaCount', 'emaWeight', 'unusedCount'] as const) {
    const diff = maxAbsDiff(result.codebook[key], single.codebook[key]);
    assert.ok(diff <= 1e-5, `${label}: codebook ${key} differs by ${diff}`);
  }
}

/** Every rank wrote a result, with bit-identical state after every step. */
export function assertRanksIdentical(results: WorkerResult[], size: number): void {
  assert.equal(results.length, size, 'every rank wrote its result');
  for (const r of results.slice(1)) {
    assert.deepEqual(r.checksums, results[0].checksums, `rank ${r.rank}: the checksum of every step equals rank 0's`);
    assert.deepEqual(r.weights, results[0].weights, `rank ${r.rank}: weights`);
    assert.deepEqual(r.codebook, results[0].codebook, `rank ${r.rank}: codebook`);
  }
}
