// Audio features of one one-second segment: the segment's signal is mixed (white noise under
// everything, plus a spoken word or a louder noise burst), its log-mel spectrogram computed, and
// the frames pooled into `parts` equal stretches of the segment's active span (the frames within
// ACTIVE_RANGE of the loudest): a word's beginning, middle and end, wherever in the second it is
// and however fast it is spoken. Features are [parts, melBins] flattened.
import type { Rng } from '../../util/rng.js';
import { LogMelExtractor, type LogMelOptions } from './logMel.js';

/** Frames within this many nats (about 26 dB) of the loudest frame's energy form the active span. */
const ACTIVE_RANGE = 6;
const UNIT_VARIANCE_UNIFORM = Math.sqrt(3);

export interface SegmentSound {
  /** RMS level of the noise under the segment, linear re full scale. */
  noiseLevel: number;
  /** A word's samples and the gain they are mixed at, or none. */
  speech?: {
    samples: Float32Array;
    gain: number /** Where in the second it starts, as a share of the free room. */;
    offset: number;
  };
}

/** The segment's samples (one second at `sampleRate`); noise is drawn from `rng`. */
export function mixSegment(sound: SegmentSound, sampleRate: number, rng: Rng): Float32Array {
  const signal = new Float32Array(sampleRate);
  // Uniform noise of the requested RMS: white like Gaussian noise, and far cheaper to draw.
  const scale = (2 * UNIT_VARIANCE_UNIFORM * sound.noiseLevel) / 4294967296;
  const shift = UNIT_VARIANCE_UNIFORM * sound.noiseLevel;
  for (let i = 0; i < signal.length; i++) signal[i] = rng.nextUint32() * scale - shift;
  if (sound.speech !== undefined) {
    const { samples, gain, offset } = sound.speech;
    const length = Math.min(samples.length, sampleRate); // a word longer than the second is cut
    const start = Math.min(sampleRate - length, Math.floor(offset * (sampleRate - length + 1)));
    for (let i = 0; i < length; i++) signal[start + i] += gain * samples[i];
  }
  return signal;
}

export class SegmentAudioFeatures {
  private readonly logMel: LogMelExtractor;
  readonly dim: number;

  constructor(
    options: LogMelOptions,
    readonly parts: number,
  ) {
    this.logMel = new LogMelExtractor(options);
    this.dim = options.melBins * parts;
  }

  /** Pooled log-mel features [parts * melBins] of a segment's signal, written to `out` at `offset`. */
  compute(signal: Float32Array, out: Float32Array, offset: number): void {
    const bins = this.logMel.options.melBins;
    const mel = this.logMel.compute(signal);
    const frames = mel.length / bins;
    const energy = new Float64Array(frames);
    let loudest = -Infinity;
    for (let f = 0; f < frames; f++) {
      let sum = 0;
      for (let b = 0; b < bins; b++) sum += Math.exp(mel[f * bins + b]);
      energy[f] = Math.log(sum);
      loudest = Math.max(loudest, energy[f]);
    }
    let first = 0;
    while (energy[first] < loudest - ACTIVE_RANGE) first++;
    let last = frames - 1;
    while (energy[last] < loudest - ACTIVE_RANGE) last--;
    const span = last - first + 1;
    for (let p = 0; p < this.parts; p++) {
      // Equal stretches of the span; a span shorter than `parts` frames reuses frames.
      const from = first + Math.floor((span * p) / this.parts);
      const to = Math.max(from + 1, first + Math.floor((span * (p + 1)) / this.parts));
      for (let b = 0; b < bins; b++) {
        let sum = 0;
        for (let f = from; f < to; f++) sum += mel[f * bins + b];
        out[offset + p * bins + b] = sum / (to - from);
      }
    }
  }
}
