// Declarative sub-command options: typed values (strict decimal integers and numbers with their
// ranges, choices, repeatable lists), defaults, and generated --help text, with every mistake
// reported as a UsageError that names the flag (and the flag or value probably meant).

import { didYouMean } from './suggest.js';

export const PROGRAM = 'unicode-cmg';

/** Bad command-line input: printed without a stack trace, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
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

/** The parsed value type of one option spec. */
type OptionValue<O extends OptionSpec> = O extends { kind: 'flag' }
  ? boolean
  : O extends { kind: 'int' | 'number'; default: number }
    ? number
    : O extends { kind: 'int' | 'number' }
      ? number | undefined
      : O extends { kind: 'choice'; choices: readonly (infer C)[]; multiple: true }
        ? C[]
        : O extends { kind: 'choice'; choices: readonly (infer C)[]; default: string }
          ? C
          : O extends { kind: 'choice'; choices: readonly (infer C)[] }
            ? C | undefined
            : O extends { kind: 'string'; multiple: true }
              ? string[]
              : O extends { default: string } | { required: true }
                ? string
                : string | undefined;

/** The parsed options of a command (of any command, when S is not one command's specs). */
export type ParsedOptions<S extends OptionSpecs> = string extends keyof S
  ? Record<string, unknown>
  : { [K in keyof S]: OptionValue<S[K]> };

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

/** A token that is a value even though it starts with '-': a negative number, or '-' alone. */
const DASH_VALUE = /^-(?:$|\d|\.\d)/;

/** Splits argv into the raw strings given to each option (in order), the positionals and --help. */
interface Tokens {
  /** The values given to each option, in order (true for a switch). */
  raw: Map<string, (string | true)[]>;
  positionals: string[];
  help: boolean;
}

function tokenize(all: OptionSpecs, argv: string[], command: string): Tokens {
  const byShort = new Map(Object.entries(all).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  const raw = new Map<string, (string | true)[]>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (!token.startsWith('-') || DASH_VALUE.test(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const given = eq >= 0 ? token.slice(0, eq) : token;
    const inline = eq >= 0 ? token.slice(eq + 1) : undefined;
    const name = given.startsWith('--') ? given.slice(2) : byShort.get(given.slice(1));
    const option = name === undefined || !Object.hasOwn(all, name) ? undefined : all[name];
    if (name === undefined || option === undefined) {
      const known = Object.keys(all).map((n) => `--${n}`);
      const asLong = given.startsWith('--') ? given : `-${given}`;
      throw new UsageError(`unknown option '${given}'${didYouMean(asLong, known)}`, command);
    }
    let value: string | true;
    if (option.kind === 'flag') {
      if (inline !== undefined) {
        throw new UsageError(`option '--${name}' is a switch and takes no value; got '${token}'`, command);
      }
      value = true;
    } else if (inline !== undefined) {
      value = inline;
    } else if (i + 1 < argv.length && (!argv[i + 1].startsWith('-') || DASH_VALUE.test(argv[i + 1]))) {
      value = argv[++i];
    } else {
      throw new UsageError(`option '--${name}' needs a value`, command);
    }
    if (name === 'help') help = true;
    raw.set(name, [...(raw.get(name) ?? []), value]);
  }
  return { raw, positionals, help };
}

export function parseCommandArgs<S extends OptionSpecs>(spec: CommandSpec<S>, argv: string[]): ParseResult<S> {
  const { raw, positionals, help } = tokenize({ ...spec.options, help: HELP }, argv, spec.name);
  if (help) return { help: true };
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}' (options are given as --name value)`, spec.name);
  }
  const parsed: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    const given = raw.get(name) ?? [];
    const repeatable = (option.kind === 'choice' || option.kind === 'string') && option.multiple === true;
    if (given.length > 1 && !repeatable) {
      throw new UsageError(`--${name} is given ${given.length} times; it takes one value`, spec.name);
    }
    parsed[name] = convert(name, option, given, spec.name);
  }
  return { help: false, options: parsed as ParsedOptions<S> };
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What a numeric option takes, for messages: "an integer from 1 to 100", "a number > 0". */
function numberRange(option: Extract<OptionSpec, { kind: 'int' | 'number' }>): string {
  const what = option.kind === 'int' ? 'an integer' : 'a number';
  const exclusive = option.kind === 'number' && option.exclusiveMin === true;
  const min = option.min === undefined ? undefined : `${exclusive ? '>' : '>='} ${option.min}`;
  const max = option.kind === 'int' && option.max !== undefined ? option.max : undefined;
  if (min !== undefined && max !== undefined && min.startsWith('>=')) return `${what} from ${option.min} to ${max}`;
  return [what, min, max === undefined ? undefined : `<= ${max}`].filter((p) => p !== undefined).join(' ');
}

function convert(name: string, option: OptionSpec, given: (string | true)[], command: string): unknown {
  const flag = `--${name}`;
  const fail = (why: string): never => {
    throw new UsageError(`${flag} ${why}`, command);
  };
  const values = given.map(String);
  switch (option.kind) {
    case 'flag':
      return given.length > 0;
    case 'string': {
      // Repeatable strings are not split at commas: they are paths and names.
      if (values.length === 0 && option.required) fail('is required');
      if (values.includes('')) fail('must not be empty');
      if (option.multiple) return values;
      return values[0] ?? option.default;
    }
    case 'choice': {
      const items = values
        .flatMap((v) => v.split(','))
        .map((v) => v.trim())
        .filter((v) => v !== '');
      for (const item of items) {
        if (!option.choices.includes(item)) {
          fail(`must be one of ${option.choices.join(', ')}; got '${item}'${didYouMean(item, option.choices)}`);
        }
      }
      if (option.multiple) return [...new Set(items)];
      if (items.length > 1) fail('takes a single value');
      return items[0] ?? option.default;
    }
    case 'int':
    case 'number': {
      if (values.length === 0) return option.default;
      const text = values[0];
      const range = numberRange(option);
      if (!(option.kind === 'int' ? INTEGER : DECIMAL).test(text)) {
        fail(`must be ${range} in decimal digits; got '${text}'`);
      }
      const value = Number(text);
      if (!Number.isFinite(value) || (option.kind === 'int' && !Number.isSafeInteger(value))) {
        fail(`must be ${range}; got '${text}', which is too large`);
      }
      const exclusive = option.kind === 'number' && option.exclusiveMin === true;
      const belowMin = option.min !== undefined && (exclusive ? value <= option.min : value < option.min);
      const aboveMax = option.kind === 'int' && option.max !== undefined && value > option.max;
      if (belowMin || aboveMax) fail(`must be ${range}; got ${text}${value < 0 ? ', which is negative' : ''}`);
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

/** What a command does with its parsed options; a module of its own, loaded only when it runs. */
export interface CommandBody<S extends OptionSpecs = OptionSpecs> {
  run(options: ParsedOptions<S>): Promise<void>;
}

/**
 * A sub-command: its static option spec (enough for parsing and --help) and `load`, one dynamic
 * import of its body, so that the heavy modules the body needs load only for the command that runs.
 */
export interface Command<S extends OptionSpecs = OptionSpecs> extends CommandSpec<S> {
  load(): Promise<CommandBody<S>>;
}

/** Identity function that checks the body's option type against `options`. */
export function defineCommand<const S extends OptionSpecs>(command: Command<S>): Command<S> {
  return command;
}
