// One process of the distributed tests, run by them (under mpirun or alone): pretrains the tiny
// config on synthetic batches and writes what the tests compare into a directory. Without a
// job argument it does nothing (the test runner also loads every file under test/).
import fs from 'node:fs';
import path from 'node:path';
import { checksumOf, mpiCommunicator, runRank } from '../src/distributed/index.js';
import type { Communicator } from '../src/distributed/communicator.js';
import type { ConfigOverrides } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import type { PairedBatch, PairedBatchSource } from '../src/train/pairedBatchSource.js';
import { Trainer } from '../src/train/trainer.js';
import { initTfjs } from '../src/tfjs.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

export interface WorkerJob {
  /** Use MPI_COMM_WORLD (else: one plain process). */
  distributed: boolean;
  out: string;
  overrides?: ConfigOverrides;
  batches: number;
  /** The global batch. */
  batchSize: number;
  epochs: number;
  maxSteps?: number;
  checksumEvery?: number;
  checkpoint?: string;
  checkpointEvery?: number;
  /** Continue from this checkpoint. */
  resume?: boolean;
  /** SIGKILL this rank when it fetches batch `killAtBatch` (0-based, counted over the run). */
  killRank?: number;
  killAtBatch?: number;
  /** Throw on this rank when it fetches batch `throwAtBatch`. */
  throwRank?: number;
  throwAtBatch?: number;
}

export interface WorkerResult {
  rank: number;
  size: number;
  steps: number;
  /** Every step's metrics (this rank's view of them). */
  metrics: Record<string, unknown>[];
  /** After every step, a checksum of this rank's weights and codebook. */
  checksums: number[];
  /** Final weights by name, then the codebook arrays. */
  weights: Record<string, number[]>;
  codebook: { embedding: number[]; emaCount: number[]; emaWeight: number[]; unusedCount: number[] };
}

const SEED = 7;

function faultySource(batches: PairedBatch[], job: WorkerJob, rank: number): PairedBatchSource {
  let fetched = 0;
  return {
    batchesPerEpoch: batches.length,
    *epoch() {
      for (const batch of batches) {
        const index = fetched++;
        if (rank === job.killRank && index === job.killAtBatch) {
          fs.writeFileSync(path.join(job.out, 'killed-at'), String(Date.now()));
          process.kill(process.pid, 'SIGKILL');
        }
        if (rank === job.throwRank && index === job.throwAtBatch) {
          throw new Error(`worker: planned failure at batch ${index}`);
        }
        yield batch;
      }
    },
  };
}

async function run(job: WorkerJob, comm: Communicator | undefined): Promise<void> {
  await initTfjs();
  const config = tinyConfig(job.overrides ?? {});
  const data = syntheticBatches(config, { batches: job.batches, batchSize: job.batchSize, seed: 11 });
  const metrics: Record<string, unknown>[] = [];
  const checksums: number[] = [];
  const options = {
    progress: false as const,
    ...(comm === undefined ? {} : { communicator: comm, checksumEvery: job.checksumEvery }),
    ...(job.checkpoint === undefined ? {} : { checkpointPath: job.checkpoint, checkpointEvery: job.checkpointEvery }),
  };
  const trainer = job.resume
    ? await Trainer.fromCheckpoint(job.checkpoint!, options)
    : new Trainer(new UniCodeModel(config, { seed: SEED }), options);
  const rank = comm?.rank ?? 0;
  const originalStep = trainer.step.bind(trainer);
  trainer.step = async (batch) => {
    const m = await originalStep(batch);
    metrics.push(m as unknown as Record<string, unknown>);
    const weights = Object.values(trainer.model.params.exportWeights()).map((w) => w.data);
    const cb = trainer.model.codebook.getState();
    checksums.push(checksumOf([...weights, cb.embedding, cb.emaCount, cb.emaWeight, cb.unusedCount]));
    return m;
  };
  await trainer.train(faultySource(data, job, rank), { epochs: job.epochs, maxSteps: job.maxSteps });
  const exported = Object.entries(trainer.model.params.exportWeights());
  const weights = Object.fromEntries(exported.map(([n, w]) => [n, Array.from(w.data)]));
  const cb = trainer.model.codebook.getState();
  const result: WorkerResult = {
    rank,
    size: comm?.size ?? 1,
    steps: trainer.globalStep,
    metrics,
    checksums,
    weights,
    codebook: {
      embedding: Array.from(cb.embedding),
      emaCount: Array.from(cb.emaCount),
      emaWeight: Array.from(cb.emaWeight),
      unusedCount: Array.from(cb.unusedCount),
    },
  };
  fs.writeFileSync(path.join(job.out, `rank-${rank}.json`), JSON.stringify(result));
}

const arg = process.argv[2];
if (arg !== undefined) {
  const job = JSON.parse(arg) as WorkerJob;
  if (job.distributed) {
    const comm = mpiCommunicator();
    await runRank(comm, () => run(job, comm));
  } else {
    await run(job, undefined);
  }
}
