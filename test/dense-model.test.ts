// Model level: training steps give the same losses with and without the native dense kernels.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { disableNativeDense, enableNativeDense, nativeDenseStatus } from '../src/dense/index.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer, type StepMetrics } from '../src/train/trainer.js';
import { initTfjs, type TfjsKind } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

after(() => disableNativeDense());

/** Metrics of two consecutive steps (the second one sees the first one's updates). */
async function twoSteps(host: TfjsKind, native: boolean): Promise<StepMetrics[]> {
  await initTfjs(host);
  disableNativeDense();
  if (native) {
    const enabled = enableNativeDense({ minFlops: 0, minElements: 0 });
    assert.ok(enabled.enabled, `native dense kernels unavailable: ${enabled.reason}`);
  }
  try {
    const config = tinyConfig();
    // The hot ops (quantize's exact argmin, MM-EMA, ...) run on the native CPU backend in both runs,
    // so only the dense kernels differ.
    const trainer = new Trainer(new UniCodeModel(config, { seed: 5, backend: 'cpu' }), { progress: false });
    const batches = syntheticBatches(config, { batches: 2, batchSize: 6, seed: 9 });
    const steps = [];
    for (const batch of batches) steps.push(await trainer.step(batch));
    return steps;
  } finally {
    disableNativeDense();
  }
}

/** Every loss term of `got` within `tol` relative (plus 1e-6 absolute: the MI terms sit near 0) of `want`. */
function assertLossesClose(got: StepMetrics['loss'], want: StepMetrics['loss'], label: string, tol = 1e-4): void {
  const flat = (l: StepMetrics['loss']): [string, number][] => [
    ['total', l.total],
    ['cpc', l.cpc],
    ['cmcm', l.cmcm],
    ...(['recon', 'commitment', 'mi'] as const).flatMap((k) =>
      Object.entries(l[k]).map(([m, v]): [string, number] => [`${k}.${m}`, v as number]),
    ),
  ];
  const wanted = new Map(flat(want));
  for (const [name, value] of flat(got)) {
    const expected = wanted.get(name)!;
    assert.ok(Number.isFinite(value), `${label} ${name} is ${value}`);
    assert.ok(
      Math.abs(value - expected) <= tol * Math.abs(expected) + 1e-6,
      `${label} ${name}: ${value} with the native dense kernels, ${expected} without`,
    );
  }
}

for (const [host, kernels] of [
  ['wasm', ['BatchMatMul', 'Conv2D', 'Transpose', 'Sum']],
  // On tfjs cpu the elementwise kernels are native too.
  ['cpu', ['BatchMatMul', 'Conv2D', 'Transpose', 'Sum', 'Add', 'Multiply', 'Relu']],
] as const) {
  test(`dense model: two training steps on tfjs ${host} give the same losses and gradients with and without the native kernels`, async () => {
    const before = nativeDenseStatus().counts;
    const native = await twoSteps(host, true);
    const counts = nativeDenseStatus().counts;
    for (const kernel of kernels) {
      assert.ok(counts[kernel].native > before[kernel].native, `${kernel} never ran natively`);
    }
    const reference = await twoSteps(host, false);
    native.forEach((step, i) => {
      assertLossesClose(step.loss, reference[i].loss, `step ${i + 1}`);
      // Gradient norms per sub-model: the decoders' reconstructions barely move the losses at init,
      // their gradients do. In step 1 convolution gradients differ by up to ~3e-5 from summation
      // order alone; step 2 follows an Adam update, which turns the sign of near-zero gradients
      // into whole learning-rate steps, so its tolerance is wider.
      const tol = i === 0 ? 2e-4 : 2e-3;
      for (const [group, norm] of Object.entries(step.gradNorm)) {
        const want = reference[i].gradNorm[group];
        assert.ok(
          Math.abs(norm - want) <= tol * want,
          `step ${i + 1} ${group} gradient norm: ${norm} native, ${want} tfjs`,
        );
      }
    });
  });
}
