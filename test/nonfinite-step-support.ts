// Shared by the tests of a training step that turns non-finite inside the model, on the CPU path
// and on the tfjs 'cuda' backend: the step fails with a clear error before anything changes state,
// and leaves no tensor behind. (Import it after the backend is chosen: it loads the library.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CheckpointPayload, loadCheckpoint } from '../src/train/checkpoint.js';
import type { PairedBatch } from '../src/train/pairedBatchSource.js';
import type { Trainer } from '../src/train/trainer.js';
import { tf } from '../src/tfjs.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-nonfinite-'));

/** Everything a checkpoint holds: weights (CLUB nets too), optimizer states, codebook, RNG, position. */
async function stateOf(trainer: Trainer): Promise<CheckpointPayload> {
  const file = path.join(dir, 'state.ckpt');
  await trainer.saveCheckpoint(file);
  return loadCheckpoint(file);
}

/**
 * The batch with its audio scaled by 1e30: finite, so the batch check lets it in, but the audio
 * encoder overflows and z (and CLUB's audio feature) turn NaN.
 */
export function overflowingAudio(batch: PairedBatch): PairedBatch {
  return { ...batch, audio: Float32Array.from(batch.audio as Float32Array, (v) => v * 1e30) };
}

/** Asserts that `trainer.step(batch)` fails with `error` and changes no state and leaves no tensor. */
export async function assertStepRefused(trainer: Trainer, batch: PairedBatch, error: RegExp): Promise<void> {
  const before = await stateOf(trainer);
  const tensors = tf.memory().numTensors;
  await assert.rejects(trainer.step(batch), error);
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  assert.deepEqual(await stateOf(trainer), before, 'weights, optimizers, codebook and RNG unchanged');
}
