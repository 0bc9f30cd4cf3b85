// TOC channel selection: the closed-form score against a direct loop over code pairs, the top-k
// choice and its tie order, the channel-selecting encoder, bad input, and `eval --toc`.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { namedEncoder } from '../src/cli/pipeline.js';
import { makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer, selectChannels, tensorEncoder, tocChannels, tocScores } from '../src/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';

before(async () => {
  await initTfjs();
});

/** The score written out literally: every ordered pair i != j, then the sample variance. */
function directScores(data: Float32Array, m: number, d: number): number[] {
  const scores: number[] = [];
  for (let t = 0; t < d; t++) {
    let pairSum = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) if (i !== j) pairSum += data[i * d + t] * data[j * d + t];
    }
    let mean = 0;
    for (let i = 0; i < m; i++) mean += data[i * d + t] / m;
    let squares = 0;
    for (let i = 0; i < m; i++) squares += (data[i * d + t] - mean) ** 2;
    scores.push(-0.7 * (pairSum / (m * (m - 1))) + (0.3 * (squares / (m - 1))) / (m - 1));
  }
  return scores;
}

function randomCodebook(rng: Rng, m: number, d: number, offset: number): Float32Array {
  // Per-dimension offsets and scales, so the dimensions differ in both score terms.
  const shift = Array.from({ length: d }, () => offset * (rng.next() * 2 - 1));
  const scale = Array.from({ length: d }, () => 0.01 + rng.next());
  return Float32Array.from({ length: m * d }, (_, i) => shift[i % d] + scale[i % d] * (rng.next() * 2 - 1));
}

test('the closed-form score equals the direct pairwise loop on random codebooks', () => {
  const rng = new Rng(7);
  for (const [m, d, offset] of [
    [2, 3, 0],
    [5, 8, 0.5],
    [40, 16, 0.05],
    [96, 64, 2],
  ] as const) {
    const data = randomCodebook(rng, m, d, offset);
    const direct = directScores(data, m, d);
    const closed = tocScores({ data, size: m, dim: d });
    assert.equal(closed.length, d);
    direct.forEach((want, t) => {
      const close = Math.abs(closed[t] - want) <= 1e-12 * Math.max(1, Math.abs(want));
      assert.ok(close, `M=${m} D=${d} dim ${t}: ${closed[t]} vs ${want}`);
    });
    const k = Math.max(1, Math.floor(d / 2));
    const ranked = direct.map((s, t) => [s, t]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const wanted = ranked.slice(0, k).map(([, t]) => t);
    assert.deepEqual(Array.from(tocChannels({ data, size: m, dim: d }, k)), wanted);
  }
});

test('a tensor codebook gives the same channels as its Float32Array', () => {
  const rng = new Rng(11);
  const data = randomCodebook(rng, 30, 12, 0.3);
  const tensor = tf.tensor2d(data, [30, 12]);
  try {
    assert.deepEqual(Array.from(tocChannels(tensor, 5)), Array.from(tocChannels({ data, size: 30, dim: 12 }, 5)));
  } finally {
    tensor.dispose();
  }
});

test('spread dimensions outrank agreeing ones; equal scores keep the lower dimension first', () => {
  // Columns: 0 all codes agree (pairwise mean 1, variance 0: score -0.7), 1 spread -1, 0, 1
  // (pairwise mean -1/3, variance 1: score 0.7/3 + 0.15), 2 all zero (score 0), 3 a copy of 1.
  const data = Float32Array.from([1, -1, 0, -1, 1, 0, 0, 0, 1, 1, 0, 1]);
  const codebook = { data, size: 3, dim: 4 };
  const scores = tocScores(codebook);
  assert.ok(Math.abs(scores[0] + 0.7) < 1e-12);
  assert.ok(Math.abs(scores[1] - (0.7 / 3 + 0.15)) < 1e-12);
  assert.equal(scores[2], 0);
  assert.deepEqual(Array.from(tocChannels(codebook, 4)), [1, 3, 2, 0]);
  assert.deepEqual(Array.from(tocChannels(codebook, 1)), [1]);
});

test('selectChannels hands the heads only the kept dimensions, in the given order', async () => {
  const inner = {
    modalities: ['audio'],
    encode: () => ({ codes: Int32Array.from([4, 7]), quantized: Float32Array.from([10, 11, 12, 20, 21, 22]) }),
  };
  const out = await selectChannels(inner, Int32Array.from([2, 0])).encode('audio', new Float32Array(0), [1, 2]);
  assert.deepEqual(Array.from(out.codes), [4, 7]);
  assert.deepEqual(Array.from(out.quantized), [12, 10, 22, 20]);
  const outside = selectChannels(inner, Int32Array.from([3]));
  await assert.rejects(
    async () => outside.encode('audio', new Float32Array(0), [1, 2]),
    /channel 3 is outside the encoder's embedding size 3/,
  );
});

test('bad input: k out of range, wrong shapes and non-finite values give errors naming the argument', () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => i / 12);
  const codebook = { data, size: 4, dim: 3 };
  for (const k of [0, 4, 1.5, Number.NaN]) {
    assert.throws(() => tocChannels(codebook, k), /k must be an integer from 1 to the codebook's dim 3/);
  }
  assert.throws(() => tocChannels({ data, size: 5, dim: 3 }, 1), /codebook data has 12 values, size \* dim is 15/);
  const oneCode = { data: data.subarray(0, 3), size: 1, dim: 3 };
  assert.throws(() => tocChannels(oneCode, 1), /codebook size must be an integer >= 2/);
  assert.throws(() => tocChannels({ data, size: 4, dim: 0 }, 1), /codebook dim must be a positive integer/);
  assert.throws(
    () => tocChannels(data as never, 1),
    /codebook must be a tf tensor \[M, D\] or \{ data: Float32Array, size, dim \}/,
  );
  const nan = Float32Array.from(data);
  nan[7] = Number.NaN;
  assert.throws(() => tocChannels({ data: nan, size: 4, dim: 3 }, 1), /codebook value 7 \(code 2\) is not finite/);
  const vector = tf.tensor1d([1, 2, 3]);
  const cube = tf.zeros([2, 2, 2]);
  try {
    assert.throws(() => tocChannels(vector, 1), /codebook must be a 2-D tensor \[M, D\], got shape \[3\]/);
    assert.throws(() => tocChannels(cube, 1), /got shape \[2, 2, 2\]/);
  } finally {
    vector.dispose();
    cube.dispose();
  }
  const empty = { modalities: [], encode: () => ({ codes: new Int32Array(0), quantized: new Float32Array(0) }) };
  assert.throws(() => selectChannels(empty, new Int32Array(0)), /channels must be a non-empty Int32Array/);
});

test("the eval pipeline's encoder with TOC channels gives exactly those columns of the codes", async () => {
  const model = new UniCodeModel(makeConfig('small', { modalities: 'AV' }), { seed: 3, backend: 'tfjs' });
  try {
    const channels = tocChannels(model.codebook.embedding(), 10);
    const features = Float32Array.from({ length: 2 * 10 * 32 }, (_, i) => Math.sin(i * 0.37));
    const full = await tensorEncoder(model).encode('audio', features, [2, 10, 32]);
    const kept = await namedEncoder('m', model, channels).encoder.encode('audio', features, [2, 10, 32]);
    assert.deepEqual(Array.from(kept.codes), Array.from(full.codes));
    const row = (r: number) => Array.from(channels, (c) => full.quantized[r * 64 + c]);
    const expected = Array.from({ length: 20 }, (_, r) => row(r)).flat();
    assert.deepEqual(Array.from(kept.quantized), expected);
  } finally {
    model.dispose();
  }
});

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TINY = ['--modalities', 'audio,text', '--clips', '40', '--backend', 'tfjs', '--tfjs', 'cpu'];

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("eval --toc k: each model's top-k channels reach the heads and the report; a k beyond D is refused", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-toc-'));
  const run = path.join(root, 'run');
  const pretrained = cli(['pretrain', ...TINY, '--batch-size', '8', '--max-steps', '1', '--out', run]);
  assert.equal(pretrained.status, 0, pretrained.stderr);
  const checkpoint = path.join(run, 'checkpoint.ckpt');
  const out = path.join(root, 'eval');
  const heads = ['--epochs', '1', '--tasks', 'classify'];
  const evaluated = cli(['eval', '--checkpoint', checkpoint, ...TINY, ...heads, '--toc', '7', '--out', out]);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stderr, /eval: TOC, the heads see 7 of 64 code dimensions/);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  const { model } = await Trainer.fromCheckpoint(checkpoint, { backend: 'tfjs', progress: false });
  try {
    assert.deepEqual(report.toc, { k: 7, channels: { run: Array.from(tocChannels(model.codebook.embedding(), 7)) } });
  } finally {
    model.dispose();
  }
  const refusals = [
    ['65', /--toc 65 is more than the 64 embedding dimensions of a model to evaluate/],
    ['0', /--toc must be an integer >= 1/],
  ] as const;
  for (const [k, pattern] of refusals) {
    const refusedOut = path.join(root, `eval-${k}`);
    const refused = cli(['eval', '--checkpoint', checkpoint, ...TINY, '--toc', k, '--out', refusedOut]);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, pattern);
    assert.ok(!fs.existsSync(refusedOut), `--toc ${k} wrote nothing`);
  }
});
