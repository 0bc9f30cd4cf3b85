// `unicode-cmg bench`: the benny benchmark suites of bench/ (what `npm run bench` runs). The suite
// runner reads suite names from its command line and runs on load, so it gets its own process.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, defineCommand } from '../args.js';

/** The compiled runner: dist/bench/index.js, next to dist/src/ where this module runs from. */
const RUNNER = fileURLToPath(new URL('../../../bench/index.js', import.meta.url));

export const bench = defineCommand({
  name: 'bench',
  summary: 'Run the benchmark suites (ops/s per backend and the ratios between them).',
  description: [
    'Runs every bench/<name>.bench.ts suite, or those named by --suites. Each suite measures every',
    'backend available here and prints ops/s and the ratios between backends of the same run.',
  ].join('\n'),
  options: {
    suites: { kind: 'string', valueName: 'names', description: 'comma-separated suite names, e.g. ops [default: all]' },
    'max-case-seconds': { kind: 'int', min: 1, valueName: 's', description: 'time budget per (case, backend); predicted-slower cases are skipped [default: 150]' },
  },
  examples: ['bench', 'bench --suites ops --max-case-seconds 30'],
  async run(options) {
    if (!fs.existsSync(RUNNER)) {
      throw new Error(`the benchmarks are not built (${RUNNER} is missing); run 'npm run build' first`);
    }
    const suites = (options.suites ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
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
  },
});
