// The tfjs 'cuda' backend's memory and failure behaviour: dispose returns memory to the pool,
// repeated training steps neither grow device memory nor allocate from the driver, running out
// of device memory (a test cap, UCMG_CUDA_MEMORY_LIMIT) is a JavaScript error naming the request
// and what is in use with every tensor intact, a tensor of another backend or a disposed one is
// a clear error, an unregistered kernel names itself, and selecting 'cuda' where it cannot run
// says why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCudaTfjs, randomValues, type Tf } from './cuda-backend-support.js';

let tf: Tf;
let skip: string | undefined;

before(async () => {
  const loaded = await loadCudaTfjs();
  if ('skip' in loaded) skip = loaded.skip;
  else tf = loaded.tf;
});

type CudaMemory = {
  numBytesInGPU: number;
  numBytesInGPUFree: number;
  hostToDeviceCopies: number;
  deviceToHostCopies: number;
  numTensors: number;
};
const memory = () => tf.memory() as unknown as CudaMemory;

/** One step of a tiny MLP with Adam: forward, backward, update; the loss is read back. */
function trainingStep(
  weights: ReturnType<Tf['variable']>[],
  optimizer: ReturnType<Tf['train']['adam']>,
  x: ReturnType<Tf['tensor']>,
) {
  const loss = optimizer.minimize(
    () =>
      tf.tidy(() => {
        const h = tf.relu(tf.matMul(x as never, weights[0] as never));
        return tf
          .softmax(tf.matMul(h, weights[1] as never))
          .square()
          .mean();
      }) as never,
    true,
  );
  const value = loss!.dataSync()[0];
  loss!.dispose();
  return value;
}

test('tf.memory() reports device bytes; dispose returns them to the pool', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cuda');
  const start = memory();
  const t = tf.tensor2d(randomValues(1000, 1), [10, 100]);
  assert.deepEqual(Array.from(t.dataSync()), Array.from(randomValues(1000, 1)), 'the upload round-trips');
  const during = memory();
  const constants = [tf.scalar(3), tf.ones([4, 5]), tf.tensor1d([2, 2, 2], 'int32')];
  assert.equal(
    memory().hostToDeviceCopies,
    during.hostToDeviceCopies,
    'uniform arrays are written by a kernel, not copied',
  );
  assert.deepEqual(
    constants.map((x) => Array.from(x.dataSync())),
    [[3], new Array(20).fill(1), [2, 2, 2]],
  );
  tf.dispose(constants);
  // 4000 bytes rounded up to the allocator's 512-byte class.
  assert.equal(during.numBytesInGPU - start.numBytesInGPU, 4096);
  assert.equal(during.hostToDeviceCopies - start.hostToDeviceCopies, 1);
  t.dispose();
  const after = memory();
  assert.equal(after.numBytesInGPU, start.numBytesInGPU, 'disposed bytes are no longer in use');
  assert.ok(after.numBytesInGPUFree >= 4096, 'the freed block is cached in the pool');
});

test('repeated training steps: no growth of device memory or tensors, no new driver allocations', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cuda');
  const weights = [
    tf.variable(tf.tensor2d(randomValues(8 * 6, 2, -0.5, 0.5), [8, 6])),
    tf.variable(tf.tensor2d(randomValues(6 * 4, 3, -0.5, 0.5), [6, 4])),
  ];
  const x = tf.tensor2d(randomValues(5 * 8, 4), [5, 8]);
  const optimizer = tf.train.adam(0.01);
  const native = (tf.backend() as unknown as { native: { memoryStats(): { driverAllocations: number } } }).native;
  for (let i = 0; i < 3; i++) trainingStep(weights, optimizer, x); // warm the pool and Adam's slots
  const before = { ...memory(), driver: native.memoryStats().driverAllocations };
  const losses: number[] = [];
  for (let i = 0; i < 20; i++) losses.push(trainingStep(weights, optimizer, x));
  const after = { ...memory(), driver: native.memoryStats().driverAllocations };
  assert.equal(after.numTensors, before.numTensors, 'tensors leaked');
  assert.equal(after.numBytesInGPU, before.numBytesInGPU, 'device bytes in use grew');
  assert.equal(after.driver, before.driver, 'steady-state steps allocated from the driver');
  // Per step exactly one download (the loss) and no copy to the device: tfjs's scalar constants go as
  // kernel arguments, everything else stays on the device.
  assert.equal(after.deviceToHostCopies - before.deviceToHostCopies, 20);
  assert.equal(after.hostToDeviceCopies - before.hostToDeviceCopies, 0);
  assert.ok(losses[19] < losses[0], `the loss falls (${losses[0]} -> ${losses[19]})`);
  optimizer.dispose();
  tf.dispose([...weights, x]);
});

test('out of device memory is a clear error; tensors and the pool are unchanged after it', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cuda');
  const kept = tf.tensor1d(randomValues(256, 5));
  const keptValues = Array.from(kept.dataSync());
  const inUse = memory().numBytesInGPU;
  process.env.UCMG_CUDA_MEMORY_LIMIT = String(inUse + memory().numBytesInGPUFree + (1 << 20));
  try {
    assert.throws(
      () => tf.tidy(() => tf.zeros([1 << 22]).add(1)),
      new RegExp(
        'cuda backend: out of device memory: could not allocate 16777216 bytes \\(16\\.0 MiB\\); ' +
          'in use: \\d+ bytes .* by \\d+ tensors; limit \\(UCMG_CUDA_MEMORY_LIMIT\\)',
      ),
    );
    assert.equal(memory().numBytesInGPU, inUse, 'nothing stays allocated by the failed op');
    // Work that fits still runs, and the tensor made before the failure is intact.
    assert.deepEqual(Array.from(kept.add(0).dataSync()), keptValues);
  } finally {
    delete process.env.UCMG_CUDA_MEMORY_LIMIT;
  }
  kept.dispose();
});

test('a tensor of another backend, a disposed tensor and an unregistered kernel each give a clear error', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cpu');
  const onCpu = tf.tensor1d([1, 2, 3]);
  await tf.setBackend('cuda');
  assert.throws(
    () => tf.add(onCpu, tf.scalar(1)),
    /Add: the input tensor of shape \[3\] lives on the 'cpu' backend, not on 'cuda'/,
  );
  assert.deepEqual(Array.from(onCpu.dataSync()), [1, 2, 3], 'the cpu tensor is unchanged');
  onCpu.dispose();
  const gone = tf.tensor1d([1, 2]);
  gone.dispose();
  assert.throws(() => gone.add(1), /Tensor is disposed/);
  assert.throws(() => tf.cumsum(tf.tensor1d([1, 2])), /Kernel 'Cumsum' not registered for backend 'cuda'/);
});

test('the binding refuses views that leave their tensor and handles that name nothing', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cuda');
  const native = (
    tf.backend() as unknown as {
      native: {
        allocate(n: number, d: string): number;
        free(h: number): void;
        elementwise(op: number, shape: number[], out: number[], inputs: number[][]): void;
        download(h: number): unknown;
      };
    }
  ).native;
  const a = native.allocate(6, 'float32'),
    out = native.allocate(6, 'float32');
  assert.throws(
    () => native.elementwise(2, [2, 3], [out, 0, 3, 1], [[a, 1, 3, 1]]),
    /inputs\[0\] reaches elements 1\.\.6 of a tensor of 6/,
  );
  assert.throws(() => native.elementwise(2, [2, 3], [out, 0, 0, 1], [[a, 0, 3, 1]]), /out has stride 0 on axis 0/);
  // A getter on an input slot could free `out` after its handle was checked: it is refused unrun.
  let getterRan = false;
  const inputs: number[][] = [];
  Object.defineProperty(inputs, 0, {
    enumerable: true,
    get() {
      getterRan = true;
      native.free(out);
      return [a, 0, 3, 1];
    },
  });
  assert.throws(() => native.elementwise(2, [2, 3], [out, 0, 3, 1], inputs), /inputs\[0\] must be a data property/);
  assert.equal(getterRan, false);
  native.free(a);
  assert.throws(() => native.download(a), /names no live device tensor/);
  native.free(out);
});

test("selecting 'cuda' where it cannot run is an error saying why", (c) => {
  if (skip) return c.skip(skip);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const script =
    `import('${path.join(root, 'dist/src/tfjs.js')}').then((m) => m.initTfjs()).then(` +
    `() => console.log('selected'), (e) => console.log(e.message))`;
  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, UCMG_TFJS_BACKEND: 'cuda', ...env },
    }).stdout.trim();
  assert.match(
    run({ UCMG_NATIVE: '0' }),
    /initTfjs: the tfjs 'cuda' backend was requested \(UCMG_TFJS_BACKEND\) but the native addon is unavailable/,
  );
  const release = path.join(root, 'build/Release/unicode_cmg.node');
  assert.match(run({ UCMG_NATIVE_PATH: release }), /was built without CUDA|CUDA is not usable here/);
});

test('Uni-Code steps of the tiny AVT config: device memory and tensors flat, copies per step steady', async (c) => {
  if (skip) return c.skip(skip);
  const { UniCodeModel } = await import('../src/model/uniCode.js');
  const { Trainer } = await import('../src/train/trainer.js');
  const { featureBatch } = await import('../bench/kernelInventory.js');
  const { tinyConfig } = await import('./train-support.js');
  await tf.setBackend('cuda');
  const config = tinyConfig();
  const model = new UniCodeModel(config, { seed: 7, backend: 'cuda' });
  const trainer = new Trainer(model, { progress: false });
  const batch = featureBatch(config, 4);
  const perStep: Array<{ uploads: number; downloads: number; tensors: number; bytes: number }> = [];
  try {
    for (let i = 0; i < 3; i++) {
      const before = memory();
      await trainer.step(batch);
      const after = memory();
      perStep.push({
        uploads: after.hostToDeviceCopies - before.hostToDeviceCopies,
        downloads: after.deviceToHostCopies - before.deviceToHostCopies,
        tensors: after.numTensors,
        bytes: after.numBytesInGPU,
      });
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
  // From the second step on (the first creates the optimizer's slots) nothing grows.
  for (const step of perStep.slice(2)) assert.deepEqual(step, perStep[1]);
});
