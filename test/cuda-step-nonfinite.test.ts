// A training step on the tfjs 'cuda' backend whose z turns non-finite: the model's hot ops run without
// the public ops' finiteness scan (no flag read), so the step's own checks (the CLUB costs, the loss
// terms, both before the MM-EMA update and the Adam step) must refuse it, with the weights,
// optimizers, codebook and RNG as they were and no tensor behind.
import { before, test } from 'node:test';
import { loadCudaTfjs, type Tf } from './cuda-backend-support.js';

let tf: Tf;
let skip: string | undefined;

before(async () => {
  const loaded = await loadCudaTfjs();
  if ('skip' in loaded) skip = loaded.skip;
  else tf = loaded.tf;
});

test('a batch that makes z non-finite fails the cuda step before any state changes', async (c) => {
  if (skip) return c.skip(skip);
  await tf.setBackend('cuda');
  const { UniCodeModel } = await import('../src/model/uniCode.js');
  const { Trainer } = await import('../src/train/trainer.js');
  const { syntheticBatches, tinyConfig } = await import('./train-support.js');
  const { assertStepRefused, overflowingAudio } = await import('./nonfinite-step-support.js');
  const cases = [
    // CLUB's inner steps come first: the audio pair's cost is NaN from the first inner step.
    { useClub: true, error: /step 2: CLUB \(audio\) log-likelihood is not finite \(inner step 1 of 5\)/ },
    // Without CLUB the loss terms are the first check.
    { useClub: false, error: /step 2: a loss term is not finite \(recon_audio=NaN/ },
  ];
  for (const { useClub, error } of cases) {
    const config = tinyConfig({ useClub });
    const [good] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 31 });
    const trainer = new Trainer(new UniCodeModel(config, { seed: 2, backend: 'cuda' }), { progress: false });
    try {
      // A first step: the optimizers hold moments and the codebook state is on the device.
      await trainer.step(good);
      await assertStepRefused(trainer, overflowingAudio(good), error);
    } finally {
      trainer.dispose();
      trainer.model.dispose();
    }
  }
});
