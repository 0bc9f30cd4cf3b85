// The tfjs 'cuda' backend: pretraining steps per second for small and paper (AVT, batch 80) in
// exact fp32 and with the TF32 opt-in, the per-phase split, the kernels a step dispatches (and that
// none falls outside the backend), and the host<->device copies per step. Skips, saying why, where
// the backend cannot run (no GPU, or an addon built without CUDA).
// UCMG_BENCH_CUDA_SMALL_STEPS (default 20) and UCMG_BENCH_CUDA_PAPER_STEPS (default 5; 0 skips paper).
import { initTfjs } from '../src/tfjs.js';
import { describeTiming, timeCudaSteps } from './cudaSteps.js';

const BATCH = 80;
const SMALL_STEPS = Number(process.env.UCMG_BENCH_CUDA_SMALL_STEPS ?? 20);
const PAPER_STEPS = Number(process.env.UCMG_BENCH_CUDA_PAPER_STEPS ?? 5);

export async function run(): Promise<void> {
  try {
    await initTfjs('cuda');
  } catch (err) {
    console.log(`cuda: skipped, ${(err as Error).message}`);
    return;
  }
  const plan = [
    ['small', SMALL_STEPS],
    ['paper', PAPER_STEPS],
  ] as const;
  for (const [config, steps] of plan) {
    if (steps === 0) {
      console.log(`${config}: skipped (0 steps asked)`);
      continue;
    }
    for (const tf32 of [false, true]) {
      const timing = await timeCudaSteps(config, BATCH, steps, 1, tf32);
      for (const line of describeTiming(timing)) console.log(line);
      if (timing.unregistered.length > 0) process.exitCode = 1;
    }
  }
}
