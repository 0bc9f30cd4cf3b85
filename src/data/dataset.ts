// The reader API every dataset shares, whatever stores it (our .npy directory, AVE HDF5, VGGSound-AVEL
// zips, or memory): paired per-clip features of K modalities, clip labels, per-segment labels, splits.
// The base class validates arguments once, so each store only implements the raw reads.
import { checkDatasetShapes } from './manifest.js';
import { InvalidInputError } from './errors.js';

/**
 * Datasets whose features (as float32) fit in this many bytes are scanned for NaN and Inf when they
 * are opened; larger ones are checked as their rows are read (every read is checked either way).
 */
export const FINITE_SCAN_AT_OPEN_BYTES = 512 * 2 ** 20;

export abstract class ClipDataset {
  abstract readonly name: string;
  abstract readonly numClips: number;
  /** Segments per clip, T. */
  abstract readonly segments: number;
  /** Event class names (background is not a class). */
  abstract readonly classes: readonly string[];
  abstract readonly modalities: readonly string[];
  abstract readonly splitNames: readonly string[];

  /** Per-clip feature shape [T, ...]: the array shape without N. */
  protected abstract clipShape(modality: string): readonly number[];
  protected abstract readFeaturesUnchecked(modality: string, clips: Int32Array): Float32Array;
  protected abstract readClipLabelsUnchecked(clips: Int32Array): Int32Array;
  /** `modality` is set only when that modality has labels of its own. */
  protected abstract readSegmentLabelsUnchecked(clips: Int32Array, modality: string | undefined): Uint8Array;
  protected abstract modalityHasOwnLabels(modality: string): boolean;
  protected abstract splitUnchecked(split: string): Int32Array;

  /** The file holding the features of one clip of `modality`, for messages; stores without files leave it out. */
  protected featureFile?(modality: string, clip: number): string;

  /** Releases files held open; reads fail afterwards. */
  close(): void {}

  requireModality(modality: string): void {
    if (!this.modalities.includes(modality)) {
      throw new InvalidInputError(
        `unknown modality '${modality}' for dataset '${this.name}' (it has ${this.modalities.join(', ')})`,
      );
    }
  }

  /** Per-clip feature shape [T, ...]. */
  featureShape(modality: string): number[] {
    this.requireModality(modality);
    return [...this.clipShape(modality)];
  }

  /** Elements of one clip of `modality` (the product of featureShape). */
  clipElements(modality: string): number {
    return this.featureShape(modality).reduce((a, b) => a * b, 1);
  }

  private clipIndices(clips: ArrayLike<number>): Int32Array {
    const out = new Int32Array(clips.length);
    for (let i = 0; i < clips.length; i++) {
      const c = clips[i];
      if (!Number.isInteger(c) || c < 0 || c >= this.numClips) {
        throw new InvalidInputError(`clip index ${c} is outside [0, ${this.numClips}) for dataset '${this.name}'`);
      }
      out[i] = c;
    }
    return out;
  }

  /** Features of `clips`, [clips.length, ...featureShape], float32; a NaN or Inf among them is an error saying where. */
  readFeatures(modality: string, clips: ArrayLike<number>): Float32Array {
    this.requireModality(modality);
    const indices = this.clipIndices(clips);
    const values = this.readFeaturesUnchecked(modality, indices);
    this.requireFinite(modality, indices, values);
    return values;
  }

  private requireFinite(modality: string, clips: Int32Array, values: Float32Array): void {
    for (let i = 0; i < values.length; i++) {
      if (Number.isFinite(values[i])) continue;
      const shape = this.clipShape(modality);
      const perClip = values.length / clips.length;
      const perSegment = perClip / shape[0];
      const clip = clips[Math.floor(i / perClip)];
      const offset = i % perClip;
      const source = this.featureFile?.(modality, clip) ?? `dataset '${this.name}'`;
      throw new InvalidInputError(
        `${source}: clip ${clip} of modality '${modality}' holds ${values[i]} ` +
          `(segment ${Math.floor(offset / perSegment)}, element ${offset % perSegment}); features must be finite`,
      );
    }
  }

  /**
   * Reads every clip of every modality, `chunkClips` at a time, so that a NaN or Inf is reported now
   * rather than in the middle of a run.
   */
  checkFinite(chunkClips = 256): void {
    for (const modality of this.modalities) {
      for (let start = 0; start < this.numClips; start += chunkClips) {
        const count = Math.min(chunkClips, this.numClips - start);
        this.readFeatures(
          modality,
          Int32Array.from({ length: count }, (_, i) => start + i),
        );
      }
    }
  }

  /** checkFinite() when the features fit FINITE_SCAN_AT_OPEN_BYTES; larger datasets are checked as they are read. */
  checkFiniteIfSmall(): void {
    const bytes = this.modalities.reduce((sum, m) => sum + this.numClips * this.clipElements(m) * 4, 0);
    if (bytes <= FINITE_SCAN_AT_OPEN_BYTES) this.checkFinite();
  }

  /** Event class of each clip, [clips.length]. */
  readClipLabels(clips: ArrayLike<number>): Int32Array {
    return this.readClipLabelsUnchecked(this.clipIndices(clips));
  }

  /**
   * Multi-hot event labels per segment, [clips.length, T, C]. With `modality`, that modality's own
   * labels when the dataset has them (events can be missing from one modality), else the shared ones.
   */
  readSegmentLabels(clips: ArrayLike<number>, modality?: string): Uint8Array {
    if (modality !== undefined) this.requireModality(modality);
    const own = modality !== undefined && this.modalityHasOwnLabels(modality) ? modality : undefined;
    return this.readSegmentLabelsUnchecked(this.clipIndices(clips), own);
  }

  /** True when `modality` has segment labels of its own rather than only the shared ones. */
  hasOwnSegmentLabels(modality: string): boolean {
    this.requireModality(modality);
    return this.modalityHasOwnLabels(modality);
  }

  /** Clip indices of a split. */
  split(name: string): Int32Array {
    if (!this.splitNames.includes(name)) {
      throw new InvalidInputError(
        `unknown split '${name}' for dataset '${this.name}' (it has ${this.splitNames.join(', ')})`,
      );
    }
    return this.splitUnchecked(name).slice();
  }
}

function gatherRows<T extends Float32Array | Int32Array | Uint8Array>(
  source: T,
  rowSize: number,
  clips: Int32Array,
): T {
  const out = new (source.constructor as new (n: number) => T)(clips.length * rowSize);
  for (let i = 0; i < clips.length; i++) {
    out.set(source.subarray(clips[i] * rowSize, (clips[i] + 1) * rowSize), i * rowSize);
  }
  return out;
}

export interface InMemoryDatasetInit {
  name: string;
  classes: string[];
  /** Row-major features [N, T, ...] per modality. */
  modalities: Record<string, { data: Float32Array; shape: number[] }>;
  clipLabels: Int32Array;
  /** [N, T, C] */
  segmentLabels: Uint8Array;
  /** Optional per-modality [N, T, C] labels. */
  modalitySegmentLabels?: Record<string, Uint8Array>;
  splits: Record<string, Int32Array>;
}

/** A dataset held in memory: what the synthetic generator produces and tests build by hand. */
export class InMemoryDataset extends ClipDataset {
  readonly name: string;
  readonly numClips: number;
  readonly segments: number;
  readonly classes: readonly string[];
  readonly modalities: readonly string[];
  readonly splitNames: readonly string[];
  private readonly init: InMemoryDatasetInit;

  constructor(init: InMemoryDatasetInit) {
    super();
    const where = `dataset '${init.name}'`;
    const names = Object.keys(init.modalities);
    if (names.length === 0) throw new InvalidInputError(`${where}: no modalities`);
    const first = init.modalities[names[0]].shape;
    const [numClips, segments] = first;
    const c = init.classes.length;
    const labelShape = (data: Uint8Array) =>
      data.length === numClips * segments * c ? [numClips, segments, c] : [data.length];
    checkDatasetShapes(
      {
        numClips,
        segments,
        numClasses: c,
        modalities: Object.fromEntries(names.map((m) => [m, init.modalities[m].shape])),
        clipLabels: [init.clipLabels.length],
        segmentLabels: labelShape(init.segmentLabels),
        modalitySegmentLabels: Object.fromEntries(
          Object.entries(init.modalitySegmentLabels ?? {}).map(([m, d]) => [m, labelShape(d)]),
        ),
      },
      where,
    );
    for (const m of names) {
      const { data, shape } = init.modalities[m];
      const size = shape.reduce((a, b) => a * b, 1);
      if (data.length !== size) {
        throw new InvalidInputError(
          `${where}: modality '${m}' holds ${data.length} values, shape [${shape.join(', ')}] needs ${size}`,
        );
      }
    }
    init.clipLabels.forEach((label, i) => {
      if (label < 0 || label >= c)
        throw new InvalidInputError(`${where}: clip ${i} has label ${label}, outside [0, ${c})`);
    });
    for (const [split, indices] of Object.entries(init.splits)) {
      indices.forEach((index) => {
        if (index < 0 || index >= numClips) {
          throw new InvalidInputError(`${where}: split '${split}' holds clip ${index}, outside [0, ${numClips})`);
        }
      });
    }
    this.init = init;
    this.name = init.name;
    this.numClips = numClips;
    this.segments = segments;
    this.classes = [...init.classes];
    this.modalities = names;
    this.splitNames = Object.keys(init.splits);
    this.checkFinite();
  }

  protected clipShape(modality: string): readonly number[] {
    return this.init.modalities[modality].shape.slice(1);
  }

  protected readFeaturesUnchecked(modality: string, clips: Int32Array): Float32Array {
    return gatherRows(this.init.modalities[modality].data, this.clipElements(modality), clips);
  }

  protected readClipLabelsUnchecked(clips: Int32Array): Int32Array {
    return gatherRows(this.init.clipLabels, 1, clips);
  }

  protected modalityHasOwnLabels(modality: string): boolean {
    return this.init.modalitySegmentLabels?.[modality] !== undefined;
  }

  protected readSegmentLabelsUnchecked(clips: Int32Array, modality: string | undefined): Uint8Array {
    const source = modality === undefined ? this.init.segmentLabels : this.init.modalitySegmentLabels![modality];
    return gatherRows(source, this.segments * this.classes.length, clips);
  }

  protected splitUnchecked(split: string): Int32Array {
    return this.init.splits[split];
  }
}
