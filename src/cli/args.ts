// Declarative sub-command options on top of node:util parseArgs: typed values (integers, numbers,
// choices), defaults, and generated --help text, with every mistake reported as a UsageError that
// names the flag.

import { parseArgs } from 'node:util';

export const PROGRAM = 'unicode-cmg';

/** Bad command-line input: printed without a stack trace, exit status 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface OptionBase {
  description: string;
  short?: string;
}

export type OptionSpec =
  | (OptionBase & { kind: 'flag' })
  | (OptionBase & { kind: 'string'; valueName?: string; default?: string; required?: boolean; multiple?: boolean })
  | (OptionBase & { kind: 'int'; valueName?: string; default?: number; min?: number; max?: number })
  | (OptionBase & { kind: 'number'; valueName?: string; default?: number; min?: number; exclusiveMin?: boolean })
  | (OptionBase & { kind: 'choice'; choices: readonly string[]; default?: string; multiple?: boolean });

export type OptionSpecs = Record<string, OptionSpec>;

/** The parsed value type of each option spec. */
export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { kind: 'flag' }
    ? boolean
    : S[K] extends { kind: 'int' | 'number'; default: number }
      ? number
      : S[K] extends { kind: 'int' | 'number' }
        ? number | undefined
        : S[K] extends { kind: 'choice' | 'string'; multiple: true }
          ? string[]
          : S[K] extends { default: string }
            ? string
            : S[K] extends { required: true }
              ? string
              : string | undefined;
};

export interface CommandSpec<S extends OptionSpecs = OptionSpecs> {
  name: string;
  summary: string;
  /** Longer text for --help, after the usage line. */
  description: string;
  options: S;
  examples?: string[];
}

/** Every sub-command accepts --help. */
const HELP: OptionSpec = { kind: 'flag', short: 'h', description: 'show this help and exit' };

export type ParseResult<S extends OptionSpecs> = { help: true } | { help: false; options: ParsedOptions<S> };

export function parseCommandArgs<S extends OptionSpecs>(spec: CommandSpec<S>, argv: string[]): ParseResult<S> {
  const all: OptionSpecs = { ...spec.options, help: HELP };
  const config: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = {};
  for (const [name, option] of Object.entries(all)) {
    config[name] = {
      type: option.kind === 'flag' ? 'boolean' : 'string',
      ...(option.short ? { short: option.short } : {}),
      ...((option.kind === 'choice' || option.kind === 'string') && option.multiple ? { multiple: true } : {}),
    };
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: config, strict: true, allowPositionals: true }));
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }), spec.name);
  }
  if (values.help) return { help: true };
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}' (options are given as --name value)`, spec.name);
  }
  const parsed: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    parsed[name] = convert(name, option, values[name], spec.name);
  }
  return { help: false, options: parsed as ParsedOptions<S> };
}

function describeParseError(err: Error & { code?: string }): string {
  // parseArgs messages are good but long; keep their substance and drop the generic advice.
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = /'([^']+)'/.exec(err.message)?.[1] ?? '';
      return `unknown option '${flag}'`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /Option '([^']+)'/.exec(err.message)?.[1];
      if (flag && /argument missing|ambiguous/.test(err.message)) return `option '${flag.split(',').pop()!.trim().replace(/ <value>$/, '')}' needs a value`;
      return err.message.split('\n')[0];
    }
    default:
      return err.message.split('\n')[0];
  }
}

function convert(name: string, option: OptionSpec, raw: unknown, command: string): unknown {
  const flag = `--${name}`;
  const fail = (why: string): never => {
    throw new UsageError(`${flag} ${why}`, command);
  };
  switch (option.kind) {
    case 'flag':
      return raw === true;
    case 'string': {
      // Repeatable strings are not split at commas: they are paths and names.
      const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
      if (list.length === 0 && option.required) fail('is required');
      if (list.includes('')) fail('must not be empty');
      if (option.multiple) return list;
      return list[0] ?? option.default;
    }
    case 'choice': {
      const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      const items = list.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v !== '');
      for (const item of items) {
        if (!option.choices.includes(item)) fail(`must be one of ${option.choices.join(', ')}; got '${item}'`);
      }
      if (option.multiple) return [...new Set(items)];
      if (items.length > 1) fail('takes a single value');
      return items[0] ?? option.default;
    }
    case 'int':
    case 'number': {
      if (raw === undefined) return option.default;
      const text = String(raw).trim();
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) fail(`must be a number; got '${String(raw)}'`);
      if (option.kind === 'int') {
        if (!Number.isSafeInteger(value)) fail(`must be an integer; got '${String(raw)}'`);
        if (option.min !== undefined && value < option.min) fail(`must be >= ${option.min}; got ${value}`);
        if (option.max !== undefined && value > option.max) fail(`must be <= ${option.max}; got ${value}`);
      } else if (option.min !== undefined && (option.exclusiveMin ? value <= option.min : value < option.min)) {
        fail(`must be ${option.exclusiveMin ? '>' : '>='} ${option.min}; got ${value}`);
      }
      return value;
    }
  }
}

const HELP_COLUMNS = 100;

/** Greedy word wrap to `columns` characters per line. */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** --help text: usage, description, one line per option with its default, examples. */
export function formatHelp(spec: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const [name, option] of Object.entries({ ...spec.options, help: HELP })) {
    const short = option.short ? `-${option.short}, ` : '    ';
    let value = '';
    let detail = option.description;
    if (option.kind === 'choice') {
      value = ` <${option.choices.join('|')}>`;
      if (option.multiple) detail += ' (comma-separated, repeatable)';
    } else if (option.kind !== 'flag') {
      value = ` <${option.valueName ?? (option.kind === 'string' ? 'value' : option.kind === 'int' ? 'n' : 'x')}>`;
      if (option.kind === 'string' && option.multiple) detail += ' (repeatable)';
    }
    if (option.kind !== 'flag' && option.default !== undefined) detail += ` [default: ${option.default}]`;
    if (option.kind === 'string' && option.required) detail += ' (required)';
    rows.push([`  ${short}--${name}${value}`, detail]);
  }
  const width = Math.min(40, Math.max(...rows.map(([left]) => left.length)) + 2);
  const lines = [
    `Usage: ${PROGRAM} ${spec.name} [options]`,
    '',
    spec.summary,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'Options:',
    ...rows.map(([left, right]) => {
      const body = wrap(right, HELP_COLUMNS - width).join(`\n${' '.repeat(width)}`);
      return left.length + 2 > width ? `${left}\n${' '.repeat(width)}${body}` : `${left.padEnd(width)}${body}`;
    }),
  ];
  if (spec.examples && spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${PROGRAM} ${e}`));
  }
  return `${lines.join('\n')}\n`;
}

/** A sub-command: its options and what it does with them. */
export interface Command<S extends OptionSpecs = OptionSpecs> extends CommandSpec<S> {
  run(options: ParsedOptions<S>): Promise<void>;
}

/** Identity function that lets TypeScript infer the option types of `run` from `options`. */
export function defineCommand<const S extends OptionSpecs>(command: Command<S>): Command<S> {
  return command;
}
