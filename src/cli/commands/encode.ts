// `unicode-cmg encode`: a pretrained (frozen) model maps each clip segment of a split to its code.

import * as path from 'node:path';
import { UsageError, defineCommand } from '../args.js';
import { computeOptions, outputOptions, setupCompute } from '../commonOptions.js';
import { checkOutputDir, createOutputDir, defaultRunDir } from '../outputDir.js';
import { SYNTHETIC, checkDataFitsModel, encodeSplit, loadPretrained, openDataFor } from '../pipeline.js';
import { packageVersion } from '../version.js';
import { usageStats } from '../../report/codeUsage.js';

export const encode = defineCommand({
  name: 'encode',
  summary: 'Encode clips into codebook indices with a pretrained model.',
  description: [
    'Writes codes-<modality>.npy (int32 [clips, T]), clips.npy (the dataset clip index of each row),',
    'code-usage.svg and encode.json (shapes, code usage, perplexity) into --out.',
  ].join('\n'),
  options: {
    checkpoint: { kind: 'string', required: true, valueName: 'file', description: 'pretraining checkpoint (checkpoint.ckpt of a pretrain run)' },
    data: { kind: 'string', default: SYNTHETIC, valueName: 'dir|synthetic', description: 'dataset directory, or "synthetic" (shaped for the checkpoint\'s model)' },
    split: { kind: 'string', default: 'test', valueName: 'name', description: 'split to encode' },
    modalities: { kind: 'choice', choices: ['audio', 'video', 'text'], multiple: true, description: 'modalities to encode [default: all of the model\'s]' },
    'batch-size': { kind: 'int', default: 256, min: 1, description: 'clips per encoder call' },
    clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
    'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
    ...computeOptions,
    ...outputOptions('the codes'),
  },
  examples: ['encode --checkpoint runs/av/checkpoint.ckpt --out runs/av-codes', 'encode --checkpoint model.ckpt --data ./my-dataset --split val --modalities audio'],
  async run(options) {
    const command = 'encode';
    const dir = checkOutputDir(options.out ?? defaultRunDir('encode'), options.force, command);
    const compute = await setupCompute(options, command);
    const model = await loadPretrained(options.checkpoint, compute.backend, command);
    const dataset = await openDataFor(model.config, { data: options.data, clips: options.clips, dataSeed: options['data-seed'] }, command);
    const modalities = options.modalities.length > 0 ? options.modalities : model.modalities;
    for (const m of modalities) {
      if (!(model.modalities as string[]).includes(m)) throw new UsageError(`--modalities: the model has no ${m} encoder (it has ${model.modalities.join(', ')})`, command);
    }
    await checkDataFitsModel(dataset, model.config, modalities, command);
    if (!dataset.splitNames.includes(options.split)) {
      throw new UsageError(`--split: dataset '${dataset.name}' has no split '${options.split}' (it has ${dataset.splitNames.join(', ')})`, command);
    }
    createOutputDir(dir, command);

    const { writeNpy } = await import('../../data/npy.js');
    const { ReportWriter } = await import('../../report/runReport.js');
    const { codeUsageSvg } = await import('../../report/plots.js');
    const clips = dataset.split(options.split);
    const encoded = await encodeSplit(model, dataset, clips, modalities as typeof model.modalities, options['batch-size']);
    const writer = new ReportWriter(dir);
    const npyFiles: string[] = [];
    for (const set of encoded) {
      const file = path.join(dir, `codes-${set.modality}.npy`);
      writeNpy(file, set.codes, [set.n, set.segments], 'int32');
      npyFiles.push(file);
    }
    const clipsFile = path.join(dir, 'clips.npy');
    writeNpy(clipsFile, clips, [clips.length], 'int32');
    await writer.svg('code-usage.svg', codeUsageSvg(Object.fromEntries(encoded.map((e) => [e.modality, e.usage])), { title: `Code usage on '${options.split}'` }));
    writer.json('encode.json', {
      command,
      version: packageVersion(),
      createdAt: new Date().toISOString(),
      checkpoint: options.checkpoint,
      data: { source: options.data, name: dataset.name, split: options.split, clips: clips.length, segments: dataset.segments },
      codebookSize: model.config.codebookSize,
      modalities: Object.fromEntries(encoded.map((e) => [e.modality, { file: `codes-${e.modality}.npy`, shape: [e.n, e.segments], usage: usageStats(e.usage) }])),
    });
    model.dispose();
    dataset.close();
    for (const e of encoded) {
      const { used, of, perplexity } = usageStats(e.usage);
      process.stdout.write(`${e.modality}: ${e.n} clips x ${e.segments} segments, ${used}/${of} codes used, perplexity ${perplexity.toFixed(1)}\n`);
    }
    process.stdout.write(`wrote ${[...npyFiles, clipsFile, ...writer.files].join(', ')}\n`);
  },
});

