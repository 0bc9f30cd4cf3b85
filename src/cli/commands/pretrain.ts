// `unicode-cmg pretrain`: Uni-Code pretraining on paired clips, with a checkpoint, the metrics log,
// loss curves, code usage and a JSON report in the output directory.

import * as path from 'node:path';
import { UsageError, defineCommand } from '../args.js';
import { computeOptions, outputOptions, seedOption, setupCompute } from '../commonOptions.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { ABLATIONS, SYNTHETIC, checkDataFitsModel, chooseSplits, encodeSplit, finalLosses, openDataFor, openDataForModel, requireFile, startPretraining } from '../pipeline.js';
import { packageVersion } from '../version.js';
import { usageStats } from '../../report/codeUsage.js';

export const pretrain = defineCommand({
  name: 'pretrain',
  summary: 'Pretrain the shared codebook model on paired, unlabelled clips.',
  description: [
    'Writes checkpoint.ckpt (resumable), metrics.jsonl (one line per step), loss-curves.svg,',
    'code-usage.svg and report.json into --out. Model input sizes are taken from the data.',
  ].join('\n'),
  options: {
    data: { kind: 'string', default: SYNTHETIC, valueName: 'dir|synthetic', description: 'dataset directory (manifest.json + .npy files) or "synthetic" for the embedded generator' },
    split: { kind: 'string', default: 'train', valueName: 'name', description: 'split to train on' },
    config: { kind: 'choice', choices: ['small', 'paper'], description: 'model size: small (D=64, M=96) or paper (D=256, M=400) [default: small]' },
    modalities: { kind: 'choice', choices: ['audio', 'video', 'text'], multiple: true, description: 'modalities to pair [default: synthetic: audio,video; a directory: all it has]' },
    without: { kind: 'choice', choices: ABLATIONS, multiple: true, description: 'ablations: switch off CLUB, Cross-CPC, the cross-modal EMA terms, L_cmcm or dead-code reset' },
    epochs: { kind: 'int', default: 6, min: 1, description: 'epochs over the split' },
    'max-steps': { kind: 'int', min: 1, valueName: 'n', description: 'stop after this many steps in total (across resumes)' },
    'batch-size': { kind: 'int', default: 80, min: 2, description: 'clips per step' },
    lr: { kind: 'number', default: 4e-4, min: 0, exclusiveMin: true, description: 'Adam learning rate' },
    'checkpoint-every': { kind: 'int', min: 1, valueName: 'steps', description: 'also checkpoint every this many steps [default: at the end only]' },
    resume: { kind: 'string', valueName: 'checkpoint', description: 'continue from a checkpoint (its config and position); --config, --modalities and --without come from it' },
    clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
    'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
    ...seedOption,
    ...computeOptions,
    ...outputOptions('the checkpoint, metrics and report'),
  },
  examples: [
    'pretrain --max-steps 200 --out runs/av',
    'pretrain --data ./my-dataset --config paper --modalities audio,video,text --epochs 6',
    'pretrain --without cpc,club --out runs/ablation',
    'pretrain --resume runs/av/checkpoint.ckpt --out runs/av --force --epochs 12',
  ],
  async run(options) {
    const command = 'pretrain';
    if (options.resume !== undefined && (options.config !== undefined || options.modalities.length > 0 || options.without.length > 0)) {
      throw new UsageError('--resume takes the model from the checkpoint; drop --config, --modalities and --without', command);
    }
    const dir = checkOutputDir(options.out ?? defaultRunDir('pretrain'), options.force, command);
    let config;
    let dataset;
    let compute;
    if (options.resume !== undefined) {
      const { loadCheckpoint } = await import('../../train/checkpoint.js');
      const { modalitiesOf } = await import('../../model/config.js');
      config = loadCheckpoint(requireFile(options.resume, '--resume', command)).meta.config as import('../../model/config.js').ModelConfig;
      compute = await setupCompute(options, command, { configName: config.name });
      dataset = await openDataFor(config, { data: options.data, clips: options.clips, dataSeed: options['data-seed'] }, command);
      await checkDataFitsModel(dataset, config, modalitiesOf(config.modalities), command);
    } else {
      compute = await setupCompute(options, command, { configName: options.config ?? 'small' });
      ({ config, dataset } = await openDataForModel(
        { data: options.data, clips: options.clips, dataSeed: options['data-seed'] },
        { config: (options.config ?? 'small') as 'small' | 'paper', modalities: options.modalities.length > 0 ? options.modalities : undefined, without: options.without },
        command,
      ));
    }
    const splits = chooseSplits(dataset, options.split, command);
    createOutputDir(dir, command);
    process.stderr.write(`pretrain: ${config.name} config, ${config.modalities}, data ${dataset.name} (${dataset.split(splits.train).length} clips in '${splits.train}'), op backend ${compute.backend}, tfjs ${compute.tfjsBackend}, dense kernels ${compute.dense}\n`);

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
    });
    const summary = await run.trainUntil(options['max-steps']);
    const { ReportWriter } = await import('../../report/runReport.js');
    const { codeUsageSvg, lossCurvesSvg } = await import('../../report/plots.js');
    const { readMetricsLog } = await import('../../train/metricsLog.js');
    const { modalitiesOf } = await import('../../model/config.js');
    const writer = new ReportWriter(dir);
    const records = readMetricsLog(run.metricsLog);
    if (records.length > 0) await writer.svg('loss-curves.svg', lossCurvesSvg(records, { metrics: ['loss', 'perplexity'], title: `Pretraining (${config.name}, ${config.modalities})` }));
    const codes = await encodeSplit(run.model, dataset, dataset.split(splits.report), modalitiesOf(run.model.config.modalities));
    await writer.svg('code-usage.svg', codeUsageSvg(Object.fromEntries(codes.map((c) => [c.modality, c.usage])), { title: `Code usage on '${splits.report}'` }));
    writer.json('report.json', {
      command,
      version: packageVersion(),
      createdAt: new Date().toISOString(),
      compute,
      data: { source: options.data, name: dataset.name, trainSplit: splits.train, reportSplit: splits.report },
      config: run.model.config,
      training: { seed: options.seed, batchSize: options['batch-size'], learningRate: options.lr, epochs: options.epochs, maxSteps: options['max-steps'] ?? null, resumedFrom: options.resume ?? null },
      result: { steps: summary.steps, epochs: summary.epochs, seconds: run.seconds, final: finalLosses(summary.last) },
      codeUsage: Object.fromEntries(codes.map((c) => [c.modality, usageStats(c.usage)])),
      files: { checkpoint: path.basename(run.checkpoint), metrics: path.basename(run.metricsLog) },
    });
    run.model.dispose();
    dataset.close();
    process.stdout.write(`pretrained ${summary.steps} steps in ${run.seconds.toFixed(1)} s; wrote ${[run.checkpoint, run.metricsLog, ...writer.files].join(', ')}\n`);
  },
});
