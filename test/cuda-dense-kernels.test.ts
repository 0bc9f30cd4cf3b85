// The CUDA backend's dense kernels (native/cuda/backend: batched matmul, implicit-GEMM conv2d and
// its two backprops), run by the CPU emulator of native/cuda/emulation through the test-only
// `cudaDenseTest` export, against the addon's CPU dense kernels (themselves held to tfjs by
// dense-kernels.test.ts) and, for the geometry, tfjs cpu. Shapes are small: the emulator runs
// every CUDA thread as a fiber.
//
// Tolerance. Both sides sum the same fp32 products in different orders, so each element may
// differ by at most 2 k u sum|a||b| (u = 2^-24, k terms; the classic bound for each order,
// added), which the tests compute per element from the CPU product of |a| and |b|. An epilogue
// adds one rounding of the bias sum, and an activation scales the difference by at most
// max(1, |alpha|) plus a few ulps of its own (expf vs std::exp).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { NativeBinding, NativeCudaDenseTest, DenseConv2dGeometry, DenseEpilogue } from '../src/native/binding.js';
import { conv2dGeometry } from '../src/dense/convKernels.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';
import { cudaAddon } from './cuda-emulated-support.js';

const addon = cudaAddon();
const skip = 'skip' in addon ? addon.skip : false;
type Addon = NativeBinding & { cudaDenseTest?: NativeCudaDenseTest };
let native: Addon;
let cuda: NativeCudaDenseTest;

before(async () => {
  if ('skip' in addon) return;
  native = createRequire(import.meta.url)(addon.path) as Addon;
  assert.ok(native.cudaDenseTest, `${addon.path} has no cudaDenseTest export`);
  cuda = native.cudaDenseTest;
  await initTfjs('cpu');
});

const U = 2 ** -24;
const rng = new Rng(20261206);

function random(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return v;
}
const abs = (v: Float32Array): Float32Array => v.map(Math.abs);
/** Output arrays start as NaN, so an element the kernel never writes fails the comparison. */
const poisoned = (n: number): Float32Array => new Float32Array(n).fill(Number.NaN);

/** |got - want| <= slack[i] (+ 4 ulps of want) for every element; NaN anywhere fails. */
function assertWithin(got: Float32Array, want: Float32Array, slack: Float32Array | number, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    const bound = (typeof slack === 'number' ? slack : slack[i]) + 4 * U * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= bound)) {
      assert.fail(`${label}: element ${i} is ${got[i]}, the CPU kernel gives ${want[i]} (bound ${bound})`);
    }
  }
}

/** Adds the rounding of the bias sum (per column, or one bias for all) to an order slack. */
function withBias(slack: Float32Array, bias: Float32Array | undefined, columns: number, slope: number): Float32Array {
  if (!bias) return slack;
  return slack.map((s, i) => s + 2 * U * slope * Math.abs(bias[bias.length === 1 ? 0 : i % columns]));
}

/** 2 k u times the product of magnitudes, scaled for an epilogue's slope. */
function orderSlack(absProduct: Float32Array, k: number, slope = 1): Float32Array {
  return absProduct.map((s) => 2 * (k + 1) * U * s * slope);
}

// ---- matrix products -------------------------------------------------------------------------

interface MatMulCase {
  m: number;
  n: number;
  k: number;
  transposeA?: boolean;
  transposeB?: boolean;
  aBatch?: number[];
  bBatch?: number[];
  epilogue?: DenseEpilogue;
  precision?: 'exact' | 'tf32';
}

/** Each output batch index's matrix index in a and in b (numpy broadcasting, row-major). */
function batchIndices(aShape: number[], bShape: number[]): { a: Int32Array; b: Int32Array } {
  const out = aShape.map((s, d) => (s === 1 ? bShape[d] : s));
  const count = out.reduce((p, s) => p * s, 1);
  const a = new Int32Array(count),
    b = new Int32Array(count);
  for (let z = 0; z < count; z++) {
    let rest = z,
      ai = 0,
      bi = 0,
      aStride = 1,
      bStride = 1;
    for (let d = out.length - 1; d >= 0; d--) {
      const i = rest % out[d];
      rest = Math.floor(rest / out[d]);
      ai += (aShape[d] === 1 ? 0 : i) * aStride;
      bi += (bShape[d] === 1 ? 0 : i) * bStride;
      aStride *= aShape[d];
      bStride *= bShape[d];
    }
    a[z] = ai;
    b[z] = bi;
  }
  return { a, b };
}

function matMulCase(
  c: MatMulCase,
  inputs?: { a: Float32Array; b: Float32Array },
): {
  got: Float32Array;
  want: Float32Array;
  slack: Float32Array;
} {
  const aBatch = c.aBatch ?? [],
    bBatch = c.bBatch ?? [];
  const { a: aIndex, b: bIndex } = batchIndices(aBatch, bBatch);
  const aMatrices = aBatch.reduce((p, s) => p * s, 1),
    bMatrices = bBatch.reduce((p, s) => p * s, 1);
  const a = inputs?.a ?? random(aMatrices * c.m * c.k),
    b = inputs?.b ?? random(bMatrices * c.k * c.n);
  const shape = { m: c.m, n: c.n, k: c.k, transposeA: c.transposeA ?? false, transposeB: c.transposeB ?? false };
  const size = aIndex.length * c.m * c.n;
  const got = poisoned(size),
    want = new Float32Array(size),
    absProduct = new Float32Array(size);
  cuda.matMul({
    a,
    b,
    out: got,
    ...shape,
    batchRank: aBatch.length,
    aBatchShape: Int32Array.from(aBatch),
    bBatchShape: Int32Array.from(bBatch),
    precision: c.precision,
    ...c.epilogue,
  });
  if (size === 0) return { got, want, slack: new Float32Array(0) }; // the CPU kernel refuses empty batches
  const cpu = {
    ...shape,
    batch: aIndex.length,
    aBatches: aMatrices,
    bBatches: bMatrices,
    aBatchIndex: aIndex,
    bBatchIndex: bIndex,
  };
  const roundIfTf32 = (v: Float32Array) => (c.precision === 'tf32' ? v.map(roundToTf32) : v);
  native.denseMatMul({ a: roundIfTf32(a), b: roundIfTf32(b), out: want, ...cpu, ...c.epilogue });
  native.denseMatMul({ a: abs(a), b: abs(b), out: absProduct, ...cpu });
  const e = c.epilogue;
  const slope = Math.max(1, Math.abs(e?.leakyreluAlpha ?? 0), ...Array.from(e?.preluAlpha ?? [], Math.abs));
  return { got, want, slack: withBias(orderSlack(absProduct, c.k, slope), e?.bias, c.n, slope) };
}

function checkMatMul(c: MatMulCase, label: string): void {
  const { got, want, slack } = matMulCase(c);
  assertWithin(got, want, slack, label);
}

/** TF32 as the tensor cores see it: 10 mantissa bits, round to nearest, ties away from zero. */
function roundToTf32(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer);
  if ((bits[0] & 0x7f800000) !== 0x7f800000) bits[0] = ((bits[0] + 0x1000) & 0xffffe000) >>> 0;
  return f[0];
}

test('cuda matMul: every transpose, odd sizes across several tiles and depth slices', { skip }, () => {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      checkMatMul({ m: 70, n: 67, k: 29, transposeA, transposeB }, `70x67x29 tA=${transposeA} tB=${transposeB}`);
    }
  }
  checkMatMul({ m: 5, n: 131, k: 9 }, 'wide');
  checkMatMul({ m: 3, n: 2, k: 200 }, 'deep');
});

test('cuda matMul: batch broadcasting over one and two batch axes', { skip }, () => {
  checkMatMul({ m: 9, n: 7, k: 5, aBatch: [3], bBatch: [3] }, 'batch 3 vs 3');
  checkMatMul({ m: 9, n: 7, k: 5, aBatch: [1], bBatch: [4], transposeB: true }, 'batch 1 vs 4');
  checkMatMul({ m: 9, n: 7, k: 5, aBatch: [4], bBatch: [1], transposeA: true }, 'batch 4 vs 1');
  checkMatMul({ m: 6, n: 5, k: 4, aBatch: [2, 1], bBatch: [1, 3] }, 'batch [2,1] vs [1,3]');
  checkMatMul(
    { m: 6, n: 5, k: 4, aBatch: [2, 3], bBatch: [2, 1], transposeA: true, transposeB: true },
    'batch [2,3] vs [2,1]',
  );
});

test('cuda matMul: size-1 and empty dimensions', { skip }, () => {
  checkMatMul({ m: 1, n: 1, k: 1 }, '1x1x1');
  checkMatMul({ m: 1, n: 40, k: 3, aBatch: [2], bBatch: [2] }, 'single row');
  checkMatMul({ m: 33, n: 1, k: 3, transposeA: true }, 'single column');
  // k = 0: an all-zero product, still through the epilogue (here a bias)
  const { got } = matMulCase({ m: 3, n: 4, k: 0, epilogue: { bias: Float32Array.from([1, 2, 3, 4]) } });
  assert.deepEqual(Array.from(got), [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
  // no output elements: nothing runs, nothing fails
  for (const c of [
    { m: 0, n: 4, k: 3 },
    { m: 4, n: 0, k: 3 },
    { m: 2, n: 2, k: 2, aBatch: [0], bBatch: [1] },
  ]) {
    assert.equal(matMulCase(c).got.length, 0);
  }
});

test('cuda matMul: fused bias and every activation match the CPU epilogue', { skip }, () => {
  const n = 11;
  const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;
  for (const activation of activations) {
    for (const perColumn of [false, true]) {
      const epilogue: DenseEpilogue = {
        bias: random(perColumn ? n : 1).map((v) => 3 * v),
        activation,
        leakyreluAlpha: 0.3,
        ...(activation === 'prelu' ? { preluAlpha: random(perColumn ? n : 1) } : {}),
      };
      checkMatMul({ m: 13, n, k: 6, aBatch: [2], bBatch: [1], epilogue }, `${activation} per column ${perColumn}`);
    }
  }
});

test('cuda matMul tf32: operands rounded to TF32, then exact fp32 sums', { skip }, () => {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      // several tiles, and more than 32 rows and columns in each (every warp of a tensor-core tile)
      checkMatMul(
        { m: 70, n: 67, k: 45, transposeA, transposeB, aBatch: [2], bBatch: [1], precision: 'tf32' },
        `tf32 tA=${transposeA} tB=${transposeB}`,
      );
    }
  }
  // 1 + 2^-20 is not a TF32 number (10 mantissa bits): tf32 drops it, exact keeps it.
  const a = Float32Array.from([1 + 2 ** -20]),
    b = Float32Array.from([1]);
  assert.equal(matMulCase({ m: 1, n: 1, k: 1, precision: 'tf32' }, { a, b }).got[0], 1);
  assert.equal(matMulCase({ m: 1, n: 1, k: 1 }, { a, b }).got[0], Math.fround(1 + 2 ** -20));
});

test('cuda matMul: bad arguments are named', { skip }, () => {
  const base = {
    a: new Float32Array(6),
    b: new Float32Array(6),
    out: new Float32Array(4),
    m: 2,
    n: 2,
    k: 3,
    transposeA: false,
    transposeB: false,
    batchRank: 0,
    aBatchShape: new Int32Array(0),
    bBatchShape: new Int32Array(0),
  };
  assert.throws(() => cuda.matMul({ ...base, a: new Float32Array(5) }), /a must have .* = 6 elements/);
  assert.throws(() => cuda.matMul({ ...base, precision: 'bf16' as 'tf32' }), /precision must be 'exact' or 'tf32'/);
  const unbroadcastable = { batchRank: 1, aBatchShape: Int32Array.from([2]), bBatchShape: Int32Array.from([3]) };
  assert.throws(() => cuda.matMul({ ...base, ...unbroadcastable }), /do not broadcast/);
  assert.throws(() => cuda.matMul({ ...base, out: base.a }), /out must have/);
});

// ---- convolutions ----------------------------------------------------------------------------

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides?: number | [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number]];
  dilations?: number | [number, number];
}

/** tfjs's geometry for the case (computeConv2DInfo: the same padding rules as its kernels). */
function geometryOf(c: ConvCase): DenseConv2dGeometry {
  const pad: ConvPad = typeof c.pad === 'string' ? c.pad : [[0, 0], c.pad[0], c.pad[1], [0, 0]];
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides ?? 1, c.dilations ?? 1, pad);
  return conv2dGeometry(info);
}
type ConvPad = Parameters<typeof tf.backend_util.computeConv2DInfo>[4];

const size = (...dims: number[]) => dims.reduce((p, d) => p * d, 1);

/**
 * The three kernels on random tensors of the case, each against its CPU twin (given the inputs
 * rounded to TF32 for precision 'tf32').
 */
function checkConv(c: ConvCase, label: string, epilogue?: DenseEpilogue, precision: 'exact' | 'tf32' = 'exact'): void {
  const g = geometryOf(c);
  const xSize = size(g.batch, g.inHeight, g.inWidth, g.inChannels);
  const ySize = size(g.batch, g.outHeight, g.outWidth, g.outChannels);
  const fSize = size(g.filterHeight, g.filterWidth, g.inChannels, g.outChannels);
  const x = random(xSize),
    filter = random(fSize),
    dy = random(ySize);
  const rounded = (v: Float32Array) => (precision === 'tf32' ? v.map(roundToTf32) : v);
  const [xr, fr, dyr] = [rounded(x), rounded(filter), rounded(dy)];
  // Every tap of a filter meets every input pixel at most once per output pixel: the product
  // of magnitudes bounds each sum, with k = the number of terms of the widest sum.
  const taps = g.filterHeight * g.filterWidth;

  const out = poisoned(ySize),
    outCpu = new Float32Array(ySize),
    outAbs = new Float32Array(ySize);
  cuda.conv2d({ x, filter, out, geometry: g, precision, ...epilogue });
  native.denseConv2d({ x: xr, filter: fr, out: outCpu, geometry: g, ...epilogue });
  native.denseConv2d({ x: abs(x), filter: abs(filter), out: outAbs, geometry: g });
  const slope = Math.max(1, Math.abs(epilogue?.leakyreluAlpha ?? 0));
  const slack = withBias(orderSlack(outAbs, taps * g.inChannels, slope), epilogue?.bias, g.outChannels, slope);
  assertWithin(out, outCpu, slack, `${label} forward`);

  const dx = poisoned(xSize),
    dxCpu = new Float32Array(xSize),
    dxAbs = new Float32Array(xSize);
  cuda.conv2dBackpropInput({ dy, filter, dx, geometry: g, precision });
  native.denseConv2dBackpropInput({ dy: dyr, filter: fr, dx: dxCpu, geometry: g });
  native.denseConv2dBackpropInput({ dy: abs(dy), filter: abs(filter), dx: dxAbs, geometry: g });
  assertWithin(dx, dxCpu, orderSlack(dxAbs, taps * g.outChannels), `${label} backprop input`);

  const dw = poisoned(fSize),
    dwCpu = new Float32Array(fSize),
    dwAbs = new Float32Array(fSize);
  cuda.conv2dBackpropFilter({ x, dy, dw, geometry: g, precision });
  native.denseConv2dBackpropFilter({ x: xr, dy: dyr, dw: dwCpu, geometry: g });
  native.denseConv2dBackpropFilter({ x: abs(x), dy: abs(dy), dw: dwAbs, geometry: g });
  assertWithin(dw, dwCpu, orderSlack(dwAbs, g.batch * g.outHeight * g.outWidth), `${label} backprop filter`);
}

test('cuda conv2d and backprops: 1x1 and 3x3 filters, same and valid padding, strides', { skip }, () => {
  checkConv({ x: [2, 5, 6, 7], filter: [1, 1, 7, 9], pad: 'valid' }, '1x1 pointwise');
  checkConv({ x: [2, 7, 7, 5], filter: [3, 3, 5, 6], pad: 'same' }, '3x3 same');
  checkConv({ x: [2, 7, 6, 3], filter: [3, 3, 3, 4], pad: 'valid', strides: 2 }, '3x3 valid stride 2');
  checkConv({ x: [1, 8, 9, 2], filter: [3, 3, 2, 5], pad: 'same', strides: [2, 3] }, '3x3 same strides 2,3');
  checkConv({ x: [1, 6, 6, 3], filter: [1, 1, 3, 4], pad: 'valid', strides: 2 }, '1x1 stride 2');
});

test('cuda conv2d and backprops: dilation, explicit asymmetric padding, odd filters', { skip }, () => {
  checkConv({ x: [2, 9, 8, 3], filter: [3, 3, 3, 4], pad: 'same', dilations: 2 }, 'dilation 2 same');
  checkConv({ x: [1, 9, 10, 2], filter: [3, 2, 2, 3], pad: 'valid', dilations: [2, 3] }, 'dilations 2,3 valid');
  checkConv(
    {
      x: [2, 5, 6, 3],
      filter: [2, 3, 3, 5],
      pad: [
        [2, 0],
        [1, 3],
      ],
    },
    'explicit padding',
  );
  checkConv(
    {
      x: [1, 4, 4, 1],
      filter: [5, 4, 1, 2],
      pad: [
        [3, 3],
        [2, 1],
      ],
      strides: 2,
    },
    'padding wider than the image',
  );
});

test("cuda conv2d and backprops: the paper encoder's convolutions scaled down, fused epilogue", { skip }, () => {
  // video grid 7x7: valid 3x3 -> 5x5 -> valid 3x3 -> 3x3 -> 1x1, relu after each
  const relu: DenseEpilogue = { bias: random(24), activation: 'relu' };
  checkConv({ x: [3, 7, 7, 16], filter: [3, 3, 16, 24], pad: 'valid' }, 'paper conv1 / 32', relu);
  checkConv({ x: [3, 5, 5, 24], filter: [3, 3, 24, 40], pad: 'valid' }, 'paper conv2 / 51');
  checkConv({ x: [3, 3, 3, 40], filter: [1, 1, 40, 72], pad: 'valid' }, 'paper conv3 (more columns than a tile)', {
    bias: random(1),
    activation: 'leakyrelu',
    leakyreluAlpha: 0.2,
  });
});

test('cuda conv2d backprop filter: a reduction split over output pixels adds up in order', { skip }, () => {
  // 4 x 16 x 16 = 1024 output pixels over one 64 x 64 tile: split in two on the emulator's 4
  // multiprocessors (workspace partials, then the fixed-order sum).
  checkConv({ x: [4, 16, 16, 2], filter: [1, 1, 2, 3], pad: 'valid' }, 'split reduction');
});

test('cuda conv2d: size-1 and empty dimensions', { skip }, () => {
  checkConv({ x: [1, 1, 1, 1], filter: [1, 1, 1, 1], pad: 'valid' }, '1x1x1x1');
  checkConv({ x: [0, 4, 4, 2], filter: [3, 3, 2, 2], pad: 'same' }, 'empty batch');
  checkConv({ x: [1, 4, 4, 2], filter: [3, 3, 2, 0], pad: 'same' }, 'no output channels');
});

test('cuda conv2d: tfjs cpu agrees on the geometry (same padding, stride, dilation)', { skip }, () => {
  for (const c of [
    { x: [2, 7, 6, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same', dilations: 1 },
    { x: [1, 9, 9, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'valid', dilations: 2 },
  ] as const) {
    const x = random(size(...c.x)),
      filter = random(size(...c.filter));
    const want = tf.tidy(
      () =>
        tf
          .conv2d(tf.tensor4d(x, [...c.x]), tf.tensor4d(filter, [...c.filter]), c.strides, c.pad, 'NHWC', c.dilations)
          .dataSync() as Float32Array,
    );
    const g = geometryOf({ ...c, x: [...c.x], filter: [...c.filter] });
    const got = poisoned(want.length),
      absOut = new Float32Array(want.length);
    cuda.conv2d({ x, filter, out: got, geometry: g });
    native.denseConv2d({ x: abs(x), filter: abs(filter), out: absOut, geometry: g });
    assertWithin(got, want, orderSlack(absOut, c.filter[0] * c.filter[1] * c.filter[2]), `tfjs cpu ${c.pad}`);
  }
});

test('cuda conv2d and backprops tf32: operands rounded to TF32', { skip }, () => {
  // more than 32 output rows and columns per pass: every warp's quarter of a tensor-core tile
  checkConv(
    { x: [2, 6, 6, 5], filter: [3, 3, 5, 40], pad: 'same', strides: 1 },
    'tf32 3x3 same',
    { bias: random(40), activation: 'relu' },
    'tf32',
  );
  checkConv(
    { x: [1, 7, 7, 36], filter: [3, 3, 36, 34], pad: 'valid', strides: 2 },
    'tf32 3x3 stride 2',
    undefined,
    'tf32',
  );
});

test('cuda conv2d: bad arguments are named; timings come back per run', { skip }, () => {
  const geometry = geometryOf({ x: [1, 4, 4, 2], filter: [3, 3, 2, 3], pad: 'same' });
  const tensors = { x: new Float32Array(32), filter: new Float32Array(54), out: new Float32Array(48) };
  assert.throws(() => cuda.conv2d({ ...tensors, x: new Float32Array(31), geometry }), /x must have .* = 32 elements/);
  assert.throws(
    () =>
      cuda.conv2dBackpropFilter({
        x: tensors.x,
        dy: tensors.out,
        dw: tensors.filter,
        geometry,
        precision: 'half' as 'tf32',
      }),
    /precision must be 'exact' or 'tf32'/,
  );
  assert.throws(() => cuda.time({ op: 'conv3d' as 'conv2d', geometry, iters: 1 }), /op must be one of/);
  for (const op of ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'] as const) {
    const ms = cuda.time({ op, geometry, iters: 2, precision: 'tf32' });
    assert.equal(ms.length, 2, op);
    assert.ok(
      ms.every((t) => Number.isFinite(t) && t >= 0),
      `${op}: ${ms.join(', ')}`,
    );
  }
  assert.equal(cuda.time({ op: 'matMul', batch: 2, m: 3, n: 4, k: 5, iters: 3 }).length, 3);
});
