// The body of `unicode-cmg bench`: runs the compiled suite runner in a child process.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../args.js';
import type { BenchOptions } from './bench.js';

/** The compiled runner: dist/bench/index.js, next to dist/src/ where this module runs from. */
const RUNNER = fileURLToPath(new URL('../../../bench/index.js', import.meta.url));

export async function run(options: BenchOptions): Promise<void> {
  if (!fs.existsSync(RUNNER)) {
    // The npm package ships neither bench/ nor benny: the suites run from a source checkout.
    const sourceCheckout = fs.existsSync(fileURLToPath(new URL('../../../../bench/index.ts', import.meta.url)));
    throw new Error(
      sourceCheckout
        ? `the benchmarks are not built (${RUNNER} is missing); run 'npm run build' first`
        : "the benchmarks run from a source checkout only (the npm package leaves them out): clone the repository, then 'npm ci && npm run bench'",
    );
  }
  const suites = (options.suites ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const env = { ...process.env };
  if (options['max-case-seconds'] !== undefined) env.UCMG_BENCH_MAX_CASE_S = String(options['max-case-seconds']);
  const status = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, ...suites], { stdio: 'inherit', env });
    // A signal meant for this process must not leave the runner behind.
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward).on('SIGTERM', forward);
    const settle = (): void => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
    };
    child.on('error', (err) => {
      settle();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      settle();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
  // The runner explains an unknown suite name itself (status 2).
  if (status === 2) throw new UsageError('--suites: see the message above', 'bench');
  if (status !== 0) throw new Error(`the benchmark runner exited with status ${status}`);
}
