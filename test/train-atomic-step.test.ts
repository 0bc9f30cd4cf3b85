// A training step is all or nothing: a step that fails at any phase before its commit point leaves
// the weights, every optimizer (main and CLUB), the CLUB nets, the codebook and the RNG exactly as
// they were and no tensor behind, and the run then continues as if the failed step never happened.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UniCodeModel } from '../src/model/uniCode.js';
import { type CheckpointPayload, loadCheckpoint } from '../src/train/checkpoint.js';
import { STEP_PHASES, type StepMetrics, type StepPhase, Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const config = tinyConfig();
const data = syntheticBatches(config, { batches: 2, batchSize: 4, seed: 31 });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-atomic-'));

/** Everything a checkpoint holds: weights, optimizer states, codebook, RNG, position. */
async function stateOf(trainer: Trainer): Promise<CheckpointPayload> {
  const file = path.join(dir, 'state.ckpt');
  await trainer.saveCheckpoint(file);
  return loadCheckpoint(file);
}

const outcome = ({ timeMs: _ignored, ...rest }: StepMetrics) => rest;

test('a step that fails after any phase leaves no trace, and the run continues as if it never ran', async () => {
  let failAt: StepPhase | null = null;
  const trainer = new Trainer(new UniCodeModel(config, { seed: 9 }), {
    progress: false,
    afterPhase: (phase) => {
      if (phase === failAt) throw new Error(`injected failure after ${phase}`);
    },
  });
  const reference = new Trainer(new UniCodeModel(config, { seed: 9 }), { progress: false });
  // Each phase fails once on the very first step (optimizers not yet holding moments) and once later.
  const attempts = [...STEP_PHASES, ...STEP_PHASES];
  for (const [i, phase] of attempts.entries()) {
    const before = await stateOf(trainer);
    const tensors = tf.memory().numTensors;
    failAt = phase;
    await assert.rejects(trainer.step(data[i % 2]), new RegExp(`injected failure after ${phase}`));
    failAt = null;
    assert.equal(tf.memory().numTensors, tensors, `tensors left behind by a step failing after ${phase}`);
    assert.deepEqual(await stateOf(trainer), before, `state changed by a step failing after ${phase}`);
    if (i === STEP_PHASES.length - 1 || i === attempts.length - 1) {
      assert.deepEqual(outcome(await trainer.step(data[i % 2])), outcome(await reference.step(data[i % 2])));
    }
  }
  for (const t of [trainer, reference]) {
    t.dispose();
    t.model.dispose();
  }
});

test('a one-clip batch is refused before anything changes (CLUB and Cross-CPC compare clips)', async () => {
  const trainer = new Trainer(new UniCodeModel(config, { seed: 9 }), { progress: false });
  await trainer.step(data[0]);
  const [single] = syntheticBatches(config, { batches: 1, batchSize: 1, seed: 32 });
  const before = await stateOf(trainer);
  const tensors = tf.memory().numTensors;
  await assert.rejects(trainer.step(single), /the batch has 1 clip; CLUB needs at least 2/);
  assert.equal(tf.memory().numTensors, tensors);
  assert.deepEqual(await stateOf(trainer), before);
  const noClub = new Trainer(new UniCodeModel(tinyConfig({ useClub: false }), { seed: 9 }), { progress: false });
  await assert.rejects(noClub.step(single), /the batch has 1 clip; Cross-CPC needs at least 2/);
  for (const t of [trainer, noClub]) {
    t.dispose();
    t.model.dispose();
  }
});

test('a forward that throws inside the gradient tape leaves no tensor and no trace', async () => {
  // A permutation of the wrong length makes CLUB's MI estimate throw mid-forward, after the inner loop.
  const trainer = new Trainer(new UniCodeModel(config, { seed: 9 }), {
    progress: false,
    replayDraws: (drawn) => ({ ...drawn, permutations: drawn.permutations.map((p) => p.slice(1)) }),
  });
  const before = await stateOf(trainer);
  const tensors = tf.memory().numTensors;
  await assert.rejects(trainer.step(data[0]), /permutation has 3 entries, the batch has 4/);
  assert.equal(tf.memory().numTensors, tensors, 'tensors left behind by the failed forward');
  assert.deepEqual(await stateOf(trainer), before);
  trainer.dispose();
  trainer.model.dispose();
});
