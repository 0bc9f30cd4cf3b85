// SharedCodebook beyond the golden step: data-parallel updates through the allReduce hook equal the
// single-process update, frozen encoding is the exact nearest code, the ablation switches reach the
// MM-EMA op, and bad input is refused without changing the state.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Modality } from '../src/model/config.js';
import {
  type CodebookState,
  type MmEmaStatistics,
  SharedCodebook,
  type SharedCodebookOptions,
} from '../src/model/sharedCodebook.js';
import { mmEmaStatistics, mmEmaStep } from '../src/ops/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randomState } from './ops-support.js';

before(async () => {
  await initTfjs();
});

const M = 12;
const D = 6;
const T = 4;
const MODS: Modality[] = ['audio', 'video', 'text'];
const options = (extra: Partial<SharedCodebookOptions> = {}): SharedCodebookOptions => ({
  size: M,
  dim: D,
  modalities: MODS,
  segmentsPerClip: T,
  backend: 'tfjs',
  ...extra,
});

function clips(rng: Rng, b: number): Float32Array[] {
  return MODS.map(() => Float32Array.from({ length: b * T * D }, () => rng.normal() * 0.5));
}

const tensors = (values: Float32Array[], b: number) => values.map((v) => tf.tensor3d(v, [b, T, D]));

test('two workers summing their statistics through allReduce update the codebook as one process would', async () => {
  const rng = new Rng(1);
  const state = randomState(rng, M, D);
  const batch = clips(rng, 6);
  const whole = new SharedCodebook(options(), state);
  const z = tensors(batch, 6);
  const single = await whole.update(whole.forward(z), 77);

  // Worker 0 takes clips 0-2, worker 1 clips 3-5; each worker's hook plays the all-reduce (a sum).
  const half = (k: number) =>
    tensors(
      batch.map((v) => v.slice(k * 3 * T * D, (k + 1) * 3 * T * D)),
      3,
    );
  const workers = [0, 1].map(() => new SharedCodebook(options(), state));
  const forwards = workers.map((w, k) => w.forward(half(k)));
  const local = forwards.map((f) => mmEmaStatistics(f.zValues, f.indices, { crossModal: true, m: M }));
  const total: MmEmaStatistics = {
    n: local[0].n + local[1].n,
    counts: local[0].counts.map((c, m) => c.map((v, j) => v + local[1].counts[m][j])),
    sums: local[0].sums.map((s, m) => s.map((v, e) => v + local[1].sums[m][e])),
  };
  workers.forEach((w) => {
    w.allReduce = async () => total;
  });
  const reports = await Promise.all(workers.map((w, k) => w.update(forwards[k], 77)));

  for (const [k, w] of workers.entries()) {
    const got = w.getState();
    const want = whole.getState();
    assertClose(got.embedding, want.embedding, 1e-5, `worker ${k} embedding`, 1);
    assertClose(got.emaCount, want.emaCount, 1e-6, `worker ${k} ema_count`, 1);
    assertClose(got.emaWeight, want.emaWeight, 1e-6, `worker ${k} ema_weight`, 1);
    assert.deepEqual(got.unusedCount, want.unusedCount);
    assertClose(reports[k].perplexity, single.perplexity, 1e-12, `worker ${k} perplexity`);
    assert.deepEqual(reports[k].resetCodes, single.resetCodes);
  }
  assert.ok(single.resetCodes.length > 0, 'the random state has dead codes, so the reset path is covered too');
});

test('encode gives the exact nearest code and its row, and changes nothing', () => {
  const rng = new Rng(2);
  const state = randomState(rng, M, D);
  const codebook = new SharedCodebook(options(), state);
  const [values] = clips(rng, 5);
  const z = tf.tensor3d(values, [5, T, D]);
  const { codes, quantized } = codebook.encode(z);
  assert.deepEqual(codes.shape, [5, T]);
  assert.equal(codes.dtype, 'int32');
  const idx = codes.dataSync();
  const rows = quantized.dataSync();
  for (let i = 0; i < 5 * T; i++) {
    let best = -1;
    let bestDistance = Infinity;
    for (let j = 0; j < M; j++) {
      let d = 0;
      for (let t = 0; t < D; t++) d += (values[i * D + t] - state.embedding[j * D + t]) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = j;
      }
    }
    assert.equal(idx[i], best, `vector ${i}`);
    assert.deepEqual(rows.subarray(i * D, (i + 1) * D), state.embedding.subarray(best * D, (best + 1) * D));
  }
  assert.deepEqual(codebook.getState(), state);
  tf.dispose([z, codes, quantized]);
});

test('the ablation switches reach the MM-EMA op: crossModalEma, resetDeadCodes, resetEma', async () => {
  const rng = new Rng(3);
  const state = randomState(rng, M, D);
  // Codes 0 and 1: long unused and far from every vector, so dead and revived this step.
  for (const j of [0, 1]) {
    state.unusedCount[j] = 400;
    state.embedding.fill(50, j * D, (j + 1) * D);
  }
  const batch = clips(rng, 4);
  const run = async (extra: Partial<SharedCodebookOptions>) => {
    const cb = new SharedCodebook(options(extra), state);
    const forward = cb.forward(tensors(batch, 4));
    const report = await cb.update(forward, 5);
    return { state: cb.getState(), report, forward };
  };
  const direct = (crossModal: boolean, deadAfter: number, resetEma: boolean, indices: Int32Array[]): CodebookState =>
    mmEmaStep(state, batch, indices, { seed: 5, crossModal, deadAfter, resetEma, segmentsPerClip: T, backend: 'tfjs' })
      .state;

  const full = await run({});
  assert.deepEqual(full.report.resetCodes, [0, 1]);
  assert.deepEqual(full.state, direct(true, 300, false, full.forward.indices));
  const plain = await run({ crossModalEma: false });
  assert.deepEqual(plain.state, direct(false, 300, false, plain.forward.indices));
  assert.notDeepEqual(plain.state.emaWeight, full.state.emaWeight);
  const noReset = await run({ resetDeadCodes: false });
  assert.deepEqual(noReset.report.resetCodes, []);
  assert.ok(
    noReset.state.unusedCount.some((u) => u > 300),
    'dead codes stay dead',
  );
  const resetEma = await run({ resetEma: true });
  assert.deepEqual(resetEma.state, direct(true, 300, true, resetEma.forward.indices));
});

test('bad input to the codebook is refused with a clear error and changes no state', async () => {
  const rng = new Rng(4);
  const state = randomState(rng, M, D);
  const codebook = new SharedCodebook(options(), state);
  const ok = tensors(clips(rng, 2), 2);
  assert.throws(
    () => codebook.forward(ok.slice(0, 2)),
    /expected 3 tensor\(s\) \[B,T,D\] \(audio, video, text\), got 2/,
  );
  assert.throws(
    () => codebook.forward([ok[0], ok[1], tf.zeros([2, T, D + 1])]),
    /z\[2\] has D = 7, the codebook has D = 6/,
  );
  assert.throws(
    () => codebook.forward([ok[0], ok[1], tf.zeros([3, T, D])]),
    /z\[2\] has shape \[3, 4, 6\] but z\[0\] has \[2, 4, 6\]/,
  );
  assert.throws(() => codebook.forward([ok[0], ok[1], tf.fill([2, T, D], NaN)]), /non-finite/);
  await assert.rejects(codebook.update(codebook.forward(ok), -1), /seed must be a uint32, got -1/);
  assert.throws(() => codebook.setState({ ...state, m: M + 1 }), /state is 13 x 6, this codebook is 12 x 6/);
  assert.throws(
    () => codebook.setState({ ...state, emaCount: new Float32Array(M).fill(NaN) }),
    /state\.emaCount holds a non-finite value/,
  );
  assert.throws(
    () => new SharedCodebook(options({ modalities: ['audio'] }), state),
    /modalities must list 2 or 3 modalities/,
  );
  assert.deepEqual(codebook.getState(), state);
});

test('a step leaks nothing: the tensor count is flat over 200 steps, and a forward refused for NaN leaks nothing', async () => {
  const rng = new Rng(5);
  const codebook = new SharedCodebook(options(), randomState(rng, M, D));
  const z = tensors(clips(rng, 3), 3);
  const counts: number[] = [];
  for (let i = 0; i < 200; i++) {
    // The caller owns the forward's tensors (see the class comment) and disposes them.
    const { forward, report } = codebook.step(z, i);
    await report;
    tf.dispose([...forward.quantized, ...forward.commitment, ...(forward.cmcm ? [forward.cmcm] : [])]);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[199], counts[0], `live tensors after steps 1 and 200: ${counts[0]}, ${counts[199]}`);
  const poisoned = [z[0], z[1], tf.fill([3, T, D], NaN) as tf.Tensor3D];
  codebook.embedding(); // the codebook's own cached tensor, made before counting
  const before = tf.memory().numTensors;
  assert.throws(() => codebook.forward(poisoned), /non-finite/);
  assert.equal(tf.memory().numTensors, before, 'the refused forward left tensors behind');
  tf.dispose([...z, poisoned[2]]);
  codebook.dispose();
});

test('construction refuses unknown options, unknown or repeated modalities and out-of-range hyperparameters', () => {
  const state = randomState(new Rng(6), M, D);
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ decayy: 0.9 }, /options\.decayy is not an option/],
    [{ modalities: ['audio', 'smell'] }, /options\.modalities\[1\] is "smell", not one of audio, video, text/],
    [{ modalities: ['audio', 'audio'] }, /options\.modalities lists "audio" twice/],
    [{ decay: 5 }, /options\.decay must be a finite number >= 0 and < 1, got 5/],
    [{ decay: NaN }, /options\.decay must be/],
    [{ epsilon: 0 }, /options\.epsilon must be a finite number > 0, got 0/],
    [{ deadAfter: 2.5 }, /options\.deadAfter must be an integer/],
    [{ activeBelow: -1 }, /options\.activeBelow must be an integer >= 0/],
    [{ commitment: -0.1 }, /options\.commitment must be a finite number >= 0/],
    [{ crossModalEma: 'yes' }, /options\.crossModalEma must be a boolean, got "yes"/],
    [{ backend: 'gpu' }, /options\.backend must be one of cuda, cpu, tfjs, got "gpu"/],
    [{ allReduce: 3 }, /options\.allReduce must be a function/],
    [{ size: 1 }, /options\.size must be an integer >= 2/],
  ];
  for (const [extra, message] of refused) {
    assert.throws(
      () => new SharedCodebook(options(extra as Partial<SharedCodebookOptions>), state),
      message,
      JSON.stringify(extra),
    );
  }
  assert.throws(
    () => new SharedCodebook(options(), undefined as never),
    /SharedCodebook\.init: state must be a CodebookState, got undefined/,
  );
});

test('every use after dispose() is refused, naming the method', async () => {
  const rng = new Rng(7);
  const state = randomState(rng, M, D);
  const codebook = new SharedCodebook(options(), state);
  const z = tensors(clips(rng, 2), 2);
  const forward = codebook.forward(z);
  codebook.dispose();
  codebook.dispose();
  assert.throws(() => codebook.forward(z), /SharedCodebook\.forward: the codebook has been disposed/);
  assert.throws(() => codebook.encode(z[0]), /SharedCodebook\.encode: the codebook has been disposed/);
  assert.throws(() => codebook.embedding(), /SharedCodebook\.embedding: the codebook has been disposed/);
  assert.throws(() => codebook.getState(), /SharedCodebook\.getState: the codebook has been disposed/);
  assert.throws(() => codebook.setState(state), /SharedCodebook\.setState: the codebook has been disposed/);
  assert.throws(() => codebook.toTensors(), /SharedCodebook\.toTensors: the codebook has been disposed/);
  await assert.rejects(codebook.update(forward, 1), /SharedCodebook\.update: the codebook has been disposed/);
  tf.dispose([...z, ...forward.quantized, ...forward.commitment, forward.cmcm!]);
});

test('the state round-trips through toTensors/fromTensors; a bad tensor is refused and changes nothing', async () => {
  const rng = new Rng(8);
  const a = new SharedCodebook(options(), randomState(rng, M, D));
  const z = tensors(clips(rng, 2), 2);
  await a.step(z, 3).report;
  const saved = a.toTensors();
  assert.deepEqual(saved.embedding.shape, [M, D]);
  assert.equal(saved.unusedCount.dtype, 'int32');
  const b = new SharedCodebook(options(), randomState(rng, M, D));
  const before = b.getState();
  assert.throws(
    () => b.fromTensors({ ...saved, emaWeight: { ...saved.emaWeight, shape: [M, D + 1] } }),
    /tensor emaWeight must be float32 \[12, 6\], got float32 \[12,7\]/,
  );
  assert.throws(() => b.fromTensors({ ...saved, unusedCount: undefined }), /tensor unusedCount is missing/);
  const nan = Float32Array.from(saved.emaCount.data as Float32Array);
  nan[3] = NaN;
  assert.throws(
    () => b.fromTensors({ ...saved, emaCount: { ...saved.emaCount, data: nan } }),
    /state\.emaCount holds a non-finite value/,
  );
  assert.deepEqual(b.getState(), before);
  b.fromTensors(saved);
  assert.deepEqual(b.getState(), a.getState());
  (saved.embedding.data as Float32Array)[0] = 42;
  assert.notEqual(b.getState().embedding[0], 42, 'fromTensors keeps a copy');
  tf.dispose(z);
  a.dispose();
  b.dispose();
});
