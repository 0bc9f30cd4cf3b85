// How paired training data reaches the trainer, and the checks every batch passes before any
// weight changes. A batch maps each modality to its features [B, T, ...] (Float32Array in
// row-major order, or a float32 tf.Tensor); every modality of the model must be present.
import type { ModelConfig, Modality } from '../model/config.js';
import { MODALITY_ORDER, inputShapeOf, modalitiesOf } from '../model/config.js';
import { tf } from '../tfjs.js';

export type FeatureInput = Float32Array | tf.Tensor;
export type PairedBatch = Partial<Record<Modality, FeatureInput>>;

/**
 * A re-iterable source of paired batches. `epoch(e)` yields the batches of epoch e in order; for an
 * exact resume it must yield the same batches for the same e (shuffle with a seed derived from e).
 * Nothing here assumes one process: a data-parallel worker yields its own shard.
 */
export interface PairedBatchSource {
  epoch(index: number): Iterable<PairedBatch> | AsyncIterable<PairedBatch>;
  /** Batches per epoch, when known (progress bar and ETA). */
  readonly batchesPerEpoch?: number;
}

/** Accepts a PairedBatchSource, or a plain (re-iterable) iterable of batches replayed every epoch. */
export function toBatchSource(
  data: PairedBatchSource | Iterable<PairedBatch> | AsyncIterable<PairedBatch>,
): PairedBatchSource {
  if (data !== null && typeof data === 'object' && typeof (data as PairedBatchSource).epoch === 'function')
    return data as PairedBatchSource;
  if (data !== null && typeof data === 'object' && (Symbol.iterator in data || Symbol.asyncIterator in data)) {
    const iterable = data as Iterable<PairedBatch> | AsyncIterable<PairedBatch>;
    return { epoch: () => iterable, ...(Array.isArray(data) ? { batchesPerEpoch: data.length } : {}) };
  }
  throw new TypeError('data must be a PairedBatchSource ({ epoch(index) }) or an iterable of batches');
}

/** A validated batch as tensors in the model's modality order; dispose() frees what was created here. */
export interface ModelBatch {
  size: number;
  modalities: Modality[];
  features: tf.Tensor[];
  dispose(): void;
}

/**
 * Checks a batch against the config (modalities present, shapes, finite values) and converts it
 * to tensors. Throws an Error naming the modality and the problem; creates nothing on failure.
 */
export function prepareBatch(config: ModelConfig, batch: unknown): ModelBatch {
  if (batch === null || typeof batch !== 'object' || Array.isArray(batch)) {
    throw new TypeError(
      `batch must be an object { ${modalitiesOf(config.modalities).join(', ')} } of features, got ${batch === null ? 'null' : typeof batch}`,
    );
  }
  for (const key of Object.keys(batch)) {
    if (!(MODALITY_ORDER as readonly string[]).includes(key))
      throw new Error(`batch.${key} is not a modality (expected ${MODALITY_ORDER.join(', ')})`);
  }
  const modalities = modalitiesOf(config.modalities);
  const record = batch as PairedBatch;
  let size = -1;
  const checked = modalities.map((m) => {
    const value = record[m];
    if (value === undefined)
      throw new Error(`batch.${m} is missing: this ${config.modalities} model needs ${modalities.join(', ')}`);
    const perClip = [config.segments, ...inputShapeOf(config, m)];
    const perClipSize = perClip.reduce((a, b) => a * b, 1);
    let b: number;
    let data: Float32Array;
    if (value instanceof tf.Tensor) {
      if (value.isDisposed) throw new Error(`batch.${m} has been disposed`);
      if (value.dtype !== 'float32') throw new TypeError(`batch.${m} must be float32, got ${value.dtype}`);
      const rest = value.shape.slice(1);
      if (value.rank !== perClip.length + 1 || rest.some((v, i) => v !== perClip[i])) {
        throw new RangeError(`batch.${m} must have shape [B, ${perClip.join(', ')}], got [${value.shape.join(', ')}]`);
      }
      b = value.shape[0];
      data = value.dataSync() as Float32Array;
    } else if (value instanceof Float32Array) {
      if (value.length === 0 || value.length % perClipSize !== 0) {
        throw new RangeError(
          `batch.${m} has ${value.length} values, not a positive multiple of ${perClip.join('*')} = ${perClipSize} (shape [B, ${perClip.join(', ')}])`,
        );
      }
      b = value.length / perClipSize;
      data = value;
    } else {
      throw new TypeError(`batch.${m} must be a Float32Array or a float32 tf.Tensor [B, ${perClip.join(', ')}]`);
    }
    if (b < 1) throw new RangeError(`batch.${m} is empty (B = 0)`);
    if (size !== -1 && b !== size)
      throw new RangeError(`batch.${m} has B = ${b} clips but batch.${modalities[0]} has ${size}`);
    size = b;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]))
        throw new RangeError(`batch.${m} holds a non-finite value (${data[i]}) at flat index ${i}`);
    }
    return { value, shape: [b, ...perClip] };
  });
  const created: tf.Tensor[] = [];
  const features = checked.map(({ value, shape }) => {
    if (value instanceof tf.Tensor) return value;
    const t = tf.tensor(value, shape, 'float32');
    created.push(t);
    return t;
  });
  return { size, modalities, features, dispose: () => created.forEach((t) => t.dispose()) };
}
