#!/usr/bin/env node
// The `unicode-cmg` command line: dispatches to one sub-command, turns bad input into a one-line
// message and a non-zero exit status (2: bad usage or input, 1: failure), and never prints a stack trace
// unless UCMG_DEBUG is set.

import { pathToFileURL } from 'node:url';
import * as fs from 'node:fs';
import { PROGRAM, UsageError, formatHelp, parseCommandArgs } from './args.js';
import { COMMANDS } from './commands/index.js';
import { InvalidInputError } from '../data/errors.js';
import { removeCreatedOutputDirs } from './outputDir.js';
import { didYouMean } from './suggest.js';
import { packageVersion } from './version.js';

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Cross-modal generalization with a shared discrete codebook (Uni-Code).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run '${PROGRAM} <command> --help' for the options of a command.`,
    `'${PROGRAM} --version' prints the version.`,
    '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topLevelHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (command === undefined) {
      const names = COMMANDS.map((c) => c.name);
      const hint = name.startsWith('-')
        ? ' (options come after the command)'
        : `${didYouMean(name, names)} (commands are ${names.join(', ')})`;
      throw new UsageError(`unknown command '${name}'${hint}`);
    }
    const parsed = parseCommandArgs(command, rest);
    if (parsed.help) {
      process.stdout.write(formatHelp(command));
      return 0;
    }
    const body = await command.load();
    await body.run(parsed.options);
    return 0;
  } catch (err) {
    const status = report(err, command?.name);
    const { removed, kept } = removeCreatedOutputDirs();
    if (removed.length > 0) process.stderr.write(`removed the output directory it created: ${removed.join(', ')}\n`);
    if (kept.length > 0) process.stderr.write(`kept ${kept.join(', ')}: it holds a checkpoint to resume from\n`);
    return status;
  }
}

function report(err: unknown, commandName: string | undefined): number {
  const prefix = commandName ? `${PROGRAM} ${commandName}` : PROGRAM;
  if (err instanceof UsageError) {
    const helpFor = err.command ?? commandName;
    process.stderr.write(
      `${prefix}: ${err.message}\nRun '${PROGRAM}${helpFor ? ` ${helpFor}` : ''} --help' for usage.\n`,
    );
    return 2;
  }
  if (err instanceof InvalidInputError) {
    process.stderr.write(`${prefix}: ${err.message}\n`);
    return 2;
  }
  const error = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`${prefix}: error: ${error.message}\n`);
  if (process.env.UCMG_DEBUG) process.stderr.write(`${error.stack ?? ''}\n`);
  return 1;
}

// Run when executed directly (also through the npm bin symlink), not when imported by tests.
function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2));
}
