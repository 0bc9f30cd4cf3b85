// What the compute options (--backend, --tfjs, --dense) set up: tfjs, the op backend and the native
// dense kernels. Command bodies call this; the option specs themselves are in commonOptions.ts.

import { UsageError } from './args.js';
import { type OpBackend, resolveBackend } from '../backend.js';
import { disableNativeDense, enableNativeDense } from '../dense/index.js';
import { type TfjsKind, initTfjs } from '../tfjs.js';

/**
 * The tfjs backend when neither --tfjs nor UCMG_TFJS_BACKEND names one: wasm, except for the paper
 * model, whose training step does not fit tfjs wasm's 4 GiB heap (wasm aborts); it trains on tfjs
 * cpu, where the native dense kernels do the heavy work.
 */
function defaultTfjsFor(configName: string | undefined, command: string): TfjsKind | undefined {
  const fromEnv = process.env.UCMG_TFJS_BACKEND;
  if ((fromEnv !== undefined && fromEnv !== '') || configName === undefined || !configName.startsWith('paper'))
    return undefined;
  process.stderr.write(
    `${command}: the ${configName} model does not fit tfjs wasm's 4 GiB heap; using tfjs cpu (--tfjs overrides)\n`,
  );
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
  if (explicit === 'native')
    throw new UsageError(`native dense kernels requested but unavailable: ${result.reason}`, command);
  process.stderr.write(`${command}: dense layers on tfjs's own kernels (${result.reason})\n`);
  return 'tfjs';
}

/** Initialises tfjs and resolves the op backend now, so that an unusable choice fails before any work starts. */
export async function setupCompute(
  options: { backend?: string; tfjs?: string; dense?: string },
  command: string,
  model?: { configName: string },
): Promise<ComputeSetup> {
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
