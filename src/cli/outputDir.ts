// Where a command's files go. An explicit --out that already exists is refused unless --force
// (then files of the same name inside it are replaced, others left alone); a default directory
// gets a fresh timestamped name, so nothing is ever overwritten by accident.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDirectories, missingDirectories, removeEmptyDirectories } from '../util/directories.js';
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
 * Refuses an output directory that exists (unless `force`) or is not a directory, or whose nearest
 * existing ancestor is not a writable directory. Call before any long computation; create it with
 * createOutputDir once the inputs are known to be good, so that a rejected command leaves nothing
 * behind. `flag` names the option in messages.
 */
export function checkOutputDir(dir: string, force: boolean, command: string, flag = '--out'): string {
  let found: ReturnType<typeof missingDirectories>;
  try {
    found = missingDirectories(dir);
  } catch (err) {
    throw new UsageError(`${flag} ${dir}: ${(err as Error).message}`, command);
  }
  if (found.missing.length === 0 && !force) {
    throw new UsageError(
      `${flag} ${dir} already exists; pass --force to write into it (files of the same name are replaced)`,
      command,
    );
  }
  try {
    fs.accessSync(found.ancestor, fs.constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${dir}: ${found.ancestor} is not writable`, command);
  }
  return dir;
}

/** Output directories this process created, with the parents created for them, to remove if the command fails. */
const createdDirs: { dir: string; created: string[] }[] = [];

/** Creates `dir` and its missing parents (level by level, see createDirectories). */
export function createOutputDir(dir: string, command: string, flag = '--out'): void {
  let created: string[];
  try {
    created = createDirectories(dir);
  } catch (err) {
    throw new UsageError(`${flag} ${dir}: ${(err as Error).message}`, command);
  }
  if (created.length > 0) createdDirs.push({ dir: path.resolve(dir), created });
}

/**
 * After a failed command: removes each output directory it created with what was written into it,
 * then the parents created for it while they are empty. Directories that existed before are kept,
 * and so is a created one that holds a checkpoint: it can be resumed from.
 */
export function removeCreatedOutputDirs(): { removed: string[]; kept: string[] } {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const { dir, created } of createdDirs.splice(0).reverse()) {
    if (!fs.existsSync(dir)) continue;
    if (fs.readdirSync(dir, { recursive: true }).some((name) => String(name).endsWith('.ckpt'))) {
      kept.push(dir);
      continue;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
    removeEmptyDirectories(created.slice(0, -1));
  }
  return { removed, kept };
}
