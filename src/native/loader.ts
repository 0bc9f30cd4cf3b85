// Finds and loads the native addon (build/Release/unicode_cmg.node), sharp-style: every place
// tried and why it failed is kept, so that one message can tell the user what to do. Loading
// never throws; without the addon the library runs on tfjs. This is the one module that reaches
// the addon: everything else asks nativeBinding() or requireNativeBinding().
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { NATIVE_EXPORTS, type NativeBinding } from './binding.js';

export interface NativeLoadResult {
  /** The loaded addon, or null when none could be loaded (see failures). */
  binding: NativeBinding | null;
  /** The file the addon was loaded from. */
  path?: string;
  /** One line per candidate that failed: "<path>: <reason>" (or why loading was skipped). */
  failures: string[];
}

// This file is dist/src/native/loader.js once compiled: the package root is three levels up.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const disabledReason = 'native addon disabled by UCMG_NATIVE=0';

let cached: NativeLoadResult | undefined;

/** The files tried, in order: $UCMG_NATIVE_PATH, then the Release and Debug builds. */
export function nativeCandidates(): string[] {
  const candidates = [
    path.join(packageRoot, 'build', 'Release', 'unicode_cmg.node'),
    path.join(packageRoot, 'build', 'Debug', 'unicode_cmg.node'),
  ];
  const fromEnv = process.env.UCMG_NATIVE_PATH;
  return fromEnv ? [path.resolve(fromEnv), ...candidates] : candidates;
}

/**
 * Loads the addon once per process and caches the outcome. UCMG_NATIVE=0 disables it.
 */
export function loadNative(): NativeLoadResult {
  cached ??= tryLoad();
  return cached;
}

/** The loaded addon, or null when none could be loaded (loadNative().failures says why). */
export function nativeBinding(): NativeBinding | null {
  return loadNative().binding;
}

/**
 * The loaded addon, for code that runs only once a native backend was resolved; throws the
 * loader's message, prefixed with `op`, if there is none after all.
 */
export function requireNativeBinding(op: string): NativeBinding {
  const result = loadNative();
  if (result.binding === null) throw new Error(`${op}: ${nativeUnavailableMessage(result)}`);
  return result.binding;
}

function tryLoad(): NativeLoadResult {
  if (process.env.UCMG_NATIVE === '0') {
    return { binding: null, failures: [disabledReason] };
  }
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const candidate of nativeCandidates()) {
    if (!existsSync(candidate)) {
      failures.push(`${candidate}: not found`);
      continue;
    }
    try {
      const loaded = require(candidate) as Partial<NativeBinding>;
      const missing = NATIVE_EXPORTS.filter((name) => typeof loaded[name] !== 'function');
      if (missing.length > 0) {
        failures.push(`${candidate}: does not export ${missing.join(', ')} (stale build?)`);
        continue;
      }
      return { binding: loaded as NativeBinding, path: candidate, failures };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures.push(`${candidate}: ${reason.split('\n')[0]}`);
    }
  }
  return { binding: null, failures };
}

/** One actionable message saying why the addon is unavailable and how to get it. */
export function nativeUnavailableMessage(result: NativeLoadResult): string {
  if (result.failures.includes(disabledReason)) {
    return (
      'unicode-cmg: the native addon is disabled by UCMG_NATIVE=0, so only the tfjs device is ' +
      'available. Unset UCMG_NATIVE to use the cpu/cuda devices.'
    );
  }
  const tried = result.failures.map((line) => `  - ${line}`).join('\n');
  return [
    'unicode-cmg: the native addon could not be loaded, so only the tfjs device is available.',
    'Tried:',
    tried,
    'Build it with `npm run build:native` (needs cmake and a C++ compiler; UCMG_CUDA=ON|OFF|AUTO ' +
      'selects the CUDA kernels), or point UCMG_NATIVE_PATH at a built unicode_cmg.node.',
  ].join('\n');
}
