// `unicode-cmg info`: what was compiled in, what this machine offers, and which backends the ops
// and tfjs will use.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';

const options = {
  json: { kind: 'flag', description: 'print one JSON object instead of text' },
} as const satisfies OptionSpecs;

export type InfoOptions = ParsedOptions<typeof options>;

export const info = defineCommand({
  name: 'info',
  summary: 'Show the native build, CUDA/CPU runtime and the selected compute backends.',
  description:
    'The op backend follows UCMG_BACKEND (cuda|cpu|tfjs), the tfjs backend UCMG_TFJS_BACKEND (wasm|cpu) and the dense kernels UCMG_DENSE (native|tfjs) when set.',
  options,
  examples: ['info', 'info --json'],
  load: () => import('./infoRun.js'),
});
