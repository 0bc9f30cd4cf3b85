// The sub-commands, in the order --help lists them. A new command is a spec module (its options and
// a `load` of its body) plus one entry here.
import type { Command } from '../args.js';
import { bench } from './bench.js';
import { buildAvFashionCommand } from './buildAvFashion.js';
import { buildNative } from './buildNative.js';
import { demo } from './demo.js';
import { encode } from './encode.js';
import { evaluate } from './eval.js';
import { info } from './info.js';
import { pretrain } from './pretrain.js';

export const COMMANDS: readonly Command[] = [
  pretrain,
  encode,
  evaluate,
  demo,
  info,
  bench,
  buildAvFashionCommand,
  buildNative,
];
