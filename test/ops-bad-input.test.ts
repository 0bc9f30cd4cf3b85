// Every op rejects bad input before doing any work: the error names the argument, no tensor is
// leaked and no state changes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cudaUnusableReason, nativeBinding, resolveBackend, type OpBackend } from '../src/backend.js';
import {
  applyMmEmaStatistics,
  codeMatchingLoss,
  equalNum,
  infoNceLoss,
  mmEmaStatistics,
  mmEmaStep,
  quantize,
  type CodebookState,
  type MmEmaStatistics,
} from '../src/ops/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { copyState, normals, randomState, rng } from './ops-support.js';

before(async () => {
  await initTfjs();
});

/** Kept alive for the whole file; bad calls are checked against a stable tensor count. */
const live: tf.Tensor[] = [];
function keep<T extends tf.Tensor>(x: T): T {
  live.push(x);
  return x;
}
after(() => live.forEach((x) => x.dispose()));

/** The call may build its inputs with keep(); any other tensor left behind is a leak. */
function rejects(call: () => unknown, message: RegExp): void {
  const tensors = tf.memory().numTensors - live.length;
  assert.throws(call, message);
  assert.equal(tf.memory().numTensors - live.length, tensors, `no tensor leaked by a call rejected with ${message}`);
}

/** Typed loosely on purpose: these tensors are fed to parameters of the wrong rank too. */
type AnyRank = tf.Tensor2D & tf.Tensor3D;
const r = rng(100);
const f = (shape: number[]) =>
  keep(
    tf.tensor(
      normals(
        r,
        shape.reduce((a, b) => a * b, 1),
      ),
      shape,
      'float32',
    ),
  ) as AnyRank;
const withValue = (shape: number[], flatIndex: number, value: number) => {
  const data = normals(
    r,
    shape.reduce((a, b) => a * b, 1),
  );
  data[flatIndex] = value;
  return keep(tf.tensor(data, shape, 'float32')) as AnyRank;
};

test('quantize rejects bad input, naming the argument', () => {
  const z = f([6, 4]);
  const codebook = f([5, 4]);
  const disposed = tf.zeros([6, 4]);
  disposed.dispose();
  const cases: [() => unknown, RegExp][] = [
    [() => quantize(new Float32Array(24) as never, codebook), /quantize: z must be a tf\.Tensor2D/],
    [() => quantize(f([2, 3, 4]) as never, codebook), /quantize: z must have rank 2/],
    [
      () => quantize(keep(tf.zeros([6, 4], 'int32')) as never, codebook),
      /quantize: z must have dtype float32, got int32/,
    ],
    [() => quantize(disposed as never, codebook), /quantize: z has been disposed/],
    [() => quantize(z, f([20]) as never), /quantize: codebook must have rank 2/],
    [() => quantize(z, f([5, 3])), /quantize: z has D = 4 but codebook has D = 3/],
    [() => quantize(f([0, 4]), codebook), /quantize: z is empty/],
    [() => quantize(z, f([0, 4])), /quantize: codebook is empty/],
    [
      () => quantize(withValue([6, 4], 7, NaN), codebook),
      /quantize: z contains a non-finite value \(NaN\) at flat index 7/,
    ],
    [() => quantize(z, withValue([5, 4], 3, Infinity)), /quantize: codebook contains a non-finite value \(Infinity\)/],
    [() => quantize(z, codebook, { gather: 1 as never }), /quantize: opts\.gather must be a boolean/],
    [() => quantize(z, codebook, { backend: 'gpu' as never }), /backend must be one of cuda, cpu, tfjs; got "gpu"/],
    [() => quantize(z, codebook, { gahter: true } as never), /quantize: opts\.gahter is not an option/],
  ];
  for (const [call, message] of cases) rejects(call, message);
});

function emaInputs(k = 3) {
  const state = randomState(r, 16, 4);
  const z = Array.from({ length: k }, () => normals(r, 10 * 4));
  const indices = Array.from({ length: k }, () => Int32Array.from({ length: 10 }, (_, i) => i % 16));
  return { state, z, indices, opts: { seed: 1, segmentsPerClip: 5 } };
}

test('mmEmaStep rejects bad input, naming the argument, and leaves the state alone', () => {
  const { state, z, indices, opts } = emaInputs();
  const pristine = copyState(state);
  const badState = (patch: Partial<Record<keyof CodebookState, unknown>>) => ({ ...state, ...patch }) as CodebookState;
  const outOfRange = indices.map((x) => x.slice());
  outOfRange[1][3] = 16;
  const nonFinite = z.map((x) => x.slice());
  nonFinite[2][5] = -Infinity;
  const cases: [() => unknown, RegExp][] = [
    [() => mmEmaStep(state, z, indices, undefined as never), /mmEmaStep: opts is required/],
    [() => mmEmaStep(state, z, indices, { segmentsPerClip: 5 } as never), /mmEmaStep: opts\.seed is required/],
    [
      () => mmEmaStep(state, z, indices, { ...opts, seed: -1 }),
      /mmEmaStep: opts\.seed must be an integer >= 0 and <= 4294967295/,
    ],
    [() => mmEmaStep(state, z, indices, { ...opts, seed: 2 ** 32 }), /opts\.seed/],
    [() => mmEmaStep(state, z, indices, { ...opts, seed: 1.5 }), /opts\.seed/],
    [() => mmEmaStep(state, z, indices, { seed: 1 } as never), /mmEmaStep: opts\.segmentsPerClip is required/],
    [
      () => mmEmaStep(state, z, indices, { ...opts, segmentsPerClip: 0 }),
      /opts\.segmentsPerClip must be an integer >= 1/,
    ],
    [
      () => mmEmaStep(state, z, indices, { ...opts, segmentsPerClip: 3 }),
      /opts\.segmentsPerClip = 3 does not divide the 10 vectors/,
    ],
    [() => mmEmaStep(state, z, indices, { ...opts, decay: 1 }), /opts\.decay must be a finite number >= 0 and < 1/],
    [() => mmEmaStep(state, z, indices, { ...opts, decay: NaN }), /opts\.decay/],
    [() => mmEmaStep(state, z, indices, { ...opts, epsilon: 0 }), /opts\.epsilon must be a finite number > 0/],
    [() => mmEmaStep(state, z, indices, { ...opts, deadAfter: -1 }), /opts\.deadAfter must be an integer >= 0/],
    [() => mmEmaStep(state, z, indices, { ...opts, activeBelow: 2.5 }), /opts\.activeBelow must be an integer/],
    [() => mmEmaStep(state, z, indices, { ...opts, resetEma: 'yes' as never }), /opts\.resetEma must be a boolean/],
    [() => mmEmaStep(state, z, indices, { ...opts, crossModal: 1 as never }), /opts\.crossModal must be a boolean/],
    [() => mmEmaStep(state, z, indices, { ...opts, backend: 'gpu' as never }), /backend must be one of/],
    [() => mmEmaStep(state, z, indices, { ...opts, sed: 1 } as never), /mmEmaStep: opts\.sed is not an option/],
    [() => mmEmaStep(null as never, z, indices, opts), /mmEmaStep: state must be a CodebookState/],
    [() => mmEmaStep(badState({ m: 0 }), z, indices, opts), /mmEmaStep: state\.m must be an integer >= 1/],
    [
      () => mmEmaStep(badState({ embedding: new Float32Array(63) }), z, indices, opts),
      /mmEmaStep: state\.embedding must hold 64 values/,
    ],
    [
      () => mmEmaStep(badState({ emaCount: new Float64Array(16) }), z, indices, opts),
      /mmEmaStep: state\.emaCount must be a Float32Array/,
    ],
    [
      () => mmEmaStep(badState({ unusedCount: new Float32Array(16) }), z, indices, opts),
      /mmEmaStep: state\.unusedCount must be a Int32Array/,
    ],
    [
      () =>
        mmEmaStep(
          badState({ emaWeight: Float32Array.from(state.emaWeight, (v, i) => (i === 9 ? NaN : v)) }),
          z,
          indices,
          opts,
        ),
      /mmEmaStep: state\.emaWeight contains a non-finite value \(NaN\) at flat index 9/,
    ],
    [
      () => mmEmaStep(state, z.slice(0, 1), indices.slice(0, 1), opts),
      /mmEmaStep: z must hold 2 or 3 modalities \(K in 2\.\.3\), got 1/,
    ],
    [() => mmEmaStep(state, [...z, z[0]], [...indices, indices[0]], opts), /mmEmaStep: z must hold 2 or 3 modalities/],
    [() => mmEmaStep(state, z.slice(0, 2), indices, opts), /mmEmaStep: indices has 3 modalities but z has 2/],
    [() => mmEmaStep(state, z, outOfRange, opts), /mmEmaStep: indices\[1\]\[3\] = 16 is not a code index in \[0, 16\)/],
    [
      () => mmEmaStep(state, z, [indices[0], keep(tf.zeros([10])) as never, indices[2]], opts),
      /mmEmaStep: indices\[1\] must have dtype int32/,
    ],
    [
      () => mmEmaStep(state, z, [indices[0], indices[1].subarray(0, 5), indices[2]], opts),
      /mmEmaStep: indices\[1\] has 5 entries but indices\[0\] has 10/,
    ],
    [
      () =>
        mmEmaStep(
          state,
          z,
          indices.map(() => new Int32Array(0)),
          opts,
        ),
      /mmEmaStep: indices\[0\] is empty/,
    ],
    [
      () => mmEmaStep(state, [z[0], z[1].subarray(4), z[2]], indices, opts),
      /mmEmaStep: z\[1\] must hold n\*d = 10\*4 = 40 values, got 36/,
    ],
    [
      () => mmEmaStep(state, [keep(tf.zeros([10, 3])) as never, z[1], z[2]], indices, opts),
      /mmEmaStep: z\[0\] must have shape \[10, 4\]/,
    ],
    [
      () => mmEmaStep(state, nonFinite, indices, opts),
      /mmEmaStep: z\[2\] contains a non-finite value \(-Infinity\) at flat index 5/,
    ],
  ];
  for (const [call, message] of cases) {
    rejects(call, message);
    assert.deepEqual(state, pristine, `state unchanged after a call rejected with ${message}`);
  }
});

test('the two-phase MM-EMA building blocks and equalNum reject bad input, naming the argument', () => {
  const { state, z, indices } = emaInputs(2);
  const stats = mmEmaStatistics(z, indices, { m: 16 });
  const pristine = copyState(state);
  const badStats = (patch: Partial<MmEmaStatistics>) => ({ ...stats, ...patch }) as MmEmaStatistics;
  const negative = stats.counts.map((c) => c.slice());
  negative[0][2] = -1;
  const nonFinite = stats.sums.map((s) => s.slice());
  nonFinite[1][4] = NaN;
  const cases: [() => unknown, RegExp][] = [
    [() => mmEmaStatistics(z, indices, {} as never), /mmEmaStatistics: opts\.m must be an integer >= 1/],
    [
      () => mmEmaStatistics(z, indices, { m: 8 }),
      /mmEmaStatistics: indices\[0\]\[8\] = 8 is not a code index in \[0, 8\)/,
    ],
    [() => mmEmaStatistics(z, indices, { m: 16, crossModal: 'no' as never }), /opts\.crossModal must be a boolean/],
    [
      () => mmEmaStatistics([z[0].subarray(1), z[1]], indices, { m: 16 }),
      /mmEmaStatistics: z\[0\] must be a float32 \[n, d\] tensor or a Float32Array of n\*d values/,
    ],
    [() => applyMmEmaStatistics(state, stats, {} as never), /applyMmEmaStatistics: opts\.seed is required/],
    [
      () => applyMmEmaStatistics(state, badStats({ n: 0 }), { seed: 1 }),
      /applyMmEmaStatistics: stats\.n must be an integer >= 1/,
    ],
    [
      () => applyMmEmaStatistics(state, badStats({ counts: [stats.counts[0]] }), { seed: 1 }),
      /applyMmEmaStatistics: stats\.counts must hold 2 or 3 modalities/,
    ],
    [
      () => applyMmEmaStatistics(state, badStats({ counts: [stats.counts[0], new Float64Array(15)] }), { seed: 1 }),
      /stats\.counts\[1\] must be a Float64Array of m = 16 values/,
    ],
    [
      () => applyMmEmaStatistics(state, badStats({ counts: negative }), { seed: 1 }),
      /stats\.counts\[0\]\[2\] = -1 is not a count/,
    ],
    [
      () => applyMmEmaStatistics(state, badStats({ sums: nonFinite }), { seed: 1 }),
      /stats\.sums\[1\] contains a non-finite value \(NaN\) at flat index 4/,
    ],
    [
      () => applyMmEmaStatistics(state, badStats({ sums: [stats.sums[0]] }), { seed: 1 }),
      /stats\.sums must hold 2 or 3 modalities/,
    ],
    [
      () => applyMmEmaStatistics({ ...state, d: 5 }, stats, { seed: 1 }),
      /applyMmEmaStatistics: state\.embedding must hold 80 values/,
    ],
    [() => equalNum(indices, 3), /equalNum: segmentsPerClip = 3 does not divide the 10 vectors/],
    [() => equalNum(indices.slice(0, 1), 5), /equalNum: indices must hold 2 or 3 modalities/],
    [
      () => equalNum([indices[0], indices[1].subarray(1)], 5),
      /equalNum: indices\[1\] has 9 entries but indices\[0\] has 10/,
    ],
  ];
  for (const [call, message] of cases) {
    rejects(call, message);
    assert.deepEqual(state, pristine, `state unchanged after a call rejected with ${message}`);
  }
});

test('codeMatchingLoss rejects bad input, naming the argument', () => {
  const z = [f([2, 3, 4]), f([2, 3, 4]), f([2, 3, 4])];
  const codebook = f([6, 4]);
  const cases: [() => unknown, RegExp][] = [
    [
      () => codeMatchingLoss(z.slice(0, 1), codebook),
      /codeMatchingLoss: z must hold 2 or 3 modalities \(K in 2\.\.3\), got 1/,
    ],
    [() => codeMatchingLoss([...z, z[0]], codebook), /codeMatchingLoss: z must hold 2 or 3 modalities/],
    [() => codeMatchingLoss('z' as never, codebook), /codeMatchingLoss: z must be an array/],
    [() => codeMatchingLoss([z[0], f([6, 4]) as never], codebook), /codeMatchingLoss: z\[1\] must have rank 3/],
    [
      () => codeMatchingLoss([z[0], f([3, 3, 4])], codebook),
      /codeMatchingLoss: z\[1\] has shape \[3, 3, 4\] but z\[0\] has \[2, 3, 4\]/,
    ],
    [() => codeMatchingLoss([z[0], f([2, 2, 4])], codebook), /codeMatchingLoss: z\[1\] has shape \[2, 2, 4\]/],
    [
      () => codeMatchingLoss([z[0], keep(tf.zeros([2, 3, 4], 'int32')) as never], codebook),
      /codeMatchingLoss: z\[1\] must have dtype float32/,
    ],
    [
      () => codeMatchingLoss([f([0, 3, 4]), f([0, 3, 4])], codebook),
      /codeMatchingLoss: z\[0\] has shape \[0, 3, 4\]: the batch is empty/,
    ],
    [() => codeMatchingLoss(z, f([6, 5])), /codeMatchingLoss: z has D = 4 but codebook has D = 5/],
    [() => codeMatchingLoss(z, f([0, 4])), /codeMatchingLoss: codebook is empty/],
    [() => codeMatchingLoss(z, [[1]] as never), /codeMatchingLoss: codebook must be a tf\.Tensor2D/],
    [
      () => codeMatchingLoss([z[0], withValue([2, 3, 4], 11, NaN)], codebook),
      /codeMatchingLoss: z\[1\] contains a non-finite value \(NaN\) at flat index 11/,
    ],
    [
      () => codeMatchingLoss(z, withValue([6, 4], 0, Infinity)),
      /codeMatchingLoss: codebook contains a non-finite value/,
    ],
    [
      () => codeMatchingLoss(z, codebook, { epsilon: -1 }),
      /codeMatchingLoss: opts\.epsilon must be a finite number >= 0/,
    ],
    [() => codeMatchingLoss(z, codebook, { backend: 'metal' as never }), /backend must be one of/],
  ];
  for (const [call, message] of cases) rejects(call, message);
});

test('infoNceLoss rejects bad input, naming the argument', () => {
  const x = () => [f([5, 4]), f([5, 4]), f([5, 4])];
  const targets = x();
  const preds = x();
  const w = [
    [0.1, 1, 1],
    [1, 0.1, 1],
    [1, 1, 0.1],
  ];
  const cases: [() => unknown, RegExp][] = [
    [
      () => infoNceLoss(targets.slice(0, 1), preds.slice(0, 1), [[1]]),
      /infoNceLoss: targets must hold 2 or 3 modalities \(K in 2\.\.3\), got 1/,
    ],
    [
      () => infoNceLoss([...targets, targets[0]], [...preds, preds[0]], w),
      /infoNceLoss: targets must hold 2 or 3 modalities/,
    ],
    [() => infoNceLoss(targets, preds.slice(0, 2), w), /infoNceLoss: preds has 2 modalities but targets has 3/],
    [
      () => infoNceLoss(targets, [preds[0], f([4, 4]), preds[2]], w),
      /infoNceLoss: preds\[1\] has shape \[4, 4\] but targets\[0\] has \[5, 4\]/,
    ],
    [() => infoNceLoss([targets[0], targets[1], f([5, 3])], preds, w), /infoNceLoss: targets\[2\] has shape \[5, 3\]/],
    [
      () => infoNceLoss(targets, [preds[0], preds[1], f([5, 4, 1]) as never], w),
      /infoNceLoss: preds\[2\] must have rank 2/,
    ],
    [
      () => infoNceLoss([targets[0], keep(tf.zeros([5, 4], 'int32')) as never, targets[2]], preds, w),
      /infoNceLoss: targets\[1\] must have dtype float32/,
    ],
    [
      () =>
        infoNceLoss(
          [f([0, 4]), f([0, 4])],
          [f([0, 4]), f([0, 4])],
          [
            [1, 1],
            [1, 1],
          ],
        ),
      /infoNceLoss: targets\[0\] has B = 0: the batch is empty/,
    ],
    [
      () =>
        infoNceLoss(targets, preds, [
          [1, 1],
          [1, 1],
        ]),
      /infoNceLoss: weights must be a 3 x 3 array/,
    ],
    [
      () =>
        infoNceLoss(targets, preds, [
          [1, 1, 1],
          [1, 1],
          [1, 1, 1],
        ]),
      /infoNceLoss: weights must be a 3 x 3 array .*weights\[1\]/,
    ],
    [
      () =>
        infoNceLoss(targets, preds, [
          [1, 1, 1],
          [NaN, 1, 1],
          [1, 1, 1],
        ]),
      /infoNceLoss: weights\[1\]\[0\] must be a finite number, got NaN/,
    ],
    [() => infoNceLoss(targets, preds, undefined as never), /infoNceLoss: weights must be a 3 x 3 array/],
    [
      () => infoNceLoss(targets, [preds[0], withValue([5, 4], 2, NaN), preds[2]], w),
      /infoNceLoss: preds\[1\] contains a non-finite value \(NaN\) at flat index 2/,
    ],
    [() => infoNceLoss(targets, preds, w, { backend: 'gpu' as never }), /backend must be one of/],
    [() => infoNceLoss(targets, preds, w, { device: 'cpu' } as never), /infoNceLoss: opts\.device is not an option/],
  ];
  for (const [call, message] of cases) rejects(call, message);
});

test('backend selection rejects unknown names and unusable explicit requests', async () => {
  assert.throws(() => resolveBackend('gpu' as OpBackend), /backend must be one of cuda, cpu, tfjs; got "gpu"/);
  const saved = process.env.UCMG_BACKEND;
  process.env.UCMG_BACKEND = 'fast';
  try {
    assert.throws(() => resolveBackend(), /UCMG_BACKEND must be one of cuda, cpu, tfjs; got "fast"/);
    assert.equal(resolveBackend('tfjs'), 'tfjs', 'an explicit option wins over UCMG_BACKEND');
  } finally {
    if (saved === undefined) delete process.env.UCMG_BACKEND;
    else process.env.UCMG_BACKEND = saved;
  }
  if (nativeBinding() === null) {
    assert.throws(() => resolveBackend('cpu'), /backend 'cpu' requested but /);
    assert.throws(() => resolveBackend('cuda'), /backend 'cuda' requested but /);
  } else if (cudaUnusableReason() !== undefined) {
    assert.throws(() => resolveBackend('cuda'), /backend 'cuda' requested but CUDA is unusable: /);
  }
  await assert.rejects(initTfjs('webgl' as never), /initTfjs: kind must be 'wasm', 'cpu' or 'cuda', got "webgl"/);
  const savedTfjs = process.env.UCMG_TFJS_BACKEND;
  process.env.UCMG_TFJS_BACKEND = 'tpu';
  try {
    await assert.rejects(initTfjs(), /initTfjs: UCMG_TFJS_BACKEND must be 'wasm', 'cpu' or 'cuda', got "tpu"/);
  } finally {
    if (savedTfjs === undefined) delete process.env.UCMG_TFJS_BACKEND;
    else process.env.UCMG_TFJS_BACKEND = savedTfjs;
  }
});

test('without the addon and without a request, ops run on tfjs and say so in one line, once', () => {
  const url = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
  const script = `
    const { initTfjs, tf } = await import(${url('../src/tfjs.js')});
    const { quantize } = await import(${url('../src/ops/index.js')});
    const { backendInfo } = await import(${url('../src/backend.js')});
    const { requireNativeBinding } = await import(${url('../src/native/loader.js')});
    await initTfjs('cpu');
    for (let i = 0; i < 3; i++) quantize(tf.ones([2, 3]), tf.ones([4, 3]));
    let refusal = '';
    try { quantize(tf.ones([2, 3]), tf.ones([4, 3]), { backend: 'cpu' }); } catch (e) { refusal = e.message; }
    let required = '';
    try { requireNativeBinding('quantize'); } catch (e) { required = e.message; }
    console.log(JSON.stringify({ info: backendInfo(), refusal, required }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, UCMG_NATIVE: '0', UCMG_BACKEND: '' },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const notices = child.stderr.split('\n').filter((line) => line.includes('unicode-cmg: native addon'));
  assert.equal(notices.length, 1, `one notice, got:\n${child.stderr}`);
  assert.match(notices[0], /^unicode-cmg: native addon .*UCMG_NATIVE=0.*; running on tfjs only\.?$/);
  const { info, refusal, required } = JSON.parse(child.stdout.trim().split('\n').pop()!);
  assert.equal(info.selected, 'tfjs');
  assert.equal(info.compiled, null);
  assert.equal(info.tfjsBackend, 'cpu');
  assert.match(
    refusal,
    /backend 'cpu' requested but .*UCMG_NATIVE=0/s,
    'an explicit request is refused, not silently served by tfjs',
  );
  // What an op reaching the addon without it would get: its own name and the loader's advice.
  assert.match(required, /^quantize: unicode-cmg: the native addon is disabled by UCMG_NATIVE=0/);
});
