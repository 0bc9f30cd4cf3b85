// The body of `unicode-cmg encode`.

import * as path from 'node:path';
import { writeNpy } from '../../data/npy.js';
import { usageStats } from '../../report/codeUsage.js';
import { codeUsageSvg } from '../../report/plots.js';
import { ReportWriter } from '../../report/runReport.js';
import { UsageError } from '../args.js';
import { setupCompute } from '../computeSetup.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { checkDataFitsModel, encodeSplit, loadPretrained, openDataFor } from '../pipeline.js';
import { packageVersion } from '../version.js';
import type { EncodeOptions } from './encode.js';

export async function run(options: EncodeOptions): Promise<void> {
  const command = 'encode';
  const dir = checkOutputDir(options.out ?? defaultRunDir('encode'), options.force, command);
  const compute = await setupCompute(options, command);
  const model = await loadPretrained(options.checkpoint, compute.backend, command);
  const dataset = openDataFor(
    model.config,
    { data: options.data, clips: options.clips, dataSeed: options['data-seed'] },
    command,
  );
  const modalities = options.modalities.length > 0 ? options.modalities : model.modalities;
  for (const m of modalities) {
    if (!(model.modalities as string[]).includes(m))
      throw new UsageError(
        `--modalities: the model has no ${m} encoder (it has ${model.modalities.join(', ')})`,
        command,
      );
  }
  checkDataFitsModel(dataset, model.config, modalities, command);
  if (!dataset.splitNames.includes(options.split)) {
    throw new UsageError(
      `--split: dataset '${dataset.name}' has no split '${options.split}' (it has ${dataset.splitNames.join(', ')})`,
      command,
    );
  }
  createOutputDir(dir, command);

  const clips = dataset.split(options.split);
  const encoded = await encodeSplit(
    model,
    dataset,
    clips,
    modalities as typeof model.modalities,
    options['batch-size'],
  );
  const writer = new ReportWriter(dir);
  const npyFiles: string[] = [];
  for (const set of encoded) {
    const file = path.join(dir, `codes-${set.modality}.npy`);
    writeNpy(file, set.codes, [set.n, set.segments], 'int32');
    npyFiles.push(file);
  }
  const clipsFile = path.join(dir, 'clips.npy');
  writeNpy(clipsFile, clips, [clips.length], 'int32');
  await writer.svg(
    'code-usage.svg',
    codeUsageSvg(Object.fromEntries(encoded.map((e) => [e.modality, e.usage])), {
      title: `Code usage on '${options.split}'`,
    }),
  );
  writer.json('encode.json', {
    command,
    version: packageVersion(),
    createdAt: new Date().toISOString(),
    checkpoint: options.checkpoint,
    data: {
      source: options.data,
      name: dataset.name,
      split: options.split,
      clips: clips.length,
      segments: dataset.segments,
    },
    codebookSize: model.config.codebookSize,
    modalities: Object.fromEntries(
      encoded.map((e) => [
        e.modality,
        { file: `codes-${e.modality}.npy`, shape: [e.n, e.segments], usage: usageStats(e.usage) },
      ]),
    ),
  });
  model.dispose();
  dataset.close();
  for (const e of encoded) {
    const { used, of, perplexity } = usageStats(e.usage);
    process.stdout.write(
      `${e.modality}: ${e.n} clips x ${e.segments} segments, ${used}/${of} codes used, perplexity ${perplexity.toFixed(1)}\n`,
    );
  }
  process.stdout.write(`wrote ${[...npyFiles, clipsFile, ...writer.files].join(', ')}\n`);
}
