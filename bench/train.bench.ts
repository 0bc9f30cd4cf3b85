// Pretraining throughput: steps/s of the small and paper configs (AVT, batch 80) on every available
// op backend (the dense layers run on tfjs wasm in every case; the op backend runs quantize, MM-EMA,
// L_cmcm and InfoNCE), with each step's split into phases.
//
// small: benny samples of whole steps. paper: ~7 TFLOP per step on one wasm thread takes many
// minutes, so its steps are timed by hand (UCMG_BENCH_PAPER_STEPS, default 2; 0 skips it), not
// sampled by benny, in a child process (see benchPaper); the first step includes the warm-up.
// Measured here: a paper step does not fit the wasm heap (weights, gradients, XNNPACK's packed
// copies and Adam state of 119M parameters); the failure is reported as a skip with its reason.
import { syntheticBatchFor } from './syntheticBatch.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableBackends, type OpBackend } from '../src/backend.js';
import { makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { PHASES, type PhaseTimings } from '../src/train/phaseTimer.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs, tf } from '../src/tfjs.js';
import { type CaseSpec, Ledger, measure } from './harness.js';

const BATCH = 80;
const PAPER_STEPS = Number(process.env.UCMG_BENCH_PAPER_STEPS ?? 2);
const PAPER_WORKER_FLAG = '--paper-worker';

function parameterCount(model: UniCodeModel): number {
  return model.params.names().reduce((s, n) => s + model.params.get(n).size, 0);
}

/** Median of each phase over the steps (robust to a stray slow step), as "phase ms (share)". */
function formatSplit(timings: PhaseTimings[]): string {
  const median = (key: keyof PhaseTimings) => {
    const sorted = timings.map((t) => t[key]).sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const total = median('total');
  const parts = PHASES.map((p) => `${p} ${median(p).toFixed(0)} ms (${((100 * median(p)) / total).toFixed(0)}%)`);
  return `median of ${timings.length}: total ${total.toFixed(0)} ms = ${parts.join(', ')}`;
}

async function benchSmall(backend: OpBackend, ledger: Ledger, spec: CaseSpec): Promise<void> {
  const model = new UniCodeModel(makeConfig('small'), { seed: 1, backend });
  const trainer = new Trainer(model, { progress: false });
  const batch = syntheticBatchFor('small', BATCH);
  await trainer.step(batch); // warm-up: kernel setup and memory growth
  const timings: PhaseTimings[] = [];
  const measurement = await measure(
    `${spec.name} [${backend}]`,
    async () => {
      await trainer.step(batch);
      timings.push(trainer.lastTimings!);
    },
    undefined,
  );
  ledger.record(spec, backend, measurement);
  console.log(
    `  small [${backend}] ${parameterCount(model).toLocaleString()} parameters; per step: ${formatSplit(timings)}`,
  );
  trainer.dispose();
  model.dispose();
}

/** What a paper-size worker reports, one JSON line per event. */
type PaperEvent = { parameters: number } | { step: number; seconds: number; timings: PhaseTimings; gib: number };

/**
 * Paper-size steps run in a child process: at this size the wasm heap (a 4 GiB address space) can
 * run out, and a wasm abort must not take the whole benchmark down.
 */
async function benchPaper(backend: OpBackend, ledger: Ledger, spec: CaseSpec): Promise<void> {
  const events: PaperEvent[] = [];
  const started = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), PAPER_WORKER_FLAG, backend, String(PAPER_STEPS)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderrText = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split('\n');
      stdout = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const event = JSON.parse(line) as PaperEvent;
        events.push(event);
        if ('parameters' in event)
          console.log(
            `  paper [${backend}] ${event.parameters.toLocaleString()} parameters; timing ${PAPER_STEPS} step(s) by hand`,
          );
        else
          console.log(
            `  paper [${backend}] step ${event.step}: ${event.seconds.toFixed(1)} s (${formatSplit([event.timings])}); tfjs holds ${event.gib.toFixed(2)} GiB`,
          );
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderrText += chunk.toString();
    });
    child.on('close', (exitCode) => resolve({ code: exitCode, stderr: stderrText }));
  });
  const steps = events.filter((e): e is Extract<PaperEvent, { step: number }> => 'step' in e);
  if (code !== 0 || steps.length === 0) {
    const reason =
      stderr
        .split('\n')
        .find((l) => /Error|Abort/.test(l))
        ?.trim() ?? `exit code ${code}`;
    const why = `failed after ${((performance.now() - started) / 1000).toFixed(0)} s and ${steps.length} step(s): ${reason}`;
    console.log(`  paper [${backend}] ${why}`);
    ledger.record(spec, backend, { skipped: why });
    return;
  }
  // The first step pays the warm-up; with more than one, the later ones are the rate.
  const timed = (steps.length > 1 ? steps.slice(1) : steps).map((e) => e.seconds);
  const mean = timed.reduce((a, b) => a + b, 0) / timed.length;
  ledger.record(spec, backend, { opsPerSecond: 1 / mean, secondsPerCall: mean, samples: timed.length, margin: 0 });
}

/** The child's side of benchPaper. */
async function paperWorker(backend: OpBackend, steps: number): Promise<void> {
  await initTfjs();
  const model = new UniCodeModel(makeConfig('paper'), { seed: 1, backend });
  const trainer = new Trainer(model, { progress: false });
  const batch = syntheticBatchFor('paper', BATCH);
  console.log(JSON.stringify({ parameters: parameterCount(model) }));
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    await trainer.step(batch);
    const seconds = (performance.now() - start) / 1000;
    console.log(
      JSON.stringify({ step: i + 1, seconds, timings: trainer.lastTimings, gib: tf.memory().numBytes / 2 ** 30 }),
    );
  }
}

export async function run(): Promise<void> {
  const kind = await initTfjs();
  const backends = availableBackends();
  console.log(
    `pretraining steps, AVT, batch ${BATCH}; dense layers on tfjs ${kind}; op backends: ${backends.join(', ')}`,
  );
  const ledger = new Ledger();
  const small: CaseSpec = { name: `train step small AVT B=${BATCH}`, family: 'train-small', flops: 0 };
  const paper: CaseSpec = {
    name: `train step paper AVT B=${BATCH} (hand-timed, ${PAPER_STEPS} step(s))`,
    family: 'train-paper',
    flops: 0,
  };
  for (const backend of backends) await benchSmall(backend, ledger, small);
  if (PAPER_STEPS > 0) {
    for (const backend of backends) {
      const failed = backends
        .map((other) => ledger.get(paper.name, other))
        .find((o) => o !== undefined && 'skipped' in o);
      if (failed !== undefined) {
        // The dense layers, where a paper step spends its time and memory, are the same on every op backend.
        ledger.record(paper, backend, {
          skipped: `not tried: it failed on another op backend (${(failed as { skipped: string }).skipped})`,
        });
        continue;
      }
      await benchPaper(backend, ledger, paper);
    }
  } else {
    console.log('  paper: skipped (UCMG_BENCH_PAPER_STEPS=0)');
  }
  ledger.print(backends);
}

if (process.argv[2] === PAPER_WORKER_FLAG) await paperWorker(process.argv[3] as OpBackend, Number(process.argv[4]));
