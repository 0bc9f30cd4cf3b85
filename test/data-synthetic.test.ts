import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClipDataset } from '../src/data/dataset.js';
import { InvalidInputError } from '../src/data/errors.js';
import { PAPER_SHAPED_SYNTHETIC, generateSynthetic, syntheticConfig } from '../src/data/synthetic.js';

function allClips(ds: ClipDataset): number[] {
  return Array.from({ length: ds.numClips }, (_, i) => i);
}

/** Whether segment s of clip i (row-major [n, T, C] labels) holds any event. */
function hasEvent(labels: Uint8Array, i: number, s: number, t: number, c: number): boolean {
  return labels.subarray((i * t + s) * c, (i * t + s + 1) * c).some((v) => v > 0);
}

test('the generator is deterministic under a seed, and the seed matters', () => {
  const options = { modalities: ['audio', 'video', 'text'] as const, numClips: 40, seed: 7 };
  const a = generateSynthetic({ ...options, modalities: [...options.modalities] });
  const b = generateSynthetic({ ...options, modalities: [...options.modalities] });
  const c = generateSynthetic({ ...options, modalities: [...options.modalities], seed: 8 });
  const clips = allClips(a);
  for (const m of a.modalities) {
    assert.deepEqual(a.readFeatures(m, clips), b.readFeatures(m, clips), m);
    assert.notDeepEqual(a.readFeatures(m, clips), c.readFeatures(m, clips), m);
    assert.deepEqual(a.readSegmentLabels(clips, m), b.readSegmentLabels(clips, m));
  }
  assert.deepEqual(a.readClipLabels(clips), b.readClipLabels(clips));
  assert.deepEqual(a.split('train'), b.split('train'));
});

test('shapes, classes and splits follow the configuration', () => {
  const ds = generateSynthetic({
    modalities: ['video', 'text'],
    numClips: 50,
    numClasses: 5,
    segments: 6,
    eventLength: [2, 4],
    featureShapes: { video: [3, 2, 7], text: [9] },
  });
  assert.deepEqual(ds.modalities, ['video', 'text']);
  assert.equal(ds.numClips, 50);
  assert.equal(ds.segments, 6);
  assert.equal(ds.classes.length, 5);
  assert.deepEqual(ds.featureShape('video'), [6, 3, 2, 7]);
  assert.deepEqual(ds.featureShape('text'), [6, 9]);
  const splits = ['train', 'val', 'test'].map((s) => Array.from(ds.split(s)));
  assert.deepEqual(
    splits.map((s) => s.length),
    [35, 5, 10],
  );
  assert.deepEqual(
    splits.flat().sort((x, y) => x - y),
    allClips(ds),
    'the splits partition the clips',
  );
  assert.deepEqual(syntheticConfig().featureShapes.video, [4, 4, 16]);
  assert.deepEqual(PAPER_SHAPED_SYNTHETIC.featureShapes, { audio: [128], video: [7, 7, 512], text: [256] });
});

test('labels are consistent: one contiguous event of the clip class, shared = present in every modality', () => {
  const ds = generateSynthetic({
    modalities: ['audio', 'video', 'text'],
    numClips: 300,
    eventLength: [2, 5],
    misalignedFraction: 0.3,
    seed: 3,
  });
  const { segments: t, numClips: n } = ds;
  const c = ds.classes.length;
  const clips = allClips(ds);
  const labels = ds.readClipLabels(clips);
  const shared = ds.readSegmentLabels(clips);
  const own = ds.modalities.map((m) => ds.readSegmentLabels(clips, m));
  let eventSegments = 0;
  let misaligned = 0;
  for (let i = 0; i < n; i++) {
    const run: number[] = [];
    for (let s = 0; s < t; s++) {
      for (let k = 0; k < c; k++) {
        const anyModality = own.some((o) => o[(i * t + s) * c + k] === 1);
        if (anyModality)
          assert.equal(k, labels[i], `clip ${i} segment ${s} carries class ${k}, clip class ${labels[i]}`);
        const everyModality = own.every((o) => o[(i * t + s) * c + k] === 1);
        assert.equal(shared[(i * t + s) * c + k], everyModality ? 1 : 0);
      }
      if (own.some((o) => hasEvent(o, i, s, t, c))) run.push(s);
      if (own.filter((o) => hasEvent(o, i, s, t, c)).length === 1) misaligned++;
    }
    // The union over modalities is the clip's one contiguous event, of a configured length.
    assert.ok(run.length >= 2 && run.length <= 5, `clip ${i} event length ${run.length}`);
    assert.equal(run[run.length - 1] - run[0] + 1, run.length, `clip ${i} event is contiguous`);
    eventSegments += run.length;
  }
  const fraction = misaligned / eventSegments;
  assert.ok(fraction > 0.22 && fraction < 0.38, `misaligned fraction ${fraction}, configured 0.3`);

  const aligned = generateSynthetic({ numClips: 50, misalignedFraction: 0 });
  const all = allClips(aligned);
  for (const m of aligned.modalities)
    assert.deepEqual(aligned.readSegmentLabels(all, m), aligned.readSegmentLabels(all));
});

/** Nearest-class-mean accuracy of per-clip mean features over the selected segments. */
function nearestMeanAccuracy(
  ds: ClipDataset,
  trainModality: string,
  testModality: string,
  segments: 'event' | 'background',
): number {
  const c = ds.classes.length;
  const t = ds.segments;
  const features = (m: string, clips: Int32Array) => {
    const x = ds.readFeatures(m, clips);
    const own = ds.readSegmentLabels(clips, m);
    const size = ds.clipElements(m) / t;
    return Array.from(clips, (_, i) => {
      const v = new Float64Array(size);
      let count = 0;
      for (let s = 0; s < t; s++) {
        if (hasEvent(own, i, s, t, c) !== (segments === 'event')) continue;
        count++;
        for (let d = 0; d < size; d++) v[d] += x[(i * t + s) * size + d];
      }
      return v.map((value) => value / Math.max(count, 1));
    });
  };
  const train = ds.split('train');
  const test = ds.split('test');
  const trainX = features(trainModality, train);
  const trainY = ds.readClipLabels(train);
  const size = trainX[0].length;
  const means = Array.from({ length: c }, () => new Float64Array(size));
  const counts = new Array(c).fill(0);
  trainX.forEach((v, i) => {
    counts[trainY[i]]++;
    v.forEach((value, d) => (means[trainY[i]][d] += value));
  });
  means.forEach((m, k) => m.forEach((_, d) => (m[d] /= counts[k])));
  const testY = ds.readClipLabels(test);
  let correct = 0;
  features(testModality, test).forEach((v, i) => {
    let best = 0;
    let bestDistance = Infinity;
    means.forEach((m, k) => {
      const distance = m.reduce((sum, value, d) => sum + (v[d] - value) ** 2, 0);
      if (distance < bestDistance) [best, bestDistance] = [k, distance];
    });
    if (best === testY[i]) correct++;
  });
  return correct / test.length;
}

test('the data is learnable within a modality, not across modalities, and the nuisance carries no label', () => {
  // Audio and text have the same size, so a probe fitted on one can be applied to the other.
  const ds = generateSynthetic({ modalities: ['audio', 'text'], numClips: 800, seed: 5 });
  const chance = 1 / ds.classes.length;
  const within = nearestMeanAccuracy(ds, 'audio', 'audio', 'event');
  const withinText = nearestMeanAccuracy(ds, 'text', 'text', 'event');
  const across = nearestMeanAccuracy(ds, 'audio', 'text', 'event');
  const background = nearestMeanAccuracy(ds, 'audio', 'audio', 'background');
  assert.ok(within > 0.9, `audio->audio ${within}`);
  assert.ok(withinText > 0.9, `text->text ${withinText}`);
  assert.ok(across < chance + 0.1, `audio->text ${across}: raw features must not transfer`);
  assert.ok(background < chance + 0.1, `background segments (style + noise only) ${background}: must be at chance`);
});

test('bad generator options are refused with the option named', () => {
  const refuses = (options: Parameters<typeof generateSynthetic>[0], field: string) =>
    assert.throws(
      () => generateSynthetic(options),
      (err: Error) => err instanceof InvalidInputError && err.message.includes(`'${field}'`),
      field,
    );
  refuses({ modalities: ['audio', 'smell' as never] }, 'modalities');
  refuses({ modalities: [] }, 'modalities');
  refuses({ numClips: 0 }, 'numClips');
  refuses({ numClasses: 1 }, 'numClasses');
  refuses({ eventLength: [4, 11] }, 'eventLength');
  refuses({ misalignedFraction: 1.5 }, 'misalignedFraction');
  refuses({ noiseStd: -1 }, 'noiseStd');
  refuses({ featureShapes: { video: [4, 16] } }, 'featureShapes.video');
  refuses({ seed: 0.5 }, 'seed');
  // An explicit undefined keeps the default.
  assert.equal(generateSynthetic({ numClips: 12, numClasses: undefined }).classes.length, syntheticConfig().numClasses);
});
