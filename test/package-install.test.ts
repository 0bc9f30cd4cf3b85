// Installs the tarballs that `npm run release:local` left in release/ into fresh projects, as a
// user would, with install scripts blocked: the prebuilt addon must load with OpenBLAS and agree
// with the tfjs fallback; without it, tfjs must run and print the fix once. Needs the npm
// registry for the dependencies (tfjs, ...). .ci/run runs release:local first; elsewhere this is
// skipped until release/ holds tarballs of this version (UCMG_PACKAGE_INSTALL_TEST=0 skips it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const mainTarball = path.join(root, 'release', `unicode-cmg-${version}.tgz`);
const cpuTarball = path.join(root, 'release', `unicode-cmg-linux-x64-${version}.tgz`);
const cudaTarball = path.join(root, 'release', `unicode-cmg-linux-x64-cuda-${version}.tgz`);
const nvidiaDriver = existsSync('/proc/driver/nvidia/version');
const skip =
  process.env.UCMG_PACKAGE_INSTALL_TEST === '0'
    ? 'UCMG_PACKAGE_INSTALL_TEST=0'
    : process.platform !== 'linux' || process.arch !== 'x64'
      ? 'the prebuilt package is for linux-x64'
      : [mainTarball, cpuTarball].every(existsSync)
        ? false
        : `release/ lacks the ${version} tarballs: run \`npm run release:local\` first`;

const projects: string[] = [];
after(() => projects.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fresh project with the given tarballs installed by `npm install <flag>`. */
function install(flag: string, tarballs: string[], manifest: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ucmg-install-'));
  projects.push(dir);
  const project = { name: 'install-probe', version: '1.0.0', private: true, type: 'module', ...manifest };
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(project));
  const result = spawnSync('npm', ['install', flag, '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 600_000,
  });
  assert.equal(result.status, 0, `npm install ${flag} failed:\n${result.stderr}`);
  return dir;
}

// Quantizes the same data on the default backend twice and on tfjs once.
const PROBE = `
import { backendInfo, initTfjs, quantize, tf } from 'unicode-cmg';
await initTfjs('cpu');
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
const z = tf.tensor2d(Array.from({ length: 64 * 16 }, random), [64, 16]);
const codebook = tf.tensor2d(Array.from({ length: 32 * 16 }, random), [32, 16]);
const first = quantize(z, codebook);
quantize(z, codebook);
const viaTfjs = quantize(z, codebook, { backend: 'tfjs' });
console.log(JSON.stringify({ selected: backendInfo().selected,
  indices: Array.from(first.indices), tfjsIndices: Array.from(viaTfjs.indices) }));
`;

function probe(dir: string) {
  writeFileSync(path.join(dir, 'probe.mjs'), PROBE);
  const result = spawnSync(process.execPath, ['probe.mjs'], { cwd: dir, encoding: 'utf8', env: cleanEnv() });
  assert.equal(result.status, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { selected: string; indices: number[]; tfjsIndices: number[] };
  return { ...parsed, stderr: result.stderr };
}

/** The environment without this checkout's own native and backend settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['UCMG_NATIVE', 'UCMG_NATIVE_PATH', 'UCMG_BACKEND', 'UCMG_DENSE']) delete env[name];
  return env;
}

function infoJson(dir: string) {
  const result = spawnSync('npx', ['--no-install', 'unicode-cmg', 'info', '--json'], {
    cwd: dir,
    encoding: 'utf8',
    env: cleanEnv(),
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    compiled: { blas: string | null; cuda: boolean } | null;
    selected: string;
    nativeLoadFailures: string[];
  };
}

describe('installing the packed package', { skip }, () => {
  it('the packed manifest lists both prebuilt packages as optional dependencies at its version', () => {
    const packed = spawnSync('tar', ['-xzOf', mainTarball, 'package/package.json'], { encoding: 'utf8' });
    assert.equal(packed.status, 0, packed.stderr);
    assert.deepEqual(JSON.parse(packed.stdout).optionalDependencies, {
      'unicode-cmg-linux-x64': version,
      'unicode-cmg-linux-x64-cuda': version,
    });
  });

  // tfjs depends on core-js, whose postinstall only prints a banner: a strict project denies it.
  const strict = { flag: '--strict-allow-scripts', manifest: { allowScripts: { 'core-js': false } } };
  const ignore = { flag: '--ignore-scripts', manifest: {} };
  let nativeIndices: number[] | undefined;

  for (const { flag, manifest } of [strict, ignore]) {
    it(`with ${flag}: the prebuilt addon loads with OpenBLAS and agrees with tfjs`, () => {
      const dir = install(flag, [mainTarball, cpuTarball], manifest);
      const info = infoJson(dir);
      assert.equal(info.compiled?.blas, 'openblas', JSON.stringify(info));
      assert.equal(info.selected, 'cpu');
      const result = probe(dir);
      assert.equal(result.selected, 'cpu');
      assert.deepEqual(result.indices, result.tfjsIndices);
      assert.doesNotMatch(result.stderr, /tfjs only/);
      nativeIndices = result.indices;
    });
  }

  const cudaSkip = existsSync(cudaTarball) ? false : 'release/ has no CUDA package (nvcc was not found)';
  it('with the CUDA package too: it runs where an NVIDIA driver is, else the CPU one', { skip: cudaSkip }, () => {
    const dir = install('--ignore-scripts', [mainTarball, cpuTarball, cudaTarball]);
    const info = infoJson(dir);
    assert.equal(info.compiled?.blas, 'openblas', JSON.stringify(info));
    if (nvidiaDriver) {
      const unusable = info.nativeLoadFailures.some((line) => line.includes('CUDA unusable here'));
      assert.ok(info.compiled?.cuda === true || unusable, JSON.stringify(info));
    } else {
      assert.equal(info.compiled?.cuda, false, JSON.stringify(info));
      assert.ok(
        info.nativeLoadFailures.includes(
          'unicode-cmg-linux-x64-cuda: skipped: no NVIDIA driver loaded (/proc/driver/nvidia/version is missing)',
        ),
        JSON.stringify(info.nativeLoadFailures),
      );
    }
  });

  it('without the platform package: tfjs runs, gives the same codes and prints the fix once', () => {
    const dir = install('--ignore-scripts', [mainTarball]);
    const result = probe(dir);
    assert.equal(result.selected, 'tfjs');
    if (nativeIndices) assert.deepEqual(result.indices, nativeIndices);
    const notices = result.stderr.split('\n').filter((line) => line.includes('running on tfjs only'));
    assert.deepEqual(notices, [
      'unicode-cmg: no native addon, running on tfjs only (slower). Fix: npm install unicode-cmg-linux-x64 ' +
        "('unicode-cmg info' lists what was tried).",
    ]);
  });
});
