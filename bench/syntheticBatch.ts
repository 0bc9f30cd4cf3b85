// A deterministic pretraining batch for the benchmarks: smooth features whose values do not
// matter for speed, shaped for a named config.
import { type ConfigName, inputShapeOf, makeConfig, modalitiesOf } from '../src/model/config.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';

export function syntheticBatchFor(name: ConfigName, batchSize: number): PairedBatch {
  const config = makeConfig(name);
  const batch: PairedBatch = {};
  for (const m of modalitiesOf(config.modalities)) {
    const size = batchSize * config.segments * inputShapeOf(config, m).reduce((a, b) => a * b, 1);
    batch[m] = Float32Array.from({ length: size }, (_, i) => Math.sin(0.37 * i + m.length));
  }
  return batch;
}
