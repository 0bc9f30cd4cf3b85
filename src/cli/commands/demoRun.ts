// The body of `unicode-cmg demo`.

import * as path from 'node:path';
import { formatReport } from '../../downstream/report.js';
import { TASK_TITLES } from '../../downstream/taskNames.js';
import { modalitiesOf } from '../../model/config.js';
import { usageStats } from '../../report/codeUsage.js';
import { codeUsageSvg, crossModalHeatmapSvg, lossCurvesSvg } from '../../report/plots.js';
import { ReportWriter, formatDownstreamTable, heatmapCells } from '../../report/runReport.js';
import { readMetricsLog } from '../../train/metricsLog.js';
import { setupCompute } from '../computeSetup.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import {
  UNI_CODE,
  encodeSplit,
  finalLosses,
  modalitySetOf,
  namedEncoder,
  openDataFor,
  runDownstream,
  startPretraining,
  uniCodeAndPlainVq,
} from '../pipeline.js';
import { packageVersion } from '../version.js';
import type { DemoOptions } from './demo.js';

/** Steps of each model timed before the step count is fixed. */
const CALIBRATION_STEPS = 3;
/** Seconds kept for encoding, the downstream heads and the report (about 40 s on a busy 2-core machine). */
const DOWNSTREAM_RESERVE_S = 60;

export async function run(options: DemoOptions): Promise<void> {
  const command = 'demo';
  const started = performance.now();
  const dir = checkOutputDir(options.out ?? defaultRunDir('demo'), options.force, command);
  const modalitySet = modalitySetOf(
    options.modalities.length > 0 ? options.modalities : ['audio', 'video'],
    '--modalities',
    command,
  );
  const compute = await setupCompute(options, command);
  const configs = uniCodeAndPlainVq('small', modalitySet);
  const dataset = openDataFor(
    configs[UNI_CODE],
    { data: 'synthetic', clips: options.clips, dataSeed: options.seed },
    command,
  );
  createOutputDir(dir, command);
  const say = (text: string): void => {
    process.stderr.write(`demo: ${text}\n`);
  };
  say(
    `${dataset.name}: ${dataset.numClips} clips of ${modalitiesOf(modalitySet).join(' + ')}, ${dataset.classes.length} event classes; op backend ${compute.backend}, tfjs ${compute.tfjsBackend}, dense kernels ${compute.dense}`,
  );

  const trainClips = dataset.split('train').length;
  const batchSize = Math.min(options['batch-size'], trainClips);
  const epochs = Math.ceil(options.steps / Math.max(1, Math.floor(trainClips / batchSize)));
  const pretrained = [];
  for (const [name, config] of Object.entries(configs)) {
    const subdir = path.join(dir, name === UNI_CODE ? 'uni-code' : 'plain-vq');
    createOutputDir(subdir, command);
    const run = await startPretraining({
      config,
      dataset,
      split: 'train',
      dir: subdir,
      seed: options.seed,
      batchSize,
      learningRate: 4e-4,
      epochs,
      backend: compute.backend,
    });
    pretrained.push({ name, subdir, run });
  }
  // Time the first steps of both models, then train both to the same step count, fewer than
  // --steps only if that count would overrun the time budget.
  const calibration = Math.min(CALIBRATION_STEPS, options.steps);
  say(`timing ${calibration} pretraining steps of each model (batch ${batchSize})`);
  for (const p of pretrained) await p.run.trainUntil(calibration);
  let steps = options.steps;
  if (options.minutes > 0) {
    const secondsPerStep = pretrained.reduce((sum, p) => sum + p.run.seconds / calibration, 0);
    const secondsLeft = options.minutes * 60 - (performance.now() - started) / 1000 - DOWNSTREAM_RESERVE_S;
    const affordable = calibration + Math.max(0, Math.floor(secondsLeft / secondsPerStep));
    if (affordable < steps) {
      steps = affordable;
      say(
        `${secondsPerStep.toFixed(1)} s per step of both models: training ${steps} steps instead of ${options.steps} to stay within --minutes ${options.minutes} (0 disables the limit)`,
      );
    }
  }
  for (const p of steps > calibration ? pretrained : []) {
    say(`pretraining ${p.name} to step ${steps}`);
    await p.run.trainUntil(steps);
  }

  say(`downstream heads: ${options['head-epochs']} epochs per pair`);
  const encoders = pretrained.map((p) => namedEncoder(p.name, p.run.model));
  const reports = await runDownstream({
    tasks: ['classify', 'localize'],
    encoders,
    dataset,
    epochs: options['head-epochs'],
    seed: options.seed,
  });

  const writer = new ReportWriter(dir);
  const usage: Record<string, Record<string, ReturnType<typeof usageStats>>> = {};
  for (const p of pretrained) {
    const slug = path.basename(p.subdir);
    await writer.svg(
      `${slug}/loss-curves.svg`,
      lossCurvesSvg(readMetricsLog(p.run.metricsLog), {
        metrics: ['loss', 'perplexity'],
        title: `${p.name} pretraining`,
      }),
    );
    const codes = await encodeSplit(p.run.model, dataset, dataset.split('test'), modalitiesOf(modalitySet));
    await writer.svg(
      `${slug}/code-usage.svg`,
      codeUsageSvg(Object.fromEntries(codes.map((c) => [c.modality, c.usage])), {
        title: `${p.name}: code usage on the test split`,
      }),
    );
    usage[p.name] = Object.fromEntries(codes.map((c) => [c.modality, usageStats(c.usage)]));
  }
  for (const report of reports) {
    await writer.svg(
      `cross-modal-${report.task}.svg`,
      crossModalHeatmapSvg(heatmapCells(report), {
        metric: report.metrics[0],
        title: `${TASK_TITLES[report.task]} (${report.metrics[0]})`,
      }),
    );
  }
  writer.text('report.md', reports.map(formatReport).join('\n'));
  const seconds = (performance.now() - started) / 1000;
  writer.json('report.json', {
    command,
    version: packageVersion(),
    createdAt: new Date().toISOString(),
    seconds,
    compute,
    settings: {
      modalities: modalitySet,
      steps,
      requestedSteps: options.steps,
      minutes: options.minutes,
      batchSize,
      clips: options.clips,
      headEpochs: options['head-epochs'],
      seed: options.seed,
    },
    data: {
      name: dataset.name,
      clips: dataset.numClips,
      classes: dataset.classes.length,
      splits: Object.fromEntries(dataset.splitNames.map((s) => [s, dataset.split(s).length])),
    },
    pretraining: Object.fromEntries(
      pretrained.map((p) => [
        p.name,
        {
          config: p.run.model.config,
          steps: p.run.summary?.steps ?? 0,
          seconds: p.run.seconds,
          final: finalLosses(p.run.summary?.last ?? null),
          codeUsage: usage[p.name],
          checkpoint: path.relative(dir, p.run.checkpoint),
          metrics: path.relative(dir, p.run.metricsLog),
        },
      ]),
    ),
    downstream: reports,
  });
  pretrained.forEach((p) => p.run.model.dispose());
  dataset.close();

  process.stdout.write(`\nCross-modal generalization on ${dataset.name} (train a head on X's codes, test on Y's):\n`);
  for (const report of reports) process.stdout.write(`\n${formatDownstreamTable(report)}`);
  process.stdout.write(
    `\nFinished in ${(seconds / 60).toFixed(1)} min. Report and plots in ${dir}/:\n${writer.files.map((f) => `  ${path.relative(dir, f)}`).join('\n')}\n`,
  );
}
