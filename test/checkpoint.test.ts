import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { loadCheckpoint, saveCheckpoint, type CheckpointPayload } from '../src/train/checkpoint.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-ckpt-'));
}

function samplePayload(): CheckpointPayload {
  const special = new Float32Array([1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -2.25]);
  // A view into the middle of a larger buffer: the writer must honour byteOffset.
  const backing = new Int32Array([99, -2147483648, 2147483647, 0, -1, 7, 99]);
  return {
    meta: { config: { name: 'small', widths: [64, 128] }, step: 1200, note: 'héllo', flag: true, none: null },
    tensors: {
      'codebook.embedding': { dtype: 'float32', shape: [2, 4], data: special },
      'codebook.unused': { dtype: 'int32', shape: [5], data: backing.subarray(1, 6) },
      scalar: { dtype: 'float32', shape: [], data: new Float32Array([0.25]) },
      empty: { dtype: 'int32', shape: [3, 0], data: new Int32Array(0) },
    },
  };
}

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

test('checkpoint: round trip keeps meta, shapes, dtypes and every bit of the data', () => {
  const dir = tempDir();
  const file = path.join(dir, 'model.ckpt');
  const payload = samplePayload();
  saveCheckpoint(file, payload);
  const loaded = loadCheckpoint(file);
  assert.deepEqual(loaded.meta, payload.meta);
  assert.deepEqual(Object.keys(loaded.tensors), Object.keys(payload.tensors));
  for (const [name, t] of Object.entries(payload.tensors)) {
    const got = loaded.tensors[name];
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.ok(bytesOf(got.data).equals(bytesOf(t.data)), `${name}: bit-exact data`);
  }
  // The loaded arrays own their memory: changing them cannot alter a second load.
  loaded.tensors['codebook.embedding'].data[0] = 42;
  assert.equal(loadCheckpoint(file).tensors['codebook.embedding'].data[0], 1.5);
});

test('checkpoint: file layout matches docs/checkpoint-format.md', () => {
  const dir = tempDir();
  const file = path.join(dir, 'a.ckpt');
  saveCheckpoint(file, samplePayload());
  const raw = fs.readFileSync(file);
  assert.equal(raw.toString('latin1', 0, 8), 'UCMGCKPT');
  assert.equal(raw.readUInt32LE(8), 1);
  const h = raw.readUInt32LE(12);
  assert.equal((16 + h) % 8, 0, 'data section is 8-byte aligned');
  const header = JSON.parse(raw.toString('utf8', 16, 16 + h));
  assert.equal(raw.byteLength, 16 + h + header.dataByteLength + 32);
  assert.ok(
    createHash('sha256')
      .update(raw.subarray(0, raw.byteLength - 32))
      .digest()
      .equals(raw.subarray(raw.byteLength - 32)),
  );
  const unused = header.tensors.find((t: { name: string }) => t.name === 'codebook.unused');
  assert.equal(unused.offset % 8, 0);
  assert.equal(raw.readInt32LE(16 + h + unused.offset), -2147483648, 'little-endian int32 at the documented offset');
});

test('checkpoint: saving replaces the file atomically and leaves no temporary files', () => {
  const dir = tempDir();
  const file = path.join(dir, 'model.ckpt');
  saveCheckpoint(file, samplePayload());
  const second = samplePayload();
  second.meta.step = 1300;
  saveCheckpoint(file, second);
  assert.equal(loadCheckpoint(file).meta.step, 1300);
  assert.deepEqual(fs.readdirSync(dir), ['model.ckpt']);
});

test('checkpoint: a failure in the middle of writing leaves the previous file intact', () => {
  const dir = tempDir();
  const file = path.join(dir, 'model.ckpt');
  saveCheckpoint(file, samplePayload());
  const before = fs.readFileSync(file);

  // Passes validation (right class and length), then fails once the header is already written.
  class FailingArray extends Float32Array {
    override get buffer(): ArrayBuffer {
      throw new Error('simulated I/O failure');
    }
  }
  const broken = samplePayload();
  broken.tensors['codebook.embedding'].data = new FailingArray(8);
  assert.throws(
    () => saveCheckpoint(file, broken),
    (err: Error) => {
      assert.match(err.message, /model\.ckpt/);
      assert.match(err.message, /simulated I\/O failure/);
      return true;
    },
  );
  assert.ok(fs.readFileSync(file).equals(before), 'old checkpoint unchanged');
  assert.deepEqual(fs.readdirSync(dir), ['model.ckpt'], 'temporary file removed');
});

test('checkpoint: invalid payloads are rejected before anything is written', () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.ckpt');
  const wrongLength = samplePayload();
  wrongLength.tensors['codebook.embedding'].shape = [3, 4];
  assert.throws(() => saveCheckpoint(file, wrongLength), /codebook\.embedding.*8 elements.*\[3, 4\] needs 12/);
  const wrongType = samplePayload();
  wrongType.tensors.scalar = { dtype: 'int32', shape: [], data: new Float32Array(1) };
  assert.throws(() => saveCheckpoint(file, wrongType), /scalar.*Int32Array/);
  const badMeta = samplePayload();
  badMeta.meta.optimizer = { lr: NaN };
  assert.throws(() => saveCheckpoint(file, badMeta), /payload\.meta\.optimizer\.lr is NaN/);
  const classMeta = samplePayload();
  classMeta.meta.when = new Date(0);
  assert.throws(() => saveCheckpoint(file, classMeta), /payload\.meta\.when is a Date/);
  assert.throws(() => saveCheckpoint('', samplePayload()), /path/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('checkpoint: truncated, corrupted and foreign files are refused with the file and the reason', () => {
  const dir = tempDir();
  const good = path.join(dir, 'good.ckpt');
  saveCheckpoint(good, samplePayload());
  const raw = fs.readFileSync(good);
  const h = raw.readUInt32LE(12);
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  const expectError = (file: string, pattern: RegExp): void => {
    assert.throws(
      () => loadCheckpoint(file),
      (err: Error) => {
        assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
        assert.match(err.message, pattern);
        return true;
      },
    );
  };

  for (const length of [0, 5, 20, 16 + h - 3, raw.byteLength - 40, raw.byteLength - 1]) {
    expectError(write(`cut-${length}.ckpt`, raw.subarray(0, length)), /truncated/);
  }
  const flipped = Buffer.from(raw);
  flipped[16 + h + 5] ^= 0x01; // one bit of tensor data
  expectError(write('flipped.ckpt', flipped), /checksum mismatch/);
  const flippedSum = Buffer.from(raw);
  flippedSum[raw.byteLength - 1] ^= 0x80;
  expectError(write('flipped-sum.ckpt', flippedSum), /checksum mismatch/);
  const foreign = Buffer.from(raw);
  foreign.write('PK\x03\x04', 0, 'latin1');
  expectError(write('foreign.ckpt', foreign), /not a unicode-cmg checkpoint/);
  const future = Buffer.from(raw);
  future.writeUInt32LE(2, 8);
  expectError(write('future.ckpt', future), /unsupported format version 2/);
  expectError(write('trailing.ckpt', Buffer.concat([raw, Buffer.from('xx')])), /2 unexpected bytes/);
  const badJson = Buffer.from(raw);
  badJson[16] = 0x7b + 1; // '{' -> '|'
  expectError(write('bad-json.ckpt', badJson), /corrupted header/);
  expectError(path.join(dir, 'missing.ckpt'), /cannot read/);
});

test('checkpoint: a checksum-valid file with an inconsistent tensor directory is refused', () => {
  const dir = tempDir();
  // Two tensors claiming overlapping bytes, with a correct SHA-256, as another tool might write.
  const header = JSON.stringify({
    meta: {},
    tensors: [
      { name: 'a', dtype: 'float32', shape: [2], offset: 0, byteLength: 8 },
      { name: 'b', dtype: 'float32', shape: [2], offset: 0, byteLength: 8 },
    ],
    dataByteLength: 16,
  });
  const padded = Buffer.from(header.padEnd(Math.ceil((16 + header.length) / 8) * 8 - 16, ' '));
  const pre = Buffer.alloc(16);
  pre.write('UCMGCKPT', 0, 'latin1');
  pre.writeUInt32LE(1, 8);
  pre.writeUInt32LE(padded.byteLength, 12);
  const body = Buffer.concat([pre, padded, Buffer.alloc(16)]);
  const file = path.join(dir, 'overlap.ckpt');
  fs.writeFileSync(file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  assert.throws(() => loadCheckpoint(file), /overlap\.ckpt: invalid header: tensors\[1\]\.offset/);
});
