// SharedCodebook beyond the golden step: data-parallel updates through the allReduce hook equal the
// single-process update, frozen encoding is the exact nearest code, the ablation switches reach the
// MM-EMA op, and bad input is refused without changing the state.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Modality } from '../src/model/config.js';
import { type CodebookState, type MmEmaStatistics, SharedCodebook, type SharedCodebookOptions } from '../src/model/sharedCodebook.js';
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
const options = (extra: Partial<SharedCodebookOptions> = {}): SharedCodebookOptions => ({ size: M, dim: D, modalities: MODS, segmentsPerClip: T, backend: 'tfjs', ...extra });

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
  const half = (k: number) => tensors(batch.map((v) => v.slice(k * 3 * T * D, (k + 1) * 3 * T * D)), 3);
  const workers = [0, 1].map(() => new SharedCodebook(options(), state));
  const forwards = workers.map((w, k) => w.forward(half(k)));
  const local = forwards.map((f) => mmEmaStatistics(f.zValues, f.indices, { crossModal: true, m: M }));
  const total: MmEmaStatistics = {
    n: local[0].n + local[1].n,
    counts: local[0].counts.map((c, m) => c.map((v, j) => v + local[1].counts[m][j])),
    sums: local[0].sums.map((s, m) => s.map((v, e) => v + local[1].sums[m][e])),
  };
  workers.forEach((w) => { w.allReduce = async () => total; });
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
      if (d < bestDistance) { bestDistance = d; best = j; }
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
    mmEmaStep(state, batch, indices, { seed: 5, crossModal, deadAfter, resetEma, segmentsPerClip: T, backend: 'tfjs' }).state;

  const full = await run({});
  assert.deepEqual(full.report.resetCodes, [0, 1]);
  assert.deepEqual(full.state, direct(true, 300, false, full.forward.indices));
  const plain = await run({ crossModalEma: false });
  assert.deepEqual(plain.state, direct(false, 300, false, plain.forward.indices));
  assert.notDeepEqual(plain.state.emaWeight, full.state.emaWeight);
  const noReset = await run({ resetDeadCodes: false });
  assert.deepEqual(noReset.report.resetCodes, []);
  assert.ok(noReset.state.unusedCount.some((u) => u > 300), 'dead codes stay dead');
  const resetEma = await run({ resetEma: true });
  assert.deepEqual(resetEma.state, direct(true, 300, true, resetEma.forward.indices));
});

test('bad input to the codebook is refused with a clear error and changes no state', async () => {
  const rng = new Rng(4);
  const state = randomState(rng, M, D);
  const codebook = new SharedCodebook(options(), state);
  const ok = tensors(clips(rng, 2), 2);
  assert.throws(() => codebook.forward(ok.slice(0, 2)), /expected 3 tensor\(s\) \[B,T,D\] \(audio, video, text\), got 2/);
  assert.throws(() => codebook.forward([ok[0], ok[1], tf.zeros([2, T, D + 1])]), /z\[2\] has D = 7, the codebook has D = 6/);
  assert.throws(() => codebook.forward([ok[0], ok[1], tf.zeros([3, T, D])]), /z\[2\] has shape \[3, 4, 6\] but z\[0\] has \[2, 4, 6\]/);
  assert.throws(() => codebook.forward([ok[0], ok[1], tf.fill([2, T, D], NaN)]), /non-finite/);
  await assert.rejects(codebook.update(codebook.forward(ok), -1), /seed must be a uint32, got -1/);
  assert.throws(() => codebook.setState({ ...state, m: M + 1 }), /state is 13 x 6, this codebook is 12 x 6/);
  assert.throws(() => codebook.setState({ ...state, emaCount: new Float32Array(M).fill(NaN) }), /state\.emaCount holds a non-finite value/);
  assert.throws(() => new SharedCodebook(options({ modalities: ['audio'] }), state), /modalities must list 2 or 3 modalities/);
  assert.deepEqual(codebook.getState(), state);
});
