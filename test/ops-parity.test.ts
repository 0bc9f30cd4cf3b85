// The four ops on every backend: tfjs against independent float64 references, and the native
// CPU (and CUDA, where usable) backends against tfjs, on fresh random inputs of several shapes.
//
// Tolerances and why:
// - quantize: indices and distances bit for bit. Every backend shortlists with a float32 GEMM and
//   rescores the shortlist exactly in float64 (ops.h), so summation order cannot leak through.
// - mmEmaStep: unused counters, reset codes/sources and equalNum exact (integer logic and
//   counter-based randomness). The float32 state bit for bit against native CPU: both run the EMA
//   in float64, summing in the same order, and round once. Against CUDA (other summation order)
//   and for two-phase vs fused (sharded sums added afterwards) to 1e-6 relative: the float64 sums
//   differ in their last bits, which moves a float32 rounding by at most an ulp, more only where
//   the decayed weight and the new sum cancel. Perplexity to 1e-12 (libm log vs V8's).
// - codeMatchingLoss / infoNceLoss: float32 GEMMs, softmaxes and reductions in different orders:
//   loss to 1e-5 relative, gradients to 2e-5 of the gradient's largest entry (seen: ~1e-6); infoNce
//   accuracies exact (argmax of scores that agree to ~1e-6; the inputs keep real gaps).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
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
  type OpBackend,
} from '../src/ops/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import type { Rng } from '../src/util/rng.js';
import {
  TEST_SEED,
  assertBitwiseEqual,
  assertClose,
  copyState,
  nativeDevices,
  normals,
  randomState,
  rng,
} from './ops-support.js';

before(async () => {
  await initTfjs();
  console.log(`ops-parity: seed ${TEST_SEED} (UCMG_TEST_SEED replays it), tfjs backend ${tf.getBackend()}`);
});

// ---- quantize ----------------------------------------------------------------------------------

interface QuantizeCase {
  name: string;
  z: Float32Array;
  e: Float32Array;
  n: number;
  m: number;
  d: number;
}

function quantizeCases(r: Rng): QuantizeCase[] {
  const plain = (name: string, n: number, m: number, d: number): QuantizeCase => ({
    name,
    z: normals(r, n * d),
    e: normals(r, m * d),
    n,
    m,
    d,
  });
  const cases = [plain('small 7x13x5', 7, 13, 5), plain('n < m 3x50x16', 3, 50, 16)];

  // Exact ties: duplicate codebook rows, duplicate z rows, z rows sitting on codebook rows.
  const ties = plain('exact ties 257x64x32', 257, 64, 32);
  for (const j of [40, 41, 63]) ties.e.copyWithin(j * 32, 10 * 32, 11 * 32);
  for (let i = 0; i < 20; i++) ties.z.copyWithin((100 + i) * 32, 0, 32);
  for (let i = 200; i < 210; i++) ties.z.set(ties.e.subarray(10 * 32, 11 * 32), i * 32);
  cases.push(ties);

  // Near ties: codebook rows one ulp apart, so only the exact rescoring can order them.
  const near = plain('one-ulp neighbours 64x48x24', 64, 48, 24);
  for (let j = 1; j < 48; j += 2) {
    near.e.copyWithin(j * 24, (j - 1) * 24, j * 24);
    const k = j * 24 + r.int(24);
    near.e[k] = nextFloat32(near.e[k], r.next() < 0.5 ? 1 : -1);
  }
  for (let i = 0; i < 64; i++) {
    const j = 2 * r.int(24);
    near.z.set(near.e.subarray(j * 24, (j + 1) * 24), i * 24);
  }
  for (let i = 0; i < 64 * 24; i++) near.z[i] += (r.next() - 0.5) * 1e-6;
  cases.push(near);

  // A large common offset: the GEMM's cancellation error dwarfs the gaps between codes.
  const offset = plain('large offset 128x96x16', 128, 96, 16);
  for (let i = 0; i < offset.z.length; i++) offset.z[i] = 300 + offset.z[i] * 1e-3;
  for (let i = 0; i < offset.e.length; i++) offset.e[i] = 300 + offset.e[i] * 1e-3;
  cases.push(offset);

  // More than one row tile of the tfjs implementation (2^22 distances per tile).
  cases.push(plain('two row tiles 2100x2048x4', 2100, 2048, 4));
  return cases;
}

function nextFloat32(x: number, direction: 1 | -1): number {
  const bits = new Int32Array(new Float32Array([x]).buffer);
  bits[0] += (x >= 0 ? 1 : -1) * direction;
  return new Float32Array(bits.buffer)[0];
}

/** Exhaustive float64 search, written out independently of src/ops. */
function exhaustiveNearest(c: QuantizeCase): { indices: Int32Array; distances: Float32Array } {
  const indices = new Int32Array(c.n);
  const distances = new Float32Array(c.n);
  for (let i = 0; i < c.n; i++) {
    let best = Infinity;
    for (let j = 0; j < c.m; j++) {
      let s = 0;
      for (let t = 0; t < c.d; t++) {
        const diff = c.z[i * c.d + t] - c.e[j * c.d + t];
        s += diff * diff;
      }
      if (s < best) {
        best = s;
        indices[i] = j;
      }
    }
    distances[i] = best;
  }
  return { indices, distances };
}

function runQuantize(
  c: QuantizeCase,
  backend: OpBackend,
): { indices: Int32Array; distances: Float32Array; quantized: Float32Array } {
  return tf.tidy(() => {
    const out = quantize(tf.tensor2d(c.z, [c.n, c.d]), tf.tensor2d(c.e, [c.m, c.d]), { backend, gather: true });
    return {
      indices: out.indices.dataSync() as Int32Array,
      distances: out.distances.dataSync() as Float32Array,
      quantized: out.quantized!.dataSync() as Float32Array,
    };
  });
}

test('quantize (tfjs) equals an exhaustive float64 search, ties to the lowest index', () => {
  for (const c of quantizeCases(rng(1))) {
    const want = exhaustiveNearest(c);
    const got = runQuantize(c, 'tfjs');
    assertBitwiseEqual(got.indices, want.indices, `${c.name}: indices`);
    assertBitwiseEqual(got.distances, want.distances, `${c.name}: distances`);
    const rows = Array.from(want.indices, (j) => Array.from(c.e.subarray(j * c.d, (j + 1) * c.d))).flat();
    assertBitwiseEqual(got.quantized, rows, `${c.name}: quantized`);
  }
});

test('quantize (tfjs) gives the same answer on the tfjs cpu backend as on wasm', async () => {
  const cases = quantizeCases(rng(2)).slice(0, 4);
  const onDefault = cases.map((c) => runQuantize(c, 'tfjs'));
  const previous = tf.getBackend();
  await initTfjs('cpu');
  try {
    cases.forEach((c, k) => {
      const got = runQuantize(c, 'tfjs');
      assertBitwiseEqual(got.indices, onDefault[k].indices, `${c.name}: indices`);
      assertBitwiseEqual(got.distances, onDefault[k].distances, `${c.name}: distances`);
    });
  } finally {
    await initTfjs(previous as 'wasm' | 'cpu');
  }
});

for (const { device, skip } of nativeDevices()) {
  test(`quantize: ${device} equals tfjs bit for bit`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    for (const c of quantizeCases(rng(3))) {
      const want = runQuantize(c, 'tfjs');
      const got = runQuantize(c, device);
      assertBitwiseEqual(got.indices, want.indices, `${c.name} (${device}): indices`);
      assertBitwiseEqual(got.distances, want.distances, `${c.name} (${device}): distances`);
      assertBitwiseEqual(got.quantized, want.quantized, `${c.name} (${device}): quantized`);
    }
  });
}

// ---- MM-EMA ------------------------------------------------------------------------------------

interface EmaCase {
  name: string;
  state: CodebookState;
  z: Float32Array[];
  indices: Int32Array[];
  t: number;
  crossModal: boolean;
  resetEma: boolean;
  seed: number;
}

function emaCases(r: Rng): EmaCase[] {
  const make = (
    name: string,
    k: number,
    b: number,
    t: number,
    m: number,
    d: number,
    crossModal: boolean,
    resetEma: boolean,
  ): EmaCase => {
    const n = b * t;
    const indices = Array.from({ length: k }, () => Int32Array.from({ length: n }, () => r.int(m)));
    // Some clips agree across modalities, so equalNum is not trivially 0.
    for (let clip = 0; clip < b; clip += 2) {
      for (let mod = 1; mod < k; mod++) indices[mod].set(indices[0].subarray(clip * t, (clip + 1) * t), clip * t);
    }
    return {
      name,
      state: randomState(r, m, d),
      z: Array.from({ length: k }, () => normals(r, n * d)),
      indices,
      t,
      crossModal,
      resetEma,
      seed: r.nextUint32(),
    };
  };
  return [
    make('K=2 cross-modal', 2, 6, 5, 64, 16, true, false),
    make('K=3 cross-modal, resetEma', 3, 8, 10, 96, 8, true, true),
    make('K=3 plain EMA', 3, 4, 5, 40, 12, false, false),
    make('K=2 n > m', 2, 20, 10, 24, 6, true, true),
  ];
}

function emaOptions(c: EmaCase) {
  return { seed: c.seed, segmentsPerClip: c.t, crossModal: c.crossModal, resetEma: c.resetEma };
}

/** rtol 0: bit for bit. */
function assertSameStep(
  got: ReturnType<typeof mmEmaStep>,
  want: ReturnType<typeof mmEmaStep>,
  what: string,
  rtol: number,
  equalNumToo = true,
): void {
  assertBitwiseEqual(got.state.unusedCount, want.state.unusedCount, `${what}: unusedCount`);
  assert.deepEqual(got.report.resetCodes, want.report.resetCodes, `${what}: resetCodes (seed ${TEST_SEED})`);
  assert.deepEqual(got.report.resetSources, want.report.resetSources, `${what}: resetSources (seed ${TEST_SEED})`);
  if (equalNumToo) assert.equal(got.report.equalNum, want.report.equalNum, `${what}: equalNum (seed ${TEST_SEED})`);
  assertClose(got.report.perplexity, want.report.perplexity, 1e-12, `${what}: perplexity`);
  for (const key of ['emaCount', 'emaWeight', 'embedding'] as const) {
    if (rtol === 0) assertBitwiseEqual(got.state[key], want.state[key], `${what}: ${key}`);
    else assertClose(got.state[key], want.state[key], rtol, `${what}: ${key}`);
  }
}

test('mmEmaStep (tfjs): counters, dead-code reset and the untouched input follow docs/algorithm.md §3.5', () => {
  let revived = 0;
  for (const c of emaCases(rng(4))) {
    const before = copyState(c.state);
    const { state, report } = mmEmaStep(c.state, c.z, c.indices, { ...emaOptions(c), backend: 'tfjs' });
    assert.deepEqual(c.state, before, `${c.name}: the input state is not modified`);
    const used = new Set(c.indices.flatMap((idx) => Array.from(idx)));
    const incremented = Array.from(before.unusedCount, (u, j) => (used.has(j) ? 0 : u + 1));
    const dead = incremented.flatMap((u, j) => (u > 300 ? [j] : []));
    const active = new Set(incremented.flatMap((u, j) => (u >= 0 && u < 100 ? [j] : [])));
    revived += dead.length;
    assert.deepEqual(report.resetCodes, dead, `${c.name}: every dead code is revived, ascending`);
    const d = c.state.d;
    report.resetSources.forEach((src, r) => {
      const j = report.resetCodes[r];
      assert.ok(active.has(src), `${c.name}: code ${j} copies an active code (${src})`);
      for (let t = 0; t < d; t++) {
        const noise = state.embedding[j * d + t] - state.embedding[src * d + t];
        assert.ok(Math.abs(noise) <= 1 / 1024 + 1e-6, `${c.name}: revival noise ${noise} within 1/1024`);
      }
    });
    assert.deepEqual(
      Array.from(state.unusedCount),
      incremented.map((u) => (u > 300 ? 0 : u)),
      `${c.name}: unusedCount`,
    );
  }
  assert.ok(revived > 0, `the cases exercise the reset (seed ${TEST_SEED})`);
});

for (const { device, skip } of nativeDevices()) {
  test(`mmEmaStep: ${device} equals tfjs`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    for (const c of emaCases(rng(5))) {
      const want = mmEmaStep(c.state, c.z, c.indices, { ...emaOptions(c), backend: 'tfjs' });
      const before = copyState(c.state);
      const got = mmEmaStep(c.state, c.z, c.indices, { ...emaOptions(c), backend: device });
      assert.deepEqual(c.state, before, `${c.name} (${device}): the input state is not modified`);
      assertSameStep(got, want, `${c.name} (${device})`, device === 'cpu' ? 0 : 1e-6);
    }
  });
}

test('equalNum: a clip counts when its mode over T agrees in every modality, mode ties to the smaller code', () => {
  // T = 4; clips 0-3 agree only if ties go to the smaller code (not the first seen), clip 4 disagrees.
  const audio = Int32Array.from([5, 3, 3, 5, 1, 2, 3, 4, 7, 7, 2, 2, 1, 1, 1, 2, 0, 0, 1, 1]);
  const video = Int32Array.from([3, 5, 5, 3, 4, 3, 2, 1, 2, 9, 9, 2, 2, 2, 1, 1, 1, 1, 1, 0]);
  const text = Int32Array.from([3, 3, 8, 8, 1, 6, 6, 6, 2, 2, 2, 2, 1, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal(equalNum([audio, video], 4), 4);
  assert.equal(equalNum([audio, video, text], 4), 2, 'text agrees on clips 0 and 2 only');
  const asTensors = tf.tidy(() =>
    equalNum(
      [audio, video].map((x) => tf.tensor1d(x, 'int32')),
      20,
    ),
  );
  assert.equal(asTensors, 1, 'one clip of T = 20 whose mode is 1 in both, given as tensors');
});

/** Statistics of several workers' shards, summed as an all-reduce would. */
function allReduce(parts: MmEmaStatistics[]): MmEmaStatistics {
  return {
    n: parts.reduce((s, p) => s + p.n, 0),
    counts: parts[0].counts.map((_, k) =>
      parts.reduce((acc, p) => acc.map((v, j) => v + p.counts[k][j]), new Float64Array(parts[0].counts[k].length)),
    ),
    sums: parts[0].sums.map((_, k) =>
      parts.reduce((acc, p) => acc.map((v, e) => v + p.sums[k][e]), new Float64Array(parts[0].sums[k].length)),
    ),
  };
}

test('mmEmaStep: two-phase statistics from sharded workers, all-reduced and applied, equal the fused step', () => {
  const fused = nativeDevices().find((x) => x.skip === undefined)?.device ?? 'tfjs';
  for (const c of emaCases(rng(6))) {
    const n = c.indices[0].length;
    const cut = Math.floor(n / c.t / 2) * c.t; // shard on a clip boundary
    const shard = (from: number, to: number) =>
      mmEmaStatistics(
        c.z.map((z) => z.subarray(from * c.state.d, to * c.state.d)),
        c.indices.map((idx) => idx.subarray(from, to)),
        { crossModal: c.crossModal, m: c.state.m },
      );
    const stats = allReduce([shard(0, cut), shard(cut, n)]);
    const twoPhase = applyMmEmaStatistics(c.state, stats, { seed: c.seed, resetEma: c.resetEma });
    const want = mmEmaStep(c.state, c.z, c.indices, { ...emaOptions(c), backend: fused });
    assertSameStep(
      { state: twoPhase.state, report: { ...twoPhase.report, equalNum: want.report.equalNum } },
      want,
      `${c.name} (two-phase vs fused ${fused})`,
      1e-6,
      false,
    );
  }
});

// ---- code matching -----------------------------------------------------------------------------

interface MatchCase {
  name: string;
  z: Float32Array[];
  e: Float32Array;
  b: number;
  t: number;
  d: number;
  m: number;
}

function matchCases(r: Rng): MatchCase[] {
  const make = (name: string, k: number, b: number, t: number, d: number, m: number): MatchCase => ({
    name,
    z: Array.from({ length: k }, () => normals(r, b * t * d)),
    e: normals(r, m * d),
    b,
    t,
    d,
    m,
  });
  const tied = make('K=3 duplicate modality and codebook rows', 3, 6, 4, 8, 20);
  tied.z[2].set(tied.z[0]);
  tied.e.copyWithin(5 * 8, 0, 8);
  return [
    make('K=2 4x5x16, M=24', 2, 4, 5, 16, 24),
    make('K=3 8x10x32, M=100', 3, 8, 10, 32, 100),
    make('K=2 n < m', 2, 2, 3, 16, 64),
    tied,
  ];
}

function runCodeMatching(c: MatchCase, backend: OpBackend, scale = 1): { loss: number; grads: Float32Array[] } {
  return tf.tidy(() => {
    const codebook = tf.tensor2d(c.e, [c.m, c.d]);
    const zs = c.z.map((z) => tf.tensor3d(z, [c.b, c.t, c.d]));
    const loss = codeMatchingLoss(zs, codebook, { backend }).dataSync()[0];
    const grads = tf.grads((...x: tf.Tensor[]) =>
      tf.mul(tf.scalar(scale), codeMatchingLoss(x as tf.Tensor3D[], codebook, { backend })),
    )(zs);
    return { loss, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

for (const { device, skip } of nativeDevices()) {
  test(`codeMatchingLoss: ${device} equals tfjs, gradients included`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    for (const c of matchCases(rng(7))) {
      const want = runCodeMatching(c, 'tfjs');
      const got = runCodeMatching(c, device);
      assertClose([got.loss], [want.loss], 1e-5, `${c.name} (${device}): loss`);
      got.grads.forEach((g, k) => assertClose(g, want.grads[k], 2e-5, `${c.name} (${device}): dL/dz[${k}]`, 1));
      // The gradient is scaled by the upstream dy.
      const scaled = runCodeMatching(c, device, -2.5);
      scaled.grads.forEach((g, k) =>
        assertClose(
          g,
          want.grads[k].map((v) => -2.5 * v),
          2e-5,
          `${c.name} (${device}): d(-2.5 L)/dz[${k}]`,
          1,
        ),
      );
    }
  });
}

// ---- InfoNCE -----------------------------------------------------------------------------------

interface NceCase {
  name: string;
  targets: Float32Array[];
  preds: Float32Array[];
  weights: number[][];
  b: number;
  d: number;
}

function nceCases(r: Rng): NceCase[] {
  const make = (name: string, k: number, b: number, d: number): NceCase => ({
    name,
    b,
    d,
    targets: Array.from({ length: k }, () => normals(r, b * d, 0.5)),
    preds: Array.from({ length: k }, () => normals(r, b * d, 0.5)),
    weights: Array.from({ length: k }, (_, m) =>
      Array.from({ length: k }, (_, n) => (m === n ? 0.1 : 1) * (0.5 + r.next())),
    ),
  });
  const tied = make('K=3 duplicate target rows', 3, 16, 8);
  for (const x of tied.targets) x.copyWithin(3 * 8, 0, 8);
  return [make('K=2 B=8', 2, 8, 16), make('K=3 B=64', 3, 64, 32), tied];
}

/** Loss, accuracies and gradients in float64, written out from docs/algorithm.md §4.2 / ops.h. */
function infoNceReference(c: NceCase): {
  loss: number;
  accuracies: number[][];
  gradTargets: Float64Array[];
  gradPreds: Float64Array[];
} {
  const k = c.targets.length;
  const { b, d } = c;
  let loss = 0;
  const accuracies: number[][] = [];
  const gradTargets = c.targets.map(() => new Float64Array(b * d));
  const gradPreds = c.preds.map(() => new Float64Array(b * d));
  for (let m = 0; m < k; m++) {
    accuracies.push([]);
    for (let n = 0; n < k; n++) {
      const soft: number[][] = [];
      for (let i = 0; i < b; i++) {
        const row: number[] = [];
        for (let j = 0; j < b; j++) {
          let s = 0;
          for (let t = 0; t < d; t++) s += c.targets[m][i * d + t] * c.preds[n][j * d + t];
          row.push(s);
        }
        const top = Math.max(...row);
        const logSum = top + Math.log(row.reduce((acc, s) => acc + Math.exp(s - top), 0));
        loss -= (c.weights[m][n] / b) * (row[i] - logSum);
        soft.push(row.map((s) => Math.exp(s - logSum)));
      }
      let hits = 0;
      for (let j = 0; j < b; j++) {
        let best = 0;
        for (let i = 1; i < b; i++) if (soft[i][j] > soft[best][j]) best = i;
        if (best === j) hits++;
      }
      accuracies[m].push(hits / b);
      // dLoss/dS_ij = (w/b) (softmax_ij - [i == j])
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) {
          const g = (c.weights[m][n] / b) * (soft[i][j] - (i === j ? 1 : 0));
          for (let t = 0; t < d; t++) {
            gradTargets[m][i * d + t] += g * c.preds[n][j * d + t];
            gradPreds[n][j * d + t] += g * c.targets[m][i * d + t];
          }
        }
      }
    }
  }
  return { loss, accuracies, gradTargets, gradPreds };
}

function runInfoNce(c: NceCase, backend: OpBackend) {
  return tf.tidy(() => {
    const targets = c.targets.map((x) => tf.tensor2d(x, [c.b, c.d]));
    const preds = c.preds.map((x) => tf.tensor2d(x, [c.b, c.d]));
    const out = infoNceLoss(targets, preds, c.weights, { backend });
    const k = targets.length;
    const grads = tf.grads(
      (...x: tf.Tensor[]) =>
        infoNceLoss(x.slice(0, k) as tf.Tensor2D[], x.slice(k) as tf.Tensor2D[], c.weights, { backend }).loss,
    )([...targets, ...preds]);
    return {
      loss: out.loss.dataSync()[0],
      accuracies: out.accuracies,
      gradTargets: grads.slice(0, k).map((g) => g.dataSync() as Float32Array),
      gradPreds: grads.slice(k).map((g) => g.dataSync() as Float32Array),
    };
  });
}

for (const backend of ['tfjs', ...nativeDevices().map((x) => x.device)] as OpBackend[]) {
  test(`infoNceLoss (${backend}) matches a float64 reference`, (t) => {
    const skip = nativeDevices().find((x) => x.device === backend)?.skip;
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    for (const c of nceCases(rng(8))) {
      const want = infoNceReference(c);
      const got = runInfoNce(c, backend);
      assertClose([got.loss], [want.loss], 1e-5, `${c.name} (${backend}): loss`);
      assert.deepEqual(got.accuracies, want.accuracies, `${c.name} (${backend}): accuracies (seed ${TEST_SEED})`);
      got.gradTargets.forEach((g, m) =>
        assertClose(g, want.gradTargets[m], 2e-5, `${c.name} (${backend}): dL/dtargets[${m}]`, 1),
      );
      got.gradPreds.forEach((g, n) =>
        assertClose(g, want.gradPreds[n], 2e-5, `${c.name} (${backend}): dL/dpreds[${n}]`, 1),
      );
    }
  });
}

for (const { device, skip } of nativeDevices()) {
  test(`infoNceLoss: ${device} equals tfjs`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    for (const c of nceCases(rng(9))) {
      const want = runInfoNce(c, 'tfjs');
      const got = runInfoNce(c, device);
      assertClose([got.loss], [want.loss], 1e-5, `${c.name} (${device}): loss`);
      assert.deepEqual(got.accuracies, want.accuracies, `${c.name} (${device}): accuracies (seed ${TEST_SEED})`);
      got.gradTargets.forEach((g, m) =>
        assertClose(g, want.gradTargets[m], 2e-5, `${c.name} (${device}): dL/dtargets[${m}]`, 1),
      );
      got.gradPreds.forEach((g, n) =>
        assertClose(g, want.gradPreds[n], 2e-5, `${c.name} (${device}): dL/dpreds[${n}]`, 1),
      );
    }
  });
}
