#!/usr/bin/env node
// Builds the native addon build/Release/unicode_cmg.node with cmake-js (Node-API 8 headers come
// from the node-api-headers package: nothing is downloaded).
//
//   npm run build          (a source checkout) an incremental build. When cmake or a C++ compiler
//                          is missing, or the build fails, it prints one line and exits 0: the
//                          library then runs on tfjs only. The package has no install script.
//   npm run build:native   passes --force: a clean rebuild that exits 1 when it fails; so does
//   npx unicode-cmg build-native   (an installed package).
//
// UCMG_CUDA=AUTO|ON|OFF (default AUTO) becomes the CMake option UCMG_CUDA; AUTO compiles CUDA only
// where nvcc and an NVIDIA driver are both present. A failed AUTO build is retried without CUDA,
// so a broken CUDA toolchain still leaves a CPU addon.
//
// --sanitize builds build/sanitize/Release/unicode_cmg.node instead, instrumented with ASan and
// UBSan (CMake option UCMG_SANITIZE, CUDA off); node must preload libasan to load it, see .ci/run.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const sanitize = process.argv.includes('--sanitize');
// cmake-js's build folder; the addon lands in its Release/.
const outDir = sanitize ? path.join('build', 'sanitize') : 'build';

// The one line a failed build prints; the install still succeeds unless --force was given.
function giveUp(reason) {
  console.error(
    `unicode-cmg: native addon not built (${reason}); the library will run on tfjs only. ` +
      'To use it, install cmake and a C++ compiler, then run `npx unicode-cmg build-native`.',
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
  const args = [cli, command, '--directory', root, '--out', path.join(root, outDir), ...extra];
  const result = spawnSync(process.execPath, args, {
    stdio: 'inherit',
  });
  return result.status === 0;
}

function build(cudaMode, clean) {
  const options = [`--CDUCMG_CUDA=${cudaMode}`, `--CDUCMG_SANITIZE=${sanitize ? 'ON' : 'OFF'}`];
  const parallel = ['--parallel', String(os.availableParallelism?.() ?? os.cpus().length)];
  if (clean && !cmakeJs('clean')) return false;
  return cmakeJs('configure', options) && cmakeJs('build', parallel);
}

let cudaMode = (process.env.UCMG_CUDA ?? 'AUTO').trim().toUpperCase();
if (!['AUTO', 'ON', 'OFF'].includes(cudaMode)) {
  giveUp(`UCMG_CUDA must be AUTO, ON or OFF, got '${process.env.UCMG_CUDA}'`);
}
// Minutes of nvcc are wasted where no GPU could run the kernels.
if (cudaMode === 'AUTO' && !existsSync('/proc/driver/nvidia/version')) {
  console.log('unicode-cmg: UCMG_CUDA=AUTO and no NVIDIA driver is loaded: building without CUDA.');
  cudaMode = 'OFF';
}
if (sanitize) cudaMode = 'OFF'; // the sanitizers instrument host code only
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
console.log(`unicode-cmg: native addon built in ${seconds} s: ${path.join(outDir, 'Release', 'unicode_cmg.node')}`);
