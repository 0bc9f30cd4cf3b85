// Bad input to the trainer is refused with an error naming the problem, before anything changes:
// after every refused call, the next good step gives exactly what a fresh trainer's first step gives.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import { type StepMetrics, Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { assertStepRefused, overflowingAudio } from './nonfinite-step-support.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const config = tinyConfig();
const [good] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 31 });
const audio = good.audio as Float32Array;

function fresh(): Trainer {
  return new Trainer(new UniCodeModel(config, { seed: 2 }), { progress: false });
}

function outcome(m: StepMetrics) {
  const { timeMs: _ignored, ...rest } = m;
  return rest;
}

function withValue(values: Float32Array, index: number, value: number): Float32Array {
  const copy = values.slice();
  copy[index] = value;
  return copy;
}

/** Made inside the test: tensors need the backend. */
const badBatches = (): [string, unknown, RegExp][] => [
  ['a missing modality', { audio: good.audio, video: good.video }, /batch\.text is missing/],
  ['an unknown key', { ...good, depth: good.audio }, /batch\.depth is not a modality/],
  [
    'a wrong feature size',
    { ...good, audio: audio.subarray(1) },
    /batch\.audio has 239 values, not a positive multiple of 5\*12/,
  ],
  [
    'a tensor of the wrong shape',
    { ...good, audio: tf.zeros([4, 6, 12]) },
    /batch\.audio must have shape \[B, 5, 12\], got \[4, 6, 12\]/,
  ],
  ['an int32 tensor', { ...good, audio: tf.zeros([4, 5, 12], 'int32') }, /batch\.audio must be float32/],
  [
    'different batch sizes',
    { ...good, text: (good.text as Float32Array).subarray(0, 3 * 5 * 12) },
    /batch\.text has B = 3 clips but batch\.audio has 4/,
  ],
  [
    'a NaN',
    { ...good, video: withValue(good.video as Float32Array, 17, NaN) },
    /batch\.video holds a non-finite value \(NaN\) at flat index 17/,
  ],
  [
    'an Infinity',
    { ...good, text: withValue(good.text as Float32Array, 3, -Infinity) },
    /batch\.text holds a non-finite value \(-Infinity\)/,
  ],
  ['an empty array', { ...good, audio: new Float32Array(0) }, /batch\.audio has 0 values/],
  ['not an object', 42, /batch must be an object/],
];

test('bad batches are refused with a clear error and change no state', async () => {
  const reference = fresh();
  const expected = outcome(await reference.step(good));
  const trainer = fresh();
  const weights = trainer.model.params.exportWeights();
  const codebook = trainer.model.codebook.getState();
  for (const [what, batch, message] of badBatches()) {
    await assert.rejects(trainer.step(batch as PairedBatch), message, what);
    assert.equal(trainer.globalStep, 0, what);
  }
  assert.deepEqual(trainer.model.params.exportWeights(), weights);
  assert.deepEqual(trainer.model.codebook.getState(), codebook);
  // Nothing moved, the RNG included: the first real step is the reference's first step.
  assert.deepEqual(outcome(await trainer.step(good)), expected);
  for (const t of [reference, trainer]) {
    t.dispose();
    t.model.dispose();
  }
});

test('an empty data source and bad train options are refused before any step', async () => {
  const trainer = fresh();
  const weights = trainer.model.params.exportWeights();
  await assert.rejects(trainer.train([], { epochs: 1 }), /the data source yielded no batches for epoch 0/);
  await assert.rejects(trainer.train([good], { epochs: 0 }), /options\.epochs must be a positive integer, got 0/);
  await assert.rejects(
    trainer.train([good], { epochs: 1, maxSteps: -1 }),
    /options\.maxSteps must be a non-negative integer/,
  );
  await assert.rejects(
    trainer.train(42 as unknown as PairedBatch[], { epochs: 1 }),
    /data must be a PairedBatchSource/,
  );
  assert.deepEqual(trainer.model.params.exportWeights(), weights);
  assert.equal(trainer.globalStep, 0);
  assert.throws(
    () => new Trainer(trainer.model, { learningRate: -1 }),
    /options\.learningRate must be a finite number > 0, got -1/,
  );
  assert.throws(
    () => new Trainer(trainer.model, { checkpointEvery: 5 }),
    /checkpointEvery needs options\.checkpointPath/,
  );
  trainer.dispose();
  trainer.model.dispose();
});

test('a step whose loss turns non-finite fails and leaves weights, codebook and RNG as they were', async () => {
  // Without CLUB (whose inner steps come before the main loss), a failed step must change nothing.
  const noClub = tinyConfig({ useClub: false });
  const make = () => new Trainer(new UniCodeModel(noClub, { seed: 2 }), { progress: false });
  const reference = make();
  const expected = outcome(await reference.step(good));
  const trainer = make();
  const broken = trainer.model.params.get('decoder.audio.out.weight');
  const saved = tf.clone(broken);
  broken.assign(tf.fill(broken.shape, NaN));
  const weights = trainer.model.params.exportWeights();
  const codebook = trainer.model.codebook.getState();
  await assert.rejects(trainer.step(good), /a loss term is not finite \(recon_audio=NaN/);
  assert.deepEqual(trainer.model.params.exportWeights(), weights);
  assert.deepEqual(trainer.model.codebook.getState(), codebook);
  assert.equal(trainer.globalStep, 0);
  broken.assign(saved);
  saved.dispose();
  assert.deepEqual(outcome(await trainer.step(good)), expected);
  for (const t of [reference, trainer]) {
    t.dispose();
    t.model.dispose();
  }
});

test('a batch that makes z non-finite, or a NaN CLUB cost, fails the step and changes nothing', async () => {
  for (const useClub of [true, false]) {
    const trainer = new Trainer(new UniCodeModel(tinyConfig({ useClub }), { seed: 2 }), { progress: false });
    // A first step, so that the optimizers hold moments to keep.
    await trainer.step(good);
    // On the host, quantize checks the z it reads before anything runs on it.
    await assertStepRefused(trainer, overflowingAudio(good), /quantize: z contains a non-finite value \(NaN\)/);
    trainer.dispose();
    trainer.model.dispose();
  }
  // A NaN CLUB net: the costs of all inner steps are read after the loop; the first bad one is named.
  const trainer = fresh();
  await trainer.step(good);
  const broken = trainer.model.params.get('club.audio.p_logvar.6.weight');
  broken.assign(tf.fill(broken.shape, NaN));
  await assertStepRefused(trainer, good, /step 2: CLUB \(audio\) log-likelihood is not finite \(inner step 1 of 5\)/);
  trainer.dispose();
  trainer.model.dispose();
});

test('a trainer used after dispose(), or whose model was disposed, says so', async () => {
  const av = tinyConfig({ modalities: 'AV' });
  const [batch] = syntheticBatches(av, { batches: 1, batchSize: 4, seed: 5 });
  const trainer = new Trainer(new UniCodeModel(av, { seed: 1 }), { progress: false });
  trainer.dispose();
  trainer.dispose();
  await assert.rejects(trainer.step(batch), /Trainer\.step: the trainer has been disposed/);
  await assert.rejects(trainer.train([batch], { epochs: 1 }), /Trainer\.train: the trainer has been disposed/);
  await assert.rejects(
    trainer.saveCheckpoint('/nonexistent/x.ucmg'),
    /Trainer\.saveCheckpoint: the trainer has been disposed/,
  );
  const orphan = new Trainer(trainer.model, { progress: false });
  trainer.model.dispose();
  await assert.rejects(orphan.step(batch), /Trainer\.step: its model has been disposed/);
  orphan.dispose();
});
