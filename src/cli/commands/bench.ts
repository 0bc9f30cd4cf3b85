// `unicode-cmg bench`: the benny benchmark suites of bench/ (what `npm run bench` runs). The suite
// runner reads suite names from its command line and runs on load, so it gets its own process.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';

const options = {
  suites: { kind: 'string', valueName: 'names', description: 'comma-separated suite names, e.g. ops [default: all]' },
  'max-case-seconds': {
    kind: 'int',
    min: 1,
    valueName: 's',
    description: 'time budget per (case, backend); predicted-slower cases are skipped [default: 150]',
  },
} as const satisfies OptionSpecs;

export type BenchOptions = ParsedOptions<typeof options>;

export const bench = defineCommand({
  name: 'bench',
  summary: 'Run the benchmark suites (ops/s per backend and the ratios between them).',
  description: [
    'Runs every bench/<name>.bench.ts suite, or those named by --suites. Each suite measures every',
    'backend available here and prints ops/s and the ratios between backends of the same run.',
  ].join('\n'),
  options,
  examples: ['bench', 'bench --suites ops --max-case-seconds 30'],
  load: () => import('./benchRun.js'),
});
