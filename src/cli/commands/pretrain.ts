// `unicode-cmg pretrain`: Uni-Code pretraining on paired clips, with a checkpoint, the metrics log,
// loss curves, code usage and a JSON report in the output directory.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';
import { ABLATIONS, MODALITY_CHOICES, SYNTHETIC, computeOptions, outputOptions, seedOption } from '../commonOptions.js';

const options = {
  data: {
    kind: 'string',
    default: SYNTHETIC,
    valueName: 'dir|synthetic',
    description: 'dataset directory (manifest.json + .npy files) or "synthetic" for the embedded generator',
  },
  split: { kind: 'string', default: 'train', valueName: 'name', description: 'split to train on' },
  config: {
    kind: 'choice',
    choices: ['small', 'paper'],
    description: 'model size: small (D=64, M=96) or paper (D=256, M=400) [default: small]',
  },
  modalities: {
    kind: 'choice',
    choices: MODALITY_CHOICES,
    multiple: true,
    description: 'modalities to pair [default: synthetic: audio,video; a directory: all it has]',
  },
  without: {
    kind: 'choice',
    choices: ABLATIONS,
    multiple: true,
    description: 'ablations: switch off CLUB, Cross-CPC, the cross-modal EMA terms, L_cmcm or dead-code reset',
  },
  epochs: { kind: 'int', default: 6, min: 1, description: 'epochs over the split' },
  'max-steps': {
    kind: 'int',
    min: 1,
    valueName: 'n',
    description: 'stop after this many steps in total (across resumes)',
  },
  'dead-after': {
    kind: 'int',
    min: 1,
    valueName: 'steps',
    description: 'dead-code reset: a code unused for more than this many steps is revived [default: 300]',
  },
  'active-below': {
    kind: 'int',
    min: 1,
    valueName: 'steps',
    description: 'dead-code reset: codes used within this many steps are the donors [default: 100]',
  },
  'reset-scale': {
    kind: 'choice',
    choices: ['auto'],
    description:
      'auto: scale --dead-after and --active-below to the planned steps as published, 300 and 100 at 3,000 ' +
      'steps (round halves up, at least 3 and 1; docs/algorithm.md §3.5)',
  },
  'reset-ema': {
    kind: 'flag',
    description:
      "not published: a dead-code reset also rewrites the revived code's EMA sum, so the next update keeps the " +
      'code where the reset put it instead of pulling it back (docs/algorithm.md §3.5, docs/av-fashion.md)',
  },
  'detach-mi-code': {
    kind: 'flag',
    description:
      "not published: CLUB's MI loss trains only the specific encoders; the code, and so the semantic encoder, " +
      'gets none of its gradient (docs/algorithm.md §4.1, docs/av-fashion.md)',
  },
  'legacy-encoder-passes': {
    kind: 'flag',
    description:
      'experimental: 5 extra encoder passes without gradients per step, each followed by a codebook update, ' +
      'as the first released training loop ran (docs/algorithm.md §5.4)',
  },
  'batch-size': {
    kind: 'int',
    default: 80,
    min: 2,
    description: 'clips per step (under mpirun: the global batch, split over the ranks)',
  },
  lr: { kind: 'number', default: 4e-4, min: 0, exclusiveMin: true, description: 'Adam learning rate' },
  'checkpoint-every': {
    kind: 'int',
    min: 1,
    valueName: 'steps',
    description: 'also checkpoint every this many steps [default: at the end only]',
  },
  resume: {
    kind: 'string',
    valueName: 'checkpoint',
    description:
      'continue from a checkpoint (its config and position); --config, --modalities and --without come from it',
  },
  clips: { kind: 'int', default: 1000, min: 10, description: 'synthetic data: clips to generate' },
  'data-seed': { kind: 'int', default: 0, min: 0, description: 'synthetic data: generator seed' },
  distributed: {
    kind: 'flag',
    description: 'data-parallel over MPI, implied under mpirun (`mpirun -np N unicode-cmg pretrain`); rank 0 writes',
  },
  ...seedOption,
  ...computeOptions,
  ...outputOptions('the checkpoint, metrics and report'),
} as const satisfies OptionSpecs;

export type PretrainOptions = ParsedOptions<typeof options>;

export const pretrain = defineCommand({
  name: 'pretrain',
  summary: 'Pretrain the shared codebook model on paired, unlabelled clips.',
  description: [
    'Writes checkpoint.ckpt (resumable), metrics.jsonl (one line per step), loss-curves.svg,',
    'code-usage.svg and report.json into --out. Model input sizes are taken from the data.',
  ].join('\n'),
  options,
  examples: [
    'pretrain --max-steps 200 --out runs/av',
    'pretrain --data ./my-dataset --config paper --modalities audio,video,text --epochs 6',
    'pretrain --without cpc,club --out runs/ablation',
    'pretrain --resume runs/av/checkpoint.ckpt --out runs/av --force --epochs 12',
    'mpirun -np 4 unicode-cmg pretrain --batch-size 320 --out runs/dp   (data-parallel, as one process would)',
  ],
  load: () => import('./pretrainRun.js'),
});
