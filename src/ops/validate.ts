// Argument checks shared by the ops. Every op validates everything before doing any work, so a
// rejected call changes no state and allocates no tensors. Messages start with the op's name
// and name the offending argument.
import { tf } from '../tfjs.js';
import { fail } from '../util/validate.js';

export { fail };

/** `x` is a live float32 tensor of the given rank; returns its shape. */
export function checkTensor(
  op: string,
  name: string,
  x: unknown,
  rank: number,
  dtype: 'float32' | 'int32' = 'float32',
): number[] {
  if (!(x instanceof tf.Tensor)) fail(op, `${name} must be a tf.Tensor${rank}D, got ${describe(x)}`);
  if (x.isDisposed) fail(op, `${name} has been disposed`);
  if (x.rank !== rank) fail(op, `${name} must have rank ${rank}, got shape [${x.shape.join(', ')}]`);
  if (x.dtype !== dtype) fail(op, `${name} must have dtype ${dtype}, got ${x.dtype}`);
  return x.shape;
}

/** Throws unless every value is finite; `values` is what will be computed on. */
export function checkFinite(op: string, name: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) fail(op, `${name} contains a non-finite value (${values[i]}) at flat index ${i}`);
  }
}

/** A list with one entry per modality: 2 or 3 of them. */
export function checkModalityList(op: string, name: string, list: unknown): unknown[] {
  if (!Array.isArray(list)) fail(op, `${name} must be an array with one entry per modality, got ${describe(list)}`);
  if (list.length < 2 || list.length > 3)
    fail(op, `${name} must hold 2 or 3 modalities (K in 2..3), got ${list.length}`);
  return list;
}

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** exclusive lower bound */
  above?: number;
  /** exclusive upper bound */
  below?: number;
}

export function checkNumber(op: string, name: string, value: unknown, rule: NumberRule): number {
  const bounds: string[] = [];
  if (rule.above !== undefined) bounds.push(`> ${rule.above}`);
  if (rule.min !== undefined) bounds.push(`>= ${rule.min}`);
  if (rule.below !== undefined) bounds.push(`< ${rule.below}`);
  if (rule.max !== undefined) bounds.push(`<= ${rule.max}`);
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.below === undefined || value < rule.below) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) {
    const what = `${rule.integer ? 'an integer' : 'a finite number'}${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
    fail(op, `${name} must be ${what}, got ${describe(value)}`);
  }
  return value as number;
}

export function checkBoolean(op: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(op, `${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** Rejects option keys the op does not know (usually a typo that would silently be ignored). */
export function checkOptionKeys(
  op: string,
  name: string,
  opts: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    fail(op, `${name} must be an object, got ${describe(opts)}`);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) fail(op, `${name}.${key} is not an option (known: ${known.join(', ')})`);
  }
  return opts as Record<string, unknown>;
}

export function describe(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  return typeof value;
}
