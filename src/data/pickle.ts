// A minimal reader and writer for pickled numpy arrays: exactly what pickle.dump(ndarray) produces
// with protocols 2-5 under numpy 1.x (numpy.core) or 2.x (numpy._core). The reader is a small
// stack machine that only knows the opcodes and the few globals such pickles use, so it never
// executes anything; other pickles are refused with a message naming the opcode or global.
import { decodeElements, parseDescr, type ElementType } from './dtype.js';
import { InvalidInputError } from './errors.js';
import { fail } from '../util/validate.js';

/** A numpy array decoded from a pickle: C-ordered raw element bytes plus their type. */
export interface PickledArray {
  shape: number[];
  /** numpy descr with byte order, e.g. '<f4'. */
  descr: string;
  type: ElementType;
  /** C-ordered element bytes (Fortran-ordered input is reordered). */
  data: Uint8Array;
}

class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

class PyDtype {
  endian = '|';
  constructor(readonly code: string) {}
}

/** An ndarray between _reconstruct (REDUCE) and its state (BUILD). */
class PyNdarray {
  shape: number[] = [];
  dtype: PyDtype | undefined;
  fortran = false;
  data: Uint8Array | undefined;
}

type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyValue, PyValue>
  | PyGlobal
  | PyDtype
  | PyNdarray;

const RECONSTRUCT = new Set(['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct']);
const FROMBUFFER = new Set(['numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer']);
const KNOWN_GLOBALS = new Set([...RECONSTRUCT, ...FROMBUFFER, 'numpy.ndarray', 'numpy.dtype', '_codecs.encode']);

/** Python 2 str and the latin1 round trip of protocol 2 carry bytes as code points < 256. */
function latin1Bytes(value: PyValue, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code > 255) throw new InvalidInputError(`${what}: array data is not latin1-encoded`);
      out[i] = code;
    }
    return out;
  }
  throw new InvalidInputError(`${what}: expected bytes for the array data`);
}

function shapeOf(value: PyValue, what: string): number[] {
  if (!Array.isArray(value)) throw new InvalidInputError(`${what}: array shape is not a tuple`);
  return value.map((d) => {
    const n = typeof d === 'bigint' ? Number(d) : d;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new InvalidInputError(`${what}: bad array dimension`);
    return n;
  });
}

function applyReduce(callable: PyValue, args: PyValue, what: string): PyValue {
  if (!(callable instanceof PyGlobal) || !Array.isArray(args)) {
    throw new InvalidInputError(`${what}: REDUCE of something other than a known global`);
  }
  const name = callable.qualified;
  if (RECONSTRUCT.has(name)) return new PyNdarray();
  if (name === 'numpy.dtype') {
    if (typeof args[0] !== 'string') throw new InvalidInputError(`${what}: numpy.dtype without a type code`);
    return new PyDtype(args[0]);
  }
  if (name === '_codecs.encode') return latin1Bytes(args[0] as PyValue, what);
  if (FROMBUFFER.has(name)) {
    const [buffer, dtype, shape, order] = args;
    if (!(dtype instanceof PyDtype)) throw new InvalidInputError(`${what}: _frombuffer without a dtype`);
    const array = new PyNdarray();
    array.data = latin1Bytes(buffer as PyValue, what);
    array.dtype = dtype;
    array.shape = shapeOf(shape as PyValue, what);
    array.fortran = order === 'F';
    return array;
  }
  throw new InvalidInputError(`${what}: unsupported pickle global '${name}'`);
}

function applyBuild(target: PyValue, state: PyValue, what: string): void {
  if (target instanceof PyDtype) {
    if (!Array.isArray(state) || typeof state[1] !== 'string') throw new InvalidInputError(`${what}: bad dtype state`);
    target.endian = state[1];
    return;
  }
  if (target instanceof PyNdarray) {
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) {
      throw new InvalidInputError(`${what}: bad ndarray state`);
    }
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state;
    if (!(dtype instanceof PyDtype)) throw new InvalidInputError(`${what}: ndarray state without a dtype`);
    target.shape = shapeOf(shape as PyValue, what);
    target.dtype = dtype;
    target.fortran = fortran === true;
    target.data = latin1Bytes(data as PyValue, what);
    return;
  }
  throw new InvalidInputError(`${what}: BUILD on an unsupported object`);
}

/** Reorders Fortran-ordered element bytes into C order. */
function fortranToC(data: Uint8Array, shape: number[], size: number): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n * size);
  const index = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    // c walks C order (last axis fastest); f is the same element's Fortran offset.
    let f = 0;
    let stride = 1;
    for (let axis = 0; axis < shape.length; axis++) {
      f += index[axis] * stride;
      stride *= shape[axis];
    }
    out.set(data.subarray(f * size, (f + 1) * size), c * size);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

/** Decodes a pickle holding one numpy ndarray. `what` names the source in errors. */
export function decodeNumpyPickle(bytes: Uint8Array, what: string): PickledArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8');
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  const corrupt = (why: string): never => fail(what, `${why} (pickle offset ${pos})`, InvalidInputError);
  const need = (n: number) => {
    if (pos + n > bytes.length) corrupt('truncated pickle');
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = () => {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const i32 = () => {
    need(4);
    pos += 4;
    return view.getInt32(pos - 4, true);
  };
  const u64 = () => {
    need(8);
    const n = view.getBigUint64(pos, true);
    pos += 8;
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) corrupt('length too large');
    return Number(n);
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) corrupt('unterminated text argument');
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => (stack.length === 0 ? corrupt('stack underflow') : stack.pop()!);
  const popMark = (): PyValue[] => {
    const mark = marks.pop();
    if (mark === undefined) corrupt('no MARK on the stack');
    return stack.splice(mark!);
  };
  const top = (): PyValue => (stack.length === 0 ? corrupt('empty stack') : stack[stack.length - 1]);
  const memoGet = (key: number): PyValue => (memo.has(key) ? memo.get(key)! : corrupt(`memo key ${key} is unset`));
  const signedLE = (raw: Uint8Array): bigint => {
    let n = 0n;
    for (let i = raw.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(raw[i]);
    if (raw.length > 0 && raw[raw.length - 1] & 0x80) n -= 1n << BigInt(8 * raw.length);
    return n;
  };
  const smallInt = (n: bigint): number | bigint =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) corrupt('pickle protocol newer than 5');
        break;
      case 0x95: // FRAME: frames only group opcodes; the length needs no handling here
        u64();
        break;
      case 0x2e: {
        // STOP
        const result = pop();
        if (!(result instanceof PyNdarray) || result.dtype === undefined || result.data === undefined) {
          throw new InvalidInputError(`${what}: the pickle does not hold a numpy array`);
        }
        const endian = result.dtype.endian === '|' ? '|' : result.dtype.endian === '>' ? '>' : '<';
        const descr = `${endian}${result.dtype.code}`;
        const type = parseDescr(descr, what);
        const count = result.shape.reduce((a, b) => a * b, 1);
        if (result.data.length !== count * type.size) {
          throw new InvalidInputError(
            `${what}: array data holds ${result.data.length} bytes, shape [${result.shape.join(', ')}] of '${descr}' needs ${count * type.size}`,
          );
        }
        // A copy: the result must not alias the caller's pickle bytes.
        const data =
          result.fortran && result.shape.length > 1
            ? fortranToC(result.data, result.shape, type.size)
            : new Uint8Array(result.data);
        return { shape: result.shape, descr, type, data };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(smallInt(signedLE(take(u8()))));
        break;
      case 0x8b: // LONG4
        stack.push(smallInt(signedLE(take(u32()))));
        break;
      case 0x49: {
        // INT (text)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(take(u64())));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(Buffer.from(take(u32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(take(u8())).toString('latin1'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        const list = top();
        if (!Array.isArray(list)) corrupt('APPEND to a non-list');
        (list as PyValue[]).push(item);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) corrupt('APPENDS to a non-list');
        (list as PyValue[]).push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const dict = new Map<PyValue, PyValue>();
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        const dict = top();
        if (!(dict instanceof Map)) corrupt('SETITEM on a non-dict');
        (dict as Map<PyValue, PyValue>).set(key, value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = top();
        if (!(dict instanceof Map)) corrupt('SETITEMS on a non-dict');
        for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<PyValue, PyValue>).set(items[i], items[i + 1]);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        const g = new PyGlobal(module, name);
        if (!KNOWN_GLOBALS.has(g.qualified)) corrupt(`unsupported pickle global '${g.qualified}'`);
        stack.push(g);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') corrupt('STACK_GLOBAL needs two strings');
        const g = new PyGlobal(module as string, name as string);
        if (!KNOWN_GLOBALS.has(g.qualified)) corrupt(`unsupported pickle global '${g.qualified}'`);
        stack.push(g);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(applyReduce(pop(), args, what));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        applyBuild(top(), state, what);
        break;
      }
      case 0x70: // PUT (text)
        memo.set(Number(line()), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text)
        stack.push(memoGet(Number(line())));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        corrupt('out-of-band pickle buffers are not supported');
        break;
      default:
        corrupt(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Decodes a pickled numpy array to float32 values (any numeric dtype, any byte order). */
export function decodeNumpyPickleFloat32(bytes: Uint8Array, what: string): { shape: number[]; data: Float32Array } {
  const array = decodeNumpyPickle(bytes, what);
  const out = new Float32Array(array.shape.reduce((a, b) => a * b, 1));
  decodeElements(array.data, array.type, out);
  return { shape: array.shape, data: out };
}

// ---- Writer ----------------------------------------------------------------------------------

const FRAME_SIZE_TARGET = 64 * 1024;
const FRAME_SIZE_MIN = 4;

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/**
 * Emits opcodes the way CPython's pickler lays them out for an ndarray: the same memo numbering,
 * and protocol-4+ framing with large payloads written outside frames.
 */
class PickleWriter {
  private readonly chunks: Uint8Array[] = [];
  private frame: number[] | undefined;
  private memoCount = 0;

  constructor(readonly protocol: number) {
    this.chunks.push(Uint8Array.of(0x80, protocol));
    if (protocol >= 4) this.frame = [];
  }

  op(...bytes: number[]): void {
    if (this.frame) {
      if (this.frame.length >= FRAME_SIZE_TARGET) this.commitFrame(true);
      for (const b of bytes) this.frame.push(b);
    } else this.chunks.push(Uint8Array.from(bytes));
  }

  private commitFrame(reopen: boolean): void {
    if (!this.frame) return;
    if (this.frame.length >= FRAME_SIZE_MIN) {
      const header = new Uint8Array(9);
      header[0] = 0x95;
      new DataView(header.buffer).setBigUint64(1, BigInt(this.frame.length), true);
      this.chunks.push(header);
    }
    this.chunks.push(Uint8Array.from(this.frame));
    this.frame = reopen ? [] : undefined;
  }

  /** A length-prefixed payload; from 64 KiB on it goes outside any frame, as CPython writes it. */
  private payload(header: number[], data: Uint8Array): void {
    if (this.frame && data.length >= FRAME_SIZE_TARGET) {
      this.commitFrame(true);
      this.chunks.push(Uint8Array.from(header), data);
      return;
    }
    this.op(...header);
    if (this.frame) for (const b of data) this.frame.push(b);
    else this.chunks.push(data);
  }

  memoize(): number {
    const key = this.memoCount++;
    if (this.protocol >= 4) this.op(0x94);
    else if (key < 256) this.op(0x71, key);
    else this.op(0x72, ...le32(key));
    return key;
  }

  get(key: number): void {
    if (key < 256) this.op(0x68, key);
    else this.op(0x6a, ...le32(key));
  }

  int(n: number): void {
    if (n >= 0 && n < 256) this.op(0x4b, n);
    else if (n >= 0 && n < 65536) this.op(0x4d, n & 0xff, n >>> 8);
    else this.op(0x4a, ...le32(n));
  }

  str(s: string): number {
    const bytes = Buffer.from(s, 'utf8');
    if (this.protocol >= 4 && bytes.length < 256) this.payload([0x8c, bytes.length], bytes);
    else this.payload([0x58, ...le32(bytes.length)], bytes);
    return this.memoize();
  }

  bytes(data: Uint8Array): number {
    if (data.length < 256) this.payload([0x43, data.length], data);
    else this.payload([0x42, ...le32(data.length)], data);
    return this.memoize();
  }

  bytearray(data: Uint8Array): number {
    const header = new Uint8Array(9);
    header[0] = 0x96;
    new DataView(header.buffer).setBigUint64(1, BigInt(data.length), true);
    this.payload([...header], data);
    return this.memoize();
  }

  /** A tuple of the items each callback pushes; the empty tuple is not memoized. */
  tuple(...items: (() => void)[]): void {
    if (items.length === 0) {
      this.op(0x29);
      return;
    }
    if (items.length > 3) this.op(0x28);
    items.forEach((item) => item());
    this.op(items.length > 3 ? 0x74 : [0, 0x85, 0x86, 0x87][items.length]);
    this.memoize();
  }

  /**
   * A global; with protocol 4+ the module string may be a memo reference. Returns the memo keys of
   * the module string (protocol 4+) and of the global itself.
   */
  global(module: string | number, name: string): { moduleKey?: number; key: number } {
    let moduleKey: number | undefined;
    if (this.protocol >= 4) {
      if (typeof module === 'number') {
        this.get(module);
        moduleKey = module;
      } else moduleKey = this.str(module);
      this.str(name);
      this.op(0x93);
    } else {
      this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
    }
    return { moduleKey, key: this.memoize() };
  }

  finish(): Uint8Array {
    this.op(0x2e);
    this.commitFrame(false);
    return Buffer.concat(this.chunks);
  }
}

export interface EncodePickleOptions {
  /** Pickle protocol, 2 to 5 (default 4, Python 3.8+'s default). */
  protocol?: 2 | 3 | 4 | 5;
  /** 'numpy._core' as numpy 2 writes, or 'numpy.core' as numpy 1 writes (default). */
  numpyPackage?: 'numpy.core' | 'numpy._core';
}

/**
 * Pickles a C-ordered array byte for byte as `pickle.dumps(array, protocol)` does under numpy.
 * `array.descr` carries the byte order ('<f4', '|u1', ...).
 */
export function encodeNumpyPickle(
  array: { shape: readonly number[]; descr: string; data: Uint8Array },
  options: EncodePickleOptions = {},
): Uint8Array {
  const protocol = options.protocol ?? 4;
  const numpyPackage = options.numpyPackage ?? 'numpy.core';
  if (![2, 3, 4, 5].includes(protocol))
    throw new InvalidInputError(`encodeNumpyPickle: 'protocol' must be 2-5, got ${protocol}`);
  const type = parseDescr(array.descr, 'encodeNumpyPickle');
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count * type.size) {
    throw new InvalidInputError(
      `encodeNumpyPickle: ${array.data.length} bytes do not fill shape [${array.shape.join(', ')}] of '${array.descr}'`,
    );
  }
  const code = `${type.kind}${type.size}`;
  const endian = type.size === 1 ? '|' : type.littleEndian ? '<' : '>';
  const out = new PickleWriter(protocol);
  const shapeTuple = () => out.tuple(...array.shape.map((d) => () => out.int(d)));
  const dtype = (numpyKey?: number) => {
    out.global(numpyKey ?? 'numpy', 'dtype');
    out.tuple(
      () => out.str(code),
      () => out.op(0x89),
      () => out.op(0x88),
    );
    out.op(0x52); // REDUCE
    out.memoize();
    out.op(0x28);
    out.int(3);
    out.str(endian);
    out.op(0x4e, 0x4e, 0x4e);
    out.op(0x4a, ...le32(-1), 0x4a, ...le32(-1));
    out.int(0);
    out.op(0x74);
    out.memoize();
    out.op(0x62); // BUILD
  };

  if (protocol === 5) {
    // numpy pickles contiguous arrays through _frombuffer with an in-band buffer.
    out.global(`${numpyPackage}.numeric`, '_frombuffer');
    out.op(0x28);
    out.bytearray(array.data);
    dtype();
    shapeTuple();
    out.str('C');
    out.op(0x74);
    out.memoize();
    out.op(0x52);
    out.memoize();
    return out.finish();
  }

  out.global(`${numpyPackage}.multiarray`, '_reconstruct');
  const numpyKey = out.global('numpy', 'ndarray').moduleKey;
  let codecsKey = -1;
  let latin1Key = -1;
  // Protocol 2 has no bytes opcode: bytes travel as _codecs.encode(latin1 text, 'latin1').
  const latin1 = (data: Uint8Array) => {
    if (codecsKey < 0) codecsKey = out.global('_codecs', 'encode').key;
    else out.get(codecsKey);
    out.str(Buffer.from(data).toString('latin1'));
    if (latin1Key < 0) latin1Key = out.str('latin1');
    else out.get(latin1Key);
    out.op(0x86);
    out.memoize();
    out.op(0x52);
    out.memoize();
  };
  out.tuple(() => out.int(0));
  if (protocol === 2) latin1(Uint8Array.of(0x62));
  else out.bytes(Uint8Array.of(0x62));
  out.op(0x87);
  out.memoize();
  out.op(0x52);
  out.memoize();
  out.op(0x28);
  out.int(1);
  shapeTuple();
  dtype(protocol >= 4 ? numpyKey : undefined);
  out.op(0x89); // not Fortran-ordered
  if (protocol === 2) latin1(array.data);
  else out.bytes(array.data);
  out.op(0x74);
  out.memoize();
  out.op(0x62);
  return out.finish();
}
