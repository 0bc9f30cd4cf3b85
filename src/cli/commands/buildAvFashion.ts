// `unicode-cmg build-av-fashion`: the real audio-visual-text dataset made from Fashion-MNIST
// images and espeak-ng speech (docs/av-fashion.md). Options are declared beside the builder.
import { type OptionSpecs, type ParsedOptions, defineCommand } from '../args.js';
import { describeAvFashionOptions } from '../../data/avFashion/cliOptions.js';

const options = describeAvFashionOptions() satisfies OptionSpecs;

export type BuildAvFashionCliOptions = ParsedOptions<typeof options>;

export const buildAvFashionCommand = defineCommand({
  name: 'build-av-fashion',
  summary: 'Build the AV-Fashion dataset from Fashion-MNIST images and espeak-ng speech.',
  description:
    'Needs the Debian packages dataset-fashion-mnist and espeak-ng. Writes our dataset format, so pretrain/eval take it with --data <dir>.',
  options,
  examples: ['build-av-fashion', 'build-av-fashion --clips 300 --out data/avf-small --force'],
  load: () => import('./buildAvFashionRun.js'),
});
