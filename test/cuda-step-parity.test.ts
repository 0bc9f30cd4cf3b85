// One whole pretraining step (AVT) on the tfjs 'cuda' backend against the same step on tfjs cpu,
// from the same seed and features: every loss within 1e-4 relative, every parameter after the Adam
// step within 1e-4 (compareSteps in the worker states the two near-zero cases). The tiny config on
// the emulated addon (its kernels run on the CPU), the small config where the addon has usable CUDA.
// Each side runs in its own process on the same addon.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cudaAddon, cudaBackendMissing } from './cuda-emulated-support.js';
import { compareSteps, LOSS_RELATIVE, PARAM_ABSOLUTE, type StepRecord } from './cuda-step-parity-worker.js';

const WORKER = fileURLToPath(new URL('./cuda-step-parity-worker.js', import.meta.url));

function step(tfjs: 'cpu' | 'cuda', addon: string, config: 'tiny' | 'small', clips: number, dir: string): StepRecord {
  const out = path.join(dir, `${tfjs}.json`);
  const args = [WORKER, '--tfjs', tfjs, '--config', config, '--clips', String(clips), '--out', out];
  const result = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, UCMG_NATIVE_PATH: addon },
    maxBuffer: 64 << 20,
  });
  assert.equal(result.status, 0, `the ${tfjs} step failed: ${result.stderr.trim().split('\n').slice(-6).join('\n')}`);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as StepRecord;
}

test('an AVT pretraining step on the cuda backend matches tfjs cpu (losses 1e-4 relative, parameters 1e-4)', (t) => {
  const missing = cudaBackendMissing();
  if (missing !== undefined) return t.skip(missing);
  const addon = cudaAddon();
  if ('skip' in addon) return t.skip(addon.skip);
  const [config, clips] = addon.emulated ? (['tiny', 4] as const) : (['small', 16] as const);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-step-parity-'));
  try {
    const cpu = step('cpu', addon.path, config, clips, dir);
    const cuda = step('cuda', addon.path, config, clips, dir);
    assert.equal(cuda.tfjs, 'cuda');
    const off = compareSteps(cpu, cuda);
    assert.deepEqual(off.losses, [], `losses beyond ${LOSS_RELATIVE} relative (${config} config)`);
    assert.deepEqual(off.params, [], `parameters beyond ${PARAM_ABSOLUTE} after the Adam step (${config} config)`);
    const recorded = Object.keys(cpu.params).length > 20 && Object.keys(cpu.losses).length >= 10;
    assert.ok(recorded, 'the step records too little to compare');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
