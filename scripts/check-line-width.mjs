#!/usr/bin/env node
// The native sources have no formatter of their own (Biome formats the TypeScript): this keeps
// their lines within the project's width. Prints every long line and exits 1 if there is one.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const files = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', 'native', 'CMakeLists.txt'],
  {
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((f) => /\.(cc|h|cu|cuh|c|txt|in|sh)$/.test(f));
let long = 0;
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if ([...line].length > MAX) {
        long++;
        console.log(`${file}:${i + 1}: ${[...line].length} characters (at most ${MAX})`);
      }
    });
}
if (long > 0) process.exit(1);
