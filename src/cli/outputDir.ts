// Where a command's files go. An explicit --out that already exists is refused unless --force
// (then files of the same name inside it are replaced, others left alone); a default directory
// gets a fresh timestamped name, so nothing is ever overwritten by accident.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './args.js';

/** runs/<prefix>-YYYYMMDD-HHMMSS, with -2, -3... appended if that name is taken. */
export function defaultRunDir(prefix: string, now = new Date(), root = 'runs'): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const base = path.join(root, `${prefix}-${stamp}`);
  let candidate = base;
  for (let n = 2; fs.existsSync(candidate); n++) candidate = `${base}-${n}`;
  return candidate;
}

/**
 * Refuses an output directory that exists (unless `force`) or is not a directory. Call before any
 * long computation; create it with createOutputDir once the inputs are known to be good, so that
 * a rejected command leaves nothing behind. `flag` names the option in messages.
 */
export function checkOutputDir(dir: string, force: boolean, command: string, flag = '--out'): string {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`${flag} ${dir}: ${(err as Error).message}`, command);
  }
  if (stat !== undefined) {
    if (!stat.isDirectory()) throw new UsageError(`${flag} ${dir} exists and is not a directory`, command);
    if (!force) throw new UsageError(`${flag} ${dir} already exists; pass --force to write into it (files of the same name are replaced)`, command);
  }
  return dir;
}

export function createOutputDir(dir: string, command: string, flag = '--out'): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`${flag} ${dir}: cannot create the directory: ${(err as Error).message}`, command);
  }
}
