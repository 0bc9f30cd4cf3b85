// The AV-Fashion comparison script (examples/av-fashion-table.sh) on a tiny budget: every model it
// promises lands in one eval table, and a rerun keeps the finished pretrainings.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AV_FASHION_DEFAULTS, missingAvFashionPackages } from '../src/data/avFashion/index.js';

const SCRIPT = fileURLToPath(new URL('../../examples/av-fashion-table.sh', import.meta.url));
const missing = missingAvFashionPackages(AV_FASHION_DEFAULTS);
const skip = missing.length > 0 ? `needs apt-get install -y ${missing.map((m) => m.aptPackage).join(' ')}` : undefined;
const MODELS = ['uni-code', 'plain-vq', 'no-club', 'no-cpc', 'no-mm-ema', 'no-cmcm', 'no-reset'];

let root = '';
after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('the AV-Fashion table script pretrains every model and evaluates them in one table; a rerun skips finished ones', {
  skip,
  timeout: 15 * 60 * 1000,
}, () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'avf-table-'));
  const out = path.join(root, 'table');
  const env = { ...process.env, STEPS: '2', CLIPS: '60', SEED: '3' };
  const first = spawnSync('bash', [SCRIPT, out], { encoding: 'utf8', env });
  assert.equal(first.status, 0, first.stderr.slice(-3000));
  const report = JSON.parse(fs.readFileSync(path.join(out, 'eval-av', 'report.json'), 'utf8'));
  assert.deepEqual(Object.keys(report.checkpoints), MODELS);
  const classification = report.downstream.find((r: { task: string }) => r.task === 'classify');
  assert.deepEqual(
    classification.rows.map((r: { encoder: string }) => r.encoder),
    MODELS,
  );
  for (const name of MODELS) {
    const run = JSON.parse(fs.readFileSync(path.join(out, name, 'report.json'), 'utf8'));
    assert.equal(run.result.steps, 2, `${name} trained the budget`);
  }
  // The ablations switch off what their names say.
  const config = (name: string) => JSON.parse(fs.readFileSync(path.join(out, name, 'report.json'), 'utf8')).config;
  assert.equal(config('no-club').useClub, false);
  assert.equal(config('no-cpc').useCpc, false);
  assert.equal(config('no-mm-ema').crossModalEma, false);
  assert.equal(config('no-cmcm').useCmcm, false);
  assert.equal(config('no-reset').resetDeadCodes, false);
  assert.deepEqual(
    [
      config('plain-vq').useClub,
      config('plain-vq').useCpc,
      config('plain-vq').crossModalEma,
      config('plain-vq').useCmcm,
    ],
    [false, false, false, false],
  );
  assert.equal(
    config('uni-code').useClub &&
      config('uni-code').useCpc &&
      config('uni-code').crossModalEma &&
      config('uni-code').useCmcm,
    true,
  );

  const checkpoint = path.join(out, 'uni-code', 'checkpoint.ckpt');
  const written = fs.statSync(checkpoint).mtimeMs;
  const second = spawnSync('bash', [SCRIPT, out], { encoding: 'utf8', env });
  assert.equal(second.status, 0, second.stderr.slice(-3000));
  for (const name of MODELS) assert.match(second.stdout, new RegExp(`^${name}: done already$`, 'm'));
  assert.equal(fs.statSync(checkpoint).mtimeMs, written, 'the finished checkpoint is kept');
});
