// Minimal programmatic pretraining: synthetic paired audio-video clips, a few epochs of Uni-Code
// pretraining with checkpoints and a metrics log, then frozen-encoder codes for a downstream head.
// Run: npm run build && node dist/examples/pretrain.js   (test/train-example.test.ts runs it small)
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { iterateBatches } from '../src/data/batches.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { makeConfig, modalitiesOf } from '../src/model/config.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { enableNativeDense } from '../src/dense/index.js';
import { initTfjs, tf } from '../src/tfjs.js';
import type { PairedBatchSource } from '../src/train/pairedBatchSource.js';
import { Trainer } from '../src/train/trainer.js';

export interface ExampleOptions {
  outDir?: string;
  epochs?: number;
  clips?: number;
  batchSize?: number;
  /** Model config overrides on top of the `small` config. */
  overrides?: Parameters<typeof makeConfig>[1];
}

export async function pretrainExample({
  outDir = 'runs/example',
  epochs = 3,
  clips = 400,
  batchSize = 16,
  overrides = {},
}: ExampleOptions = {}) {
  await initTfjs(); // wasm unless UCMG_TFJS_BACKEND says otherwise
  // Matrix products and convolutions on the addon's OpenBLAS kernels; where the addon or OpenBLAS
  // is missing nothing changes and `reason` says why.
  const dense = enableNativeDense();
  if (!dense.enabled) console.warn(`dense layers on tfjs's own kernels: ${dense.reason}`);

  // 1. A config: the `small` preset, audio + video, any field overridable.
  const config = makeConfig('small', { modalities: 'AV', ...overrides });

  // 2. Paired data as a PairedBatchSource: epoch(e) yields { audio, video } Float32Arrays [B, T, ...].
  const dataset = generateSynthetic({
    modalities: ['audio', 'video'],
    numClips: clips,
    segments: config.segments,
    featureShapes: {
      audio: [config.audioDim],
      video: [config.video.height, config.video.width, config.video.channels],
    },
  });
  const source: PairedBatchSource = {
    batchesPerEpoch: Math.floor(dataset.split('train').length / batchSize),
    *epoch(e) {
      const batches = iterateBatches(dataset, {
        split: 'train',
        batchSize,
        seed: e,
        dropLast: true,
        modalities: modalitiesOf(config.modalities),
      });
      for (const batch of batches) yield batch.features;
    },
  };

  // 3. Model and trainer (Adam 4e-4, per-sub-model clipping, CLUB inner loop, MultiStepLR by default).
  const model = new UniCodeModel(config, { seed: 42 });
  const trainer = new Trainer(model, {
    checkpointPath: path.join(outDir, 'pretrain.ucmg'),
    checkpointEvery: 50,
    metricsPath: path.join(outDir, 'metrics.jsonl'),
  });
  const summary = await trainer.train(source, { epochs });
  console.log(`trained ${summary.steps} steps; last total loss ${summary.last?.loss.total.toFixed(3)}`);

  // 4. Frozen encoder: discrete codes [B, T] for a downstream head (train on audio, test on video).
  const test = dataset.split('test').slice(0, 4);
  const video = tf.tensor(dataset.readFeatures('video', test), [
    test.length,
    config.segments,
    config.video.height,
    config.video.width,
    config.video.channels,
  ]);
  const { codes, quantized } = model.encode('video', video);
  const result = { summary, codes: codes.arraySync() as number[][] };
  tf.dispose([video, codes, quantized]);

  // A later run continues exactly where this one stopped: await Trainer.fromCheckpoint(file).
  trainer.dispose();
  model.dispose();
  return result;
}

// Run directly (not imported): train with the defaults.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await pretrainExample();
}
