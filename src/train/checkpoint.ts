// Checkpoint files: a JSON header (meta + tensor directory) followed by raw little-endian tensor
// data and a SHA-256 of everything before it. The byte layout is specified in
// docs/checkpoint-format.md. Saving is atomic; loading validates the whole file before returning.

import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../util/atomicWrite.js';
import { assertJsonValue, isPlainObject } from '../util/json.js';
import { fail } from '../util/validate.js';

export type CheckpointDtype = 'float32' | 'int32';

export interface CheckpointTensor {
  dtype: CheckpointDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface CheckpointPayload {
  /** Any plain JSON data: configuration, step counters, optimizer hyper-parameters, RNG states. */
  meta: Record<string, unknown>;
  tensors: Record<string, CheckpointTensor>;
}

export const CHECKPOINT_MAGIC = 'UCMGCKPT';
export const CHECKPOINT_VERSION = 1;

const PREAMBLE_BYTES = 16; // magic (8) + version (4) + header length (4)
const CHECKSUM_BYTES = 32;
const ALIGN = 8;
const BYTES_PER_ELEMENT = 4; // float32 and int32
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

interface TensorEntry {
  name: string;
  dtype: CheckpointDtype;
  shape: number[];
  /** Byte offset from the start of the data section. */
  offset: number;
  byteLength: number;
}

interface Header {
  meta: Record<string, unknown>;
  tensors: TensorEntry[];
  dataByteLength: number;
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Atomically writes `payload` to `path` (replacing any existing file). Invalid payloads write nothing. */
export function saveCheckpoint(path: string, payload: CheckpointPayload): void {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError('saveCheckpoint: path must be a non-empty string');
  }
  const header = describePayload(payload);
  const headerBytes = encodeHeader(header);
  const preamble = Buffer.alloc(PREAMBLE_BYTES);
  preamble.write(CHECKPOINT_MAGIC, 0, 'latin1');
  preamble.writeUInt32LE(CHECKPOINT_VERSION, 8);
  preamble.writeUInt32LE(headerBytes.byteLength, 12);

  try {
    writeFileAtomic(path, (write) => {
      const hash = createHash('sha256');
      const emit = (chunk: Uint8Array): void => {
        hash.update(chunk);
        write(chunk);
      };
      emit(preamble);
      emit(headerBytes);
      let position = 0;
      for (const entry of header.tensors) {
        if (entry.offset > position) emit(new Uint8Array(entry.offset - position));
        emit(littleEndianBytes(payload.tensors[entry.name].data));
        position = entry.offset + entry.byteLength;
      }
      if (header.dataByteLength > position) emit(new Uint8Array(header.dataByteLength - position));
      write(hash.digest());
    });
  } catch (err) {
    throw new Error(`saveCheckpoint: could not write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and fully validates a checkpoint; throws an Error naming the file and the problem. */
export function loadCheckpoint(path: string): CheckpointPayload {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError('loadCheckpoint: path must be a non-empty string');
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (err) {
    throw new Error(`loadCheckpoint: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const header = parseAndVerify(bytes, (what) => fail(`loadCheckpoint: ${path}`, what));
  const dataStart = PREAMBLE_BYTES + bytes.readUInt32LE(12);
  const tensors: Record<string, CheckpointTensor> = {};
  for (const entry of header.tensors) {
    const start = dataStart + entry.offset;
    const raw = bytes.subarray(start, start + entry.byteLength);
    tensors[entry.name] = { dtype: entry.dtype, shape: entry.shape, data: fromLittleEndian(raw, entry.dtype) };
  }
  return { meta: header.meta, tensors };
}

// ---- saving ---------------------------------------------------------------------------------

function describePayload(payload: CheckpointPayload): Header {
  if (!isPlainObject(payload)) throw new TypeError('saveCheckpoint: payload must be an object { meta, tensors }');
  if (!isPlainObject(payload.meta)) throw new TypeError('saveCheckpoint: payload.meta must be a plain object');
  assertJsonValue(payload.meta, 'saveCheckpoint: payload.meta');
  if (!isPlainObject(payload.tensors)) throw new TypeError('saveCheckpoint: payload.tensors must be a plain object');

  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(payload.tensors)) {
    const where = `saveCheckpoint: payload.tensors[${JSON.stringify(name)}]`;
    if (name.length === 0) throw new TypeError('saveCheckpoint: tensor names must be non-empty');
    if (!isPlainObject(tensor)) throw new TypeError(`${where} must be an object { dtype, shape, data }`);
    const { dtype, shape, data } = tensor;
    if (dtype !== 'float32' && dtype !== 'int32') {
      throw new TypeError(`${where}.dtype must be "float32" or "int32", got ${JSON.stringify(dtype)}`);
    }
    const expected = checkShape(shape, `${where}.shape`, TypeError);
    const ArrayType = dtype === 'float32' ? Float32Array : Int32Array;
    if (!(data instanceof ArrayType)) {
      throw new TypeError(`${where}.data must be a ${ArrayType.name} for dtype ${dtype}`);
    }
    if (data.length !== expected) {
      throw new RangeError(
        `${where}.data has ${data.length} elements but shape [${shape.join(', ')}] needs ${expected}`,
      );
    }
    offset = alignUp(offset);
    entries.push({ name, dtype, shape: [...shape], offset, byteLength: data.length * BYTES_PER_ELEMENT });
    offset += data.length * BYTES_PER_ELEMENT;
  }
  return { meta: payload.meta, tensors: entries, dataByteLength: alignUp(offset) };
}

/** Header JSON padded with spaces so that the data section starts 8-byte aligned. */
function encodeHeader(header: Header): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = alignUp(PREAMBLE_BYTES + json.byteLength) - PREAMBLE_BYTES;
  return Buffer.concat([json, Buffer.alloc(padded - json.byteLength, 0x20)]);
}

function littleEndianBytes(data: Float32Array | Int32Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE_ENDIAN_HOST ? view : swap32(view);
}

// ---- loading --------------------------------------------------------------------------------

function parseAndVerify(bytes: Buffer, report: (what: string) => never): Header {
  const minimum = PREAMBLE_BYTES + CHECKSUM_BYTES;
  const magic = Buffer.from(CHECKPOINT_MAGIC, 'latin1');
  const head = bytes.subarray(0, magic.byteLength);
  if (!magic.subarray(0, head.byteLength).equals(head)) {
    report(`not a unicode-cmg checkpoint (the file does not start with "${CHECKPOINT_MAGIC}")`);
  }
  if (bytes.byteLength < minimum) report(`truncated: ${bytes.byteLength} bytes, a checkpoint has at least ${minimum}`);
  const version = bytes.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) {
    report(`unsupported format version ${version} (this build reads version ${CHECKPOINT_VERSION})`);
  }
  const headerLength = bytes.readUInt32LE(12);
  if (PREAMBLE_BYTES + headerLength + CHECKSUM_BYTES > bytes.byteLength) {
    report(
      `truncated: the header alone needs ${PREAMBLE_BYTES + headerLength + CHECKSUM_BYTES} bytes, the file has ${bytes.byteLength}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength));
  } catch (err) {
    report(`corrupted header (not valid JSON: ${(err as Error).message})`);
  }
  if (!isPlainObject(header) || !Number.isSafeInteger(header.dataByteLength) || (header.dataByteLength as number) < 0) {
    report('corrupted header (dataByteLength missing or invalid)');
  }
  const dataByteLength = (header as { dataByteLength: number }).dataByteLength;
  const expectedSize = PREAMBLE_BYTES + headerLength + dataByteLength + CHECKSUM_BYTES;
  if (bytes.byteLength < expectedSize)
    report(`truncated: expected ${expectedSize} bytes, the file has ${bytes.byteLength}`);
  if (bytes.byteLength > expectedSize)
    report(`${bytes.byteLength - expectedSize} unexpected bytes after the end of the checkpoint`);

  const body = bytes.subarray(0, bytes.byteLength - CHECKSUM_BYTES);
  const stored = bytes.subarray(bytes.byteLength - CHECKSUM_BYTES);
  if (!createHash('sha256').update(body).digest().equals(stored)) {
    report('checksum mismatch: the file is corrupted');
  }
  return validateHeader(header as Record<string, unknown>, dataByteLength, report);
}

/** Checks the directory of a checksum-valid header (guards against files written by other tools). */
function validateHeader(
  header: Record<string, unknown>,
  dataByteLength: number,
  report: (what: string) => never,
): Header {
  if (!isPlainObject(header.meta)) report('invalid header: meta must be an object');
  if (!Array.isArray(header.tensors)) report('invalid header: tensors must be an array');
  const seen = new Set<string>();
  const entries: TensorEntry[] = [];
  let end = 0;
  (header.tensors as unknown[]).forEach((raw, i) => {
    const where = `invalid header: tensors[${i}]`;
    if (!isPlainObject(raw)) report(`${where} must be an object`);
    const { name, dtype, shape, offset, byteLength } = raw as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0) report(`${where}.name must be a non-empty string`);
    if (seen.has(name as string)) report(`${where}: duplicate tensor name ${JSON.stringify(name)}`);
    seen.add(name as string);
    if (dtype !== 'float32' && dtype !== 'int32') report(`${where}.dtype must be "float32" or "int32"`);
    let count = 0;
    try {
      count = checkShape(shape, `${where}.shape`, Error);
    } catch (err) {
      report((err as Error).message);
    }
    if (byteLength !== count * BYTES_PER_ELEMENT) report(`${where}.byteLength does not match its shape`);
    if (!Number.isSafeInteger(offset) || (offset as number) < end || (offset as number) % ALIGN !== 0) {
      report(`${where}.offset must be 8-byte aligned and after the previous tensor`);
    }
    end = (offset as number) + count * BYTES_PER_ELEMENT;
    if (end > dataByteLength) report(`${where} extends past the data section`);
    entries.push({
      name: name as string,
      dtype: dtype as CheckpointDtype,
      shape: shape as number[],
      offset: offset as number,
      byteLength: count * BYTES_PER_ELEMENT,
    });
  });
  return { meta: header.meta as Record<string, unknown>, tensors: entries, dataByteLength };
}

function fromLittleEndian(raw: Uint8Array, dtype: CheckpointDtype): Float32Array | Int32Array {
  // Copy into a fresh, aligned buffer: the caller owns the result and the file buffer is released.
  const copy = LITTLE_ENDIAN_HOST ? new Uint8Array(raw) : swap32(raw);
  return dtype === 'float32'
    ? new Float32Array(copy.buffer, 0, copy.byteLength / 4)
    : new Int32Array(copy.buffer, 0, copy.byteLength / 4);
}

// ---- shared ---------------------------------------------------------------------------------

/** Returns the element count of a valid shape (non-negative safe integers, safe product). */
function checkShape(shape: unknown, where: string, ErrorType: new (message: string) => Error): number {
  if (!Array.isArray(shape)) throw new ErrorType(`${where} must be an array of non-negative integers`);
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new ErrorType(`${where} must be an array of non-negative integers, got [${shape.join(', ')}]`);
    }
    count *= dim;
  }
  if (!Number.isSafeInteger(count * BYTES_PER_ELEMENT))
    throw new ErrorType(`${where} describes a tensor too large to store`);
  return count;
}

/** Byte-swaps every 4-byte word (big-endian hosts only). */
function swap32(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += 4) {
    out[i] = bytes[i + 3];
    out[i + 1] = bytes[i + 2];
    out[i + 2] = bytes[i + 1];
    out[i + 3] = bytes[i];
  }
  return out;
}
