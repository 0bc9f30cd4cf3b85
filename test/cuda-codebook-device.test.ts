// The codebook's MM-EMA state stays on the tfjs 'cuda' backend's device: the step runs in the CUDA
// kernel on device tensors and matches the CPU kernel bit for bit; a SharedCodebook keeps its state
// there through checkpoints (toTensors/fromTensors) and rollbacks; and a steady-state training step
// copies between host and device only what the phases below list (docs/cuda-backend.md).
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

type Copies = { hostToDeviceCopies: number; deviceToHostCopies: number; numTensors: number };
const copies = () => tf.memory() as unknown as Copies;

/** Codes in [0, m) that leave some codes unused (so that dead codes get revived). */
function codes(count: number, m: number, seed: number): Int32Array {
  return Int32Array.from(randomValues(count, seed, 0, m / 2), (v) => Math.floor(v));
}

test('the MM-EMA step on device tensors: the CPU kernel state bit for bit, one read, nothing copied in', async (c) => {
  if (skip) return c.skip(skip);
  const { mmEmaStep, mmEmaStepOnDeviceTrusted } = await import('../src/ops/mmEma.js');
  const [k, b, t, m, d] = [3, 4, 5, 24, 8];
  const n = b * t;
  const state = {
    embedding: randomValues(m * d, 1, -0.01, 0.01),
    emaCount: randomValues(m, 2, 0, 3),
    emaWeight: randomValues(m * d, 3, -0.02, 0.02),
    // Some codes long unused: dead (> deadAfter), some recently used: active sources.
    unusedCount: Int32Array.from({ length: m }, (_, j) => (j % 3 === 0 ? 40 : j % 5)),
    m,
    d,
  };
  const z = [0, 1, 2].map((i) => randomValues(n * d, 10 + i, -0.05, 0.05));
  const indices = [0, 1, 2].map((i) => codes(n, m, 20 + i));
  const options = {
    decay: 0.99,
    epsilon: 1e-5,
    deadAfter: 30,
    activeBelow: 3,
    seed: 12345,
    resetEma: true,
    crossModal: true,
    segmentsPerClip: t,
  };
  const expected = mmEmaStep(state, z, indices, { ...options, backend: 'cpu' });
  assert.ok(expected.report.resetCodes.length > 0, 'the case revives dead codes');

  const device = {
    embedding: tf.tensor2d(state.embedding, [m, d]),
    emaCount: tf.tensor1d(state.emaCount),
    emaWeight: tf.tensor2d(state.emaWeight, [m, d]),
    unusedCount: tf.tensor1d(state.unusedCount, 'int32'),
  };
  const zAll = tf.tensor2d(Float32Array.from(z.flatMap((x) => Array.from(x))), [k * n, d]);
  const indicesAll = tf.tensor1d(Int32Array.from(indices.flatMap((x) => Array.from(x))), 'int32');
  const start = copies();
  const result = mmEmaStepOnDeviceTrusted(device, zAll, indicesAll, k, options);
  const end = copies();
  assert.equal(end.hostToDeviceCopies - start.hostToDeviceCopies, 0, 'nothing copied to the device');
  assert.equal(end.deviceToHostCopies - start.deviceToHostCopies, 1, 'one read: the report');
  assert.equal(end.numTensors - start.numTensors, 4, 'the new state, and nothing else, outlives the step');

  const read = (s: typeof device) => ({
    embedding: s.embedding.dataSync(),
    emaCount: s.emaCount.dataSync(),
    emaWeight: s.emaWeight.dataSync(),
    unusedCount: s.unusedCount.dataSync(),
  });
  const { m: _m, d: _d, ...expectedState } = expected.state;
  assert.deepEqual(read(result.state), expectedState);
  const { perplexity, ...rest } = result.report;
  const { perplexity: expectedPerplexity, ...expectedRest } = expected.report;
  assert.deepEqual(rest, expectedRest);
  perplexity.forEach((p, i) => assert.ok(Math.abs(p - expectedPerplexity[i]) <= 1e-12 * p, `perplexity ${i}`));
  const { m: _m2, d: _d2, ...input } = state;
  assert.deepEqual(read(device), input, 'the input state is not written');

  // Codes outside [0, m) are refused with the state unchanged and nothing left behind.
  const badIndices = tf.tensor1d(
    Int32Array.from({ length: k * n }, (_, i) => (i === 7 ? m : 0)),
    'int32',
  );
  const tensors = copies().numTensors;
  assert.throws(
    () => mmEmaStepOnDeviceTrusted(device, zAll, badIndices, k, options),
    /mmEmaStep: 1 indices lie outside \[0, m = 24\)/,
  );
  assert.equal(copies().numTensors, tensors);

  // The binding refuses a step that would write into an input or a report of the wrong size.
  const { activeCudaBackend } = await import('../src/cudaBackend/hotOps.js');
  const backend = activeCudaBackend()!;
  const handles = (s: typeof device) => ({
    embedding: backend.handle(s.embedding),
    emaCount: backend.handle(s.emaCount),
    emaWeight: backend.handle(s.emaWeight),
    unusedCount: backend.handle(s.unusedCount),
  });
  const report = tf.zeros([2 * k + 3 + 2 * m], 'int32');
  const call = (after: typeof device, reportTensor: typeof report) =>
    backend.native.mmEma({
      before: handles(device),
      after: handles(after),
      m,
      d,
      z: backend.handle(zAll),
      indices: backend.handle(indicesAll),
      k,
      n,
      options,
      report: backend.handle(reportTensor),
    });
  assert.throws(() => call(device, report), /must be distinct from each other and the inputs/);
  const short = tf.zeros([2 * k + 2 * m], 'int32');
  assert.throws(() => call(result.state, short), /report must hold 2k\+3\+2m = 57 elements, got 54/);
  assert.deepEqual(read(device), input, 'the refused calls wrote nothing');
  tf.dispose([...Object.values(device), ...Object.values(result.state), zAll, indicesAll, badIndices, report, short]);
});

test('a SharedCodebook on the cuda backend: device state equal to the CPU one, checkpoints, rollback', async (c) => {
  if (skip) return c.skip(skip);
  const { SharedCodebook } = await import('../src/model/sharedCodebook.js');
  const { Rng } = await import('../src/util/rng.js');
  const [b, t, d, m] = [4, 5, 8, 16];
  const options = {
    size: m,
    dim: d,
    modalities: ['audio', 'video', 'text'] as Array<'audio' | 'video' | 'text'>,
    segmentsPerClip: t,
    deadAfter: 1,
    activeBelow: 1,
  };
  const z = (step: number) =>
    [0, 1, 2].map((i) => tf.tensor3d(randomValues(b * t * d, 100 * step + i, -0.01, 0.01), [b, t, d]));
  /** Steps of a codebook on the current tfjs backend: the reports and the state after each. */
  const run = async (codebook: InstanceType<typeof SharedCodebook>, steps: number[]) => {
    const out = [];
    for (const step of steps) {
      const inputs = z(step);
      const { forward, report } = codebook.step(inputs, 1000 + step);
      const reported = await report;
      tf.dispose([...inputs, ...forward.quantized, ...forward.commitment, forward.cmcm!]);
      out.push({ report: reported, state: codebook.toTensors() });
    }
    return out;
  };
  await tf.setBackend('cpu');
  const onCpu = new SharedCodebook({ ...options, backend: 'cpu' }, new Rng(5));
  const expected = await run(onCpu, [1, 2, 3, 4]);
  assert.ok(
    expected.some((s) => s.report.resetCodes.length > 0),
    'the steps revive dead codes',
  );
  onCpu.dispose();

  await tf.setBackend('cuda');
  const onCuda = new SharedCodebook({ ...options, backend: 'cuda' }, new Rng(5));
  const [first, second] = await run(onCuda, [1, 2]);
  const sameReport = (got: typeof first.report, want: typeof first.report) => {
    const { perplexity, ...rest } = got;
    const { perplexity: wanted, ...wantedRest } = want;
    assert.deepEqual(rest, wantedRest);
    perplexity.forEach((p, i) => assert.ok(Math.abs(p - wanted[i]) <= 1e-12 * p));
  };
  for (const [i, got] of [first, second].entries()) {
    assert.deepEqual(got.state, expected[i].state, `state after step ${i + 1}`);
    sameReport(got.report, expected[i].report);
  }

  // A failed step rolls back to the snapshot, with the device state's tensors shared, not copied.
  const tensors = copies().numTensors;
  const snapshot = onCuda.snapshot();
  await run(onCuda, [9]);
  const uploads = copies().hostToDeviceCopies;
  onCuda.rollback(snapshot);
  onCuda.releaseSnapshot(snapshot);
  assert.equal(copies().hostToDeviceCopies, uploads, 'a rollback copies nothing to the device');
  assert.equal(copies().numTensors, tensors, 'no tensor left behind by the rolled-back step');
  assert.deepEqual(onCuda.toTensors(), second.state);

  // A forward whose step failed before its update leaves no device inputs behind after a rollback.
  const undone = onCuda.snapshot();
  const inputs = z(10);
  const forward = onCuda.forward(inputs);
  tf.dispose([...inputs, ...forward.quantized, ...forward.commitment, forward.cmcm!]);
  onCuda.rollback(undone);
  onCuda.releaseSnapshot(undone);
  assert.equal(copies().numTensors, tensors);
  await assert.rejects(onCuda.update(forward, 1), /dropped this forward's device inputs/);

  // A checkpoint round trip: the state leaves and re-enters the device unchanged.
  const saved = onCuda.toTensors();
  const restored = new SharedCodebook({ ...options, backend: 'cuda' }, new Rng(99));
  restored.fromTensors(saved);
  const [third] = await run(restored, [3]);
  const [fourth] = await run(restored, [4]);
  assert.deepEqual(third.state, expected[2].state);
  assert.deepEqual(fourth.state, expected[3].state);
  sameReport(fourth.report, expected[3].report);
  onCuda.dispose();
  restored.dispose();
  assert.equal(copies().numTensors, tensors - 4, "the codebooks' device states are freed");
});

type Phase = 'batch' | 'club' | 'main forward and backward' | 'loss terms and codebook' | 'clipping' | 'adam';

test('a steady-state tiny AVT step on the cuda backend: the host<->device copies of each phase', async (c) => {
  if (skip) return c.skip(skip);
  const { UniCodeModel } = await import('../src/model/uniCode.js');
  const { Trainer } = await import('../src/train/trainer.js');
  const { featureBatch } = await import('../bench/kernelInventory.js');
  const { tinyConfig } = await import('./train-support.js');
  await tf.setBackend('cuda');
  const config = tinyConfig();
  // The phase each afterPhase hook ends (the batch is uploaded before the first).
  const ends: Record<string, Phase> = {
    draws: 'batch',
    club: 'club',
    gradients: 'main forward and backward',
    codebook: 'loss terms and codebook',
    clip: 'clipping',
  };
  let marks: Array<{ phase: Phase; at: Copies }> = [];
  const model = new UniCodeModel(config, { seed: 7, backend: 'cuda' });
  const trainer = new Trainer(model, {
    progress: false,
    afterPhase: (phase) => {
      marks.push({ phase: ends[phase], at: copies() });
    },
  });
  const batch = featureBatch(config, 4);
  const perPhase = async () => {
    const start = copies();
    marks = [];
    await trainer.step(batch);
    marks.push({ phase: 'adam', at: copies() });
    let previous = start;
    return Object.fromEntries(
      marks.map(({ phase, at }) => {
        const delta = {
          in: at.hostToDeviceCopies - previous.hostToDeviceCopies,
          out: at.deviceToHostCopies - previous.deviceToHostCopies,
        };
        previous = at;
        return [phase, delta];
      }),
    );
  };
  try {
    // Two warm-up steps: the first creates the optimizers' slots and moves the codebook to the device.
    await perPhase();
    await perPhase();
    const k = 3;
    assert.ok(trainer.hyper.clubSteps > 1, 'the CLUB phase has several inner steps, whose costs are read at once');
    assert.deepEqual(await perPhase(), {
      // One upload per input modality: the feature batch.
      batch: { in: k, out: 0 },
      // Dropout masks are drawn on the device; out: the CLUB log-likelihoods of all clubSteps * k
      // inner steps in one read (metrics, also checked finite); the model's quantize scans nothing.
      club: { in: 0, out: 1 },
      // In: each modality's CLUB permutation (drawn by the step's host RNG); out: InfoNCE's hits
      // (metrics). No finiteness flags: the loss-term check below covers z.
      'main forward and backward': { in: k, out: 1 },
      // The loss terms (metrics) and the MM-EMA report (perplexity, equal_num, resets): the
      // codebook state stays on the device.
      'loss terms and codebook': { in: 0, out: 2 },
      // The gradient norms (metrics).
      clipping: { in: 0, out: 1 },
      adam: { in: 0, out: 0 },
    });
  } finally {
    trainer.dispose();
    model.dispose();
  }
});
