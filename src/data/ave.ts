// The AVE dataset as its users have it: HDF5 files read through h5wasm, with rows sliced from the
// host file on demand (h5wasm's Node build reads the host filesystem directly).
//   audio_feature.h5   'avadataset' [N, T, 128]
//   visual_feature.h5  'avadataset' [N, T, 7, 7, 512]
//   labels.h5          'avadataset' [N, T, C+1], one-hot per segment, background last
//   {train,val,test}_order.h5  'order' [n] clip indices
import * as fs from 'node:fs';
import * as path from 'node:path';
import h5wasm from 'h5wasm/node';
import { ClipDataset } from './dataset.js';
import { InvalidInputError } from './errors.js';
import { openInputFile, readExactly } from './files.js';

export const AVE_FEATURE_FILES: Readonly<Record<string, string>> = {
  audio: 'audio_feature.h5',
  video: 'visual_feature.h5',
};
export const AVE_LABEL_FILE = 'labels.h5';
export const AVE_SPLIT_FILES: Readonly<Record<string, string>> = {
  train: 'train_order.h5',
  val: 'val_order.h5',
  test: 'test_order.h5',
};
export const AVE_DATA_KEY = 'avadataset';
export const AVE_ORDER_KEY = 'order';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

type H5File = InstanceType<typeof h5wasm.File>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

/** True when the file carries the HDF5 signature at 0 or at a user-block offset (512, 1024, ...). */
function hasHdf5Signature(file: string): boolean {
  const { fd, size } = openInputFile(file);
  try {
    const probe = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      readExactly(fd, file, probe, 0, 8, offset);
      if (probe.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** Opens an HDF5 file read-only; checked first, because h5wasm reports failures only on stderr. */
function openH5(file: string): H5File {
  if (!fs.existsSync(file)) throw new InvalidInputError(`${file}: missing HDF5 file`);
  if (!hasHdf5Signature(file)) throw new InvalidInputError(`${file}: not an HDF5 file`);
  const handle = new h5wasm.File(file, 'r');
  if (handle.file_id < 0n) throw new InvalidInputError(`${file}: HDF5 file could not be opened`);
  return handle;
}

function getDataset(handle: H5File, key: string): H5Dataset {
  const entity = handle.get(key);
  if (!(entity instanceof h5wasm.Dataset)) {
    throw new InvalidInputError(`${handle.filename}: has no dataset '${key}' (keys: ${handle.keys().join(', ')})`);
  }
  return entity;
}

/** Converts whatever typed array h5wasm returned to float32. */
function toFloat32(values: unknown, where: string): Float32Array {
  if (values instanceof Float32Array) return values;
  if (
    ArrayBuffer.isView(values) &&
    !(values instanceof DataView) &&
    !(values instanceof BigInt64Array) &&
    !(values instanceof BigUint64Array)
  ) {
    return Float32Array.from(values as unknown as ArrayLike<number>);
  }
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) return Float32Array.from(values, Number);
  throw new InvalidInputError(`${where}: not a numeric array`);
}

export interface AveOptions {
  /** Names of the C event classes, in label order; default class_0 ... class_{C-1}. */
  classes?: string[];
  name?: string;
}

class AveDataset extends ClipDataset {
  readonly name: string;
  readonly numClips: number;
  readonly segments: number;
  readonly classes: readonly string[];
  readonly modalities: readonly string[];
  readonly splitNames: readonly string[];

  constructor(
    name: string,
    classes: string[],
    private readonly files: H5File[],
    private readonly features: Map<string, H5Dataset>,
    private readonly featurePaths: Map<string, string>,
    private readonly shapes: Map<string, number[]>,
    private readonly clipLabels: Int32Array,
    private readonly segmentLabels: Uint8Array,
    private readonly splits: Map<string, Int32Array>,
  ) {
    super();
    this.name = name;
    this.classes = classes;
    this.numClips = clipLabels.length;
    this.segments = shapes.values().next().value![1];
    this.modalities = [...features.keys()];
    this.splitNames = [...splits.keys()];
  }

  protected clipShape(modality: string): readonly number[] {
    return this.shapes.get(modality)!.slice(1);
  }

  protected featureFile(modality: string): string {
    return this.featurePaths.get(modality)!;
  }

  protected readFeaturesUnchecked(modality: string, clips: Int32Array): Float32Array {
    const source = this.features.get(modality)!;
    const size = this.clipElements(modality);
    const out = new Float32Array(clips.length * size);
    let i = 0;
    while (i < clips.length) {
      let run = 1;
      while (i + run < clips.length && clips[i + run] === clips[i] + run) run++;
      const rows = toFloat32(source.slice([[clips[i], clips[i] + run]]), `${source.path} in ${modality}`);
      out.set(rows, i * size);
      i += run;
    }
    return out;
  }

  protected readClipLabelsUnchecked(clips: Int32Array): Int32Array {
    return Int32Array.from(clips, (c) => this.clipLabels[c]);
  }

  protected modalityHasOwnLabels(): boolean {
    return false;
  }

  protected readSegmentLabelsUnchecked(clips: Int32Array): Uint8Array {
    const size = this.segments * this.classes.length;
    const out = new Uint8Array(clips.length * size);
    clips.forEach((c, i) => out.set(this.segmentLabels.subarray(c * size, (c + 1) * size), i * size));
    return out;
  }

  protected splitUnchecked(split: string): Int32Array {
    return this.splits.get(split)!;
  }

  close(): void {
    for (const f of this.files) f.close();
    this.files.length = 0;
  }
}

/**
 * Opens an AVE-style directory. Labels and split orders are read whole (they are small); feature
 * rows are sliced from the HDF5 files per read. The clip label is the foreground class present in
 * the most segments (AVE clips hold one event class).
 */
export async function openAveDataset(dir: string, options: AveOptions = {}): Promise<ClipDataset> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new InvalidInputError(`${dir}: AVE directory does not exist`);
  await h5wasm.ready;
  const files: H5File[] = [];
  const open = (name: string) => {
    const handle = openH5(path.join(dir, name));
    files.push(handle);
    return handle;
  };
  try {
    const labelFile = path.join(dir, AVE_LABEL_FILE);
    const labelSet = getDataset(open(AVE_LABEL_FILE), AVE_DATA_KEY);
    const labelShape = labelSet.shape ?? [];
    if (labelShape.length !== 3 || labelShape[2] < 2) {
      throw new InvalidInputError(
        `${labelFile}: '${AVE_DATA_KEY}' has shape [${labelShape.join(', ')}], expected [N, T, C+1]`,
      );
    }
    const [n, t, width] = labelShape;
    const numClasses = width - 1;
    const classes = options.classes ?? Array.from({ length: numClasses }, (_, c) => `class_${c}`);
    if (classes.length !== numClasses) {
      throw new InvalidInputError(
        `openAveDataset: 'classes' names ${classes.length} classes, ${labelFile} has ${numClasses} (+ background)`,
      );
    }
    const raw = toFloat32(labelSet.value, labelFile);
    const segmentLabels = new Uint8Array(n * t * numClasses);
    const clipLabels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const counts = new Int32Array(numClasses);
      for (let s = 0; s < t; s++) {
        for (let c = 0; c < numClasses; c++) {
          if (raw[(i * t + s) * width + c] > 0.5) {
            segmentLabels[(i * t + s) * numClasses + c] = 1;
            counts[c]++;
          }
        }
      }
      let best = 0;
      for (let c = 1; c < numClasses; c++) if (counts[c] > counts[best]) best = c;
      if (counts[best] === 0)
        throw new InvalidInputError(`${labelFile}: clip ${i} has no event segment, so no clip label`);
      clipLabels[i] = best;
    }

    const features = new Map<string, H5Dataset>();
    const featurePaths = new Map<string, string>();
    const shapes = new Map<string, number[]>();
    for (const [modality, fileName] of Object.entries(AVE_FEATURE_FILES)) {
      const set = getDataset(open(fileName), AVE_DATA_KEY);
      const shape = set.shape ?? [];
      if (shape.length < 3 || shape[0] !== n || shape[1] !== t) {
        throw new InvalidInputError(
          `${path.join(dir, fileName)}: '${AVE_DATA_KEY}' has shape [${shape.join(', ')}], expected [${n}, ${t}, ...] to match ${AVE_LABEL_FILE}`,
        );
      }
      features.set(modality, set);
      featurePaths.set(modality, path.join(dir, fileName));
      shapes.set(modality, shape);
    }

    const splits = new Map<string, Int32Array>();
    for (const [split, fileName] of Object.entries(AVE_SPLIT_FILES)) {
      if (!fs.existsSync(path.join(dir, fileName))) continue;
      const handle = open(fileName);
      const order = toFloat32(getDataset(handle, AVE_ORDER_KEY).value, path.join(dir, fileName));
      const indices = Int32Array.from(order);
      indices.forEach((index, k) => {
        if (index !== order[k] || index < 0 || index >= n) {
          throw new InvalidInputError(
            `${path.join(dir, fileName)}: '${AVE_ORDER_KEY}'[${k}] is ${order[k]}, not a clip index in [0, ${n})`,
          );
        }
      });
      splits.set(split, indices);
      handle.close();
      files.splice(files.indexOf(handle), 1);
    }
    if (splits.size === 0) {
      throw new InvalidInputError(`${dir}: no split order file (${Object.values(AVE_SPLIT_FILES).join(', ')})`);
    }
    const name = options.name ?? path.basename(path.resolve(dir));
    const dataset = new AveDataset(
      name,
      classes,
      files,
      features,
      featurePaths,
      shapes,
      clipLabels,
      segmentLabels,
      splits,
    );
    dataset.checkFiniteIfSmall();
    return dataset;
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
}
