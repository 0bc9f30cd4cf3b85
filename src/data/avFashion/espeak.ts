// Speech from espeak-ng, run as a child process (no shell). Each distinct (word, voice, pitch,
// speed) is synthesised once per build and kept in memory. To avoid one process start per word, a
// voice's whole vocabulary is spoken in one call, each word its own SSML sentence followed by a
// long break, and the waveform is cut at those silences (the pieces match words spoken one call
// each to within a few percent; test/av-fashion-build.test.ts checks it).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidInputError } from '../errors.js';

export const ESPEAK_APT_PACKAGE = 'espeak-ng';

/** A speaker: an espeak-ng voice (`language[+variant]`, e.g. `en-gb+f2`), a pitch 0..99 and a speed in words per minute. */
export interface SpeechStyle {
  voice: string;
  pitch: number;
  speed: number;
}

export interface EspeakInstallation {
  binary: string;
  version: string;
  /** espeak-ng's data directory; variants are files in `voices/!v` there. */
  dataDir: string;
}

/** The installed espeak-ng behind `binary`, or null when it cannot be run. */
export function probeEspeak(binary: string): EspeakInstallation | null {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error !== undefined || result.status !== 0) return null;
  const version = /text-to-speech:\s*(\S+)/.exec(result.stdout)?.[1] ?? 'unknown';
  const dataDir = /Data at:\s*(.+)$/m.exec(result.stdout)?.[1].trim() ?? '';
  return { binary, version, dataDir };
}

/**
 * Checks a voice name. espeak-ng refuses an unknown language itself, but silently ignores an
 * unknown `+variant`, which would quietly merge two speakers, so variants are looked up here.
 */
export function checkVoice(espeak: EspeakInstallation, voice: string, field: string): void {
  const [language, variant, ...rest] = voice.split('+');
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(language ?? '') || rest.length > 0 || variant === '') {
    throw new InvalidInputError(
      `${field}: '${voice}' is not an espeak-ng voice of the form language[+variant] (e.g. en-gb+f2)`,
    );
  }
  if (
    variant !== undefined &&
    espeak.dataDir !== '' &&
    !fs.existsSync(path.join(espeak.dataDir, 'voices', '!v', variant))
  ) {
    throw new InvalidInputError(
      `${field}: espeak-ng has no voice variant '${variant}' (in '${voice}'; see 'espeak-ng --voices=variant' and ${path.join(espeak.dataDir, 'voices', '!v')})`,
    );
  }
}

/** Mono samples in [-1, 1) from a 16-bit PCM WAV; the RIFF and data sizes of a streamed WAV (--stdout) are not trusted. */
export function parseWav(bytes: Uint8Array, what: string): { samples: Float32Array; sampleRate: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    throw new InvalidInputError(`${what}: not a WAV stream`);
  let at = 12;
  let sampleRate = 0;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      const format = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const bits = view.getUint16(body + 14, true);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new InvalidInputError(
          `${what}: expected mono 16-bit PCM, got format ${format}, ${channels} channel(s), ${bits} bits`,
        );
      }
      sampleRate = view.getUint32(body + 4, true);
    } else if (id === 'data') {
      if (sampleRate === 0) throw new InvalidInputError(`${what}: WAV data before its format chunk`);
      const count = Math.floor(Math.min(size, bytes.length - body) / 2);
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(body + 2 * i, true) / 32768;
      return { samples, sampleRate };
    }
    at = body + size + (size % 2);
  }
  throw new InvalidInputError(`${what}: WAV stream without a data chunk`);
}

/** Louder than this counts as speech when cutting and trimming (about -66 dBFS). */
const SPEECH_LEVEL = 16 / 32768;
/** A quiet stretch this long separates two words of a batch; no word has an inner pause near it. */
const WORD_GAP_SECONDS = 0.3;
/** The SSML break after each word of a batch: comfortably longer than WORD_GAP_SECONDS. */
const BREAK_MS = 700;

/** [start, end) sample ranges of the speech in `samples`, split at quiet stretches of at least `gap` samples. */
export function speechRanges(samples: Float32Array, gap: number): [number, number][] {
  const ranges: [number, number][] = [];
  let start = -1;
  let lastLoud = -1;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]) <= SPEECH_LEVEL) continue;
    if (start < 0) start = i;
    else if (i - lastLoud > gap) {
      ranges.push([start, lastLoud + 1]);
      start = i;
    }
    lastLoud = i;
  }
  if (start >= 0) ranges.push([start, lastLoud + 1]);
  return ranges;
}

export interface Utterance {
  /** The word's speech, leading and trailing silence removed. */
  samples: Float32Array;
  sampleRate: number;
}

function styleText(style: SpeechStyle): string {
  return `voice '${style.voice}', pitch ${style.pitch}, speed ${style.speed}`;
}

/** Runs espeak-ng once on SSML text; resolves to its WAV output decoded. */
function runEspeak(
  binary: string,
  ssml: string,
  style: SpeechStyle,
): Promise<{ samples: Float32Array; sampleRate: number }> {
  const args = ['--stdout', '-v', style.voice, '-p', String(style.pitch), '-s', String(style.speed), '-m', '--', ssml];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let errText = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      errText += chunk.toString();
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new InvalidInputError(
              `espeak-ng binary '${binary}' not found: install the Debian package ${ESPEAK_APT_PACKAGE} (apt-get install -y ${ESPEAK_APT_PACKAGE})`,
            )
          : new InvalidInputError(`could not run ${binary}: ${err.message}`),
      );
    });
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          new InvalidInputError(
            `${binary} failed for ${styleText(style)} (exit ${code}): ${errText.trim() || 'no message'}`,
          ),
        );
        return;
      }
      try {
        resolve(parseWav(Buffer.concat(out), `${binary} output for ${styleText(style)}`));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Every word of `words` spoken in `style`, in order, from one espeak-ng call. */
export async function speakWords(binary: string, words: readonly string[], style: SpeechStyle): Promise<Utterance[]> {
  const ssml = `<speak>${words.map((w) => `<s>${w}</s><break time="${BREAK_MS}ms"/>`).join('')}</speak>`;
  const { samples, sampleRate } = await runEspeak(binary, ssml, style);
  const ranges = speechRanges(samples, Math.round(WORD_GAP_SECONDS * sampleRate));
  if (ranges.length !== words.length) {
    throw new InvalidInputError(
      `${binary} (${styleText(style)}) spoke ${words.length} words as ${ranges.length} stretches of speech separated by ${WORD_GAP_SECONDS} s of silence; ` +
        'a word may be silent or pause inside (words: ' +
        words.map((w) => `'${w}'`).join(', ') +
        ')',
    );
  }
  return ranges.map(([a, b]) => ({ samples: samples.slice(a, b), sampleRate }));
}

/** Runs `tasks` with at most `limit` at a time; resolves in task order. After a failure no new task starts. */
async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < tasks.length && !failed) {
      const index = next++;
      try {
        results[index] = await tasks[index]();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** The vocabulary spoken in every speech style a build uses, each (word, style) synthesised once. */
export class UtteranceBank {
  private readonly utterances = new Map<string, Utterance>();
  private rate = 0;

  /** The sample rate every utterance has (0 before the first). */
  get sampleRate(): number {
    return this.rate;
  }

  private static key(word: string, style: SpeechStyle): string {
    return JSON.stringify([word, style.voice, style.pitch, style.speed]);
  }

  /** Synthesises `words` in each of `styles` not yet held, `parallel` espeak-ng processes at a time. */
  async add(
    binary: string,
    words: readonly string[],
    styles: readonly SpeechStyle[],
    onStyleDone?: () => void,
    parallel = os.availableParallelism(),
  ): Promise<void> {
    const todo = styles.filter((style) => words.some((w) => !this.utterances.has(UtteranceBank.key(w, style))));
    const spoken = await inParallel(
      todo.map((style) => async () => {
        const utterances = await speakWords(binary, words, style);
        onStyleDone?.();
        return utterances;
      }),
      parallel,
    );
    // Check everything before storing anything, so a failed call leaves the bank as it was.
    let sampleRate = this.rate;
    todo.forEach((style, s) =>
      spoken[s].forEach((utterance) => {
        if (sampleRate === 0) sampleRate = utterance.sampleRate;
        if (utterance.sampleRate !== sampleRate) {
          throw new InvalidInputError(
            `${binary}: ${styleText(style)} speaks at ${utterance.sampleRate} Hz, other voices at ${sampleRate} Hz`,
          );
        }
      }),
    );
    this.rate = sampleRate;
    todo.forEach((style, s) =>
      words.forEach((word, w) => this.utterances.set(UtteranceBank.key(word, style), spoken[s][w])),
    );
  }

  get(word: string, style: SpeechStyle): Utterance {
    const utterance = this.utterances.get(UtteranceBank.key(word, style));
    if (utterance === undefined)
      throw new Error(`UtteranceBank: '${word}' was not synthesised for ${styleText(style)}`);
    return utterance;
  }

  get size(): number {
    return this.utterances.size;
  }
}
