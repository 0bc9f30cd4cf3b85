// The README's pretraining example (examples/pretrain.ts) runs as written, here with tiny settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pretrainExample } from '../examples/pretrain.js';
import { readMetricsLog } from '../src/train/metricsLog.js';
import { Trainer } from '../src/train/trainer.js';
import { tinyConfig } from './train-support.js';

test('the pretraining example trains, checkpoints, logs and encodes', async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-example-'));
  const { embeddingDim, codebookSize, audioDim, video, transformer, videoWidths, specificDim, clubHidden, cpcHidden } =
    tinyConfig();
  const result = await pretrainExample({
    outDir,
    epochs: 1,
    clips: 40,
    batchSize: 8,
    overrides: {
      embeddingDim,
      codebookSize,
      audioDim,
      video,
      transformer,
      videoWidths,
      specificDim,
      clubHidden,
      cpcHidden,
    },
  });
  // 40 clips, 70% train -> 28 -> 3 full batches of 8; clips keep the small config's T = 10.
  assert.equal(result.summary.steps, 3);
  assert.equal(readMetricsLog(path.join(outDir, 'metrics.jsonl')).length, 3);
  assert.equal(result.codes.length, 4);
  assert.ok(
    result.codes.every(
      (row) => row.length === 10 && row.every((c) => Number.isInteger(c) && c >= 0 && c < codebookSize),
    ),
  );
  const resumed = await Trainer.fromCheckpoint(path.join(outDir, 'pretrain.ucmg'), { progress: false });
  assert.equal(resumed.globalStep, 3);
  resumed.dispose();
  resumed.model.dispose();
  fs.rmSync(outDir, { recursive: true });
});

test('docs/pretraining-example.md shows examples/pretrain.ts verbatim', () => {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  const doc = fs.readFileSync(path.join(root, 'docs', 'pretraining-example.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'the page has a ts code block');
  assert.equal(block[1], fs.readFileSync(path.join(root, 'examples', 'pretrain.ts'), 'utf8'));
});
