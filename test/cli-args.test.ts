import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, defineCommand, formatHelp, parseCommandArgs } from '../src/cli/args.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkOutputDir, createOutputDir, defaultRunDir, removeCreatedOutputDirs } from '../src/cli/outputDir.js';
import { formatTable, percent } from '../src/report/table.js';

const sample = defineCommand({
  name: 'sample',
  summary: 'A command for tests.',
  description: '',
  options: {
    data: { kind: 'string', default: 'synthetic', description: 'where the data is' },
    checkpoint: { kind: 'string', required: true, description: 'model file' },
    steps: { kind: 'int', default: 10, min: 1, max: 100, description: 'steps' },
    lr: { kind: 'number', default: 4e-4, min: 0, exclusiveMin: true, description: 'rate' },
    modalities: { kind: 'choice', choices: ['audio', 'video', 'text'], multiple: true, description: 'which' },
    size: { kind: 'choice', choices: ['small', 'paper'], default: 'small', description: 'config' },
    force: { kind: 'flag', description: 'overwrite' },
    out: { kind: 'string', short: 'o', description: 'output' },
  },
  load: async () => ({ async run() {} }),
});

function usageError(argv: string[], pattern: RegExp): void {
  assert.throws(
    () => parseCommandArgs(sample, argv),
    (err: Error) => {
      assert.ok(err instanceof UsageError, `UsageError, got ${err.name}: ${err.message}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('cli args: typed values, defaults, lists and short flags', () => {
  const parsed = parseCommandArgs(sample, [
    '--checkpoint',
    'm.ckpt',
    '--steps',
    '42',
    '--lr=0.01',
    '--modalities',
    'audio,text',
    '--modalities',
    'audio',
    '-o',
    'dir',
    '--force',
  ]);
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  assert.deepEqual(parsed.options, {
    data: 'synthetic',
    checkpoint: 'm.ckpt',
    steps: 42,
    lr: 0.01,
    modalities: ['audio', 'text'],
    size: 'small',
    force: true,
    out: 'dir',
  });
  assert.deepEqual(parseCommandArgs(sample, ['--help']), { help: true });
  // --help needs none of the required options.
  assert.deepEqual(parseCommandArgs(sample, ['-h']), { help: true });
});

test('cli args: every mistake names the flag', () => {
  usageError(['--checkpoint', 'x', '--bogus'], /^unknown option '--bogus'$/);
  usageError(['--checkpoint'], /^option '--checkpoint' needs a value$/);
  usageError(['--checkpoint', '--force'], /^option '--checkpoint' needs a value$/);
  usageError([], /^--checkpoint is required$/);
  usageError(
    ['--checkpoint', 'x', '--steps', 'ten'],
    /^--steps must be an integer from 1 to 100 in decimal digits; got 'ten'$/,
  );
  usageError(
    ['--checkpoint', 'x', '--steps', '2.5'],
    /^--steps must be an integer from 1 to 100 in decimal digits; got '2.5'$/,
  );
  usageError(['--checkpoint', 'x', '--steps', '0'], /^--steps must be an integer from 1 to 100; got 0$/);
  usageError(['--checkpoint', 'x', '--steps', '101'], /^--steps must be an integer from 1 to 100; got 101$/);
  usageError(['--checkpoint', 'x', '--lr', '0'], /^--lr must be a number > 0; got 0$/);
  usageError(
    ['--checkpoint', 'x', '--modalities', 'audio,smell'],
    /^--modalities must be one of audio, video, text; got 'smell'$/,
  );
  usageError(['--checkpoint', 'x', '--size', 'small,paper'], /^--size takes a single value$/);
  usageError(
    ['--checkpoint', 'x', '--force=yes'],
    /^option '--force' is a switch and takes no value; got '--force=yes'$/,
  );
  usageError(['--checkpoint', 'x', 'stray'], /^unexpected argument 'stray'/);
  usageError(['--checkpoint', ''], /^--checkpoint must not be empty$/);
});

test('cli args: a negative number is a value, and its message says it is negative and gives the range', () => {
  usageError(['--checkpoint', 'x', '--lr', '-1'], /^--lr must be a number > 0; got -1, which is negative$/);
  usageError(
    ['--checkpoint', 'x', '--steps', '-5'],
    /^--steps must be an integer from 1 to 100; got -5, which is negative$/,
  );
  usageError(['--checkpoint', 'x', '--lr=-0.5'], /^--lr must be a number > 0; got -0.5, which is negative$/);
  usageError(['--checkpoint', 'x', '--out', '-q'], /^option '--out' needs a value$/);
});

test('cli args: numbers are strict decimals', () => {
  for (const text of ['0x2', '1e1', '+0x10', ' 5', '5 ', '1_0', 'Infinity', '0b11', '']) {
    usageError(
      ['--checkpoint', 'x', '--steps', text],
      /^--steps must be an integer from 1 to 100 in decimal digits; got '/,
    );
  }
  for (const text of ['0x1', 'Infinity', 'NaN', '1e', '.', '1.2.3', '--1']) {
    usageError(['--checkpoint', 'x', `--lr=${text}`], /^--lr must be a number > 0 in decimal digits; got '/);
  }
  usageError(
    ['--checkpoint', 'x', '--steps', '99999999999999999999'],
    /^--steps must be an integer from 1 to 100; got '99999999999999999999', which is too large$/,
  );
  usageError(['--checkpoint', 'x', '--lr', '1e400'], /^--lr must be a number > 0; got '1e400', which is too large$/);
  const parsed = parseCommandArgs(sample, ['--checkpoint', 'x', '--steps', '+7', '--lr', '2.5e-3']);
  assert.ok(!parsed.help && parsed.options.steps === 7 && parsed.options.lr === 2.5e-3);
  const dotted = parseCommandArgs(sample, ['--checkpoint', 'x', '--lr', '.5']);
  assert.ok(!dotted.help && dotted.options.lr === 0.5);
});

test('cli args: a single-value option given twice is an error; repeatable ones collect', () => {
  usageError(['--checkpoint', 'x', '--steps', '3', '--steps', '4'], /^--steps is given 2 times; it takes one value$/);
  usageError(['--checkpoint', 'x', '--checkpoint', 'y'], /^--checkpoint is given 2 times; it takes one value$/);
  usageError(['--checkpoint', 'x', '--size', 'small', '--size=paper'], /^--size is given 2 times; it takes one value$/);
  usageError(['--checkpoint', 'x', '-o', 'a', '--out', 'b'], /^--out is given 2 times; it takes one value$/);
  usageError(['--checkpoint', 'x', '--force', '--force'], /^--force is given 2 times; it takes one value$/);
  const parsed = parseCommandArgs(sample, ['--checkpoint', 'x', '--modalities', 'audio', '--modalities', 'video']);
  assert.ok(!parsed.help);
  assert.deepEqual(parsed.options.modalities, ['audio', 'video']);
});

test('cli args: unknown options and choices suggest the one probably meant', () => {
  usageError(['--checkpoint', 'x', '--setps', '3'], /^unknown option '--setps'; did you mean '--steps'\?$/);
  usageError(
    ['--checkpoint', 'x', '--modalites', 'audio'],
    /^unknown option '--modalites'; did you mean '--modalities'\?$/,
  );
  usageError(['--checkpoint', 'x', '--forc'], /^unknown option '--forc'; did you mean '--force'\?$/);
  usageError(['--checkpoint', 'x', '-x'], /^unknown option '-x'$/);
  usageError(
    ['--checkpoint', 'x', '--modalities', 'auido'],
    /^--modalities must be one of audio, video, text; got 'auido'; did you mean 'audio'\?$/,
  );
});

test('cli args: help lists every option with its default', () => {
  const help = formatHelp(sample);
  assert.match(help, /^Usage: unicode-cmg sample \[options\]\n/);
  for (const flag of [
    '--data <value>',
    '--checkpoint <value>',
    '--steps <n>',
    '--lr <x>',
    '--modalities <audio|video|text>',
    '--force',
    '-o, --out <value>',
    '-h, --help',
  ]) {
    assert.ok(help.includes(flag), `${flag} in\n${help}`);
  }
  assert.match(help, /steps \[default: 10\]/);
  assert.match(help, /model file \(required\)/);
  assert.ok(
    help.split('\n').every((line) => line.length <= 100),
    'wrapped to 100 columns',
  );
});

test('cli output dir: existing paths are refused without --force, default names never collide', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-out-'));
  const existing = path.join(root, 'run');
  fs.mkdirSync(existing);
  assert.throws(() => checkOutputDir(existing, false, 'demo'), /--out .*run already exists; pass --force/);
  assert.equal(checkOutputDir(existing, true, 'demo'), existing);
  const file = path.join(root, 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => checkOutputDir(file, true, 'demo'), /exists and is not a directory/);
  assert.throws(
    () => createOutputDir(path.join(file, 'sub'), 'demo'),
    /--out .*file\/sub: .*file exists and is not a directory$/,
  );
  assert.throws(
    () => checkOutputDir(path.join(file, 'sub'), false, 'demo'),
    /--out .*file\/sub: .*file exists and is not a directory$/,
  );

  const when = new Date(2024, 0, 2, 3, 4, 5);
  const first = defaultRunDir('demo', when, root);
  assert.equal(first, path.join(root, 'demo-20240102-030405'));
  fs.mkdirSync(first);
  assert.equal(defaultRunDir('demo', when, root), `${first}-2`);
});

test('cli commands: the option specs load without tfjs; only running a command loads its body', () => {
  // tfjs-core registers its engine as globalThis._tfengine when it is first imported.
  const index = fileURLToPath(new URL('../src/cli/commands/index.js', import.meta.url));
  const script = `const { COMMANDS } = await import(${JSON.stringify(index)});
    const before = typeof globalThis._tfengine;
    await (COMMANDS.find((c) => c.name === 'info')).load();
    console.log(COMMANDS.length, before, typeof globalThis._tfengine);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const [count, before, after] = child.stdout.trim().split(' ');
  assert.ok(Number(count) >= 7, `${count} commands`);
  assert.equal(before, 'undefined', 'no command spec imports tfjs');
  assert.equal(after, 'object', 'the info body does');
});

const NO_PROC = !fs.existsSync('/proc/self') && 'no /proc here';

test('cli output dir: a path under /proc fails at once instead of spinning in mkdir', { skip: NO_PROC }, () => {
  // Node 20's recursive mkdirSync loops forever here, so the call runs in a child with a deadline.
  const outputDir = fileURLToPath(new URL('../src/cli/outputDir.js', import.meta.url));
  for (const dir of ['/proc/ucmg-out', '/proc/ucmg-out/deeper/run']) {
    const script = `import(${JSON.stringify(outputDir)}).then((m) => {
      try {
        m.checkOutputDir(${JSON.stringify(dir)}, false, 'pretrain');
        m.createOutputDir(${JSON.stringify(dir)}, 'pretrain');
      } catch (err) { console.log(err.name + ': ' + err.message); }
    })`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(child.signal, null, `${dir}: still creating the directory after 20 s`);
    assert.match(
      child.stdout,
      /^UsageError: --out \/proc\/ucmg-out.*: cannot create the directory \/proc\/ucmg-out: ENOENT/,
    );
  }
});

test('cli output dir: a failed command removes the directories it created and nothing else', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ucmg-out-'));
  const fresh = path.join(root, 'runs', 'nested', 'run');
  createOutputDir(fresh, 'demo');
  createOutputDir(path.join(fresh, 'sub'), 'demo');
  fs.writeFileSync(path.join(fresh, 'sub', 'partial.svg'), '<svg');
  const existing = path.join(root, 'existing');
  fs.mkdirSync(existing);
  fs.writeFileSync(path.join(existing, 'mine.txt'), 'keep');
  createOutputDir(existing, 'demo'); // --force into a directory that was there: not ours to remove
  const resumable = path.join(root, 'resumable');
  createOutputDir(resumable, 'pretrain');
  fs.writeFileSync(path.join(resumable, 'checkpoint.ckpt'), 'state');
  assert.deepEqual(removeCreatedOutputDirs(), { removed: [path.join(fresh, 'sub'), fresh], kept: [resumable] });
  assert.deepEqual(
    fs.readdirSync(root).sort(),
    ['existing', 'resumable'],
    'runs/nested/ were made for the run: gone too',
  );
  assert.deepEqual(fs.readdirSync(existing), ['mine.txt']);
  assert.deepEqual(removeCreatedOutputDirs(), { removed: [], kept: [] }, 'each directory is handled once');
  // A parent that something else filled meanwhile stays.
  const shared = path.join(root, 'shared', 'run');
  createOutputDir(shared, 'demo');
  fs.writeFileSync(path.join(root, 'shared', 'other.txt'), 'x');
  removeCreatedOutputDirs();
  assert.deepEqual(fs.readdirSync(path.join(root, 'shared')), ['other.txt']);
});

test('text tables align columns and format percentages', () => {
  const table = formatTable(
    ['pair', 'acc'],
    [
      ['audio -> video', '52.3%'],
      ['v -> a', '5.0%'],
    ],
    { title: 'T' },
  );
  assert.equal(
    table,
    'T\npair              acc\n--------------  -----\naudio -> video  52.3%\nv -> a           5.0%\n',
  );
  assert.throws(() => formatTable(['a', 'b'], [['x']]), /rows\[0\] has 1 cells/);
  assert.equal(percent(0.5234), '52.3%');
  assert.equal(percent(NaN), '-');
  assert.equal(percent(undefined), '-');
});
