// Smoke tests of the `unicode-cmg` executable, run as a child process exactly as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDataset } from '../src/data/directory.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { readMetricsLog } from '../src/train/metricsLog.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const COMMANDS = ['pretrain', 'encode', 'eval', 'demo', 'info', 'bench', 'build-av-fashion'];

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-cli-'));
}

test('cli: top-level usage, --version and unknown commands', () => {
  const bare = cli([]);
  assert.equal(bare.status, 2);
  for (const name of COMMANDS) assert.match(bare.stdout, new RegExp(`^  ${name} `, 'm'));
  assert.equal(cli(['--help']).status, 0);
  assert.match(cli(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  const unknown = cli(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate' \(commands are pretrain, /);
  const typo = cli(['pretrian', '--max-steps', '1']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /unknown command 'pretrian'; did you mean 'pretrain'\?/);
});

test('cli: every sub-command has --help', () => {
  for (const name of COMMANDS) {
    const { status, stdout, stderr } = cli([name, '--help']);
    assert.equal(status, 0, `${name} --help: ${stderr}`);
    assert.match(stdout, new RegExp(`^Usage: unicode-cmg ${name} \\[options\\]`));
    assert.match(stdout, /-h, --help/);
  }
});

test('cli: bad flags exit non-zero with a message naming them', () => {
  const cases: [string[], RegExp][] = [
    [['pretrain', '--bogus'], /unknown option '--bogus'/],
    [['pretrain', '--epochs'], /option '--epochs' needs a value/],
    [['pretrain', '--epochs', 'many'], /--epochs must be an integer >= 1 in decimal digits; got 'many'/],
    [['pretrain', '--lr', '-1'], /--lr must be a number > 0; got -1, which is negative/],
    [['pretrain', '--max-steps', '-5'], /--max-steps must be an integer >= 1; got -5, which is negative/],
    [['pretrain', '--max-steps', '0x2'], /--max-steps must be an integer >= 1 in decimal digits; got '0x2'/],
    [['pretrain', '--max-steps', '2', '--max-steps', '3'], /--max-steps is given 2 times; it takes one value/],
    [['pretrain', '--max-step', '2'], /unknown option '--max-step'; did you mean '--max-steps'\?/],
    [['demo', '--modalities', 'smell'], /--modalities must be one of audio, video, text; got 'smell'/],
    [['demo', '--modalities', 'audio'], /--modalities: pretraining needs two or three of audio, video, text/],
    [['eval'], /--checkpoint is required/],
    [
      ['encode', '--checkpoint', '/nonexistent/model.ckpt', '--out', path.join(tempDir(), 'codes')],
      /--checkpoint \/nonexistent\/model\.ckpt does not exist/,
    ],
    [
      ['eval', '--checkpoint', os.tmpdir(), '--out', path.join(tempDir(), 'eval')],
      /--checkpoint .* is not a regular file \(it is a directory\)/,
    ],
    [
      ['pretrain', '--data', '/nonexistent/dataset', '--out', path.join(tempDir(), 'run')],
      /--data: .*dataset directory does not exist/,
    ],
    [['info', '--json=yes'], /'--json' is a switch and takes no value/],
    [['bench', '--suites', 'nosuch'], /no suite named nosuch/],
    [['pretrain', '--dense', 'gpu'], /--dense must be one of native, tfjs; got 'gpu'/],
  ];
  for (const [args, pattern] of cases) {
    const { status, stderr } = cli(args);
    assert.equal(status, 2, `${args.join(' ')}: status ${status}, stderr ${stderr}`);
    assert.match(stderr, pattern, args.join(' '));
    assert.match(stderr, new RegExp(`Run 'unicode-cmg ${args[0]} --help' for usage`));
  }
});

test('cli: an existing output directory is refused without --force and left untouched', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
  const checkpoint = path.join(dir, 'keep.txt'); // never read: the directory is checked first
  for (const args of [
    ['pretrain'],
    ['encode', '--checkpoint', checkpoint],
    ['eval', '--checkpoint', checkpoint],
    ['demo'],
  ]) {
    const { status, stderr } = cli([...args, '--out', dir]);
    assert.equal(status, 2, `${args[0]}: ${stderr}`);
    assert.match(stderr, /already exists; pass --force/);
  }
  assert.deepEqual(fs.readdirSync(dir), ['keep.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'mine');
});

test('cli: input errors exit 2 in every command, build-av-fashion included', () => {
  const out = path.join(tempDir(), 'avf');
  const badConfig = cli(['build-av-fashion', '--config', '/nonexistent/avf.json', '--out', out]);
  assert.equal(badConfig.status, 2, badConfig.stderr);
  assert.match(badConfig.stderr, /^unicode-cmg build-av-fashion: config file \/nonexistent\/avf\.json: cannot be read/);
  assert.equal(fs.existsSync(out), false);
  const intoFile = path.join(tempDir(), 'file');
  fs.writeFileSync(intoFile, 'x');
  const notDir = cli(['build-av-fashion', '--out', path.join(intoFile, 'avf')]);
  assert.equal(notDir.status, 2, notDir.stderr);
  assert.match(notDir.stderr, /--out .*file\/avf: .*file exists and is not a directory/);

  // A NaN in a feature file stops pretrain when the data is opened, naming the file, clip and modality.
  const data = path.join(tempDir(), 'data');
  const source = generateSynthetic({ numClips: 20, modalities: ['audio', 'video'] });
  writeDataset(data, source);
  const audio = path.join(data, 'audio.npy');
  const bytes = fs.readFileSync(audio);
  bytes.writeFloatLE(NaN, bytes.length - 4); // the last element of the last clip
  fs.writeFileSync(audio, bytes);
  const run = path.join(tempDir(), 'run');
  const nan = cli(['pretrain', '--data', data, '--backend', 'tfjs', '--tfjs', 'cpu', '--out', run]);
  assert.equal(nan.status, 2, nan.stderr);
  assert.ok(nan.stderr.includes(`--data: ${audio}: clip 19 of modality 'audio' holds NaN`), nan.stderr);
  assert.equal(fs.existsSync(run), false, 'nothing created');
});

test('cli: a run that fails after creating --out removes it (and the parents it created), so a rerun needs no --force', () => {
  const root = tempDir();
  const out = path.join(root, 'runs', 'failed');
  // The val split of 10 synthetic clips holds one clip: a batch of 1 fails in the first step.
  const failed = cli([
    'pretrain',
    '--clips',
    '10',
    '--split',
    'val',
    '--max-steps',
    '1',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
    '--out',
    out,
  ]);
  assert.equal(failed.status, 1, failed.stderr);
  assert.match(failed.stderr, /removed the output directory it created: .*runs\/failed/);
  assert.deepEqual(fs.readdirSync(root), [], 'runs/ was created for the run and is empty again');
});

test('cli: info prints the backends as text and as JSON', () => {
  const json = cli(['info', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.ok(['cuda', 'cpu', 'tfjs'].includes(parsed.selected), parsed.selected);
  assert.ok(['wasm', 'cpu'].includes(parsed.tfjsBackend), parsed.tfjsBackend);
  assert.equal(typeof parsed.runtime.cpuThreads, 'number');
  assert.ok(Array.isArray(parsed.nativeLoadFailures));
  assert.match(parsed.version, /^\d+\.\d+\.\d+$/);
  const text = cli(['info']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^op backend: +${parsed.selected}`, 'm'));
  assert.match(text.stdout, /^native addon: /m);
  // The dense kernels are on by default wherever the addon has OpenBLAS, and say why not otherwise.
  const dense = parsed.denseKernels;
  if (parsed.compiled?.blas) {
    assert.equal(dense.enabled, true, dense.reason);
    assert.ok(dense.kernels.includes('BatchMatMul') && dense.kernels.includes('Conv2D'), dense.kernels.join(','));
    assert.match(text.stdout, /^dense kernels: +native on tfjs /m);
  } else {
    assert.equal(dense.enabled, false);
    assert.match(text.stdout, /^dense kernels: +tfjs's own \(.+\)/m);
  }
  const off = spawnSync(process.execPath, [MAIN, 'info', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, UCMG_DENSE: 'tfjs' },
  });
  assert.equal(off.status, 0, off.stderr);
  assert.equal(JSON.parse(off.stdout).denseKernels.enabled, false, 'UCMG_DENSE=tfjs keeps tfjs kernels');
  const bad = spawnSync(process.execPath, [MAIN, 'info'], {
    encoding: 'utf8',
    env: { ...process.env, UCMG_DENSE: 'fast' },
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /UCMG_DENSE must be 'native' or 'tfjs', got "fast"/);
});

test('cli: the paper model trains on tfjs cpu unless --tfjs says otherwise (it does not fit the wasm heap)', () => {
  const out = path.join(tempDir(), 'run');
  const env = { ...process.env, UCMG_TFJS_BACKEND: '' };
  const run = (extra: string[]) =>
    spawnSync(
      process.execPath,
      [MAIN, 'pretrain', '--config', 'paper', '--data', '/nonexistent/dataset', '--out', out, ...extra],
      { encoding: 'utf8', env },
    );
  const chosen = run([]);
  assert.equal(chosen.status, 2, chosen.stderr); // stops at the missing data, after choosing the backend
  assert.match(chosen.stderr, /the paper model does not fit tfjs wasm's 4 GiB heap; using tfjs cpu/);
  const explicit = run(['--tfjs', 'wasm']);
  assert.equal(explicit.status, 2, explicit.stderr);
  assert.doesNotMatch(explicit.stderr, /using tfjs cpu/);
  const small = spawnSync(
    process.execPath,
    [MAIN, 'pretrain', '--config', 'small', '--data', '/nonexistent/dataset', '--out', out],
    { encoding: 'utf8', env },
  );
  assert.equal(small.status, 2, small.stderr);
  assert.doesNotMatch(small.stderr, /using tfjs cpu/);
});

test('cli: pretrain, resume, encode and eval end to end on tiny synthetic data', () => {
  const root = tempDir();
  const run = path.join(root, 'run');
  const common = [
    '--modalities',
    'audio,text',
    '--clips',
    '40',
    '--batch-size',
    '8',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
  ];
  const first = cli(['pretrain', ...common, '--max-steps', '2', '--out', run]);
  assert.equal(first.status, 0, first.stderr);
  for (const file of ['checkpoint.ckpt', 'metrics.jsonl', 'loss-curves.svg', 'code-usage.svg', 'report.json']) {
    assert.ok(fs.existsSync(path.join(run, file)), `${file} written`);
  }
  const report = JSON.parse(fs.readFileSync(path.join(run, 'report.json'), 'utf8'));
  assert.equal(report.result.steps, 2);
  assert.equal(report.config.modalities, 'AT');
  assert.equal(loadCheckpoint(path.join(run, 'checkpoint.ckpt')).meta.kind, 'unicode-cmg/pretrain');

  const resumed = cli([
    'pretrain',
    '--resume',
    path.join(run, 'checkpoint.ckpt'),
    '--clips',
    '40',
    '--batch-size',
    '8',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
    '--max-steps',
    '3',
    '--out',
    run,
    '--force',
  ]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /pretrain: done 1\/1 /, 'only the missing step is trained');
  assert.deepEqual(
    readMetricsLog(path.join(run, 'metrics.jsonl')).map((r) => r.step),
    [1, 2, 3],
    'resume continues the log',
  );

  const codes = path.join(root, 'codes');
  const encoded = cli([
    'encode',
    '--checkpoint',
    path.join(run, 'checkpoint.ckpt'),
    '--clips',
    '40',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
    '--out',
    codes,
  ]);
  assert.equal(encoded.status, 0, encoded.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(codes, 'encode.json'), 'utf8'));
  assert.deepEqual(Object.keys(summary.modalities), ['audio', 'text']);
  const [n, t] = summary.modalities.audio.shape;
  // .npy: 10-byte preamble + header (multiple of 64 in total), then n*t int32 codes.
  assert.equal(fs.statSync(path.join(codes, 'codes-audio.npy')).size % 4, 0);
  assert.ok(fs.statSync(path.join(codes, 'codes-audio.npy')).size >= n * t * 4);
  assert.match(encoded.stdout, /audio: \d+ clips x 10 segments, \d+\/96 codes used/);

  const evaluated = path.join(root, 'eval');
  // The same checkpoint twice more as baselines: three rows, told apart by number.
  const ckpt = path.join(run, 'checkpoint.ckpt');
  const evalRun = cli([
    'eval',
    '--checkpoint',
    ckpt,
    '--baseline',
    ckpt,
    '--baseline',
    ckpt,
    '--clips',
    '40',
    '--epochs',
    '1',
    '--tasks',
    'classify',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
    '--out',
    evaluated,
  ]);
  assert.equal(evalRun.status, 0, evalRun.stderr);
  assert.match(evalRun.stdout, /audio -> text/);
  assert.match(evalRun.stdout, /text -> text \(upper bound\)/);
  const evalReport = JSON.parse(fs.readFileSync(path.join(evaluated, 'report.json'), 'utf8'));
  assert.equal(evalReport.downstream[0].task, 'classify');
  assert.deepEqual(
    evalReport.downstream[0].rows.map((r: { encoder: string }) => r.encoder),
    ['run', 'run (2)', 'run (3)'],
  );
  assert.deepEqual(Object.keys(evalReport.checkpoints), ['run', 'run (2)', 'run (3)']);
  assert.ok(fs.readFileSync(path.join(evaluated, 'cross-modal-classify.svg'), 'utf8').startsWith('<svg'));
});

test('cli: demo runs end to end and prints both tables with the baseline and upper bounds', () => {
  const out = path.join(tempDir(), 'demo');
  const { status, stdout, stderr } = cli([
    'demo',
    '--modalities',
    'audio,text',
    '--steps',
    '1',
    '--clips',
    '40',
    '--batch-size',
    '8',
    '--head-epochs',
    '1',
    '--backend',
    'tfjs',
    '--tfjs',
    'cpu',
    '--out',
    out,
  ]);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /classification on synthetic/);
  assert.match(stdout, /localization on synthetic/);
  assert.match(stdout, /Uni-Code +plain VQ/);
  assert.match(stdout, /audio -> text/);
  assert.match(stdout, /audio -> audio \(upper bound\)/);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.deepEqual(Object.keys(report.pretraining), ['Uni-Code', 'plain VQ']);
  assert.equal(report.pretraining['plain VQ'].config.useCpc, false);
  assert.equal(report.pretraining['Uni-Code'].config.useCpc, true);
  for (const file of [
    'uni-code/loss-curves.svg',
    'plain-vq/code-usage.svg',
    'cross-modal-classify.svg',
    'cross-modal-localize.svg',
    'report.md',
  ]) {
    assert.ok(fs.existsSync(path.join(out, file)), `${file} written`);
  }
});
