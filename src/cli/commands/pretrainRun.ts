// The body of `unicode-cmg pretrain`.

import * as path from 'node:path';
import type { ClipDataset } from '../../data/dataset.js';
import type { Communicator } from '../../distributed/communicator.js';
import { launcherWorldSize, mpiCommunicator } from '../../distributed/mpi.js';
import { runRank } from '../../distributed/launch.js';
import { modalitiesOf, type ModelConfig } from '../../model/config.js';
import { codeUsageSvg, lossCurvesSvg } from '../../report/plots.js';
import { usageStats } from '../../report/codeUsage.js';
import { ReportWriter } from '../../report/runReport.js';
import { readTrainingCheckpoint } from '../../train/trainingCheckpoint.js';
import { readMetricsLog } from '../../train/metricsLog.js';
import { type ResetClock, scaledResetClock } from '../../train/resetClock.js';
import { DEFAULT_HYPERPARAMETERS } from '../../train/hyperparameters.js';
import { UsageError } from '../args.js';
import { type ComputeSetup, setupCompute } from '../computeSetup.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import {
  checkDataFitsModel,
  chooseSplits,
  encodeSplit,
  finalLosses,
  openDataFor,
  openDataForModel,
  plannedSteps,
  requireFile,
  startPretraining,
} from '../pipeline.js';
import { packageVersion } from '../version.js';
import type { PretrainOptions } from './pretrain.js';

export async function run(options: PretrainOptions): Promise<void> {
  // Under mpirun (or with --distributed) every rank runs this; a failure on any ends the job.
  if (!options.distributed && launcherWorldSize() === undefined) return pretrainOn(options, undefined);
  const comm = mpiCommunicator();
  await runRank(comm, () => pretrainOn(options, comm));
}

async function pretrainOn(options: PretrainOptions, comm: Communicator | undefined): Promise<void> {
  const command = 'pretrain';
  // Rank 0 alone touches --out: the other ranks train and write nothing.
  const lead = comm === undefined || comm.rank === 0;
  if (comm !== undefined && options['batch-size'] < comm.size) {
    const batch = options['batch-size'];
    throw new UsageError(
      `--batch-size ${batch} is the global batch and cannot be split over ${comm.size} ranks;` +
        ` use at least ${comm.size}`,
      command,
    );
  }
  if (
    options.resume !== undefined &&
    (options.config !== undefined || options.modalities.length > 0 || options.without.length > 0)
  ) {
    throw new UsageError(
      '--resume takes the model from the checkpoint; drop --config, --modalities and --without',
      command,
    );
  }
  const modelFlags = (['dead-after', 'active-below', 'reset-scale', 'reset-ema', 'detach-mi-code'] as const).filter(
    (flag) => options[flag] !== undefined && options[flag] !== false,
  );
  if (options.resume !== undefined && modelFlags.length > 0) {
    throw new UsageError(`--resume keeps the checkpoint's model settings; drop --${modelFlags.join(', --')}`, command);
  }
  if (options['reset-scale'] === 'auto' && (options['dead-after'] ?? options['active-below']) !== undefined) {
    throw new UsageError('--reset-scale auto sets --dead-after and --active-below itself; give either', command);
  }
  const out = options.out ?? defaultRunDir('pretrain');
  const dir = lead ? checkOutputDir(out, options.force, command) : out;
  let config: ModelConfig;
  let dataset: ClipDataset;
  let compute: ComputeSetup;
  if (options.resume !== undefined) {
    config = readTrainingCheckpoint(requireFile(options.resume, '--resume', command)).recipe.config;
    compute = await setupCompute(options, command, { configName: config.name });
    dataset = openDataFor(
      config,
      { data: options.data, clips: options.clips, dataSeed: options['data-seed'] },
      command,
    );
    checkDataFitsModel(dataset, config, modalitiesOf(config.modalities), command);
  } else {
    compute = await setupCompute(options, command, { configName: options.config ?? 'small' });
    ({ config, dataset } = openDataForModel(
      { data: options.data, clips: options.clips, dataSeed: options['data-seed'] },
      {
        config: (options.config ?? 'small') as 'small' | 'paper',
        modalities: options.modalities.length > 0 ? options.modalities : undefined,
        without: options.without,
      },
      command,
    ));
  }
  const splits = chooseSplits(dataset, options.split, command);
  const planned = plannedSteps(dataset, splits.train, options['batch-size'], options.epochs, options['max-steps']);
  if (options.resume === undefined) {
    const remedies = { resetEma: options['reset-ema'], detachMiCode: options['detach-mi-code'] };
    config = { ...config, ...resetClock(config, options, planned, command), ...remedies };
  }
  if (lead) createOutputDir(dir, command);
  const parallel =
    comm === undefined ? '' : `, data-parallel over ${comm.size} ranks (global batch ${options['batch-size']})`;
  if (lead) {
    process.stderr.write(
      `pretrain: ${config.name} config, ${config.modalities}, data ${dataset.name} (${dataset.split(splits.train).length} clips in '${splits.train}'), op backend ${compute.backend}, tfjs ${compute.tfjsBackend}, dense kernels ${compute.dense}${parallel}\n`,
    );
  }

  const run = await startPretraining({
    config,
    dataset,
    split: splits.train,
    dir,
    seed: options.seed,
    batchSize: options['batch-size'],
    learningRate: options.lr,
    epochs: options.epochs,
    checkpointEvery: options['checkpoint-every'],
    backend: compute.backend,
    resume: options.resume,
    // The first release encoded the batch once more for every CLUB iteration.
    ...(options['legacy-encoder-passes'] ? { legacyEncoderPasses: DEFAULT_HYPERPARAMETERS.clubSteps } : {}),
    communicator: comm,
  });
  const summary = await run.trainUntil(options['max-steps']);
  if (!lead) {
    run.model.dispose();
    dataset.close();
    return;
  }
  const writer = new ReportWriter(dir);
  const records = readMetricsLog(run.metricsLog);
  // Dead codes revived over the whole run (the log spans resumes).
  const resetsFired = records.reduce((sum, r) => sum + (typeof r.resetCodes === 'number' ? r.resetCodes : 0), 0);
  if (records.length > 0)
    await writer.svg(
      'loss-curves.svg',
      lossCurvesSvg(records, {
        metrics: ['loss', 'perplexity'],
        title: `Pretraining (${config.name}, ${config.modalities})`,
      }),
    );
  const codes = await encodeSplit(
    run.model,
    dataset,
    dataset.split(splits.report),
    modalitiesOf(run.model.config.modalities),
  );
  await writer.svg(
    'code-usage.svg',
    codeUsageSvg(Object.fromEntries(codes.map((c) => [c.modality, c.usage])), {
      title: `Code usage on '${splits.report}'`,
    }),
  );
  writer.json('report.json', {
    command,
    version: packageVersion(),
    createdAt: new Date().toISOString(),
    compute,
    data: { source: options.data, name: dataset.name, trainSplit: splits.train, reportSplit: splits.report },
    config: run.model.config,
    training: {
      seed: options.seed,
      batchSize: options['batch-size'],
      learningRate: options.lr,
      epochs: options.epochs,
      maxSteps: options['max-steps'] ?? null,
      resumedFrom: options.resume ?? null,
      legacyEncoderPasses: run.trainer.hyper.legacyEncoderPasses,
    },
    resetClock: {
      deadAfter: run.model.config.deadAfter,
      activeBelow: run.model.config.activeBelow,
      scale: options['reset-scale'] ?? null,
      plannedSteps: planned,
    },
    result: {
      steps: summary.steps,
      epochs: summary.epochs,
      seconds: run.seconds,
      resetsFired,
      final: finalLosses(summary.last),
    },
    codeUsage: Object.fromEntries(codes.map((c) => [c.modality, usageStats(c.usage)])),
    files: { checkpoint: path.basename(run.checkpoint), metrics: path.basename(run.metricsLog) },
  });
  run.model.dispose();
  dataset.close();
  process.stdout.write(
    `pretrained ${summary.steps} steps in ${run.seconds.toFixed(1)} s, ${resetsFired} dead-code resets fired; wrote ${[run.checkpoint, run.metricsLog, ...writer.files].join(', ')}\n`,
  );
}

/** The dead-code reset thresholds of --dead-after, --active-below or --reset-scale auto (docs/algorithm.md §3.5). */
function resetClock(config: ModelConfig, options: PretrainOptions, planned: number, command: string): ResetClock {
  if (options['reset-scale'] === 'auto') return scaledResetClock(planned);
  const clock = {
    deadAfter: options['dead-after'] ?? config.deadAfter,
    activeBelow: options['active-below'] ?? config.activeBelow,
  };
  if (clock.deadAfter < clock.activeBelow) {
    throw new UsageError(
      `--dead-after (${clock.deadAfter}) must be at least --active-below (${clock.activeBelow})`,
      command,
    );
  }
  return clock;
}
