// `unicode-cmg eval`: cross-modal generalization of pretrained encoders. For every ordered pair
// X->Y a head is trained on X's codes and tested on Y's (X->X is the labelled-modality upper bound).

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';
import { MODALITY_CHOICES, SYNTHETIC, computeOptions, outputOptions, seedOption } from '../commonOptions.js';
import { CROSS_MODAL_TASKS } from '../../downstream/taskNames.js';

const options = {
  checkpoint: {
    kind: 'string',
    required: true,
    valueName: 'file',
    description: 'pretraining checkpoint of the model to evaluate',
  },
  baseline: {
    kind: 'string',
    multiple: true,
    valueName: 'file',
    description: 'another checkpoint to evaluate alongside (e.g. pretrain --without club,cpc,mm-ema,cmcm)',
  },
  data: {
    kind: 'string',
    default: SYNTHETIC,
    valueName: 'dir|synthetic',
    description: 'labelled dataset directory, or "synthetic" (shaped for the checkpoint\'s model)',
  },
  tasks: {
    kind: 'choice',
    choices: CROSS_MODAL_TASKS,
    multiple: true,
    description: 'downstream tasks [default: classify,localize]',
  },
  modalities: {
    kind: 'choice',
    choices: MODALITY_CHOICES,
    multiple: true,
    description: 'modalities to pair [default: all the models and the data share]',
  },
  'train-split': { kind: 'string', default: 'train', valueName: 'name', description: 'split the heads are trained on' },
  'test-split': { kind: 'string', default: 'test', valueName: 'name', description: 'split the heads are tested on' },
  epochs: {
    kind: 'int',
    min: 1,
    valueName: 'n',
    description: 'head training epochs [default: 30 classify, 50 localize]',
  },
  toc: {
    kind: 'int',
    min: 1,
    valueName: 'k',
    description:
      'heads see only the k codebook dimensions with the highest TOC score, the training-free codebook ' +
      'optimisation (docs/algorithm.md §8) [default: all]',
  },
  'batch-size': { kind: 'int', default: 80, min: 1, description: 'head batch size' },
  lr: { kind: 'number', default: 4e-4, min: 0, exclusiveMin: true, description: 'head Adam learning rate' },
  clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
  'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
  ...seedOption,
  ...computeOptions,
  ...outputOptions('the report'),
} as const satisfies OptionSpecs;

export type EvalOptions = ParsedOptions<typeof options>;

export const evaluate = defineCommand({
  name: 'eval',
  summary: 'Cross-modal classification / localization / retrieval with frozen pretrained encoders.',
  description: [
    'Prints one table per task and writes report.json, report.md and cross-modal-<task>.svg into --out.',
    'Pass --baseline (repeatable) to compare more checkpoints, e.g. a plain shared-VQ run and ablations, in the same tables;',
    "each is named after its checkpoint's directory.",
  ].join('\n'),
  options,
  examples: [
    'eval --checkpoint runs/av/checkpoint.ckpt',
    'eval --checkpoint runs/av/checkpoint.ckpt --baseline runs/vq/checkpoint.ckpt --tasks classify --epochs 10',
    'eval --checkpoint runs/av/checkpoint.ckpt --baseline runs/no-club/checkpoint.ckpt --baseline runs/no-cpc/checkpoint.ckpt',
    'eval --checkpoint runs/av/checkpoint.ckpt --toc 48 --tasks classify',
  ],
  load: () => import('./evalRun.js'),
});
