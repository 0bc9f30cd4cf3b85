// The dense kernels' N-API surface: hand-computed results, and argument checking that names the
// bad argument and writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeBinding } from '../src/backend.js';
import type { DenseConv2dGeometry, NativeBinding } from '../src/native/binding.js';
import { freeingGetter } from './native-support.js';

function binding(): NativeBinding {
  const b = nativeBinding();
  assert.ok(b !== null, 'the native addon must load');
  return b;
}

const f32 = (values: number[]): Float32Array => Float32Array.from(values);

/** A 2x3 times 3x2 product, with its batch maps. */
function matMulArgs() {
  return {
    a: f32([1, 2, 3, 4, 5, 6]),
    b: f32([1, -1, 0, 2, -2, 1]),
    out: new Float32Array(4),
    m: 2,
    n: 2,
    k: 3,
    transposeA: false,
    transposeB: false,
    batch: 1,
    aBatches: 1,
    bBatches: 1,
    aBatchIndex: Int32Array.of(0),
    bBatchIndex: Int32Array.of(0),
  };
}

function geometry(overrides: Partial<DenseConv2dGeometry> = {}): DenseConv2dGeometry {
  return {
    batch: 1,
    inHeight: 3,
    inWidth: 3,
    inChannels: 1,
    outHeight: 2,
    outWidth: 2,
    outChannels: 1,
    filterHeight: 2,
    filterWidth: 2,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    padTop: 0,
    padLeft: 0,
    ...overrides,
  };
}

test('dense binding: matmul, bias, activation and transposes give the hand-computed values', () => {
  const native = binding();
  const args = matMulArgs();
  // [1 2 3; 4 5 6] x [1 -1; 0 2; -2 1] = [-5 6; -8 12]
  native.denseMatMul(args);
  assert.deepEqual([...args.out], [-5, 6, -8, 12]);
  native.denseMatMul({ ...args, bias: f32([1, -20]), activation: 'relu' });
  assert.deepEqual([...args.out], [0, 0, 0, 0]);
  native.denseMatMul({ ...args, bias: f32([10]), activation: 'leakyrelu', leakyreluAlpha: 0.5 });
  assert.deepEqual([...args.out], [5, 16, 2, 22]);
  native.denseMatMul({ ...args, activation: 'prelu', preluAlpha: f32([0.25, 2]) });
  assert.deepEqual([...args.out], [-1.25, 6, -2, 12]);
  // a^T given as [3, 2], b^T as [2, 3]: the same product.
  native.denseMatMul({
    ...args,
    a: f32([1, 4, 2, 5, 3, 6]),
    b: f32([1, 0, -2, -1, 2, 1]),
    transposeA: true,
    transposeB: true,
  });
  assert.deepEqual([...args.out], [-5, 6, -8, 12]);
});

test('dense binding: batch maps pick the operands; an empty inner dimension gives the bias', () => {
  const native = binding();
  // Two a matrices [1x1], one b: out[i] = a[aIndex[i]] * b.
  const out = new Float32Array(3);
  native.denseMatMul({
    a: f32([2, 3]),
    b: f32([5]),
    out,
    m: 1,
    n: 1,
    k: 1,
    transposeA: false,
    transposeB: false,
    batch: 3,
    aBatches: 2,
    bBatches: 1,
    aBatchIndex: Int32Array.of(1, 0, 1),
    bBatchIndex: Int32Array.of(0, 0, 0),
  });
  assert.deepEqual([...out], [15, 10, 15]);
  const empty = f32([9, 9, 9, 9]);
  native.denseMatMul({
    a: new Float32Array(0),
    b: new Float32Array(0),
    out: empty,
    m: 2,
    n: 2,
    k: 0,
    transposeA: false,
    transposeB: false,
    batch: 1,
    aBatches: 1,
    bBatches: 1,
    aBatchIndex: Int32Array.of(0),
    bBatchIndex: Int32Array.of(0),
    bias: f32([1, 2]),
  });
  assert.deepEqual([...empty], [1, 2, 1, 2]);
});

test('dense binding: conv2d and its backprops give the hand-computed values', () => {
  const native = binding();
  const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const filter = f32([1, 0, 0, -1]); // y = x[i, j] - x[i+1, j+1]
  const out = new Float32Array(4);
  native.denseConv2d({ x, filter, out, geometry: geometry() });
  assert.deepEqual([...out], [-4, -4, -4, -4]);
  // dx = sum over outputs of dy * the taps that read each input pixel.
  const dx = new Float32Array(9);
  native.denseConv2dBackpropInput({ dy: f32([1, 2, 3, 4]), filter, dx, geometry: geometry() });
  assert.deepEqual([...dx], [1, 2, 0, 3, 3, -2, 0, -3, -4]);
  // dw[fy, fx] = sum_{oy, ox} x[oy + fy, ox + fx] * dy[oy, ox]
  const dw = new Float32Array(4);
  native.denseConv2dBackpropFilter({ x, dy: f32([1, 2, 3, 4]), dw, geometry: geometry() });
  assert.deepEqual([...dw], [37, 47, 67, 77]);
  // 'same'-style padding of one on the top/left, stride 2: out (0,0) sees only x[0,0] via tap (1,1).
  const padded = new Float32Array(4);
  native.denseConv2d({
    x,
    filter,
    out: padded,
    geometry: geometry({ strideHeight: 2, strideWidth: 2, padTop: 1, padLeft: 1 }),
  });
  assert.deepEqual([...padded], [-1, -3, -7, 5 - 9]);
});

/** Asserts `call` throws `kind` with a message matching `pattern` and leaves `out` as it was. */
function assertRejected(
  call: () => void,
  kind: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  out: Float32Array,
): void {
  const before = Float32Array.from(out);
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
  assert.deepEqual(out, before, 'a rejected call must not write its output');
}

test('dense binding: bad matmul arguments are rejected by name and write nothing', () => {
  const native = binding();
  const args = matMulArgs();
  args.out.fill(7);
  assertRejected(
    () => native.denseMatMul({ ...args, a: [1, 2] as unknown as Float32Array }),
    TypeError,
    /denseMatMul: a must be a Float32Array, got an Array/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, b: f32([1, 2]) }),
    RangeError,
    /denseMatMul: b must have bBatches\*k\*n = 6 elements, got 2/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, m: 1.5 }),
    RangeError,
    /m must be an integer in \[0, 2147483647\], got 1\.5/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, transposeA: 1 as unknown as boolean }),
    TypeError,
    /transposeA must be a boolean, got 1/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, aBatchIndex: Int32Array.of(1) }),
    RangeError,
    /aBatchIndex\[0\] = 1 is outside \[0, aBatches = 1\)/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, bBatchIndex: Int32Array.of(0, 0) }),
    RangeError,
    /bBatchIndex must have batch = 1 elements, got 2/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, bias: f32([1, 2, 3]) }),
    RangeError,
    /bias must have 1 or 2 elements \(one per output channel\), got 3/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, activation: 'tanh' as 'relu' }),
    RangeError,
    /activation must be one of .*, got the string 'tanh'/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, activation: 'prelu' }),
    TypeError,
    /preluAlpha is required/,
    args.out,
  );
  assertRejected(
    () => native.denseMatMul({ ...args, leakyreluAlpha: Number.NaN }),
    RangeError,
    /leakyreluAlpha must be a finite number/,
    args.out,
  );
  // out and a viewing the same memory (as two tfjs tensors in one wasm heap could).
  const heap = new Float32Array(10).fill(7);
  const aliased = heap.subarray(0, 4);
  assertRejected(
    () => native.denseMatMul({ ...args, a: heap.subarray(2, 8), out: aliased }),
    RangeError,
    /denseMatMul: out overlaps a/,
    aliased,
  );
  assert.throws(() => (native.denseMatMul as unknown as () => void)(), /denseMatMul: args must be an object/);
});

test('dense binding: bad convolution arguments are rejected by name and write nothing', () => {
  const native = binding();
  const x = new Float32Array(9),
    filter = new Float32Array(4),
    out = new Float32Array(4).fill(3);
  const { strideHeight: _omitted, ...withoutStride } = geometry();
  assertRejected(
    () => native.denseConv2d({ x, filter, out, geometry: withoutStride as DenseConv2dGeometry }),
    TypeError,
    /denseConv2d: geometry\.strideHeight must be an integer in \[1, 2147483647\], got undefined/,
    out,
  );
  assertRejected(
    () => native.denseConv2d({ x, filter, out, geometry: geometry({ strideWidth: 0 }) }),
    RangeError,
    /geometry\.strideWidth must be an integer in \[1,/,
    out,
  );
  assertRejected(
    () => native.denseConv2d({ x, filter, out, geometry: geometry({ padTop: -1 }) }),
    RangeError,
    /geometry\.padTop must be an integer in \[0,/,
    out,
  );
  assertRejected(
    () => native.denseConv2d({ x: new Float32Array(8), filter, out, geometry: geometry() }),
    RangeError,
    /x must have batch\*inHeight\*inWidth\*inChannels = 9 elements, got 8/,
    out,
  );
  assertRejected(
    () => native.denseConv2d({ x, filter, out, geometry: 5 as unknown as DenseConv2dGeometry }),
    TypeError,
    /geometry must be an object, got 5/,
    out,
  );
  assertRejected(
    () => native.denseConv2d({ x, filter, out, geometry: geometry(), bias: f32([1, 2]) }),
    RangeError,
    /bias must have 1 element \(one per output channel\), got 2/,
    out,
  );
  const dx = new Float32Array(9).fill(5);
  assertRejected(
    () => native.denseConv2dBackpropInput({ dy: new Float32Array(3), filter, dx, geometry: geometry() }),
    RangeError,
    /denseConv2dBackpropInput: dy must have batch\*outHeight\*outWidth\*outChannels = 4 elements, got 3/,
    dx,
  );
  const dw = new Float32Array(5).fill(5);
  assertRejected(
    () => native.denseConv2dBackpropFilter({ x, dy: new Float32Array(4), dw, geometry: geometry() }),
    RangeError,
    /denseConv2dBackpropFilter: dw must have .* = 4 elements, got 5/,
    dw,
  );
  const shared = new Float32Array(4).fill(5);
  const small = geometry({ inHeight: 2, inWidth: 2, outHeight: 1, outWidth: 1 });
  assertRejected(
    () => native.denseConv2dBackpropFilter({ x: shared, dy: new Float32Array(1), dw: shared, geometry: small }),
    RangeError,
    /dw overlaps x/,
    shared,
  );
});

test('dense binding: transpose, reverse and axis sums give the hand-computed values; bad arguments are named', () => {
  const native = binding();
  // [2, 3] -> [3, 2]
  const out = new Float32Array(6);
  native.denseTranspose({
    x: f32([1, 2, 3, 4, 5, 6]),
    out,
    rank: 2,
    shape: Int32Array.of(2, 3),
    perm: Int32Array.of(1, 0),
  });
  assert.deepEqual([...out], [1, 4, 2, 5, 3, 6]);
  // ... and reading x's axis 1 backwards: [[3, 2, 1], [6, 5, 4]] transposed.
  native.denseTranspose({
    x: f32([1, 2, 3, 4, 5, 6]),
    out,
    rank: 2,
    shape: Int32Array.of(2, 3),
    perm: Int32Array.of(1, 0),
    reversed: Int32Array.of(0, 1),
  });
  assert.deepEqual([...out], [3, 6, 2, 5, 1, 4]);
  // x [2, 2, 2]: out[o, j] = x[o, 0, j] + x[o, 1, j]
  const sums = new Float32Array(4);
  native.denseSumAxis({ x: f32([1, 2, 3, 4, 5, 6, 7, 8]), out: sums, outer: 2, reduce: 2, inner: 2 });
  assert.deepEqual([...sums], [4, 6, 12, 14]);
  const untouched = new Float32Array(6).fill(9);
  const base = {
    x: f32([1, 2, 3, 4, 5, 6]),
    out: untouched,
    rank: 2,
    shape: Int32Array.of(2, 3),
    perm: Int32Array.of(1, 0),
  };
  assertRejected(
    () => native.denseTranspose({ ...base, perm: Int32Array.of(1, 1) }),
    RangeError,
    /denseTranspose: perm must be a permutation of 0\.\.1/,
    untouched,
  );
  assertRejected(
    () => native.denseTranspose({ ...base, rank: 9 }),
    RangeError,
    /rank must be an integer in \[1, 8\]/,
    untouched,
  );
  assertRejected(
    () => native.denseTranspose({ ...base, shape: Int32Array.of(3, 3) }),
    RangeError,
    /x must have the product of shape = 9 elements, got 6/,
    untouched,
  );
  assertRejected(
    () => native.denseSumAxis({ x: f32([1, 2, 3]), out: untouched, outer: 1, reduce: 3, inner: 1 }),
    RangeError,
    /denseSumAxis: out must have outer\*inner = 1 elements, got 6/,
    untouched,
  );
});

test('dense binding: elementwise kernels give the hand-computed values; bad arguments are named', () => {
  const native = binding();
  const out = new Float32Array(4);
  // [2, 2] - a bias [2]: b repeats along the rows.
  native.denseBinary({ op: 'sub', a: f32([10, 20, 30, 40]), b: f32([1, 2]), out, outer: 1, mid: 2, inner: 2 });
  assert.deepEqual([...out], [9, 18, 29, 38]);
  // A scalar over [4]: a repeats along everything.
  native.denseBinary({ op: 'div', a: f32([8]), b: f32([1, 2, 4, 8]), out, outer: 1, mid: 4, inner: 1 });
  assert.deepEqual([...out], [8, 4, 2, 1]);
  // [2, 2] + a per-row value [2, 1].
  native.denseBinary({ op: 'add', a: f32([1, 2, 3, 4]), b: f32([10, 20]), out, outer: 2, mid: 2, inner: 1 });
  assert.deepEqual([...out], [11, 12, 23, 24]);
  native.denseUnary({ op: 'step', x: f32([-1, 0, 2, Number.NaN]), out, alpha: 0.5 });
  assert.deepEqual([...out], [0.5, 0.5, 1, Number.NaN]);
  const untouched = new Float32Array(4).fill(7);
  const shape = { outer: 1, mid: 2, inner: 2 };
  assertRejected(
    () => native.denseBinary({ op: 'pow' as 'add', a: f32([1]), b: f32([1]), out: untouched, ...shape }),
    RangeError,
    /denseBinary: op must be one of 'add', 'sub', 'mul', 'div', got the string 'pow'/,
    untouched,
  );
  assertRejected(
    () => native.denseBinary({ op: 'add', a: f32([1, 2, 3]), b: f32([1, 2, 3, 4]), out: untouched, ...shape }),
    RangeError,
    /a must have outer\*mid\*inner = 4 or outer\*inner = 2 elements, got 3/,
    untouched,
  );
  assertRejected(
    () => native.denseBinary({ op: 'add', a: f32([1, 2]), b: f32([1, 2]), out: untouched, ...shape }),
    RangeError,
    /a or b must have outer\*mid\*inner elements/,
    untouched,
  );
  assertRejected(
    () =>
      native.denseBinary({
        op: 'add',
        a: f32([1, 2, 3, 4]),
        b: f32([1, 2]),
        out: untouched,
        outer: 1,
        mid: 3,
        inner: 2,
      }),
    RangeError,
    /out must have outer\*mid\*inner = 6 elements, got 4/,
    untouched,
  );
  assertRejected(
    () => native.denseUnary({ op: 'relu', x: f32([1, 2]), out: untouched }),
    RangeError,
    /denseUnary: x must have out's length = 4 elements, got 2/,
    untouched,
  );
  assertRejected(
    () => native.denseUnary({ op: 'relu', x: untouched.subarray(1), out: untouched.subarray(0, 3) }),
    RangeError,
    /out overlaps x/,
    untouched,
  );
});

// A getter that ran could free an array the binding already holds a pointer into (out, say, and
// BLAS would then write into freed memory): each entry point must refuse it without running it.
test('dense binding: getters are refused without being run, in every entry point', () => {
  const native = binding();
  const refused = (call: () => void, op: string, path: string, getter: { calls: number }) => {
    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.equal((error as Error).message, `${op}: ${path} must be a data property, got a getter or setter`);
      return true;
    });
    assert.equal(getter.calls, 0, `${op}: the getter on ${path} must not run`);
  };
  const matMul = { ...matMulArgs(), activation: 'relu' as const };
  refused(
    () => native.denseMatMul(matMul),
    'denseMatMul',
    'activation',
    freeingGetter(matMul, 'activation', matMul.out),
  );
  const biased = { ...matMulArgs(), bias: f32([1, 2]) };
  refused(() => native.denseMatMul(biased), 'denseMatMul', 'bias', freeingGetter(biased, 'bias', biased.a));

  const conv = () => ({ x: new Float32Array(9), filter: new Float32Array(4), geometry: geometry() });
  const forward = { ...conv(), out: new Float32Array(4) };
  refused(
    () => native.denseConv2d(forward),
    'denseConv2d',
    'geometry.padTop',
    freeingGetter(forward.geometry, 'padTop', forward.x),
  );
  const { x: _x, ...backInput } = { ...conv(), dy: new Float32Array(4), dx: new Float32Array(9) };
  refused(
    () => native.denseConv2dBackpropInput(backInput),
    'denseConv2dBackpropInput',
    'dx',
    freeingGetter(backInput, 'dx', backInput.dy),
  );
  const { filter: _f, ...backFilter } = { ...conv(), dy: new Float32Array(4), dw: new Float32Array(4) };
  refused(
    () => native.denseConv2dBackpropFilter(backFilter),
    'denseConv2dBackpropFilter',
    'geometry',
    freeingGetter(backFilter, 'geometry', backFilter.dw),
  );

  const transpose = {
    x: f32([1, 2, 3, 4, 5, 6]),
    out: new Float32Array(6),
    rank: 2,
    shape: Int32Array.of(2, 3),
    perm: Int32Array.of(1, 0),
    reversed: Int32Array.of(0, 1),
  };
  refused(
    () => native.denseTranspose(transpose),
    'denseTranspose',
    'reversed',
    freeingGetter(transpose, 'reversed', transpose.x),
  );
  const sum = { x: f32([1, 2, 3, 4]), out: new Float32Array(2), outer: 1, reduce: 2, inner: 2, scale: 0.5 };
  refused(() => native.denseSumAxis(sum), 'denseSumAxis', 'scale', freeingGetter(sum, 'scale', sum.x));
  const binary = {
    op: 'add' as const,
    a: f32([1, 2, 3, 4]),
    b: f32([1, 2]),
    out: new Float32Array(4),
    outer: 1,
    mid: 2,
    inner: 2,
  };
  refused(() => native.denseBinary(binary), 'denseBinary', 'b', freeingGetter(binary, 'b', binary.a));
  const unary = { op: 'step' as const, x: f32([1, -1]), out: new Float32Array(2), alpha: 0.5 };
  refused(() => native.denseUnary(unary), 'denseUnary', 'alpha', freeingGetter(unary, 'alpha', unary.out));
  assert.equal(unary.out.length, 2, 'out was not detached');
});

test('dense binding: a geometry whose output stops short of the input is a RangeError', () => {
  const native = binding();
  const x = new Float32Array(9),
    filter = new Float32Array(4);
  // 3x3 input, 2x2 filter, stride 1: at least 2 output rows and columns ('valid').
  const narrow = new Float32Array(2);
  assertRejected(
    () => native.denseConv2d({ x, filter, out: narrow, geometry: geometry({ outWidth: 1 }) }),
    RangeError,
    /denseConv2d: geometry\.outWidth = 1 does not match inWidth = 3, filterWidth = 2, strideWidth = 1, dilationWidth = 1 and padLeft = 0: expected at least 2/,
    narrow,
  );
  // Padding on top moves the windows up: 3 more rows of it need 3 more output rows.
  const dx = new Float32Array(9).fill(5);
  assertRejected(
    () => native.denseConv2dBackpropInput({ dy: new Float32Array(4), filter, dx, geometry: geometry({ padTop: 3 }) }),
    RangeError,
    /denseConv2dBackpropInput: geometry\.outHeight = 2 does not match .* padTop = 3: expected at least 5/,
    dx,
  );
  // Dilation 2 spans 3 rows: 1 output row at least.
  const dw = new Float32Array(4).fill(5);
  assertRejected(
    () =>
      native.denseConv2dBackpropFilter({
        x: new Float32Array(5 * 3),
        dy: new Float32Array(0),
        dw,
        geometry: geometry({ inHeight: 5, outHeight: 0, dilationHeight: 2 }),
      }),
    RangeError,
    /denseConv2dBackpropFilter: geometry\.outHeight = 0 does not match inHeight = 5, .*: expected at least 3/,
    dw,
  );
  // Stride 2 over 3 rows may skip the last one: 1 output row is enough; explicit padding at the
  // bottom may give more.
  native.denseConv2d({
    x,
    filter,
    out: new Float32Array(1),
    geometry: geometry({ strideHeight: 2, strideWidth: 2, outHeight: 1, outWidth: 1 }),
  });
  native.denseConv2d({ x, filter, out: new Float32Array(16), geometry: geometry({ outHeight: 4, outWidth: 4 }) });
});

test('dense binding: outer*inner is checked for overflow even when mid is 0', () => {
  const native = binding();
  const big = 2 ** 40;
  assert.throws(
    () => native.denseBinary({ op: 'add', a: f32([]), b: f32([]), out: f32([]), outer: big, mid: 0, inner: big }),
    (error: unknown) =>
      error instanceof RangeError && /denseBinary: outer\*inner is too large/.test((error as Error).message),
  );
});
