// The hot ops on the tfjs 'cuda' backend take its device tensors directly: quantize reads z and
// the codebook where they are, writes its results as device tensors, and matches the native CPU
// kernel bit for bit; the only host traffic is one flag saying the operands are finite (none on
// the model's trusted path).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadCudaTfjs, randomValues, type Tf } from './cuda-backend-support.js';

let tf: Tf;
let skip: string | undefined;

before(async () => {
  const loaded = await loadCudaTfjs();
  if ('skip' in loaded) skip = loaded.skip;
  else tf = loaded.tf;
});

type Copies = { hostToDeviceCopies: number; deviceToHostCopies: number };

test('quantize on device tensors: bit-identical to the CPU kernel, one scalar read, no copies in', async (c) => {
  if (skip) return c.skip(skip);
  const { quantize } = await import('../src/ops/quantize.js');
  const [n, m, d] = [37, 19, 12];
  const zValues = randomValues(n * d, 21),
    codebookValues = randomValues(m * d, 22);
  await tf.setBackend('cpu');
  const expected = tf.tidy(() => {
    const r = quantize(tf.tensor2d(zValues, [n, d]), tf.tensor2d(codebookValues, [m, d]), {
      backend: 'cpu',
      gather: true,
    });
    return [r.indices.arraySync(), r.distances.arraySync(), r.quantized!.arraySync()];
  });
  await tf.setBackend('cuda');
  const z = tf.tensor2d(zValues, [n, d]),
    codebook = tf.tensor2d(codebookValues, [m, d]);
  const before = tf.memory() as unknown as Copies;
  const result = quantize(z, codebook, { backend: 'cuda', gather: true });
  const after = tf.memory() as unknown as Copies;
  assert.equal(after.hostToDeviceCopies - before.hostToDeviceCopies, 0, 'no operand was copied to the device');
  assert.equal(after.deviceToHostCopies - before.deviceToHostCopies, 1, 'one read: the finiteness flag');
  assert.equal(tf.getBackend(), 'cuda');
  assert.deepEqual([result.indices.arraySync(), result.distances.arraySync(), result.quantized!.arraySync()], expected);
  // The model's training step skips the scan: nothing read at all, the same codes.
  const { quantizeTrusted } = await import('../src/ops/quantize.js');
  const start = tf.memory() as unknown as Copies;
  const trusted = quantizeTrusted(z, codebook, 'cuda');
  const end = tf.memory() as unknown as Copies;
  assert.equal(end.hostToDeviceCopies - start.hostToDeviceCopies, 0);
  assert.equal(end.deviceToHostCopies - start.deviceToHostCopies, 0, 'no finiteness flag read');
  assert.deepEqual([trusted.indices.arraySync(), trusted.distances.arraySync()], expected.slice(0, 2));
  tf.dispose([z, codebook, result.indices, result.distances, result.quantized!, trusted.indices, trusted.distances]);

  const bad = tf.tensor2d([1, NaN], [1, 2]),
    one = tf.tensor2d([1, 2], [1, 2]);
  assert.throws(
    () => quantize(bad, one, { backend: 'cuda' }),
    /quantize: z contains a non-finite value \(NaN\) at flat index 1/,
  );
  tf.dispose([bad, one]);
});

const close = (a: number[], b: number[], tol: number) =>
  a.every((x, i) => Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(x)));

test('infoNce and code matching on device tensors: CPU kernel values, no copies in, only metrics out', async (c) => {
  if (skip) return c.skip(skip);
  const { infoNceLoss } = await import('../src/ops/infoNce.js');
  const { codeMatchingLoss } = await import('../src/ops/codeMatching.js');
  const weights = [
    [0, 1, 0.5],
    [1, 0, 1],
    [0.5, 1, 0],
  ];
  const [b, t, d, m] = [6, 3, 4, 5];
  const run = (backend: 'cpu' | 'cuda') => {
    const targets = [0, 1, 2].map((k) => tf.tensor2d(randomValues(b * d, 30 + k), [b, d]));
    const preds = [0, 1, 2].map((k) => tf.tensor2d(randomValues(b * d, 40 + k), [b, d]));
    const z = [0, 1, 2].map((k) => tf.tensor3d(randomValues(b * t * d, 50 + k), [b, t, d]));
    const codebook = tf.tensor2d(randomValues(m * d, 60), [m, d]);
    const copies = () => tf.memory() as unknown as Copies;
    const results = [];
    // Twice: the second call shows the steady state (the loss weights are uploaded once).
    for (let i = 0; i < 2; i++) {
      const before = copies();
      let accuracies: number[][] = [];
      const nce = tf.valueAndGrads((...xs: ReturnType<Tf['tensor']>[]) => {
        const r = infoNceLoss(xs.slice(0, 3) as never, xs.slice(3) as never, weights, { backend });
        accuracies = r.accuracies;
        return r.loss;
      })([...targets, ...preds]);
      const cm = tf.valueAndGrads((...xs: ReturnType<Tf['tensor']>[]) =>
        codeMatchingLoss(xs as never, codebook, { backend }),
      )(z);
      const after = copies();
      results.push({
        accuracies,
        nce: nce.value.dataSync()[0],
        nceGrads: nce.grads.flatMap((g) => Array.from(g.dataSync())),
        cm: cm.value.dataSync()[0],
        cmGrads: cm.grads.flatMap((g) => Array.from(g.dataSync())),
        uploads: after.hostToDeviceCopies - before.hostToDeviceCopies,
        downloads: after.deviceToHostCopies - before.deviceToHostCopies,
      });
      tf.dispose([nce.value, ...nce.grads, cm.value, ...cm.grads]);
    }
    tf.dispose([...targets, ...preds, ...z, codebook]);
    return results[1];
  };
  await tf.setBackend('cpu');
  const expected = run('cpu');
  await tf.setBackend('cuda');
  const tensorsBefore = tf.memory().numTensors;
  const actual = run('cuda');
  assert.deepEqual(actual.accuracies, expected.accuracies);
  assert.ok(close([actual.nce], [expected.nce], 1e-6), `infoNce loss ${actual.nce} vs ${expected.nce}`);
  assert.ok(close(actual.nceGrads, expected.nceGrads, 1e-5), 'infoNce gradients');
  assert.ok(close([actual.cm], [expected.cm], 1e-6), `code matching loss ${actual.cm} vs ${expected.cm}`);
  assert.ok(close(actual.cmGrads, expected.cmGrads, 1e-5), 'code matching gradients');
  assert.equal(actual.uploads, 0, 'no operand was copied to the device');
  // Reads: the two finiteness flags and the k*k hits (the accuracies).
  assert.equal(actual.downloads, 3);
  assert.equal(tf.memory().numTensors, tensorsBefore + 1, 'nothing leaked (one cached weights tensor)');
});
