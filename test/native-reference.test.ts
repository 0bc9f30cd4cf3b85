// Each native CPU kernel against a plain, obviously correct float64 JavaScript reference written
// here from the contracts in native/include/ucmg/ops.h (llm.c style). Gradients are checked
// against central finite differences of the reference. Inputs are seeded, so a failure replays.
//
// Tolerances: quantize indices and distances must match exactly (the reference computes the
// canonical float64 score in the canonical order, as JavaScript never fuses multiply-adds).
// mmEmaStep state: 1e-6 relative (float32 rounding of float64 values). codeMatching (float64
// inside): loss 1e-9 relative, gradients 1e-5 of their largest entry. infoNce (float32 scores):
// loss 1e-5 relative, gradients 1e-4 of their largest entry, accuracies exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type {
  NativeBinding,
  NativeCodebookState,
  NativeMmEmaOptions,
  NativeMmEmaResult,
} from '../src/native/binding.js';
import { loadNative, nativeUnavailableMessage } from '../src/native/loader.js';
import { Rng } from '../src/util/rng.js';

const loaded = loadNative();
const skip = loaded.binding ? false : nativeUnavailableMessage(loaded);
if (skip) console.log(`# native-reference: skipped: ${skip}`);
const native = (): NativeBinding => loaded.binding as NativeBinding;

// ---- helpers ----------------------------------------------------------------------------------

function normals(rng: Rng, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * scale;
  return out;
}

/** |actual - expected| <= tol * max|expected| for every element. */
function assertCloseToScale(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err}, allowed ${tol * scale})`,
    );
  }
}

/** |actual - expected| <= rtol * |expected| + atol elementwise. */
function assertCloseEach(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rtol * Math.abs(expected[i]) + atol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function assertRelClose(actual: number, expected: number, rtol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= rtol * Math.abs(expected),
    `${what}: ${actual} vs ${expected} (rtol ${rtol})`,
  );
}

/** Central finite differences of f at every element of the arrays xs (float64 copies). */
function finiteDifferences(f: (xs: Float64Array[]) => number, xs: Float64Array[], h: number): Float64Array[] {
  return xs.map((x) => {
    const grad = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      x[i] = keep + h;
      const up = f(xs);
      x[i] = keep - h;
      const down = f(xs);
      x[i] = keep;
      grad[i] = (up - down) / (2 * h);
    }
    return grad;
  });
}

// ---- quantize -------------------------------------------------------------------------------

/** The canonical score: float64, in order, each multiply and add rounded on its own. */
function exactDistance(a: Float32Array, ai: number, b: Float32Array, bi: number, d: number): number {
  let sum = 0;
  for (let t = 0; t < d; t++) {
    const diff = a[ai + t] - b[bi + t];
    sum += diff * diff;
  }
  return sum;
}

function bruteForceQuantize(z: Float32Array, codebook: Float32Array, n: number, m: number, d: number) {
  const indices = new Int32Array(n);
  const distances = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bestJ = -1;
    for (let j = 0; j < m; j++) {
      const dist = exactDistance(z, i * d, codebook, j * d, d);
      if (dist < best) {
        best = dist;
        bestJ = j;
      }
    }
    indices[i] = bestJ;
    distances[i] = best;
  }
  return { indices, distances };
}

function checkQuantize(z: Float32Array, codebook: Float32Array, n: number, m: number, d: number): void {
  const got = native().quantize('cpu', { z, codebook, n, m, d, gather: true });
  const want = bruteForceQuantize(z, codebook, n, m, d);
  assert.deepEqual(Array.from(got.indices), Array.from(want.indices), 'indices');
  assert.deepEqual(Array.from(got.distances), Array.from(want.distances), 'distances');
  const quantized = got.quantized as Float32Array;
  for (let i = 0; i < n; i++) {
    const j = want.indices[i];
    assert.deepEqual(
      Array.from(quantized.subarray(i * d, (i + 1) * d)),
      Array.from(codebook.subarray(j * d, (j + 1) * d)),
      `quantized row ${i}`,
    );
  }
}

describe('native cpu quantize vs brute force', { skip }, () => {
  it('random inputs over several row tiles, the last one partial', () => {
    const rng = new Rng(11);
    checkQuantize(normals(rng, 301 * 8), normals(rng, 1024 * 8), 301, 1024, 8);
  });

  it('a large codebook (tiles of a few rows) and n < m', () => {
    const rng = new Rng(12);
    checkQuantize(normals(rng, 22 * 4), normals(rng, 20000 * 4), 22, 20000, 4);
    checkQuantize(normals(rng, 3 * 16), normals(rng, 40 * 16), 3, 40, 16);
  });

  it('m = 1 picks code 0 everywhere', () => {
    const rng = new Rng(13);
    checkQuantize(normals(rng, 50 * 5), normals(rng, 5), 50, 1, 5);
  });

  it('exact ties go to the lowest index: duplicate codes, duplicate rows, equidistant points', () => {
    const rng = new Rng(14);
    const n = 64,
      m = 32,
      d = 6;
    const codebook = normals(rng, m * d);
    codebook.copyWithin(20 * d, 3 * d, 4 * d); // code 20 duplicates code 3
    codebook.copyWithin(31 * d, 0, d); // code 31 duplicates code 0
    const z = normals(rng, n * d);
    z.set(codebook.subarray(20 * d, 21 * d), 0); // exactly on the duplicated code: 3 must win
    z.set(codebook.subarray(31 * d, 32 * d), d); // exactly on code 0's duplicate
    z.copyWithin(40 * d, 2 * d, 3 * d); // duplicated z rows
    z.copyWithin(41 * d, 2 * d, 3 * d);
    // Integer grid: z = 0.5 between codes at 0 and 1 per coordinate gives exact float64 ties.
    const grid = new Float32Array(4 * 2);
    grid.set([0, 0, 1, 1, 1, 0, 0, 1]);
    const mid = Float32Array.from([0.5, 0.5, 0.5, 0, 0, 0.5, 1, 0.5]);
    checkQuantize(z, codebook, n, m, d);
    checkQuantize(mid, grid, 4, 4, 2);
    const got = native().quantize('cpu', { z, codebook, n, m, d, gather: false });
    assert.equal(got.indices[0], 3);
    assert.equal(got.indices[1], 0);
    assert.equal(got.quantized, undefined);
  });

  it('near ties that the float32 GEMM cannot order are decided by the exact score', () => {
    // Codes 1e-5 apart around a common centre: float32 dot products of size ~|z||e| carry
    // errors larger than the true gaps, so only the rescoring finds the true winner.
    const rng = new Rng(15);
    const n = 200,
      m = 64,
      d = 64;
    const centre = normals(rng, d, 3);
    const codebook = new Float32Array(m * d);
    for (let j = 0; j < m; j++) for (let t = 0; t < d; t++) codebook[j * d + t] = centre[t] + rng.normal() * 1e-5;
    const z = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) z[i * d + t] = centre[t] + rng.normal() * 1e-4;
    checkQuantize(z, codebook, n, m, d);
  });

  it('huge and tiny magnitudes (float32 overflow/underflow of the screen) still give the exact argmin', () => {
    const rng = new Rng(16);
    const n = 40,
      m = 30,
      d = 8;
    checkQuantize(normals(rng, n * d, 1e19), normals(rng, m * d, 1e19), n, m, d);
    checkQuantize(normals(rng, n * d, 1e-22), normals(rng, m * d, 1e-22), n, m, d);
  });
});

// ---- mmEmaStep ------------------------------------------------------------------------------

function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function resetRandom(seed: number, stream: number, counter: number): number {
  const key = fmix32((seed + Math.imul(0x9e3779b9, stream + 1)) >>> 0);
  return (fmix32((key ^ fmix32(counter)) >>> 0) >>> 8) / 16777216;
}

const resetNoise = (seed: number, counter: number): number => Math.fround(2 * resetRandom(seed, 1, counter) - 1) / 1024;

function modeOf(values: Int32Array): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = Infinity;
  let bestCount = 0;
  for (const [v, c] of counts) if (c > bestCount || (c === bestCount && v < best)) [best, bestCount] = [v, c];
  return best;
}

/** The MM-EMA step, loop by loop, as ops.h states it (decay and epsilon are float32 there). */
function referenceMmEma(
  state: NativeCodebookState,
  z: Float32Array[],
  indices: Int32Array[],
  n: number,
  m: number,
  d: number,
  opt: NativeMmEmaOptions,
) {
  const k = z.length;
  const decay = Math.fround(opt.decay),
    eps = Math.fround(opt.epsilon);
  const wOwn = opt.crossModal ? 0.5 : 1,
    wCross = opt.crossModal ? 0.5 / (k - 1) : 0;
  const count = Float64Array.from(state.emaCount);
  const weight = Float64Array.from(state.emaWeight);
  const used = new Array<boolean>(m).fill(false);
  const perplexity: number[] = [];
  for (let mod = 0; mod < k; mod++) {
    const hits = new Array<number>(m).fill(0);
    for (let i = 0; i < n; i++) hits[indices[mod][i]]++;
    let entropy = 0;
    for (let j = 0; j < m; j++) {
      used[j] ||= hits[j] > 0;
      entropy -= (hits[j] / n) * Math.log(hits[j] / n + 1e-10);
    }
    perplexity.push(Math.exp(entropy));
    let total = 0;
    for (let j = 0; j < m; j++) total += count[j] = decay * count[j] + (1 - decay) * hits[j];
    for (let j = 0; j < m; j++) count[j] = ((count[j] + eps) / (total + m * eps)) * total;
    const dw = new Float64Array(m * d);
    for (let i = 0; i < n; i++) {
      const j = indices[mod][i];
      for (let o = 0; o < k; o++)
        for (let t = 0; t < d; t++) dw[j * d + t] += (o === mod ? wOwn : wCross) * z[o][i * d + t];
    }
    for (let e = 0; e < m * d; e++) weight[e] = decay * weight[e] + (1 - decay) * dw[e];
  }
  const embedding = new Float32Array(m * d);
  for (let e = 0; e < m * d; e++) embedding[e] = weight[e] / count[Math.floor(e / d)];
  const emaCount = Float32Array.from(count);
  const emaWeight = Float32Array.from(weight);
  const unusedCount = Int32Array.from(state.unusedCount, (u, j) => (used[j] ? 0 : u + 1));
  const active: number[] = [];
  unusedCount.forEach((u, j) => {
    if (u >= 0 && u < opt.activeBelow) active.push(j);
  });
  const resetCodes: number[] = [];
  const resetSources: number[] = [];
  for (let j = 0; j < m && active.length > 0; j++) {
    if (unusedCount[j] <= opt.deadAfter) continue;
    unusedCount[j] = 0;
    const src = active[Math.floor(resetRandom(opt.seed, 0, j) * active.length)];
    for (let t = 0; t < d; t++) embedding[j * d + t] = embedding[src * d + t] + resetNoise(opt.seed, j * d + t);
    if (opt.resetEma) for (let t = 0; t < d; t++) emaWeight[j * d + t] = embedding[j * d + t] * emaCount[j];
    resetCodes.push(j);
    resetSources.push(src);
  }
  const T = opt.segmentsPerClip;
  let equalNum = 0;
  for (let c = 0; c < n / T; c++) {
    const modes = indices.map((idx) => modeOf(idx.subarray(c * T, (c + 1) * T)));
    if (modes.every((v) => v === modes[0])) equalNum++;
  }
  return { state: { embedding, emaCount, emaWeight, unusedCount }, perplexity, equalNum, resetCodes, resetSources };
}

function mmEmaCase(seed: number, k: number, options: Partial<NativeMmEmaOptions>) {
  const rng = new Rng(seed);
  const m = 24,
    d = 5,
    T = 4,
    n = 12 * T;
  const opt: NativeMmEmaOptions = {
    decay: 0.99,
    epsilon: 1e-5,
    deadAfter: 300,
    activeBelow: 100,
    seed: 1234,
    resetEma: false,
    crossModal: true,
    segmentsPerClip: T,
    ...options,
  };
  const embedding = normals(rng, m * d, 0.1);
  const emaCount = Float32Array.from({ length: m }, () => rng.next() * 3);
  const emaWeight = normals(rng, m * d, 0.2);
  // Codes 0..9 are never used below; some are long dead, some in between, some recently active.
  const unusedCount = Int32Array.from({ length: m }, (_, j) => (j < 4 ? 300 + j : j < 6 ? 150 : j < 10 ? 5 * j : -1));
  const z = Array.from({ length: k }, () => normals(rng, n * d));
  // Indices from codes 10..23; clip 0 agrees in every modality, clip 1 has a tied mode.
  const indices = Array.from({ length: k }, () => Int32Array.from({ length: n }, () => 10 + rng.int(m - 10)));
  for (const idx of indices) idx.set([12, 12, 15, 17], 0);
  indices[0].set([19, 19, 11, 11], T); // mode 11 (tie, lowest wins)
  for (let mod = 1; mod < k; mod++) indices[mod].set([11, 13, 14, 16], T); // mode 11 (all ties)
  return { state: { embedding, emaCount, emaWeight, unusedCount }, z, indices, n, m, d, opt };
}

function checkMmEma(seed: number, k: number, options: Partial<NativeMmEmaOptions>): NativeMmEmaResult {
  const c = mmEmaCase(seed, k, options);
  const got = native().mmEmaStep('cpu', {
    state: c.state,
    m: c.m,
    d: c.d,
    z: c.z,
    indices: c.indices,
    n: c.n,
    options: c.opt,
  });
  const want = referenceMmEma(c.state, c.z, c.indices, c.n, c.m, c.d, c.opt);
  assertCloseEach(got.state.emaCount, want.state.emaCount, 1e-6, 0, 'emaCount');
  assertCloseEach(got.state.emaWeight, want.state.emaWeight, 1e-6, 1e-12, 'emaWeight');
  assertCloseEach(got.state.embedding, want.state.embedding, 1e-6, 1e-12, 'embedding');
  assert.deepEqual(Array.from(got.state.unusedCount), Array.from(want.state.unusedCount), 'unusedCount');
  assert.deepEqual(Array.from(got.resetCodes), want.resetCodes, 'resetCodes');
  assert.deepEqual(Array.from(got.resetSources), want.resetSources, 'resetSources');
  assertCloseEach(got.perplexity, want.perplexity, 1e-12, 0, 'perplexity');
  assert.equal(got.equalNum, want.equalNum, 'equalNum');
  return got;
}

describe('native cpu mmEmaStep vs a loop-based reference', { skip }, () => {
  it('two modalities, cross-modal, dead codes revived from active ones', () => {
    const got = checkMmEma(21, 2, {});
    assert.deepEqual(Array.from(got.resetCodes), [0, 1, 2, 3], 'the codes with unused > 300 after the step');
    // Clip 0 agrees outright; clip 1 agrees only when mode ties go to the smallest code.
    assert.ok(got.equalNum >= 2, `equalNum ${got.equalNum}`);
  });

  it('three modalities, with resetEma and another seed', () => {
    checkMmEma(22, 3, { resetEma: true, seed: 4000000000 });
  });

  it('plain EMA (crossModal false) and a tight deadAfter', () => {
    checkMmEma(23, 3, { crossModal: false, deadAfter: 20, activeBelow: 10, decay: 0.9, epsilon: 1e-3 });
  });

  it('no active code: nothing is revived', () => {
    assert.equal(checkMmEma(24, 2, { activeBelow: 0 }).resetCodes.length, 0);
  });
});

// ---- codeMatching ---------------------------------------------------------------------------

/** L_cmcm in float64, straight from ops.h. */
function referenceCodeMatching(
  z: ArrayLike<number>[],
  b: number,
  t: number,
  d: number,
  e: Float32Array,
  m: number,
  eps: number,
): number {
  const P = z.map((zm) => {
    const mean = new Float64Array(b * m);
    for (let r = 0; r < b * t; r++) {
      const logits = new Float64Array(m);
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        let zz = 0,
          ee = 0,
          ze = 0;
        for (let u = 0; u < d; u++) {
          zz += zm[r * d + u] * zm[r * d + u];
          ee += e[j * d + u] * e[j * d + u];
          ze += zm[r * d + u] * e[j * d + u];
        }
        logits[j] = -Math.sqrt(Math.max(0, zz + ee - 2 * ze));
        max = Math.max(max, logits[j]);
      }
      let sum = 0;
      for (let j = 0; j < m; j++) sum += Math.exp(logits[j] - max);
      const i = Math.floor(r / t);
      for (let j = 0; j < m; j++) mean[i * m + j] += Math.exp(logits[j] - max) / sum / t;
    }
    return mean;
  });
  let loss = 0;
  for (let x = 0; x < z.length; x++) {
    for (let y = x + 1; y < z.length; y++) {
      const S = new Float64Array(b * b);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) {
          let s = 0;
          for (let c = 0; c < m; c++) {
            s +=
              P[x][i * m + c] * Math.log(P[y][j * m + c] + 1e-10) + P[y][i * m + c] * Math.log(P[x][j * m + c] + 1e-10);
          }
          S[i * b + j] = s;
        }
      }
      const shift = Math.min(...S);
      let pair = 0;
      for (let i = 0; i < b; i++) {
        let sum = 0;
        for (let j = 0; j < b; j++) sum += Math.exp(S[i * b + j] - shift);
        pair -= S[i * b + i] - shift - Math.log(sum + eps);
      }
      loss += (0.5 * pair) / b;
    }
  }
  return loss;
}

function checkCodeMatching(seed: number, k: number, b: number, t: number, d: number, m: number, eps: number): void {
  const rng = new Rng(seed);
  const z = Array.from({ length: k }, () => normals(rng, b * t * d));
  const codebook = normals(rng, m * d);
  const got = native().codeMatching('cpu', { z, codebook, b, t, d, m, epsilon: eps, wantGrad: true });
  const epsF = Math.fround(eps);
  assertRelClose(got.loss, referenceCodeMatching(z, b, t, d, codebook, m, epsF), 1e-9, 'loss');
  const fd = finiteDifferences(
    (xs) => referenceCodeMatching(xs, b, t, d, codebook, m, epsF),
    z.map((a) => Float64Array.from(a)),
    1e-5,
  );
  for (let mod = 0; mod < k; mod++) assertCloseToScale(got.grads[mod], fd[mod], 1e-5, `grad z[${mod}]`);
  const lossOnly = native().codeMatching('cpu', { z, codebook, b, t, d, m, epsilon: eps, wantGrad: false });
  assert.equal(lossOnly.loss, got.loss);
  assert.equal(lossOnly.grads.length, 0);
}

describe('native cpu codeMatching vs reference and finite differences', { skip }, () => {
  it('two modalities', () => checkCodeMatching(31, 2, 3, 2, 4, 5, 1e-5));
  it('three modalities, all three pairs', () => checkCodeMatching(32, 3, 4, 3, 3, 6, 1e-5));
  it('a large epsilon makes the path through c = min S visible in the gradient', () =>
    checkCodeMatching(33, 2, 3, 2, 3, 4, 5));
  it('loss at a larger size (partial GEMM blocks) matches the reference', () => {
    const rng = new Rng(34);
    const b = 6,
      t = 5,
      d = 20,
      m = 70;
    const z = [normals(rng, b * t * d), normals(rng, b * t * d), normals(rng, b * t * d)];
    const codebook = normals(rng, m * d);
    const got = native().codeMatching('cpu', { z, codebook, b, t, d, m, epsilon: 1e-5, wantGrad: false });
    assertRelClose(got.loss, referenceCodeMatching(z, b, t, d, codebook, m, Math.fround(1e-5)), 1e-9, 'loss');
  });
});

// ---- infoNce --------------------------------------------------------------------------------

/** InfoNCE loss and accuracies in float64, straight from ops.h. */
function referenceInfoNce(
  targets: ArrayLike<number>[],
  preds: ArrayLike<number>[],
  weights: Float32Array,
  b: number,
  d: number,
) {
  const k = targets.length;
  let loss = 0;
  const accuracies: number[] = [];
  for (let m = 0; m < k; m++) {
    for (let n = 0; n < k; n++) {
      const logSoft = new Float64Array(b * b);
      for (let i = 0; i < b; i++) {
        const row = new Float64Array(b);
        for (let j = 0; j < b; j++) {
          let s = 0;
          for (let u = 0; u < d; u++) s += targets[m][i * d + u] * preds[n][j * d + u];
          row[j] = s;
        }
        const max = Math.max(...row);
        let sum = 0;
        for (let j = 0; j < b; j++) sum += Math.exp(row[j] - max);
        for (let j = 0; j < b; j++) logSoft[i * b + j] = row[j] - max - Math.log(sum);
        loss -= (weights[m * k + n] * logSoft[i * b + i]) / b;
      }
      let hits = 0;
      for (let j = 0; j < b; j++) {
        let bestI = 0;
        for (let i = 1; i < b; i++) if (logSoft[i * b + j] > logSoft[bestI * b + j]) bestI = i;
        hits += bestI === j ? 1 : 0;
      }
      accuracies.push(hits / b);
    }
  }
  return { loss, accuracies };
}

function checkInfoNce(
  seed: number,
  k: number,
  b: number,
  d: number,
  weights: number[],
  edit?: (targets: Float32Array[], preds: Float32Array[]) => void,
): void {
  const rng = new Rng(seed);
  const targets = Array.from({ length: k }, () => normals(rng, b * d));
  const preds = Array.from({ length: k }, () => normals(rng, b * d));
  edit?.(targets, preds);
  const w = Float32Array.from(weights);
  const got = native().infoNce('cpu', { targets, preds, weights: w, b, d, wantGrad: true });
  const want = referenceInfoNce(targets, preds, w, b, d);
  assertRelClose(got.loss, want.loss, 1e-5, 'loss');
  assert.deepEqual(Array.from(got.accuracies), want.accuracies.map(Math.fround), 'accuracies');
  const f = (xs: Float64Array[]) => referenceInfoNce(xs.slice(0, k), xs.slice(k), w, b, d).loss;
  const fd = finiteDifferences(
    f,
    [...targets, ...preds].map((a) => Float64Array.from(a)),
    1e-5,
  );
  for (let mod = 0; mod < k; mod++) {
    assertCloseToScale(got.gradTargets[mod], fd[mod], 1e-4, `gradTargets[${mod}]`);
    assertCloseToScale(got.gradPreds[mod], fd[k + mod], 1e-4, `gradPreds[${mod}]`);
  }
}

describe('native cpu infoNce vs reference and finite differences', { skip }, () => {
  it('two modalities, published weights (0.1 same-modality, 1 cross-modal)', () =>
    checkInfoNce(41, 2, 5, 3, [0.1, 1, 1, 0.1]));
  it('three modalities with a zero weight and an asymmetric one', () =>
    checkInfoNce(42, 3, 4, 2, [0.1, 1, 0, 1, 0.1, 2, 1, 1, 0.1]));

  it('column argmax ties go to the lowest row, within a score tile and across threads', () => {
    // Target rows 0, 1 and 3 are equal and dominate column 0, so softmax(S) ties there. With 2
    // threads, rows 0-1 and 2-3 are scored by different threads.
    checkInfoNce(44, 2, 4, 3, [0.1, 1, 1, 0.1], (targets, preds) => {
      const v = [2, -1, 1.5];
      for (const t of targets) for (const row of [0, 1, 3]) t.set(v, row * 3);
      for (const p of preds) p.set(v, 0);
    });
  });

  it('a batch over several score tiles, the last one partial (b = 2100)', () => {
    const rng = new Rng(43);
    const b = 2100,
      d = 2,
      k = 2;
    const targets = [normals(rng, b * d), normals(rng, b * d)];
    const preds = [normals(rng, b * d), normals(rng, b * d)];
    const weights = Float32Array.from([0.1, 1, 1, 0.1]);
    const got = native().infoNce('cpu', { targets, preds, weights, b, d, wantGrad: true });
    const want = referenceInfoNce(targets, preds, weights, b, d);
    assertRelClose(got.loss, want.loss, 1e-5, 'loss');
    assert.deepEqual(Array.from(got.accuracies), want.accuracies.map(Math.fround), 'accuracies');
    // Gradient of the reference by its closed form: dLoss/dS = (w/b) (softmax_row(S) - I).
    const gradT = [new Float64Array(b * d), new Float64Array(b * d)];
    const gradP = [new Float64Array(b * d), new Float64Array(b * d)];
    const row = new Float64Array(b);
    for (let m = 0; m < k; m++) {
      for (let n = 0; n < k; n++) {
        const scale = weights[m * k + n] / b;
        for (let i = 0; i < b; i++) {
          let max = -Infinity;
          for (let j = 0; j < b; j++) {
            let s = 0;
            for (let u = 0; u < d; u++) s += targets[m][i * d + u] * preds[n][j * d + u];
            row[j] = s;
            max = Math.max(max, s);
          }
          let sum = 0;
          for (let j = 0; j < b; j++) sum += row[j] = Math.exp(row[j] - max);
          for (let j = 0; j < b; j++) {
            const g = scale * (row[j] / sum - (i === j ? 1 : 0));
            for (let u = 0; u < d; u++) {
              gradT[m][i * d + u] += g * preds[n][j * d + u];
              gradP[n][j * d + u] += g * targets[m][i * d + u];
            }
          }
        }
      }
    }
    for (let mod = 0; mod < k; mod++) {
      assertCloseToScale(got.gradTargets[mod], gradT[mod], 1e-4, `gradTargets[${mod}]`);
      assertCloseToScale(got.gradPreds[mod], gradP[mod], 1e-4, `gradPreds[${mod}]`);
    }
  });
});
