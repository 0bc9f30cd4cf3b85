import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import h5wasm from 'h5wasm/node';
import { openAveDataset } from '../src/data/ave.js';
import { openDataset, writeDataset } from '../src/data/directory.js';
import { InvalidInputError } from '../src/data/errors.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-ave-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
before(async () => {
  await h5wasm.ready;
});

const N = 6;
const T = 4;
const C = 3; // events; labels.h5 has C + 1 columns, background last

const audio = Float64Array.from({ length: N * T * 5 }, (_, i) => i / 16); // float64 on disk: must be converted
const video = Float32Array.from({ length: N * T * 2 * 2 * 3 }, (_, i) => 1000 - i);
/** Clip i: class i % C on segments [i % 2, i % 2 + 2), background elsewhere. */
function labelArray(): Float64Array {
  const labels = new Float64Array(N * T * (C + 1));
  for (let i = 0; i < N; i++) {
    for (let s = 0; s < T; s++) {
      const event = s >= i % 2 && s < (i % 2) + 2;
      labels[(i * T + s) * (C + 1) + (event ? i % C : C)] = 1;
    }
  }
  return labels;
}

function writeH5(
  file: string,
  key: string,
  data: Float64Array | Float32Array | Int32Array,
  shape: number[],
  dtype: string,
): void {
  const f = new h5wasm.File(file, 'w');
  f.create_dataset({ name: key, data, shape, dtype });
  f.close();
}

/** An AVE-style directory written with h5wasm itself; `skip` leaves files out. */
function writeAve(skip: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(root, 'ave-'));
  const files: [string, string, Float64Array | Float32Array | Int32Array, number[], string][] = [
    ['audio_feature.h5', 'avadataset', audio, [N, T, 5], '<d'],
    ['visual_feature.h5', 'avadataset', video, [N, T, 2, 2, 3], '<f'],
    ['labels.h5', 'avadataset', labelArray(), [N, T, C + 1], '<d'],
    ['train_order.h5', 'order', Int32Array.from([0, 2, 4, 5]), [4], '<i'],
    ['test_order.h5', 'order', Int32Array.from([3, 1]), [2], '<i'],
  ];
  for (const [name, key, data, shape, dtype] of files) {
    if (!skip.includes(name)) writeH5(path.join(dir, name), key, data, shape, dtype);
  }
  return dir;
}

function rowsOf(values: ArrayLike<number>, rowSize: number, rows: number[]): number[] {
  return rows.flatMap((r) =>
    Array.from(values)
      .slice(r * rowSize, (r + 1) * rowSize)
      .map((v) => Math.fround(v)),
  );
}

test('AVE HDF5 files are read: features, labels from the one-hot matrix, split orders', async () => {
  const ds = await openAveDataset(writeAve(), { classes: ['bark', 'bell', 'car'], name: 'ave-small' });
  try {
    assert.equal(ds.name, 'ave-small');
    assert.equal(ds.numClips, N);
    assert.equal(ds.segments, T);
    assert.deepEqual(ds.modalities, ['audio', 'video']);
    assert.deepEqual(ds.featureShape('audio'), [T, 5]);
    assert.deepEqual(ds.featureShape('video'), [T, 2, 2, 3]);
    assert.deepEqual(Array.from(ds.readFeatures('audio', [4, 1, 2])), rowsOf(audio, T * 5, [4, 1, 2]));
    assert.deepEqual(Array.from(ds.readFeatures('audio', [1, 2, 3, 0])), rowsOf(audio, T * 5, [1, 2, 3, 0])); // one slice for 1..3
    assert.deepEqual(Array.from(ds.readFeatures('video', [5, 0])), rowsOf(video, T * 12, [5, 0]));
    assert.deepEqual(Array.from(ds.readClipLabels([0, 1, 2, 3, 4, 5])), [0, 1, 2, 0, 1, 2]);
    // Clip 3: class 0 on segments 1 and 2 only.
    assert.deepEqual(Array.from(ds.readSegmentLabels([3])), [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual(ds.splitNames, ['train', 'test']);
    assert.deepEqual(Array.from(ds.split('train')), [0, 2, 4, 5]);
    assert.deepEqual(Array.from(ds.split('test')), [3, 1]);
  } finally {
    ds.close();
  }
});

test('a clip with two event classes takes the one in more segments, the lower index on a tie', async () => {
  const dir = writeAve();
  const labels = labelArray();
  const set = (clip: number, segment: number, column: number) => {
    labels.fill(0, (clip * T + segment) * (C + 1), (clip * T + segment + 1) * (C + 1));
    labels[(clip * T + segment) * (C + 1) + column] = 1;
  };
  set(0, 0, 2); // clip 0: class 2 on segment 0, class 0 on segment 1: tie -> class 0
  set(1, 0, 0); // clip 1: class 0 on segment 0 only, class 1 on segments 1, 2 -> class 1
  set(2, 3, 1); // clip 2: class 2 on segments 0, 1 and class 1 on segment 3 -> class 2
  writeH5(path.join(dir, 'labels.h5'), 'avadataset', labels, [N, T, C + 1], '<d');
  const ds = await openAveDataset(dir);
  assert.deepEqual(Array.from(ds.readClipLabels([0, 1, 2])), [0, 1, 2]);
  ds.close();
});

test('AVE converts to our format without loss', async () => {
  const ave = await openAveDataset(writeAve());
  const out = path.join(root, 'converted');
  writeDataset(out, ave, { chunkClips: 4 });
  const ds = openDataset(out);
  const all = [0, 1, 2, 3, 4, 5];
  for (const m of ['audio', 'video']) assert.deepEqual(ds.readFeatures(m, all), ave.readFeatures(m, all));
  assert.deepEqual(ds.readSegmentLabels(all), ave.readSegmentLabels(all));
  assert.deepEqual(ds.readClipLabels(all), ave.readClipLabels(all));
  assert.deepEqual(ds.classes, ['class_0', 'class_1', 'class_2']);
  assert.deepEqual(Array.from(ds.split('test')), [3, 1]);
  ds.close();
  ave.close();
});

test('broken AVE directories are refused with the file named', async () => {
  const rejects = async (dir: string, options: { classes?: string[] }, ...parts: string[]) => {
    await assert.rejects(openAveDataset(dir, options), (err: Error) => {
      assert.ok(err instanceof InvalidInputError, `${err.name}: ${err.message}`);
      for (const part of parts) assert.ok(err.message.includes(part), `'${err.message}' lacks '${part}'`);
      return true;
    });
  };
  await rejects(path.join(root, 'absent'), {}, 'does not exist');
  await rejects(writeAve(['labels.h5']), {}, 'labels.h5', 'missing HDF5 file');
  await rejects(writeAve(['train_order.h5', 'test_order.h5']), {}, 'no split order file');
  await rejects(writeAve(), { classes: ['a', 'b'] }, "'classes' names 2 classes", 'has 3');

  const notHdf5 = writeAve();
  fs.writeFileSync(path.join(notHdf5, 'visual_feature.h5'), 'plain text');
  await rejects(notHdf5, {}, 'visual_feature.h5', 'not an HDF5 file');

  const wrongKey = writeAve();
  writeH5(path.join(wrongKey, 'audio_feature.h5'), 'features', audio, [N, T, 5], '<d');
  await rejects(wrongKey, {}, 'audio_feature.h5', "no dataset 'avadataset'", 'features');

  const wrongShape = writeAve();
  writeH5(
    path.join(wrongShape, 'visual_feature.h5'),
    'avadataset',
    video.subarray(0, (N - 1) * T * 12),
    [N - 1, T, 2, 2, 3],
    '<f',
  );
  await rejects(wrongShape, {}, 'visual_feature.h5', `[${N - 1}, ${T}, 2, 2, 3]`, `expected [${N}, ${T}, ...]`);

  const badOrder = writeAve();
  writeH5(path.join(badOrder, 'test_order.h5'), 'order', Int32Array.from([1, N]), [2], '<i');
  await rejects(badOrder, {}, 'test_order.h5', `'order'[1] is ${N}`);

  const noEvent = writeAve();
  const labels = labelArray();
  for (let s = 0; s < T; s++)
    labels
      .fill(0, (2 * T + s) * (C + 1), (2 * T + s + 1) * (C + 1))
      .fill(1, (2 * T + s) * (C + 1) + C, (2 * T + s + 1) * (C + 1));
  writeH5(path.join(noEvent, 'labels.h5'), 'avadataset', labels, [N, T, C + 1], '<d');
  await rejects(noEvent, {}, 'labels.h5', 'clip 2 has no event segment');
});
