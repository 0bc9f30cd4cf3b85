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
 * Failures of the cuda backend that are tfjs-core's expectation rather than a fault of ours, by
 * spec-name fragment, with why. Empty: every failure is a fault to fix.
 */
const EXPLAINED_CUDA_FAILURES: Record<string, string> = {};

function runSuite(backend: string, env: NodeJS.ProcessEnv = {}): SuiteCounts {
  const args = [RUNNER, '--backend', backend, ...(ALL ? ['--all'] : [])];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 << 20 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !last.startsWith('{')) {
    assert.fail(`the suite runner for '${backend}' exited with ${result.status}: ${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  const counts = JSON.parse(last) as SuiteCounts;
  console.log(`tfjs-core suite on '${backend}': ${counts.passed} passed, ${counts.failed} failed, ${counts.pending} pending ` +
    `in ${counts.suites.length} suites (${counts.seconds.toFixed(0)} s)`);
  return counts;
}

function describeFailures(counts: SuiteCounts): string {
  return counts.failures.slice(0, 30).map((f) => `  ${f.spec}\n    ${f.message.split('\n')[0]}`).join('\n');
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
  const unexplained = counts.failures.filter((f) => !Object.keys(EXPLAINED_CUDA_FAILURES).some((k) => f.spec.includes(k)));
  assert.equal(unexplained.length, 0, `cuda failures (${counts.failed} in all):\n${describeFailures({ ...counts, failures: unexplained })}`);
});
