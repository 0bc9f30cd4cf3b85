// AV-Fashion config and clip plans, without the installed sources: defaults and their merging,
// errors naming the field, and plans whose labels match their content, whose splits share no
// speaker and no image, and which depend only on the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidInputError } from '../src/data/errors.js';
import { type ClipPlan, imagePools, planClips, segmentLabels, speechStyles } from '../src/data/avFashion/composer.js';
import { AV_FASHION_DEFAULTS, type AvFashionOverrides, resolveAvFashionConfig } from '../src/data/avFashion/config.js';
import type { FashionMnistImages } from '../src/data/avFashion/fashionMnist.js';
import { buildAvFashion, avFashionOptionsFromCli } from '../src/data/avFashion/index.js';

/** Stand-in Fashion-MNIST parts: image i of a part has label (i * 7) % 10, pixels unused by planning. */
const IMAGES: Record<'train' | 't10k', FashionMnistImages> = {
  train: {
    part: 'train',
    count: 600,
    pixels: new Uint8Array(600 * 784),
    labels: Uint8Array.from({ length: 600 }, (_, i) => (i * 7) % 10),
  },
  t10k: {
    part: 't10k',
    count: 200,
    pixels: new Uint8Array(200 * 784),
    labels: Uint8Array.from({ length: 200 }, (_, i) => (i * 7) % 10),
  },
};

const SMALL_SPLITS: AvFashionOverrides = {
  numClips: 300,
  splits: {
    train: { fraction: 0.6, voices: ['en-us+m1', 'en-gb+f1'], images: { part: 'train', from: 0, to: 500 } },
    val: { fraction: 0.1, voices: ['en-us+m4'], images: { part: 'train', from: 500, to: 600 } },
    test: { fraction: 0.3, voices: ['en-gb+m5', 'en-us+f5'], images: { part: 't10k', from: 0, to: 200 } },
  },
};

function plan(overrides: AvFashionOverrides = {}): {
  plans: ClipPlan[];
  config: ReturnType<typeof resolveAvFashionConfig>;
} {
  const config = resolveAvFashionConfig(undefined, { ...SMALL_SPLITS, ...overrides });
  return { plans: planClips(config, imagePools(config, IMAGES)), config };
}

test('the defaults file is valid and matches the small model: audio 32, video 7x7x32, text 32, 10 classes', () => {
  assert.equal(AV_FASHION_DEFAULTS.classes.length, 10);
  assert.equal(AV_FASHION_DEFAULTS.audio.melBins * AV_FASHION_DEFAULTS.audio.parts, 32);
  assert.equal(AV_FASHION_DEFAULTS.text.dim, 32);
  assert.equal(AV_FASHION_DEFAULTS.segments, 10);
  assert.deepEqual(Object.keys(AV_FASHION_DEFAULTS.splits), ['train', 'val', 'test']);
});

test('overrides merge field by field; a split is removed with null; a config file is merged before them', () => {
  const config = resolveAvFashionConfig(undefined, {
    seed: 9,
    splits: { test: { voices: ['en-us+m7'] }, val: null },
    speech: { pitches: [40] },
  });
  assert.equal(config.seed, 9);
  assert.deepEqual(config.splits.test.voices, ['en-us+m7']);
  assert.deepEqual(config.splits.test.images, AV_FASHION_DEFAULTS.splits.test.images);
  assert.deepEqual(Object.keys(config.splits), ['train', 'test']);
  assert.deepEqual(config.speech.pitches, [40]);
  assert.deepEqual(config.speech.speeds, AV_FASHION_DEFAULTS.speech.speeds);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'avf-config-'));
  try {
    const file = path.join(dir, 'mine.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        numClips: 12,
        classes: [AV_FASHION_DEFAULTS.classes[0], { name: 'Bag', fashionMnistLabel: 8, words: ['Bag', 'tote'] }],
      }),
    );
    const fromFile = resolveAvFashionConfig(file, { seed: 3 });
    assert.equal(fromFile.numClips, 12);
    assert.equal(fromFile.seed, 3);
    assert.deepEqual(fromFile.classes[1].words, ['bag', 'tote']);
    fs.writeFileSync(file, '{ "numClips": 12,');
    assert.throws(
      () => resolveAvFashionConfig(file),
      (e: Error) => e instanceof InvalidInputError && e.message.includes(file) && /not valid JSON/.test(e.message),
    );
    assert.throws(() => resolveAvFashionConfig(path.join(dir, 'none.json')), /none\.json: cannot be read \(ENOENT\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('config errors name the field at fault', () => {
  const refuse = (overrides: AvFashionOverrides, pattern: RegExp) =>
    assert.throws(
      () => resolveAvFashionConfig(undefined, overrides),
      (e: Error) => e instanceof InvalidInputError && pattern.test(e.message),
      JSON.stringify(overrides),
    );
  refuse({ numClips: 0 }, /'numClips' must be an integer in \[1,/);
  refuse({ eventLength: [4, 11] }, /'eventLength\[1\]' must be an integer in \[1, 10\]/);
  refuse(
    { splits: { val: { voices: ['en-us+m1'] } } },
    /'splits\.val\.voices' shares voice 'en-us\+m1' with splits\.train/,
  );
  refuse(
    { splits: { val: { images: { part: 'train', from: 49000, to: 51000 } } } },
    /'splits\.val\.images' overlaps splits\.train\.images/,
  );
  refuse(
    { speech: { backgroundWords: ['river', 'bag'] } },
    /'speech\.backgroundWords\[1\]' 'bag' is also classes\[8\]\.words\[0\]/,
  );
  refuse({ speech: { pitches: [50, 120] } }, /'speech\.pitches\[1\]' must be an integer in \[0, 99\]/);
  refuse(
    {
      classes: [
        { name: 'A', fashionMnistLabel: 0, words: ['ok'] },
        { name: 'B', fashionMnistLabel: 1, words: ['no<s>'] },
      ],
    },
    /'classes\[1\]\.words\[0\]' must be letters/,
  );
  refuse(
    {
      classes: [
        { name: 'A', fashionMnistLabel: 0, words: ['x'] },
        { name: 'B', fashionMnistLabel: 0, words: ['y'] },
      ],
    },
    /'classes\[1\]\.fashionMnistLabel' repeats the label 0 of classes\[0\]/,
  );
  refuse(
    { text: { eventTemplates: ['nothing here'] } },
    /'text\.eventTemplates\[0\]' must contain '\{word\}' exactly once/,
  );
  refuse({ video: { gamma: [2, 1] } }, /'video\.gamma' must have low <= high/);
  refuse({ colour: 'red' } as AvFashionOverrides, /'colour' is not a known field/);
  refuse({ audio: { bins: 8 } } as AvFashionOverrides, /'audio\.bins' is not a known field/);
});

test('plan labels match plan content, in every modality', () => {
  const { plans, config } = plan();
  const classOfWord = new Map(config.classes.flatMap((c, k) => c.words.map((w) => [w, k] as const)));
  const mentionsClass = (text: string, k: number) =>
    config.classes[k].words.some((w) => ` ${text} `.includes(` ${w} `));
  let misaligned = 0;
  let eventSegments = 0;
  for (const p of plans) {
    const fashionLabel = config.classes[p.label].fashionMnistLabel;
    p.segments.forEach((s, t) => {
      const inEvent = t >= p.event.start && t < p.event.start + p.event.length;
      const shown = [s.event.audio, s.event.video, s.event.text].filter(Boolean).length;
      if (!inEvent) assert.equal(shown, 0, 'no event outside the run');
      else {
        eventSegments++;
        assert.ok(shown === 3 || shown === 1, 'an event segment is aligned, or in one modality only');
        if (shown === 1) misaligned++;
      }
      if (s.event.audio) assert.ok(s.audio.kind === 'word' && classOfWord.get(s.audio.word) === p.label);
      else assert.ok(s.audio.kind !== 'word' || config.speech.backgroundWords.includes(s.audio.word));
      if (s.event.video)
        assert.ok(s.video.kind === 'image' && IMAGES[s.video.image.part].labels[s.video.image.index] === fashionLabel);
      else
        assert.ok(s.video.kind === 'blank' || IMAGES[s.video.image.part].labels[s.video.image.index] !== fashionLabel);
      assert.equal(mentionsClass(s.text, p.label), s.event.text, s.text);
      for (let k = 0; k < config.classes.length; k++) if (k !== p.label) assert.ok(!mentionsClass(s.text, k));
    });
  }
  const share = misaligned / eventSegments;
  assert.ok(Math.abs(share - config.misalignedFraction) < 0.04, `misaligned share ${share}`);
  // Shared labels: the event in every modality; a modality's own: the event in it.
  const shared = segmentLabels(plans, 10);
  const video = segmentLabels(plans, 10, 'video');
  plans.forEach((p, i) =>
    p.segments.forEach((s, t) => {
      for (let k = 0; k < 10; k++) {
        assert.equal(
          shared[(i * 10 + t) * 10 + k],
          k === p.label && s.event.audio && s.event.video && s.event.text ? 1 : 0,
        );
        assert.equal(video[(i * 10 + t) * 10 + k], k === p.label && s.event.video ? 1 : 0);
      }
    }),
  );
});

test('splits share no speaker and no image, and get their configured share of the clips', () => {
  const { plans, config } = plan();
  const bySplit = (split: string) => plans.filter((p) => p.split === split);
  assert.deepEqual(
    ['train', 'val', 'test'].map((s) => bySplit(s).length),
    [180, 30, 90],
  );
  const imagesOf = (split: string) =>
    new Set(
      bySplit(split).flatMap((p) =>
        p.segments.flatMap((s) => (s.video.kind === 'image' ? [`${s.video.image.part}:${s.video.image.index}`] : [])),
      ),
    );
  const voicesOf = (split: string) => new Set(bySplit(split).map((p) => p.speaker.voice));
  for (const split of ['train', 'val', 'test']) {
    for (const voice of voicesOf(split)) assert.ok(config.splits[split].voices.includes(voice));
    const { part, from, to } = config.splits[split].images;
    for (const id of imagesOf(split)) {
      const [p, index] = id.split(':');
      assert.ok(p === part && Number(index) >= from && Number(index) < to, `${split} uses ${id}`);
    }
    const styles = speechStyles(config, split);
    for (const p of bySplit(split)) assert.ok(styles.some((s) => JSON.stringify(s) === JSON.stringify(p.speaker)));
  }
  for (const [a, b] of [
    ['train', 'val'],
    ['train', 'test'],
    ['val', 'test'],
  ]) {
    assert.ok(
      [...voicesOf(a)].every((v) => !voicesOf(b).has(v)),
      `${a} and ${b} share a voice`,
    );
    assert.ok(
      [...imagesOf(a)].every((v) => !imagesOf(b).has(v)),
      `${a} and ${b} share an image`,
    );
  }
});

test('plans depend only on the seed', () => {
  assert.deepEqual(plan({ seed: 4 }).plans, plan({ seed: 4 }).plans);
  assert.notDeepEqual(plan({ seed: 4 }).plans, plan({ seed: 5 }).plans);
});

test('a split whose image range lacks a class is refused, naming it', () => {
  const withSplit = (name: string, images: object) =>
    resolveAvFashionConfig(undefined, {
      ...SMALL_SPLITS,
      splits: { ...SMALL_SPLITS.splits, [name]: { ...(SMALL_SPLITS.splits![name] as object), images } },
    });
  const config = withSplit('val', { part: 'train', from: 500, to: 505 });
  assert.throws(
    () => imagePools(config, IMAGES),
    /'splits\.val\.images' \(train \[500, 505\)\) holds no image of class \d+/,
  );
  const beyond = withSplit('test', { part: 't10k', from: 0, to: 300 });
  assert.throws(
    () => imagePools(beyond, IMAGES),
    /'splits\.test\.images\.to' is 300, but Fashion-MNIST 't10k' has 200 images/,
  );
});

test('without the Debian sources the build stops before writing, naming both apt packages', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'avf-missing-'));
  const out = path.join(dir, 'out');
  try {
    await assert.rejects(
      buildAvFashion({
        out,
        overrides: {
          sources: { espeak: path.join(dir, 'no-espeak-here'), fashionMnistDir: path.join(dir, 'no-fmnist') },
        },
      }),
      (e: Error) =>
        e instanceof InvalidInputError &&
        /espeak-ng \(.*cannot be run\)/.test(e.message) &&
        /dataset-fashion-mnist \(.*lacks train-images-idx3-ubyte\.gz/.test(e.message) &&
        e.message.includes('apt-get install -y espeak-ng dataset-fashion-mnist'),
    );
    assert.equal(fs.existsSync(out), false);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    await assert.rejects(buildAvFashion({ out }), /exists and is not empty \(pass force/);
    assert.deepEqual(fs.readdirSync(out), ['keep.txt']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('command-line values become builder options: flags over the config file over the defaults', () => {
  assert.deepEqual(avFashionOptionsFromCli({ out: 'd', force: false }), { out: 'd', force: false, overrides: {} });
  assert.deepEqual(
    avFashionOptionsFromCli({
      out: 'd',
      force: true,
      config: 'c.json',
      clips: 50,
      seed: 2,
      'fashion-mnist': '/f',
      espeak: '/e',
      'feature-dtype': 'float32',
    }),
    {
      out: 'd',
      force: true,
      configFile: 'c.json',
      overrides: { numClips: 50, seed: 2, featureDtype: 'float32', sources: { fashionMnistDir: '/f', espeak: '/e' } },
    },
  );
});
