// Options shared by several sub-commands and the names they take, declared once. Only option specs
// live here: the command specs import this module at start-up, so it must stay free of heavy imports.

import type { OptionSpec } from './args.js';

/** The --data value that selects the embedded synthetic generator. */
export const SYNTHETIC = 'synthetic';
/** What pretrain --without can switch off. */
export const ABLATIONS = ['club', 'cpc', 'mm-ema', 'cmcm', 'reset'] as const;
export type Ablation = (typeof ABLATIONS)[number];
export const MODALITY_CHOICES = ['audio', 'video', 'text'] as const;

export const computeOptions = {
  backend: {
    kind: 'choice',
    choices: ['cuda', 'cpu', 'tfjs'],
    description:
      'backend of the hot ops (quantize, MM-EMA, code matching, InfoNCE) [default: UCMG_BACKEND, else the fastest usable]',
  },
  tfjs: {
    kind: 'choice',
    choices: ['wasm', 'cpu', 'cuda'],
    description:
      "TensorFlow.js backend of the dense layers ('cuda': the addon's device-resident GPU backend) " +
      '[default: UCMG_TFJS_BACKEND, else wasm]',
  },
  dense: {
    kind: 'choice',
    choices: ['native', 'tfjs'],
    description:
      "kernels of the matrix products and convolutions: the addon's OpenBLAS ones, or tfjs's own [default: UCMG_DENSE, else native where the addon has OpenBLAS]",
  },
} as const satisfies Record<string, OptionSpec>;

export function outputOptions(what: string) {
  return {
    out: {
      kind: 'string',
      short: 'o',
      valueName: 'dir',
      description: `directory for ${what} [default: runs/<command>-<date>-<time>]`,
    },
    force: { kind: 'flag', description: 'write into an existing --out directory, replacing files of the same name' },
  } as const satisfies Record<string, OptionSpec>;
}

export const seedOption = {
  seed: { kind: 'int', default: 0, min: 0, description: 'seed of every random choice (weights, batches, code resets)' },
} as const satisfies Record<string, OptionSpec>;
