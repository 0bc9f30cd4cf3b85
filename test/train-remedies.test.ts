// The non-published options offered against codebook collapse (docs/av-fashion.md): detachMiCode
// keeps CLUB's MI gradient out of the code, resetEma keeps a revived code where the reset put it.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigOverrides } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { type GroupGradients, Trainer } from '../src/train/trainer.js';
import { readTrainingCheckpoint } from '../src/train/trainingCheckpoint.js';
import { initTfjs } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

/** The weights and codebook of the published tiny model from seed 7, CLUB nets included. */
function publishedStart() {
  const model = new UniCodeModel(tinyConfig(), { seed: 7 });
  const start = { weights: model.params.exportWeights(), codebook: model.codebook.getState() };
  model.dispose();
  return start;
}

/**
 * The pre-clip encoder gradients of one step, by parameter name, from the published model's weights
 * and codebook (a model without CLUB nets would draw the rest differently from the same seed).
 */
async function encoderGradients(overrides: ConfigOverrides): Promise<Map<string, Float32Array>> {
  const config = tinyConfig(overrides);
  const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 3 });
  const model = new UniCodeModel(config, { seed: 7 });
  const start = publishedStart();
  const own = new Set(model.params.names());
  model.params.importWeights(Object.fromEntries(Object.entries(start.weights).filter(([n]) => own.has(n))), {
    partial: true,
  });
  model.codebook.setState(start.codebook);
  const seen = new Map<string, Float32Array>();
  const trainer = new Trainer(model, {
    progress: false,
    inspectGradients: (groups: GroupGradients[]) => {
      const encoders = groups.find((g) => g.name === 'encoders');
      encoders?.params.forEach((name, i) => seen.set(name, encoders.grads[i].dataSync() as Float32Array));
    },
  });
  await trainer.step(batch);
  trainer.dispose();
  model.dispose();
  return seen;
}

/** Largest |a - b| over the parameters whose name starts with prefix, relative to the largest |b|. */
function relativeGap(a: Map<string, Float32Array>, b: Map<string, Float32Array>, prefix: string): number {
  let gap = 0;
  let scale = 0;
  for (const [name, bv] of b) {
    if (!name.startsWith(prefix)) continue;
    const av = a.get(name);
    assert.ok(av !== undefined, `${name} has a gradient in both runs`);
    for (let i = 0; i < bv.length; i++) {
      gap = Math.max(gap, Math.abs(av[i] - bv[i]));
      scale = Math.max(scale, Math.abs(bv[i]));
    }
  }
  assert.ok(scale > 0, `the ${prefix} gradients are not all zero`);
  return gap / scale;
}

test('detachMiCode: the semantic encoders get no MI gradient, the specific encoders keep theirs', async () => {
  const withoutClub = await encoderGradients({ useClub: false });
  const detached = await encoderGradients({ detachMiCode: true });
  const published = await encoderGradients({});
  // Through the code is MI's only way into a semantic encoder, so detached equals no CLUB there.
  assert.ok(relativeGap(detached, withoutClub, 'semantic.') === 0, 'semantic: detached = without CLUB');
  assert.ok(relativeGap(published, withoutClub, 'semantic.') > 1e-3, 'semantic: published MI reaches the code');
  // The specific encoders still get MI's gradient through y.
  assert.ok(relativeGap(detached, withoutClub, 'specific.') > 1e-4, 'specific: MI still reaches them');
  assert.ok(relativeGap(detached, published, 'specific.') === 0, 'specific: detaching the code changes nothing');
});

test('a checkpoint from before detachMiCode existed loads as published; a bad value is still refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-remedies-'));
  const file = path.join(dir, 'old.ckpt');
  const model = new UniCodeModel(tinyConfig(), { seed: 7 });
  const trainer = new Trainer(model, { progress: false });
  await trainer.saveCheckpoint(file);
  trainer.dispose();
  model.dispose();
  const rewrite = (edit: (config: Record<string, unknown>) => void) => {
    const payload = loadCheckpoint(file);
    edit(payload.meta.config as Record<string, unknown>);
    saveCheckpoint(file, payload);
  };
  rewrite((config) => {
    delete config.detachMiCode;
  });
  assert.equal(readTrainingCheckpoint(file).recipe.config.detachMiCode, false);
  rewrite((config) => {
    config.detachMiCode = 'yes';
  });
  assert.throws(() => readTrainingCheckpoint(file), /config\.detachMiCode must be a boolean, got yes/);
  fs.rmSync(dir, { recursive: true });
});
