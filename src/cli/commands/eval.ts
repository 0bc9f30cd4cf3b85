// `unicode-cmg eval`: cross-modal generalization of pretrained encoders. For every ordered pair
// X->Y a head is trained on X's codes and tested on Y's (X->X is the labelled-modality upper bound).

import * as path from 'node:path';
import { UsageError, defineCommand } from '../args.js';
import { computeOptions, outputOptions, seedOption, setupCompute } from '../commonOptions.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { DOWNSTREAM_CHOICES, type DownstreamTask, SYNTHETIC, checkDataFitsModel, loadPretrained, namedEncoder, openDataFor, runDownstream } from '../pipeline.js';
import { packageVersion } from '../version.js';

export const evaluate = defineCommand({
  name: 'eval',
  summary: 'Cross-modal classification / localization / retrieval with frozen pretrained encoders.',
  description: [
    'Prints one table per task and writes report.json, report.md and cross-modal-<task>.svg into --out.',
    'Pass --baseline (repeatable) to compare more checkpoints, e.g. a plain shared-VQ run and ablations, in the same tables;',
    'each is named after its checkpoint\'s directory.',
  ].join('\n'),
  options: {
    checkpoint: { kind: 'string', required: true, valueName: 'file', description: 'pretraining checkpoint of the model to evaluate' },
    baseline: { kind: 'string', multiple: true, valueName: 'file', description: 'another checkpoint to evaluate alongside (e.g. pretrain --without club,cpc,mm-ema,cmcm)' },
    data: { kind: 'string', default: SYNTHETIC, valueName: 'dir|synthetic', description: 'labelled dataset directory, or "synthetic" (shaped for the checkpoint\'s model)' },
    tasks: { kind: 'choice', choices: DOWNSTREAM_CHOICES, multiple: true, description: 'downstream tasks [default: classify,localize]' },
    modalities: { kind: 'choice', choices: ['audio', 'video', 'text'], multiple: true, description: 'modalities to pair [default: all the models and the data share]' },
    'train-split': { kind: 'string', default: 'train', valueName: 'name', description: 'split the heads are trained on' },
    'test-split': { kind: 'string', default: 'test', valueName: 'name', description: 'split the heads are tested on' },
    epochs: { kind: 'int', min: 1, valueName: 'n', description: 'head training epochs [default: 30 classification, 50 localization]' },
    'batch-size': { kind: 'int', default: 80, min: 1, description: 'head batch size' },
    lr: { kind: 'number', default: 4e-4, min: 0, exclusiveMin: true, description: 'head Adam learning rate' },
    clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
    'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
    ...seedOption,
    ...computeOptions,
    ...outputOptions('the report'),
  },
  examples: [
    'eval --checkpoint runs/av/checkpoint.ckpt',
    'eval --checkpoint runs/av/checkpoint.ckpt --baseline runs/vq/checkpoint.ckpt --tasks classify --epochs 10',
    'eval --checkpoint runs/av/checkpoint.ckpt --baseline runs/no-club/checkpoint.ckpt --baseline runs/no-cpc/checkpoint.ckpt',
  ],
  async run(options) {
    const command = 'eval';
    const dir = checkOutputDir(options.out ?? defaultRunDir('eval'), options.force, command);
    const compute = await setupCompute(options, command);
    const model = await loadPretrained(options.checkpoint, compute.backend, command);
    const baselines: Awaited<ReturnType<typeof loadPretrained>>[] = [];
    for (const file of options.baseline) baselines.push(await loadPretrained(file, compute.backend, command, '--baseline'));
    const models = [model, ...baselines];
    const dataset = await openDataFor(model.config, { data: options.data, clips: options.clips, dataSeed: options['data-seed'] }, command);
    const paired = options.modalities.length > 0
      ? options.modalities
      : model.modalities.filter((m) => dataset.modalities.includes(m) && baselines.every((b) => b.modalities.includes(m)));
    for (const m of models) await checkDataFitsModel(dataset, m.config, paired, command);
    for (const [flag, split] of [['--train-split', options['train-split']], ['--test-split', options['test-split']]]) {
      if (!dataset.splitNames.includes(split)) throw new UsageError(`${flag}: dataset '${dataset.name}' has no split '${split}' (it has ${dataset.splitNames.join(', ')})`, command);
    }
    createOutputDir(dir, command);

    const files = [options.checkpoint, ...options.baseline];
    const names = uniqueNames(files.map((file, i) => path.basename(path.dirname(path.resolve(file))) || (i === 0 ? 'model' : 'baseline')));
    const encoders: Awaited<ReturnType<typeof namedEncoder>>[] = [];
    for (const [i, m] of models.entries()) encoders.push(await namedEncoder(names[i], m));
    const tasks = (options.tasks.length > 0 ? options.tasks : ['classify', 'localize']) as DownstreamTask[];
    const reports = await runDownstream({
      tasks,
      encoders,
      dataset,
      modalities: paired,
      trainSplit: options['train-split'],
      testSplit: options['test-split'],
      epochs: options.epochs,
      batchSize: options['batch-size'],
      learningRate: options.lr,
      seed: options.seed,
    });

    const { ReportWriter, formatDownstreamTable, heatmapCells } = await import('../../report/runReport.js');
    const { crossModalHeatmapSvg } = await import('../../report/plots.js');
    const { formatReport } = await import('../../downstream/report.js');
    const writer = new ReportWriter(dir);
    for (const report of reports) {
      process.stdout.write(`\n${formatDownstreamTable(report)}`);
      const cells = heatmapCells(report);
      if (cells.length > 0) await writer.svg(`cross-modal-${report.task}.svg`, crossModalHeatmapSvg(cells, { metric: report.metrics[0], title: `${report.task} on ${report.testDataset} (${report.metrics[0]})` }));
    }
    writer.text('report.md', reports.map(formatReport).join('\n'));
    writer.json('report.json', {
      command,
      version: packageVersion(),
      createdAt: new Date().toISOString(),
      compute,
      checkpoints: Object.fromEntries(names.map((name, i) => [name, files[i]])),
      data: { source: options.data, name: dataset.name },
      downstream: reports,
    });
    models.forEach((m) => m.dispose());
    dataset.close();
    process.stdout.write(`\nwrote ${writer.files.join(', ')}\n`);
  },
});

/** Encoder names as given, a repeated one numbered from its second use: 'run', 'run (2)'. */
export function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}
