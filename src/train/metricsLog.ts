// Training metrics as JSON Lines: one record per line, handed to the kernel with one write() per
// record (no user-space buffering), so a crash of the process loses no completed record.

import * as fs from 'node:fs';
import { assertJsonValue, isPlainObject } from '../util/json.js';

export interface MetricsLogOptions {
  /** Add to an existing log (e.g. when resuming). */
  append?: boolean;
  /** Replace an existing log. Without append or overwrite an existing file is an error. */
  overwrite?: boolean;
}

export class MetricsLog {
  readonly path: string;
  private fd: number | undefined;

  constructor(path: string, options: MetricsLogOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('MetricsLog: path must be a non-empty string');
    if (options.append && options.overwrite) throw new TypeError('MetricsLog: options.append and options.overwrite exclude each other');
    this.path = path;
    const flags = options.append ? 'a+' : options.overwrite ? 'w' : 'wx';
    try {
      this.fd = fs.openSync(path, flags, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(`MetricsLog: ${path} already exists; pass { append: true } to continue it or { overwrite: true } to replace it`);
      }
      throw new Error(`MetricsLog: cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (options.append) this.terminatePartialLine();
  }

  /** Appends one record. Non-finite numbers are written as null (JSON has no NaN). */
  write(record: object): void {
    if (this.fd === undefined) throw new Error(`MetricsLog: ${this.path} is closed`);
    if (!isPlainObject(record)) throw new TypeError('MetricsLog.write: record must be a plain object');
    assertJsonValue(record, 'MetricsLog.write: record', { allowNonFinite: true });
    fs.writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  /** Closes the file; further writes throw. Closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }

  /** A process that died mid-write can leave a last line without "\n"; start the next record on its own line. */
  private terminatePartialLine(): void {
    const size = fs.fstatSync(this.fd!).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    // 'a+' appends every write at the end whatever the position; reads honour the position.
    fs.readSync(this.fd!, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) fs.writeSync(this.fd!, '\n');
  }
}

/**
 * Reads a metrics log back. Blank lines and a last line cut off by a crash (no trailing newline,
 * not valid JSON) are skipped; any other malformed line is an error naming the file and line.
 */
export function readMetricsLog(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`readMetricsLog: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const lines = text.split('\n');
  const records: Record<string, unknown>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const isUnterminatedLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (isUnterminatedLast) return;
      throw new Error(`readMetricsLog: ${path}:${i + 1}: not valid JSON`);
    }
    if (!isPlainObject(value)) throw new Error(`readMetricsLog: ${path}:${i + 1}: a record must be a JSON object`);
    records.push(value);
  });
  return records;
}
