// tfjs-core's own kernel test suite against the tfjs backends the library runs on: the suites of
// every kernel a backend registers (tfjs-core-suite-runner.ts), in a child process. tfjs cpu is the
// baseline; 'cuda' runs on the emulated addon (or the GPU addon where CUDA is usable).
// UCMG_TFJS_CORE_SUITE_ALL=1 runs every backend suite of tfjs-core, not only the registered kernels'.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cudaAddon, cudaBackendMissing } from './cuda-emulated-support.js';
import type { SuiteCounts } from './tfjs-core-suite-runner.js';

const RUNNER = fileURLToPath(new URL('./tfjs-core-suite-runner.js', import.meta.url));
const ALL = process.env.UCMG_TFJS_CORE_SUITE_ALL === '1';

/**
 * Failures of the cuda backend that are outside what it is for, by error message, with why. The
 * specs of a registered kernel's suite also try dtypes and neighbouring kernels the library never
 * runs; tfjs cpu passes these because it implements every tfjs dtype and kernel.
 */
const EXPLAINED_CUDA_FAILURES: { message: RegExp; spec?: string; why: string }[] = [
  { message: /Kernel 'Complex' not registered/, why: 'complex64 tensors: the backend holds float32, int32 and bool' },
  { message: /dtype 'string' is not supported/, why: 'string tensors: the backend holds float32, int32 and bool only' },
  { message: /Kernel 'Cumprod' not registered/, why: "prod's gradient: no step, text front or head takes it" },
  {
    message: /conv2dBackpropInput: dy must hold/,
    spec: 'conv2dTranspose cuda {} input=8x8x8,output=4x4x8,f=8,s=1',
    why:
      'the spec passes an 8x8 dy for an output whose convolution is 4x4; tfjs cpu reads the part it needs, ' +
      'the binding refuses the mismatch',
  },
];

function explained(f: { spec: string; message: string }, e: (typeof EXPLAINED_CUDA_FAILURES)[number]): boolean {
  return e.message.test(f.message) && (e.spec === undefined || f.spec.startsWith(e.spec));
}

function runSuite(backend: string, env: NodeJS.ProcessEnv = {}): SuiteCounts {
  const args = [RUNNER, '--backend', backend, ...(ALL ? ['--all'] : [])];
  const options = { encoding: 'utf8' as const, env: { ...process.env, ...env }, maxBuffer: 256 << 20 };
  const result = spawnSync(process.execPath, args, options);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !last.startsWith('{')) {
    const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
    assert.fail(`the suite runner for '${backend}' exited with ${result.status}: ${tail}`);
  }
  const counts = JSON.parse(last) as SuiteCounts;
  console.log(
    `tfjs-core suite on '${backend}': ${counts.passed} passed, ${counts.failed} failed, ` +
      `${counts.pending} pending ` +
      `in ${counts.suites.length} suites (${counts.seconds.toFixed(0)} s)`,
  );
  return counts;
}

function describeFailures(counts: SuiteCounts): string {
  return counts.failures
    .slice(0, 30)
    .map((f) => `  ${f.spec}\n    ${f.message.split('\n')[0]}`)
    .join('\n');
}

test('tfjs-core suite: tfjs cpu passes the suites of every kernel it registers (the baseline)', () => {
  const counts = runSuite('cpu');
  // The kernel filter must keep the bulk of the suite: tfjs 4.22 has ~2100 specs for cpu's kernels.
  assert.ok(counts.passed > 1500, `only ${counts.passed} specs ran: the kernel filter or the module hooks lost suites`);
  assert.ok(counts.suites.includes('conv2d') && counts.suites.includes('matmul'), 'conv2d and matmul suites must run');
  assert.equal(counts.failed, 0, `tfjs cpu failures:\n${describeFailures(counts)}`);
});

test('tfjs-core suite: the cuda backend passes the suites of every kernel it registers', (t) => {
  const missing = cudaBackendMissing();
  if (missing !== undefined) return t.skip(missing);
  const addon = cudaAddon();
  if ('skip' in addon) return t.skip(addon.skip);
  const counts = runSuite('cuda', { UCMG_NATIVE_PATH: addon.path });
  assert.ok(counts.passed > 0, 'no spec ran on cuda');
  const unexplained = counts.failures.filter((f) => !EXPLAINED_CUDA_FAILURES.some((e) => explained(f, e)));
  for (const e of EXPLAINED_CUDA_FAILURES) {
    const n = counts.failures.filter((f) => explained(f, e)).length;
    if (n > 0) console.log(`  ${n} failures explained: ${e.why}`);
  }
  const listed = describeFailures({ ...counts, failures: unexplained });
  assert.equal(unexplained.length, 0, `cuda failures (${counts.failed} in all):\n${listed}`);
});
