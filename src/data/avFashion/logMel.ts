// Log-mel spectrogram: Hann-windowed frames, power spectrum by a real FFT (fft.js), triangular
// filters evenly spaced on the HTK mel scale, natural log with a floor.
import FFT from 'fft.js';
import { InvalidInputError } from '../errors.js';
import { fieldFailureIn } from '../../util/validate.js';

export interface LogMelOptions {
  sampleRate: number;
  /** Samples per frame, a power of two (the FFT size). */
  frameLength: number;
  /** Samples between frame starts. */
  hop: number;
  melBins: number;
  minHz: number;
  maxHz: number;
}

/** Added to the mel energies before the log, so silence stays finite (about -100 dB re full scale). */
const ENERGY_FLOOR = 1e-10;

const hzToMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number) => 700 * (10 ** (mel / 2595) - 1);

/** Triangular filters [melBins][frameLength / 2 + 1], each peaking at 1. */
export function melFilterbank(options: LogMelOptions): Float32Array[] {
  const { sampleRate, frameLength, melBins, minHz, maxHz } = options;
  const bins = frameLength / 2 + 1;
  const lowMel = hzToMel(minHz);
  const step = (hzToMel(maxHz) - lowMel) / (melBins + 1);
  const edges = Array.from({ length: melBins + 2 }, (_, i) => melToHz(lowMel + i * step));
  return Array.from({ length: melBins }, (_, m) => {
    const [left, centre, right] = [edges[m], edges[m + 1], edges[m + 2]];
    const filter = new Float32Array(bins);
    for (let k = 0; k < bins; k++) {
      const hz = (k * sampleRate) / frameLength;
      if (hz > left && hz < right)
        filter[k] = hz <= centre ? (hz - left) / (centre - left) : (right - hz) / (right - centre);
    }
    return filter;
  });
}

/** Computes log-mel frames of mono signals; build once per set of options, reuse for every segment. */
export class LogMelExtractor {
  readonly options: LogMelOptions;
  private readonly fft: FFT;
  private readonly window: Float32Array;
  private readonly filters: { start: number; weights: Float32Array }[];
  private readonly frame: number[];
  private readonly spectrum: number[];

  constructor(options: LogMelOptions) {
    const { sampleRate, frameLength, hop, melBins, minHz, maxHz } = options;
    const fail = fieldFailureIn('log-mel', InvalidInputError);
    if (!Number.isInteger(frameLength) || frameLength < 16 || (frameLength & (frameLength - 1)) !== 0)
      fail('frameLength', `must be a power of two >= 16, got ${frameLength}`);
    if (!Number.isInteger(hop) || hop < 1) fail('hop', `must be a positive integer, got ${hop}`);
    if (!Number.isInteger(melBins) || melBins < 1) fail('melBins', `must be a positive integer, got ${melBins}`);
    if (!(sampleRate > 0)) fail('sampleRate', `must be positive, got ${sampleRate}`);
    if (!(minHz >= 0 && maxHz > minHz && maxHz <= sampleRate / 2))
      fail('maxHz', `must satisfy 0 <= minHz < maxHz <= sampleRate / 2, got [${minHz}, ${maxHz}] at ${sampleRate} Hz`);
    // Every filter must cover at least one FFT bin, or its output would be a constant.
    const binHz = sampleRate / frameLength;
    const spacing = melToHz(hzToMel(minHz) + (2 * (hzToMel(maxHz) - hzToMel(minHz))) / (melBins + 1)) - minHz;
    if (spacing < 2 * binHz)
      fail(
        'melBins',
        `${melBins} bins between ${minHz} and ${maxHz} Hz are too narrow for a ${frameLength}-sample frame (${binHz.toFixed(1)} Hz per FFT bin)`,
      );
    this.options = { ...options };
    this.fft = new FFT(frameLength);
    this.window = Float32Array.from(
      { length: frameLength },
      (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameLength),
    );
    // Store each filter as its non-zero span only: most of a triangular filter is zeros.
    this.filters = melFilterbank(options).map((filter) => {
      const start = filter.findIndex((w) => w > 0);
      let end = filter.length;
      while (end > start && filter[end - 1] === 0) end--;
      return { start, weights: filter.slice(start, end) };
    });
    this.frame = new Array<number>(frameLength).fill(0);
    this.spectrum = this.fft.createComplexArray() as number[];
  }

  /** Frames that fit in `samples` samples. */
  frameCount(samples: number): number {
    const { frameLength, hop } = this.options;
    return samples < frameLength ? 0 : Math.floor((samples - frameLength) / hop) + 1;
  }

  /** Log-mel energies [frames, melBins] of `signal`, row-major. */
  compute(signal: Float32Array): Float32Array {
    const { frameLength, hop, melBins } = this.options;
    const frames = this.frameCount(signal.length);
    const out = new Float32Array(frames * melBins);
    const power = new Float32Array(frameLength / 2 + 1);
    for (let f = 0; f < frames; f++) {
      const offset = f * hop;
      for (let i = 0; i < frameLength; i++) this.frame[i] = signal[offset + i] * this.window[i];
      this.fft.realTransform(this.spectrum, this.frame);
      for (let k = 0; k < power.length; k++) {
        const re = this.spectrum[2 * k];
        const im = this.spectrum[2 * k + 1];
        power[k] = re * re + im * im;
      }
      this.filters.forEach(({ start, weights }, m) => {
        let energy = 0;
        for (let k = 0; k < weights.length; k++) energy += weights[k] * power[start + k];
        out[f * melBins + m] = Math.log(energy + ENERGY_FLOOR);
      });
    }
    return out;
  }
}
