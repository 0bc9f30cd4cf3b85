// Reading input files so that every failure is an InvalidInputError that names the file: a missing
// file, a directory where a file belongs, a permission or I/O error.
import * as fs from 'node:fs';
import { InvalidInputError } from './errors.js';

/** An InvalidInputError for a failed file operation: "<file>: cannot <action> (<code>: <reason>)". */
export function fileError(file: string, action: string, err: unknown): InvalidInputError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'EISDIR'
      ? 'EISDIR: it is a directory, not a file'
      : code === 'ENOENT'
        ? 'ENOENT: no such file'
        : (err as Error).message;
  return new InvalidInputError(`${file}: cannot ${action} (${reason})`);
}

/** Opens a regular file for positioned reads; returns the descriptor and the size. */
export function openInputFile(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw fileError(file, 'open', err);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw new InvalidInputError(`${file}: cannot open (EISDIR: it is a directory, not a file)`);
    if (!stat.isFile()) throw new InvalidInputError(`${file}: cannot open (it is not a regular file)`);
    return { fd, size: stat.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof InvalidInputError ? err : fileError(file, 'open', err);
  }
}

/** Fills `buffer[offset, offset + length)` from `position`, looping over short reads; EOF is an error. */
export function readExactly(
  fd: number,
  file: string,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, buffer, offset + done, length - done, position + done);
    } catch (err) {
      throw fileError(file, 'read', err);
    }
    if (n === 0) throw new InvalidInputError(`${file}: unexpected end of file`);
    done += n;
  }
}

/** The whole file. */
export function readInputFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw fileError(file, 'read', err);
  }
}
