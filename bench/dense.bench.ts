// The native dense kernels (src/dense) against tfjs's own, in one run:
//   1. kernels: matrix products and convolutions from tiny to layer-sized, and the model's costly
//      transposes and sums, native vs tfjs wasm vs tfjs cpu. The crossover on small products is
//      where DEFAULT_MIN_FLOPS comes from.
//   2. pretraining steps, small and paper, AVT, batch 80: tfjs wasm with the native dense kernels,
//      plain tfjs wasm, plain tfjs cpu; the hot ops (quantize, MM-EMA, ...) run on the same op
//      backend in every case, so the ratios isolate the dense kernels. Each variant's phase split
//      and the tfjs kernels that take its time.
//   3. the PyTorch anchor (bench/pytorch_anchor.py, the same architecture written in PyTorch) in
//      float32 and float64 on the same machine, and the ratios between them.
// Steps are timed by hand (a small step is seconds, a paper step minutes): UCMG_BENCH_DENSE_SMALL_STEPS
// (default 5) small steps per variant, UCMG_BENCH_DENSE_PAPER_STEPS (default 1, 0 skips paper).
// UCMG_BENCH_DENSE_PAPER_CPU=1 also runs paper on tfjs cpu (hours). UCMG_PYTHON: the Python with
// torch (default: the first of python3, /usr/bin/python3 that imports torch).
import { syntheticBatchFor } from './syntheticBatch.js';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@tensorflow/tfjs-core';
import { availableBackends, type OpBackend } from '../src/backend.js';
import { disableNativeDense, enableNativeDense, nativeDenseStatus } from '../src/dense/index.js';
import { type ConfigName, makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import { PHASES, type PhaseTimings } from '../src/train/phaseTimer.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs, tf, type TfjsKind } from '../src/tfjs.js';
import { type CaseSpec, Ledger, measure } from './harness.js';

const BATCH = 80;
const PAPER_STEPS = Number(process.env.UCMG_BENCH_DENSE_PAPER_STEPS ?? 1);
const SMALL_STEPS = Number(process.env.UCMG_BENCH_DENSE_SMALL_STEPS ?? 5);

/** A way of running tfjs: its backend (the dense hosts, wasm or cpu), with or without the native dense kernels. */
interface Variant {
  label: string;
  tfjs: Exclude<TfjsKind, 'cuda'>;
  native: boolean;
}
const NATIVE: Variant = { label: 'native', tfjs: 'wasm', native: true };
const WASM: Variant = { label: 'tfjs-wasm', tfjs: 'wasm', native: false };
const CPU: Variant = { label: 'tfjs-cpu', tfjs: 'cpu', native: false };
const VARIANTS = [NATIVE, WASM, CPU];

async function activate(variant: Variant): Promise<void> {
  await initTfjs(variant.tfjs);
  disableNativeDense();
  if (variant.native) {
    const result = enableNativeDense();
    if (!result.enabled) throw new Error(`native dense kernels unavailable: ${result.reason}`);
  }
}

/** Deterministic data (values do not matter for speed). */
function filled(shape: number[], seed: number): Tensor {
  const size = tf.util.sizeFromShape(shape);
  return tf.tensor(
    Float32Array.from({ length: size }, (_, i) => Math.sin(0.37 * i + seed)),
    shape,
  );
}

// ---- 1. kernels ---------------------------------------------------------------------------------

interface KernelCase extends CaseSpec {
  inputs: () => Tensor[];
  body: (inputs: Tensor[]) => Tensor;
}

function matMulCase(m: number, k: number, n: number, batch = 1): KernelCase {
  const lead = batch > 1 ? [batch] : [];
  return {
    name: `matMul ${batch > 1 ? `${batch}x` : ''}[${m}x${k}] x [${k}x${n}]`,
    family: 'matmul',
    flops: 2 * batch * m * k * n,
    inputs: () => [filled([...lead, m, k], 1), filled([...lead, k, n], 2)],
    body: ([a, b]) => tf.matMul(a, b),
  };
}

function convCase(label: string, x: number[], filter: number[], pad: 'same' | 'valid', cpuSkip?: string): KernelCase {
  const out = tf.backend_util.computeConv2DInfo(
    x as [number, number, number, number],
    filter as [number, number, number, number],
    1,
    1,
    pad,
  ).outShape;
  return {
    name: `conv2d ${label} x[${x}] f[${filter}] ${pad}`,
    family: 'conv',
    flops: 2 * tf.util.sizeFromShape(out) * filter[0] * filter[1] * filter[2],
    skipReason: (backend) => (backend === CPU.label ? cpuSkip : undefined),
    inputs: () => [filled(x, 3), filled(filter, 4)],
    body: ([xs, f]) => tf.conv2d(xs as tf.Tensor4D, f as tf.Tensor4D, 1, pad),
  };
}

function layoutCase(name: string, shape: number[], body: (x: Tensor) => Tensor): KernelCase {
  return { name, family: 'layout', flops: 0, inputs: () => [filled(shape, 5)], body: ([x]) => body(x) };
}

const KERNEL_CASES: KernelCase[] = [
  ...[8, 16, 24, 32, 48, 64, 96, 128, 256, 512].map((s) => matMulCase(s, s, s)),
  matMulCase(800, 64, 64), // small config linear over B*T rows
  matMulCase(800, 256, 1024), // paper feed-forward
  matMulCase(10, 64, 10, 320), // attention scores, B*heads batched
  convCase('small conv1', [800, 7, 7, 32], [3, 3, 32, 64], 'valid'),
  convCase('small residual', [800, 3, 3, 128], [3, 3, 128, 128], 'same'),
  convCase(
    'paper conv1',
    [80, 7, 7, 512],
    [3, 3, 512, 1024],
    'valid',
    "about 100 s per call at tfjs cpu's ~0.2 GFLOP/s on convolutions",
  ),
  layoutCase('transpose attention [80,10,3,4,16] by [2,0,3,1,4]', [80, 10, 3, 4, 16], (x) =>
    tf.transpose(x, [2, 0, 3, 1, 4]),
  ),
  layoutCase('transpose [800,5,5,64] by [3,1,2,0]', [800, 5, 5, 64], (x) => tf.transpose(x, [3, 1, 2, 0])),
  layoutCase('sum [800,5,5,64] over [0,1,2] (bias gradient)', [800, 5, 5, 64], (x) => tf.sum(x, [0, 1, 2])),
];

async function kernelSuite(): Promise<void> {
  console.log('\n== kernels: native dense vs tfjs (wasm, cpu) ==');
  const ledger = new Ledger();
  for (const spec of KERNEL_CASES) {
    for (const variant of VARIANTS) {
      const skip = ledger.predictSkip(spec, variant.label);
      if (skip !== undefined) {
        ledger.record(spec, variant.label, { skipped: skip });
        continue;
      }
      await activate(variant);
      const inputs = spec.inputs();
      const outcome = await measure(
        `${spec.name} [${variant.label}]`,
        () => tf.dispose(spec.body(inputs)),
        ledger.predictedSeconds(spec, variant.label),
      );
      ledger.record(spec, variant.label, outcome);
      tf.dispose(inputs);
    }
  }
  disableNativeDense();
  ledger.print([WASM.label, CPU.label]);
  // The crossover: the smallest square product from which native beats tfjs on every larger one
  // (products only: transposes and sums have their own element threshold).
  for (const ref of [WASM, CPU]) {
    const squares = KERNEL_CASES.filter((c) => /^matMul \[(\d+)x\1\]/.test(c.name));
    const wins = squares.map((c) => {
      const n = ledger.get(c.name, NATIVE.label),
        r = ledger.get(c.name, ref.label);
      return n !== undefined && r !== undefined && 'opsPerSecond' in n && 'opsPerSecond' in r
        ? n.opsPerSecond > r.opsPerSecond
        : undefined;
    });
    const first = wins.findIndex((_, i) => wins.slice(i).every((w) => w !== false));
    const at = first >= 0 ? squares[first] : undefined;
    console.log(
      `native beats ${ref.label} on square products from ${at ? `${at.name} (${at.flops} flops)` : 'no measured size'}; ` +
        `current minFlops for ${ref.tfjs}: ${nativeDenseStatus().minFlops[ref.tfjs]}`,
    );
  }
}

// ---- 2. pretraining steps -----------------------------------------------------------------------

function formatSplit(t: PhaseTimings): string {
  return `${PHASES.map((p) => `${p} ${t[p].toFixed(0)}`).join(', ')} (ms of ${t.total.toFixed(0)})`;
}

/** Dense flops one step runs (what the native kernels saw, natively or below the threshold). */
function denseFlops(): number {
  return Object.values(nativeDenseStatus().counts).reduce((s, c) => s + c.nativeFlops + c.smallFlops, 0);
}

/** Wall time per tfjs kernel over one step: which kernels dominate once the dense ones are native. */
async function kernelProfile(trainer: Trainer, batch: PairedBatch, backendName: string): Promise<void> {
  const totals = new Map<string, { ms: number; calls: number }>();
  const wrapped = tf.getKernelsForBackend(backendName);
  for (const config of wrapped) {
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        const start = performance.now();
        try {
          return config.kernelFunc(args);
        } finally {
          const entry = totals.get(config.kernelName) ?? { ms: 0, calls: 0 };
          entry.ms += performance.now() - start;
          entry.calls++;
          totals.set(config.kernelName, entry);
        }
      },
    });
  }
  const start = performance.now();
  try {
    await trainer.step(batch);
  } finally {
    for (const config of wrapped) {
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
  }
  const total = performance.now() - start;
  const top = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  console.log(
    `    kernel time in one step (${total.toFixed(0)} ms): ` +
      top
        .map(([name, e]) => `${name} ${e.ms.toFixed(0)} ms/${e.calls} (${((100 * e.ms) / total).toFixed(0)}%)`)
        .join(', '),
  );
}

/** A model, its trainer and a batch on the current tfjs backend; steps with or without native dense kernels. */
class StepRunner {
  readonly timings: PhaseTimings[] = [];
  /** Dense flops of the last step (counted while the native kernels were on). */
  flops = 0;
  private readonly model: UniCodeModel;
  private readonly trainer: Trainer;
  private readonly batch: PairedBatch;

  constructor(
    name: ConfigName,
    opBackend: OpBackend,
    private readonly native: boolean,
  ) {
    this.model = new UniCodeModel(makeConfig(name), { seed: 1, backend: opBackend });
    this.trainer = new Trainer(this.model, { progress: false });
    this.batch = syntheticBatchFor(name, BATCH);
  }

  /** One training step; its wall time in seconds. */
  async step(): Promise<number> {
    disableNativeDense();
    if (this.native && !enableNativeDense().enabled) throw new Error('native dense kernels unavailable');
    try {
      const flopsBefore = denseFlops();
      const start = performance.now();
      await this.trainer.step(this.batch);
      const seconds = (performance.now() - start) / 1000;
      this.flops = denseFlops() - flopsBefore;
      this.timings.push(this.trainer.lastTimings!);
      return seconds;
    } finally {
      disableNativeDense();
    }
  }

  async profile(backendName: string): Promise<void> {
    if (this.native) enableNativeDense();
    try {
      await kernelProfile(this.trainer, this.batch, backendName);
    } finally {
      disableNativeDense();
    }
  }

  report(label: string): void {
    console.log(`  ${label} last step: ${formatSplit(this.timings[this.timings.length - 1])}`);
  }

  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function recordSeconds(ledger: Ledger, spec: CaseSpec, label: string, seconds: number[]): void {
  const m = median(seconds);
  const spread = seconds.length > 1 ? (100 * (Math.max(...seconds) - Math.min(...seconds))) / (2 * m) : 0;
  ledger.record(spec, label, { opsPerSecond: 1 / m, secondsPerCall: m, samples: seconds.length, margin: spread });
}

/**
 * small: native and plain tfjs wasm alternate step by step on one wasm backend (after a warm-up
 * step each), so a change in machine load hits both alike; medians of SMALL_STEPS steps. Then tfjs
 * cpu, whose steps take minutes: one warm-up-free step.
 */
async function benchSmall(opBackend: OpBackend, ledger: Ledger, spec: CaseSpec): Promise<void> {
  await initTfjs('wasm');
  const pair = [new StepRunner('small', opBackend, true), new StepRunner('small', opBackend, false)];
  try {
    for (const runner of pair) await runner.step();
    const seconds: number[][] = [[], []];
    for (let i = 0; i < SMALL_STEPS; i++) {
      for (const [j, runner] of pair.entries()) seconds[j].push(await runner.step());
    }
    spec.flops = pair[0].flops;
    recordSeconds(ledger, spec, NATIVE.label, seconds[0]);
    recordSeconds(ledger, spec, WASM.label, seconds[1]);
    pair[0].report(`${spec.name} [${NATIVE.label}]`);
    console.log(`    ${(spec.flops / 1e9).toFixed(1)} GFLOP in dense kernels per step`);
    await pair[0].profile('wasm');
    pair[1].report(`${spec.name} [${WASM.label}]`);
    await pair[1].profile('wasm');
  } finally {
    pair.forEach((r) => r.dispose());
  }
  await initTfjs('cpu');
  const cpu = new StepRunner('small', opBackend, false);
  try {
    recordSeconds(ledger, spec, CPU.label, [await cpu.step()]);
    cpu.report(`${spec.name} [${CPU.label}]`);
  } finally {
    cpu.dispose();
  }
}

/**
 * paper: PAPER_STEPS steps per variant, no warm-up (a step takes minutes; the first step's setup is
 * a small part of it). The paper model does not fit tfjs wasm's heap (wasm32: 4 GiB; a step's
 * temporaries need several times the 0.44 GiB of weights, and tfjs wasm aborts when its malloc
 * fails), so here the native dense kernels run on the tfjs cpu backend and plain tfjs wasm is
 * skipped. Plain tfjs cpu is skipped with its time predicted from its small step
 * (UCMG_BENCH_DENSE_PAPER_CPU=1 runs it).
 */
async function benchPaper(opBackend: OpBackend, ledger: Ledger, spec: CaseSpec): Promise<void> {
  for (const variant of VARIANTS) {
    if (variant === WASM) {
      ledger.record(spec, variant.label, {
        skipped: 'the paper model does not fit the 4 GiB wasm heap (tfjs wasm aborts)',
      });
      continue;
    }
    const predicted = ledger.predictedSeconds(spec, variant.label);
    if (variant === CPU && process.env.UCMG_BENCH_DENSE_PAPER_CPU !== '1') {
      const why =
        predicted === undefined
          ? 'no small-step rate to predict from'
          : `predicted ${(predicted / 60).toFixed(0)} min per step from its small step's rate`;
      ledger.record(spec, variant.label, { skipped: `${why} (UCMG_BENCH_DENSE_PAPER_CPU=1 runs it)` });
      continue;
    }
    await initTfjs('cpu');
    if (variant.native)
      console.log(`  ${spec.name} [${variant.label}]: hosted on tfjs cpu (the wasm heap cannot hold the paper model)`);
    const runner = new StepRunner('paper', opBackend, variant.native);
    try {
      const seconds: number[] = [];
      for (let i = 0; i < PAPER_STEPS; i++) seconds.push(await runner.step());
      if (variant.native) spec.flops = runner.flops;
      recordSeconds(ledger, spec, variant.label, seconds);
      runner.report(`${spec.name} [${variant.label}]`);
      if (variant.native) {
        console.log(`    ${(spec.flops / 1e9).toFixed(1)} GFLOP in dense kernels per step`);
        await runner.profile('cpu');
      }
    } finally {
      runner.dispose();
    }
  }
}

// ---- 3. PyTorch anchor --------------------------------------------------------------------------

function pythonWithTorch(): string | undefined {
  const candidates = process.env.UCMG_PYTHON ? [process.env.UCMG_PYTHON] : ['python3', '/usr/bin/python3'];
  return candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

function pytorchStep(
  python: string,
  name: ConfigName,
  dtype: 'float32' | 'float64',
  steps: number,
  warmup: number,
): number | string {
  const script = fileURLToPath(new URL('../../bench/pytorch_anchor.py', import.meta.url));
  const args = [
    '--config',
    name,
    '--dtype',
    dtype,
    '--batch',
    String(BATCH),
    '--steps',
    String(steps),
    '--warmup',
    String(warmup),
    '--threads',
    String(os.availableParallelism()),
  ];
  const result = spawnSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0)
    return `pytorch_anchor.py failed: ${(result.stderr || result.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(result.stdout.trim().split('\n').pop()!).medianMs / 1000;
}

// ---- run ----------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  await initTfjs('wasm');
  const probe = enableNativeDense();
  disableNativeDense();
  if (!probe.enabled) {
    console.log(`dense: skipped, the native dense kernels are unavailable: ${probe.reason}`);
    return;
  }
  await kernelSuite();

  // The same op backend for every variant: native CPU when the addon has it.
  const opBackend: OpBackend = availableBackends().includes('cpu') ? 'cpu' : 'tfjs';
  console.log(`\n== pretraining steps, AVT, batch ${BATCH}; op backend '${opBackend}' in every case ==`);
  const ledger = new Ledger();
  const python = pythonWithTorch();
  const names: ConfigName[] = PAPER_STEPS > 0 ? ['small', 'paper'] : ['small'];
  if (PAPER_STEPS === 0) console.log('  paper: skipped (UCMG_BENCH_DENSE_PAPER_STEPS=0)');
  for (const name of names) {
    const spec: CaseSpec = { name: `pretrain step ${name}`, family: 'pretrain', flops: 0 };
    await (name === 'small' ? benchSmall(opBackend, ledger, spec) : benchPaper(opBackend, ledger, spec));
    for (const dtype of ['float32', 'float64'] as const) {
      const label = `torch-${dtype === 'float32' ? 'fp32' : 'fp64'}`;
      const [steps, warmup] = name === 'paper' ? [PAPER_STEPS, 0] : [SMALL_STEPS, 1];
      const seconds =
        python === undefined
          ? 'no Python with torch (apt-get install python3-torch, or set UCMG_PYTHON)'
          : pytorchStep(python, name, dtype, steps, warmup);
      ledger.record(
        spec,
        label,
        typeof seconds === 'string'
          ? { skipped: seconds }
          : { opsPerSecond: 1 / seconds, secondsPerCall: seconds, samples: steps, margin: 0 },
      );
    }
  }
  ledger.print([WASM.label, CPU.label, 'torch-fp32', 'torch-fp64']);
  console.log(
    `\nload average at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.availableParallelism()} cores ` +
      '(other processes on the machine slow every variant; compare ratios from one run)',
  );
  console.log(
    'targets: native >= 5x tfjs-wasm on small; native within 1.5x of torch-fp32; native faster than torch-fp64',
  );
}
