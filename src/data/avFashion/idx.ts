// The IDX file format of (Fashion-)MNIST, optionally gzip'd: a big-endian header (two zero bytes,
// a type code, the rank, then one uint32 per dimension) followed by the row-major values. Only the
// unsigned-byte type occurs in these datasets, so only it is accepted.
import { gunzipSync } from 'node:zlib';
import { InvalidInputError } from '../errors.js';
import { readInputFile } from '../files.js';

const UNSIGNED_BYTE = 0x08;

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parses the bytes of an IDX file of unsigned bytes; `what` (the file name) prefixes errors. */
export function parseIdx(bytes: Uint8Array, what: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InvalidInputError(`${what}: not an IDX file (the magic number must start with two zero bytes)`);
  }
  if (bytes[2] !== UNSIGNED_BYTE) {
    throw new InvalidInputError(`${what}: IDX type code 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (rank === 0 || bytes.length < headerBytes)
    throw new InvalidInputError(`${what}: truncated IDX header (rank ${rank})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerBytes + size) {
    throw new InvalidInputError(
      `${what}: IDX shape [${shape.join(', ')}] needs ${size} bytes of data, the file has ${bytes.length - headerBytes}`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes) };
}

/** Reads an IDX file, gunzipping it when its name ends in .gz. */
export function readIdxFile(file: string): IdxArray {
  let bytes: Uint8Array = readInputFile(file);
  if (file.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new InvalidInputError(`${file}: not a valid gzip file (${(err as Error).message})`);
    }
  }
  return parseIdx(bytes, file);
}
