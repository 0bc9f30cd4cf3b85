// Options shared by several sub-commands, declared once, and what they set up.

import type { OptionSpec } from './args.js';
import { UsageError } from './args.js';
import type { OpBackend } from '../backend.js';
import type { TfjsKind } from '../tfjs.js';

export const computeOptions = {
  backend: {
    kind: 'choice',
    choices: ['cuda', 'cpu', 'tfjs'],
    description: 'backend of the hot ops (quantize, MM-EMA, code matching, InfoNCE) [default: UCMG_BACKEND, else the fastest usable]',
  },
  tfjs: {
    kind: 'choice',
    choices: ['wasm', 'cpu'],
    description: 'TensorFlow.js backend of the dense layers [default: UCMG_TFJS_BACKEND, else wasm]',
  },
} as const satisfies Record<string, OptionSpec>;

export function outputOptions(what: string) {
  return {
    out: { kind: 'string', short: 'o', valueName: 'dir', description: `directory for ${what} [default: runs/<command>-<date>-<time>]` },
    force: { kind: 'flag', description: 'write into an existing --out directory, replacing files of the same name' },
  } as const satisfies Record<string, OptionSpec>;
}

export const seedOption = {
  seed: { kind: 'int', default: 0, min: 0, description: 'seed of every random choice (weights, batches, code resets)' },
} as const satisfies Record<string, OptionSpec>;

export interface ComputeSetup {
  backend: OpBackend;
  tfjsBackend: TfjsKind;
}

/**
 * Initialises tfjs and resolves the op backend now, so that an unusable choice fails before any
 * work starts. Heavy modules are imported here rather than at start-up to keep --help instant.
 */
export async function setupCompute(options: { backend?: string; tfjs?: string }, command: string): Promise<ComputeSetup> {
  const { initTfjs } = await import('../tfjs.js');
  const { resolveBackend } = await import('../backend.js');
  let tfjsBackend: TfjsKind;
  let backend: OpBackend;
  try {
    tfjsBackend = await initTfjs(options.tfjs as TfjsKind | undefined);
  } catch (err) {
    throw new UsageError((err as Error).message, command); // names --tfjs's value or UCMG_TFJS_BACKEND
  }
  try {
    backend = resolveBackend(options.backend as OpBackend | undefined);
  } catch (err) {
    throw new UsageError((err as Error).message, command); // names the backend and why it is unusable
  }
  return { backend, tfjsBackend };
}
