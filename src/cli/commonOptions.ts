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
  dense: {
    kind: 'choice',
    choices: ['native', 'tfjs'],
    description: "kernels of the matrix products and convolutions: the addon's OpenBLAS ones, or tfjs's own [default: UCMG_DENSE, else native where the addon has OpenBLAS]",
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

/**
 * The tfjs backend when neither --tfjs nor UCMG_TFJS_BACKEND names one: wasm, except for the paper
 * model, whose training step does not fit tfjs wasm's 4 GiB heap (wasm aborts); it trains on tfjs
 * cpu, where the native dense kernels do the heavy work.
 */
function defaultTfjsFor(configName: string | undefined, command: string): TfjsKind | undefined {
  const fromEnv = process.env.UCMG_TFJS_BACKEND;
  if ((fromEnv !== undefined && fromEnv !== '') || configName === undefined || !configName.startsWith('paper')) return undefined;
  process.stderr.write(`${command}: the ${configName} model does not fit tfjs wasm's 4 GiB heap; using tfjs cpu (--tfjs overrides)\n`);
  return 'cpu';
}

export interface ComputeSetup {
  backend: OpBackend;
  tfjsBackend: TfjsKind;
  /** 'native' while the OpenBLAS dense kernels are registered into tfjs. */
  dense: 'native' | 'tfjs';
}

const DENSE_CHOICES = ['native', 'tfjs'] as const;

/**
 * Registers the native dense kernels unless asked not to. An explicit 'native' (option or
 * UCMG_DENSE) that cannot be honoured is an error; the default falls back to tfjs with a notice.
 */
export async function setupDense(requested: string | undefined, command: string): Promise<'native' | 'tfjs'> {
  const { enableNativeDense, disableNativeDense } = await import('../dense/index.js');
  const fromEnv = process.env.UCMG_DENSE;
  const explicit = requested ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
  if (explicit !== undefined && !(DENSE_CHOICES as readonly string[]).includes(explicit)) {
    throw new UsageError(`UCMG_DENSE must be 'native' or 'tfjs', got ${JSON.stringify(explicit)}`, command);
  }
  if (explicit === 'tfjs') {
    disableNativeDense();
    return 'tfjs';
  }
  const result = enableNativeDense();
  if (result.enabled) return 'native';
  if (explicit === 'native') throw new UsageError(`native dense kernels requested but unavailable: ${result.reason}`, command);
  process.stderr.write(`${command}: dense layers on tfjs's own kernels (${result.reason})\n`);
  return 'tfjs';
}

/**
 * Initialises tfjs and resolves the op backend now, so that an unusable choice fails before any
 * work starts. Heavy modules are imported here rather than at start-up to keep --help instant.
 */
export async function setupCompute(
  options: { backend?: string; tfjs?: string; dense?: string },
  command: string,
  model?: { configName: string },
): Promise<ComputeSetup> {
  const { initTfjs } = await import('../tfjs.js');
  const { resolveBackend } = await import('../backend.js');
  let tfjsBackend: TfjsKind;
  let backend: OpBackend;
  try {
    tfjsBackend = await initTfjs((options.tfjs ?? defaultTfjsFor(model?.configName, command)) as TfjsKind | undefined);
  } catch (err) {
    throw new UsageError((err as Error).message, command); // names --tfjs's value or UCMG_TFJS_BACKEND
  }
  try {
    backend = resolveBackend(options.backend as OpBackend | undefined);
  } catch (err) {
    throw new UsageError((err as Error).message, command); // names the backend and why it is unusable
  }
  const dense = await setupDense(options.dense, command);
  return { backend, tfjsBackend, dense };
}
