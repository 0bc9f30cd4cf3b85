// `unicode-cmg build-av-fashion`: the real audio-visual-text dataset made from Fashion-MNIST
// images and espeak-ng speech (docs/av-fashion.md). Options are declared beside the builder.
import { defineCommand } from '../args.js';
import { describeAvFashionOptions, type AvFashionCliValues } from '../../data/avFashion/cliOptions.js';

export const buildAvFashionCommand = defineCommand({
  name: 'build-av-fashion',
  summary: 'Build the AV-Fashion dataset from Fashion-MNIST images and espeak-ng speech.',
  description: 'Needs the Debian packages dataset-fashion-mnist and espeak-ng. Writes our dataset format, so pretrain/eval take it with --data <dir>.',
  options: describeAvFashionOptions(),
  examples: ['build-av-fashion', 'build-av-fashion --clips 300 --out data/avf-small --force'],
  async run(options) {
    const { buildAvFashion, avFashionOptionsFromCli } = await import('../../data/avFashion/index.js');
    const { Progress } = await import('../../util/progress.js');
    const bars = new Map<string, InstanceType<typeof Progress>>();
    const seen = new Map<string, number>();
    const result = await buildAvFashion(avFashionOptionsFromCli(options as unknown as AvFashionCliValues), {
      onProgress({ stage, done, total }) {
        let bar = bars.get(stage);
        if (bar === undefined) {
          bar = new Progress({ total, label: stage });
          bars.set(stage, bar);
        }
        const step = done - (seen.get(stage) ?? 0);
        if (step > 0) bar.tick(step);
        seen.set(stage, done);
        if (done >= total) bar.done();
      },
    });
    const splits = Object.entries(result.clipsPerSplit).map(([s, n]) => `${s} ${n}`).join(', ');
    process.stdout.write(`AV-Fashion written to ${result.dir}: ${splits} clips, ${result.utterances} utterances, ${result.seconds.toFixed(1)} s\n`);
  },
});
