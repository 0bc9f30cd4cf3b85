import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../src/data/dtype.js';
import { InvalidInputError } from '../src/data/errors.js';
import { NpyReader, NpyWriter, encodeNpyHeader, parseNpyHeader, writeNpy } from '../src/data/npy.js';

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const NO_NUMPY = hasNumpy ? false : 'python3 with numpy is not installed';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-npy-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function tempDir(): string {
  return fs.mkdtempSync(path.join(root, 'case-'));
}

function python(script: string): void {
  const result = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

/** An .npy file assembled by hand: magic, version, header length, dict, data. */
function handMadeNpy(major: number, dict: string, data: Uint8Array): Buffer {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(header);
  if (major === 1) header.writeUInt16LE(total - prefix, 8);
  else header.writeUInt32LE(total - prefix, 8);
  header.write(dict, prefix, 'latin1');
  header[total - 1] = 0x0a;
  return Buffer.concat([header, data]);
}

test('float16 bit patterns decode to the values IEEE 754 defines', () => {
  assert.equal(float16BitsToFloat32(0x3c00), 1);
  assert.equal(float16BitsToFloat32(0xc000), -2);
  assert.equal(float16BitsToFloat32(0x3555), 0.333251953125);
  assert.equal(float16BitsToFloat32(0x7bff), 65504);
  assert.equal(float16BitsToFloat32(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(float16BitsToFloat32(0x0400), 2 ** -14); // smallest normal
  assert.equal(float16BitsToFloat32(0x7c00), Infinity);
  assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
  assert.ok(Object.is(float16BitsToFloat32(0x8000), -0));
});

test('float32 -> float16 rounds to nearest even and overflows to infinity', () => {
  assert.equal(float32ToFloat16Bits(1), 0x3c00);
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // halfway, even mantissa stays
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // halfway, odd mantissa rounds up
  assert.equal(float32ToFloat16Bits(65520), 0x7c00); // rounds past 65504
  assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001);
  assert.equal(float32ToFloat16Bits(2 ** -26), 0x0000); // below half the smallest subnormal
  assert.equal(float32ToFloat16Bits(-2), 0xc000);
  assert.equal(float32ToFloat16Bits(NaN) & 0x7c00, 0x7c00);
});

test('writer output parses back; the header is 64-byte aligned and ends in a newline', () => {
  const header = encodeNpyHeader('<f4', [3, 10, 7]);
  assert.equal(header.length % 64, 0);
  assert.equal(header[header.length - 1], 0x0a);
  const parsed = parseNpyHeader(header, 'x');
  assert.deepEqual(parsed.shape, [3, 10, 7]);
  assert.equal(parsed.descr, '<f4');
  assert.equal(parsed.dataOffset, header.length);
  assert.deepEqual(parseNpyHeader(encodeNpyHeader('|u1', [5]), 'x').shape, [5]);
});

test('random-access row reads return the requested rows in order, repeats included', () => {
  const dir = tempDir();
  const file = path.join(dir, 'a.npy');
  const values = Float32Array.from({ length: 6 * 2 * 3 }, (_, i) => i * 0.5 - 3);
  writeNpy(file, values, [6, 2, 3], 'float32');
  const reader = NpyReader.open(file);
  try {
    assert.deepEqual(reader.shape, [6, 2, 3]);
    const rows = reader.readRowsFloat32([4, 0, 1, 2, 2, 5]);
    const expected = [4, 0, 1, 2, 2, 5].flatMap((r) => Array.from(values.subarray(r * 6, r * 6 + 6)));
    assert.deepEqual(Array.from(rows), expected);
    assert.throws(() => reader.readRowsFloat32([6]), /row 6 is outside \[0, 6\)/);
  } finally {
    reader.close();
  }
});

test('float16, int32 and uint8 files written by the streaming writer read back', () => {
  const dir = tempDir();
  const half = path.join(dir, 'h.npy');
  const writer = new NpyWriter(half, 'float16', [4, 2]);
  writer.append([1, -2, 0.5, 65504]);
  writer.append([0.333251953125, 2 ** -24, 3, 4]);
  writer.finish();
  const reader = NpyReader.open(half);
  assert.equal(reader.header.descr, '<f2');
  assert.deepEqual(Array.from(reader.readRowsFloat32([0, 1, 2, 3])), [
    1,
    -2,
    0.5,
    65504,
    0.333251953125,
    2 ** -24,
    3,
    4,
  ]);
  reader.close();

  writeNpy(path.join(dir, 'i.npy'), [-7, 2147483647], [2], 'int32');
  const ints = NpyReader.open(path.join(dir, 'i.npy'));
  assert.deepEqual(Array.from(ints.readRowsInt32([1, 0])), [2147483647, -7]);
  ints.close();

  writeNpy(path.join(dir, 'u.npy'), [0, 1, 255, 3], [2, 2], 'uint8');
  const bytes = NpyReader.open(path.join(dir, 'u.npy'));
  assert.deepEqual(Array.from(bytes.readRowsUint8([1])), [255, 3]);
  bytes.close();

  const short = new NpyWriter(path.join(dir, 's.npy'), 'float32', [3, 2]);
  short.append([1, 2]);
  assert.throws(() => short.finish(), /wrote 1 rows, declared 3/);
});

test('version 2.0 and 3.0 headers are read', () => {
  const dir = tempDir();
  const data = new Uint8Array(new Float32Array([1.5, -2.5, 3.5, 4.5]).buffer);
  for (const major of [2, 3]) {
    const file = path.join(dir, `v${major}.npy`);
    fs.writeFileSync(file, handMadeNpy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data));
    const reader = NpyReader.open(file);
    assert.deepEqual(reader.header.version, [major, 0]);
    assert.deepEqual(Array.from(reader.readRowsFloat32([1])), [3.5, 4.5]);
    reader.close();
  }
});

test('big-endian and float64 files are converted to float32', () => {
  const dir = tempDir();
  const be = Buffer.alloc(8);
  be.writeFloatBE(1.25, 0);
  be.writeFloatBE(-8, 4);
  fs.writeFileSync(
    path.join(dir, 'be.npy'),
    handMadeNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be),
  );
  const reader = NpyReader.open(path.join(dir, 'be.npy'));
  assert.deepEqual(Array.from(reader.readRowsFloat32([0, 1])), [1.25, -8]);
  reader.close();
  const f64 = new Uint8Array(new Float64Array([0.1, 1e10]).buffer);
  fs.writeFileSync(
    path.join(dir, 'd.npy'),
    handMadeNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f64),
  );
  const doubles = NpyReader.open(path.join(dir, 'd.npy'));
  assert.deepEqual(Array.from(doubles.readRowsFloat32([0, 1])), [Math.fround(0.1), 1e10]);
  doubles.close();
});

test('malformed files are refused with the file named', () => {
  const dir = tempDir();
  const bad = (name: string, bytes: Uint8Array, pattern: RegExp) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => NpyReader.open(file),
      (err: Error) => err instanceof InvalidInputError && err.message.includes(file) && pattern.test(err.message),
    );
  };
  const four = new Uint8Array(16);
  bad('magic.npy', Buffer.from('not an npy file at all'), /bad magic/);
  bad('short.npy', handMadeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", four), /needs/);
  bad('fortran.npy', handMadeNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four), /Fortran/);
  bad(
    'complex.npy',
    handMadeNpy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", four),
    /unsupported dtype/,
  );
  bad(
    'struct.npy',
    handMadeNpy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", four),
    /structured/,
  );
  bad('noshape.npy', handMadeNpy(1, "{'descr': '<f4', 'fortran_order': False}", four), /shape/);
  assert.throws(
    () => NpyReader.open(path.join(dir, 'absent.npy')),
    /absent\.npy: cannot open \(ENOENT: no such file\)$/,
  );
});

test('files written by numpy are read, and numpy reads ours', { skip: NO_NUMPY }, () => {
  const dir = tempDir();
  python(`
import numpy as np
a = (np.arange(24, dtype=np.float32) / 4 - 2).reshape(4, 3, 2)
np.save('${dir}/f32.npy', a)
np.save('${dir}/f16.npy', a.astype(np.float16))
np.lib.format.write_array(open('${dir}/v2.npy', 'wb'), a, version=(2, 0))
np.save('${dir}/u8.npy', np.array([[0, 1], [254, 255]], dtype=np.uint8))
`);
  const expected = Array.from({ length: 24 }, (_, i) => i / 4 - 2);
  for (const name of ['f32', 'f16', 'v2']) {
    const reader = NpyReader.open(path.join(dir, `${name}.npy`));
    assert.deepEqual(reader.shape, [4, 3, 2]);
    assert.deepEqual(Array.from(reader.readRowsFloat32([0, 1, 2, 3])), expected, name);
    reader.close();
  }
  const bytes = NpyReader.open(path.join(dir, 'u8.npy'));
  assert.deepEqual(Array.from(bytes.readRowsUint8([1, 0])), [254, 255, 0, 1]);
  bytes.close();

  writeNpy(path.join(dir, 'ours.npy'), expected, [4, 3, 2], 'float16');
  python(`
import numpy as np
a = np.load('${dir}/ours.npy')
assert a.dtype == np.float16 and a.shape == (4, 3, 2), (a.dtype, a.shape)
assert np.array_equal(a.astype(np.float32).ravel(), np.arange(24, dtype=np.float32) / 4 - 2)
`);
});
