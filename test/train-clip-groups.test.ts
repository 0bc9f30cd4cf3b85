// Gradient clipping groups: the published grouping (Cross-CPC; every encoder as one group; the text
// front; each CLUB net, measured only; every decoder as one group) is the default, per-sub-model
// clipping is a named option, and each group's pre-clip norm is what the step reports and applies.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UniCodeModel } from '../src/model/uniCode.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { clipGroupsOf } from '../src/train/clipGroups.js';
import { type GroupGradients, Trainer } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

before(async () => {
  await initTfjs();
});

const byPrefix = (names: string[], ...prefixes: string[]) => names.filter((n) => prefixes.some((p) => n.startsWith(p)));

test('published groups: CPC, all encoders as one, the text front, each CLUB net, all decoders as one', () => {
  const model = new UniCodeModel(tinyConfig({ textFront: { inputDim: 20, hidden: 6, layers: 1 } }), { seed: 1 });
  const names = model.params.names();
  const groups = clipGroupsOf(model, 'published');
  assert.deepEqual(
    groups.map((g) => g.name),
    ['cpc', 'encoders', 'front.text', 'club.audio', 'club.video', 'club.text', 'decoders'],
  );
  const members = Object.fromEntries(groups.map((g) => [g.name, g.params]));
  assert.deepEqual(members.cpc, byPrefix(names, 'cpc.'));
  assert.deepEqual(new Set(members.encoders), new Set(byPrefix(names, 'semantic.', 'specific.')));
  assert.ok(
    members.encoders.includes('semantic.video.pool.query.weight') &&
      members.encoders.includes('specific.video.conv1.weight'),
  );
  assert.deepEqual(members['front.text'], byPrefix(names, 'front.text.'));
  for (const m of ['audio', 'video', 'text']) assert.deepEqual(members[`club.${m}`], byPrefix(names, `club.${m}.`));
  assert.deepEqual(new Set(members.decoders), new Set(byPrefix(names, 'decoder.')));
  assert.deepEqual(
    groups.map((g) => g.applied),
    [true, true, true, false, false, false, true],
  );
  // Every parameter in exactly one group.
  assert.deepEqual(groups.flatMap((g) => g.params).sort(), [...names].sort());
  model.dispose();
});

test('per-submodel groups and ablations: no CLUB groups without CLUB nets, no CPC group without CPC', () => {
  const model = new UniCodeModel(tinyConfig({ modalities: 'AV', useClub: false, useCpc: false }), { seed: 1 });
  assert.deepEqual(
    clipGroupsOf(model, 'published').map((g) => g.name),
    ['encoders', 'decoders'],
  );
  assert.deepEqual(
    clipGroupsOf(model, 'per-submodel').map((g) => g.name),
    ['semantic.audio', 'semantic.video', 'specific.audio', 'specific.video', 'decoder.audio', 'decoder.video'],
  );
  model.dispose();
});

test('the trainer clips with the published groups by default and refuses an unknown grouping', () => {
  const model = new UniCodeModel(tinyConfig(), { seed: 1 });
  assert.equal(new Trainer(model, { progress: false }).hyper.clipGroups, 'published');
  assert.throws(
    () => new Trainer(model, { clipGroups: 'per-model' as never }),
    /options\.clipGroups must be one of 'published', 'per-submodel', got per-model/,
  );
  model.dispose();
});

/** One step from seed 7; returns the step's norms, the first Adam moments and the CLUB weights. */
async function oneStep(clipGroups: 'published' | 'per-submodel', inspect?: (g: GroupGradients[]) => void) {
  const config = tinyConfig();
  const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 3 });
  const model = new UniCodeModel(config, { seed: 7 });
  const trainer = new Trainer(model, { progress: false, clipGroups, inspectGradients: inspect });
  const metrics = await trainer.step(batch);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-clip-'));
  const file = path.join(dir, 'step.ckpt');
  await trainer.saveCheckpoint(file);
  const { tensors } = loadCheckpoint(file);
  fs.rmSync(dir, { recursive: true });
  const club = model.params.exportWeights()['club.video.p_mu.0.weight'].data;
  trainer.dispose();
  model.dispose();
  return { norms: metrics.gradNorm, moment: (name: string) => tensors[`optimizer.main.m.${name}`].data, club };
}

test("a group norm is the norm of all its members, and every member is scaled by its group's clip", async () => {
  let seen: GroupGradients[] = [];
  const published = await oneStep('published', (groups) => {
    seen = groups;
  });
  const perSubmodel = await oneStep('per-submodel');
  assert.deepEqual(Object.keys(published.norms), [
    'cpc',
    'encoders',
    'club.audio',
    'club.video',
    'club.text',
    'decoders',
  ]);
  assert.deepEqual(
    seen.map((g) => g.name),
    Object.keys(published.norms),
  );
  // The first step's pre-clip gradients do not depend on the grouping.
  const p = perSubmodel.norms;
  const joint = (...groups: string[]) => Math.sqrt(groups.reduce((s, g) => s + p[g] ** 2, 0));
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${what}: ${a} vs ${b}`);
  close(
    published.norms.encoders,
    joint(...['semantic', 'specific'].flatMap((k) => ['audio', 'video', 'text'].map((m) => `${k}.${m}`))),
    'encoders',
  );
  close(published.norms.decoders, joint('decoder.audio', 'decoder.video', 'decoder.text'), 'decoders');
  close(published.norms.cpc, p.cpc, 'cpc');
  for (const m of ['audio', 'video', 'text']) assert.ok(published.norms[`club.${m}`] > 0, `club.${m} is measured`);
  assert.ok(
    published.norms.encoders > 0.5,
    "the tiny model's encoder gradients are clipped, so the test can see the scale",
  );
  // Adam's first moment after step 1 is 0.1 × the clipped gradient: its ratio between the two runs
  // is the ratio of the clip factors of the groups the parameter belongs to.
  const scale = (norm: number) => Math.min(1, 0.5 / (norm + 1e-6));
  for (const [param, pubGroup, subGroup] of [
    ['semantic.audio.proj.weight', 'encoders', 'semantic.audio'],
    ['specific.video.conv1.weight', 'encoders', 'specific.video'],
    ['decoder.text.out.weight', 'decoders', 'decoder.text'],
  ]) {
    const a = published.moment(param);
    const b = perSubmodel.moment(param);
    const want = scale(published.norms[pubGroup]) / scale(p[subGroup]);
    const i = b.findIndex((v) => Math.abs(v) > 1e-6);
    close(a[i] / b[i], want, param);
  }
  // The CLUB nets step in the inner loop only: their measured clip changes nothing.
  assert.deepEqual(published.club, perSubmodel.club);
});
