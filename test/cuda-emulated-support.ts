// Where the tests that need the tfjs 'cuda' backend get an addon from: the default addon when it
// has usable CUDA (a GPU machine), else an emulated build of its own (native/cuda/emulation: the
// CUDA sources compiled for the CPU), rebuilt when a native source is newer. Either an addon path
// or the reason the tests must skip.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const EMULATED_OUT = 'build/emulated-h11';
const BUILD_SCRIPT = path.join(root, 'native/cuda/emulation/build.sh');

export type CudaAddon = { path: string; emulated: boolean } | { skip: string };

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Why `addon` does not load in a child process with usable CUDA, or undefined when it does. */
function cudaUnusable(addon: string): string | undefined {
  const probe = `const i = require(${JSON.stringify(addon)}).cudaInfo(); if (!i.usable) throw new Error(i.reason)`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (result.status === 0) return undefined;
  return (
    result.stderr
      .trim()
      .split('\n')
      .find((l) => /error/i.test(l)) ?? 'it does not load'
  );
}

/** Whether the library registers the tfjs 'cuda' backend at all (the module exists in dist/). */
export function cudaBackendMissing(): string | undefined {
  const compiled = path.join(root, 'dist/src/cudaBackend/index.js');
  return fs.existsSync(compiled) ? undefined : 'the tfjs cuda backend (src/cudaBackend) is not built into dist/ yet';
}

let cached: CudaAddon | undefined;

export function cudaAddon(): CudaAddon {
  cached ??= findCudaAddon();
  return cached;
}

function findCudaAddon(): CudaAddon {
  const release = path.join(root, 'build/Release/unicode_cmg.node');
  if (fs.existsSync(release) && cudaUnusable(release) === undefined) {
    return { path: release, emulated: false };
  }
  if (!fs.existsSync(BUILD_SCRIPT)) {
    return { skip: `no GPU, and no emulator build script (${BUILD_SCRIPT})` };
  }
  if (spawnSync('g++', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return { skip: 'no GPU, and no g++ for the emulated addon' };
  }
  const addon = path.join(root, EMULATED_OUT, 'unicode_cmg.node');
  const stale = !fs.existsSync(addon) || fs.statSync(addon).mtimeMs < newestSource(path.join(root, 'native'));
  if (stale) {
    const built = spawnSync('bash', [BUILD_SCRIPT], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, UCMG_EMULATED_OUT: EMULATED_OUT },
      maxBuffer: 64 << 20,
    });
    if (built.status !== 0) {
      const why = (built.stderr || built.error?.message || '').trim().split('\n').slice(-3).join(' | ');
      return { skip: `the emulated addon did not build: ${why}` };
    }
  }
  const unusable = cudaUnusable(addon);
  if (unusable !== undefined) return { skip: `the emulated addon ${addon} has no usable CUDA: ${unusable}` };
  return { path: addon, emulated: true };
}

/** The kernel names the tfjs 'cuda' backend registers when the library runs on `addon` (in a child process). */
export function cudaRegisteredKernels(addon: string): string[] {
  const tfjs = path.join(root, 'dist/src/tfjs.js');
  const script =
    `const { initTfjs, tf } = await import(${JSON.stringify(tfjs)});\n` +
    `await initTfjs('cuda');\nconsole.log(JSON.stringify(tf.getKernelsForBackend('cuda').map((k) => k.kernelName)));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, UCMG_NATIVE_PATH: addon },
  });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !last.startsWith('[')) {
    throw new Error(`initTfjs('cuda') on ${addon} failed: ${result.stderr.trim().split('\n').slice(-4).join(' | ')}`);
  }
  return JSON.parse(last) as string[];
}
