// Data-parallel pretraining over mpirun: steps/s and samples/s of the small config (AVT) at 1 and 2
// ranks, one thread each (tfjs wasm, OMP_NUM_THREADS=1), at the same global batch; the all-reduce
// time and the bytes each rank hands to MPI per step; and the ring all-reduce model of how far the
// `paper` config scales (docs/distributed.md). Each world size runs as its own mpirun job of this
// file in worker mode; rank 0 of each reports one JSON line.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { enableNativeDense } from '../src/dense/index.js';
import type { Communicator } from '../src/distributed/communicator.js';
import { launcherWorldSize, mpiCommunicator, mpiSupport } from '../src/distributed/mpi.js';
import { makeConfig } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
import { syntheticBatchFor } from './syntheticBatch.js';

const WORKER_FLAG = '--distributed-worker';
const GLOBAL_BATCH = Number(process.env.UCMG_BENCH_DP_BATCH ?? 32);
const STEPS = Number(process.env.UCMG_BENCH_DP_STEPS ?? 4);
const RANKS = [1, 2];
const RESULT_PREFIX = 'DISTRIBUTED_RESULT ';

interface WorldReport {
  size: number;
  /** Seconds of each timed step (the slowest rank's). */
  stepSeconds: number[];
  /** Per step, seconds inside allReduceSum (the slowest rank's). */
  reduceSeconds: number[];
  /** Bytes one rank handed to allReduceSum per step. */
  reduceBytes: number;
  /** Of those, the main gradients (4 bytes per main parameter). */
  gradientBytes: number;
  /** Seconds of one all-reduce of a step's payload after a barrier: transfer without waiting. */
  transferSeconds: number;
  mainParams: number;
  clubParams: number;
}

/** The communicator, counting the time and bytes of every allReduceSum. */
function counting(comm: Communicator): Communicator & { seconds: number; bytes: number } {
  const counted = {
    rank: comm.rank,
    size: comm.size,
    seconds: 0,
    bytes: 0,
    allReduceSum(buffers: (Float32Array | Float64Array)[]) {
      const start = performance.now();
      comm.allReduceSum(buffers);
      counted.seconds += (performance.now() - start) / 1000;
      counted.bytes += buffers.reduce((s, b) => s + b.byteLength, 0);
    },
    barrier: () => comm.barrier(),
    abort: (code: number) => comm.abort(code),
  };
  return counted;
}

function clubGroups(model: UniCodeModel): string[] {
  return model.params.groups().filter((g) => g.startsWith('club.'));
}

function countParams(model: UniCodeModel, groups: string[]): number {
  return groups.flatMap((g) => model.params.namesIn(g)).reduce((s, n) => s + model.params.get(n).size, 0);
}

async function worker(): Promise<void> {
  await initTfjs('wasm');
  enableNativeDense();
  const comm = counting(mpiCommunicator());
  const model = new UniCodeModel(makeConfig('small'), { seed: 1 });
  const trainer = new Trainer(model, { progress: false, communicator: comm, checksumEvery: 1000 });
  const batch = syntheticBatchFor('small', GLOBAL_BATCH);
  await trainer.step(batch); // warm-up: kernel setup and memory growth
  const perStep = new Float64Array(2 * STEPS);
  let bytes = 0;
  for (let i = 0; i < STEPS; i++) {
    comm.barrier();
    const [seconds0, bytes0] = [comm.seconds, comm.bytes];
    const start = performance.now();
    await trainer.step(batch);
    comm.barrier();
    perStep[i] = (performance.now() - start) / 1000;
    perStep[STEPS + i] = comm.seconds - seconds0;
    bytes = comm.bytes - bytes0;
  }
  // A step's payload alone, after a barrier: the transfer, without waiting for a slower rank.
  const payload = new Float32Array(bytes / 4);
  const transfers: number[] = [];
  for (let i = 0; i < 5; i++) {
    comm.barrier();
    const start = performance.now();
    comm.allReduceSum([payload]);
    transfers.push((performance.now() - start) / 1000);
  }
  // The slowest rank's times: a max through the sum-only interface, one rank's slot at a time.
  const slots = new Float64Array(2 * STEPS * comm.size);
  slots.set(perStep, comm.rank * 2 * STEPS);
  comm.allReduceSum([slots]);
  const slowest = (i: number) => Math.max(...Array.from({ length: comm.size }, (_, r) => slots[r * 2 * STEPS + i]));
  if (comm.rank === 0) {
    const mainParams = countParams(model, model.mainGroups());
    const report: WorldReport = {
      size: comm.size,
      stepSeconds: Array.from({ length: STEPS }, (_, i) => slowest(i)),
      reduceSeconds: Array.from({ length: STEPS }, (_, i) => slowest(STEPS + i)),
      reduceBytes: bytes,
      gradientBytes: 4 * mainParams,
      transferSeconds: median(transfers),
      mainParams,
      clubParams: countParams(model, clubGroups(model)),
    };
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(report)}\n`);
  }
  trainer.dispose();
  model.dispose();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function runWorld(size: number): WorldReport {
  const script = fileURLToPath(import.meta.url);
  const env = {
    ...process.env,
    OMP_NUM_THREADS: '1',
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  };
  const run = spawnSync('mpirun', ['--oversubscribe', '-np', String(size), process.execPath, script, WORKER_FLAG], {
    encoding: 'utf8',
    env,
    maxBuffer: 1 << 26,
  });
  const line = run.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (run.status !== 0 || line === undefined) {
    throw new Error(`distributed bench: ${size} rank(s) failed (status ${run.status}):\n${run.stderr}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as WorldReport;
}

/** Main and CLUB parameter counts of the paper config (built on tfjs cpu: it does not fit wasm). */
async function paperParams(): Promise<{ main: number; club: number }> {
  await initTfjs('cpu');
  const model = new UniCodeModel(makeConfig('paper'), { seed: 1 });
  const counts = { main: countParams(model, model.mainGroups()), club: countParams(model, clubGroups(model)) };
  model.dispose();
  return counts;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

export async function run(): Promise<void> {
  const which = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  const support = mpiSupport();
  if (which.error !== undefined || which.status !== 0 || !support.built) {
    console.log(`distributed: skipped (${!support.built ? support.reason : 'mpirun is not installed'})`);
    return;
  }
  console.log(
    `distributed: small config AVT, global batch ${GLOBAL_BATCH}, ${STEPS} timed steps after a warm-up,` +
      ` one thread per rank, ${support.library}`,
  );
  const reports = RANKS.map(runWorld);
  const base = median(reports[0].stepSeconds);
  for (const r of reports) {
    const step = median(r.stepSeconds);
    const reduce = median(r.reduceSeconds);
    console.log(
      `  ${r.size} rank(s): ${(1 / step).toFixed(3)} steps/s, ${(GLOBAL_BATCH / step).toFixed(1)} samples/s` +
        ` (speed-up ${(base / step).toFixed(2)}x); all-reduce ${(1000 * reduce).toFixed(1)} ms/step/rank` +
        ` (${((100 * reduce) / step).toFixed(1)}% of the step, waiting for the slowest rank included),` +
        ` ${mb(r.reduceBytes)}/step/rank handed to MPI (main gradients ${mb(r.gradientBytes)});` +
        ` that payload alone after a barrier: ${(1000 * r.transferSeconds).toFixed(1)} ms` +
        ` (${(r.reduceBytes / r.transferSeconds / 1e9).toFixed(2)} GB/s of payload)`,
    );
  }
  const small = reports[0];
  const millions = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  console.log(`  small: ${millions(small.mainParams)} main + ${millions(small.clubParams)} CLUB parameters`);
  const paper = await paperParams();
  const payload = 4 * (paper.main + 5 * paper.club);
  console.log(
    `  paper: ${millions(paper.main)} main + ${millions(paper.club)} CLUB parameters; per step each rank` +
      ` all-reduces the main gradients once and each CLUB net's gradients clubSteps = 5 times: ${mb(payload)}`,
  );
  console.log(
    '  ring all-reduce traffic per rank per step = 2 * payload * (N-1)/N;' +
      ' scaling stops where that takes as long as a step:',
  );
  for (const n of [2, 4, 8, 16]) {
    const traffic = (2 * payload * (n - 1)) / n;
    const crossover = [0.5, 5, 60].map((t) => `${(traffic / t / 1e9).toFixed(2)} GB/s at a ${t} s step`).join(', ');
    console.log(`    N = ${n}: ${mb(traffic)} per rank per step; communication = compute at ${crossover}`);
  }
}

if (process.argv.includes(WORKER_FLAG)) {
  if (launcherWorldSize() === undefined) throw new Error(`${WORKER_FLAG} runs under mpirun`);
  await worker();
}
