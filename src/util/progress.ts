// Progress reporting for long loops. On a terminal: one self-redrawing bar with rate and ETA.
// Elsewhere (CI logs, pipes): plain lines, one per 10% of the work or per 5 s, whichever comes
// first, so logs stay short but a slow run still shows signs of life.

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Default process.stderr, keeping stdout for results. */
  stream?: ProgressStream;
  /** Milliseconds clock; injectable for tests. Default performance.now. */
  now?: () => number;
}

export type ProgressInfo = Record<string, string | number>;

const TTY_REDRAW_MS = 100;
const PLAIN_EVERY_FRACTION = 0.1;
const PLAIN_EVERY_MS = 5000;
const BAR_WIDTH = 24;

export class Progress {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly started: number;
  private count = 0;
  private info: ProgressInfo = {};
  private lastOutputAt: number;
  private lastOutputCount = 0;
  private finished = false;

  constructor(options: ProgressOptions) {
    const { total, label } = options ?? ({} as ProgressOptions);
    if (!Number.isSafeInteger(total) || total < 0)
      throw new RangeError(`Progress: total must be a non-negative integer, got ${String(total)}`);
    if (typeof label !== 'string') throw new TypeError('Progress: label must be a string');
    this.total = total;
    this.label = label;
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.lastOutputAt = this.started;
  }

  /** Records n more units of work; info (e.g. {loss: 0.12}) is shown with the next output. */
  tick(n = 1, info?: ProgressInfo): void {
    if (this.finished) throw new Error(`Progress(${this.label}): tick() after done()`);
    if (!Number.isFinite(n) || n < 0)
      throw new RangeError(`Progress.tick: n must be a non-negative number, got ${String(n)}`);
    this.count += n;
    if (info) this.info = { ...this.info, ...info };
    const t = this.now();
    if (this.stream.isTTY) {
      if (t - this.lastOutputAt >= TTY_REDRAW_MS) this.output(t, this.barLine(t), '\r', '\x1b[K');
    } else {
      const fractionSince = this.total > 0 ? (this.count - this.lastOutputCount) / this.total : 0;
      const stalled = t - this.lastOutputAt >= PLAIN_EVERY_MS && this.count > this.lastOutputCount;
      if (fractionSince >= PLAIN_EVERY_FRACTION || stalled) this.output(t, this.plainLine(t), '', '\n');
    }
  }

  /** Prints the final state and ends the line. Calling it twice prints once. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    const t = this.now();
    const seconds = (t - this.started) / 1000;
    const summary = `${this.label}: done ${this.count}/${this.total} in ${formatDuration(seconds)} (${formatRate(this.count, seconds)})${this.infoText()}`;
    this.stream.write(this.stream.isTTY ? `\r${summary}\x1b[K\n` : `${summary}\n`);
  }

  private output(t: number, line: string, before: string, after: string): void {
    this.stream.write(`${before}${line}${after}`);
    this.lastOutputAt = t;
    this.lastOutputCount = this.count;
  }

  private fraction(): number {
    return this.total > 0 ? Math.min(1, this.count / this.total) : 1;
  }

  private plainLine(t: number): string {
    const percent = Math.floor(this.fraction() * 100);
    return `${this.label}: ${this.count}/${this.total} (${percent}%) ${this.rateAndEta(t)}${this.infoText()}`;
  }

  private barLine(t: number): string {
    const filled = Math.round(this.fraction() * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '.'.repeat(BAR_WIDTH - filled);
    const line = `${this.label} [${bar}] ${Math.floor(this.fraction() * 100)}% ${this.count}/${this.total} ${this.rateAndEta(t)}${this.infoText()}`;
    const columns = this.stream.columns;
    return columns && line.length >= columns ? line.slice(0, columns - 1) : line;
  }

  private rateAndEta(t: number): string {
    const seconds = (t - this.started) / 1000;
    const rate = seconds > 0 ? this.count / seconds : 0;
    const eta = rate > 0 ? formatDuration(Math.max(0, this.total - this.count) / rate) : '?';
    return `${formatRate(this.count, seconds)} ETA ${eta}`;
  }

  private infoText(): string {
    const parts = Object.entries(this.info).map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : v}`);
    return parts.length > 0 ? ` ${parts.join(' ')}` : '';
  }
}

function formatRate(count: number, seconds: number): string {
  if (seconds <= 0) return '? it/s';
  const rate = count / seconds;
  return rate >= 1 || rate === 0 ? `${formatNumber(rate)} it/s` : `${formatNumber(1 / rate)} s/it`;
}

/** 4 significant digits without exponent noise for everyday magnitudes. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** 42s, 3:07, 1:02:03 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
