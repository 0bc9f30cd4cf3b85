// Building blocks: the conv layers and their gradients on tfjs wasm (whose backprops run as
// src/dense's rewrites) and on the native backprop kernels, against tfjs's own kernels on the cpu
// backend; structural properties of the transformer and the LSTMs that a wrong reshape or
// transpose would break.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INFERENCE } from '../src/model/layers/context.js';
import { disableNativeDense, enableNativeDense, nativeDenseStatus } from '../src/dense/index.js';
import { conv2d, conv2dTranspose } from '../src/model/layers/conv.js';
import { Lstm } from '../src/model/layers/lstm.js';
import { ParamStore } from '../src/model/params.js';
import { SemanticEncoder } from '../src/model/semanticEncoder.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';
import { assertClose } from './ops-support.js';
import { tinyConfig } from './train-support.js';

function randomTensor(rng: Rng, shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => rng.normal()),
    shape,
  );
}

type Case = {
  name: string;
  xShape: number[];
  wShape: number[];
  ours: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor;
  tfjs: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor;
};
const cases: Case[] = [
  {
    name: 'conv2d valid 3x3',
    xShape: [2, 6, 5, 3],
    wShape: [3, 3, 3, 4],
    ours: (x, w) => conv2d(x, w, 'valid'),
    tfjs: (x, w) => tf.conv2d(x, w, 1, 'valid'),
  },
  {
    name: 'conv2d same 3x3 (non-square grid)',
    xShape: [2, 4, 5, 3],
    wShape: [3, 3, 3, 2],
    ours: (x, w) => conv2d(x, w, 'same'),
    tfjs: (x, w) => tf.conv2d(x, w, 1, 'same'),
  },
  {
    name: 'conv2d 1x1',
    xShape: [3, 3, 3, 5],
    wShape: [1, 1, 5, 4],
    ours: (x, w) => conv2d(x, w, 'valid'),
    tfjs: (x, w) => tf.conv2d(x, w, 1, 'valid'),
  },
  {
    name: 'conv2dTranspose 3x3',
    xShape: [2, 3, 4, 5],
    wShape: [3, 3, 2, 5],
    ours: (x, w) => conv2dTranspose(x, w),
    tfjs: (x, w) => tf.conv2dTranspose(x, w, [x.shape[0], x.shape[1] + 2, x.shape[2] + 2, w.shape[2]], 1, 'valid'),
  },
];

/** Value and both gradients of sum(f(x, w) * probe) for a fixed random probe. */
function valueAndGrads(
  f: Case['ours'],
  x: tf.Tensor,
  w: tf.Tensor,
  probe: (shape: number[]) => tf.Tensor,
): Float32Array[] {
  return tf.tidy(() => {
    const y = f(x as tf.Tensor4D, w as tf.Tensor4D);
    const p = probe(y.shape);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), p)))(
      [x, w],
    );
    return [y, gx, gw].map((t) => t.dataSync() as Float32Array);
  });
}

test('our conv and transposed-conv gradients equal tfjs kernels (cpu reference), on cpu and the default backend', async () => {
  const rng = new Rng(4);
  const inputs = cases.map((c) => ({
    x: Array.from(randomTensorData(rng, c.xShape)),
    w: Array.from(randomTensorData(rng, c.wShape)),
    seed: rng.nextUint32(),
  }));
  const probe = (seed: number) => (shape: number[]) => randomTensor(new Rng(seed), shape);
  await initTfjs('cpu');
  const reference = cases.map((c, i) =>
    valueAndGrads(c.tfjs, tf.tensor(inputs[i].x, c.xShape), tf.tensor(inputs[i].w, c.wShape), probe(inputs[i].seed)),
  );
  // Each backend with its tfjs kernels (on wasm: the backprop rewrites) and with the native dense
  // kernels.
  for (const [kind, native] of [
    ['cpu', false],
    [undefined, false],
    ['cpu', true],
    [undefined, true],
  ] as const) {
    const backend = await initTfjs(kind);
    disableNativeDense();
    if (native && !enableNativeDense({ minFlops: 0 }).enabled) continue; // no addon with OpenBLAS: covered by dense tests' skip
    const backpropsBefore = nativeDenseStatus().counts.Conv2DBackpropFilter.native;
    cases.forEach((c, i) => {
      const ours = valueAndGrads(
        c.ours,
        tf.tensor(inputs[i].x, c.xShape),
        tf.tensor(inputs[i].w, c.wShape),
        probe(inputs[i].seed),
      );
      ['value', 'd/dx', 'd/dw'].forEach((what, k) =>
        assertClose(ours[k], reference[i][k], 1e-5, `${c.name} ${what} on ${backend}`, 1),
      );
    });
    // A first layer on raw data skips the input gradient but keeps the filter's.
    const [value, dx, dw] = valueAndGrads(
      (x, w) => conv2d(x, w, 'valid', false),
      tf.tensor(inputs[0].x, cases[0].xShape),
      tf.tensor(inputs[0].w, cases[0].wShape),
      probe(inputs[0].seed),
    );
    assertClose(value, reference[0][0], 1e-5, `no-input-gradient value on ${backend}`, 1);
    assert.ok(
      dx.every((v) => v === 0),
      'no input gradient',
    );
    assertClose(dw, reference[0][2], 1e-5, `no-input-gradient d/dw on ${backend}`, 1);
    const backprops = nativeDenseStatus().counts.Conv2DBackpropFilter.native - backpropsBefore;
    if (native) assert.ok(backprops >= cases.length, `native filter backprops on ${backend}: ${backprops}`);
    disableNativeDense();
  }
});

function randomTensorData(rng: Rng, shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

test('the semantic encoder treats clips independently and is equivariant to reordering segments', async () => {
  await initTfjs();
  const config = tinyConfig();
  const store = new ParamStore(new Rng(8));
  const encoder = new SemanticEncoder(store, config, 'audio', config.audioDim);
  const rng = new Rng(9);
  const x = randomTensor(rng, [3, 5, 12]);
  const order = [3, 0, 4, 1, 2];
  tf.tidy(() => {
    const z = encoder.apply(x, INFERENCE);
    assert.deepEqual(z.shape, [3, 5, 16]);
    // No positional encoding (docs/algorithm.md §2): permuting the segments permutes the outputs.
    const permuted = encoder.apply(tf.gather(x, order, 1), INFERENCE);
    assertClose(permuted.dataSync(), tf.gather(z, order, 1).dataSync(), 1e-5, 'segment permutation', 1);
    // Clip 1 alone gives clip 1's output: attention never mixes clips.
    const alone = encoder.apply(tf.slice(x, [1, 0, 0], [1, 5, 12]), INFERENCE);
    assertClose(alone.dataSync(), tf.slice(z, [1, 0, 0], [1, 5, 16]).dataSync(), 1e-5, 'clip independence', 1);
    // Post-norm: every output vector is layer-normalised (gain 1, shift 0 at init).
    const { mean, variance } = tf.moments(z, -1);
    assert.ok(tf.max(tf.abs(mean)).dataSync()[0] < 1e-5);
    assert.ok(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0] < 1e-3);
  });
  store.dispose();
});

test('the forward LSTM is causal and the bidirectional one sees both directions', async () => {
  await initTfjs();
  const store = new ParamStore(new Rng(10));
  const forward = new Lstm(store, 'g', 'fwd', 4, 3, 2);
  const both = new Lstm(store, 'g', 'bi', 4, 3, 1, true); // one layer: a second would mix the directions
  const rng = new Rng(11);
  const x = randomTensor(rng, [2, 6, 4]);
  const changed = tf.concat([tf.slice(x, [0, 0, 0], [2, 4, 4]), randomTensor(rng, [2, 2, 4])], 1); // steps 4, 5 differ
  tf.tidy(() => {
    const [a, b] = [forward.apply(x), forward.apply(changed)];
    assert.deepEqual(a.shape, [2, 6, 3]);
    assert.deepEqual(
      tf.slice(a, [0, 0, 0], [2, 4, 3]).dataSync(),
      tf.slice(b, [0, 0, 0], [2, 4, 3]).dataSync(),
      'steps 0..3 ignore the future',
    );
    assert.notDeepEqual(tf.slice(a, [0, 4, 0], [2, 2, 3]).dataSync(), tf.slice(b, [0, 4, 0], [2, 2, 3]).dataSync());
    const [c, d] = [both.apply(x), both.apply(changed)];
    assert.deepEqual(c.shape, [2, 6, 6]);
    assert.deepEqual(
      tf.slice(c, [0, 0, 0], [2, 4, 3]).dataSync(),
      tf.slice(d, [0, 0, 0], [2, 4, 3]).dataSync(),
      'forward half is causal',
    );
    assert.notDeepEqual(
      tf.slice(c, [0, 0, 3], [2, 4, 3]).dataSync(),
      tf.slice(d, [0, 0, 3], [2, 4, 3]).dataSync(),
      'backward half sees the future',
    );
  });
  store.dispose();
});
