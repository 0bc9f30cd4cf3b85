// AV-Fashion built for real from the Debian packages espeak-ng and dataset-fashion-mnist (skipped,
// naming them, where they are missing): a reduced build's labels match its content, its splits
// share no speaker or image, and it is byte-for-byte deterministic under its seed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClipDataset } from '../src/data/dataset.js';
import { openDataset } from '../src/data/directory.js';
import { InvalidInputError } from '../src/data/errors.js';
import { parseWav, speakWords, speechRanges } from '../src/data/avFashion/espeak.js';
import { loadFashionMnist } from '../src/data/avFashion/fashionMnist.js';
import {
  AV_FASHION_DEFAULTS,
  type AvFashionConfig,
  type AvFashionOverrides,
  type BuildProgress,
  type ClipPlan,
  PROVENANCE_FILE,
  buildAvFashion,
  missingAvFashionPackages,
} from '../src/data/avFashion/index.js';

const missing = missingAvFashionPackages(AV_FASHION_DEFAULTS);
const skip =
  missing.length > 0
    ? `needs apt-get install -y ${missing.map((m) => m.aptPackage).join(' ')} (${missing.map((m) => m.why).join('; ')})`
    : undefined;

/** Small enough to build in seconds: 60 clips, one pitch and speed, five speakers. */
const REDUCED: AvFashionOverrides = {
  numClips: 60,
  seed: 11,
  speech: { pitches: [50], speeds: [160] },
  splits: {
    train: { voices: ['en-us+m1', 'en-gb+f1'] },
    val: { voices: ['en-us+m4'] },
    test: { voices: ['en-gb+m5', 'en-us+f5'] },
  },
};

let root = '';
let dataset: ClipDataset;
let provenance: {
  config: AvFashionConfig;
  clips: ClipPlan[];
  standardization: Record<'audio' | 'video' | 'text', { mean: number[]; std: number[] }>;
};
const progress: BuildProgress[] = [];

before(async () => {
  if (skip) return;
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'avf-build-'));
  await buildAvFashion({ out: path.join(root, 'a'), overrides: REDUCED }, { onProgress: (p) => progress.push(p) });
  dataset = openDataset(path.join(root, 'a'));
  provenance = JSON.parse(fs.readFileSync(path.join(root, 'a', PROVENANCE_FILE), 'utf8'));
});

after(() => {
  dataset?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

test('a reduced build is a valid dataset shaped for the small model, with progress reported', { skip }, () => {
  assert.equal(dataset.name, 'av-fashion');
  assert.equal(dataset.numClips, 60);
  assert.deepEqual(
    dataset.classes,
    AV_FASHION_DEFAULTS.classes.map((c) => c.name),
  );
  assert.deepEqual(dataset.featureShape('audio'), [10, 32]);
  assert.deepEqual(dataset.featureShape('video'), [10, 7, 7, 32]);
  assert.deepEqual(dataset.featureShape('text'), [10, 32]);
  assert.deepEqual(
    ['train', 'val', 'test'].map((s) => dataset.split(s).length),
    [42, 6, 12],
  );
  for (const m of ['audio', 'video', 'text']) assert.ok(dataset.hasOwnSegmentLabels(m));
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'a', 'manifest.json'), 'utf8'));
  assert.equal(manifest.modalities.video.dtype, 'float16');
  assert.deepEqual([...new Set(progress.map((p) => p.stage))], ['speech', 'clips', 'write']);
  const last = progress.filter((p) => p.stage === 'clips').at(-1)!;
  assert.deepEqual([last.done, last.total], [60, 60]);
});

test('labels on disk are those of the plans, whose images and words are of the labelled class', { skip }, () => {
  const plans = provenance.clips;
  const { classes } = provenance.config;
  assert.deepEqual(
    Array.from(dataset.readClipLabels(all(60))),
    plans.map((p) => p.label),
  );
  const images = {
    train: loadFashionMnist(AV_FASHION_DEFAULTS.sources.fashionMnistDir, 'train'),
    t10k: loadFashionMnist(AV_FASHION_DEFAULTS.sources.fashionMnistDir, 't10k'),
  };
  for (const m of ['audio', 'video', 'text'] as const) {
    const labels = dataset.readSegmentLabels(all(60), m);
    plans.forEach((p, i) =>
      p.segments.forEach((s, t) => {
        const row = Array.from(labels.subarray((i * 10 + t) * 10, (i * 10 + t + 1) * 10));
        assert.deepEqual(
          row,
          row.map((_, k) => (k === p.label && s.event[m] ? 1 : 0)),
          `clip ${i} segment ${t} ${m}`,
        );
        if (m === 'video' && s.video.kind === 'image') {
          const isClass = images[s.video.image.part].labels[s.video.image.index] === classes[p.label].fashionMnistLabel;
          assert.equal(
            isClass,
            s.event.video,
            `clip ${i} segment ${t}: image ${s.video.image.part}:${s.video.image.index}`,
          );
        }
        if (m === 'audio' && s.audio.kind === 'word')
          assert.equal(classes[p.label].words.includes(s.audio.word), s.event.audio);
      }),
    );
  }
});

test('the features show what the plans say: the named image, speech louder than silence, one embedding per description', {
  skip,
}, () => {
  const plans = provenance.clips;
  const fmnist = {
    train: loadFashionMnist(AV_FASHION_DEFAULTS.sources.fashionMnistDir, 'train'),
    t10k: loadFashionMnist(AV_FASHION_DEFAULTS.sources.fashionMnistDir, 't10k'),
  };
  // Undo the recorded per-channel standardisation of the video features: grey levels again.
  const stats = provenance.standardization.video;
  const video = dataset.readFeatures('video', all(60)).map((v, i) => v * stats.std[i % 32] + stats.mean[i % 32]);
  const audio = dataset.readFeatures('audio', all(60));
  const text = dataset.readFeatures('text', all(60));
  const correlation = (a: number[], b: number[]) => {
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const [ma, mb] = [mean(a), mean(b)];
    const cov = a.reduce((s, x, i) => s + (x - ma) * (b[i] - mb), 0);
    return cov / Math.sqrt(a.reduce((s, x) => s + (x - ma) ** 2, 0) * b.reduce((s, x) => s + (x - mb) ** 2, 0));
  };
  const byText = new Map<string, string>();
  const named: number[] = [];
  const neighbour: number[] = [];
  let louder = 0;
  let compared = 0;
  plans.forEach((p, i) => {
    const loudness: Record<string, number[]> = { word: [], silence: [] };
    p.segments.forEach((s, t) => {
      const row = i * 10 + t;
      // Channels 0..15 of a cell: the frame at 4x4 (means of 7x7 blocks).
      const thumbnail = all(16).map((k) => video[row * 1568 + 3 * 32 + k]);
      if (s.video.kind === 'image') {
        const { part, index } = s.video.image;
        const [dx, dy] = s.video.shift;
        const blockMeans = (image: number) =>
          all(16).map((k) => {
            let sum = 0;
            for (let y = 7 * Math.floor(k / 4); y < 7 * Math.floor(k / 4) + 7; y++) {
              for (let x = 7 * (k % 4); x < 7 * (k % 4) + 7; x++) {
                const [sy, sx] = [y - dy, x - dx];
                sum += sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? fmnist[part].pixels[image * 784 + sy * 28 + sx] : 0;
              }
            }
            return sum;
          });
        named.push(correlation(thumbnail, blockMeans(index)));
        neighbour.push(correlation(thumbnail, blockMeans(index + 1)));
      } else {
        assert.ok(
          thumbnail.every((v) => Math.abs(v - thumbnail[0]) < 0.05),
          `clip ${i} segment ${t}: a blank frame is flat`,
        );
      }
      if (s.audio.kind !== 'noise')
        loudness[s.audio.kind].push(audio.subarray(row * 32, row * 32 + 32).reduce((a, b) => a + b, 0));
      const key = Array.from(text.subarray(row * 32, row * 32 + 32)).join(',');
      if (byText.has(s.text)) assert.equal(byText.get(s.text), key, `'${s.text}' has two embeddings`);
      byText.set(s.text, key);
    });
    for (const w of loudness.word)
      for (const q of loudness.silence) {
        compared++;
        if (w > q) louder++;
      }
  });
  // Lighting and clamping bend the grey levels, but the named image explains them, and far better than another.
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  // (A dark image under low contrast and negative brightness is clamped to black in places: a few fall lower.)
  const close = named.filter((r) => r > 0.9).length;
  assert.ok(
    close >= 0.97 * named.length,
    `${close} of ${named.length} image segments correlate > 0.9 with the named image`,
  );
  assert.ok(mean(named) > mean(neighbour) + 0.3, `named ${mean(named)}, neighbouring image ${mean(neighbour)}`);
  assert.equal(new Set(byText.values()).size, byText.size, 'different descriptions, different embeddings');
  assert.ok(compared > 50 && louder === compared, `speech louder than silence in ${louder} of ${compared} pairs`);
});

test("the features carry the labels: a nearest-centroid probe on the event's video edge features is far above chance on test clips", {
  skip,
}, () => {
  const rows = (split: string) => {
    const clips = dataset.split(split);
    const video = dataset.readFeatures('video', clips);
    const labels = dataset.readSegmentLabels(clips, 'video');
    const out: { x: number[]; label: number }[] = [];
    for (let r = 0; r < clips.length * 10; r++) {
      const label = labels.subarray(r * 10, r * 10 + 10).indexOf(1);
      // The orientation histograms (channels 16..31 of each patch): the grey levels carry the lighting nuisance.
      if (label >= 0)
        out.push({ x: all(49 * 16).map((k) => video[r * 1568 + Math.floor(k / 16) * 32 + 16 + (k % 16)]), label });
    }
    return out;
  };
  const centroids = Array.from({ length: 10 }, () => ({ sum: new Float64Array(49 * 16), n: 0 }));
  for (const { x, label } of rows('train')) {
    centroids[label].n++;
    x.forEach((v, d) => {
      centroids[label].sum[d] += v;
    });
  }
  const test = rows('test');
  let correct = 0;
  for (const { x, label } of test) {
    const distances = centroids.map((c) =>
      c.n === 0 ? Infinity : x.reduce((s, v, d) => s + (v - c.sum[d] / c.n) ** 2, 0),
    );
    if (distances.indexOf(Math.min(...distances)) === label) correct++;
  }
  assert.ok(test.length >= 30);
  assert.ok(correct / test.length > 0.4, `accuracy ${correct}/${test.length}, chance 0.1`);
});

test('every feature channel is standardised over the training split, and the statistics are recorded', { skip }, () => {
  const train = dataset.split('train');
  for (const m of ['audio', 'video', 'text'] as const) {
    const x = dataset.readFeatures(m, train);
    const channels = dataset.featureShape(m).at(-1)!;
    const sum = new Float64Array(channels);
    const square = new Float64Array(channels);
    x.forEach((v, i) => {
      sum[i % channels] += v;
      square[i % channels] += v * v;
    });
    const count = x.length / channels;
    for (let c = 0; c < channels; c++) {
      const mean = sum[c] / count;
      const std = Math.sqrt(square[c] / count - mean * mean);
      assert.ok(
        Math.abs(mean) < 0.01 && (Math.abs(std - 1) < 0.01 || provenance.standardization[m].std[c] === 1),
        `${m} channel ${c}: mean ${mean}, std ${std}`,
      );
    }
    assert.equal(provenance.standardization[m].mean.length, channels);
  }
});

test('splits share no speaker and no image', { skip }, () => {
  const plans = provenance.clips;
  const of = (split: string, what: (p: ClipPlan) => string[]) =>
    new Set(plans.filter((p) => p.split === split).flatMap(what));
  const voices = (p: ClipPlan) => [p.speaker.voice];
  const images = (p: ClipPlan) =>
    p.segments.flatMap((s) => (s.video.kind === 'image' ? [`${s.video.image.part}:${s.video.image.index}`] : []));
  for (const [a, b] of [
    ['train', 'val'],
    ['train', 'test'],
    ['val', 'test'],
  ]) {
    for (const what of [voices, images]) {
      const inB = of(b, what);
      assert.ok(
        [...of(a, what)].every((v) => !inB.has(v)),
        `${a} and ${b} share a ${what.name.slice(0, -1)}`,
      );
    }
  }
  assert.deepEqual([...of('test', voices)].sort(), ['en-gb+m5', 'en-us+f5']);
});

test('the build is byte-for-byte deterministic under its seed, and the seed matters', { skip }, async () => {
  await buildAvFashion({ out: path.join(root, 'b'), overrides: REDUCED });
  await buildAvFashion({ out: path.join(root, 'c'), overrides: { ...REDUCED, seed: 12 } });
  const files = fs.readdirSync(path.join(root, 'a')).sort();
  assert.deepEqual(fs.readdirSync(path.join(root, 'b')).sort(), files);
  for (const file of files)
    assert.ok(fs.readFileSync(path.join(root, 'a', file)).equals(fs.readFileSync(path.join(root, 'b', file))), file);
  for (const file of ['audio.npy', 'video.npy', 'text.npy', 'clip_labels.npy']) {
    assert.ok(!fs.readFileSync(path.join(root, 'a', file)).equals(fs.readFileSync(path.join(root, 'c', file))), file);
  }
});

test('espeak-ng speaks deterministically, and a batch cuts into the words a call per word gives', {
  skip,
}, async () => {
  const style = { voice: 'en-gb+f2', pitch: 60, speed: 170 };
  const words = ['ankle boot', 't-shirt', 'running shoe', 'bag'];
  const first = await speakWords('espeak-ng', words, style);
  const second = await speakWords('espeak-ng', words, style);
  assert.deepEqual(
    first.map((u) => u.samples),
    second.map((u) => u.samples),
  );
  words.forEach((word, i) => {
    const run = spawnSync('espeak-ng', ['--stdout', '-v', style.voice, '-p', '60', '-s', '170', word]);
    const { samples } = parseWav(new Uint8Array(run.stdout), word);
    const [[start, end]] = speechRanges(samples, samples.length);
    const ratio = first[i].samples.length / (end - start);
    assert.ok(Math.abs(ratio - 1) < 0.1, `'${word}': batch ${first[i].samples.length} samples, alone ${end - start}`);
  });
});

test('a batch that does not cut into one stretch of speech per word is refused, naming the voice', {
  skip,
}, async () => {
  await assert.rejects(
    speakWords('espeak-ng', ['bag', ''], { voice: 'en-us', pitch: 50, speed: 160 }),
    (e: Error) =>
      e instanceof InvalidInputError &&
      /voice 'en-us', pitch 50, speed 160\) spoke 2 words as 1 stretches/.test(e.message),
  );
});

test('unknown voices are refused before anything is written, naming the field', { skip }, async () => {
  const out = path.join(root, 'bad');
  await assert.rejects(
    buildAvFashion({
      out,
      overrides: { ...REDUCED, splits: { ...REDUCED.splits, test: { voices: ['en-us+nosuchvariant'] } } },
    }),
    (e: Error) =>
      e instanceof InvalidInputError &&
      /splits\.test\.voices\[0\]: espeak-ng has no voice variant 'nosuchvariant'/.test(e.message),
  );
  await assert.rejects(
    buildAvFashion({
      out,
      overrides: { ...REDUCED, splits: { ...REDUCED.splits, val: { voices: ['zz-nolanguage'] } } },
    }),
    (e: Error) => e instanceof InvalidInputError && /voice 'zz-nolanguage'/.test(e.message),
  );
  assert.equal(fs.existsSync(out), false);
});
