import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryDataset } from '../src/data/dataset.js';
import { InvalidInputError } from '../src/data/errors.js';
import type { FrozenEncoder, NamedEncoder } from '../src/downstream/encoder.js';
import { formatReport, type DownstreamReport } from '../src/downstream/report.js';
import {
  crossDatasetTransfer,
  crossModalClassify,
  crossModalLocalize,
  crossModalRetrieve,
} from '../src/downstream/tasks.js';
import { parseDownstreamTask } from '../src/downstream/taskNames.js';
import { initTfjs, tf } from '../src/tfjs.js';

before(async () => {
  await initTfjs();
});

const T = 3;
const D = 4;
const FAST = { epochs: 100, learningRate: 0.05, batchSize: 40 };

/**
 * Clips whose segments are one-hot vectors: dimension `classDim[label]` on event segments
 * (the first two of three), dimension 2 on the background segment. Both modalities see the same.
 */
function eventDataset(
  name: string,
  classes: string[],
  classDim: number[],
  labels: number[],
  testCount: number,
): InMemoryDataset {
  const n = labels.length;
  const features = new Float32Array(n * T * D);
  const segmentLabels = new Uint8Array(n * T * classes.length);
  labels.forEach((label, i) => {
    for (let s = 0; s < T; s++) {
      const event = s < 2;
      features[(i * T + s) * D + (event ? classDim[label] : 2)] = 1;
      features[(i * T + s) * D + 3] = 0.5; // a constant input, like a bias feature
      if (event) segmentLabels[(i * T + s) * classes.length + label] = 1;
    }
  });
  return new InMemoryDataset({
    name,
    classes,
    modalities: { audio: { data: features, shape: [n, T, D] }, video: { data: features.slice(), shape: [n, T, D] } },
    clipLabels: Int32Array.from(labels),
    segmentLabels,
    splits: {
      train: Int32Array.from({ length: n - testCount }, (_, i) => i),
      test: Int32Array.from({ length: testCount }, (_, i) => n - testCount + i),
    },
  });
}

/** Quantized = the features themselves, optionally passed through `transform` per modality. */
function encoder(
  transform: Record<string, (v: Float32Array) => Float32Array> = {},
  modalities = ['audio', 'video'],
): FrozenEncoder {
  return {
    modalities,
    encode(modality, features, shape) {
      const out = new Float32Array(features.length);
      const fn = transform[modality] ?? ((v: Float32Array) => v);
      for (let r = 0; r < shape[0] * shape[1]; r++) out.set(fn(features.subarray(r * D, (r + 1) * D)), r * D);
      const codes = Int32Array.from({ length: shape[0] * shape[1] }, (_, r) => {
        const row = out.subarray(r * D, (r + 1) * D);
        return row.indexOf(Math.max(...row));
      });
      return { codes, quantized: out };
    },
  };
}

/** Swaps the two class dimensions: what one modality calls class 0, the other calls class 1. */
const swapClasses = (v: Float32Array) => Float32Array.of(v[1], v[0], v[2], v[3]);

const ENCODERS: NamedEncoder[] = [
  { name: 'aligned', encoder: encoder() },
  { name: 'misaligned', encoder: encoder({ video: swapClasses }) },
];

const labels = Array.from({ length: 40 }, (_, i) => i % 2);

/**
 * Loses the class: both class dimensions fold into one. A head trained on these codes can only
 * learn the class prior, so it predicts the training majority everywhere.
 */
const foldClasses = (v: Float32Array) => Float32Array.of(v[0] + v[1], 0, v[2], v[3]);
// 30 training clips, class 1 the majority (20 of 30); 10 test clips, 7 of class 0.
const skewedLabels = [...Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 0 : 1)), 0, 0, 0, 0, 0, 0, 0, 1, 1, 1];

function cell(report: DownstreamReport, encoderName: string, train: string, test: string) {
  const row = report.rows.find((r) => r.encoder === encoderName)!;
  return row.pairs.find((p) => p.train === train && p.test === test)!;
}

test('classification: every ordered pair, the upper bounds, and one row per encoder', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const encoders = [ENCODERS[0], { name: 'folded', encoder: encoder({ video: foldClasses }) }];
  const report = await crossModalClassify(
    encoders,
    eventDataset('events', ['dog', 'car'], [0, 1], skewedLabels, 10),
    FAST,
  );
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaks');
  assert.equal(report.task, 'classify');
  assert.deepEqual(report.metrics, ['top1']);
  assert.deepEqual(
    report.rows.map((r) => r.encoder),
    ['aligned', 'folded'],
  );
  assert.deepEqual(
    report.rows[0].pairs.map((p) => [p.train, p.test, p.upperBound]),
    [
      ['audio', 'video', false],
      ['video', 'audio', false],
      ['audio', 'audio', true],
      ['video', 'video', true],
    ],
  );
  for (const [train, test] of [
    ['audio', 'video'],
    ['video', 'audio'],
    ['audio', 'audio'],
    ['video', 'video'],
  ]) {
    assert.equal(cell(report, 'aligned', train, test).metrics.top1, 1, `aligned ${train}->${test}`);
    assert.equal(cell(report, 'aligned', train, test).samples, 10);
  }
  // Folded video codes: trained on audio, every video clip looks like class 0 (7 of 10 test clips);
  // trained on video, the head predicts the training majority, class 1 (3 of 10).
  assert.equal(cell(report, 'folded', 'audio', 'video').metrics.top1, 0.7);
  assert.equal(cell(report, 'folded', 'video', 'audio').metrics.top1, 0.3);
  assert.equal(cell(report, 'folded', 'video', 'video').metrics.top1, 0.3);
  assert.equal(cell(report, 'folded', 'audio', 'audio').metrics.top1, 1);
  assert.equal(report.settings.epochs, FAST.epochs);

  const text = formatReport(report);
  assert.match(
    text,
    /\| encoder \| audio→video \| video→audio \| audio→audio \(upper bound\) \| video→video \(upper bound\) \|/,
  );
  assert.match(text, /\| aligned \| 100\.0 \| 100\.0 \| 100\.0 \| 100\.0 \|/);
  assert.match(text, /\| folded \| 70\.0 \| 30\.0 \| 100\.0 \| 30\.0 \|/);
});

test('localization: per-segment precision, recall and F1 including the background column', async () => {
  const report = await crossModalLocalize(ENCODERS, eventDataset('events', ['dog', 'car'], [0, 1], labels, 10), FAST);
  assert.deepEqual(report.metrics, ['precision', 'recall', 'f1']);
  assert.deepEqual(cell(report, 'aligned', 'audio', 'video').metrics, { precision: 1, recall: 1, f1: 1 });
  // Misaligned: the background segment (1 of 3) is found; each event segment is given the wrong
  // class, one false positive and one miss. 10 clips: 10 true positives of 30 predicted, of 30 actual.
  const crossed = cell(report, 'misaligned', 'audio', 'video').metrics;
  assert.ok(Math.abs(crossed.precision - 1 / 3) < 1e-12, `precision ${crossed.precision}`);
  assert.ok(Math.abs(crossed.recall - 1 / 3) < 1e-12, `recall ${crossed.recall}`);
  assert.ok(Math.abs(crossed.f1 - 1 / 3) < 1e-12, `f1 ${crossed.f1}`);
  assert.deepEqual(cell(report, 'misaligned', 'video', 'video').metrics, { precision: 1, recall: 1, f1: 1 });
});

/** n clips whose segments all hold the unit vector at angle 2*pi*i/n, in both modalities. */
function circleDataset(n: number): InMemoryDataset {
  const features = new Float32Array(n * T * D);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < T; s++) {
      features[(i * T + s) * D] = Math.cos((2 * Math.PI * i) / n);
      features[(i * T + s) * D + 1] = Math.sin((2 * Math.PI * i) / n);
    }
  }
  return new InMemoryDataset({
    name: 'circle',
    classes: ['only'],
    modalities: { audio: { data: features, shape: [n, T, D] }, video: { data: features, shape: [n, T, D] } },
    clipLabels: new Int32Array(n),
    segmentLabels: new Uint8Array(n * T),
    splits: { test: Int32Array.from({ length: n }, (_, i) => i) },
  });
}

test('retrieval: paired clips found at rank 1, and all-tied scores give k/n', async () => {
  const constant = () => Float32Array.of(1, 1, 1, 1);
  const encoders = [ENCODERS[0], { name: 'constant', encoder: encoder({ audio: constant, video: constant }) }];
  const report = await crossModalRetrieve(encoders, circleDataset(20));
  assert.deepEqual(report.metrics, ['R@1', 'R@5', 'R@10']);
  assert.deepEqual(
    report.rows[0].pairs.map((p) => `${p.train}->${p.test}`),
    ['audio->video', 'video->audio'],
  );
  assert.deepEqual(cell(report, 'aligned', 'audio', 'video').metrics, { 'R@1': 1, 'R@5': 1, 'R@10': 1 });
  // Every score tied: query i's match has rank i, so R@k = k / n.
  assert.deepEqual(cell(report, 'constant', 'video', 'audio').metrics, {
    'R@1': 1 / 20,
    'R@5': 5 / 20,
    'R@10': 10 / 20,
  });

  // More queries than one similarity block (1024): ranks must use gallery-wide indices.
  const large = await crossModalRetrieve(encoders, circleDataset(1100), { ks: [1, 1050] });
  assert.deepEqual(cell(large, 'aligned', 'video', 'audio').metrics, { 'R@1': 1, 'R@1050': 1 });
  const tied = cell(large, 'constant', 'audio', 'video').metrics;
  assert.ok(
    Math.abs(tied['R@1'] - 1 / 1100) < 1e-12 && Math.abs(tied['R@1050'] - 1050 / 1100) < 1e-12,
    JSON.stringify(tied),
  );
});

test('cross-dataset transfer maps classes by name or by an explicit mapping', async () => {
  const source = eventDataset('source', ['dog', 'car'], [0, 1], labels, 4);
  // The target orders its classes differently and has one the source lacks; 'horse' clips are dropped.
  const targetLabels = [0, 1, 2, 0, 1, 2, 0, 2, 1, 1, 0, 2];
  const target = eventDataset('target', ['car', 'horse', 'dog'], [1, 2, 0], targetLabels, 9);
  const report = await crossDatasetTransfer([ENCODERS[0]], source, target, { head: 'classify', ...FAST });
  assert.equal(report.task, 'transfer');
  assert.equal(report.trainDataset, 'source');
  assert.equal(report.testDataset, 'target');
  const kept = targetLabels.slice(3).filter((l) => l !== 1).length;
  for (const pair of report.rows[0].pairs) {
    assert.equal(pair.samples, kept);
    assert.equal(pair.metrics.top1, 1, `${pair.train}->${pair.test}`);
  }
  // A mapping that swaps the two shared classes makes every prediction wrong.
  const swapped = await crossDatasetTransfer([ENCODERS[0]], source, target, {
    head: 'classify',
    classMapping: { car: 'dog', dog: 'car' },
    modalities: ['audio'],
    ...FAST,
  });
  assert.deepEqual(
    swapped.rows[0].pairs.map((p) => [p.train, p.test, p.upperBound, p.metrics.top1]),
    [['audio', 'audio', true, 0]],
  );

  const localized = await crossDatasetTransfer([ENCODERS[0]], source, target, {
    head: 'localize',
    modalities: ['video'],
    ...FAST,
  });
  assert.deepEqual(localized.metrics, ['f1', 'precision', 'recall']);
  assert.deepEqual(localized.rows[0].pairs[0].metrics, { precision: 1, recall: 1, f1: 1 });

  await assert.rejects(
    crossDatasetTransfer([ENCODERS[0]], source, target, { head: 'classify', classMapping: { horse: 'cow' } }),
    (err: Error) => err instanceof InvalidInputError && err.message.includes("'horse' to 'cow'"),
  );
  await assert.rejects(
    crossDatasetTransfer([ENCODERS[0]], source, target, { head: 'classify', classMapping: {} }),
    (err: Error) => err instanceof InvalidInputError && err.message.includes('no clip'),
  );
});

test('bad requests name the unknown task, modality, split or encoder problem', async () => {
  const ds = eventDataset('events', ['dog', 'car'], [0, 1], labels, 10);
  const invalid =
    (...parts: string[]) =>
    (err: Error) => {
      assert.ok(err instanceof InvalidInputError, `${err.name}: ${err.message}`);
      for (const part of parts) assert.ok(err.message.includes(part), `'${err.message}' lacks '${part}'`);
      return true;
    };
  assert.equal(parseDownstreamTask('localize'), 'localize');
  assert.throws(
    () => parseDownstreamTask('segment'),
    invalid("unknown downstream task 'segment'", 'classify, localize, retrieve, transfer'),
  );
  await assert.rejects(
    crossModalClassify(ENCODERS, ds, { modalities: ['audio', 'text'] }),
    invalid("unknown modality 'text'", "dataset 'events'"),
  );
  const audioOnly = [{ name: 'audio-only', encoder: encoder({}, ['audio']) }];
  await assert.rejects(
    crossModalClassify(audioOnly, ds, { modalities: ['video'] }),
    invalid("unknown modality 'video'", "encoder 'audio-only'"),
  );
  await assert.rejects(crossModalLocalize(ENCODERS, ds, { testSplit: 'val' }), invalid("unknown split 'val'"));
  await assert.rejects(crossModalClassify([], ds), invalid('no encoders'));
  await assert.rejects(crossModalClassify([ENCODERS[0], ENCODERS[0]], ds), invalid('duplicate encoder names'));
  await assert.rejects(crossModalClassify(ENCODERS, ds, { epochs: -1 }), invalid("'epochs'"));
  await assert.rejects(crossModalRetrieve(ENCODERS, ds, { modalities: ['audio'] }), invalid('at least two modalities'));
  await assert.rejects(crossModalRetrieve(ENCODERS, ds, { ks: [0] }), invalid("'ks'"));
});
