// `unicode-cmg demo` (what `npm start` runs): the whole method end to end on the embedded synthetic
// data. Pretrains Uni-Code and the plain shared-VQ baseline with the small config, then trains
// downstream heads on one modality's codes and tests them on every other (and on the same one, the
// upper bound), and prints the classification and localization tables.

import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';
import { MODALITY_CHOICES, computeOptions, outputOptions, seedOption } from '../commonOptions.js';

const options = {
  modalities: {
    kind: 'choice',
    choices: MODALITY_CHOICES,
    multiple: true,
    description: 'modalities to pair [default: audio,video]',
  },
  steps: { kind: 'int', default: 60, min: 1, description: 'pretraining steps per model' },
  'batch-size': { kind: 'int', default: 32, min: 2, description: 'clips per pretraining step' },
  clips: { kind: 'int', default: 600, min: 20, description: 'synthetic clips (70% train, 10% val, 20% test)' },
  'head-epochs': { kind: 'int', default: 20, min: 1, description: 'downstream head epochs' },
  minutes: {
    kind: 'number',
    default: 10,
    min: 0,
    description:
      'time budget: if --steps would overrun it (judged from the first steps), both models train fewer steps; 0 = no limit',
  },
  ...seedOption,
  ...computeOptions,
  ...outputOptions('the report and plots'),
} as const satisfies OptionSpecs;

export type DemoOptions = ParsedOptions<typeof options>;

export const demo = defineCommand({
  name: 'demo',
  summary: 'Pretrain on synthetic data and print the cross-modal generalization tables.',
  description: [
    'Pretrains the small config twice (Uni-Code, and the plain shared-VQ baseline without CLUB, Cross-CPC,',
    'MM-EMA cross terms and L_cmcm), then for every ordered pair X->Y trains a classification and a',
    "localization head on X's codes and tests it on Y's; X->X is the labelled-modality upper bound.",
    'Writes report.json, report.md, loss curves, code usage and heatmaps into --out. Takes about 6 minutes',
    'on an idle 2-core machine; --minutes caps the total.',
  ].join('\n'),
  options,
  examples: ['demo', 'demo --out runs/my-demo --force', 'demo --modalities audio,video,text --steps 100'],
  load: () => import('./demoRun.js'),
});
