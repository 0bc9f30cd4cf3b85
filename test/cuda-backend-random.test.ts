// Seeded uniform draws on the tfjs 'cuda' backend are tf.randomUniform's own values (seedrandom's
// alea, which tfjs uses), made on the device: a dropout mask costs no copy from the host.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { before, test } from 'node:test';
import { loadCudaTfjs, type Tf } from './cuda-backend-support.js';

let tf: Tf;
let skip: string | undefined;

before(async () => {
  const loaded = await loadCudaTfjs();
  if ('skip' in loaded) skip = loaded.skip;
  else tf = loaded.tf;
});

type Copies = { hostToDeviceCopies: number };

// Seeds as the model makes them (step seed * 1024 + counter, up to ~2^42) and small ones.
const SEEDS = [0, 1, 123, 4294967295 * 1024 + 1023];
// Sizes around the 1024 values each device thread draws after its jump, and a long sequence.
const SIZES = [1, 1023, 1024, 1025, 3 * 1024 + 17, 300_000];

test("alea's seeding matches seedrandom's, the generator tfjs draws from", async () => {
  const { aleaState } = await import('../src/cudaBackend/random.js');
  const fromTfjs = createRequire(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core'));
  const { alea } = fromTfjs('seedrandom') as {
    alea: (seed: string, o: { state: true }) => { state(): Record<string, number> };
  };
  for (const seed of [...SEEDS, 0.5].map(String)) {
    const { c, s0, s1, s2 } = alea(seed, { state: true }).state();
    assert.deepEqual(aleaState(seed), { s0, s1, s2, c }, `seed ${seed}`);
  }
});

test('seeded uniform draws on the device: tf.randomUniform bit for bit, nothing copied in', async (c) => {
  if (skip) return c.skip(skip);
  const { seededUniform, seededDropout } = await import('../src/ops/seededUniform.js');
  for (const seed of SEEDS) {
    for (const size of SIZES) {
      await tf.setBackend('cpu');
      const want = tf.randomUniform([size], 0, 1, 'float32', seed);
      const wanted = want.dataSync();
      want.dispose();
      await tf.setBackend('cuda');
      const uploads = (tf.memory() as unknown as Copies).hostToDeviceCopies;
      const got = seededUniform([size], seed);
      assert.equal((tf.memory() as unknown as Copies).hostToDeviceCopies, uploads);
      const values = got.dataSync();
      got.dispose();
      const first = values.findIndex((v, i) => v !== wanted[i]);
      assert.equal(first, -1, `seed ${seed}, size ${size}: first difference at ${first}`);
    }
  }
  // The dropout built on it is tf.dropout's.
  const x = Array.from({ length: 2 * 3 * 50 }, (_, i) => Math.sin(i));
  await tf.setBackend('cpu');
  const expected = tf.tidy(() => tf.dropout(tf.tensor3d(x, [2, 3, 50]), 0.3, undefined, 77).arraySync());
  await tf.setBackend('cuda');
  assert.deepEqual(
    tf.tidy(() => seededDropout(tf.tensor3d(x, [2, 3, 50]), 0.3, 77).arraySync()),
    expected,
  );
});
