// The data-parallel seams: the trainer's gradient all-reduce hook sees every main gradient and its
// answer is what the optimizer applies; the codebook's statistics hook is covered in model-codebook.
// A communicator of one rank runs the whole data-parallel path and must change nothing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { Communicator } from '../src/distributed/communicator.js';
import { type StepMetrics, Trainer, type TrainerOptions } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
import { assertWeightsMatch, maxAbsDiff, numbersOf } from './distributed-support.js';
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
    allReduceGradients: (grads) => {
      calls++;
      return grads.map((g) => g.slice());
    },
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
  assert.notDeepEqual(
    after['club.audio.p_mu.0.weight'].data,
    before['club.audio.p_mu.0.weight'].data,
    'CLUB nets train on their own',
  );

  const wrong = new Trainer(new UniCodeModel(config, { seed: 3 }), { progress: false, allReduceGradients: () => [] });
  await assert.rejects(wrong.step(data[0]), /allReduceGradients must return one Float32Array per gradient/);
  for (const t of [plain, identity, frozen, wrong]) {
    t.dispose();
    t.model.dispose();
  }
});

/** A world of one rank: every sum is the value itself. */
const oneRank: Communicator = {
  rank: 0,
  size: 1,
  allReduceSum: () => {},
  barrier: () => {},
  abort: (code) => {
    throw new Error(`abort(${code})`);
  },
};

test('a one-rank communicator runs the data-parallel path and trains as no communicator', async () => {
  const plain = new Trainer(new UniCodeModel(config, { seed: 3 }), { progress: false });
  const parallel = new Trainer(new UniCodeModel(config, { seed: 3 }), { progress: false, communicator: oneRank });
  for (const batch of data) {
    const want = numbersOf(outcome(await plain.step(batch)));
    const got = numbersOf(outcome(await parallel.step(batch)));
    assert.deepEqual([...got.keys()], [...want.keys()]);
    // Not bit for bit: the gather nodes reorder the tape's gradient sums, and the codebook update
    // runs in two phases instead of the native fused step.
    for (const [key, value] of got) {
      const expected = want.get(key)!;
      assert.ok(Math.abs(value - expected) <= 1e-6 * Math.max(1, Math.abs(value)), `${key}: ${value} vs ${expected}`);
    }
  }
  const dataOf = (t: Trainer) =>
    Object.fromEntries(Object.entries(t.model.params.exportWeights()).map(([n, w]) => [n, w.data]));
  assertWeightsMatch(dataOf(parallel), dataOf(plain), data.length, 'one rank', 1e-6);
  const [a, b] = [parallel.model.codebook.getState(), plain.model.codebook.getState()];
  assert.ok(maxAbsDiff(Array.from(a.embedding), Array.from(b.embedding)) <= 1e-6, 'codebook');
  assert.deepEqual(a.unusedCount, b.unusedCount);
  for (const t of [plain, parallel]) {
    t.dispose();
    t.model.dispose();
  }
});

test('a communicator refuses a second all-reduce and a malformed communicator', () => {
  const model = new UniCodeModel(config, { seed: 3 });
  const make = (options: TrainerOptions) => () => new Trainer(model, options);
  assert.throws(make({ communicator: oneRank, allReduceGradients: (g) => g }), /communicator does its own all-reduce/);
  assert.throws(make({ communicator: { ...oneRank, rank: 1 } }), /communicator must be a Communicator/);
  assert.throws(make({ communicator: oneRank, checksumEvery: 0 }), /checksumEvery must be a positive integer, got 0/);
  model.dispose();
});
