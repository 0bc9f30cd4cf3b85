// Crash-safe file replacement: readers see either the old file or the complete new one, never a
// partial write. The data goes to a temporary file in the same directory (rename is only atomic
// within one file system), is fsynced, renamed over the target, and the directory entry is fsynced.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes `data` (or, for a function, whatever it passes to its `write` callback) to `target` atomically. */
export function writeFileAtomic(
  target: string,
  data: string | Uint8Array | ((write: (chunk: Uint8Array) => void) => void),
): void {
  const dir = path.dirname(path.resolve(target));
  const tmp = path.join(dir, `${tempPrefix(target)}${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    const openFd = fd;
    const write = (chunk: Uint8Array): void => writeFully(openFd, chunk);
    if (typeof data === 'function') data(write);
    else write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
    fsyncDirectory(dir);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(tmp);
    throw err;
  }
}

/**
 * Removes the temporary files that writeFileAtomic(target) left behind in processes that no longer
 * run (killed mid-write); returns their paths. A file whose process still runs is kept.
 */
export function removeStaleTempFiles(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const prefix = tempPrefix(target);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no directory yet: nothing left behind
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length)) : null;
    if (owner === null || isRunning(Number(owner[1]))) continue;
    const file = path.join(dir, name);
    removeQuietly(file);
    if (!fs.existsSync(file)) removed.push(file);
  }
  return removed;
}

/** Temporary files of `target` are named ".<name>.tmp-<pid>-<random hex>" in its directory. */
function tempPrefix(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeFully(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) {
    done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
  }
}

/** Makes the rename durable. Some file systems refuse fsync on directories; then there is nothing more to do. */
function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already failing: the original error is the one to report
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // never created, or already gone
  }
}
