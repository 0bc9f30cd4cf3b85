// Reproducibility: one seed gives one run, and a run stopped at a checkpoint and resumed in a fresh
// model and trainer gives exactly the losses of the uninterrupted run (across an epoch boundary
// and a learning-rate milestone). A checkpoint of another config is refused with a clear error.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { UniCodeModel } from '../src/model/uniCode.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { readMetricsLog } from '../src/train/metricsLog.js';
import { type StepMetrics, Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const config = tinyConfig();
const data = syntheticBatches(config, { batches: 2, batchSize: 4, seed: 21 });

/** Everything a step computes except wall-clock times. */
function outcome(m: StepMetrics | Record<string, unknown>) {
  const { timeMs: _ignored, ...rest } = m as StepMetrics;
  return rest;
}

async function run(seed: number, steps: number): Promise<StepMetrics[]> {
  const model = new UniCodeModel(config, { seed });
  const trainer = new Trainer(model, { progress: false });
  const out: StepMetrics[] = [];
  const live: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(await trainer.step(data[i % data.length]));
    live.push(tf.memory().numTensors);
  }
  assert.equal(new Set(live).size, 1, `live tensors after each step: ${live.join(', ')} (a step leaks)`);
  trainer.dispose();
  model.dispose();
  return out;
}

test('the same seed gives the same losses; another seed gives others', async () => {
  const [a, b, c] = [await run(5, 3), await run(5, 3), await run(6, 3)];
  assert.deepEqual(a.map(outcome), b.map(outcome));
  assert.notDeepEqual(
    a.map((m) => m.loss),
    c.map((m) => m.loss),
  );
});

test('resuming from a checkpoint continues exactly like the uninterrupted run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-resume-'));
  const options = { progress: false as const, milestones: [1, 2], gamma: 0.5 };
  // 3 epochs of 2 batches; the lr halves at epochs 1 and 2.
  const straightLog = path.join(dir, 'straight.jsonl');
  const straight = new Trainer(new UniCodeModel(config, { seed: 9 }), { ...options, metricsPath: straightLog });
  await straight.train(data, { epochs: 3 });

  const checkpoint = path.join(dir, 'run.ucmg');
  const resumedLog = path.join(dir, 'resumed.jsonl');
  const first = new Trainer(new UniCodeModel(config, { seed: 9 }), {
    ...options,
    metricsPath: resumedLog,
    checkpointPath: checkpoint,
    checkpointEvery: 1,
  });
  const stopped = await first.train(data, { epochs: 3, maxSteps: 3 });
  assert.equal(stopped.steps, 3);
  // A fresh model and trainer, built from the file alone (stopped mid-epoch 1).
  const resumed = await Trainer.fromCheckpoint(checkpoint, { progress: false, metricsPath: resumedLog });
  assert.deepEqual([resumed.globalStep, resumed.epoch, resumed.stepInEpoch], [3, 1, 1]);
  const summary = await resumed.train(data, { epochs: 3 });
  assert.equal(summary.steps, 6);

  const expected = readMetricsLog(straightLog).map(outcome);
  const actual = readMetricsLog(resumedLog).map(outcome);
  assert.equal(expected.length, 6);
  assert.deepEqual(
    expected.map((m) => (m as unknown as StepMetrics).lr),
    [4e-4, 4e-4, 2e-4, 2e-4, 1e-4, 1e-4],
  );
  assert.deepEqual(actual, expected);
  for (const t of [straight, first, resumed]) {
    t.dispose();
    t.model.dispose();
  }
  fs.rmSync(dir, { recursive: true });
});

test('a checkpoint from another config is refused, naming the difference, and changes nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-mismatch-'));
  const checkpoint = path.join(dir, 'small.ucmg');
  const writer = new Trainer(new UniCodeModel(config, { seed: 1 }), { progress: false });
  await writer.step(data[0]);
  await writer.saveCheckpoint(checkpoint);

  const other = new Trainer(new UniCodeModel(tinyConfig({ codebookSize: 48 }), { seed: 1 }), { progress: false });
  const weights = other.model.params.exportWeights();
  await assert.rejects(
    other.restore(checkpoint),
    /different model config.*codebookSize: 32 \(checkpoint\) vs 48 \(this model\)/,
  );
  assert.deepEqual(other.model.params.exportWeights(), weights);
  assert.equal(other.globalStep, 0);
  for (const t of [writer, other]) {
    t.dispose();
    t.model.dispose();
  }
  fs.rmSync(dir, { recursive: true });
});

test('a run killed between a metrics record and its checkpoint resumes to the log of the uninterrupted run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-kill-'));
  const options = { progress: false as const };
  const straightLog = path.join(dir, 'straight.jsonl');
  const straight = new Trainer(new UniCodeModel(config, { seed: 9 }), { ...options, metricsPath: straightLog });
  await straight.train(data, { epochs: 3 });

  const checkpoint = path.join(dir, 'run.ucmg');
  const log = path.join(dir, 'run.jsonl');
  const first = new Trainer(new UniCodeModel(config, { seed: 9 }), {
    ...options,
    metricsPath: log,
    checkpointPath: checkpoint,
    checkpointEvery: 2,
  });
  await first.train(data, { epochs: 3, maxSteps: 2 });
  const atStep2 = fs.readFileSync(checkpoint);
  await first.train(data, { epochs: 3, maxSteps: 3 });
  // The kill: step 3's record is in the log, its checkpoint never came, a 4th record was cut off.
  fs.writeFileSync(checkpoint, atStep2);
  fs.appendFileSync(log, '{"step":4,"epoch":1,"lo');
  assert.equal(readMetricsLog(log).length, 3);

  const resumed = await Trainer.fromCheckpoint(checkpoint, { ...options, metricsPath: log });
  assert.equal(resumed.globalStep, 2);
  await resumed.train(data, { epochs: 3 });
  const steps = readMetricsLog(log).map((r) => r.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6], 'no duplicated and no missing step');
  assert.deepEqual(readMetricsLog(log).map(outcome), readMetricsLog(straightLog).map(outcome));
  for (const t of [straight, first, resumed]) {
    t.dispose();
    t.model.dispose();
  }
  fs.rmSync(dir, { recursive: true });
});

test('training removes the checkpoint temp files of dead processes and keeps those of running ones', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-stale-'));
  const checkpoint = path.join(dir, 'run.ucmg');
  // A process that has exited: its pid is no longer running.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  assert.ok(Number.isInteger(deadPid) && deadPid > 0);
  const stale = path.join(dir, `.run.ucmg.tmp-${deadPid}-0123456789ab`);
  const live = path.join(dir, `.run.ucmg.tmp-${process.ppid}-0123456789ab`);
  const unrelated = path.join(dir, `.other.ucmg.tmp-${deadPid}-0123456789ab`);
  for (const f of [stale, live, unrelated]) fs.writeFileSync(f, 'partial checkpoint');
  const trainer = new Trainer(new UniCodeModel(config, { seed: 9 }), { progress: false, checkpointPath: checkpoint });
  await trainer.train(data, { epochs: 1, maxSteps: 1 });
  assert.equal(fs.existsSync(stale), false, "the dead process's temp file is removed");
  assert.equal(fs.existsSync(live), true, "a running process's temp file is kept");
  assert.equal(fs.existsSync(unrelated), true, "another target's temp file is not touched");
  trainer.dispose();
  trainer.model.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('a checkpoint whose config disagrees with its codebook (a huge embeddingDim) is refused naming the field', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-huge-'));
  const checkpoint = path.join(dir, 'run.ucmg');
  const writer = new Trainer(new UniCodeModel(config, { seed: 1 }), { progress: false });
  await writer.saveCheckpoint(checkpoint);
  const payload = loadCheckpoint(checkpoint);
  const forged = path.join(dir, 'forged.ucmg');
  saveCheckpoint(forged, {
    ...payload,
    meta: { ...payload.meta, config: { ...(payload.meta.config as object), embeddingDim: 1_000_000_000 } },
  });
  await assert.rejects(
    Trainer.fromCheckpoint(forged, { progress: false }),
    /forged\.ucmg: the checkpoint's config\.embeddingDim \(1000000000\) does not match its codebook \[32, 16\]/,
  );
  // Only hyperparameters come from a checkpoint, never paths.
  const sneaky = path.join(dir, 'sneaky.ucmg');
  const metricsPath = path.join(dir, 'planted.jsonl');
  saveCheckpoint(sneaky, {
    ...payload,
    meta: { ...payload.meta, trainer: { ...(payload.meta.trainer as object), metricsPath } },
  });
  const restored = await Trainer.fromCheckpoint(sneaky, { progress: false });
  await restored.train(data, { epochs: 1, maxSteps: 1 });
  assert.equal(fs.existsSync(metricsPath), false);
  for (const t of [writer, restored]) {
    t.dispose();
    t.model.dispose();
  }
  fs.rmSync(dir, { recursive: true });
});
