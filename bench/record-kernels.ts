// Records the tfjs kernels real work dispatches (bench/kernelInventory.ts) and prints the table of
// docs/cuda-backend.md: kernel, the phases that use it, the tests that cover it on the cuda
// backend, and whether the cuda backend registers it.
//   npx tsc -p tsconfig.json && node dist/bench/record-kernels.js [--write-doc]
// Runs on tfjs cpu (with the native dense kernels when the addon has them) and the native CPU op
// backend (the hot ops take no tfjs kernels there, as on the cuda backend). The status column says
// which kernels the 'cuda' backend registers on the addon at UCMG_CUDA_ADDON (a CUDA build, or the
// emulated one: native/cuda/emulation/build.sh), asked in a child process; without it, in this one.
// --write-doc replaces the table between the kernel-table markers of docs/cuda-backend.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends } from '../src/backend.js';
import { enableNativeDense } from '../src/dense/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { cudaRegisteredKernels } from '../test/cuda-emulated-support.js';
import { suiteTestsKernel } from '../test/tfjs-core-suite-runner.js';
import { type KernelUse, recordInventory, type UsePhase } from './kernelInventory.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DOC = path.join(root, 'docs/cuda-backend.md');
const START = '<!-- kernel-table:start -->';
const END = '<!-- kernel-table:end -->';
const PHASE_ORDER: UsePhase[] = [
  'input',
  'forward',
  'backward',
  'club',
  'codebook',
  'clip',
  'adam',
  'metrics',
  'eval encode',
  'eval heads',
];

/** The tfjs-core suites that run for tfjs cpu (their names), from one run of the suite runner. */
function tfjsCoreSuites(): string[] {
  const runner = path.join(root, 'dist/test/tfjs-core-suite-runner.js');
  const result = spawnSync(process.execPath, [runner, '--backend', 'cpu'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !last.startsWith('{')) {
    throw new Error(`the tfjs-core suite runner failed: ${result.stderr.slice(-500)}`);
  }
  return (JSON.parse(last) as { suites: string[] }).suites;
}

/** The cuda-backend test files (other than the whole-step ones) that name `kernel` as a string. */
function namingTests(kernel: string): string[] {
  const dir = path.join(root, 'test');
  return fs
    .readdirSync(dir)
    .filter((f) => /^cuda-(backend|dense)-.*\.test\.ts$/.test(f))
    .filter((f) => fs.readFileSync(path.join(dir, f), 'utf8').includes(`'${kernel}'`));
}

/** The kernels the 'cuda' backend registers, or why none can be listed. */
async function cudaKernels(): Promise<Set<string> | string> {
  try {
    const addon = process.env.UCMG_CUDA_ADDON;
    if (addon !== undefined && addon !== '') return new Set(cudaRegisteredKernels(path.resolve(addon)));
    await initTfjs('cuda');
    return new Set(tf.getKernelsForBackend('cuda').map((k) => k.kernelName));
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

function table(uses: Map<string, KernelUse>, suites: string[], cuda: Set<string> | string): string {
  const stepScenario = 'small AVT';
  const lines = ['| kernel | phases | tests on the cuda backend | status |', '|---|---|---|---|'];
  for (const [kernel, use] of [...uses].sort((a, b) => a[0].localeCompare(b[0]))) {
    const phases = PHASE_ORDER.filter((p) => use.phases.has(p)).join(', ');
    const tests: string[] = [];
    const testing = suites.filter((s) => suiteTestsKernel(s, new Set([kernel])));
    if (testing.length > 0) tests.push(`tfjs-core ${testing.map((s) => `\`${s.trim()}\``).join(', ')}`);
    if (use.scenarios.has(stepScenario)) tests.push('step parity');
    tests.push(...namingTests(kernel).map((f) => f.replace(/\.test\.ts$/, '')));
    const status =
      typeof cuda === 'string' ? 'not registered (no backend)' : cuda.has(kernel) ? 'registered' : '**missing**';
    lines.push(`| ${kernel} | ${phases} | ${tests.join(', ') || '—'} | ${status} |`);
  }
  return lines.join('\n');
}

/** Markdown prose broken into lines of at most 100 characters. */
function wrap(text: string): string {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= 100) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const writeDoc = process.argv.includes('--write-doc');
  await initTfjs('cpu');
  // The native dense kernels replace tfjs cpu's matmul / conv / transpose bodies under the same
  // kernel names: the same dispatches, minutes faster.
  const dense = enableNativeDense();
  const opBackend = availableBackends().includes('cpu') ? 'cpu' : 'tfjs';
  const started = performance.now();
  const recorder = await recordInventory({ opBackend, log: (line) => console.error(line) });
  console.error(
    `recorded ${recorder.uses.size} kernels in ${((performance.now() - started) / 1000).toFixed(0)} s ` +
      `(op backend '${opBackend}')`,
  );
  const suites = tfjsCoreSuites();
  const cuda = await cudaKernels();
  if (typeof cuda === 'string') console.error(`status column: the cuda backend is unavailable (${cuda})`);
  const scenarios = [...new Set([...recorder.uses.values()].flatMap((u) => [...u.scenarios]))];
  const common = [...recorder.uses].filter(([, u]) => scenarios.every((s) => u.scenarios.has(s))).length;
  const summary = wrap(
    `${recorder.uses.size} kernels over ${scenarios.length} scenarios ` +
      `(${scenarios.join('; ')}); ${common} of them in every scenario. Recorded on tfjs cpu ` +
      `(native dense kernels ${dense.enabled ? 'on' : 'off'}) with the '${opBackend}' op backend.`,
  );
  const markdown = `${summary}\n\n${table(recorder.uses, suites, cuda)}`;
  console.log(markdown);
  if (writeDoc) {
    const doc = fs.readFileSync(DOC, 'utf8');
    const start = doc.indexOf(START),
      end = doc.indexOf(END);
    if (start < 0 || end < start) throw new Error(`${DOC} has no ${START} ... ${END} markers`);
    fs.writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${markdown}\n${doc.slice(end)}`);
    console.error(`wrote the table into ${DOC}`);
  }
}

await main();
