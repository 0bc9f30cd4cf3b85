// The manifest of an on-disk dataset (docs/dataset-format.md): its type, and validation of parsed
// JSON with errors that name the manifest file and the field at fault.
import * as path from 'node:path';
import { MANIFEST_DTYPES, type ManifestDtype } from './dtype.js';
import { InvalidInputError } from './errors.js';
import { fieldFailureIn } from '../util/validate.js';

export const MANIFEST_FILE = 'manifest.json';
export const FORMAT_ID = 'unicode-cmg-dataset';
export const FORMAT_VERSION = 1;

/** One .npy file of the dataset, with the shape and dtype its header must have. */
export interface ArrayRef {
  /** Path relative to the dataset directory. */
  file: string;
  shape: number[];
  dtype: ManifestDtype;
}

export interface ModalityEntry extends ArrayRef {
  /** Per-segment labels of this modality alone, [N, T, C]; absent when the shared ones apply. */
  segmentLabels?: ArrayRef;
}

export interface DatasetManifest {
  format: typeof FORMAT_ID;
  version: typeof FORMAT_VERSION;
  name: string;
  numClips: number;
  /** Segments per clip, T. */
  segments: number;
  /** Event class names; index c is class c. Background is not a class. */
  classes: string[];
  /** Feature arrays [N, T, ...], float32 or float16. */
  modalities: Record<string, ModalityEntry>;
  /** [N] int32 event class of each clip. */
  clipLabels: ArrayRef;
  /** [N, T, C] uint8 multi-hot; an all-zero row is background. */
  segmentLabels: ArrayRef;
  /** Clip indices of each split: inline, or an [n] int32 .npy file. */
  splits: Record<string, number[] | ArrayRef>;
}

/** Shapes that must agree across the arrays of one dataset, whatever stores them. */
export interface DatasetShapes {
  numClips: number;
  segments: number;
  numClasses: number;
  modalities: Record<string, readonly number[]>;
  clipLabels: readonly number[];
  segmentLabels: readonly number[];
  modalitySegmentLabels: Record<string, readonly number[]>;
}

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks that every array's shape agrees with N, T and C; `where` prefixes the messages. */
export function checkDatasetShapes(shapes: DatasetShapes, where: string): void {
  const { numClips: n, segments: t, numClasses: c } = shapes;
  const modalityNames = Object.keys(shapes.modalities);
  if (modalityNames.length === 0) throw new InvalidInputError(`${where}: 'modalities' is empty`);
  for (const [name, shape] of Object.entries(shapes.modalities)) {
    if (shape.length < 3 || shape[0] !== n || shape[1] !== t) {
      throw new InvalidInputError(
        `${where}: 'modalities.${name}.shape' is ${shapeText(shape)}, expected [${n}, ${t}, ...features] (N=${n} clips, T=${t} segments)`,
      );
    }
  }
  if (!sameShape(shapes.clipLabels, [n])) {
    throw new InvalidInputError(`${where}: 'clipLabels.shape' is ${shapeText(shapes.clipLabels)}, expected [${n}]`);
  }
  const labelShape = [n, t, c];
  if (!sameShape(shapes.segmentLabels, labelShape)) {
    throw new InvalidInputError(
      `${where}: 'segmentLabels.shape' is ${shapeText(shapes.segmentLabels)}, expected ${shapeText(labelShape)} (N, T, classes)`,
    );
  }
  for (const [name, shape] of Object.entries(shapes.modalitySegmentLabels)) {
    if (!modalityNames.includes(name)) {
      throw new InvalidInputError(`${where}: segment labels given for unknown modality '${name}'`);
    }
    if (!sameShape(shape, labelShape)) {
      throw new InvalidInputError(
        `${where}: 'modalities.${name}.segmentLabels.shape' is ${shapeText(shape)}, expected ${shapeText(labelShape)}`,
      );
    }
  }
}

/** Validates parsed manifest JSON. `where` (the manifest path) prefixes every message. */
export function validateManifest(raw: unknown, where: string): DatasetManifest {
  const fail = fieldFailureIn(where, InvalidInputError);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const count = (v: unknown, field: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      fail(field, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const arrayRef = (v: unknown, field: string): ArrayRef => {
    if (!isObject(v)) return fail(field, 'must be an object {file, shape, dtype}');
    const { file, shape, dtype } = v;
    if (typeof file !== 'string' || file.length === 0) fail(`${field}.file`, 'must be a non-empty relative path');
    const normalized = path.normalize(file as string);
    if (path.isAbsolute(normalized) || normalized.startsWith('..')) {
      fail(`${field}.file`, `must stay inside the dataset directory, got '${file}'`);
    }
    if (!Array.isArray(shape) || shape.length === 0) fail(`${field}.shape`, 'must be a non-empty array of integers');
    (shape as unknown[]).forEach((d, i) => count(d, `${field}.shape[${i}]`, 0));
    if (typeof dtype !== 'string' || !(MANIFEST_DTYPES as readonly string[]).includes(dtype)) {
      fail(`${field}.dtype`, `must be one of ${MANIFEST_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
    }
    return { file: file as string, shape: shape as number[], dtype: dtype as ManifestDtype };
  };
  const requireDtype = (ref: ArrayRef, field: string, allowed: readonly ManifestDtype[]) => {
    if (!allowed.includes(ref.dtype)) fail(`${field}.dtype`, `must be ${allowed.join(' or ')}, got '${ref.dtype}'`);
  };

  if (!isObject(raw)) throw new InvalidInputError(`${where}: the manifest must be a JSON object`);
  if (raw.format !== FORMAT_ID) fail('format', `must be '${FORMAT_ID}', got ${JSON.stringify(raw.format)}`);
  if (raw.version !== FORMAT_VERSION) fail('version', `must be ${FORMAT_VERSION}, got ${JSON.stringify(raw.version)}`);
  if (typeof raw.name !== 'string') fail('name', 'must be a string');
  const numClips = count(raw.numClips, 'numClips', 0);
  const segments = count(raw.segments, 'segments', 1);
  if (!Array.isArray(raw.classes) || raw.classes.length === 0 || !raw.classes.every((c) => typeof c === 'string')) {
    fail('classes', 'must be a non-empty array of class names');
  }
  const classes = raw.classes as string[];
  if (new Set(classes).size !== classes.length) fail('classes', 'has duplicate names');

  if (!isObject(raw.modalities)) return fail('modalities', 'must be an object mapping modality names to arrays');
  const modalities: Record<string, ModalityEntry> = {};
  for (const [name, entry] of Object.entries(raw.modalities)) {
    if (!NAME_PATTERN.test(name)) fail(`modalities.${name}`, 'is not a valid modality name (letters, digits, _ and -)');
    const ref: ModalityEntry = arrayRef(entry, `modalities.${name}`);
    requireDtype(ref, `modalities.${name}`, ['float32', 'float16']);
    const labels = (entry as Record<string, unknown>).segmentLabels;
    if (labels !== undefined) {
      ref.segmentLabels = arrayRef(labels, `modalities.${name}.segmentLabels`);
      requireDtype(ref.segmentLabels, `modalities.${name}.segmentLabels`, ['uint8']);
    }
    modalities[name] = ref;
  }
  const clipLabels = arrayRef(raw.clipLabels, 'clipLabels');
  requireDtype(clipLabels, 'clipLabels', ['int32']);
  const segmentLabels = arrayRef(raw.segmentLabels, 'segmentLabels');
  requireDtype(segmentLabels, 'segmentLabels', ['uint8']);

  if (!isObject(raw.splits)) return fail('splits', 'must be an object mapping split names to clip indices');
  const splits: Record<string, number[] | ArrayRef> = {};
  for (const [name, value] of Object.entries(raw.splits)) {
    if (!NAME_PATTERN.test(name)) fail(`splits.${name}`, 'is not a valid split name');
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        const index = count(v, `splits.${name}[${i}]`, 0);
        if (index >= numClips) fail(`splits.${name}[${i}]`, `is ${index}, outside [0, ${numClips})`);
      });
      splits[name] = value as number[];
    } else {
      const ref = arrayRef(value, `splits.${name}`);
      requireDtype(ref, `splits.${name}`, ['int32']);
      if (ref.shape.length !== 1) fail(`splits.${name}.shape`, `must be 1-d, got ${shapeText(ref.shape)}`);
      splits[name] = ref;
    }
  }

  const modalitySegmentLabels: Record<string, number[]> = {};
  for (const [name, entry] of Object.entries(modalities)) {
    if (entry.segmentLabels) modalitySegmentLabels[name] = entry.segmentLabels.shape;
  }
  checkDatasetShapes(
    {
      numClips,
      segments,
      numClasses: classes.length,
      modalities: Object.fromEntries(Object.entries(modalities).map(([k, v]) => [k, v.shape])),
      clipLabels: clipLabels.shape,
      segmentLabels: segmentLabels.shape,
      modalitySegmentLabels,
    },
    where,
  );
  return {
    format: FORMAT_ID,
    version: FORMAT_VERSION,
    name: raw.name as string,
    numClips,
    segments,
    classes,
    modalities,
    clipLabels,
    segmentLabels,
    splits,
  };
}
