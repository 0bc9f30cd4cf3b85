// Our on-disk dataset: a directory with manifest.json and one .npy file per array
// (docs/dataset-format.md). Opening validates the manifest and every .npy header against it;
// features are then read row by row on demand. Writing streams any ClipDataset into the format.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClipDataset } from './dataset.js';
import { manifestDescr, matchesManifestDtype } from './dtype.js';
import { InvalidInputError } from './errors.js';
import { readInputFile } from './files.js';
import {
  FORMAT_ID,
  FORMAT_VERSION,
  MANIFEST_FILE,
  validateManifest,
  type ArrayRef,
  type DatasetManifest,
  type ModalityEntry,
} from './manifest.js';
import { NpyReader, NpyWriter, writeNpy } from './npy.js';
import { createDirectories, removeEmptyDirectories } from '../util/directories.js';
import { fail } from '../util/validate.js';

/** Opens `ref` and checks its header against the manifest entry named `field`. */
function openArray(dir: string, ref: ArrayRef, field: string, manifestPath: string): NpyReader {
  const file = path.join(dir, ref.file);
  if (!fs.existsSync(file)) {
    throw new InvalidInputError(`${manifestPath}: field '${field}.file' names '${ref.file}', which does not exist`);
  }
  const reader = NpyReader.open(file);
  const { shape, descr, type } = reader.header;
  const mismatch = (why: string): never => {
    reader.close();
    return fail(file, `${why} (manifest field '${field}')`, InvalidInputError);
  };
  if (!matchesManifestDtype(type, ref.dtype)) {
    mismatch(`dtype '${descr}' disagrees with the manifest's '${ref.dtype}' ('${manifestDescr(ref.dtype)}')`);
  }
  if (shape.length !== ref.shape.length || shape.some((d, i) => d !== ref.shape[i])) {
    mismatch(`shape [${shape.join(', ')}] disagrees with the manifest's [${ref.shape.join(', ')}]`);
  }
  return reader;
}

class NpyDirectoryDataset extends ClipDataset {
  readonly name: string;
  readonly numClips: number;
  readonly segments: number;
  readonly classes: readonly string[];
  readonly modalities: readonly string[];
  readonly splitNames: readonly string[];

  constructor(
    readonly manifest: DatasetManifest,
    private readonly features: Map<string, NpyReader>,
    private readonly ownLabels: Map<string, NpyReader>,
    private readonly segmentLabels: NpyReader,
    private readonly clipLabels: Int32Array,
    private readonly splits: Map<string, Int32Array>,
  ) {
    super();
    this.name = manifest.name;
    this.numClips = manifest.numClips;
    this.segments = manifest.segments;
    this.classes = manifest.classes;
    this.modalities = Object.keys(manifest.modalities);
    this.splitNames = [...splits.keys()];
  }

  protected clipShape(modality: string): readonly number[] {
    return this.manifest.modalities[modality].shape.slice(1);
  }

  protected readFeaturesUnchecked(modality: string, clips: Int32Array): Float32Array {
    return this.features.get(modality)!.readRowsFloat32(clips);
  }

  protected featureFile(modality: string): string {
    return this.features.get(modality)!.path;
  }

  protected readClipLabelsUnchecked(clips: Int32Array): Int32Array {
    return Int32Array.from(clips, (c) => this.clipLabels[c]);
  }

  protected modalityHasOwnLabels(modality: string): boolean {
    return this.ownLabels.has(modality);
  }

  protected readSegmentLabelsUnchecked(clips: Int32Array, modality: string | undefined): Uint8Array {
    const reader = modality === undefined ? this.segmentLabels : this.ownLabels.get(modality)!;
    return reader.readRowsUint8(clips);
  }

  protected splitUnchecked(split: string): Int32Array {
    return this.splits.get(split)!;
  }

  close(): void {
    for (const reader of [...this.features.values(), ...this.ownLabels.values(), this.segmentLabels]) reader.close();
  }
}

/**
 * Opens a dataset directory. Validates manifest.json, every .npy header against it, clip labels
 * against the class list and split indices against N. Feature rows stay on disk until read.
 */
export function openDataset(dir: string): ClipDataset {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new InvalidInputError(`${dir}: dataset directory does not exist`);
  }
  if (!fs.existsSync(manifestPath)) throw new InvalidInputError(`${manifestPath}: missing manifest`);
  const text = readInputFile(manifestPath).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${manifestPath}: malformed JSON (${(err as Error).message})`);
  }
  const manifest = validateManifest(raw, manifestPath);

  const opened: NpyReader[] = [];
  const open = (ref: ArrayRef, field: string) => {
    const reader = openArray(dir, ref, field, manifestPath);
    opened.push(reader);
    return reader;
  };
  try {
    const features = new Map<string, NpyReader>();
    const ownLabels = new Map<string, NpyReader>();
    for (const [name, entry] of Object.entries(manifest.modalities)) {
      features.set(name, open(entry, `modalities.${name}`));
      if (entry.segmentLabels) ownLabels.set(name, open(entry.segmentLabels, `modalities.${name}.segmentLabels`));
    }
    const segmentLabels = open(manifest.segmentLabels, 'segmentLabels');
    const clipLabelReader = open(manifest.clipLabels, 'clipLabels');
    const all = Int32Array.from({ length: manifest.numClips }, (_, i) => i);
    const clipLabels = clipLabelReader.readRowsInt32(all);
    clipLabelReader.close();
    clipLabels.forEach((label, i) => {
      if (label < 0 || label >= manifest.classes.length) {
        throw new InvalidInputError(
          `${path.join(dir, manifest.clipLabels.file)}: clip ${i} has label ${label}, outside [0, ${manifest.classes.length})`,
        );
      }
    });
    const splits = new Map<string, Int32Array>();
    for (const [name, value] of Object.entries(manifest.splits)) {
      if (Array.isArray(value)) {
        splits.set(name, Int32Array.from(value));
        continue;
      }
      const reader = open(value, `splits.${name}`);
      const indices = reader.readRowsInt32(Int32Array.from({ length: reader.rows }, (_, i) => i));
      reader.close();
      indices.forEach((index, i) => {
        if (index < 0 || index >= manifest.numClips) {
          throw new InvalidInputError(
            `${path.join(dir, value.file)}: split '${name}' entry ${i} is ${index}, outside [0, ${manifest.numClips})`,
          );
        }
      });
      splits.set(name, indices);
    }
    const dataset = new NpyDirectoryDataset(manifest, features, ownLabels, segmentLabels, clipLabels, splits);
    dataset.checkFiniteIfSmall();
    return dataset;
  } catch (err) {
    for (const reader of opened) reader.close();
    throw err;
  }
}

export interface WriteDatasetOptions {
  /** Replace an existing non-empty directory. */
  force?: boolean;
  /** Storage dtype of features: one for all modalities, or per modality. Default float32. */
  featureDtype?: 'float32' | 'float16' | Record<string, 'float32' | 'float16'>;
  /** Clips copied per read/write block; bounds the memory a conversion needs. Default 256. */
  chunkClips?: number;
  /** Dataset name in the manifest; default the source's name. */
  name?: string;
}

function isNonEmptyDirectory(dir: string): boolean {
  return fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0);
}

/** Copies rows of `source` to a new .npy file, `chunkClips` clips at a time. */
function copyRows(
  file: string,
  ref: ArrayRef,
  numClips: number,
  chunkClips: number,
  read: (clips: Int32Array) => ArrayLike<number>,
): void {
  const writer = new NpyWriter(file, ref.dtype, ref.shape);
  try {
    for (let start = 0; start < numClips; start += chunkClips) {
      const clips = Int32Array.from({ length: Math.min(chunkClips, numClips - start) }, (_, i) => start + i);
      writer.append(read(clips));
    }
    writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/**
 * Writes `source` (any ClipDataset: synthetic, AVE HDF5, VGGSound-AVEL, another directory) to `dir`
 * in our format, streaming blocks of clips. Refuses an existing non-empty `dir` unless `force`.
 * Everything is written to a sibling temporary directory first and renamed into place, so a failed
 * write leaves `dir` as it was.
 */
export function writeDataset(dir: string, source: ClipDataset, options: WriteDatasetOptions = {}): DatasetManifest {
  const chunkClips = options.chunkClips ?? 256;
  if (!Number.isInteger(chunkClips) || chunkClips < 1) {
    throw new InvalidInputError(`writeDataset: 'chunkClips' must be a positive integer, got ${chunkClips}`);
  }
  if (isNonEmptyDirectory(dir) && !options.force) {
    throw new InvalidInputError(`${dir}: exists and is not empty (pass force to overwrite)`);
  }
  const dtypeOf = (modality: string): 'float32' | 'float16' => {
    const spec = options.featureDtype ?? 'float32';
    const dtype = typeof spec === 'string' ? spec : (spec[modality] ?? 'float32');
    if (dtype !== 'float32' && dtype !== 'float16') {
      throw new InvalidInputError(
        `writeDataset: featureDtype for '${modality}' must be float32 or float16, got '${dtype}'`,
      );
    }
    return dtype;
  };
  const n = source.numClips;
  const t = source.segments;
  const c = source.classes.length;
  const modalities: Record<string, ModalityEntry> = {};
  for (const m of source.modalities) {
    modalities[m] = { file: `${m}.npy`, shape: [n, ...source.featureShape(m)], dtype: dtypeOf(m) };
  }

  const parent = path.dirname(path.resolve(dir));
  let createdParents: string[];
  try {
    createdParents = createDirectories(parent);
  } catch (err) {
    throw new InvalidInputError(`${dir}: ${(err as Error).message}`);
  }
  let staging: string;
  try {
    staging = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  } catch (err) {
    removeEmptyDirectories(createdParents);
    throw new InvalidInputError(`${dir}: cannot create a staging directory beside it: ${(err as Error).message}`);
  }
  try {
    for (const m of source.modalities) {
      copyRows(path.join(staging, modalities[m].file), modalities[m], n, chunkClips, (clips) =>
        source.readFeatures(m, clips),
      );
    }
    const labelShape = [n, t, c];
    const segmentLabels: ArrayRef = { file: 'segment_labels.npy', shape: labelShape, dtype: 'uint8' };
    copyRows(path.join(staging, segmentLabels.file), segmentLabels, n, chunkClips, (clips) =>
      source.readSegmentLabels(clips),
    );
    for (const m of source.modalities) {
      if (!source.hasOwnSegmentLabels(m)) continue;
      const ref: ArrayRef = { file: `segment_labels_${m}.npy`, shape: labelShape, dtype: 'uint8' };
      copyRows(path.join(staging, ref.file), ref, n, chunkClips, (clips) => source.readSegmentLabels(clips, m));
      modalities[m].segmentLabels = ref;
    }
    const clipLabels: ArrayRef = { file: 'clip_labels.npy', shape: [n], dtype: 'int32' };
    copyRows(path.join(staging, clipLabels.file), clipLabels, n, chunkClips, (clips) => source.readClipLabels(clips));
    const splits: Record<string, ArrayRef> = {};
    for (const name of source.splitNames) {
      const indices = source.split(name);
      splits[name] = { file: `split_${name}.npy`, shape: [indices.length], dtype: 'int32' };
      writeNpy(path.join(staging, splits[name].file), indices, [indices.length], 'int32');
    }
    const manifest: DatasetManifest = {
      format: FORMAT_ID,
      version: FORMAT_VERSION,
      name: options.name ?? source.name,
      numClips: n,
      segments: t,
      classes: [...source.classes],
      modalities,
      clipLabels,
      segmentLabels,
      splits,
    };
    fs.writeFileSync(path.join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
    return manifest;
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    removeEmptyDirectories(createdParents);
    throw err;
  }
}
