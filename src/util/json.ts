// Checks that a value survives JSON.stringify/JSON.parse unchanged, so that what a caller stores
// (checkpoint meta, metrics records) is exactly what it reads back. JSON.stringify alone would
// silently turn NaN into null, drop undefined and functions, and flatten Maps to {}.

export interface JsonCheckOptions {
  /** Accept NaN and +-Infinity (they are written as null). Default false. */
  allowNonFinite?: boolean;
}

/** Throws a TypeError naming the offending path (e.g. `meta.optimizer.lr`) if `value` is not plain JSON data. */
export function assertJsonValue(value: unknown, where: string, options: JsonCheckOptions = {}): void {
  check(value, where, options, new Set());
}

/** True for `{}` literals and Object.create(null); false for arrays, class instances, Maps, typed arrays. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function check(value: unknown, where: string, options: JsonCheckOptions, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value) && !options.allowNonFinite) {
        throw new TypeError(`${where} is ${String(value)}; only finite numbers can be stored as JSON`);
      }
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`${where} is a ${typeof value}, which JSON cannot store`);
  }
  if (value === null) return;
  if (ancestors.has(value)) throw new TypeError(`${where} refers back to itself (a cycle)`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => check(item, `${where}[${i}]`, options, ancestors));
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) check(item, `${where}.${key}`, options, ancestors);
  } else {
    const kind = (value as object).constructor?.name ?? 'object';
    throw new TypeError(
      `${where} is a ${kind}; only plain objects, arrays, strings, numbers, booleans and null can be stored as JSON`,
    );
  }
  ancestors.delete(value);
}
