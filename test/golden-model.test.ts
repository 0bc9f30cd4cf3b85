// The model's modules against the published implementation's float64 outputs (docs/algorithm.md §7,
// test/fixtures/reference-step.json): SharedCodebook.step, Cross-CPC and CLUB. We run in float32, so
// values match to ~1e-5 relative and argmin indices exactly. Tensors are compared relative to
// their largest entry (floorFraction 1): float32 rounding scales with the data, not per entry.
//
// Two readings of the fixture, found by reproducing it:
// - Cross-CPC: the stored t_sample = 2 reproduces only with the context over steps 0..3 predicting
//   step 4, i.e. our tSample (the last context step) = t_sample + 1. The published code adds its
//   min_start_steps (1) to the drawn value; the fixture stores the draw.
// - Cross-CPC accuracies come in the order [a->v, a->t, v->a, v->t, t->a, t->v, a->a, v->v, t->t]
//   (x->y: target modality x, prediction modality y): the six cross pairs in modality order, then
//   the three same-modality pairs.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OpBackend } from '../src/backend.js';
import { Club } from '../src/model/club.js';
import type { Modality } from '../src/model/config.js';
import { CrossCpc } from '../src/model/crossCpc.js';
import { ParamStore } from '../src/model/params.js';
import { SharedCodebook } from '../src/model/sharedCodebook.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { Rng } from '../src/util/rng.js';
import { readFixture } from './golden-support.js';
import { assertClose, nativeDevices } from './ops-support.js';

interface Stored {
  shape: number[];
  data: number[];
}
type StateKey = 'embedding' | 'ema_count' | 'ema_weight' | 'unactivated_count';
interface Fixture {
  avt_quantizer_step: {
    config: { B: number; T: number; D: number; M: number; decay: number; epsilon: number; commitment_cost: number };
    init: Record<StateKey, Stored>;
    inputs: Record<Modality, Stored>;
    indices: Record<Modality, number[]>;
    outputs: Record<string, Stored | number>;
    after: Record<StateKey, Stored>;
    grads: Record<Modality, Stored>;
  };
  cross_cpc_avt: {
    config: { B: number; T: number; D: number; t_sample: number };
    state_dict: Record<string, Stored>;
    inputs: Record<Modality, Stored>;
    nce: number;
    accuracies: number[];
    grads: Record<Modality, Stored>;
  };
  club: {
    config: { B: number; T: number; x_dim: number; y_dim: number; hidden_size: number; permutation: number[] };
    state_dict: Record<string, Stored>;
    inputs: { x: Stored; y: Stored };
    loglikeli: number;
    mi_est: number;
    grads: { x: Stored; y: Stored };
  };
}

const MODALITIES: Modality[] = ['audio', 'video', 'text'];
const RTOL = 1e-5;
/** The fixture's accuracy order as [target, prediction] index pairs (see the file comment). */
const CPC_ACCURACY_ORDER: [number, number][] = [
  [0, 1],
  [0, 2],
  [1, 0],
  [1, 2],
  [2, 0],
  [2, 1],
  [0, 0],
  [1, 1],
  [2, 2],
];

const fixture = readFixture<Fixture>('reference-step.json');

const backends: { backend: OpBackend; skip?: string }[] = [
  { backend: 'tfjs' },
  ...nativeDevices().map(({ device, skip: why }) => ({
    backend: device as OpBackend,
    ...(why === undefined ? {} : { skip: why }),
  })),
];

before(async () => {
  await initTfjs();
});

const stored = (s: Stored) => tf.tensor(s.data, s.shape, 'float32');
const closeScalar = (actual: number, expected: number, what: string, rtol = RTOL) =>
  assert.ok(Math.abs(actual - expected) <= rtol * Math.abs(expected), `${what}: got ${actual}, want ${expected}`);
const closeTensor = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) =>
  assertClose(actual, expected, RTOL, what, 1);

/** Loads a torch state dict into a fresh ParamStore under `prefix.` (names are the torch names). */
function loadStateDict(store: ParamStore, prefix: string, dict: Record<string, Stored>): void {
  store.importWeights(Object.fromEntries(Object.entries(dict).map(([k, v]) => [`${prefix}.${k}`, v])));
}

for (const { backend, skip: backendSkip } of backends) {
  test(`SharedCodebook.step reproduces the published AVT codebook step (${backend})`, {
    skip: backendSkip,
  }, async () => {
    const q = fixture.avt_quantizer_step;
    const { T, D, M } = q.config;
    const codebook = new SharedCodebook(
      {
        size: M,
        dim: D,
        modalities: MODALITIES,
        segmentsPerClip: T,
        backend,
        commitment: q.config.commitment_cost,
        decay: q.config.decay,
        epsilon: q.config.epsilon,
      },
      {
        embedding: Float32Array.from(q.init.embedding.data),
        emaCount: Float32Array.from(q.init.ema_count.data),
        emaWeight: Float32Array.from(q.init.ema_weight.data),
        unusedCount: Int32Array.from(q.init.unactivated_count.data),
        m: M,
        d: D,
      },
    );
    const inputs = MODALITIES.map((m) => stored(q.inputs[m]) as tf.Tensor3D);
    let result: ReturnType<SharedCodebook['step']> | undefined;
    let losses: tf.Tensor | undefined;
    let quantized: tf.Tensor[] = [];
    // The fixture's scalar: a_loss + v_loss + t_loss + cmcm + 1e-3 Σaq² + 2e-3 Σvq² + 3e-3 Σtq².
    const grads = tf.grads((...z: tf.Tensor[]) => {
      result = codebook.step(z as tf.Tensor3D[], 12345);
      const { commitment, cmcm } = result.forward;
      losses = tf.keep(tf.stack([...commitment, cmcm!]));
      quantized = result.forward.quantized.map((t) => tf.keep(tf.clone(t)));
      const straightThrough = result.forward.quantized.map((t, i) => tf.mul(tf.sum(tf.square(t)), (i + 1) * 1e-3));
      return tf.addN([...commitment, cmcm!, ...straightThrough]) as tf.Scalar;
    })(inputs);
    const report = await result!.report;

    const lossValues = losses!.dataSync();
    MODALITIES.forEach((m, i) => {
      assert.deepEqual(Array.from(result!.forward.indices[i]), q.indices[m], `${m} indices`);
      closeScalar(lossValues[i], q.outputs[`${m}_loss`] as number, `${m}_loss`);
      closeTensor(quantized[i].dataSync(), (q.outputs[`${m}_quantized`] as Stored).data, `${m}_quantized`);
      closeTensor(grads[i].dataSync(), q.grads[m].data, `d scalar / d ${m}`);
      closeScalar(report.perplexity[i], q.outputs[`${m}_perplexity`] as number, `${m}_perplexity`);
    });
    closeScalar(lossValues[3], q.outputs.cmcm_loss as number, 'cmcm_loss');
    assert.equal(report.equalNum, q.outputs.equal_num, 'equal_num');
    const after = codebook.getState();
    closeTensor(after.embedding, q.after.embedding.data, 'embedding after the step');
    closeTensor(after.emaCount, q.after.ema_count.data, 'ema_count after the step');
    closeTensor(after.emaWeight, q.after.ema_weight.data, 'ema_weight after the step');
    assert.deepEqual(Array.from(after.unusedCount), q.after.unactivated_count.data, 'unused counters after the step');
    tf.dispose([...inputs, ...grads, losses!, ...quantized]);
    codebook.dispose();
  });

  test(`Cross-CPC with the published weights reproduces nce, accuracies and input gradients (${backend})`, {
    skip: backendSkip,
  }, () => {
    const c = fixture.cross_cpc_avt;
    const store = new ParamStore(new Rng(0));
    const hidden = c.state_dict['audio_ar_lstm.weight_hh_l0'].shape[1];
    const cpc = new CrossCpc(store, MODALITIES, c.config.D, hidden, 2, backend);
    loadStateDict(store, 'cpc', c.state_dict);
    const inputs = MODALITIES.map((m) => stored(c.inputs[m]) as tf.Tensor3D);
    let accuracies: number[][] = [];
    const { value, grads } = tf.valueAndGrads((...z: tf.Tensor[]) => {
      const out = cpc.forward(z as tf.Tensor3D[], c.config.t_sample + 1);
      accuracies = out.accuracies;
      return out.loss;
    })(inputs);
    closeScalar(value.dataSync()[0], c.nce, 'nce');
    assert.deepEqual(
      CPC_ACCURACY_ORDER.map(([m, n]) => accuracies[m][n]),
      c.accuracies,
      'accuracies',
    );
    MODALITIES.forEach((m, i) => closeTensor(grads[i].dataSync(), c.grads[m].data, `d nce / d ${m}`));
    tf.dispose([...inputs, ...grads, value]);
    store.dispose();
  });
}

test('CLUB with the published weights and permutation reproduces loglikeli, mi_est and its gradients', () => {
  const c = fixture.club;
  const store = new ParamStore(new Rng(0));
  const club = new Club(store, 'club', 'club', c.config.x_dim, c.config.y_dim, c.config.hidden_size);
  loadStateDict(store, 'club', c.state_dict);
  const x = stored(c.inputs.x);
  const y = stored(c.inputs.y);
  const permutation = Int32Array.from(c.config.permutation);
  const loglikeli = club.loglikeli(x, y);
  closeScalar(loglikeli.dataSync()[0], c.loglikeli, 'loglikeli');
  const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => club.miEst(a, b, permutation))([x, y]);
  // mi_est is the difference of two sums of order |loglikeli|: float32 holds it to that scale.
  assert.ok(
    Math.abs(value.dataSync()[0] - c.mi_est) <= RTOL * Math.abs(c.loglikeli),
    `mi_est: got ${value.dataSync()[0]}, want ${c.mi_est}`,
  );
  closeTensor(grads[0].dataSync(), c.grads.x.data, 'd mi_est / d x');
  closeTensor(grads[1].dataSync(), c.grads.y.data, 'd mi_est / d y');
  tf.dispose([x, y, loglikeli, value, ...grads]);
  store.dispose();
});
