// Finds and loads the native addon, sharp-style: the prebuilt package for this platform (the CUDA
// one first where an NVIDIA driver is loaded), then a local build/Release; every place
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

/** The prebuilt addons, optionalDependencies of unicode-cmg (published for linux-x64 glibc only). */
export const PREBUILT_PACKAGES = {
  cuda: `unicode-cmg-${process.platform}-${process.arch}-cuda`,
  cpu: `unicode-cmg-${process.platform}-${process.arch}`,
} as const;

/** A place to load the addon from: a file, or why there is none to try. */
export interface NativeCandidate {
  /** The package name or the file path, as failures name it. */
  label: string;
  file?: string;
  skipped?: string;
  /** Tried only for its GPU kernels: passed over when CUDA is unusable at run time. */
  forCuda?: boolean;
}

let cached: NativeLoadResult | undefined;

/**
 * The places tried, in order: $UCMG_NATIVE_PATH, the CUDA package (only with an NVIDIA driver
 * loaded), the CPU package, then the local Release and Debug builds (`unicode-cmg build-native`).
 */
export function nativeCandidates(): NativeCandidate[] {
  const localFile = (file: string): NativeCandidate => ({ label: file, file });
  const fromEnv = process.env.UCMG_NATIVE_PATH;
  return [
    ...(fromEnv ? [localFile(path.resolve(fromEnv))] : []),
    prebuiltPackage(PREBUILT_PACKAGES.cuda, nvidiaDriverMissing()),
    prebuiltPackage(PREBUILT_PACKAGES.cpu),
    localFile(path.join(packageRoot, 'build', 'Release', 'unicode_cmg.node')),
    localFile(path.join(packageRoot, 'build', 'Debug', 'unicode_cmg.node')),
  ];
}

function prebuiltPackage(name: string, skipReason?: string): NativeCandidate {
  let file: string;
  try {
    file = createRequire(import.meta.url).resolve(`${name}/unicode_cmg.node`);
  } catch {
    return { label: name, skipped: 'not installed' };
  }
  if (skipReason) return { label: name, skipped: skipReason };
  return { label: `${name} (${file})`, file, forCuda: name === PREBUILT_PACKAGES.cuda };
}

// Without the kernel driver the CUDA build would only run its CPU kernels: no reason to prefer it.
function nvidiaDriverMissing(): string | undefined {
  if (existsSync('/proc/driver/nvidia/version')) return undefined;
  return 'skipped: no NVIDIA driver loaded (/proc/driver/nvidia/version is missing)';
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
  for (const { label, file, skipped, forCuda } of nativeCandidates()) {
    if (file === undefined) {
      failures.push(`${label}: ${skipped}`);
      continue;
    }
    if (!existsSync(file)) {
      failures.push(`${label}: not found`);
      continue;
    }
    try {
      const loaded = require(file) as Partial<NativeBinding>;
      const missing = NATIVE_EXPORTS.filter((name) => typeof loaded[name] !== 'function');
      if (missing.length > 0) {
        failures.push(`${label}: does not export ${missing.join(', ')} (stale build?)`);
        continue;
      }
      if (forCuda) {
        const cuda = (loaded as NativeBinding).cudaInfo();
        if (!cuda.usable) {
          failures.push(`${label}: CUDA unusable here (${cuda.reason ?? 'no reason given'})`);
          continue;
        }
      }
      return { binding: loaded as NativeBinding, path: file, failures };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures.push(`${label}: ${reason.split('\n')[0]}`);
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
    `Fix: ${nativeFix(result)}, or point UCMG_NATIVE_PATH at a built unicode_cmg.node.`,
  ].join('\n');
}

/** The one line printed on first use without the addon: that tfjs runs instead, and the fix. */
export function nativeFallbackNotice(result: NativeLoadResult): string {
  if (result.failures.includes(disabledReason)) {
    return `unicode-cmg: ${disabledReason}; running on tfjs only.`;
  }
  return (
    `unicode-cmg: no native addon, running on tfjs only (slower). Fix: ${nativeFix(result)} ` +
    "('unicode-cmg info' lists what was tried)."
  );
}

/**
 * The exact command that gets a working addon here: installing the prebuilt package where one is
 * published and missing, else building from source.
 */
export function nativeFix(result: NativeLoadResult): string {
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header
    ?.glibcVersionRuntime;
  const published = process.platform === 'linux' && process.arch === 'x64' && glibc !== undefined;
  if (published && result.failures.includes(`${PREBUILT_PACKAGES.cpu}: not installed`)) {
    return `npm install ${PREBUILT_PACKAGES.cpu}`;
  }
  return (
    'npx unicode-cmg build-native (needs cmake, a C++ compiler and libopenblas-dev; ' +
    'UCMG_CUDA=ON|OFF|AUTO selects the CUDA kernels)'
  );
}
