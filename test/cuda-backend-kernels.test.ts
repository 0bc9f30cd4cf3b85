// Every kernel family of the tfjs 'cuda' backend against tfjs cpu on random inputs and edge cases
// (broadcasting, size-1 and empty dimensions, non-contiguous views, negative strides), on the
// emulated addon where there is no GPU. Element-wise ops compute in double and round once, as
// tfjs cpu does, so they agree to float rounding; sums differ only in order (double
// accumulation); matrix products and convolutions accumulate in fp32 in another order (1e-5).
import { before, test } from 'node:test';
import { assertSameOnCuda, loadCudaTfjs, randomValues, type Tf } from './cuda-backend-support.js';

let tf: Tf;
type TfTensor = ReturnType<Tf['tensor']>;
let skip: string | undefined;

before(async () => {
  const loaded = await loadCudaTfjs();
  if ('skip' in loaded) skip = loaded.skip;
  else tf = loaded.tf;
});

// Typed loosely on purpose: the tests pass these to ops of every rank.
// biome-ignore lint/suspicious/noExplicitAny: a tensor of any rank, passed to ops of every rank
function t(shape: number[], seed: number, lo = -2, hi = 2): any {
  return tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
      lo,
      hi,
    ),
    shape,
  );
}

test('unary ops match tfjs cpu, NaN and infinities included', async (c) => {
  if (skip) return c.skip(skip);
  const edge = () => tf.tensor1d([0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-30, 80, -80, NaN, Infinity, -Infinity]);
  const ops: Array<[string, (x: TfTensor) => TfTensor]> = [
    ['abs', (x) => x.abs()],
    ['neg', (x) => x.neg()],
    ['sign', (x) => x.sign()],
    ['exp', (x) => x.exp()],
    ['expm1', (x) => x.expm1()],
    ['log', (x) => x.log()],
    ['log1p', (x) => x.log1p()],
    ['sqrt', (x) => x.sqrt()],
    ['rsqrt', (x) => x.rsqrt()],
    ['square', (x) => x.square()],
    ['reciprocal', (x) => x.reciprocal()],
    ['relu', (x) => x.relu()],
    ['relu6', (x) => x.relu6()],
    ['elu', (x) => x.elu()],
    ['selu', (x) => x.selu()],
    ['sigmoid', (x) => x.sigmoid()],
    ['softplus', (x) => x.softplus()],
    ['tanh', (x) => x.tanh()],
    ['sin', (x) => x.sin()],
    ['cos', (x) => x.cos()],
    ['atan', (x) => x.atan()],
    ['erf', (x) => x.erf()],
    ['floor', (x) => x.floor()],
    ['ceil', (x) => x.ceil()],
    ['round', (x) => x.round()],
    ['isNaN', (x) => x.isNaN()],
    ['isInf', (x) => x.isInf()],
    ['isFinite', (x) => x.isFinite()],
    ['leakyRelu', (x) => tf.leakyRelu(x, 0.3)],
    ['step', (x) => x.step(0.25)],
    ['clipByValue', (x) => x.clipByValue(-0.7, 1.2)],
    ['logicalNot', (x) => x.cast('bool').logicalNot()],
  ];
  for (const [name, op] of ops) {
    await assertSameOnCuda(tf, `${name} (edge values)`, () => op(edge()));
    await assertSameOnCuda(tf, `${name} (random [3, 5])`, () => op(t([3, 5], 7)));
  }
});

test('binary ops broadcast like tfjs cpu: size-1, leading and empty dimensions, int32 and bool', async (c) => {
  if (skip) return c.skip(skip);
  const pairs: Array<[number[], number[]]> = [
    [
      [2, 3, 4],
      [3, 1],
    ],
    [[1], [2, 3]],
    [
      [4, 1, 5],
      [1, 3, 1],
    ],
    [[0, 3], [3]],
    [
      [2, 1],
      [2, 0],
    ],
    [[], [2, 2]],
  ];
  const ops: Array<[string, (a: never, b: never) => never]> = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
    ['pow', tf.pow],
    ['maximum', tf.maximum],
    ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
    ['atan2', tf.atan2],
    ['equal', tf.equal],
    ['notEqual', tf.notEqual],
    ['less', tf.less],
    ['lessEqual', tf.lessEqual],
    ['greater', tf.greater],
    ['greaterEqual', tf.greaterEqual],
    ['mod', tf.mod],
    ['floorDiv', tf.floorDiv],
    ['prelu', tf.prelu],
  ];
  for (const [aShape, bShape] of pairs) {
    for (const [name, op] of ops) {
      await assertSameOnCuda(tf, `${name} [${aShape}] x [${bShape}]`, () =>
        op(t(aShape, 3) as never, t(bShape, 4) as never),
      );
    }
  }
  const ints = () => [tf.tensor1d([7, -7, 9, -9, 0, 5], 'int32'), tf.tensor1d([2, 2, -4, -4, 3, 5], 'int32')];
  for (const [name, op] of ops
    .slice(0, 3)
    .concat(ops.filter(([n]) => ['mod', 'floorDiv', 'div', 'equal'].includes(n)))) {
    await assertSameOnCuda(tf, `${name} int32`, () => {
      const [a, b] = ints();
      return op(a as never, b as never);
    });
  }
  const bools = () => [tf.tensor1d([1, 0, 1, 0], 'bool'), tf.tensor1d([1, 1, 0, 0], 'bool')];
  await assertSameOnCuda(tf, 'logicalAnd', () => tf.logicalAnd(bools()[0], bools()[1]));
  await assertSameOnCuda(tf, 'logicalOr', () => tf.logicalOr(bools()[0], bools()[1]));
  await assertSameOnCuda(tf, 'logicalXor', () => tf.logicalXor(bools()[0], bools()[1]));
});

test('select, casts, fills, range, addN and the Adam update match tfjs cpu', async (c) => {
  if (skip) return c.skip(skip);
  await assertSameOnCuda(tf, 'where (broadcast condition)', () =>
    tf.where(t([3, 1], 5).greater(0), t([3, 4], 6), t([4], 7)),
  );
  await assertSameOnCuda(tf, 'cast float32 -> int32', () =>
    tf.tensor1d([1.7, -1.7, 0.5, -0.5, 3e9, NaN]).cast('int32'),
  );
  await assertSameOnCuda(tf, 'cast float32 -> bool', () => tf.tensor1d([0, -0, 0.1, NaN]).cast('bool'));
  await assertSameOnCuda(tf, 'cast bool -> float32', () => tf.tensor1d([1, 0, 1], 'bool').cast('float32'));
  await assertSameOnCuda(tf, 'fill, zerosLike, onesLike', () => [
    tf.fill([2, 3], 1.25),
    tf.zerosLike(t([2, 2], 1)),
    tf.onesLike(tf.tensor1d([1, 2], 'int32')),
    tf.fill([0, 4], 3),
  ]);
  await assertSameOnCuda(tf, 'range', () => [
    tf.range(0, 10, 3),
    tf.range(5, -1, -0.5),
    tf.range(3, 3),
    tf.range(0, 4, 1, 'int32'),
  ]);
  await assertSameOnCuda(tf, 'addN', () => tf.addN([t([2, 3], 1), t([2, 3], 2), t([2, 3], 3), t([2, 3], 4)]));
  await assertSameOnCuda(
    tf,
    'Adam step',
    () => {
      const variable = tf.variable(t([4, 3], 9));
      const optimizer = tf.train.adam(0.01);
      for (let i = 0; i < 3; i++) optimizer.minimize(() => variable.square().sum().add(variable.sin().mean()) as never);
      const out = variable.clone();
      optimizer.dispose();
      variable.dispose();
      return out;
    },
    1e-6,
  );
});

test('layout kernels: transposes, negative-stride slices, concat, pad, tile, reverse, stack, split', async (c) => {
  if (skip) return c.skip(skip);
  const x = () => t([2, 3, 4, 5], 11);
  for (const perm of [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
    [1, 3, 0, 2],
    [2, 0, 3, 1],
  ]) {
    await assertSameOnCuda(tf, `transpose ${perm}`, () => x().transpose(perm));
  }
  await assertSameOnCuda(tf, 'transpose of a transpose, then slice (non-contiguous chain)', () =>
    x().transpose([3, 1, 0, 2]).slice([1, 0, 1, 1], [3, 2, 1, 2]).transpose([2, 0, 3, 1]),
  );
  await assertSameOnCuda(tf, 'slice', () => [
    x().slice([0, 1, 1, 2], [2, 2, -1, 3]),
    x().slice([1, 0, 0, 0], [0, 3, 4, 5]),
  ]);
  await assertSameOnCuda(tf, 'stridedSlice', () => [
    tf.stridedSlice(x(), [1, 2, 3, 4], [0, 0, 0, 0], [-1, -1, -2, -2]),
    tf.stridedSlice(x(), [0, 0, 0, 0], [2, 3, 4, 5], [1, 2, 3, 2]),
    tf.stridedSlice(x(), [1, 0, 0, 0], [2, 3, 4, 5], [1, 1, 1, 1], 0, 0, 0, 0, 1),
    tf.stridedSlice(x(), [0, 1], [2, 3], [1, 1], 0, 0, 0, 1),
  ]);
  await assertSameOnCuda(tf, 'concat', () => [
    tf.concat([t([2, 3], 1), t([2, 0], 2), t([2, 4], 3)], 1),
    tf.concat([t([1, 3], 1), t([2, 3], 2)], 0),
    tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]),
  ]);
  await assertSameOnCuda(tf, 'pad', () => [
    x().pad(
      [
        [1, 0],
        [0, 2],
        [1, 1],
        [0, 0],
      ],
      0.5,
    ),
    tf.tensor1d([1, 2], 'int32').pad([[2, 1]], 7),
  ]);
  await assertSameOnCuda(tf, 'tile', () => [
    t([2, 3], 4).tile([3, 2]),
    t([2, 1, 3], 5).tile([1, 4, 1]),
    t([3], 6).tile([0]),
  ]);
  await assertSameOnCuda(tf, 'reverse', () => [x().reverse([1, 3]), x().reverse(), t([0, 2], 1).reverse(0)]);
  await assertSameOnCuda(tf, 'stack and unstack', () => [
    tf.stack([t([2, 3], 1), t([2, 3], 2)], 1),
    ...tf.unstack(x(), 2),
  ]);
  await assertSameOnCuda(tf, 'split', () => [...tf.split(x(), [1, 3, 1], 3), ...tf.split(x(), 3, 1)]);
  await assertSameOnCuda(tf, 'broadcastTo, expandDims, squeeze, reshape', () => [
    t([3, 1], 2).broadcastTo([2, 3, 4]),
    t([3, 1], 2).expandDims(0).squeeze(),
    x().reshape([6, -1]),
  ]);
});

test('reductions over any axes, keepDims, size-1 and empty axes; arg reductions; softmax', async (c) => {
  if (skip) return c.skip(skip);
  const x = () => t([3, 4, 5], 13);
  for (const axis of [undefined, 0, 1, 2, [0, 2], [1, 2], -1]) {
    await assertSameOnCuda(
      tf,
      `sum/mean/max/min/prod over ${axis}`,
      () => [x().sum(axis), x().mean(axis), x().max(axis), x().min(axis), x().prod(axis), x().sum(axis, true)],
      1e-6,
    );
  }
  await assertSameOnCuda(tf, 'any/all', () => [
    x().greater(1.5).any(1),
    x().greater(-1.9).all([0, 2]),
    x().greater(0).any(),
  ]);
  await assertSameOnCuda(tf, 'reductions of int32', () => [
    tf
      .tensor2d(
        [
          [1, -2],
          [3, 4],
        ],
        [2, 2],
        'int32',
      )
      .sum(0),
    tf
      .tensor2d(
        [
          [1, -2],
          [3, 4],
        ],
        [2, 2],
        'int32',
      )
      .max(1),
  ]);
  await assertSameOnCuda(tf, 'reductions with size-1 and empty axes', () => [
    t([3, 1, 2], 1).sum(1),
    t([0, 3], 2).sum(0),
    t([2, 0], 3).max(1),
    t([2, 0], 3).sum(1),
  ]);
  await assertSameOnCuda(tf, 'argMax/argMin with ties', () => [
    x().argMax(1),
    x().argMin(0),
    tf
      .tensor2d([
        [1, 3, 3],
        [2, 2, 1],
      ])
      .argMax(1),
    tf
      .tensor2d([
        [1, 3, 3],
        [2, 2, 1],
      ])
      .argMin(-1),
  ]);
  await assertSameOnCuda(tf, 'softmax, logSoftmax', () => [
    tf.softmax(x()),
    tf.logSoftmax(x()),
    tf.softmax(tf.tensor1d([1000, 0, -1000])),
  ]);
});

test('gather, gatherND, scatterND, unsortedSegmentSum, oneHot and the gather gradient', async (c) => {
  if (skip) return c.skip(skip);
  const x = () => t([4, 3, 2], 17);
  await assertSameOnCuda(tf, 'gather axis 0, 1, 2', () => [
    tf.gather(x(), tf.tensor1d([3, 0, 3], 'int32')),
    tf.gather(
      x(),
      tf.tensor2d(
        [
          [2, 0],
          [1, 1],
        ],
        [2, 2],
        'int32',
      ),
      1,
    ),
    tf.gather(x(), tf.tensor1d([], 'int32'), 2),
  ]);
  await assertSameOnCuda(tf, 'gather with batchDims', () =>
    tf.gather(
      x(),
      tf.tensor2d(
        [
          [0, 2],
          [1, 1],
          [2, 0],
          [0, 0],
        ],
        [4, 2],
        'int32',
      ),
      1,
      1,
    ),
  );
  await assertSameOnCuda(tf, 'gatherND', () => [
    tf.gatherND(
      x(),
      tf.tensor2d(
        [
          [3, 1],
          [0, 2],
        ],
        [2, 2],
        'int32',
      ),
    ),
    tf.gatherND(x(), tf.tensor2d([[1], [2]], [2, 1], 'int32')),
  ]);
  await assertSameOnCuda(tf, 'scatterND (duplicates add)', () =>
    tf.scatterND(tf.tensor2d([[1], [3], [1]], [3, 1], 'int32'), t([3, 2], 5), [5, 2]),
  );
  await assertSameOnCuda(tf, 'unsortedSegmentSum', () =>
    tf.unsortedSegmentSum(t([5, 3], 6), tf.tensor1d([2, 0, 2, 1, 0], 'int32'), 4),
  );
  await assertSameOnCuda(tf, 'oneHot', () => [
    tf.oneHot(tf.tensor1d([0, 3, 1, 5, -1], 'int32'), 4),
    tf.oneHot(
      tf.tensor2d(
        [
          [1, 0],
          [2, 2],
        ],
        [2, 2],
        'int32',
      ),
      3,
      5,
      -2,
    ),
  ]);
  await assertSameOnCuda(tf, 'gather gradient', () =>
    tf.grad((v) =>
      tf
        .gather(v, tf.tensor1d([1, 1, 3], 'int32'))
        .square()
        .sum(),
    )(x()),
  );
});

test('matrix products and convolutions, with fused tails and gradients (1e-5)', async (c) => {
  if (skip) return c.skip(skip);
  await assertSameOnCuda(
    tf,
    'matMul with transposes and broadcast batches',
    () => [
      tf.matMul(t([2, 3, 4], 1), t([4, 5], 2)),
      tf.matMul(t([3, 4], 1), t([5, 4], 2), false, true),
      tf.matMul(t([2, 3, 4, 3], 3), t([3, 5, 4], 4), true, true),
      tf.matMul(t([1, 3], 5), t([3, 1], 6)),
    ],
    1e-5,
  );
  await assertSameOnCuda(
    tf,
    'fused matMul (bias vector, bias matrix, relu, prelu)',
    () => [
      tf.fused.matMul({ a: t([3, 4], 1), b: t([4, 5], 2), bias: t([5], 3), activation: 'relu' }),
      tf.fused.matMul({ a: t([3, 4], 1), b: t([4, 5], 2), bias: t([3, 5], 3), activation: 'elu' }),
      tf.fused.matMul({ a: t([3, 4], 1), b: t([4, 5], 2), activation: 'prelu', preluActivationWeights: t([5], 4) }),
    ],
    1e-5,
  );
  await assertSameOnCuda(
    tf,
    'conv2d: strides, dilation, same/valid/explicit padding',
    () => [
      tf.conv2d(t([2, 7, 6, 3], 1), t([3, 3, 3, 4], 2), 2, 'same'),
      tf.conv2d(t([1, 7, 7, 2], 3), t([3, 2, 2, 3], 4), 1, 'valid', 'NHWC', 2),
      tf.conv2d(t([1, 5, 5, 1], 5), t([2, 2, 1, 2], 6), 1, [
        [0, 0],
        [1, 2],
        [2, 1],
        [0, 0],
      ]),
    ],
    1e-5,
  );
  await assertSameOnCuda(
    tf,
    'conv2dTranspose',
    () => tf.conv2dTranspose(t([1, 4, 4, 3], 1), t([3, 3, 2, 3], 2), [1, 8, 8, 2], 2, 'same'),
    1e-5,
  );
  await assertSameOnCuda(
    tf,
    'conv2d gradients',
    () => {
      const x = t([2, 6, 6, 3], 7),
        w = t([3, 3, 3, 4], 8);
      return tf.grads((a, b) => (tf.conv2d(a as never, b as never, 2, 'same') as TfTensor).square().sum())([x, w]);
    },
    1e-5,
  );
  await assertSameOnCuda(
    tf,
    'fused conv2d with bias and relu',
    () =>
      tf.fused.conv2d({
        x: t([1, 5, 5, 2], 1),
        filter: t([3, 3, 2, 3], 2),
        strides: 1,
        pad: 'same',
        bias: t([3], 3),
        activation: 'relu',
      }),
    1e-5,
  );
});
