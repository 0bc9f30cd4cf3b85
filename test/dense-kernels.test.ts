// The native dense kernels against tfjs's built-in kernels on random shapes: matrix products
// (transposes, batch broadcasting, fused bias + activation), convolutions (strides, padding,
// dilations, fused epilogue), transposed convolutions, and gradients through the backprops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-core';
import { nativeBinding } from '../src/backend.js';
import {
  disableNativeDense,
  enableNativeDense,
  nativeDenseStatus,
  type NativeDenseOptions,
} from '../src/dense/index.js';
import type { NativeBinding } from '../src/native/binding.js';
import { initTfjs, tf, type TfjsKind } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';

const BACKENDS: TfjsKind[] = ['wasm', 'cpu'];
type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'prelu' | 'sigmoid';
const ACTIVATIONS: Activation[] = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'];

before(async () => {
  await initTfjs('wasm');
});
after(() => disableNativeDense());

function randomTensor(rng: Rng, shape: number[]): Tensor {
  const values = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor(values, shape);
}

const nativeCalls = (kernel: string): number => nativeDenseStatus().counts[kernel].native;

/**
 * Runs `compute` on `kind`, with the native kernels (by default every product native: minFlops 0)
 * or with the tfjs ones. Returns the outputs and how many native calls each listed kernel made.
 */
async function evaluate(
  kind: TfjsKind,
  native: boolean,
  compute: () => Tensor[],
  kernels: string[] = [],
  options: NativeDenseOptions = { minFlops: 0 },
) {
  await initTfjs(kind);
  disableNativeDense();
  if (native) {
    const enabled = enableNativeDense(options);
    assert.ok(enabled.enabled, `native dense kernels unavailable: ${enabled.reason}`);
  }
  const before = kernels.map(nativeCalls);
  const values = tf.tidy(compute).map((t) => t.dataSync() as Float32Array);
  const calls = kernels.map((k, i) => nativeCalls(k) - before[i]);
  disableNativeDense();
  return { values, calls };
}

/** |got - want| <= tol * (1 + max|want|) everywhere (float32 sums in a different order). */
function assertClose(got: Float32Array, want: Float32Array, label: string, tol = 2e-5): void {
  assert.equal(got.length, want.length, `${label}: length`);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v) + 1);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * scale)) {
      assert.fail(`${label}: element ${i} is ${got[i]}, tfjs gives ${want[i]} (tolerance ${tol * scale})`);
    }
  }
}

/**
 * `compute` with the native kernels on `kind` against tfjs's cpu kernels, the plain reference:
 * the wasm backend's own kernels have gaps (no Conv2DBackpropFilter of its own, only the stride-1
 * rewrite) and bugs (dilated convs with numeric padding).
 */
async function compare(
  kind: TfjsKind,
  label: string,
  kernels: string[],
  compute: () => Tensor[],
  options?: NativeDenseOptions,
): Promise<void> {
  const want = (await evaluate('cpu', false, compute)).values;
  const { values, calls } = await evaluate(kind, true, compute, kernels, options);
  kernels.forEach((k, i) => assert.ok(calls[i] > 0, `${label}: ${k} did not run natively (${calls[i]} calls)`));
  want.forEach((w, i) => assertClose(values[i], w, `${label} output ${i}`));
}

test('dense: batched matmul with transposes and batch broadcasting matches tfjs', async () => {
  const rng = new Rng(61);
  // Batch layouts tfjs's own kernels broadcast correctly: [a batch dims] x [b batch dims].
  const layouts: [number[], number[]][] = [
    [[], []],
    [[3], [3]],
    [[4], []],
    [[], [2]],
    [[5], [1]],
    [[1], [3]],
    [
      [2, 3],
      [2, 3],
    ],
    [[2, 3], []],
  ];
  for (const kind of BACKENDS) {
    for (let i = 0; i < 16; i++) {
      const [aBatch, bBatch] = layouts[i % layouts.length];
      const m = 1 + rng.int(33),
        n = 1 + rng.int(33),
        k = 1 + rng.int(33);
      const transposeA = rng.int(2) === 1,
        transposeB = rng.int(2) === 1;
      const a = randomTensor(rng, [...aBatch, ...(transposeA ? [k, m] : [m, k])]);
      const b = randomTensor(rng, [...bBatch, ...(transposeB ? [n, k] : [k, n])]);
      const label = `${kind} [${a.shape}]${transposeA ? 'T' : ''} x [${b.shape}]${transposeB ? 'T' : ''}`;
      await compare(kind, label, ['BatchMatMul'], () => [tf.matMul(a, b, transposeA, transposeB)]);
    }
    // Products above 2^26 flops are cut into tiles of C's columns or rows for the threads; a
    // batch of smaller ones is shared out product by product.
    const a = randomTensor(rng, [2, 260, 280]),
      b = randomTensor(rng, [2, 260, 480]);
    const c = randomTensor(rng, [4, 1100, 128]),
      d = randomTensor(rng, [128, 64]);
    const e = randomTensor(rng, [130, 64, 64]),
      f = randomTensor(rng, [130, 64, 64]);
    await compare(kind, `${kind} large products`, ['BatchMatMul'], () => [
      tf.matMul(a, b, true, false),
      tf.matMul(c, d),
      tf.matMul(e, f),
    ]);
  }
});

test('dense: matmul broadcasts batch dims of size 1 on both sides like numpy', async () => {
  // tfjs's built-in kernels flatten the batch dims, so the reference tiles both operands first.
  const rng = new Rng(62);
  const a = randomTensor(rng, [2, 1, 5, 7]);
  const b = randomTensor(rng, [1, 3, 7, 4]);
  for (const kind of BACKENDS) {
    await initTfjs(kind);
    disableNativeDense();
    const want = tf.matMul(tf.tile(a, [1, 3, 1, 1]), tf.tile(b, [2, 1, 1, 1])).dataSync() as Float32Array;
    assert.ok(enableNativeDense({ minFlops: 0 }).enabled);
    const got = tf.matMul(a, b);
    assert.deepEqual(got.shape, [2, 3, 5, 4]);
    assertClose(got.dataSync() as Float32Array, want, `${kind} [2,1,5,7] x [1,3,7,4]`);
    disableNativeDense();
  }
});

test('dense: fused matmul adds bias and applies every activation like tfjs', async () => {
  const rng = new Rng(63);
  for (const kind of BACKENDS) {
    for (const activation of ACTIVATIONS) {
      const batch = 1 + rng.int(3),
        m = 1 + rng.int(20),
        n = 1 + rng.int(20),
        k = 1 + rng.int(20);
      const transposeB = rng.int(2) === 1;
      const a = randomTensor(rng, [batch, m, k]);
      const b = randomTensor(rng, transposeB ? [n, k] : [k, n]);
      const bias = randomTensor(rng, rng.int(3) === 0 ? [1] : [n]);
      const prelu = activation === 'prelu' ? randomTensor(rng, [n]) : undefined;
      const leakyreluAlpha = 0.05 + 0.3 * rng.next();
      await compare(kind, `${kind} fused ${activation} bias [${bias.shape}]`, ['_FusedMatMul'], () => [
        tf.fused.matMul({ a, b, transposeB, bias, activation, preluActivationWeights: prelu, leakyreluAlpha }),
      ]);
    }
  }
});

/** A random valid conv2d setup: shapes, strides, dilations (tfjs needs one of them 1), padding. */
function randomConv(rng: Rng) {
  const fh = 1 + rng.int(3),
    fw = 1 + rng.int(3);
  const dilated = rng.int(4) === 0;
  const dilations: [number, number] = dilated ? [1 + rng.int(2), 2] : [1, 1];
  const strides: [number, number] = dilated ? [1, 1] : [1 + rng.int(3), 1 + rng.int(2)];
  const height = (fh - 1) * dilations[0] + 1 + rng.int(8),
    width = (fw - 1) * dilations[1] + 1 + rng.int(8);
  const pads = ['same', 'valid', 'number', 'explicit'] as const;
  const padKind = pads[rng.int(pads.length)];
  const pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]] =
    padKind === 'number'
      ? rng.int(3)
      : padKind === 'explicit'
        ? [
            [0, 0],
            [rng.int(3), rng.int(3)],
            [rng.int(3), rng.int(3)],
            [0, 0],
          ]
        : padKind;
  return {
    xShape: [1 + rng.int(3), height, width, 1 + rng.int(6)] as [number, number, number, number],
    fh,
    fw,
    outC: 1 + rng.int(7),
    strides,
    dilations,
    pad,
  };
}

test('dense: conv2d with strides, padding and dilations matches tfjs', async () => {
  const rng = new Rng(64);
  for (const kind of BACKENDS) {
    for (let i = 0; i < 14; i++) {
      const c = randomConv(rng);
      const x = randomTensor(rng, c.xShape) as tf.Tensor4D;
      const filter = randomTensor(rng, [c.fh, c.fw, c.xShape[3], c.outC]) as tf.Tensor4D;
      const label = `${kind} conv x [${c.xShape}] f [${filter.shape}] s ${c.strides} d ${c.dilations} pad ${JSON.stringify(c.pad)}`;
      await compare(kind, label, ['Conv2D'], () => [tf.conv2d(x, filter, c.strides, c.pad, 'NHWC', c.dilations)]);
    }
    // The pointwise case multiplies the input in place, without an im2col copy.
    const x = randomTensor(rng, [2, 5, 6, 7]) as tf.Tensor4D;
    const filter = randomTensor(rng, [1, 1, 7, 3]) as tf.Tensor4D;
    await compare(kind, `${kind} pointwise conv`, ['Conv2D'], () => [tf.conv2d(x, filter, 1, 'valid')]);
  }
});

test('dense: fused conv2d adds bias and applies activations like tfjs', async () => {
  const rng = new Rng(65);
  for (const kind of BACKENDS) {
    for (const activation of ACTIVATIONS) {
      const c = randomConv(rng);
      const x = randomTensor(rng, c.xShape) as tf.Tensor4D;
      const filter = randomTensor(rng, [c.fh, c.fw, c.xShape[3], c.outC]) as tf.Tensor4D;
      const bias = randomTensor(rng, [c.outC]);
      const prelu = activation === 'prelu' ? randomTensor(rng, [c.outC]) : undefined;
      await compare(kind, `${kind} fused conv ${activation}`, ['FusedConv2D'], () => [
        tf.fused.conv2d({
          x,
          filter,
          strides: c.strides,
          pad: c.pad,
          dilations: c.dilations,
          bias,
          activation,
          preluActivationWeights: prelu,
          leakyreluAlpha: 0.15,
        }),
      ]);
    }
  }
});

test('dense: conv2dTranspose (the input backprop kernel) matches tfjs', async () => {
  const rng = new Rng(66);
  for (const kind of BACKENDS) {
    for (let i = 0; i < 10; i++) {
      const c = randomConv(rng);
      const info = tf.backend_util.computeConv2DInfo(c.xShape, [c.fh, c.fw, c.xShape[3], c.outC], c.strides, 1, c.pad);
      const dy = randomTensor(rng, info.outShape) as tf.Tensor4D;
      // conv2dTranspose's filter is [fh, fw, outputChannels, inputChannels] = [.., x channels, dy channels].
      const filter = randomTensor(rng, [c.fh, c.fw, c.xShape[3], c.outC]) as tf.Tensor4D;
      const label = `${kind} transpose dy [${dy.shape}] -> [${c.xShape}] s ${c.strides} pad ${JSON.stringify(c.pad)}`;
      await compare(kind, label, ['Conv2DBackpropInput'], () => [
        tf.conv2dTranspose(dy, filter, c.xShape, c.strides, c.pad as 'same' | 'valid' | number),
      ]);
    }
  }
});

test('dense: gradients through the conv and matmul backprops match tfjs cpu', async () => {
  const rng = new Rng(67);
  const cases = Array.from({ length: 6 }, () => {
    const c = randomConv(rng);
    c.dilations = [1, 1]; // tfjs's conv2d gradient needs dilation 1
    const x = randomTensor(rng, c.xShape) as tf.Tensor4D;
    const filter = randomTensor(rng, [c.fh, c.fw, c.xShape[3], c.outC]) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(c.xShape, filter.shape, c.strides, 1, c.pad);
    return { c, x, filter, weights: randomTensor(rng, info.outShape) };
  });
  const a = randomTensor(rng, [3, 6, 9]),
    b = randomTensor(rng, [3, 7, 9]),
    mmWeights = randomTensor(rng, [3, 6, 7]);
  const gradients = (): Tensor[] =>
    cases
      .flatMap(({ c, x, filter, weights }) => {
        // Weighted sum so every output element gets its own upstream gradient.
        const loss = (xs: Tensor, fs: Tensor) =>
          tf.sum(tf.mul(tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, c.strides, c.pad), weights));
        return tf.grads(loss)([x, filter]);
      })
      .concat(tf.grads((as: Tensor, bs: Tensor) => tf.sum(tf.mul(tf.matMul(as, bs, false, true), mmWeights)))([a, b]));

  for (const kind of BACKENDS) {
    await compare(kind, `${kind} gradients`, ['Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul'], gradients);
  }
});

test('tfjs wasm without the native kernels: transposed products and both conv backprops match tfjs cpu', async () => {
  // The rewrites of src/dense/wasmRewrites.ts: Conv2DBackpropFilter, which tfjs wasm lacks,
  // Conv2DBackpropInput and flagged products on tfjs wasm's fast kernels.
  const rng = new Rng(68);
  const asymmetric: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [2, 0],
    [0, 1],
    [0, 0],
  ];
  const pads: (tf.backend_util.ExplicitPadding | 'same' | 'valid')[] = ['valid', 'same', asymmetric];
  const cases = pads.map((pad, i) => {
    const x = randomTensor(rng, [2, 5 + i, 6, 3]) as tf.Tensor4D;
    const filter = randomTensor(rng, [3, 2 + i, 3, 4]) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, 1, pad);
    return { pad, x, filter, weights: randomTensor(rng, info.outShape) };
  });
  const a = randomTensor(rng, [2, 6, 9]),
    b = randomTensor(rng, [2, 7, 9]),
    c = randomTensor(rng, [6, 5]);
  // Fused on rank 2: tfjs wasm's own fused product adds the bias wrongly to batched products.
  const [a2, b2, bias] = [randomTensor(rng, [6, 9]), randomTensor(rng, [7, 9]), randomTensor(rng, [7])];
  const compute = (): Tensor[] => [
    tf.matMul(a, b, false, true),
    tf.matMul(a, c, true, false),
    tf.fused.matMul({ a: a2, b: b2, transposeB: true, bias, activation: 'relu' }),
    ...cases.flatMap(({ pad, x, filter, weights }) => {
      const conv = (xs: Tensor, fs: Tensor) => tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, 1, pad);
      const loss = (xs: Tensor, fs: Tensor) => tf.sum(tf.mul(conv(xs, fs), weights));
      return [...tf.grads(loss)([x, filter]), tf.conv2dTranspose(weights as tf.Tensor4D, filter, x.shape, 1, pad)];
    }),
  ];
  const want = (await evaluate('cpu', false, compute)).values;
  (await evaluate('wasm', false, compute)).values.forEach((got, i) => assertClose(got, want[i], `output ${i}`));
  // The rewrites free their intermediates (the backend's own count: tfjs does not track them).
  const dataIds = tf.engine().backend.numDataIds();
  tf.tidy(() => {
    compute();
  });
  assert.equal(tf.engine().backend.numDataIds(), dataIds, 'no intermediate left on the wasm heap');

  // Strided geometry: the input backprop falls back to tfjs wasm's own kernel, the filter backprop
  // (which has none) says what it cannot do.
  const x = randomTensor(rng, [1, 7, 7, 2]) as tf.Tensor4D,
    filter = randomTensor(rng, [3, 3, 2, 2]) as tf.Tensor4D;
  const dy = randomTensor(rng, [1, 3, 3, 2]) as tf.Tensor4D;
  const strided = () => [tf.conv2dTranspose(dy, filter, x.shape, 2, 'valid')];
  const stridedWant = (await evaluate('cpu', false, strided)).values[0];
  assertClose((await evaluate('wasm', false, strided)).values[0], stridedWant, 'strided dx');
  await initTfjs('wasm');
  assert.throws(
    () => tf.grads((f: Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 2, 'valid')))([filter]),
    /Conv2DBackpropFilter: the tfjs 'wasm' backend has no kernel of its own .* stride 1 only/,
  );
});

test('dense: convolutions too large for one im2col chunk (16M floats) match tfjs', async () => {
  // K = 3*3*2048 = 18432 im2col columns: a chunk holds 910 of the 2*23*23 = 1058 rows.
  const rng = new Rng(69);
  const x = randomTensor(rng, [2, 25, 25, 2048]) as tf.Tensor4D;
  const filter = randomTensor(rng, [3, 3, 2048, 3]) as tf.Tensor4D;
  const dy = randomTensor(rng, [2, 23, 23, 3]) as tf.Tensor4D;
  const loss = (xs: Tensor, fs: Tensor) =>
    tf.sum(tf.mul(tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, 1, 'valid'), dy));
  // tfjs cpu's Conv2DBackpropFilter takes minutes here: the reference filter
  // gradient is one tfjs matmul per tap, dw[i, j] = window(x, i, j)^T dy.
  const dyRows = dy.reshape([2 * 23 * 23, 3]);
  const tapProducts = () =>
    [0, 1, 2].flatMap((i) =>
      [0, 1, 2].map((j) =>
        tf.matMul(tf.slice(x, [0, i, j, 0], [2, 23, 23, 2048]).reshape([2 * 23 * 23, 2048]), dyRows, true, false),
      ),
    );
  const reference = (
    await evaluate('wasm', false, () => [
      tf.conv2d(x, filter, 1, 'valid'),
      tf.conv2dTranspose(dy, filter, x.shape, 1, 'valid'),
      tf.stack(tapProducts()).reshape(filter.shape),
    ])
  ).values;
  const { values, calls } = await evaluate(
    'wasm',
    true,
    () => [tf.conv2d(x, filter, 1, 'valid'), ...tf.grads(loss)([x, filter])],
    ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  );
  assert.deepEqual(calls, [2, 1, 1], 'Conv2D runs twice: alone and inside tf.grads');
  reference.forEach((want, i) => assertClose(values[i], want, `chunked output ${i}`, 5e-5));
});

test('dense: transposes and reverses of every rank and sums over consecutive axes match tfjs', async () => {
  const rng = new Rng(70);
  const shuffled = (n: number): number[] => Array.from(rng.permutation(n));
  for (const kind of BACKENDS) {
    for (let i = 0; i < 12; i++) {
      const rank = 2 + (i % 5); // tfjs does not call the kernel for rank 1
      const shape = Array.from({ length: rank }, () => 1 + rng.int(7));
      const x = randomTensor(rng, shape);
      const perm = shuffled(rank);
      const first = rng.int(rank),
        last = first + rng.int(rank - first);
      const axes = Array.from({ length: last - first + 1 }, (_, j) => first + j);
      const keepDims = rng.int(2) === 1;
      const flipped = Array.from({ length: rank }, (_, axis) => axis).filter(() => rng.int(2) === 1);
      await compare(
        kind,
        `${kind} transpose [${shape}] by [${perm}], reverse [${flipped}], sum over [${axes}]`,
        ['Transpose', 'Reverse', 'Sum'],
        () => [
          tf.transpose(x, perm),
          tf.reverse(x, flipped.length > 0 ? flipped : [0]),
          tf.transpose(tf.reverse(x, flipped.length > 0 ? flipped : [rank - 1]), perm),
          tf.sum(x, axes, keepDims),
        ],
        { minElements: 0 },
      );
    }
    // Large enough for the threads, and the attention layout of the transformer (rank 5); sums
    // over rows wider than one 512-column block.
    const big = randomTensor(rng, [80, 10, 3, 4, 32]);
    const wide = randomTensor(rng, [40, 1300]);
    await compare(kind, `${kind} large transpose, reverse and sums`, ['Transpose', 'Reverse', 'Sum'], () => [
      tf.transpose(big, [2, 0, 3, 1, 4]),
      tf.transpose(big, [4, 1, 2, 3, 0]), // copied in tiles: the last output axis is x's first
      tf.reverse(big, [0, 4]),
      tf.sum(big, [0, 1, 2]),
      tf.sum(big, -1),
      tf.sum(wide, 0),
    ]);
  }
});

test('dense: elementwise kernels (tfjs cpu only) and means match tfjs', async () => {
  const rng = new Rng(72);
  const elementwise = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Relu', 'Step', 'Sqrt', 'Square', 'Neg'];
  for (let i = 0; i < 10; i++) {
    const rank = 1 + (i % 4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(9));
    const a = randomTensor(rng, shape);
    // The other operand: same shape, a scalar, a trailing block (a bias) or a per-row value (ones
    // over one run of axes), as either side.
    const tail = shape.slice(rng.int(rank));
    const cut = rng.int(rank),
      end = cut + rng.int(rank - cut);
    const rowwise = shape.map((d, axis) => (axis >= cut && axis <= end ? 1 : d));
    const b = randomTensor(rng, [[...shape], [], [1], tail, rowwise][i % 5]);
    const positive = tf.add(tf.abs(randomTensor(rng, shape)), 0.5);
    const first = rng.int(rank),
      last = first + rng.int(rank - first);
    const axes = Array.from({ length: last - first + 1 }, (_, j) => first + j);
    const compute = () => [
      tf.add(a, b),
      tf.sub(b, a),
      tf.mul(a, b),
      tf.div(b, positive),
      tf.relu(a),
      tf.step(a, 0.3),
      tf.sqrt(positive),
      tf.square(a),
      tf.neg(a),
      tf.mean(a, axes, i % 2 === 0),
    ];
    const label = `[${shape}] with [${b.shape}], mean over [${axes}]`;
    await compare('cpu', `cpu ${label}`, [...elementwise, 'Mean'], compute, { minElements: 0 });
    await compare('wasm', `wasm ${label}`, ['Mean'], compute, { minElements: 0 });
  }
  // Repeated along a middle axis, on either side.
  const x = randomTensor(rng, [6, 7, 8]),
    perBatch = randomTensor(rng, [6, 1, 8]);
  await compare(
    'cpu',
    'cpu [6,7,8] with [6,1,8]',
    ['Multiply', 'Sub'],
    () => [tf.mul(x, perBatch), tf.sub(perBatch, x)],
    { minElements: 0 },
  );
  // A broadcast of two partial shapes, or over axes that are not one run, is left to tfjs.
  const column = randomTensor(rng, [30, 1]),
    row = randomTensor(rng, [1, 40]);
  await initTfjs('cpu');
  const want = tf.add(column, row).dataSync() as Float32Array;
  assert.ok(enableNativeDense({ minElements: 0 }).enabled);
  const before = nativeDenseStatus().counts.Add;
  assertClose(tf.add(column, row).dataSync() as Float32Array, want, '[30,1] + [1,40]');
  const full = randomTensor(rng, [4, 5, 6]),
    gaps = randomTensor(rng, [1, 5, 1]);
  const wantGaps = (await evaluate('cpu', false, () => [tf.mul(full, gaps)])).values[0];
  await initTfjs('cpu');
  assert.ok(enableNativeDense({ minElements: 0 }).enabled);
  const multiplies = nativeDenseStatus().counts.Multiply.native;
  assertClose(tf.mul(full, gaps).dataSync() as Float32Array, wantGaps, '[4,5,6] * [1,5,1]');
  assert.equal(nativeDenseStatus().counts.Add.fallback, before.fallback + 1);
  assert.equal(nativeDenseStatus().counts.Multiply.native, multiplies, 'the [1,5,1] broadcast must not run natively');
  disableNativeDense();
});

test('dense: splits and unstacks (tfjs cpu only) match tfjs', async () => {
  const rng = new Rng(73);
  for (let i = 0; i < 6; i++) {
    const rank = 1 + (i % 4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(6));
    const axis = rng.int(rank);
    shape[axis] = 4 + rng.int(4);
    const x = randomTensor(rng, shape);
    const first = 1 + rng.int(shape[axis] - 2);
    await compare(
      'cpu',
      `cpu split/unstack [${shape}] on axis ${axis}`,
      ['SplitV', 'Unpack'],
      () => [...tf.split(x, [first, shape[axis] - first], axis), ...tf.unstack(x, axis)],
      { minElements: 0 },
    );
  }
});

test('dense: on tfjs wasm, Identity shares the memory, and a clone outlives its source', async () => {
  await initTfjs('wasm');
  disableNativeDense();
  const rng = new Rng(74);
  const source = randomTensor(rng, [40, 50]);
  const want = Float32Array.from(source.dataSync() as Float32Array);
  assert.ok(enableNativeDense().enabled);
  const x = source.clone(); // a tensor of its own on the wasm backend
  const calls = nativeDenseStatus().counts.Identity.native;
  const y = tf.clone(x);
  assert.equal(nativeDenseStatus().counts.Identity.native, calls + 1, 'the clone ran on the sharing Identity');
  assert.equal(y.dataId, x.dataId, 'the clone is the same memory');
  x.dispose();
  assert.deepEqual(y.dataSync(), want, 'the clone keeps the values after its source is disposed');
  // Gradients save their inputs through Identity: a whole backward pass must agree with tfjs cpu.
  const w = randomTensor(rng, [50, 30]);
  const loss = (a: Tensor) => tf.sum(tf.square(tf.relu(tf.matMul(a, w))));
  const got = tf.grad(loss)(y).dataSync();
  disableNativeDense();
  await initTfjs('cpu');
  assertClose(
    got as Float32Array,
    tf
      .grad(loss)(tf.tensor(want, [40, 50]))
      .dataSync() as Float32Array,
    'gradient through saved clones',
  );
  tf.dispose([y, w, source]);
});

test('dense: sums over axes that are not consecutive run on the tfjs kernel', async () => {
  const rng = new Rng(71);
  const x = randomTensor(rng, [30, 40, 50]);
  await initTfjs('wasm');
  const want = tf.sum(x, [0, 2]).dataSync() as Float32Array;
  assert.ok(enableNativeDense({ minElements: 0 }).enabled);
  const before = nativeDenseStatus().counts.Sum;
  assertClose(tf.sum(x, [0, 2]).dataSync() as Float32Array, want, 'sum over [0, 2]');
  const after = nativeDenseStatus().counts.Sum;
  assert.equal(after.native, before.native);
  assert.equal(after.fallback, before.fallback + 1);
  disableNativeDense();
});

test('dense: calls below minFlops run on the tfjs kernel', async () => {
  const rng = new Rng(68);
  const a = randomTensor(rng, [8, 8]),
    b = randomTensor(rng, [8, 8]);
  await initTfjs('wasm');
  const want = tf.matMul(a, b).dataSync() as Float32Array;
  assert.ok(enableNativeDense({ minFlops: 2 * 8 * 8 * 8 + 1 }).enabled);
  const before = nativeDenseStatus().counts.BatchMatMul;
  assertClose(tf.matMul(a, b).dataSync() as Float32Array, want, 'below threshold');
  const small = nativeDenseStatus().counts.BatchMatMul;
  assert.equal(small.native, before.native);
  assert.equal(small.fallback, before.fallback + 1);
  enableNativeDense({ minFlops: 2 * 8 * 8 * 8 });
  assertClose(tf.matMul(a, b).dataSync() as Float32Array, want, 'at threshold');
  assert.equal(nativeDenseStatus().counts.BatchMatMul.native, before.native + 1);
  disableNativeDense();
});

test('dense: disable restores the kernels it replaced, the wasm rewrites included', async () => {
  await initTfjs('wasm');
  disableNativeDense();
  const names = ['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const originals = names.map((k) => tf.getKernel(k, 'wasm'));
  assert.ok(
    originals.every((k) => k !== undefined),
    'tfjs wasm has every kernel the conv gradients call',
  );
  assert.ok(enableNativeDense().enabled);
  names.forEach((k, i) => assert.notEqual(tf.getKernel(k, 'wasm'), originals[i], `${k} runs natively`));
  assert.deepEqual(nativeDenseStatus().backends.sort(), ['cpu', 'wasm']);
  disableNativeDense();
  assert.deepEqual(
    names.map((k) => tf.getKernel(k, 'wasm')),
    originals,
  );
  assert.equal(nativeDenseStatus().enabled, false);
});

test('dense: the loader refuses an addon lacking a dense export, so the dense kernels never see one', (t) => {
  const real = nativeBinding();
  if (real === null) return t.skip('native addon unavailable');
  // A stand-in "addon" (require loads JavaScript too) with every export of the real one but denseUnary.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ucmg-stale-'));
  const stale = path.join(dir, 'stale.cjs');
  const releaseBuild = new URL('../../build/Release/unicode_cmg.node', import.meta.url).pathname;
  writeFileSync(stale, `module.exports = { ...require(${JSON.stringify(releaseBuild)}), denseUnary: undefined };`);
  const loader = JSON.stringify(new URL('../src/native/loader.js', import.meta.url).href);
  const script = `const { loadNative } = await import(${loader});
    const r = loadNative(); console.log(JSON.stringify({ path: r.path, failures: r.failures }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, UCMG_NATIVE_PATH: stale, UCMG_NATIVE: '' },
    encoding: 'utf8',
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(child.status, 0, child.stderr);
  const { path: loaded, failures } = JSON.parse(child.stdout.trim().split('\n').pop()!);
  assert.notEqual(loaded, stale);
  const refusal = `${stale}: does not export denseUnary (stale build?)`;
  assert.ok(
    failures.some((line: string) => line === refusal),
    failures.join('\n'),
  );
});

test('dense: without OpenBLAS nothing is replaced and the reason says so', async () => {
  await initTfjs('wasm');
  const real = nativeBinding();
  assert.ok(real !== null, 'the native addon must load');
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const withoutBlas: NativeBinding = { ...real, buildInfo: () => ({ ...real.buildInfo(), blas: null }) };
  const result = enableNativeDense({ binding: withoutBlas });
  assert.equal(result.enabled, false);
  assert.match(result.reason ?? '', /OpenBLAS/);
  assert.equal(tf.getKernel('BatchMatMul', 'wasm'), original);
  assert.equal(nativeDenseStatus().enabled, false);
  assert.throws(() => enableNativeDense({ minFlops: -1 }), /minFlops/);
});

test('dense: a failing native call frees its output and leaves tfjs state unchanged', async () => {
  for (const kind of BACKENDS) {
    await initTfjs(kind);
    const real = nativeBinding()!;
    const failing: NativeBinding = {
      ...real,
      denseMatMul: () => {
        throw new RangeError('denseMatMul: injected failure');
      },
    };
    assert.ok(enableNativeDense({ binding: failing, minFlops: 0 }).enabled);
    const a = tf.ones([4, 5]),
      b = tf.ones([5, 6]);
    const tensors = tf.memory().numTensors,
      dataIds = tf.backend().numDataIds();
    assert.throws(() => tf.matMul(a, b), /injected failure/);
    assert.equal(tf.memory().numTensors, tensors, `${kind}: tensors leaked`);
    assert.equal(tf.backend().numDataIds(), dataIds, `${kind}: backend memory leaked`);
    disableNativeDense();
    tf.dispose([a, b]);
  }
});
