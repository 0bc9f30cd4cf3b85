#!/usr/bin/env node
// Builds the native addon build/Release/unicode_cmg.node with cmake-js (Node-API 8 headers come
// from the node-api-headers package: nothing is downloaded).
//
//   npm install            runs this as the `install` script: an incremental build. When cmake or
//                          a C++ compiler is missing, or the build fails, it prints one line and
//                          exits 0, so the install succeeds and the library runs on tfjs only.
//   npm run build:native   passes --force: a clean rebuild that exits 1 when it fails.
//
// UCMG_CUDA=AUTO|ON|OFF (default AUTO) becomes the CMake option UCMG_CUDA. A failed AUTO build
// is retried without CUDA, so a broken CUDA toolchain still leaves a CPU addon.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');

// The one line a failed build prints; the install still succeeds unless --force was given.
function giveUp(reason) {
  console.error(
    `unicode-cmg: native addon not built (${reason}); the library will run on tfjs only. ` +
      'To use it, rebuild with `npm run build:native` (needs cmake and a C++ compiler).',
  );
  process.exit(force ? 1 : 0);
}

function onPath(command) {
  if (path.isAbsolute(command)) return isExecutable(command);
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['', '.exe', '.cmd'] : [''];
  return dirs.some((dir) => exts.some((ext) => isExecutable(path.join(dir, command + ext))));
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function cxxCompilerFound() {
  const fromEnv = process.env.CXX?.trim().split(/\s+/)[0];
  if (fromEnv) return onPath(fromEnv);
  return ['c++', 'g++', 'clang++', 'cl'].some(onPath);
}

function cmakeJs(command, extra = []) {
  const cli = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  const result = spawnSync(process.execPath, [cli, command, '--directory', root, ...extra], {
    stdio: 'inherit',
  });
  return result.status === 0;
}

function build(cudaMode, clean) {
  const options = [`--CDUCMG_CUDA=${cudaMode}`];
  const parallel = ['--parallel', String(os.availableParallelism?.() ?? os.cpus().length)];
  if (clean && !cmakeJs('clean')) return false;
  return cmakeJs('configure', options) && cmakeJs('build', parallel);
}

const cudaMode = (process.env.UCMG_CUDA ?? 'AUTO').trim().toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(cudaMode)) {
  giveUp(`UCMG_CUDA must be AUTO, ON or OFF, got '${process.env.UCMG_CUDA}'`);
}
if (!onPath('cmake')) giveUp('cmake was not found on PATH');
if (!cxxCompilerFound()) giveUp('no C++ compiler found (set CXX, or install g++ or clang++)');

const started = Date.now();
let built = build(cudaMode, force);
if (!built && cudaMode === 'AUTO') {
  console.error('unicode-cmg: the build with UCMG_CUDA=AUTO failed; retrying without CUDA.');
  built = build('OFF', true);
}
if (!built) giveUp('the cmake-js build failed, see the output above');
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`unicode-cmg: native addon built in ${seconds} s: build/Release/unicode_cmg.node`);
