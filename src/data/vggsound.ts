// VGGSound-AVEL as its users have it: for each modality a directory with one <video_id>.zip per
// clip, holding a pickled numpy array [T', ...] (the last .pkl entry counts, as in the published
// loader), and a metadata CSV with columns video_id (or id, a file name whose extension is
// dropped), category and split.
// Optionally a directory of per-clip zips with [T] or [T, 1] 0/1 event presence ("avc labels").
// Clips with fewer than T segments repeat their last one; longer ones are cut to T.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { parseCsv } from './csv.js';
import { ClipDataset } from './dataset.js';
import { InvalidInputError } from './errors.js';
import { readInputFile } from './files.js';
import { decodeNumpyPickleFloat32 } from './pickle.js';

export interface VggsoundAvelOptions {
  /** The metadata CSV. */
  metaCsv: string;
  /** Modality name -> directory of per-clip zips, e.g. { audio: '.../audio_feature', video: '.../video_feature' }. */
  featureDirs: Record<string, string>;
  /** Directory of per-clip zips with [T] or [T, 1] event presence; without it every segment holds the event. */
  segmentLabelDir?: string;
  /** Class names in label order, or the path of a file with one name per line; default: sorted CSV categories. */
  categories?: string[] | string;
  /** Segments per clip (default 10). */
  segments?: number;
  name?: string;
}

/** Reads the pickled array of one clip zip. */
function readClipZip(file: string): { shape: number[]; data: Float32Array } {
  if (!fs.existsSync(file)) throw new InvalidInputError(`${file}: missing clip archive`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(readInputFile(file), { filter: (entry) => entry.name.includes('.pkl') });
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`${file}: not a readable zip archive (${(err as Error).message})`);
  }
  const names = Object.keys(entries);
  if (names.length === 0) throw new InvalidInputError(`${file}: holds no .pkl entry`);
  const last = names[names.length - 1];
  return decodeNumpyPickleFloat32(entries[last], `${file}:${last}`);
}

/** Pads (repeating the last segment) or cuts a [T', ...] array to [T, ...]. */
function fitSegments(
  array: { shape: number[]; data: Float32Array },
  t: number,
  where: string,
): { shape: number[]; data: Float32Array } {
  const [length, ...rest] = array.shape;
  if (array.shape.length === 0 || length === 0) throw new InvalidInputError(`${where}: array has no segments`);
  const row = rest.reduce((a, b) => a * b, 1);
  if (length === t) return array;
  const out = new Float32Array(t * row);
  for (let s = 0; s < t; s++) {
    const from = Math.min(s, length - 1);
    out.set(array.data.subarray(from * row, (from + 1) * row), s * row);
  }
  return { shape: [t, ...rest], data: out };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

class VggsoundAvelDataset extends ClipDataset {
  readonly numClips: number;
  readonly modalities: readonly string[];
  readonly splitNames: readonly string[];

  constructor(
    readonly name: string,
    readonly segments: number,
    readonly classes: readonly string[],
    private readonly ids: string[],
    private readonly clipLabels: Int32Array,
    private readonly featureDirs: Record<string, string>,
    private readonly shapes: Map<string, number[]>,
    private readonly segmentLabelDir: string | undefined,
    private readonly splits: Map<string, Int32Array>,
  ) {
    super();
    this.numClips = ids.length;
    this.modalities = Object.keys(featureDirs);
    this.splitNames = [...splits.keys()];
  }

  protected clipShape(modality: string): readonly number[] {
    return this.shapes.get(modality)!;
  }

  protected featureFile(modality: string, clip: number): string {
    return path.join(this.featureDirs[modality], `${this.ids[clip]}.zip`);
  }

  protected readFeaturesUnchecked(modality: string, clips: Int32Array): Float32Array {
    const expected = this.shapes.get(modality)!;
    const size = expected.reduce((a, b) => a * b, 1);
    const out = new Float32Array(clips.length * size);
    clips.forEach((clip, i) => {
      const file = this.featureFile(modality, clip);
      const array = fitSegments(readClipZip(file), this.segments, file);
      if (!sameShape(array.shape, expected)) {
        throw new InvalidInputError(
          `${file}: array shape [${array.shape.join(', ')}] disagrees with the dataset's [${expected.join(', ')}] for '${modality}'`,
        );
      }
      out.set(array.data, i * size);
    });
    return out;
  }

  protected readClipLabelsUnchecked(clips: Int32Array): Int32Array {
    return Int32Array.from(clips, (c) => this.clipLabels[c]);
  }

  protected modalityHasOwnLabels(): boolean {
    return false;
  }

  protected readSegmentLabelsUnchecked(clips: Int32Array): Uint8Array {
    const t = this.segments;
    const c = this.classes.length;
    const out = new Uint8Array(clips.length * t * c);
    clips.forEach((clip, i) => {
      let presence: Float32Array | undefined;
      if (this.segmentLabelDir !== undefined) {
        const file = path.join(this.segmentLabelDir, `${this.ids[clip]}.zip`);
        const array = fitSegments(readClipZip(file), t, file);
        if (array.data.length !== t)
          throw new InvalidInputError(`${file}: event presence must be [T] or [T, 1], got [${array.shape.join(', ')}]`);
        presence = array.data;
      }
      for (let s = 0; s < t; s++) {
        if (presence === undefined || presence[s] > 0.5) out[(i * t + s) * c + this.clipLabels[clip]] = 1;
      }
    });
    return out;
  }

  protected splitUnchecked(split: string): Int32Array {
    return this.splits.get(split)!;
  }
}

/**
 * Opens VGGSound-AVEL-style data. The CSV is validated whole; the first clip of each modality is
 * read to learn the feature shape, and every later read is checked against it.
 */
export function openVggsoundAvelDataset(options: VggsoundAvelOptions): ClipDataset {
  const { metaCsv, featureDirs } = options;
  const segments = options.segments ?? 10;
  if (!Number.isInteger(segments) || segments < 1) {
    throw new InvalidInputError(`openVggsoundAvelDataset: 'segments' must be a positive integer, got ${segments}`);
  }
  if (!fs.existsSync(metaCsv)) throw new InvalidInputError(`${metaCsv}: missing metadata CSV`);
  if (Object.keys(featureDirs).length === 0)
    throw new InvalidInputError(`openVggsoundAvelDataset: 'featureDirs' is empty`);
  for (const [modality, dir] of Object.entries(featureDirs)) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new InvalidInputError(`openVggsoundAvelDataset: featureDirs.${modality} '${dir}' is not a directory`);
    }
  }
  if (options.segmentLabelDir !== undefined && !fs.existsSync(options.segmentLabelDir)) {
    throw new InvalidInputError(`openVggsoundAvelDataset: segmentLabelDir '${options.segmentLabelDir}' does not exist`);
  }
  const table = parseCsv(readInputFile(metaCsv).toString('utf8'), metaCsv);
  const idColumn = table.columns.includes('video_id') ? 'video_id' : table.columns.includes('id') ? 'id' : undefined;
  if (idColumn === undefined) throw new InvalidInputError(`${metaCsv}: no 'video_id' (or 'id') column`);
  for (const column of ['category', 'split']) {
    if (!table.columns.includes(column)) throw new InvalidInputError(`${metaCsv}: no '${column}' column`);
  }
  if (table.rows.length === 0) throw new InvalidInputError(`${metaCsv}: no clips`);

  let classes: string[];
  if (typeof options.categories === 'string') {
    if (!fs.existsSync(options.categories)) throw new InvalidInputError(`${options.categories}: missing category list`);
    classes = readInputFile(options.categories)
      .toString('utf8')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  } else classes = options.categories ?? [...new Set(table.rows.map((r) => r.category))].sort();
  const classIndex = new Map(classes.map((c, i) => [c, i]));

  const ids = table.rows.map((r) => (idColumn === 'id' ? r.id.replace(/\.[^./]*$/, '') : r[idColumn]));
  const clipLabels = Int32Array.from(table.rows, (r, i) => {
    const label = classIndex.get(r.category);
    if (label === undefined)
      throw new InvalidInputError(`${metaCsv}: row ${i + 2} has category '${r.category}', not in the class list`);
    return label;
  });
  const splitMembers = new Map<string, number[]>();
  table.rows.forEach((r, i) => {
    const members = splitMembers.get(r.split) ?? [];
    members.push(i);
    splitMembers.set(r.split, members);
  });
  const splits = new Map([...splitMembers].map(([k, v]) => [k, Int32Array.from(v)]));

  const shapes = new Map<string, number[]>();
  for (const [modality, dir] of Object.entries(featureDirs)) {
    const file = path.join(dir, `${ids[0]}.zip`);
    shapes.set(modality, fitSegments(readClipZip(file), segments, file).shape);
  }
  const dataset = new VggsoundAvelDataset(
    options.name ?? path.basename(metaCsv).replace(/\.csv$/i, ''),
    segments,
    classes,
    ids,
    clipLabels,
    { ...featureDirs },
    shapes,
    options.segmentLabelDir,
    splits,
  );
  dataset.checkFiniteIfSmall();
  return dataset;
}
