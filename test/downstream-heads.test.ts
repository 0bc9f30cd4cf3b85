import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../src/data/errors.js';
import { DownstreamHead } from '../src/downstream/heads.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';

before(async () => {
  await initTfjs();
});

const N = 3;
const T = 4;
const D = 5;
const x = Float32Array.from({ length: N * T * D }, (_, i) => Math.sin(i * 1.7) * 2);

/**
 * The initial weights as documented: torch.nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn
 * from Rng(seed) in the order W1 [D, D], b1 [D], W2 [D, K], b2 [K].
 */
function initialWeights(seed: number, k: number) {
  const rng = new Rng(seed);
  const draw = (n: number) => Array.from({ length: n }, () => (2 * rng.next() - 1) / Math.sqrt(D));
  return { w1: draw(D * D), b1: draw(D), w2: draw(D * k), b2: draw(k) };
}

function linear(v: number[], w: number[], b: number[], outputs: number): number[] {
  return b.map((bias, o) => v.reduce((sum, value, i) => sum + value * w[i * outputs + o], bias));
}

function row(clip: number, segment: number): number[] {
  return Array.from(x.subarray((clip * T + segment) * D, (clip * T + segment + 1) * D));
}

test('classification head: Linear, max over segments, Linear, softmax', async () => {
  const k = 3;
  const head = new DownstreamHead('classify', D, k, 42);
  const got = await head.predict(x, N, T);
  head.dispose();
  const { w1, b1, w2, b2 } = initialWeights(42, k);
  for (let clip = 0; clip < N; clip++) {
    const hidden = Array.from({ length: T }, (_, s) => linear(row(clip, s), w1, b1, D));
    const pooled = hidden[0].map((_, d) => Math.max(...hidden.map((h) => h[d])));
    const logits = linear(pooled, w2, b2, k);
    const z = logits.map((l) => Math.exp(l - Math.max(...logits)));
    const expected = z.map((v) => v / z.reduce((a, b) => a + b, 0));
    expected.forEach((p, c) =>
      assert.ok(Math.abs(got[clip * k + c] - p) < 1e-5, `clip ${clip} class ${c}: ${got[clip * k + c]} vs ${p}`),
    );
  }
});

test('localization head: Linear then Linear on every segment, sigmoid', async () => {
  const k = 2;
  const head = new DownstreamHead('localize', D, k, 9);
  const got = await head.predict(x, N, T, 2); // batches of 2 clips: the batching must not show
  head.dispose();
  const { w1, b1, w2, b2 } = initialWeights(9, k);
  for (let clip = 0; clip < N; clip++) {
    for (let s = 0; s < T; s++) {
      const logits = linear(linear(row(clip, s), w1, b1, D), w2, b2, k);
      logits.forEach((l, c) => {
        const p = 1 / (1 + Math.exp(-l));
        assert.ok(Math.abs(got[(clip * T + s) * k + c] - p) < 1e-5, `clip ${clip} segment ${s} label ${c}`);
      });
    }
  }
});

test('training lowers the loss, is reproducible under a seed, and leaks no tensors', async () => {
  const labels = Int32Array.from([0, 2, 1]);
  const before = tf.memory().numTensors;
  const run = async () => {
    const head = new DownstreamHead('classify', D, 3, 1);
    const losses = await head.fit(x, N, T, labels, { epochs: 40, batchSize: 2, learningRate: 0.05 });
    const predictions = await head.predict(x, N, T);
    head.dispose();
    return { losses, predictions };
  };
  const first = await run();
  const second = await run();
  assert.equal(tf.memory().numTensors, before);
  assert.equal(first.losses.length, 40);
  assert.ok(first.losses[39] < first.losses[0] / 2, `loss ${first.losses[0]} -> ${first.losses[39]}`);
  assert.deepEqual(second.losses, first.losses);
  assert.deepEqual(second.predictions, first.predictions);
});

test('bad head inputs are refused before any training', async () => {
  const head = new DownstreamHead('localize', D, 2, 0);
  const before = tf.memory().numTensors;
  const invalid = (part: string) => (err: Error) => err instanceof InvalidInputError && err.message.includes(part);
  await assert.rejects(
    head.fit(x.subarray(1), N, T, new Uint8Array(N * T * 2), { epochs: 1 }),
    invalid(`are not [${N}, ${T}, ${D}]`),
  );
  await assert.rejects(head.fit(x, N, T, new Uint8Array(5), { epochs: 1 }), invalid('5 targets'));
  await assert.rejects(
    head.fit(x, N, T, new Uint8Array(N * T * 2), { epochs: 1, batchSize: 0 }),
    invalid("'batchSize'"),
  );
  await assert.rejects(head.predict(x, N + 1, T), invalid('are not'));
  assert.equal(tf.memory().numTensors, before);
  head.dispose();
  const classifier = new DownstreamHead('classify', D, 2, 0);
  await assert.rejects(classifier.fit(x, N, T, Int32Array.from([0, 1, 2]), { epochs: 1 }), invalid('outside [0, 2)'));
  classifier.dispose();
  assert.throws(() => new DownstreamHead('classify', 0, 2, 0), invalid("'dim'"));
});
