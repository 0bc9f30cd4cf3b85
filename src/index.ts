// The public API of unicode-cmg.
export { initTfjs, tf } from './tfjs.js';
export type { TfjsKind } from './tfjs.js';
export { backendInfo, resolveBackend, availableBackends, OP_BACKENDS } from './backend.js';
export type { OpBackend, BackendInfo } from './backend.js';
export * from './ops/index.js';
export { enableNativeDense, disableNativeDense, nativeDenseStatus } from './dense/index.js';

export {
  makeConfig,
  validateConfig,
  modalitiesOf,
  inputShapeOf,
  MODALITY_ORDER,
  NAMED_CONFIGS,
} from './model/config.js';
export type { Modality, ModalitySet, ModelConfig, ConfigOverrides, ConfigName } from './model/config.js';
export { UniCodeModel } from './model/uniCode.js';
export type { UniCodeModelOptions } from './model/uniCode.js';
export { SharedCodebook } from './model/sharedCodebook.js';
export type {
  AllReduce,
  SharedCodebookOptions,
  CodebookForward,
  CodebookUpdateReport,
} from './model/sharedCodebook.js';

export { Trainer, DEFAULT_HYPERPARAMETERS } from './train/trainer.js';
export type { TrainerOptions, TrainOptions, StepMetrics, TrainSummary } from './train/trainer.js';
export * from './distributed/index.js';
export { toBatchSource } from './train/pairedBatchSource.js';
export type { PairedBatchSource, PairedBatch, FeatureInput } from './train/pairedBatchSource.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';

export { ClipDataset, InMemoryDataset } from './data/dataset.js';
export { openDataset, writeDataset } from './data/directory.js';
export { iterateBatches } from './data/batches.js';
export { generateSynthetic, syntheticConfig } from './data/synthetic.js';
export { openAveDataset } from './data/ave.js';
export { openVggsoundAvelDataset } from './data/vggsound.js';

export {
  crossModalClassify,
  crossModalLocalize,
  crossModalRetrieve,
  crossDatasetTransfer,
} from './downstream/tasks.js';
export { tensorEncoder } from './downstream/encoder.js';
export type { FrozenEncoder, NamedEncoder } from './downstream/encoder.js';
export { tocChannels, tocScores, selectChannels } from './downstream/toc.js';
export type { CodebookMatrix } from './downstream/toc.js';
