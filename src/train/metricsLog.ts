// Training metrics as JSON Lines: one record per line, handed to the kernel as soon as it is written
// (no user-space buffering), so a crash of the process loses no completed record.
//
// A line counts only once it is complete, newline included. A record is written in full or not at
// all: after a short or failed write (a full disk) the file is cut back to where the record began.
// What a killed process may still leave, a last line without its newline, is ignored by readers
// and dropped when the log is continued. A resumed run continues the log from its checkpoint's
// step: records of later steps (written before a kill, after that checkpoint) are dropped too, so
// the steps they cover are not logged twice.

import * as fs from 'node:fs';
import { writeFileAtomic } from '../util/atomicWrite.js';
import { assertJsonValue, isPlainObject } from '../util/json.js';

export interface MetricsLogOptions {
  /** Continue an existing log (e.g. when resuming); an absent file is created. */
  append?: boolean;
  /** With append: keep only the records whose `step` is at most this (the step a run resumes from). */
  keepThroughStep?: number;
  /** Replace an existing log. Without append or overwrite an existing file is an error. */
  overwrite?: boolean;
}

export class MetricsLog {
  readonly path: string;
  private fd: number | undefined;
  /** Bytes of complete records in the file. */
  private size = 0;

  constructor(path: string, options: MetricsLogOptions = {}) {
    if (typeof path !== 'string' || path.length === 0)
      throw new TypeError('MetricsLog: path must be a non-empty string');
    if (options.append && options.overwrite)
      throw new TypeError('MetricsLog: options.append and options.overwrite exclude each other');
    const { keepThroughStep } = options;
    if (
      keepThroughStep !== undefined &&
      (!options.append || !Number.isSafeInteger(keepThroughStep) || keepThroughStep < 0)
    ) {
      throw new TypeError(
        `MetricsLog: options.keepThroughStep must be a non-negative integer, with append; got ${String(keepThroughStep)}`,
      );
    }
    this.path = path;
    if (options.append) keepCompleteRecords(path, keepThroughStep);
    const flags = options.append ? 'a' : options.overwrite ? 'w' : 'wx';
    try {
      this.fd = fs.openSync(path, flags, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(
          `MetricsLog: ${path} already exists; pass { append: true } to continue it or { overwrite: true } to replace it`,
        );
      }
      throw new Error(`MetricsLog: cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.size = fs.fstatSync(this.fd).size;
  }

  /**
   * Appends one record, in full or not at all (a failed write is cut back off and rethrown).
   * Non-finite numbers are written as null (JSON has no NaN).
   */
  write(record: object): void {
    if (this.fd === undefined) throw new Error(`MetricsLog: ${this.path} is closed`);
    if (!isPlainObject(record)) throw new TypeError('MetricsLog.write: record must be a plain object');
    assertJsonValue(record, 'MetricsLog.write: record', { allowNonFinite: true });
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    try {
      // At explicit offsets: after a cut-back write the file position may lie past the end.
      for (let done = 0; done < line.byteLength; )
        done += fs.writeSync(this.fd, line, done, line.byteLength - done, this.size + done);
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        // Readers and the next append ignore a last line without its newline.
      }
      throw new Error(`MetricsLog: could not write a record to ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.size += line.byteLength;
  }

  /** Closes the file; further writes throw. Closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }
}

/**
 * Rewrites the log at `path` (when it exists) to its complete, valid records, of steps up to
 * `throughStep` when given. An unchanged log is not rewritten.
 */
function keepCompleteRecords(path: string, throughStep: number | undefined): void {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`MetricsLog: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const lines = text.split('\n').slice(0, -1); // the text after the last newline is a fragment
  const kept = lines.filter((line) => {
    const record = parseRecord(line);
    return (
      record !== null && (throughStep === undefined || (typeof record.step === 'number' && record.step <= throughStep))
    );
  });
  const next = kept.map((line) => `${line}\n`).join('');
  if (next !== text) writeFileAtomic(path, next);
}

function parseRecord(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return isPlainObject(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Reads a metrics log back. Blank lines and a last line without its newline (cut off by a crash)
 * are skipped; any other malformed line is an error naming the file and line.
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
    // The text after the last newline is not a complete record yet.
    if (line.trim() === '' || i === lines.length - 1) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`readMetricsLog: ${path}:${i + 1}: not valid JSON`);
    }
    if (!isPlainObject(value)) throw new Error(`readMetricsLog: ${path}:${i + 1}: a record must be a JSON object`);
    records.push(value);
  });
  return records;
}
