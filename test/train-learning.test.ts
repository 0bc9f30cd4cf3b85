// A short pretraining run on synthetic paired clips must learn: the total loss falls, and Cross-CPC
// tells the paired clip apart from the batch's others across modalities well above chance (1/B),
// measured on held-out clips without dropout, before and after training.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { INFERENCE } from '../src/model/layers/context.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const BATCH = 8;

/** Mean Cross-CPC accuracy over the cross-modal pairs, every start step t and the given clips. */
function crossModalCpcAccuracy(model: UniCodeModel, batches: PairedBatch[]): number {
  const mods = model.modalities;
  let sum = 0;
  let count = 0;
  for (const batch of batches) {
    const features = mods.map((m) =>
      tf.tensor(batch[m] as Float32Array, [BATCH, model.config.segments, ...(m === 'video' ? [5, 5, 16] : [12])]),
    );
    const z = tf.tidy(() => mods.map((m, i) => model.semanticOf(m, model.encoderInput(m, features[i]), INFERENCE)));
    for (let t = 1; t <= model.config.segments - 2; t++) {
      const { loss, accuracies } = model.cpc!.forward(z, t);
      loss.dispose();
      mods.forEach((_, i) =>
        mods.forEach((__, j) => {
          if (i !== j) {
            sum += accuracies[i][j];
            count++;
          }
        }),
      );
    }
    tf.dispose([...features, ...z]);
  }
  return sum / count;
}

test('a short run on synthetic paired data lowers the loss and lifts cross-modal CPC accuracy above chance', async () => {
  const config = tinyConfig();
  const train = syntheticBatches(config, { batches: 8, batchSize: BATCH, seed: 11 });
  const heldOut = syntheticBatches(config, { batches: 2, batchSize: BATCH, seed: 12 });
  const model = new UniCodeModel(config, { seed: 3 });
  const trainer = new Trainer(model, { progress: false, learningRate: 2e-3 });
  const before = crossModalCpcAccuracy(model, heldOut);
  const totals: number[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    for (const batch of train) totals.push((await trainer.step(batch)).loss.total);
  }
  const after = crossModalCpcAccuracy(model, heldOut);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(totals.slice(0, 8));
  const last = mean(totals.slice(-8));
  assert.ok(
    last < 0.9 * first,
    `total loss should fall by over 10%: first epoch ${first.toFixed(3)}, last ${last.toFixed(3)}`,
  );
  const chance = 1 / BATCH;
  assert.ok(
    after > 2 * chance,
    `cross-modal CPC accuracy ${after.toFixed(3)} should exceed twice chance (${(2 * chance).toFixed(3)})`,
  );
  assert.ok(
    after > before + 0.1,
    `cross-modal CPC accuracy should rise: before ${before.toFixed(3)}, after ${after.toFixed(3)}`,
  );
  trainer.dispose();
  model.dispose();
});
