// The ops against the published implementation's float64 outputs (docs/algorithm.md §7,
// test/fixtures/reference-step.json "avt_quantizer_step"), on every available backend. Our ops run
// in float32, so values match to ~1e-5 relative; argmin indices match exactly.
//
// Not covered here: the Cross-CPC fixture needs the model's LSTMs (the model's tests own it), and
// the dead-code reset: the fixture starts every unused counter at -1, so after one step every
// counter is 0 and nothing is dead (asserted below, so a changed fixture is noticed).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { codeMatchingLoss, mmEmaStep, quantize, type OpBackend } from '../src/ops/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { readFixture } from './golden-support.js';
import { assertClose, nativeDevices } from './ops-support.js';

interface Stored {
  shape: number[];
  data: number[];
}
interface QuantizerStep {
  config: { B: number; T: number; D: number; M: number; decay: number; epsilon: number; commitment_cost: number };
  init: Record<'embedding' | 'ema_count' | 'ema_weight' | 'unactivated_count', Stored>;
  inputs: Record<Modality, Stored>;
  indices: Record<Modality, number[]>;
  outputs: Record<string, Stored | number>;
  after: Record<'embedding' | 'ema_count' | 'ema_weight' | 'unactivated_count', Stored>;
  grads: Record<Modality, Stored>;
}
type Modality = 'audio' | 'video' | 'text';
/** The published module's order: it updates the EMA for audio, then video, then text. */
const MODALITIES: Modality[] = ['audio', 'video', 'text'];
/** The stated scalar's straight-through terms: 1e-3*sum(aq^2) + 2e-3*sum(vq^2) + 3e-3*sum(tq^2). */
const STRAIGHT_THROUGH: Record<Modality, number> = { audio: 1e-3, video: 2e-3, text: 3e-3 };

const step = readFixture<{ avt_quantizer_step: QuantizerStep }>('reference-step.json').avt_quantizer_step;

const backends: { backend: OpBackend; skip?: string }[] = [
  { backend: 'tfjs' },
  ...nativeDevices().map(({ device, skip }) => ({
    backend: device as OpBackend,
    ...(skip === undefined ? {} : { skip }),
  })),
];

before(async () => {
  await initTfjs();
});

const f32 = (s: Stored) => Float32Array.from(s.data);
const scalar = (name: string) => step.outputs[name] as number;

/** Quantize every modality of the fixture; returns indices and the selected rows. */
function quantizeAll(backend: OpBackend): Record<Modality, { indices: Int32Array; quantized: Float32Array }> {
  const { B, T, D, M } = step.config;
  return tf.tidy(() => {
    const codebook = tf.tensor2d(f32(step.init.embedding), [M, D]);
    const out = {} as Record<Modality, { indices: Int32Array; quantized: Float32Array }>;
    for (const mod of MODALITIES) {
      const r = quantize(tf.tensor2d(f32(step.inputs[mod]), [B * T, D]), codebook, { backend, gather: true });
      out[mod] = { indices: r.indices.dataSync() as Int32Array, quantized: r.quantized!.dataSync() as Float32Array };
    }
    return out;
  });
}

for (const { backend, skip } of backends) {
  test(`golden avt_quantizer_step (${backend}): indices, quantized rows and commitment losses`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const q = quantizeAll(backend);
    const beta = step.config.commitment_cost;
    for (const mod of MODALITIES) {
      assert.deepEqual(Array.from(q[mod].indices), step.indices[mod], `${mod} indices`);
      assertClose(q[mod].quantized, (step.outputs[`${mod}_quantized`] as Stored).data, 1e-7, `${mod} quantized`);
      // docs/algorithm.md §3.2: 2*beta*mse(z, q_own) + beta/(K-1) * mse(z, q_other) for each other modality.
      const z = step.inputs[mod].data;
      const mse = (other: Modality) => q[other].quantized.reduce((acc, v, i) => acc + (z[i] - v) ** 2, 0) / z.length;
      const loss =
        2 * beta * mse(mod) + MODALITIES.filter((o) => o !== mod).reduce((acc, o) => acc + (beta / 2) * mse(o), 0);
      assertClose([loss], [scalar(`${mod}_loss`)], 1e-5, `${mod}_loss`);
    }
  });

  test(`golden avt_quantizer_step (${backend}): cmcm loss and the gradients of the stated scalar`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const { B, T, D, M } = step.config;
    const beta = step.config.commitment_cost;
    const q = quantizeAll(backend);
    const { loss, grads } = tf.tidy(() => {
      const codebook = tf.tensor2d(f32(step.init.embedding), [M, D]);
      const zs = MODALITIES.map((mod) => tf.tensor3d(f32(step.inputs[mod]), [B, T, D]));
      const value = codeMatchingLoss(zs, codebook, { backend }).dataSync()[0];
      const g = tf.grads((...x: tf.Tensor[]) => codeMatchingLoss(x as tf.Tensor3D[], codebook, { backend }))(zs);
      return { loss: value, grads: g.map((x) => x.dataSync() as Float32Array) };
    });
    assertClose([loss], [scalar('cmcm_loss')], 1e-5, 'cmcm_loss');
    MODALITIES.forEach((mod, k) => {
      // d/dz of the commitment terms (q is a constant) and of c*sum(zq^2) with zq = z + sg(q - z).
      const z = step.inputs[mod].data;
      const n = z.length;
      const total = z.map((zi, i) => {
        let g =
          grads[k][i] +
          2 * STRAIGHT_THROUGH[mod] * q[mod].quantized[i] +
          (2 * beta * 2 * (zi - q[mod].quantized[i])) / n;
        for (const other of MODALITIES) if (other !== mod) g += ((beta / 2) * 2 * (zi - q[other].quantized[i])) / n;
        return g;
      });
      assertClose(total, step.grads[mod].data, 1e-5, `d(scalar)/d${mod}`, 1);
    });
  });

  test(`golden avt_quantizer_step (${backend}): MM-EMA state, perplexities and equal_num after the step`, (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const { T, D, M, decay, epsilon } = step.config;
    const state = {
      embedding: f32(step.init.embedding),
      emaCount: f32(step.init.ema_count),
      emaWeight: f32(step.init.ema_weight),
      unusedCount: Int32Array.from(step.init.unactivated_count.data),
      m: M,
      d: D,
    };
    const { state: after, report } = mmEmaStep(
      state,
      MODALITIES.map((mod) => f32(step.inputs[mod])),
      MODALITIES.map((mod) => Int32Array.from(step.indices[mod])),
      { decay, epsilon, seed: 7, segmentsPerClip: T, backend },
    );
    assertClose(after.emaCount, step.after.ema_count.data, 1e-5, 'ema_count', 0);
    assertClose(after.emaWeight, step.after.ema_weight.data, 1e-5, 'ema_weight');
    assertClose(after.embedding, step.after.embedding.data, 1e-5, 'embedding', 0);
    assert.deepEqual(Array.from(after.unusedCount), step.after.unactivated_count.data, 'unactivated_count');
    assert.deepEqual(report.resetCodes, [], 'no code is dead after one step from -1');
    assertClose(
      report.perplexity,
      MODALITIES.map((mod) => scalar(`${mod}_perplexity`)),
      1e-9,
      'perplexities',
    );
    assert.equal(report.equalNum, scalar('equal_num'), 'equal_num');
  });
}
