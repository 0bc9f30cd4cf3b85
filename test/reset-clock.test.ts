// The reset clock scaled to the run length: the published thresholds at the published length,
// proportional elsewhere, halves rounded up, never below the documented minimums; and the pretrain
// flags that set it reach the codebook, with the resets that fired in the run report.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UniCodeModel } from '../src/model/uniCode.js';
import { initTfjs } from '../src/tfjs.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { readMetricsLog } from '../src/train/metricsLog.js';
import { scaledResetClock } from '../src/train/resetClock.js';
import { Trainer } from '../src/train/trainer.js';
import { syntheticBatches, tinyConfig } from './train-support.js';

test('the published 300 / 100 at 3,000 steps, the same fractions of any other length', () => {
  assert.deepEqual(scaledResetClock(3000), { deadAfter: 300, activeBelow: 100 });
  assert.deepEqual(scaledResetClock(240), { deadAfter: 24, activeBelow: 8 });
  assert.deepEqual(scaledResetClock(480), { deadAfter: 48, activeBelow: 16 });
  assert.deepEqual(scaledResetClock(2000), { deadAfter: 200, activeBelow: 67 });
  assert.deepEqual(scaledResetClock(6000), { deadAfter: 600, activeBelow: 200 });
});

test('halves round up; short runs stop at deadAfter 3 and activeBelow 1', () => {
  // 45 steps: 4.5 and 1.5 exactly.
  assert.deepEqual(scaledResetClock(45), { deadAfter: 5, activeBelow: 2 });
  // 44 steps: 4.4 and 1.47.
  assert.deepEqual(scaledResetClock(44), { deadAfter: 4, activeBelow: 1 });
  assert.deepEqual(scaledResetClock(20), { deadAfter: 3, activeBelow: 1 });
  assert.deepEqual(scaledResetClock(1), { deadAfter: 3, activeBelow: 1 });
});

test('a run length that is not a positive integer is refused, naming it', () => {
  for (const bad of [0, -5, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => scaledResetClock(bad), /scaledResetClock: plannedSteps must be a positive integer/);
  }
});

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TINY = ['--modalities', 'audio,text', '--clips', '40', '--batch-size', '8', '--backend', 'tfjs', '--tfjs', 'cpu'];

function pretrain(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, 'pretrain', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Every code starts with its unused counter at -1 and most of the 96 are never chosen by 80 rows,
 * so with deadAfter 3 the first dead codes (counter 4 > 3) are revived at step 5 and not before.
 */
function assertFirstResetsAtStep5(run: string, stdout: string): void {
  const resets = readMetricsLog(path.join(run, 'metrics.jsonl')).map((r) => r.resetCodes as number);
  assert.deepEqual(resets.slice(0, 4), [0, 0, 0, 0]);
  assert.ok(resets[4] > 0, `resets per step: ${resets.join(', ')}`);
  const report = JSON.parse(fs.readFileSync(path.join(run, 'report.json'), 'utf8'));
  assert.equal(
    report.result.resetsFired,
    resets.reduce((a, b) => a + b, 0),
  );
  assert.match(stdout, new RegExp(`, ${report.result.resetsFired} dead-code resets fired;`));
}

test('pretrain --dead-after / --active-below reach the codebook, and the report counts the resets', () => {
  const run = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-reset-')), 'run');
  const flags = ['--dead-after', '3', '--active-below', '1'];
  const { status, stdout, stderr } = pretrain([...TINY, '--max-steps', '6', ...flags, '--out', run]);
  assert.equal(status, 0, stderr);
  const report = JSON.parse(fs.readFileSync(path.join(run, 'report.json'), 'utf8'));
  assert.deepEqual(report.resetClock, { deadAfter: 3, activeBelow: 1, scale: null, plannedSteps: 6 });
  const { meta } = loadCheckpoint(path.join(run, 'checkpoint.ckpt'));
  const config = meta.config as { deadAfter: number; activeBelow: number };
  assert.deepEqual([config.deadAfter, config.activeBelow], [3, 1]);
  assertFirstResetsAtStep5(run, stdout);
});

test('pretrain --reset-scale auto scales the clock to the planned steps', () => {
  const run = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-reset-')), 'run');
  // 6 planned steps: 300 * 6 / 3000 = 0.6 and 0.2, so the minimums 3 and 1.
  const { status, stdout, stderr } = pretrain([...TINY, '--max-steps', '6', '--reset-scale', 'auto', '--out', run]);
  assert.equal(status, 0, stderr);
  const report = JSON.parse(fs.readFileSync(path.join(run, 'report.json'), 'utf8'));
  assert.deepEqual(report.resetClock, { deadAfter: 3, activeBelow: 1, scale: 'auto', plannedSteps: 6 });
  assertFirstResetsAtStep5(run, stdout);
});

test('pretrain --reset-ema and --detach-mi-code reach the model config; off by default', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-reset-'));
  const configOf = (run: string, flags: string[]) => {
    const { status, stderr } = pretrain([...TINY, '--max-steps', '1', ...flags, '--out', run]);
    assert.equal(status, 0, stderr);
    const config = loadCheckpoint(path.join(run, 'checkpoint.ckpt')).meta.config as Record<string, unknown>;
    return [config.resetEma, config.detachMiCode];
  };
  assert.deepEqual(configOf(path.join(root, 'both'), ['--reset-ema', '--detach-mi-code']), [true, true]);
  assert.deepEqual(configOf(path.join(root, 'published'), []), [false, false]);
  const resumed = pretrain([...TINY.slice(2), '--resume', path.join(root, 'both', 'checkpoint.ckpt'), '--reset-ema']);
  assert.equal(resumed.status, 2);
  assert.match(resumed.stderr, /--resume keeps the checkpoint's model settings; drop --reset-ema\n/);
});

test('pretrain refuses reset-clock flags that contradict each other or a resume, writing nothing', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-reset-'));
  const out = path.join(root, 'run');
  const cases: [string[], RegExp][] = [
    [['--reset-scale', 'auto', '--dead-after', '30'], /--reset-scale auto sets --dead-after and --active-below itself/],
    [['--dead-after', '5', '--active-below', '10'], /--dead-after \(5\) must be at least --active-below \(10\)/],
    [['--active-below', '400'], /--dead-after \(300\) must be at least --active-below \(400\)/],
    [
      ['--resume', path.join(root, 'none.ckpt'), '--dead-after', '3'],
      /--resume keeps the checkpoint's model settings; drop --dead-after\n/,
    ],
    [['--reset-scale', 'fixed'], /--reset-scale must be one of auto; got 'fixed'/],
    [['--dead-after', '0'], /--dead-after must be an integer >= 1/],
  ];
  for (const [args, pattern] of cases) {
    // --resume takes the modalities from the checkpoint, so it goes without TINY's --modalities.
    const data = args[0] === '--resume' ? TINY.slice(2) : TINY;
    const { status, stderr } = pretrain([...data, '--max-steps', '1', ...args, '--out', out]);
    assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, pattern);
    assert.ok(!fs.existsSync(out), `${args.join(' ')} wrote nothing`);
  }
});

before(async () => {
  await initTfjs();
});

test('legacyEncoderPasses: every extra pass updates the codebook; its clock ticks 1 + passes times', async () => {
  const config = tinyConfig({ modalities: 'AT' });
  const unusedAfterOneStep = async (legacyEncoderPasses: number) => {
    const model = new UniCodeModel(config, { seed: 4, backend: 'tfjs' });
    try {
      const trainer = new Trainer(model, { legacyEncoderPasses, progress: false });
      const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 1 });
      await trainer.step(batch);
      return Array.from(model.codebook.getState().unusedCount);
    } finally {
      model.dispose();
    }
  };
  // Counters start at -1; a code no pass chose has been counted once per update.
  const plain = await unusedAfterOneStep(0);
  const legacy = await unusedAfterOneStep(5);
  assert.equal(Math.max(...plain), 0);
  assert.equal(Math.max(...legacy), 5);
  assert.ok(legacy.every((u) => u >= 0 && u <= 5));
  const model = new UniCodeModel(config, { seed: 4, backend: 'tfjs' });
  try {
    assert.throws(() => new Trainer(model, { legacyEncoderPasses: -1 }), /options\.legacyEncoderPasses/);
  } finally {
    model.dispose();
  }
});

test("legacyEncoderPasses: the step's resetCodes counts the resets of every update it ran", async () => {
  const config = tinyConfig({ modalities: 'AT', deadAfter: 3, activeBelow: 1 });
  const model = new UniCodeModel(config, { seed: 4, backend: 'tfjs' });
  try {
    const perUpdate: number[] = [];
    const update = model.codebook.update.bind(model.codebook);
    model.codebook.update = async (forward, seed) => {
      const report = await update(forward, seed);
      perUpdate.push(report.resetCodes.length);
      return report;
    };
    const trainer = new Trainer(model, { legacyEncoderPasses: 5, progress: false });
    const [batch] = syntheticBatches(config, { batches: 1, batchSize: 4, seed: 1 });
    const metrics = await trainer.step(batch);
    assert.equal(perUpdate.length, 6);
    const total = perUpdate.reduce((a, b) => a + b, 0);
    assert.ok(total > 0, `resets per update: ${perUpdate.join(', ')}`);
    assert.equal(metrics.resetCodes, total);
  } finally {
    model.dispose();
  }
});

test('pretrain --legacy-encoder-passes: five extra updates a step, stored, and their resets counted', () => {
  const run = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-reset-')), 'run');
  const flags = ['--legacy-encoder-passes', '--dead-after', '3', '--active-below', '1'];
  const { status, stderr } = pretrain([...TINY, '--max-steps', '1', ...flags, '--out', run]);
  assert.equal(status, 0, stderr);
  const report = JSON.parse(fs.readFileSync(path.join(run, 'report.json'), 'utf8'));
  assert.equal(report.training.legacyEncoderPasses, 5);
  const stored = loadCheckpoint(path.join(run, 'checkpoint.ckpt')).meta.trainer as { legacyEncoderPasses: number };
  assert.equal(stored.legacyEncoderPasses, 5);
  // One step, six updates: a code no pass chose reaches 4 > 3 at the fifth and is revived; without the
  // passes no code is revived before step 5 (see above).
  assert.ok(report.result.resetsFired > 0, `resets fired: ${report.result.resetsFired}`);
});
