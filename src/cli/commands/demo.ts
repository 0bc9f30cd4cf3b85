// `unicode-cmg demo` (what `npm start` runs): the whole method end to end on the embedded synthetic
// data. Pretrains Uni-Code and the plain shared-VQ baseline with the small config, then trains
// downstream heads on one modality's codes and tests them on every other (and on the same one, the
// upper bound), and prints the classification and localization tables.

import * as path from 'node:path';
import { defineCommand } from '../args.js';
import { computeOptions, outputOptions, seedOption, setupCompute } from '../commonOptions.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { UNI_CODE, encodeSplit, finalLosses, modalitySetOf, namedEncoder, openDataFor, runDownstream, startPretraining, uniCodeAndPlainVq } from '../pipeline.js';
import { packageVersion } from '../version.js';

/** Steps of each model timed before the step count is fixed. */
const CALIBRATION_STEPS = 3;
/** Seconds kept for encoding, the downstream heads and the report (about 40 s on a busy 2-core machine). */
const DOWNSTREAM_RESERVE_S = 60;

export const demo = defineCommand({
  name: 'demo',
  summary: 'Pretrain on synthetic data and print the cross-modal generalization tables.',
  description: [
    'Pretrains the small config twice (Uni-Code, and the plain shared-VQ baseline without CLUB, Cross-CPC,',
    'MM-EMA cross terms and L_cmcm), then for every ordered pair X->Y trains a classification and a',
    'localization head on X\'s codes and tests it on Y\'s; X->X is the labelled-modality upper bound.',
    'Writes report.json, report.md, loss curves, code usage and heatmaps into --out. Takes about 6 minutes',
    'on an idle 2-core machine; --minutes caps the total.',
  ].join('\n'),
  options: {
    modalities: { kind: 'choice', choices: ['audio', 'video', 'text'], multiple: true, description: 'modalities to pair [default: audio,video]' },
    steps: { kind: 'int', default: 60, min: 1, description: 'pretraining steps per model' },
    'batch-size': { kind: 'int', default: 32, min: 2, description: 'clips per pretraining step' },
    clips: { kind: 'int', default: 600, min: 20, description: 'synthetic clips (70% train, 10% val, 20% test)' },
    'head-epochs': { kind: 'int', default: 20, min: 1, description: 'downstream head epochs' },
    minutes: { kind: 'number', default: 10, min: 0, description: 'time budget: if --steps would overrun it (judged from the first steps), both models train fewer steps; 0 = no limit' },
    ...seedOption,
    ...computeOptions,
    ...outputOptions('the report and plots'),
  },
  examples: ['demo', 'demo --out runs/my-demo --force', 'demo --modalities audio,video,text --steps 100'],
  async run(options) {
    const command = 'demo';
    const started = performance.now();
    const dir = checkOutputDir(options.out ?? defaultRunDir('demo'), options.force, command);
    const modalitySet = modalitySetOf(options.modalities.length > 0 ? options.modalities : ['audio', 'video'], '--modalities', command);
    const compute = await setupCompute(options, command);
    const { modalitiesOf } = await import('../../model/config.js');
    const configs = await uniCodeAndPlainVq('small', modalitySet);
    const dataset = await openDataFor(configs[UNI_CODE], { data: 'synthetic', clips: options.clips, dataSeed: options.seed }, command);
    createOutputDir(dir, command);
    const say = (text: string): void => {
      process.stderr.write(`demo: ${text}\n`);
    };
    say(`${dataset.name}: ${dataset.numClips} clips of ${modalitiesOf(modalitySet).join(' + ')}, ${dataset.classes.length} event classes; op backend ${compute.backend}, tfjs ${compute.tfjsBackend}, dense kernels ${compute.dense}`);

    const trainClips = dataset.split('train').length;
    const batchSize = Math.min(options['batch-size'], trainClips);
    const epochs = Math.ceil(options.steps / Math.max(1, Math.floor(trainClips / batchSize)));
    const pretrained = [];
    for (const [name, config] of Object.entries(configs)) {
      const subdir = path.join(dir, name === UNI_CODE ? 'uni-code' : 'plain-vq');
      createOutputDir(subdir, command);
      const run = await startPretraining({ config, dataset, split: 'train', dir: subdir, seed: options.seed, batchSize, learningRate: 4e-4, epochs, backend: compute.backend });
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
        say(`${secondsPerStep.toFixed(1)} s per step of both models: training ${steps} steps instead of ${options.steps} to stay within --minutes ${options.minutes} (0 disables the limit)`);
      }
    }
    for (const p of steps > calibration ? pretrained : []) {
      say(`pretraining ${p.name} to step ${steps}`);
      await p.run.trainUntil(steps);
    }

    say(`downstream heads: ${options['head-epochs']} epochs per pair`);
    const encoders = await Promise.all(pretrained.map((p) => namedEncoder(p.name, p.run.model)));
    const reports = await runDownstream({ tasks: ['classify', 'localize'], encoders, dataset, epochs: options['head-epochs'], seed: options.seed });

    const { ReportWriter, formatDownstreamTable, heatmapCells } = await import('../../report/runReport.js');
    const { codeUsageSvg, crossModalHeatmapSvg, lossCurvesSvg } = await import('../../report/plots.js');
    const { formatReport } = await import('../../downstream/report.js');
    const { readMetricsLog } = await import('../../train/metricsLog.js');
    const { usageStats } = await import('../../report/codeUsage.js');
    const writer = new ReportWriter(dir);
    const usage: Record<string, Record<string, ReturnType<typeof usageStats>>> = {};
    for (const p of pretrained) {
      const slug = path.basename(p.subdir);
      await writer.svg(`${slug}/loss-curves.svg`, lossCurvesSvg(readMetricsLog(p.run.metricsLog), { metrics: ['loss', 'perplexity'], title: `${p.name} pretraining` }));
      const codes = await encodeSplit(p.run.model, dataset, dataset.split('test'), modalitiesOf(modalitySet));
      await writer.svg(`${slug}/code-usage.svg`, codeUsageSvg(Object.fromEntries(codes.map((c) => [c.modality, c.usage])), { title: `${p.name}: code usage on the test split` }));
      usage[p.name] = Object.fromEntries(codes.map((c) => [c.modality, usageStats(c.usage)]));
    }
    for (const report of reports) {
      await writer.svg(`cross-modal-${report.task}.svg`, crossModalHeatmapSvg(heatmapCells(report), { metric: report.metrics[0], title: `${report.task} (${report.metrics[0]})` }));
    }
    writer.text('report.md', reports.map(formatReport).join('\n'));
    const seconds = (performance.now() - started) / 1000;
    writer.json('report.json', {
      command,
      version: packageVersion(),
      createdAt: new Date().toISOString(),
      seconds,
      compute,
      settings: { modalities: modalitySet, steps, requestedSteps: options.steps, minutes: options.minutes, batchSize, clips: options.clips, headEpochs: options['head-epochs'], seed: options.seed },
      data: { name: dataset.name, clips: dataset.numClips, classes: dataset.classes.length, splits: Object.fromEntries(dataset.splitNames.map((s) => [s, dataset.split(s).length])) },
      pretraining: Object.fromEntries(pretrained.map((p) => [p.name, {
        config: p.run.model.config, steps: p.run.summary?.steps ?? 0, seconds: p.run.seconds, final: finalLosses(p.run.summary?.last ?? null), codeUsage: usage[p.name],
        checkpoint: path.relative(dir, p.run.checkpoint), metrics: path.relative(dir, p.run.metricsLog),
      }])),
      downstream: reports,
    });
    pretrained.forEach((p) => p.run.model.dispose());
    dataset.close();

    process.stdout.write(`\nCross-modal generalization on ${dataset.name} (train a head on X's codes, test on Y's):\n`);
    for (const report of reports) process.stdout.write(`\n${formatDownstreamTable(report)}`);
    process.stdout.write(`\nFinished in ${(seconds / 60).toFixed(1)} min. Report and plots in ${dir}/:\n${writer.files.map((f) => `  ${path.relative(dir, f)}`).join('\n')}\n`);
  },
});
