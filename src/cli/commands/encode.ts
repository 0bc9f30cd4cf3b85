// `unicode-cmg encode`: a pretrained (frozen) model maps each clip segment of a split to its code.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';
import { MODALITY_CHOICES, SYNTHETIC, computeOptions, outputOptions } from '../commonOptions.js';

const options = {
  checkpoint: {
    kind: 'string',
    required: true,
    valueName: 'file',
    description: 'pretraining checkpoint (checkpoint.ckpt of a pretrain run)',
  },
  data: {
    kind: 'string',
    default: SYNTHETIC,
    valueName: 'dir|synthetic',
    description: 'dataset directory, or "synthetic" (shaped for the checkpoint\'s model)',
  },
  split: { kind: 'string', default: 'test', valueName: 'name', description: 'split to encode' },
  modalities: {
    kind: 'choice',
    choices: MODALITY_CHOICES,
    multiple: true,
    description: "modalities to encode [default: all of the model's]",
  },
  'batch-size': { kind: 'int', default: 256, min: 1, description: 'clips per encoder call' },
  clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
  'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
  ...computeOptions,
  ...outputOptions('the codes'),
} as const satisfies OptionSpecs;

export type EncodeOptions = ParsedOptions<typeof options>;

export const encode = defineCommand({
  name: 'encode',
  summary: 'Encode clips into codebook indices with a pretrained model.',
  description: [
    'Writes codes-<modality>.npy (int32 [clips, T]), clips.npy (the dataset clip index of each row),',
    'code-usage.svg and encode.json (shapes, code usage, perplexity) into --out.',
  ].join('\n'),
  options,
  examples: [
    'encode --checkpoint runs/av/checkpoint.ckpt --out runs/av-codes',
    'encode --checkpoint model.ckpt --data ./my-dataset --split val --modalities audio',
  ],
  load: () => import('./encodeRun.js'),
});
