// Backend agreement at the extremes: every backend refuses the same bad state, saturates the same
// counters and computes the same loss near the float32 limit; and a tfjs fallback too large for
// tfjs wasm's heap is refused up front instead of leaving the backend unusable.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OpBackend } from '../src/backend.js';
import { codeMatchingLoss, infoNceLoss, mmEmaStep } from '../src/ops/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { assertClose, nativeMissingReason, normals, randomState, rng } from './ops-support.js';

before(async () => {
  await initTfjs('wasm');
});

const INT32_MAX = 0x7fffffff;
const nativeSkip = nativeMissingReason();
const BACKENDS: { backend: OpBackend; skip?: string }[] = [
  { backend: 'tfjs' },
  { backend: 'cpu', ...(nativeSkip === undefined ? {} : { skip: `native addon unavailable: ${nativeSkip}` }) },
];

/** A step with one modality pair whose indices use only codes 0 and 1 of m. */
function stepInputs(m: number, d: number) {
  const r = rng(501);
  const state = randomState(r, m, d);
  const n = 4;
  const z = [0, 1].map(() => normals(r, n * d));
  const indices = [0, 1].map(() => Int32Array.from([0, 1, 0, 1]));
  return { state, z, indices, n };
}

for (const { backend, skip } of BACKENDS) {
  test(`mmEmaStep (${backend}) refuses a negative emaCount, naming the entry`, { skip }, () => {
    const { state, z, indices } = stepInputs(6, 3);
    state.emaCount[4] = -0.5;
    assert.throws(
      () => mmEmaStep(state, z, indices, { seed: 1, segmentsPerClip: 2, backend }),
      /^Error: mmEmaStep: state\.emaCount must be >= 0 \(a decayed count\), but state\.emaCount\[4\] = -0\.5$/,
    );
  });

  test(`mmEmaStep (${backend}) saturates an unused counter at INT32_MAX instead of wrapping`, { skip }, () => {
    const { state, z, indices } = stepInputs(6, 3);
    state.unusedCount.set([0, 0, INT32_MAX, INT32_MAX - 1, -1, 5]);
    // deadAfter at its maximum: no counter is ever past it, so none is reset.
    const options = { seed: 1, segmentsPerClip: 2, deadAfter: INT32_MAX, backend };
    const { state: next } = mmEmaStep(state, z, indices, options);
    assert.deepEqual(Array.from(next.unusedCount), [0, 0, INT32_MAX, INT32_MAX, 0, 6]);
  });
}

/** Values of magnitude up to 3e38 (float32 max is 3.4e38), deterministic. */
const huge = (shape: number[], phase: number) => {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, (_, i) => 3e38 * Math.sin(1.7 * i + phase)),
    shape,
  );
};

const cpuSkip = BACKENDS[1].skip;
test('codeMatchingLoss on inputs near the float32 limit: tfjs is finite and agrees with cpu', { skip: cpuSkip }, () => {
  tf.tidy(() => {
    const z = [0, 1, 2].map((k) => huge([3, 2, 4], k) as tf.Tensor3D);
    const codebook = huge([5, 4], 7) as tf.Tensor2D;
    const cpu = codeMatchingLoss(z, codebook, { backend: 'cpu' }).dataSync()[0];
    const tfjs = codeMatchingLoss(z, codebook, { backend: 'tfjs' }).dataSync()[0];
    assert.ok(Number.isFinite(cpu), `cpu gives ${cpu}`);
    assertClose([tfjs], [cpu], 1e-5, 'loss on 3e38 inputs');
    const loss = (...zs: tf.Tensor[]) => codeMatchingLoss(zs as tf.Tensor3D[], codebook, { backend: 'tfjs' });
    const grads = tf.grads(loss)(z);
    for (const g of grads) assert.ok(Array.from(g.dataSync()).every(Number.isFinite), 'finite gradients');
  });
});

// Last in the file: on the old code this call broke tfjs wasm for the rest of the process.
test('tfjs fallbacks too large for the backend are refused up front, and the backend keeps working', async () => {
  for (const kind of ['wasm', 'cpu'] as const) {
    await initTfjs(kind);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      // 2^16 rows against 2^14 codes: one [B*T, M] matrix alone is 4 GiB.
      const z = [0, 1].map(() => tf.ones([1024, 64, 1]) as tf.Tensor3D);
      assert.throws(
        () => codeMatchingLoss(z, tf.ones([16384, 1]) as tf.Tensor2D, { backend: 'tfjs' }),
        new RegExp(
          '^Error: codeMatchingLoss: the tfjs fallback needs about [\\d.]+ GiB for K = 2 modalities of ' +
            'B\\*T = 65536 rows against M = 16384 codes .*run it on the cpu or cuda backend',
        ),
      );
      // B = 2^16: one B x B score matrix alone is 16 GiB.
      const rows = [0, 1].map(() => tf.ones([65536, 1]) as tf.Tensor2D);
      assert.throws(
        () =>
          infoNceLoss(
            rows,
            rows,
            [
              [0, 1],
              [1, 0],
            ],
            { backend: 'tfjs' },
          ),
        /^Error: infoNceLoss: the tfjs fallback needs about [\d.]+ GiB for K = 2 modalities of B = 65536 rows/,
      );
    });
    assert.equal(tf.memory().numTensors, before, `nothing leaked on ${kind}`);
    assert.equal(tf.getBackend(), kind);
    const product = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
    assert.deepEqual(Array.from(product.dataSync()), [19, 22, 43, 50], `a 2x2 product on ${kind} afterwards`);
  }
});
