// The device check of the tfjs 'cuda' backend, for a lent H100/H200 (about 5 minutes): parity of one
// small AVT step with tfjs cpu, steps/s of small and paper (AVT, batch 80) in fp32 and TF32, the
// PyTorch anchor (bench/pytorch_anchor.py --device cuda) with TF32 off and on, and one table of
// ratios against the targets. That machine has no node_modules, so this file runs as one
// bundle: scripts/check-cuda-step.sh prepares it here and runs it there (see its header).
// Options: --small-steps N (10), --paper-steps N (3; 0 skips), --parity-clips N (16), --skip-torch, --batch N (80),
// --cpu-paper-seconds S (49: the paper step on the native CPU path, 2 cores, measured in the issue).
// Writes $OUT/check-cuda-step.log and $OUT/check-cuda-step.md when $OUT is set. Exit 1 on a failed check.
import { spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendInfo } from '../src/backend.js';
import { initTfjs } from '../src/tfjs.js';
import { compareSteps, recordOneStep } from '../test/cuda-step-parity-worker.js';
import { type CudaStepTiming, describeTiming, timeCudaSteps } from './cudaSteps.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
// 80 is the batch; a smaller one dry-runs the check on the emulated addon.
const BATCH = option('--batch', 80);
const outDir = process.env.OUT;
const logPath = outDir ? join(outDir, 'check-cuda-step.log') : null;
if (logPath) writeFileSync(logPath, '');
let failed = false;

function log(line = ''): void {
  console.log(line);
  if (logPath) appendFileSync(logPath, `${line}\n`);
}

function check(ok: boolean, what: string, detail: string[] = []): void {
  log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  for (const line of detail.slice(0, 8)) log(`  ${line}`);
  failed ||= !ok;
}

/** Median milliseconds of the PyTorch anchor on the GPU, or why there is none. */
function torchMs(config: string, tf32: boolean, steps: number, warmup: number): number | string {
  const python = process.env.UCMG_PYTHON ?? 'python3';
  const args = [
    'bench/pytorch_anchor.py',
    '--device',
    'cuda',
    '--config',
    config,
    '--batch',
    String(BATCH),
    '--tf32',
    tf32 ? 'on' : 'off',
    '--steps',
    String(steps),
    '--warmup',
    String(warmup),
  ];
  const result = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) {
    return `pytorch_anchor.py failed: ${(result.stderr || result.error?.message || '').trim().split('\n').pop()}`;
  }
  return JSON.parse(result.stdout.trim().split('\n').pop()!).medianMs as number;
}

async function main(): Promise<void> {
  const info = backendInfo();
  log(
    `device check of the tfjs cuda backend: ${info.runtime.gpu ?? 'no GPU'} ` +
      `(cc ${info.runtime.computeCapability}), ` +
      `${info.runtime.cpuThreads} CPU threads; addon ${process.env.UCMG_NATIVE_PATH ?? '(default)'}`,
  );

  const clips = option('--parity-clips', 16);
  const started = performance.now();
  const cpu = await recordOneStep('cpu', 'small', clips);
  const cuda = await recordOneStep('cuda', 'small', clips);
  const off = compareSteps(cpu, cuda);
  check(
    off.losses.length === 0 && off.params.length === 0,
    `parity: one small AVT step (${clips} clips), cuda vs tfjs cpu: losses 1e-4 relative, parameters 1e-4 ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    [...off.losses, ...off.params],
  );

  await initTfjs('cuda');
  const plan = [
    ['small', option('--small-steps', 10), 2],
    ['paper', option('--paper-steps', 3), 1],
  ] as const;
  const skipTorch = argv.includes('--skip-torch');
  const cpuPaperSeconds = option('--cpu-paper-seconds', 49);
  const rows: string[] = [];
  for (const [config, steps, warmup] of plan) {
    if (steps === 0) continue;
    for (const tf32 of [false, true]) {
      const timing: CudaStepTiming = await timeCudaSteps(config, BATCH, steps, warmup, tf32);
      describeTiming(timing).forEach((line) => log(line));
      const label = `${config}${tf32 ? ' TF32' : ''}`;
      check(timing.unregistered.length === 0, `${label}: no kernel outside the backend`, timing.unregistered);
      const ours = 1000 * timing.medianSeconds;
      const torch = skipTorch ? 'skipped (--skip-torch)' : torchMs(config, tf32, steps, warmup);
      if (typeof torch === 'string') log(`  PyTorch anchor: ${torch}`);
      const ratio = typeof torch === 'number' ? `${(ours / torch).toFixed(2)}x` : '—';
      const speedup =
        config === 'paper' && !tf32 ? `${((1000 * cpuPaperSeconds) / ours).toFixed(0)}x (target >= 50x)` : '';
      const torchCell = typeof torch === 'number' ? torch.toFixed(1) : '—';
      rows.push(
        `| ${config} | ${tf32 ? 'TF32' : 'fp32'} | ${ours.toFixed(1)} | ${torchCell} | ` +
          `${ratio} (target <= 1.5x) | ${speedup} | ${timing.hostToDevice} / ${timing.deviceToHost} |`,
      );
    }
  }
  const table = [
    `| config (AVT, batch ${BATCH}) | precision | ucmg cuda ms/step | torch ms/step | ucmg / torch | ` +
      `vs native CPU, 2 cores (${cpuPaperSeconds} s) | copies h->d / d->h per step |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  log('');
  log(table);
  if (outDir) writeFileSync(join(outDir, 'check-cuda-step.md'), `${table}\n`);
  log(failed ? 'device check: FAILED' : 'device check: all checks passed');
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  log(`device check: FAILED with ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
