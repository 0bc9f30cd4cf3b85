// End to end on the embedded synthetic data, through the same pipeline functions `unicode-cmg demo`
// composes: pretrain Uni-Code and the plain shared-VQ baseline for the same steps, then train a
// classifier on one modality's codes and test it on the other's. Uni-Code's cross-modal accuracy
// must be clearly above chance and above the baseline's. The settings are the demo's, cut down
// (fewer steps, batch 16, the 20% test split of 600 clips) to run in about a minute and a half on
// 2 cores; over seeds 0-2 they gave Uni-Code 57-62% A->V and 54-82% V->A against the baseline's
// 8-13% and 15-20% (chance 12.5%), so the margins below leave room for backend rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveBackend } from '../src/backend.js';
import {
  PLAIN_VQ,
  UNI_CODE,
  namedEncoder,
  openDataFor,
  runDownstream,
  startPretraining,
  uniCodeAndPlainVq,
} from '../src/cli/pipeline.js';
import type { NamedEncoder } from '../src/downstream/encoder.js';
import { formatDownstreamTable } from '../src/report/runReport.js';
import { enableNativeDense } from '../src/dense/index.js';
import { initTfjs } from '../src/tfjs.js';

const SEED = 0;
const CLIPS = 600;
const STEPS = 40;
const BATCH_SIZE = 16;
const HEAD_EPOCHS = 20;
/** Required lead, in accuracy, over chance and over the baseline's same pair. */
const MARGIN_OVER_CHANCE = 0.2;
const MARGIN_OVER_BASELINE = 0.2;

test('e2e: Uni-Code classifies across audio and video well above chance and the plain-VQ baseline', async () => {
  await initTfjs();
  enableNativeDense(); // as the CLI does: OpenBLAS dense kernels where the addon has them
  const backend = resolveBackend();
  const configs = await uniCodeAndPlainVq('small', 'AV');
  const dataset = await openDataFor(configs[UNI_CODE], { data: 'synthetic', clips: CLIPS, dataSeed: SEED }, 'e2e');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-e2e-'));
  const encoders: NamedEncoder[] = [];
  const models = [];
  try {
    for (const [name, config] of Object.entries(configs)) {
      const subdir = path.join(dir, name === UNI_CODE ? 'uni-code' : 'plain-vq');
      fs.mkdirSync(subdir);
      const run = await startPretraining({
        config,
        dataset,
        split: 'train',
        dir: subdir,
        seed: SEED,
        batchSize: BATCH_SIZE,
        learningRate: 4e-4,
        epochs: STEPS,
        backend,
        progress: { write: () => true },
      });
      const summary = await run.trainUntil(STEPS);
      assert.equal(summary.steps, STEPS, `${name} trained ${summary.steps} steps, expected ${STEPS}`);
      models.push(run.model);
      encoders.push(await namedEncoder(name, run.model));
    }
    const [report] = await runDownstream({ tasks: ['classify'], encoders, dataset, epochs: HEAD_EPOCHS, seed: SEED });
    console.log(
      `\nsynthetic e2e: ${STEPS} steps of batch ${BATCH_SIZE}, ${CLIPS} clips, ${HEAD_EPOCHS} head epochs, seed ${SEED}, backend ${backend}\n${formatDownstreamTable(report)}`,
    );

    const chance = 1 / dataset.classes.length;
    const metric = report.metrics[0];
    const accuracy = (encoder: string, train: string, testOn: string): number => {
      const pair = report.rows
        .find((r) => r.encoder === encoder)
        ?.pairs.find((p) => p.train === train && p.test === testOn);
      assert.ok(pair, `no ${train}->${testOn} result for ${encoder}`);
      return pair.metrics[metric];
    };
    for (const [train, testOn] of [
      ['audio', 'video'],
      ['video', 'audio'],
    ]) {
      const uniCode = accuracy(UNI_CODE, train, testOn);
      const plainVq = accuracy(PLAIN_VQ, train, testOn);
      assert.ok(
        uniCode >= chance + MARGIN_OVER_CHANCE,
        `Uni-Code ${train}->${testOn} ${(100 * uniCode).toFixed(1)}% is not ${100 * MARGIN_OVER_CHANCE} points above chance ${(100 * chance).toFixed(1)}%`,
      );
      assert.ok(
        uniCode >= plainVq + MARGIN_OVER_BASELINE,
        `Uni-Code ${train}->${testOn} ${(100 * uniCode).toFixed(1)}% is not ${100 * MARGIN_OVER_BASELINE} points above plain VQ's ${(100 * plainVq).toFixed(1)}%`,
      );
    }
  } finally {
    models.forEach((m) => m.dispose());
    dataset.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
