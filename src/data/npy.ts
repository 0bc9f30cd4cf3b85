// The .npy file format (versions 1.0, 2.0 and 3.0): header parsing, random-access row reads through
// fs.readSync at byte offsets (the file is never loaded whole), and a streaming writer.
import * as fs from 'node:fs';
import {
  decodeElements,
  encodeElements,
  manifestDescr,
  parseDescr,
  type ElementType,
  type ManifestDtype,
} from './dtype.js';
import { InvalidInputError } from './errors.js';
import { fail } from '../util/validate.js';
import { openInputFile, readExactly } from './files.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const HEADER_ALIGN = 64;

export interface NpyHeader {
  /** Format version, e.g. [1, 0]. */
  version: [number, number];
  descr: string;
  type: ElementType;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

/** Reads the Python literal dict of an .npy header: string keys, and string, bool or int-tuple values. */
function parseHeaderDict(text: string, what: string): Record<string, string | boolean | number[]> {
  const malformed = (why: string): never =>
    fail(what, `malformed .npy header (${why}): ${JSON.stringify(text.trim())}`, InvalidInputError);
  let pos = 0;
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const expect = (ch: string) => {
    skipSpace();
    if (text[pos] !== ch) malformed(`expected '${ch}' at offset ${pos}`);
    pos++;
  };
  const readString = (): string => {
    skipSpace();
    const quote = text[pos];
    if (quote !== "'" && quote !== '"') malformed(`expected a string at offset ${pos}`);
    const end = text.indexOf(quote, pos + 1);
    if (end < 0) malformed('unterminated string');
    const s = text.slice(pos + 1, end);
    pos = end + 1;
    return s;
  };
  const readValue = (): string | boolean | number[] => {
    skipSpace();
    const ch = text[pos];
    if (ch === "'" || ch === '"') return readString();
    if (text.startsWith('True', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('False', pos)) {
      pos += 5;
      return false;
    }
    if (ch === '(') {
      pos++;
      const dims: number[] = [];
      for (;;) {
        skipSpace();
        if (text[pos] === ')') {
          pos++;
          return dims;
        }
        const m = /^\d+L?/.exec(text.slice(pos));
        if (m === null) malformed(`expected an integer in the shape at offset ${pos}`);
        dims.push(Number(m![0].replace('L', '')));
        pos += m![0].length;
        skipSpace();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== ')') malformed(`expected ',' or ')' in the shape at offset ${pos}`);
      }
    }
    return malformed(`unsupported value at offset ${pos} (structured dtypes are not supported)`);
  };
  const dict: Record<string, string | boolean | number[]> = {};
  expect('{');
  for (;;) {
    skipSpace();
    if (text[pos] === '}') break;
    const key = readString();
    expect(':');
    dict[key] = readValue();
    skipSpace();
    if (text[pos] === ',') pos++;
    else if (text[pos] !== '}') malformed(`expected ',' or '}' at offset ${pos}`);
  }
  return dict;
}

/** Parses an .npy header from the first bytes of a file (at least the whole header). */
export function parseNpyHeader(bytes: Uint8Array, what: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InvalidInputError(`${what}: not an .npy file (bad magic string)`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3) throw new InvalidInputError(`${what}: unsupported .npy version ${major}.${minor}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) throw new InvalidInputError(`${what}: truncated .npy header`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (bytes.length < prefix + headerLength) throw new InvalidInputError(`${what}: truncated .npy header`);
  const encoding = major === 3 ? 'utf-8' : 'latin1';
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + prefix, headerLength).toString(encoding);
  const dict = parseHeaderDict(text, what);
  const { descr, fortran_order: fortranOrder, shape } = dict;
  if (typeof descr !== 'string') throw new InvalidInputError(`${what}: .npy header has no string 'descr'`);
  if (typeof fortranOrder !== 'boolean') throw new InvalidInputError(`${what}: .npy header has no 'fortran_order'`);
  if (!Array.isArray(shape)) throw new InvalidInputError(`${what}: .npy header has no 'shape' tuple`);
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new InvalidInputError(`${what}: Fortran-ordered arrays are not supported; save it in C order`);
  }
  return { version: [major, minor], descr, type: parseDescr(descr, what), shape, dataOffset: prefix + headerLength };
}

/** The header bytes for a C-ordered array, padded so the data starts on a 64-byte boundary. */
export function encodeNpyHeader(descr: string, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / HEADER_ALIGN) * HEADER_ALIGN;
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / HEADER_ALIGN) * HEADER_ALIGN;
  }
  const headerLength = total - prefix;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  const padded = `${dict.padEnd(headerLength - 1, ' ')}\n`;
  out.set(Buffer.from(padded, 'latin1'), prefix);
  return out;
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * An .npy file opened for random access along its first axis. Rows are read on demand with
 * positioned reads, so an array larger than RAM can be consumed batch by batch.
 */
export class NpyReader {
  readonly path: string;
  readonly header: NpyHeader;
  /** Elements per row (the product of every dimension after the first). */
  readonly rowElements: number;
  private fd: number | undefined;

  private constructor(path: string, fd: number, header: NpyHeader) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.rowElements = product(header.shape.slice(1));
  }

  /** Opens and validates `path`: header, supported dtype, and a file size that matches the shape. */
  static open(path: string): NpyReader {
    const { fd, size } = openInputFile(path);
    try {
      const prefix = Buffer.alloc(Math.min(size, 12));
      readExactly(fd, path, prefix, 0, prefix.length, 0);
      let headerBytes = prefix;
      if (prefix.length >= 10) {
        const needed =
          prefix[6] === 1 ? 10 + prefix.readUInt16LE(8) : prefix.length === 12 ? 12 + prefix.readUInt32LE(8) : 0;
        if (needed > prefix.length && needed <= size) {
          headerBytes = Buffer.alloc(needed);
          readExactly(fd, path, headerBytes, 0, needed, 0);
        }
      }
      const header = parseNpyHeader(headerBytes, path);
      if (header.shape.length === 0) throw new InvalidInputError(`${path}: a 0-d array has no rows`);
      const expected = header.dataOffset + product(header.shape) * header.type.size;
      if (size !== expected) {
        throw new InvalidInputError(
          `${path}: file is ${size} bytes but header shape [${header.shape.join(', ')}] of '${header.descr}' needs ${expected}`,
        );
      }
      return new NpyReader(path, fd, header);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  get shape(): readonly number[] {
    return this.header.shape;
  }

  get rows(): number {
    return this.header.shape[0];
  }

  private descriptor(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: reader is closed`);
    return this.fd;
  }

  /**
   * Reads the rows at `indices` (any order, repeats allowed) into `out`, row after row.
   * Consecutive indices are merged into one read.
   */
  readRowsInto(indices: ArrayLike<number>, out: Float32Array | Int32Array | Uint8Array): void {
    const fd = this.descriptor();
    const rowBytes = this.rowElements * this.header.type.size;
    if (out.length < indices.length * this.rowElements) {
      throw new RangeError(
        `readRowsInto: output holds ${out.length} elements, need ${indices.length * this.rowElements}`,
      );
    }
    for (const index of Array.from(indices)) {
      if (!Number.isInteger(index) || index < 0 || index >= this.rows) {
        throw new RangeError(`${this.path}: row ${index} is outside [0, ${this.rows})`);
      }
    }
    let i = 0;
    while (i < indices.length) {
      let run = 1;
      while (i + run < indices.length && indices[i + run] === indices[i] + run) run++;
      const bytes = Buffer.alloc(run * rowBytes);
      readExactly(fd, this.path, bytes, 0, bytes.length, this.header.dataOffset + indices[i] * rowBytes);
      const dest = out.subarray(i * this.rowElements, (i + run) * this.rowElements);
      decodeElements(bytes, this.header.type, dest);
      i += run;
    }
  }

  readRowsFloat32(indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length * this.rowElements);
    this.readRowsInto(indices, out);
    return out;
  }

  readRowsInt32(indices: ArrayLike<number>): Int32Array {
    const out = new Int32Array(indices.length * this.rowElements);
    this.readRowsInto(indices, out);
    return out;
  }

  readRowsUint8(indices: ArrayLike<number>): Uint8Array {
    const out = new Uint8Array(indices.length * this.rowElements);
    this.readRowsInto(indices, out);
    return out;
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/**
 * Writes a C-ordered .npy file row block by row block, so a converter never holds the whole
 * array. `finish()` checks that exactly shape[0] rows were written.
 */
export class NpyWriter {
  readonly path: string;
  readonly dtype: ManifestDtype;
  readonly shape: readonly number[];
  private readonly rowElements: number;
  private rowsWritten = 0;
  private fd: number | undefined;

  constructor(path: string, dtype: ManifestDtype, shape: readonly number[]) {
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new InvalidInputError(`${path}: invalid shape [${shape.join(', ')}]`);
    }
    this.path = path;
    this.dtype = dtype;
    this.shape = [...shape];
    this.rowElements = product(shape.slice(1));
    try {
      this.fd = fs.openSync(path, 'w');
    } catch (err) {
      throw new Error(`${path}: cannot create (${(err as Error).message})`);
    }
    try {
      this.write(encodeNpyHeader(manifestDescr(dtype), shape));
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  /** Appends whole rows; `values.length` must be a multiple of the row size. */
  append(values: ArrayLike<number>): void {
    if (this.fd === undefined) throw new Error(`${this.path}: writer is finished`);
    if (values.length % Math.max(this.rowElements, 1) !== 0) {
      throw new RangeError(
        `${this.path}: ${values.length} values is not a whole number of ${this.rowElements}-element rows`,
      );
    }
    const rows = this.rowElements === 0 ? 0 : values.length / this.rowElements;
    if (this.rowsWritten + rows > this.shape[0]) {
      throw new RangeError(`${this.path}: more than the declared ${this.shape[0]} rows`);
    }
    this.write(encodeElements(values, this.dtype));
    this.rowsWritten += rows;
  }

  /** Writes all of `bytes` (writeSync may write less than asked). */
  private write(bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      try {
        done += fs.writeSync(this.fd!, bytes, done, bytes.length - done);
      } catch (err) {
        throw new Error(`${this.path}: cannot write (${(err as Error).message})`);
      }
    }
  }

  finish(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.rowsWritten !== this.shape[0] && this.rowElements !== 0) {
      throw new RangeError(`${this.path}: wrote ${this.rowsWritten} rows, declared ${this.shape[0]}`);
    }
  }

  /** Closes the file without the row-count check (used when a write is being abandoned). */
  abort(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Writes a whole array in one call. */
export function writeNpy(
  path: string,
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: ManifestDtype,
): void {
  if (values.length !== product(shape)) {
    throw new RangeError(`${path}: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const writer = new NpyWriter(path, dtype, shape);
  try {
    writer.append(values);
    writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}
