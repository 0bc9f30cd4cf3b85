// The data-parallel seams: the trainer's gradient all-reduce hook sees every main gradient and its
// answer is what the optimizer applies; the codebook's statistics hook is covered in model-codebook.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { UniCodeModel } from '../src/model/uniCode.js';
import { type StepMetrics, Trainer } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const config = tinyConfig({ modalities: 'AV' });
const data = syntheticBatches(config, { batches: 2, batchSize: 4, seed: 41 });
const outcome = ({ timeMs: _ignored, ...rest }: StepMetrics) => rest;

test('allReduceGradients: the identity changes nothing, zeros freeze the main weights', async () => {
  const plain = new Trainer(new UniCodeModel(config, { seed: 3 }), { progress: false });
  let calls = 0;
  const identity = new Trainer(new UniCodeModel(config, { seed: 3 }), {
    progress: false,
    allReduceGradients: (grads) => { calls++; return grads.map((g) => g.slice()); },
  });
  for (const batch of data) assert.deepEqual(outcome(await identity.step(batch)), outcome(await plain.step(batch)));
  assert.equal(calls, 2);

  const frozen = new Trainer(new UniCodeModel(config, { seed: 3 }), {
    progress: false,
    allReduceGradients: async (grads) => grads.map((g) => new Float32Array(g.length)),
  });
  const main = frozen.model.mainGroups().flatMap((g) => frozen.model.params.namesIn(g));
  const before = frozen.model.params.exportWeights();
  await frozen.step(data[0]);
  const after = frozen.model.params.exportWeights();
  for (const name of main) assert.deepEqual(after[name].data, before[name].data, name);
  assert.notDeepEqual(after['club.audio.p_mu.0.weight'].data, before['club.audio.p_mu.0.weight'].data, 'CLUB nets train on their own');

  const wrong = new Trainer(new UniCodeModel(config, { seed: 3 }), { progress: false, allReduceGradients: () => [] });
  await assert.rejects(wrong.step(data[0]), /allReduceGradients must return one Float32Array per gradient/);
  for (const t of [plain, identity, frozen, wrong]) {
    t.dispose();
    t.model.dispose();
  }
});
