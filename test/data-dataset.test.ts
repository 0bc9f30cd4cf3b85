import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { iterateBatches } from '../src/data/batches.js';
import { InMemoryDataset } from '../src/data/dataset.js';
import { openDataset, writeDataset } from '../src/data/directory.js';
import { InvalidInputError } from '../src/data/errors.js';
import { writeNpy } from '../src/data/npy.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-dataset-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function tempDir(): string {
  return fs.mkdtempSync(path.join(root, 'case-'));
}

const N = 7;
const T = 3;
const C = 2;

/** Every value distinct, so a wrong row or position shows. */
function handDataset(): InMemoryDataset {
  const audio = Float32Array.from({ length: N * T * 4 }, (_, i) => i / 8);
  const video = Float32Array.from({ length: N * T * 2 * 2 * 3 }, (_, i) => -i / 4);
  const segmentLabels = new Uint8Array(N * T * C);
  const audioLabels = new Uint8Array(N * T * C);
  const clipLabels = Int32Array.from({ length: N }, (_, i) => i % C);
  for (let i = 0; i < N; i++) {
    segmentLabels[(i * T + 1) * C + clipLabels[i]] = 1;
    audioLabels[(i * T + 1) * C + clipLabels[i]] = 1;
    audioLabels[(i * T + 2) * C + clipLabels[i]] = 1;
  }
  return new InMemoryDataset({
    name: 'hand',
    classes: ['dog', 'car'],
    modalities: { audio: { data: audio, shape: [N, T, 4] }, video: { data: video, shape: [N, T, 2, 2, 3] } },
    clipLabels,
    segmentLabels,
    modalitySegmentLabels: { audio: audioLabels },
    splits: { train: Int32Array.from([0, 2, 3, 5, 6]), test: Int32Array.from([1, 4]) },
  });
}

function errorMatching(...parts: (string | RegExp)[]) {
  return (err: Error) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${err.name}: ${err.message}`);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(err.message.includes(part), `'${err.message}' lacks '${part}'`);
      else assert.match(err.message, part);
    }
    return true;
  };
}

test('a dataset written to disk reads back identically', () => {
  const source = handDataset();
  const dir = path.join(tempDir(), 'ds');
  writeDataset(dir, source, { chunkClips: 3 });
  const ds = openDataset(dir);
  try {
    assert.equal(ds.name, 'hand');
    assert.equal(ds.numClips, N);
    assert.equal(ds.segments, T);
    assert.deepEqual(ds.classes, ['dog', 'car']);
    assert.deepEqual(ds.modalities, ['audio', 'video']);
    assert.deepEqual(ds.featureShape('video'), [T, 2, 2, 3]);
    const all = Array.from({ length: N }, (_, i) => i);
    for (const m of ds.modalities) assert.deepEqual(ds.readFeatures(m, all), source.readFeatures(m, all), m);
    assert.deepEqual(ds.readFeatures('audio', [5, 1]), source.readFeatures('audio', [5, 1]));
    assert.deepEqual(ds.readClipLabels(all), source.readClipLabels(all));
    assert.deepEqual(ds.readSegmentLabels(all), source.readSegmentLabels(all));
    assert.equal(ds.hasOwnSegmentLabels('audio'), true);
    assert.equal(ds.hasOwnSegmentLabels('video'), false);
    assert.deepEqual(ds.readSegmentLabels(all, 'audio'), source.readSegmentLabels(all, 'audio'));
    assert.deepEqual(ds.readSegmentLabels(all, 'video'), source.readSegmentLabels(all));
    assert.deepEqual(Array.from(ds.split('test')), [1, 4]);
    assert.deepEqual(Array.from(ds.split('train')), [0, 2, 3, 5, 6]);
  } finally {
    ds.close();
  }
});

test('float16 storage keeps values to half precision', () => {
  const source = handDataset();
  const dir = path.join(tempDir(), 'ds');
  const manifest = writeDataset(dir, source, { featureDtype: { video: 'float16' } });
  assert.equal(manifest.modalities.video.dtype, 'float16');
  assert.equal(manifest.modalities.audio.dtype, 'float32');
  const ds = openDataset(dir);
  const all = Array.from({ length: N }, (_, i) => i);
  const got = ds.readFeatures('video', all);
  const want = source.readFeatures('video', all);
  // -i/4 for i < 84 is exact in float16 (at most 9 significant bits).
  assert.deepEqual(got, want);
  ds.close();
});

test('batches cover the split once, in a seeded order, with shapes and labels', () => {
  const ds = handDataset();
  const batches = [...iterateBatches(ds, { split: 'train', batchSize: 2, seed: 11 })];
  assert.deepEqual(
    batches.map((b) => b.clips.length),
    [2, 2, 1],
  );
  const order = batches.flatMap((b) => Array.from(b.clips));
  assert.deepEqual([...order].sort(), [0, 2, 3, 5, 6]);
  const again = [...iterateBatches(ds, { split: 'train', batchSize: 2, seed: 11 })].flatMap((b) => Array.from(b.clips));
  assert.deepEqual(again, order);
  const orders = new Set(
    [1, 2, 3, 4, 5, 6].map((seed) =>
      [...iterateBatches(ds, { split: 'train', batchSize: 5, seed })][0].clips.join(','),
    ),
  );
  assert.ok(orders.size > 1, 'different seeds give different orders');
  const unshuffled = [...iterateBatches(ds, { split: 'train', batchSize: 5, shuffle: false })][0];
  assert.deepEqual(Array.from(unshuffled.clips), [0, 2, 3, 5, 6]);

  const batch = batches[0];
  assert.deepEqual(batch.shapes.video, [2, T, 2, 2, 3]);
  assert.deepEqual(batch.shapes.audio, [2, T, 4]);
  assert.deepEqual(batch.features.audio, ds.readFeatures('audio', batch.clips));
  assert.deepEqual(batch.clipLabels, ds.readClipLabels(batch.clips));
  assert.deepEqual(batch.segmentLabels, ds.readSegmentLabels(batch.clips));

  const dropped = [...iterateBatches(ds, { split: 'train', batchSize: 2, dropLast: true, modalities: ['audio'] })];
  assert.deepEqual(
    dropped.map((b) => b.clips.length),
    [2, 2],
  );
  assert.deepEqual(Object.keys(dropped[0].features), ['audio']);
  assert.throws(() => iterateBatches(ds, { split: 'train', batchSize: 0 }), errorMatching("'batchSize'"));
  assert.throws(() => iterateBatches(ds, { split: 'dev', batchSize: 2 }), errorMatching("unknown split 'dev'"));
  assert.throws(
    () => iterateBatches(ds, { split: 'train', batchSize: 2, modalities: ['text'] }),
    errorMatching("unknown modality 'text'"),
  );
});

test('writing refuses a non-empty directory unless forced, and a failed write changes nothing', () => {
  const source = handDataset();
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'precious');
  assert.throws(() => writeDataset(dir, source), errorMatching(dir, 'not empty'));
  assert.deepEqual(fs.readdirSync(dir), ['keep.txt']);

  // A source that fails halfway through: the target and its parent are left as they were.
  const failing = Object.create(source) as InMemoryDataset;
  failing.readClipLabels = () => {
    throw new Error('disk on fire');
  };
  assert.throws(() => writeDataset(dir, failing, { force: true }), /disk on fire/);
  assert.deepEqual(fs.readdirSync(dir), ['keep.txt']);
  assert.deepEqual(
    fs.readdirSync(path.dirname(dir)).filter((f) => f.includes('.tmp-')),
    [],
  );

  writeDataset(dir, source, { force: true });
  assert.ok(!fs.existsSync(path.join(dir, 'keep.txt')));
  openDataset(dir).close();
});

/** Writes the hand dataset, lets `edit` damage it, and returns the directory. */
// biome-ignore lint/suspicious/noExplicitAny: the cases damage arbitrary, nested manifest fields
function damaged(edit: (dir: string, manifest: Record<string, any>) => void): string {
  const dir = path.join(tempDir(), 'ds');
  writeDataset(dir, handDataset());
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(dir, manifest);
  if (fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify(manifest));
  return dir;
}

test('bad datasets are refused with the file and field named', () => {
  const missingDir = path.join(tempDir(), 'nope');
  assert.throws(() => openDataset(missingDir), errorMatching(missingDir, 'does not exist'));

  const noManifest = damaged((dir) => fs.rmSync(path.join(dir, 'manifest.json')));
  assert.throws(() => openDataset(noManifest), errorMatching('manifest.json', 'missing manifest'));

  const brokenJson = damaged(() => {});
  fs.writeFileSync(path.join(brokenJson, 'manifest.json'), '{"format": ');
  assert.throws(() => openDataset(brokenJson), errorMatching('manifest.json', 'malformed JSON'));

  // biome-ignore lint/suspicious/noExplicitAny: as in damaged()
  const cases: [string, (dir: string, m: Record<string, any>) => void, (string | RegExp)[]][] = [
    ['format id', (_, m) => (m.format = 'something-else'), ["manifest.json: 'format'"]],
    ['version', (_, m) => (m.version = 2), ["manifest.json: 'version'"]],
    ['classes', (_, m) => (m.classes = ['dog', 'dog']), ["manifest.json: 'classes'", 'duplicate']],
    ['modality dtype', (_, m) => (m.modalities.audio.dtype = 'float64'), ["'modalities.audio.dtype'"]],
    [
      'modality shape vs N',
      (_, m) => (m.modalities.audio.shape = [N + 1, T, 4]),
      ["'modalities.audio.shape'", `[${N + 1}, ${T}, 4]`],
    ],
    ['label shape', (_, m) => (m.segmentLabels.shape = [N, T, C + 1]), ["'segmentLabels.shape'"]],
    [
      'file escaping the directory',
      (_, m) => (m.modalities.audio.file = '../audio.npy'),
      ["'modalities.audio.file'", 'inside'],
    ],
    [
      'missing array file',
      (_, m) => (m.modalities.video.file = 'gone.npy'),
      ["'modalities.video.file'", 'gone.npy', 'does not exist'],
    ],
    ['inline split out of range', (_, m) => (m.splits.extra = [0, N]), ["'splits.extra[1]'"]],
    [
      'npy shape disagreeing with the manifest',
      (dir) => writeNpy(path.join(dir, 'audio.npy'), new Float32Array(N * T * 5), [N, T, 5], 'float32'),
      ['audio.npy', 'shape [7, 3, 5]', "manifest's [7, 3, 4]", "'modalities.audio'"],
    ],
    [
      'npy dtype disagreeing with the manifest',
      (dir) => writeNpy(path.join(dir, 'clip_labels.npy'), new Float32Array(N), [N], 'float32'),
      ['clip_labels.npy', "dtype '<f4'", "'clipLabels'"],
    ],
    [
      'clip label outside the classes',
      (dir) => writeNpy(path.join(dir, 'clip_labels.npy'), [0, 1, 0, 1, 0, 1, 2], [N], 'int32'),
      ['clip_labels.npy', 'clip 6 has label 2'],
    ],
    [
      'split file index out of range',
      (dir) => writeNpy(path.join(dir, 'split_test.npy'), [1, 99], [2], 'int32'),
      ['split_test.npy', "split 'test' entry 1 is 99"],
    ],
  ];
  for (const [what, edit, parts] of cases) {
    const dir = damaged(edit);
    assert.throws(() => openDataset(dir), errorMatching(...parts), what);
  }
});

test('a NaN or Inf in the features is found when the dataset is opened, naming the file, clip and modality', () => {
  const handAudio = handDataset().readFeatures(
    'audio',
    Array.from({ length: N }, (_, i) => i),
  );
  const withValue = (value: number, at: number) =>
    damaged((dir) => {
      const audio = handAudio.slice();
      audio[at] = value;
      writeNpy(path.join(dir, 'audio.npy'), audio, [N, T, 4], 'float32');
    });
  // clip 5, segment 2, element 1 of [N, T=3, 4]
  const nanDir = withValue(NaN, (5 * T + 2) * 4 + 1);
  const nanFile = path.join(nanDir, 'audio.npy');
  assert.throws(
    () => openDataset(nanDir),
    errorMatching(nanFile, "clip 5 of modality 'audio' holds NaN", 'segment 2, element 1'),
  );
  const infDir = withValue(-Infinity, 0);
  const infFile = path.join(infDir, 'audio.npy');
  assert.throws(
    () => openDataset(infDir),
    errorMatching(infFile, "clip 0 of modality 'audio' holds -Infinity", 'segment 0, element 0'),
  );

  const base = handDataset();
  const all = Array.from({ length: N }, (_, i) => i);
  const video = base.readFeatures('video', all);
  video[video.length - 1] = Infinity;
  assert.throws(
    () =>
      new InMemoryDataset({
        name: 'mem',
        classes: ['dog', 'car'],
        modalities: { video: { data: video, shape: [N, T, 2, 2, 3] } },
        clipLabels: base.readClipLabels(all),
        segmentLabels: base.readSegmentLabels(all),
        splits: { train: Int32Array.from([0]) },
      }),
    errorMatching("dataset 'mem': clip 6 of modality 'video' holds Infinity", 'segment 2, element 11'),
  );
});

test('a file too big to scan at open is checked as its rows are read', () => {
  const dir = path.join(tempDir(), 'ds');
  writeDataset(dir, handDataset());
  const ds = openDataset(dir);
  // Change the file under the open reader, as a dataset too large for the scan at open would go unchecked until read.
  const file = path.join(dir, 'video.npy');
  const bytes = fs.readFileSync(file);
  const dataOffset = bytes.length - N * T * 12 * 4;
  bytes.writeFloatLE(NaN, dataOffset + ((3 * T + 1) * 12 + 7) * 4);
  fs.writeFileSync(file, bytes);
  const where = errorMatching(file, "clip 3 of modality 'video' holds NaN", 'segment 1, element 7');
  assert.throws(() => ds.readFeatures('video', [2, 3]), where);
  assert.equal(ds.readFeatures('video', [2]).length, T * 12, 'other clips still read');
  ds.close();
});

test('a directory where a file belongs is named as such, not a bare EISDIR', () => {
  const npyDir = damaged((dir) => {
    fs.rmSync(path.join(dir, 'audio.npy'));
    fs.mkdirSync(path.join(dir, 'audio.npy'));
  });
  const npyFile = path.join(npyDir, 'audio.npy');
  assert.throws(
    () => openDataset(npyDir),
    errorMatching(`${npyFile}: cannot open (EISDIR: it is a directory, not a file)`),
  );
  const manifestDir = path.join(tempDir(), 'ds');
  writeDataset(manifestDir, handDataset());
  fs.rmSync(path.join(manifestDir, 'manifest.json'));
  fs.mkdirSync(path.join(manifestDir, 'manifest.json'));
  const manifest = path.join(manifestDir, 'manifest.json');
  assert.throws(
    () => openDataset(manifestDir),
    errorMatching(`${manifest}: cannot read (EISDIR: it is a directory, not a file)`),
  );
});

test('reads with unknown modalities, splits or clip indices fail with a clear message', () => {
  const dir = path.join(tempDir(), 'ds');
  writeDataset(dir, handDataset());
  const ds = openDataset(dir);
  assert.throws(() => ds.readFeatures('text', [0]), errorMatching("unknown modality 'text'", 'audio, video'));
  assert.throws(() => ds.readFeatures('audio', [N]), errorMatching(`clip index ${N} is outside`));
  assert.throws(() => ds.readClipLabels([1.5]), errorMatching('clip index 1.5'));
  assert.throws(() => ds.split('val'), errorMatching("unknown split 'val'", 'train, test'));
  ds.close();
});

test('in-memory datasets check their arrays', () => {
  const base = handDataset();
  const all = Array.from({ length: N }, (_, i) => i);
  const init = () => ({
    name: 'x',
    classes: ['dog', 'car'],
    modalities: { audio: { data: base.readFeatures('audio', all), shape: [N, T, 4] } },
    clipLabels: base.readClipLabels(all),
    segmentLabels: base.readSegmentLabels(all),
    splits: { train: Int32Array.from([0]) },
  });
  assert.throws(
    () => new InMemoryDataset({ ...init(), modalities: { audio: { data: new Float32Array(3), shape: [N, T, 4] } } }),
    errorMatching("modality 'audio' holds 3 values"),
  );
  assert.throws(
    () => new InMemoryDataset({ ...init(), clipLabels: new Int32Array(N).fill(5) }),
    errorMatching('label 5'),
  );
  assert.throws(
    () => new InMemoryDataset({ ...init(), segmentLabels: new Uint8Array(4) }),
    errorMatching("'segmentLabels.shape'"),
  );
  assert.throws(
    () => new InMemoryDataset({ ...init(), splits: { train: Int32Array.from([N]) } }),
    errorMatching("split 'train'"),
  );
});
