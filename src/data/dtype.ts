// Element types the data layer reads and writes, and the conversions between raw little- or
// big-endian bytes and the Float32Array / Int32Array / Uint8Array the rest of the library uses.
import { InvalidInputError } from './errors.js';

/** A numpy element type, as parsed from a descr such as '<f4' or '|u1'. */
export interface ElementType {
  kind: 'f' | 'i' | 'u' | 'b';
  /** Bytes per element. */
  size: number;
  littleEndian: boolean;
}

/** The element types a dataset manifest may name. */
export const MANIFEST_DTYPES = ['float32', 'float16', 'int32', 'uint8'] as const;
export type ManifestDtype = (typeof MANIFEST_DTYPES)[number];

const MANIFEST_DESCR: Record<ManifestDtype, string> = {
  float32: '<f4',
  float16: '<f2',
  int32: '<i4',
  uint8: '|u1',
};

const SUPPORTED_SIZES: Record<ElementType['kind'], number[]> = {
  f: [2, 4, 8],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  b: [1],
};

/** Parses a numpy descr ('<f4', '>i8', '|u1', '|b1', '=f2'); `what` names the source in errors. */
export function parseDescr(descr: string, what: string): ElementType {
  const match = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  if (match === null) {
    throw new InvalidInputError(`${what}: unsupported dtype '${descr}' (expected a plain numeric dtype such as '<f4')`);
  }
  const kind = match[2] as ElementType['kind'];
  const size = Number(match[3]);
  if (!SUPPORTED_SIZES[kind].includes(size)) {
    throw new InvalidInputError(`${what}: unsupported dtype '${descr}'`);
  }
  // '=' is native order, which is little-endian on every platform Node supports here.
  return { kind, size, littleEndian: match[1] !== '>' };
}

export function manifestDescr(dtype: ManifestDtype): string {
  return MANIFEST_DESCR[dtype];
}

/** True when `type` is exactly the on-disk layout of the manifest dtype. */
export function matchesManifestDtype(type: ElementType, dtype: ManifestDtype): boolean {
  const expected = parseDescr(MANIFEST_DESCR[dtype], dtype);
  return (
    type.kind === expected.kind &&
    type.size === expected.size &&
    (type.size === 1 || type.littleEndian === expected.littleEndian)
  );
}

let halfTable: Float32Array | undefined;

/** All 65536 float16 bit patterns as float32, built once: a table lookup beats bit twiddling per element. */
function float16Table(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      let value: number;
      if (exponent === 0) value = mantissa * 2 ** -24;
      else if (exponent === 31) value = mantissa === 0 ? Infinity : NaN;
      else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
      halfTable[h] = sign * value;
    }
  }
  return halfTable;
}

export function float16BitsToFloat32(bits: number): number {
  return float16Table()[bits & 0xffff];
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 -> float16 bits, rounding to nearest even, overflowing to infinity like numpy. */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the implicit bit in and round to nearest even.
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent: correct
  return sign | half;
}

function readElement(view: DataView, offset: number, type: ElementType): number {
  const le = type.littleEndian;
  switch (type.kind) {
    case 'f':
      if (type.size === 4) return view.getFloat32(offset, le);
      if (type.size === 8) return view.getFloat64(offset, le);
      return float16BitsToFloat32(view.getUint16(offset, le));
    case 'i':
      if (type.size === 1) return view.getInt8(offset);
      if (type.size === 2) return view.getInt16(offset, le);
      if (type.size === 4) return view.getInt32(offset, le);
      return Number(view.getBigInt64(offset, le));
    case 'u':
    case 'b':
      if (type.size === 1) return view.getUint8(offset);
      if (type.size === 2) return view.getUint16(offset, le);
      if (type.size === 4) return view.getUint32(offset, le);
      return Number(view.getBigUint64(offset, le));
  }
}

/** Decodes `count` elements of `type` starting at `bytes[0]` into `out` (any numeric typed array). */
export function decodeElements(
  bytes: Uint8Array,
  type: ElementType,
  out: Float32Array | Float64Array | Int32Array | Uint8Array,
  count = out.length,
): void {
  if (bytes.length < count * type.size) {
    throw new RangeError(
      `decodeElements: ${bytes.length} bytes hold fewer than ${count} elements of ${type.size} bytes`,
    );
  }
  // Fast paths for the layouts datasets actually use.
  if (type.kind === 'f' && type.size === 2 && type.littleEndian) {
    const table = float16Table();
    for (let i = 0; i < count; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    return;
  }
  if (type.kind === 'f' && type.size === 4 && type.littleEndian && out instanceof Float32Array) {
    new Uint8Array(out.buffer, out.byteOffset, count * 4).set(bytes.subarray(0, count * 4));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * type.size);
  for (let i = 0; i < count; i++) out[i] = readElement(view, i * type.size, type);
}

/** Encodes numbers as the manifest dtype's little-endian bytes. */
export function encodeElements(values: ArrayLike<number>, dtype: ManifestDtype): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'uint8':
      return Uint8Array.from(values);
    case 'float16': {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = float32ToFloat16Bits(values[i]);
      return new Uint8Array(bits.buffer);
    }
  }
}
