// The assembled model: deterministic init, sub-model groups, shapes end to end, the ablations
// (plain shared VQ, no CLUB) and the BiLSTM text front train, and frozen encoding checks its input.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { INFERENCE } from '../src/model/layers/context.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

test('the same seed gives the same weights and codebook; another seed does not', () => {
  const config = tinyConfig({ modalities: 'AV' });
  const [a, b, c] = [1, 1, 2].map((seed) => new UniCodeModel(config, { seed }));
  assert.deepEqual(a.params.exportWeights(), b.params.exportWeights());
  assert.deepEqual(a.codebook.getState(), b.codebook.getState());
  assert.notDeepEqual(
    a.params.exportWeights()['semantic.audio.proj.weight'],
    c.params.exportWeights()['semantic.audio.proj.weight'],
  );
  // docs/algorithm.md §3: embedding in (-1/400, 1/400), ema_weight a copy, counts 0, unused -1.
  const s = a.codebook.getState();
  assert.ok(s.embedding.every((v) => Math.abs(v) < 1 / 400));
  assert.deepEqual(s.emaWeight, s.embedding);
  assert.ok(s.emaCount.every((v) => v === 0) && s.unusedCount.every((v) => v === -1));
  [a, b, c].forEach((m) => m.dispose());
});

test('sub-model groups: each encoder and decoder on its own, CPC as one, CLUB nets apart from the main optimizer', () => {
  const model = new UniCodeModel(tinyConfig(), { seed: 1 });
  assert.deepEqual(model.mainGroups(), [
    'semantic.audio',
    'semantic.video',
    'semantic.text',
    'specific.audio',
    'specific.video',
    'specific.text',
    'decoder.audio',
    'decoder.video',
    'decoder.text',
    'cpc',
  ]);
  assert.deepEqual(
    model.params.groups().filter((g) => g.startsWith('club.')),
    ['club.audio', 'club.video', 'club.text'],
  );
  // CPC parameters carry the published state-dict names.
  assert.ok(model.params.namesIn('cpc').includes('cpc.video_ar_lstm.weight_hh_l1'));
  assert.deepEqual([...model.params.get('cpc.video_ar_lstm.weight_ih_l0').shape], [4 * 16, 16]);
  model.dispose();
});

test('shapes end to end: semantic z, specific features, reconstructions and frozen codes', () => {
  const config = tinyConfig();
  const model = new UniCodeModel(config, { seed: 4 });
  const [batch] = syntheticBatches(config, { batches: 1, batchSize: 3, seed: 1 });
  const raw = {
    audio: tf.tensor(batch.audio as Float32Array, [3, 5, 12]),
    video: tf.tensor(batch.video as Float32Array, [3, 5, 5, 5, 16]),
    text: tf.tensor(batch.text as Float32Array, [3, 5, 12]),
  };
  tf.tidy(() => {
    for (const m of model.modalities) {
      const z = model.semanticOf(m, model.encoderInput(m, raw[m]), INFERENCE);
      assert.deepEqual(z.shape, [3, 5, 16], `${m} z`);
      const { psi, clubFeature } = model.specificOf(m, raw[m]);
      assert.deepEqual(clubFeature.shape, m === 'video' ? [3, 5, 16] : [3, 5, 16], `${m} CLUB feature`);
      if (m === 'video') assert.deepEqual(psi.shape, [3, 5, 1, 1, 16], 'video ψ: 5x5 grid shrinks by 4');
      assert.deepEqual(model.decode(m, psi, z).shape, raw[m].shape, `${m} reconstruction`);
    }
  });
  const { codes, quantized } = model.encode('video', raw.video);
  assert.deepEqual(codes.shape, [3, 5]);
  assert.deepEqual(quantized.shape, [3, 5, 16]);
  assert.ok(Array.from(codes.dataSync()).every((c) => c >= 0 && c < config.codebookSize));
  assert.throws(
    () => model.encode('audio', raw.text.reshape([3, 5, 2, 6])),
    /audio: expected shape \[B, 5, 12\], got \[3, 5, 2, 6\]/,
  );
  assert.throws(() => model.encode('depth' as never, raw.audio), /modality 'depth' is not in this model/);
  const av = new UniCodeModel(tinyConfig({ modalities: 'AV' }), { seed: 4 });
  assert.throws(() => av.encode('text', raw.text), /modality 'text' is not in this model \(audio, video\)/);
  tf.dispose([...Object.values(raw), codes, quantized]);
  model.dispose();
  av.dispose();
});

test('the plain shared-VQ baseline (CLUB, CPC, cross-modal EMA and L_cmcm off) has no CLUB/CPC nets and trains', async () => {
  const config = tinyConfig({ modalities: 'AV', useClub: false, useCpc: false, crossModalEma: false, useCmcm: false });
  const model = new UniCodeModel(config, { seed: 5 });
  assert.equal(model.cpc, null);
  assert.deepEqual(
    model.params.groups().filter((g) => g.startsWith('club.') || g === 'cpc'),
    [],
  );
  const trainer = new Trainer(model, { progress: false });
  const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 2 });
  const m = await trainer.step(batch);
  assert.deepEqual(m.loss.mi, {});
  assert.deepEqual(m.cpcAccuracy, {});
  assert.equal(m.loss.cpc, 0);
  assert.equal(m.loss.cmcm, 0);
  assert.ok(Number.isFinite(m.loss.total) && m.loss.total > 0);
  trainer.dispose();
  model.dispose();
});

test('the BiLSTM text front takes raw embeddings, trains with the model and is reconstructed against', async () => {
  const config = tinyConfig({ modalities: 'AT', textFront: { inputDim: 20, hidden: 6, layers: 2 } });
  const model = new UniCodeModel(config, { seed: 6 });
  assert.ok(model.mainGroups().includes('front.text'));
  const trainer = new Trainer(model, { progress: false });
  const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 3 });
  assert.equal((batch.text as Float32Array).length, 4 * 5 * 20);
  const before = model.params.exportWeights()['front.text.lstm.weight_ih_l0_reverse'].data;
  const m = await trainer.step(batch);
  assert.ok(Number.isFinite(m.loss.recon.text!));
  assert.ok(m.gradNorm['front.text'] > 0, 'gradients reach the front');
  assert.notDeepEqual(model.params.exportWeights()['front.text.lstm.weight_ih_l0_reverse'].data, before);
  trainer.dispose();
  model.dispose();
});
