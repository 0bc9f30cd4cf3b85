// AV-Fashion: a small real audio-visual-text dataset built from Fashion-MNIST images and espeak-ng
// speech (docs/av-fashion.md).
export {
  AV_FASHION_DEFAULTS,
  resolveAvFashionConfig,
  validateAvFashionConfig,
  type AvFashionConfig,
  type AvFashionOverrides,
} from './config.js';
export {
  PROVENANCE_FILE,
  buildAvFashion,
  missingAvFashionPackages,
  type BuildAvFashionOptions,
  type BuildAvFashionResult,
  type BuildProgress,
} from './builder.js';
export {
  DEFAULT_AV_FASHION_DIR,
  avFashionOptionsFromCli,
  describeAvFashionOptions,
  type AvFashionCliValues,
} from './cliOptions.js';
export type { ClipPlan, SegmentPlan } from './composer.js';
