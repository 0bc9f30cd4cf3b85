// Timing pretraining steps on the tfjs 'cuda' backend, shared by the cuda benchmark
// (bench/cuda.bench.ts) and the device check (bench/cudaDeviceCheck.ts): steps per second, the
// per-phase split, the kernels one step dispatches, and its host<->device copies.
import { type ConfigName, makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { PHASES, type PhaseTimings } from '../src/train/phaseTimer.js';
import { Trainer } from '../src/train/trainer.js';
import { tf } from '../src/tfjs.js';
import { KernelRecorder } from './kernelInventory.js';
import { syntheticBatchFor } from './syntheticBatch.js';

export interface CudaStepTiming {
  config: ConfigName;
  batch: number;
  tf32: boolean;
  /** Wall seconds of each timed step (after `warmup` untimed ones). */
  seconds: number[];
  medianSeconds: number;
  /** The last timed step's phase split (host wall time around each phase's dispatches). */
  phases: PhaseTimings;
  /** Kernel dispatches of one step, and how many distinct kernels. */
  kernelCalls: number;
  distinctKernels: number;
  /** Kernels one step dispatched that the cuda backend does not register (each would have thrown). */
  unregistered: string[];
  /** Host<->device copies of one steady-state step (tf.memory() of the cuda backend). */
  hostToDevice: number;
  deviceToHost: number;
}

interface CopyCounts {
  hostToDeviceCopies?: number;
  deviceToHostCopies?: number;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export function formatPhases(t: PhaseTimings): string {
  return `${PHASES.map((p) => `${p} ${t[p].toFixed(1)}`).join(', ')} (ms of ${t.total.toFixed(1)})`;
}

/**
 * `warmup` + `steps` AVT steps of `config` at `batch` clips on the already selected 'cuda' backend,
 * the hot ops on the 'cuda' op backend; TF32 products when `tf32` (UCMG_CUDA_TF32, read per call).
 */
export async function timeCudaSteps(
  config: ConfigName,
  batch: number,
  steps: number,
  warmup: number,
  tf32: boolean,
): Promise<CudaStepTiming> {
  const before = process.env.UCMG_CUDA_TF32;
  process.env.UCMG_CUDA_TF32 = tf32 ? '1' : '0';
  const model = new UniCodeModel(makeConfig(config), { seed: 1, backend: 'cuda' });
  const trainer = new Trainer(model, { progress: false });
  const data = syntheticBatchFor(config, batch);
  try {
    for (let i = 0; i < warmup; i++) await trainer.step(data);
    // One recorded step: its kernels and copies (recording costs a little host time, so it is not timed).
    const recorder = new KernelRecorder();
    const copiesBefore = tf.memory() as CopyCounts;
    recorder.start();
    try {
      await trainer.step(data);
    } finally {
      recorder.stop();
    }
    const copiesAfter = tf.memory() as CopyCounts;
    const registered = new Set(tf.getKernelsForBackend('cuda').map((k) => k.kernelName));
    const seconds: number[] = [];
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      await trainer.step(data);
      seconds.push((performance.now() - start) / 1000);
    }
    return {
      config,
      batch,
      tf32,
      seconds,
      medianSeconds: median(seconds),
      phases: trainer.lastTimings!,
      kernelCalls: [...recorder.uses.values()].reduce((s, u) => s + u.calls, 0),
      distinctKernels: recorder.uses.size,
      unregistered: recorder.kernels().filter((k) => !registered.has(k)),
      hostToDevice: (copiesAfter.hostToDeviceCopies ?? NaN) - (copiesBefore.hostToDeviceCopies ?? NaN),
      deviceToHost: (copiesAfter.deviceToHostCopies ?? NaN) - (copiesBefore.deviceToHostCopies ?? NaN),
    };
  } finally {
    trainer.dispose();
    model.dispose();
    if (before === undefined) delete process.env.UCMG_CUDA_TF32;
    else process.env.UCMG_CUDA_TF32 = before;
  }
}

export function describeTiming(t: CudaStepTiming): string[] {
  return [
    `${t.config} AVT batch ${t.batch}${t.tf32 ? ' TF32' : ' fp32'}: ${(1 / t.medianSeconds).toFixed(2)} steps/s ` +
      `(median ${(1000 * t.medianSeconds).toFixed(1)} ms of ${t.seconds.length})`,
    `  phases: ${formatPhases(t.phases)}`,
    `  kernels per step: ${t.kernelCalls} dispatches of ${t.distinctKernels} kernels; host fallbacks: ` +
      `${t.unregistered.length === 0 ? '0' : `${t.unregistered.length} (${t.unregistered.join(', ')})`}`,
    `  copies per step: ${t.hostToDevice} host->device, ${t.deviceToHost} device->host`,
  ];
}
