import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { parseCsv } from '../src/data/csv.js';
import { openDataset, writeDataset } from '../src/data/directory.js';
import { InvalidInputError } from '../src/data/errors.js';
import { decodeNumpyPickle, decodeNumpyPickleFloat32, encodeNumpyPickle } from '../src/data/pickle.js';
import { openVggsoundAvelDataset } from '../src/data/vggsound.js';

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const NO_NUMPY = hasNumpy ? false : 'python3 with numpy is not installed';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-vgg-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function python(script: string, input?: Uint8Array): Buffer {
  const result = spawnSync('python3', ['-c', script], { input, maxBuffer: 1 << 28 });
  assert.equal(result.status, 0, result.stderr.toString());
  return result.stdout;
}

function float32Array(values: number[], shape: number[]) {
  return { shape, descr: '<f4', data: new Uint8Array(Float32Array.from(values).buffer) };
}

function invalid(...parts: string[]) {
  return (err: Error) => {
    assert.ok(err instanceof InvalidInputError, `${err.name}: ${err.message}`);
    for (const part of parts) assert.ok(err.message.includes(part), `'${err.message}' lacks '${part}'`);
    return true;
  };
}

// The opening bytes of pickle.dumps(np.arange(3, dtype=np.float32), protocol=2) under numpy 1.x,
// written out by hand from the pickle opcode table.
test('protocol 2 pickles match the hand-written opcode layout', () => {
  const bytes = encodeNumpyPickle(float32Array([0, 1, 2], [3]), { protocol: 2, numpyPackage: 'numpy.core' });
  const ascii = (s: string) => Array.from(Buffer.from(s, 'latin1'));
  const expectedStart = [
    0x80,
    2, // PROTO 2
    0x63,
    ...ascii('numpy.core.multiarray\n_reconstruct\n'),
    0x71,
    0, // GLOBAL, BINPUT 0
    0x63,
    ...ascii('numpy\nndarray\n'),
    0x71,
    1,
    0x4b,
    0,
    0x85,
    0x71,
    2, // (0,)
    0x63,
    ...ascii('_codecs\nencode\n'),
    0x71,
    3,
    0x58,
    1,
    0,
    0,
    0,
    0x62,
    0x71,
    4, // 'b'
    0x58,
    6,
    0,
    0,
    0,
    ...ascii('latin1'),
    0x71,
    5,
    0x86,
    0x71,
    6,
    0x52,
    0x71,
    7, // ('b', 'latin1'), REDUCE
    0x87,
    0x71,
    8,
    0x52,
    0x71,
    9, // (ndarray, (0,), b'b'), REDUCE
    0x28,
    0x4b,
    1,
    0x4b,
    3,
    0x85,
    0x71,
    10, // MARK, 1, (3,)
  ];
  assert.deepEqual(Array.from(bytes.subarray(0, expectedStart.length)), expectedStart);
  assert.equal(bytes[bytes.length - 1], 0x2e); // STOP
});

test('pickles of every protocol round-trip through the reader', () => {
  const cases = [
    { shape: [2, 3], descr: '<f4' },
    { shape: [3, 1, 2, 2], descr: '<f2' },
    { shape: [2, 2], descr: '>f8' },
    { shape: [5], descr: '|u1' },
    { shape: [300, 70], descr: '<f4' }, // payload beyond 64 KiB: written outside protocol-4 frames
    { shape: [2, 300], descr: '<i8' }, // dimension >= 256
  ];
  for (const { shape, descr } of cases) {
    const size = Number(descr.slice(2));
    const data = Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) * size }, (_, i) => (i * 37 + 11) & 0xff);
    for (const protocol of [2, 3, 4, 5] as const) {
      for (const numpyPackage of ['numpy.core', 'numpy._core'] as const) {
        const decoded = decodeNumpyPickle(encodeNumpyPickle({ shape, descr, data }, { protocol, numpyPackage }), 'x');
        assert.deepEqual(decoded.shape, shape);
        assert.equal(decoded.descr, descr);
        assert.deepEqual(decoded.data, data, `${descr} ${shape} protocol ${protocol}`);
      }
    }
  }
  const values = decodeNumpyPickleFloat32(encodeNumpyPickle(float32Array([1.5, -2, 3.25, 0], [2, 2])), 'x');
  assert.deepEqual(Array.from(values.data), [1.5, -2, 3.25, 0]);
});

test('pickles that are not plain numpy arrays are refused without running anything', () => {
  const ascii = (s: string) => Buffer.from(s, 'latin1');
  const evil = Buffer.concat([
    Buffer.from([0x80, 2, 0x63]),
    ascii('os\nsystem\n'),
    Buffer.from([0x58, 2, 0, 0, 0]),
    ascii('ls'),
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
  assert.throws(
    () => decodeNumpyPickle(evil, 'evil.pkl'),
    invalid('evil.pkl', "unsupported pickle global 'os.system'"),
  );
  assert.throws(
    () => decodeNumpyPickle(Buffer.from([0x80, 4, 0x4b, 7, 0x2e]), 'int.pkl'),
    invalid('does not hold a numpy array'),
  );
  const good = encodeNumpyPickle(float32Array([1, 2, 3, 4], [4]), { protocol: 3 });
  assert.throws(
    () => decodeNumpyPickle(good.subarray(0, good.length - 20), 'cut.pkl'),
    invalid('cut.pkl', 'truncated'),
  );
  assert.throws(
    () => decodeNumpyPickle(Buffer.from([0x80, 2, 0xff]), 'op.pkl'),
    invalid('unsupported pickle opcode 0xff'),
  );
  // Shape and data disagree: 4 float32 values claimed as [5].
  const lying = encodeNumpyPickle(float32Array([1, 2, 3, 4], [4]), { protocol: 3 });
  const at = lying.indexOf(0x4b, lying.indexOf(0x28)) + 3; // MARK, BININT1 1, BININT1 <dim>
  lying[at] = 5;
  assert.throws(() => decodeNumpyPickle(lying, 'lie.pkl'), invalid('holds 16 bytes', 'shape [5]'));
});

test("our pickles are byte-identical to numpy's, and numpy's decode", { skip: NO_NUMPY }, () => {
  const numpyPackage = python('import numpy; print(numpy.__version__)').toString().startsWith('1.')
    ? 'numpy.core'
    : 'numpy._core';
  const cases = [
    { shape: [2, 3], descr: '<f4' },
    { shape: [10, 2, 2, 3], descr: '<f2' },
    { shape: [3, 2], descr: '>f8' },
    { shape: [300, 70], descr: '<f4' },
    { shape: [70000], descr: '|u1' },
  ];
  for (const { shape, descr } of cases) {
    const size = Number(descr.slice(2));
    const data = Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) * size }, (_, i) => (i * 7 + 3) & 0xff);
    for (const protocol of [2, 3, 4, 5] as const) {
      const theirs = python(
        `import sys, pickle, numpy as np
a = np.frombuffer(sys.stdin.buffer.read(), dtype='${descr}').reshape(${JSON.stringify(shape)}).copy()
sys.stdout.buffer.write(pickle.dumps(a, protocol=${protocol}))`,
        data,
      );
      const ours = encodeNumpyPickle({ shape, descr, data }, { protocol, numpyPackage });
      assert.ok(Buffer.from(ours).equals(theirs), `${descr} [${shape}] protocol ${protocol}`);
      assert.deepEqual(decodeNumpyPickle(theirs, 'numpy').data, data);
    }
  }
  // Fortran-ordered arrays are reordered to C order.
  const fortran = python(`import sys, pickle, numpy as np
sys.stdout.buffer.write(pickle.dumps(np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)), protocol=4))`);
  const decoded = decodeNumpyPickleFloat32(fortran, 'fortran');
  assert.deepEqual(decoded.shape, [2, 3, 4]);
  assert.deepEqual(
    Array.from(decoded.data),
    Array.from({ length: 24 }, (_, i) => i),
  );
});

test('CSV parsing handles quotes, embedded commas, CRLF and ragged rows', () => {
  const table = parseCsv(
    '\uFEFFvideo_id,category,split\r\n"a,1","say ""hi""",train\r\nb,dog barking,test\n',
    'meta.csv',
  );
  assert.deepEqual(table.columns, ['video_id', 'category', 'split']);
  assert.deepEqual(table.rows, [
    { video_id: 'a,1', category: 'say "hi"', split: 'train' },
    { video_id: 'b', category: 'dog barking', split: 'test' },
  ]);
  assert.throws(() => parseCsv('a,b\n1\n', 'meta.csv'), invalid('meta.csv', 'row 2 has 1 fields'));
  assert.throws(() => parseCsv('a\n"open', 'meta.csv'), invalid('unterminated'));
});

const T = 10;
const CLIPS = [
  { id: 'clipA', category: 'dog', split: 'train', audioT: 10, presence: [0, 0, 1, 1, 1, 0, 0, 0, 0, 0] },
  { id: 'clipB', category: 'car', split: 'train', audioT: 8, presence: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] }, // short audio: padded
  { id: 'clipC', category: 'dog', split: 'test', audioT: 12, presence: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1] }, // long audio: cut
];

function audioOf(clip: number, t: number): number[] {
  return Array.from({ length: t * 4 }, (_, i) => clip * 1000 + i);
}
function videoOf(clip: number): number[] {
  return Array.from({ length: T * 2 * 2 * 3 }, (_, i) => -(clip * 1000 + i));
}

function writeZip(file: string, entries: Record<string, Uint8Array>): void {
  fs.writeFileSync(file, zipSync(entries));
}

/** A VGGSound-AVEL-style tree written by the test: zips of pickles, a CSV and a category list. */
function writeVggsound(): { dir: string; options: Parameters<typeof openVggsoundAvelDataset>[0] } {
  const dir = fs.mkdtempSync(path.join(root, 'vgg-'));
  for (const sub of ['audio', 'video', 'avc']) fs.mkdirSync(path.join(dir, sub));
  CLIPS.forEach((clip, i) => {
    const audio = encodeNumpyPickle(float32Array(audioOf(i, clip.audioT), [clip.audioT, 4]), { protocol: 2 });
    writeZip(path.join(dir, 'audio', `${clip.id}.zip`), { [`${clip.id}.pkl`]: audio });
    const video = encodeNumpyPickle(float32Array(videoOf(i), [T, 2, 2, 3]), { protocol: 4 });
    // Several .pkl entries: the last one counts, as in the published loader.
    const stale = encodeNumpyPickle(float32Array(new Array(T * 12).fill(7), [T, 2, 2, 3]));
    writeZip(path.join(dir, 'video', `${clip.id}.zip`), {
      'old.pkl': stale,
      'readme.txt': new Uint8Array([104, 105]),
      [`feat/${clip.id}.pkl`]: video,
    });
    const presence = encodeNumpyPickle(
      { shape: [T, 1], descr: '<f8', data: new Uint8Array(Float64Array.from(clip.presence).buffer) },
      { protocol: 5 },
    );
    writeZip(path.join(dir, 'avc', `${clip.id}.zip`), { [`${clip.id}.pkl`]: presence });
  });
  const csv = ['video_id,category,split', ...CLIPS.map((c) => `${c.id},${c.category},${c.split}`)].join('\n');
  fs.writeFileSync(path.join(dir, 'meta.csv'), csv);
  fs.writeFileSync(path.join(dir, 'categories.txt'), 'cat\ndog\ncar\n');
  return {
    dir,
    options: {
      metaCsv: path.join(dir, 'meta.csv'),
      featureDirs: { audio: path.join(dir, 'audio'), video: path.join(dir, 'video') },
      segmentLabelDir: path.join(dir, 'avc'),
      categories: path.join(dir, 'categories.txt'),
    },
  };
}

test('VGGSound-AVEL zips of pickles are read, padded or cut to T, with labels and splits', () => {
  const { options } = writeVggsound();
  const ds = openVggsoundAvelDataset(options);
  assert.equal(ds.name, 'meta');
  assert.deepEqual(ds.classes, ['cat', 'dog', 'car']);
  assert.deepEqual(ds.featureShape('audio'), [T, 4]);
  assert.deepEqual(ds.featureShape('video'), [T, 2, 2, 3]);
  assert.deepEqual(Array.from(ds.readFeatures('audio', [0])), audioOf(0, 10));
  const padded = [...audioOf(1, 8), ...audioOf(1, 8).slice(7 * 4), ...audioOf(1, 8).slice(7 * 4)];
  assert.deepEqual(Array.from(ds.readFeatures('audio', [1])), padded);
  assert.deepEqual(Array.from(ds.readFeatures('audio', [2])), audioOf(2, 12).slice(0, T * 4));
  assert.deepEqual(Array.from(ds.readFeatures('video', [2, 0])), [...videoOf(2), ...videoOf(0)]);
  assert.deepEqual(Array.from(ds.readClipLabels([0, 1, 2])), [1, 2, 1]);
  const labels = ds.readSegmentLabels([0]);
  const expected = new Uint8Array(T * 3);
  CLIPS[0].presence.forEach((p, s) => (expected[s * 3 + 1] = p));
  assert.deepEqual(labels, expected);
  assert.deepEqual(ds.splitNames, ['train', 'test']);
  assert.deepEqual(Array.from(ds.split('test')), [2]);

  // Without presence labels every segment holds the clip's event; default classes are the sorted categories.
  const plain = openVggsoundAvelDataset({ ...options, segmentLabelDir: undefined, categories: undefined });
  assert.deepEqual(plain.classes, ['car', 'dog']);
  assert.deepEqual(Array.from(plain.readSegmentLabels([1])), Array.from({ length: T }, () => [1, 0]).flat());

  const out = path.join(root, 'vgg-converted');
  writeDataset(out, ds);
  const converted = openDataset(out);
  assert.deepEqual(converted.readFeatures('audio', [0, 1, 2]), ds.readFeatures('audio', [0, 1, 2]));
  assert.deepEqual(converted.readSegmentLabels([0, 1, 2]), ds.readSegmentLabels([0, 1, 2]));
  converted.close();
});

test('a VGGSound-AVEL tree written by python (zipfile + pickle.dump) is read', { skip: NO_NUMPY }, () => {
  const dir = fs.mkdtempSync(path.join(root, 'vgg-py-'));
  python(`
import io, os, pickle, zipfile, numpy as np
base = '${dir}'
for sub in ('audio', 'video'):
    os.makedirs(os.path.join(base, sub))
rows = ['video_id,category,split']
for i, vid in enumerate(['x1', 'x2']):
    a = (np.arange(10 * 4, dtype=np.float32) + 100 * i).reshape(10, 4)
    v = (np.arange(10 * 3, dtype=np.float64) - 100 * i).reshape(10, 3)
    for sub, arr in (('audio', a), ('video', v)):
        with zipfile.ZipFile(os.path.join(base, sub, vid + '.zip'), 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr(vid + '.pkl', pickle.dumps(arr))
    rows.append(vid + ',dog,' + ('train' if i == 0 else 'test'))
open(os.path.join(base, 'meta.csv'), 'w').write('\\n'.join(rows) + '\\n')
`);
  const ds = openVggsoundAvelDataset({
    metaCsv: path.join(dir, 'meta.csv'),
    featureDirs: { audio: path.join(dir, 'audio'), video: path.join(dir, 'video') },
  });
  assert.deepEqual(
    Array.from(ds.readFeatures('audio', [1])),
    Array.from({ length: 40 }, (_, i) => i + 100),
  );
  assert.deepEqual(
    Array.from(ds.readFeatures('video', [1])),
    Array.from({ length: 30 }, (_, i) => i - 100),
  );
});

test('broken VGGSound-AVEL inputs are refused with the file named', () => {
  const { dir, options } = writeVggsound();
  assert.throws(
    () => openVggsoundAvelDataset({ ...options, metaCsv: path.join(dir, 'none.csv') }),
    invalid('none.csv', 'missing metadata CSV'),
  );
  assert.throws(
    () => openVggsoundAvelDataset({ ...options, featureDirs: { audio: path.join(dir, 'nope') } }),
    invalid('featureDirs.audio'),
  );

  fs.writeFileSync(path.join(dir, 'nosplit.csv'), 'video_id,category\nclipA,dog\n');
  assert.throws(
    () => openVggsoundAvelDataset({ ...options, metaCsv: path.join(dir, 'nosplit.csv') }),
    invalid('nosplit.csv', "no 'split' column"),
  );
  fs.writeFileSync(path.join(dir, 'unknown.csv'), 'video_id,category,split\nclipA,dog,train\nclipB,horse,test\n');
  assert.throws(
    () => openVggsoundAvelDataset({ ...options, metaCsv: path.join(dir, 'unknown.csv') }),
    invalid('unknown.csv', "row 3 has category 'horse'"),
  );

  const ds = openVggsoundAvelDataset(options);
  writeZip(path.join(dir, 'audio', 'clipB.zip'), { 'notes.txt': new Uint8Array([1]) });
  assert.throws(() => ds.readFeatures('audio', [1]), invalid('clipB.zip', 'no .pkl entry'));
  fs.writeFileSync(path.join(dir, 'audio', 'clipB.zip'), 'not a zip');
  assert.throws(() => ds.readFeatures('audio', [1]), invalid('clipB.zip', 'not a readable zip'));
  writeZip(path.join(dir, 'audio', 'clipB.zip'), {
    'b.pkl': encodeNumpyPickle(float32Array(audioOf(1, 10).concat(new Array(10).fill(0)), [10, 5])),
  });
  assert.throws(() => ds.readFeatures('audio', [1]), invalid('clipB.zip', 'shape [10, 5]', "[10, 4] for 'audio'"));
  fs.rmSync(path.join(dir, 'video', 'clipC.zip'));
  assert.throws(() => ds.readFeatures('video', [2]), invalid('clipC.zip', 'missing clip archive'));
});

test('a NaN in a VGGSound-AVEL clip is found when the dataset is opened, naming its zip, clip and modality', () => {
  const { dir, options } = writeVggsound();
  const audio = audioOf(1, 8);
  audio[2 * 4 + 3] = NaN;
  writeZip(path.join(dir, 'audio', 'clipB.zip'), { 'clipB.pkl': encodeNumpyPickle(float32Array(audio, [8, 4])) });
  const file = path.join(dir, 'audio', 'clipB.zip');
  assert.throws(
    () => openVggsoundAvelDataset(options),
    invalid(`${file}: clip 1 of modality 'audio' holds NaN`, 'segment 2, element 3'),
  );
});
