// Creating directories one level at a time, and removing them again. Node 20's recursive
// mkdirSync spins forever where mkdir fails with ENOENT under an existing parent (as it does
// everywhere under /proc), so paths are checked and created level by level instead.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest existing ancestor of `dir` (or `dir` itself), and the missing paths below it, outermost first. */
export function missingDirectories(dir: string): { ancestor: string; missing: string[] } {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`${current}: ${(err as Error).message}`);
    }
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw new Error(`${current} exists and is not a directory`);
      return { ancestor: current, missing };
    }
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) return { ancestor: current, missing };
    current = parent;
  }
}

/** Creates `dir` and its missing parents; returns the directories it created, outermost first. */
export function createDirectories(dir: string): string[] {
  const { missing } = missingDirectories(dir);
  const created: string[] = [];
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (err) {
      removeEmptyDirectories(created);
      throw new Error(`cannot create the directory ${level}: ${(err as Error).message}`);
    }
    created.push(level);
  }
  return created;
}

/** Removes `created` (outermost first, as createDirectories returns them) innermost first, while they are empty. */
export function removeEmptyDirectories(created: readonly string[]): void {
  for (const level of [...created].reverse()) {
    try {
      fs.rmdirSync(level);
    } catch {
      return; // not empty: something else lives there now
    }
  }
}
