// Shared by the distributed tests: whether mpirun and an MPI-enabled addon are here, and running
// test/distributed-worker.ts under mpirun (or alone) with its results read back.
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
  if (which.error !== undefined || which.status !== 0) return 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';
  const support = mpiSupport();
  if (!support.built) return `no MPI support: ${support.reason ?? 'unknown'} (rebuild the addon with libopenmpi-dev installed)`;
  return undefined;
}

/** One thread per process (2 cores), and mpirun allowed as root (containers). */
export function workerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, OMP_NUM_THREADS: '1', OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', ...extra };
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
export function runJob(job: Omit<WorkerJob, 'distributed'>, ranks: number, env: Record<string, string> = {}): JobOutcome {
  fs.mkdirSync(job.out, { recursive: true });
  const full: WorkerJob = { ...job, distributed: ranks > 0 };
  const worker = [process.execPath, WORKER, JSON.stringify(full)];
  const [command, ...args] = ranks > 0 ? ['mpirun', '--oversubscribe', '-np', String(ranks), ...worker] : worker;
  const start = Date.now();
  const run = spawnSync(command, args, { encoding: 'utf8', env: workerEnv(env), timeout: 180_000 });
  const endedAt = Date.now();
  const results = fs.readdirSync(job.out).filter((f) => /^rank-\d+\.json$/.test(f)).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(job.out, f), 'utf8')) as WorkerResult);
  return { status: run.status, stderr: `${run.stderr ?? ''}${run.error?.message ?? ''}`, elapsedMs: endedAt - start, endedAt, results };
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
