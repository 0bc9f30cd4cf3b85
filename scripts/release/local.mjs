#!/usr/bin/env node
// `npm run release:local`: builds the prebuilt addon package(s) for this machine and packs them
// and the main package into release/ (docs/releasing.md). Publishing is a separate, manual step.
//
//   linux-x64 CPU   always: build/release-cpu, UCMG_PORTABLE=ON (static libstdc++/libgcc/OpenBLAS,
//                   OpenMP from native/compat/gomp.c, glibc >= 2.28), no MPI
//   linux-x64 CUDA  with UCMG_RELEASE_CUDA=ON, or AUTO (default) when nvcc is on PATH:
//                   build/release-cuda, the same plus CUDA for sm_80 and sm_90 (SASS and PTX)
//
// Each .node is checked before it is packed: the glibc floor (check-glibc.mjs), OpenBLAS
// compiled in, and for CUDA the architectures.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkGlibcFloor } from './check-glibc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const releaseDir = path.join(root, 'release');
const require = createRequire(import.meta.url);
const mainPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function fail(message) {
  console.error(`release:local: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (status ${result.status})`);
}

function onPath(command) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    return spawnSync('test', ['-x', path.join(dir, command)]).status === 0;
  });
}

/** Builds the portable addon into build/<outDir> and returns the .node path. */
function buildAddon(outDir, cuda) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const out = path.join('build', outDir);
  const options = [
    `--CDUCMG_CUDA=${cuda ? 'ON' : 'OFF'}`,
    '--CDUCMG_PORTABLE=ON',
    '--CDUCMG_OPENMP=ON',
    '--CDUCMG_MPI=OFF',
    '--CDUCMG_BLAS=ON',
    '--CDUCMG_STATIC_BLAS=ON',
  ];
  const common = ['--directory', root, '--out', out];
  run(process.execPath, [cmakeJs, 'configure', ...common, ...options], { cwd: root });
  run(process.execPath, [cmakeJs, 'build', ...common, '--parallel', '2'], { cwd: root });
  return path.join(root, out, 'Release', 'unicode_cmg.node');
}

/** What the addon says it was built with, read in a separate process. */
function buildInfo(file) {
  const script = `console.log(JSON.stringify(require(${JSON.stringify(file)}).buildInfo()))`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (result.status !== 0) fail(`${file} does not load: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout);
}

function checkAddon(file, cuda) {
  const { problems, highestGlibc } = checkGlibcFloor(file, '2.28');
  if (problems.length > 0) fail(`${file} would not load on glibc 2.28:\n  - ${problems.join('\n  - ')}`);
  const info = buildInfo(file);
  if (info.blas !== 'openblas' || !info.openmp) fail(`${file} lacks OpenBLAS or OpenMP: ${JSON.stringify(info)}`);
  if (cuda && !(info.cuda && ['80', '90'].every((arch) => info.cudaArchitectures.includes(arch)))) {
    fail(`${file} lacks CUDA sm_80/sm_90: ${JSON.stringify(info)}`);
  }
  console.log(`release:local: ${path.relative(root, file)}: GLIBC_${highestGlibc} at most, ${JSON.stringify(info)}`);
}

const TEMPLATES = ['linux-x64', 'linux-x64-cuda'];

function templateManifest(template) {
  return JSON.parse(readFileSync(path.join(root, 'packages', template, 'package.json'), 'utf8'));
}

/**
 * Packs the main package with every prebuilt package as an optional dependency at its own version.
 * They are added here, not in package.json: a source checkout's `npm ci` cannot resolve packages
 * that are not yet published.
 */
function packMainPackage() {
  const stage = path.join(releaseDir, 'stage', 'main');
  mkdirSync(stage, { recursive: true });
  run('npm', ['pack', '--pack-destination', stage], { cwd: root }); // prepack: tsc
  run('tar', ['-xzf', path.join(stage, `${mainPackage.name}-${mainPackage.version}.tgz`), '-C', stage]);
  const unpacked = path.join(stage, 'package');
  const manifest = JSON.parse(readFileSync(path.join(unpacked, 'package.json'), 'utf8'));
  manifest.optionalDependencies = Object.fromEntries(
    TEMPLATES.map((template) => [templateManifest(template).name, mainPackage.version]),
  );
  writeFileSync(path.join(unpacked, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', releaseDir], { cwd: unpacked });
}

/** Stages packages/<template> with the addon and packs it into release/. */
function packPlatformPackage(template, addon) {
  const manifest = templateManifest(template);
  const stage = path.join(releaseDir, 'stage', template);
  mkdirSync(stage, { recursive: true });
  const staged = { ...manifest, version: mainPackage.version };
  writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`);
  copyFileSync(addon, path.join(stage, 'unicode_cmg.node'));
  run('npm', ['pack', '--pack-destination', releaseDir], { cwd: stage });
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(`prebuilt packages are made for linux-x64 only, this is ${process.platform}-${process.arch}`);
}
const cudaMode = (process.env.UCMG_RELEASE_CUDA ?? 'AUTO').toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(cudaMode)) fail(`UCMG_RELEASE_CUDA must be AUTO, ON or OFF, got ${cudaMode}`);
const withCuda = cudaMode === 'ON' || (cudaMode === 'AUTO' && onPath('nvcc'));

const started = Date.now();
rmSync(releaseDir, { recursive: true, force: true });
mkdirSync(releaseDir, { recursive: true });

const cpuAddon = buildAddon('release-cpu', false);
checkAddon(cpuAddon, false);
packPlatformPackage('linux-x64', cpuAddon);
if (withCuda) {
  const cudaAddon = buildAddon('release-cuda', true);
  checkAddon(cudaAddon, true);
  packPlatformPackage('linux-x64-cuda', cudaAddon);
} else {
  console.log('release:local: no CUDA package (nvcc not found, or UCMG_RELEASE_CUDA=OFF)');
}
packMainPackage();
rmSync(path.join(releaseDir, 'stage'), { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(0);
console.log(`release:local: done in ${seconds} s; release/ holds the tarballs to publish (docs/releasing.md)`);
