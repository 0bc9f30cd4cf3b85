// The body of `unicode-cmg build-av-fashion`: builds the dataset with one progress bar per stage.

import { avFashionOptionsFromCli, buildAvFashion } from '../../data/avFashion/index.js';
import { Progress } from '../../util/progress.js';
import { checkOutputDir } from '../outputDir.js';
import type { BuildAvFashionCliOptions } from './buildAvFashion.js';

export async function run(options: BuildAvFashionCliOptions): Promise<void> {
  // The builder itself refuses a non-empty --out without --force; an empty one may be reused.
  checkOutputDir(options.out, true, 'build-av-fashion');
  const bars = new Map<string, InstanceType<typeof Progress>>();
  const seen = new Map<string, number>();
  const result = await buildAvFashion(avFashionOptionsFromCli(options), {
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
  const splits = Object.entries(result.clipsPerSplit)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  process.stdout.write(
    `AV-Fashion written to ${result.dir}: ${splits} clips, ${result.utterances} utterances, ${result.seconds.toFixed(1)} s\n`,
  );
}
