// AV-Fashion building blocks that need no installed package: the IDX and WAV parsers, cutting
// speech at silences, log-mel, the pooled audio features, the image patch features and the
// hashed text embedding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { InvalidInputError } from '../src/data/errors.js';
import { SegmentAudioFeatures, mixSegment } from '../src/data/avFashion/audioFeatures.js';
import { parseWav, speakWords, speechRanges } from '../src/data/avFashion/espeak.js';
import { parseIdx, readIdxFile } from '../src/data/avFashion/idx.js';
import { VIDEO_CHANNELS, patchGridFeatures, renderFrame } from '../src/data/avFashion/imageFeatures.js';
import { LogMelExtractor, melFilterbank } from '../src/data/avFashion/logMel.js';
import { hashedNgramEmbedding } from '../src/data/avFashion/textFeatures.js';
import { Rng } from '../src/util/rng.js';

function idxBytes(typeCode: number, shape: number[], data: number[]): Uint8Array {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = typeCode;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, Buffer.from(data)]));
}

test("IDX: shape and values are read, from plain and gzip'd files", () => {
  const bytes = idxBytes(0x08, [2, 3], [1, 2, 3, 4, 5, 250]);
  const parsed = parseIdx(bytes, 'x.idx');
  assert.deepEqual(parsed.shape, [2, 3]);
  assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 250]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idx-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.gz'), gzipSync(bytes));
    assert.deepEqual(Array.from(readIdxFile(path.join(dir, 'a.gz')).data), [1, 2, 3, 4, 5, 250]);
    fs.writeFileSync(path.join(dir, 'b.gz'), bytes);
    assert.throws(
      () => readIdxFile(path.join(dir, 'b.gz')),
      (e: Error) => e instanceof InvalidInputError && e.message.includes('b.gz') && /gzip/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('IDX: a bad magic, another type or a size that disagrees with the header is refused, naming the file', () => {
  const refuse = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => parseIdx(bytes, 'f.idx'),
      (e: Error) => e instanceof InvalidInputError && e.message.startsWith('f.idx') && pattern.test(e.message),
    );
  const good = idxBytes(0x08, [2, 2], [1, 2, 3, 4]);
  refuse(Uint8Array.from([1, ...good.subarray(1)]), /magic/);
  refuse(idxBytes(0x0d, [2, 2], [1, 2, 3, 4]), /type code/);
  refuse(good.subarray(0, good.length - 1), /needs 4 bytes/);
  refuse(good.subarray(0, 6), /truncated/);
});

function wavBytes(
  samples: number[],
  { sampleRate = 22050, channels = 1, bits = 16, streamed = false } = {},
): Uint8Array {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, 2 * i));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(streamed ? 0x7ffff024 : 36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2 * channels, 28);
  header.writeUInt16LE(2 * channels, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36);
  header.writeUInt32LE(streamed ? 0x7ffff000 : data.length, 40);
  return new Uint8Array(Buffer.concat([header, data]));
}

test('WAV: 16-bit mono samples are scaled to [-1, 1), also from a stream whose sizes are placeholders', () => {
  for (const streamed of [false, true]) {
    const { samples, sampleRate } = parseWav(wavBytes([0, 16384, -32768, 32767], { sampleRate: 16000, streamed }), 'w');
    assert.equal(sampleRate, 16000);
    assert.deepEqual(Array.from(samples), [0, 0.5, -1, 32767 / 32768]);
  }
  assert.throws(
    () => parseWav(wavBytes([0, 0], { channels: 2 }), 'stereo.wav'),
    /stereo\.wav: expected mono 16-bit PCM/,
  );
  assert.throws(() => parseWav(new Uint8Array(8), 'junk'), /junk: not a WAV stream/);
});

test('speech is cut at quiet stretches at least as long as the gap, and only there', () => {
  const signal = new Float32Array(1000);
  signal.fill(0.5, 100, 200);
  signal.fill(0.5, 230, 300); // 30 quiet samples: inside one word
  signal.fill(-0.5, 600, 650); // 300 quiet samples: a new word
  assert.deepEqual(speechRanges(signal, 100), [
    [100, 300],
    [600, 650],
  ]);
  assert.deepEqual(speechRanges(signal, 20), [
    [100, 200],
    [230, 300],
    [600, 650],
  ]);
  assert.deepEqual(speechRanges(signal, signal.length), [[100, 650]]);
  assert.deepEqual(speechRanges(new Float32Array(50), 10), []);
});

test('a missing espeak-ng binary is reported with the apt package to install', async () => {
  await assert.rejects(
    speakWords('/nonexistent/espeak-ng', ['bag'], { voice: 'en-us', pitch: 50, speed: 160 }),
    (e: Error) =>
      e instanceof InvalidInputError &&
      e.message.includes("'/nonexistent/espeak-ng' not found") &&
      e.message.includes('apt-get install -y espeak-ng'),
  );
});

const MEL = { sampleRate: 16000, frameLength: 512, hop: 256, melBins: 24, minHz: 50, maxHz: 8000 };

test('log-mel energies equal the filterbank applied to a naively computed DFT power spectrum', () => {
  const rng = new Rng(3);
  const signal = Float32Array.from({ length: 900 }, () => rng.normal() * 0.1);
  const extractor = new LogMelExtractor(MEL);
  const mel = extractor.compute(signal);
  assert.equal(extractor.frameCount(signal.length), 2);
  assert.equal(mel.length, 2 * MEL.melBins);
  const filters = melFilterbank(MEL);
  const n = MEL.frameLength;
  for (const frame of [0, 1]) {
    const power = Array.from({ length: n / 2 + 1 }, (_, k) => {
      let re = 0;
      let im = 0;
      for (let i = 0; i < n; i++) {
        const x = signal[frame * MEL.hop + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
        re += x * Math.cos((2 * Math.PI * k * i) / n);
        im -= x * Math.sin((2 * Math.PI * k * i) / n);
      }
      return re * re + im * im;
    });
    for (const m of [0, 7, MEL.melBins - 1]) {
      const energy = filters[m].reduce((sum, w, k) => sum + w * power[k], 0);
      assert.ok(Math.abs(mel[frame * MEL.melBins + m] - Math.log(energy + 1e-10)) < 1e-3, `frame ${frame} bin ${m}`);
    }
  }
});

test('log-mel: a tone peaks in the filter around its frequency; twice the amplitude adds ln 4 everywhere', () => {
  const extractor = new LogMelExtractor(MEL);
  const filters = melFilterbank(MEL);
  const tone = (hz: number, amplitude: number) =>
    Float32Array.from({ length: 4000 }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / MEL.sampleRate));
  for (const hz of [300, 1000, 4000]) {
    const mel = extractor.compute(tone(hz, 0.3)).subarray(0, MEL.melBins);
    const peak = mel.indexOf(Math.max(...mel));
    const bin = Math.round((hz * MEL.frameLength) / MEL.sampleRate);
    const strongest = filters.map((f) => f[bin]).indexOf(Math.max(...filters.map((f) => f[bin])));
    assert.equal(peak, strongest, `${hz} Hz`);
  }
  const quiet = extractor.compute(tone(1000, 0.1));
  const loud = extractor.compute(tone(1000, 0.2));
  for (let i = 0; i < quiet.length; i++)
    if (quiet[i] > -15) assert.ok(Math.abs(loud[i] - quiet[i] - Math.log(4)) < 1e-3);
});

test('log-mel refuses settings that name the field at fault', () => {
  assert.throws(() => new LogMelExtractor({ ...MEL, frameLength: 500 }), /'frameLength' must be a power of two/);
  assert.throws(() => new LogMelExtractor({ ...MEL, maxHz: 9000 }), /'maxHz'/);
  assert.throws(
    () => new LogMelExtractor({ ...MEL, melBins: 128, minHz: 0, maxHz: 1000 }),
    /'melBins' 128 bins .* too narrow/,
  );
});

test('pooled audio features follow the word, not where in the second it is or how loud the noise floor is', () => {
  const sampleRate = 16000;
  const features = new SegmentAudioFeatures({ ...MEL, sampleRate, melBins: 8 }, 4);
  assert.equal(features.dim, 32);
  // A "word": a rising chirp of 0.3 s, so its beginning and end differ in spectrum.
  const word = Float32Array.from(
    { length: 4800 },
    (_, i) => 0.3 * Math.sin(2 * Math.PI * (300 + (2000 * i) / 4800) * (i / sampleRate)),
  );
  const other = Float32Array.from(word).reverse();
  const at = (samples: Float32Array, offset: number, noiseDb: number) => {
    const out = new Float32Array(32);
    features.compute(
      mixSegment({ noiseLevel: 10 ** (noiseDb / 20), speech: { samples, gain: 1, offset } }, sampleRate, new Rng(1)),
      out,
      0,
    );
    return out;
  };
  const distance = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((v, i) => v - b[i]));
  const early = at(word, 0.05, -70);
  const late = at(word, 0.9, -60);
  const reversed = at(other, 0.05, -70);
  assert.ok(
    distance(early, late) < 0.25 * distance(early, reversed),
    `${distance(early, late)} vs ${distance(early, reversed)}`,
  );
  // Pooling order: the chirp's first part is low-pitched, its last high.
  assert.ok(early[0 * 8 + 1] > early[3 * 8 + 1] && early[3 * 8 + 6] > early[0 * 8 + 6]);
});

test('the mixed segment is one second: noise at the requested RMS plus the word at its gain and offset', () => {
  const rng = new Rng(5);
  const noise = mixSegment({ noiseLevel: 0.01 }, 8000, rng);
  assert.equal(noise.length, 8000);
  const rms = Math.sqrt(noise.reduce((s, v) => s + v * v, 0) / noise.length);
  assert.ok(Math.abs(rms - 0.01) < 0.0005, `rms ${rms}`);
  const word = new Float32Array(2000).fill(0.5);
  const mixed = mixSegment({ noiseLevel: 0, speech: { samples: word, gain: 2, offset: 1 } }, 8000, rng);
  assert.equal(mixed[5999], 0);
  assert.equal(mixed[6000], 1);
  assert.equal(mixed[7999], 1);
  const long = mixSegment(
    { noiseLevel: 0, speech: { samples: new Float32Array(9000).fill(0.25), gain: 1, offset: 0.5 } },
    8000,
    rng,
  );
  assert.ok(
    long.every((v) => v === 0.25),
    'a word longer than the second is cut to it',
  );
});

const NO_LIGHTING = { contrast: 1, brightness: 0, gamma: 1 };
const ZERO_NOISE = new Float32Array(28 * 28);

function stripes(vertical: boolean): Uint8Array {
  return Uint8Array.from({ length: 28 * 28 }, (_, i) => ((vertical ? i % 28 : Math.floor(i / 28)) % 8 < 4 ? 0 : 255));
}

function features(pixels: Uint8Array | null, lighting = NO_LIGHTING, shift: [number, number] = [0, 0]): Float32Array {
  const out = new Float32Array(7 * 7 * VIDEO_CHANNELS);
  patchGridFeatures(renderFrame(pixels, shift, lighting, ZERO_NOISE, 0), out, 0);
  return out;
}

/** Channels [from, from + 8) of grid cell (y, x). */
function cell(f: Float32Array, y: number, x: number, from: number, count: number): number[] {
  const at = (y * 7 + x) * VIDEO_CHANNELS + from;
  return Array.from(f.subarray(at, at + count));
}

test('video cells: the frame at 4x4 in every cell, then orientation histograms that find the edges', () => {
  assert.equal(VIDEO_CHANNELS, 32);
  const vertical = features(stripes(true));
  const horizontal = features(stripes(false));
  // Vertical stripes 4 px dark, 4 px bright: a 7x7 block holds 3 or 4 bright columns of 7 (x % 8 >= 4).
  const brightColumns = [0, 1, 2, 3].map(
    (bx) => Array.from({ length: 7 }, (_, i) => bx * 7 + i).filter((x) => x % 8 >= 4).length,
  );
  const expected = Array.from({ length: 16 }, (_, k) => (2 * brightColumns[k % 4]) / 7 - 1);
  for (const [y, x] of [
    [0, 0],
    [3, 5],
    [6, 6],
  ]) {
    cell(vertical, y, x, 0, 16).forEach((v, k) =>
      assert.ok(Math.abs(v - expected[k]) < 1e-6, `cell ${y},${x} channel ${k}`),
    );
  }
  // Vertical stripes have horizontal gradients (angle 0: bins 7 and 0 share it); horizontal stripes vertical ones (bins 3, 4).
  const argmaxPair = (h: number[]) =>
    h.map((v, i) => v + h[(i + 1) % 8]).indexOf(Math.max(...h.map((v, i) => v + h[(i + 1) % 8])));
  for (const from of [16, 24]) {
    assert.equal(argmaxPair(cell(vertical, 3, 3, from, 8)), 7);
    assert.equal(argmaxPair(cell(horizontal, 3, 3, from, 8)), 3);
  }
});

test('video cells: lighting moves the thumbnail but hardly the histograms; a blank frame has no edges', () => {
  const base = features(stripes(true));
  const lit = features(stripes(true), { contrast: 0.6, brightness: 0.1, gamma: 1 });
  const context = (f: Float32Array) => cell(f, 3, 3, 0, 16);
  const histograms = (f: Float32Array) => cell(f, 3, 3, 16, 16);
  assert.notDeepEqual(context(base), context(lit));
  const change = Math.hypot(...histograms(base).map((v, i) => v - histograms(lit)[i]));
  assert.ok(change < 0.15 * Math.hypot(...histograms(base)), `histograms moved by ${change}`);
  const blank = features(null, { contrast: 1, brightness: 0.2, gamma: 1 });
  for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) assert.ok(cell(blank, y, x, 16, 16).every((v) => v === 0));
  // Blank: the black background of Fashion-MNIST under the clip's lighting, grey 0 + 0.2, as a feature 2 * 0.2 - 1.
  assert.ok(
    context(blank).every((v) => Math.abs(v - (2 * 0.2 - 1)) < 1e-6),
    'blank frames are uniform',
  );
});

test('video cells: shifting the image by one patch moves its edge histograms by one grid cell', () => {
  const image = Uint8Array.from({ length: 28 * 28 }, (_, i) => (Math.floor(i / 28) * 7 + (i % 28) * 13) % 256);
  const shifted = features(image, NO_LIGHTING, [4, 0]);
  const original = features(image);
  for (const [y, x] of [
    [2, 2],
    [4, 3],
  ])
    assert.deepEqual(cell(shifted, y, x + 1, 16, 16), cell(original, y, x, 16, 16));
});

test('text embedding: deterministic, unit RMS, close for shared n-grams, far for unrelated words', () => {
  const embed = (text: string) => hashedNgramEmbedding(text, 32, 3, 4);
  const a = embed('a photo of the sneaker');
  assert.deepEqual(a, embed('A photo of the SNEAKER'));
  assert.ok(Math.abs(Math.hypot(...a) / Math.sqrt(32) - 1) < 1e-6);
  const cosine = (x: Float32Array, y: Float32Array) =>
    x.reduce((s, v, i) => s + v * y[i], 0) / (Math.hypot(...x) * Math.hypot(...y));
  // Wide enough that bucket collisions do not blur the comparison.
  const wide = (text: string) => hashedNgramEmbedding(text, 1024, 3, 4);
  const sneakers = wide('sneakers');
  assert.ok(cosine(wide('sneaker'), sneakers) > 0.6, 'a plural shares most n-grams');
  assert.ok(Math.abs(cosine(wide('handbag'), sneakers)) < 0.2, 'unrelated words share none');
  assert.ok(
    embed('...').every((v) => v === 0),
    'no words, no features',
  );
  assert.notDeepEqual(embed('the sandal'), embed('the dress'));
});
