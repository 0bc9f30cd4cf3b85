// The hot ops on the tfjs 'cuda' backend take its device tensors directly: quantize reads z and
// the codebook where they are, writes its results as device tensors, and matches the native CPU
// kernel bit for bit; the only host traffic is one flag saying the operands are finite.
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
  const zValues = randomValues(n * d, 21), codebookValues = randomValues(m * d, 22);
  await tf.setBackend('cpu');
  const expected = tf.tidy(() => {
    const r = quantize(tf.tensor2d(zValues, [n, d]), tf.tensor2d(codebookValues, [m, d]), { backend: 'cpu',
      gather: true });
    return [r.indices.arraySync(), r.distances.arraySync(), r.quantized!.arraySync()];
  });
  await tf.setBackend('cuda');
  const z = tf.tensor2d(zValues, [n, d]), codebook = tf.tensor2d(codebookValues, [m, d]);
  const before = tf.memory() as unknown as Copies;
  const result = quantize(z, codebook, { backend: 'cuda', gather: true });
  const after = tf.memory() as unknown as Copies;
  assert.equal(after.hostToDeviceCopies - before.hostToDeviceCopies, 0, 'no operand was copied to the device');
  assert.equal(after.deviceToHostCopies - before.deviceToHostCopies, 1, 'one read: the finiteness flag');
  assert.equal(tf.getBackend(), 'cuda');
  assert.deepEqual([result.indices.arraySync(), result.distances.arraySync(), result.quantized!.arraySync()], expected);
  tf.dispose([z, codebook, result.indices, result.distances, result.quantized!]);

  const bad = tf.tensor2d([1, NaN], [1, 2]), one = tf.tensor2d([1, 2], [1, 2]);
  assert.throws(() => quantize(bad, one, { backend: 'cuda' }),
    /quantize: z contains a non-finite value \(NaN\) at flat index 1/);
  tf.dispose([bad, one]);
});
