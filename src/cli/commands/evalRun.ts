// The body of `unicode-cmg eval`.

import * as path from 'node:path';
import { formatReport } from '../../downstream/report.js';
import { TASK_TITLES } from '../../downstream/taskNames.js';
import { tocChannels } from '../../downstream/toc.js';
import { crossModalHeatmapSvg } from '../../report/plots.js';
import { ReportWriter, formatDownstreamTable, heatmapCells } from '../../report/runReport.js';
import { UsageError } from '../args.js';
import { setupCompute } from '../computeSetup.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { checkDataFitsModel, loadPretrained, namedEncoder, openDataFor, runDownstream } from '../pipeline.js';
import { packageVersion } from '../version.js';
import type { EvalOptions } from './eval.js';

export async function run(options: EvalOptions): Promise<void> {
  const command = 'eval';
  const dir = checkOutputDir(options.out ?? defaultRunDir('eval'), options.force, command);
  const compute = await setupCompute(options, command);
  const model = await loadPretrained(options.checkpoint, compute.backend, command);
  const baselines: Awaited<ReturnType<typeof loadPretrained>>[] = [];
  for (const file of options.baseline)
    baselines.push(await loadPretrained(file, compute.backend, command, '--baseline'));
  const models = [model, ...baselines];
  const dataset = openDataFor(
    model.config,
    { data: options.data, clips: options.clips, dataSeed: options['data-seed'] },
    command,
  );
  const paired =
    options.modalities.length > 0
      ? options.modalities
      : model.modalities.filter(
          (m) => dataset.modalities.includes(m) && baselines.every((b) => b.modalities.includes(m)),
        );
  for (const m of models) checkDataFitsModel(dataset, m.config, paired, command);
  for (const [flag, split] of [
    ['--train-split', options['train-split']],
    ['--test-split', options['test-split']],
  ]) {
    if (!dataset.splitNames.includes(split))
      throw new UsageError(
        `${flag}: dataset '${dataset.name}' has no split '${split}' (it has ${dataset.splitNames.join(', ')})`,
        command,
      );
  }
  const toc = options.toc;
  const narrowest = Math.min(...models.map((m) => m.config.embeddingDim));
  if (toc !== undefined && toc > narrowest) {
    throw new UsageError(
      `--toc ${toc} is more than the ${narrowest} embedding dimensions of a model to evaluate`,
      command,
    );
  }
  // Each model keeps its own codebook's top-k dimensions.
  const channels = models.map((m) => (toc === undefined ? undefined : tocChannels(m.codebook.embedding(), toc)));
  createOutputDir(dir, command);
  if (toc !== undefined)
    process.stderr.write(`eval: TOC, the heads see ${toc} of ${model.config.embeddingDim} code dimensions\n`);

  const files = [options.checkpoint, ...options.baseline];
  const names = uniqueNames(
    files.map((file, i) => path.basename(path.dirname(path.resolve(file))) || (i === 0 ? 'model' : 'baseline')),
  );
  const encoders = models.map((m, i) => namedEncoder(names[i], m, channels[i]));
  const tasks = options.tasks.length > 0 ? options.tasks : (['classify', 'localize'] as const);
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

  const writer = new ReportWriter(dir);
  for (const report of reports) {
    process.stdout.write(`\n${formatDownstreamTable(report)}`);
    const cells = heatmapCells(report);
    if (cells.length > 0)
      await writer.svg(
        `cross-modal-${report.task}.svg`,
        crossModalHeatmapSvg(cells, {
          metric: report.metrics[0],
          title: `${TASK_TITLES[report.task]} on ${report.testDataset} (${report.metrics[0]})`,
        }),
      );
  }
  writer.text('report.md', reports.map(formatReport).join('\n'));
  writer.json('report.json', {
    command,
    version: packageVersion(),
    createdAt: new Date().toISOString(),
    compute,
    checkpoints: Object.fromEntries(names.map((name, i) => [name, files[i]])),
    toc:
      toc === undefined
        ? null
        : { k: toc, channels: Object.fromEntries(names.map((name, i) => [name, Array.from(channels[i]!)])) },
    data: { source: options.data, name: dataset.name },
    downstream: reports,
  });
  models.forEach((m) => m.dispose());
  dataset.close();
  process.stdout.write(`\nwrote ${writer.files.join(', ')}\n`);
}

/** Encoder names as given, a repeated one numbered from its second use: 'run', 'run (2)'. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}
