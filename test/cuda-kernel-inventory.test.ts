// The tfjs kernels a real pretraining step dispatches (recorded on tfjs cpu by
// bench/kernelInventory.ts) must all be registered by the tfjs 'cuda' backend: a kernel it lacks
// would fail the step on a GPU. The full table over every config and phase is in docs/cuda-backend.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableBackends } from '../src/backend.js';
import { initTfjs } from '../src/tfjs.js';
import { KernelRecorder, recordStep } from '../bench/kernelInventory.js';
import { cudaAddon, cudaBackendMissing, cudaRegisteredKernels } from './cuda-emulated-support.js';
import { tinyConfig } from './train-support.js';

test('every kernel of a tiny AVT pretraining step is registered by the cuda backend', async (t) => {
  await initTfjs('cpu');
  const recorder = new KernelRecorder();
  await recordStep(recorder, 'tiny AVT', tinyConfig(), 4, availableBackends().includes('cpu') ? 'cpu' : 'tfjs');
  const recorded = recorder.kernels();
  // The recorder must see the step's phases and its central kernels, or the subset check below means nothing.
  const phases = new Set([...recorder.uses.values()].flatMap((u) => [...u.phases]));
  for (const phase of ['forward', 'backward', 'club', 'adam'] as const) {
    assert.ok(phases.has(phase), `no kernel recorded in ${phase}`);
  }
  for (const kernel of ['BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Softmax']) {
    assert.ok(recorded.includes(kernel), `${kernel} not recorded (recorded: ${recorded.join(', ')})`);
  }
  const addon = cudaAddon();
  if ('skip' in addon) return t.skip(addon.skip);
  const backendMissing = cudaBackendMissing();
  const needs = `the step needs ${recorded.length} kernels: ${recorded.join(', ')}`;
  assert.equal(backendMissing, undefined, `${backendMissing}; ${needs}`);
  const registered = new Set(cudaRegisteredKernels(addon.path));
  const missing = recorded.filter((k) => !registered.has(k));
  const lacks = `the cuda backend lacks ${missing.length} of the step's ${recorded.length} kernels: ${missing.join(', ')}`;
  assert.deepEqual(missing, [], lacks);
});
