// One whole pretraining step (AVT) on the tfjs 'cuda' backend against the same step on tfjs cpu,
// from the same seed and features: every loss within 1e-4 relative, every parameter after the Adam
// step within 1e-4. The tiny config on the emulated addon (its kernels run on the CPU), the small
// config where the addon has usable CUDA. Each side runs in its own process on the same addon.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cudaAddon, cudaBackendMissing } from './cuda-emulated-support.js';
import type { StepRecord } from './cuda-step-parity-worker.js';

const WORKER = fileURLToPath(new URL('./cuda-step-parity-worker.js', import.meta.url));
const LOSS_RELATIVE = 1e-4;
// A loss term near zero (the CLUB MI estimate is a difference of two near-equal means, ~1e-6 on the
// first step) is compared relative to this scale instead: float32 cancellation noise, seen between
// tfjs cpu and wasm too, sits around 1e-8 there.
const LOSS_SCALE_FLOOR = 1e-3;
const PARAM_ABSOLUTE = 1e-4;
// Adam's first step moves a parameter by lr * g / (|g| + 1e-8): about ±lr whatever the gradient's
// size, so where a gradient is float32 rounding noise around a true zero (~1e-8, e.g. the bias of a
// softmax's logits) the parameter may differ by up to 2 lr, as it does between tfjs cpu and wasm.
// Such an element passes when both backends' gradients are below this size.
const NOISE_GRADIENT = 1e-6;

function step(tfjs: 'cpu' | 'cuda', addon: string, config: 'tiny' | 'small', clips: number, dir: string): StepRecord {
  const out = path.join(dir, `${tfjs}.json`);
  const result = spawnSync(process.execPath, [WORKER, '--tfjs', tfjs, '--config', config, '--clips', String(clips), '--out', out], {
    encoding: 'utf8', env: { ...process.env, UCMG_NATIVE_PATH: addon }, maxBuffer: 64 << 20,
  });
  assert.equal(result.status, 0, `the ${tfjs} step failed: ${result.stderr.trim().split('\n').slice(-6).join('\n')}`);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as StepRecord;
}

/** Names whose values differ beyond the tolerance, with the worst difference of each. */
function differences(cpu: Record<string, number[]>, cuda: Record<string, number[]>,
  within: (a: number, b: number, name: string, index: number) => boolean): string[] {
  const out: string[] = [];
  for (const [name, expected] of Object.entries(cpu)) {
    const actual = cuda[name];
    if (actual === undefined || actual.length !== expected.length) {
      out.push(`${name}: ${actual === undefined ? 'missing' : `${actual.length} values, expected ${expected.length}`}`);
      continue;
    }
    let worst = -1;
    expected.forEach((e, i) => {
      if (!within(e, actual[i], name, i) && (worst < 0 || Math.abs(e - actual[i]) > Math.abs(expected[worst] - actual[worst]))) worst = i;
    });
    if (worst >= 0) out.push(`${name}[${worst}]: cuda ${actual[worst]}, cpu ${expected[worst]}`);
  }
  return out;
}

test('a whole AVT pretraining step on the cuda backend matches tfjs cpu (losses 1e-4 relative, parameters 1e-4)', (t) => {
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
    const wrap = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [v]]));
    const lossOff = differences(wrap(cpu.losses), wrap(cuda.losses),
      (a, b) => Math.abs(a - b) <= LOSS_RELATIVE * Math.max(Math.abs(a), Math.abs(b), LOSS_SCALE_FLOOR));
    assert.deepEqual(lossOff, [], `losses beyond ${LOSS_RELATIVE} relative (${config} config)`);
    const noiseGradient = (name: string, i: number) =>
      Math.max(Math.abs(cpu.grads[name]?.[i] ?? Infinity), Math.abs(cuda.grads[name]?.[i] ?? Infinity)) <= NOISE_GRADIENT;
    const paramOff = differences(cpu.params, cuda.params, (a, b, name, i) => Math.abs(a - b) <= PARAM_ABSOLUTE || noiseGradient(name, i));
    assert.deepEqual(paramOff, [], `parameters beyond ${PARAM_ABSOLUTE} after the Adam step (${config} config)`);
    assert.ok(Object.keys(cpu.params).length > 20 && Object.keys(cpu.losses).length >= 10, 'the step records too little to compare');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
