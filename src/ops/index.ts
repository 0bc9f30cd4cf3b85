// The hot ops of Uni-Code (docs/algorithm.md §6), each on the cuda, cpu (native addon) or tfjs backend.
export { quantize, exactSquaredDistance, quantizeErrorBound } from './quantize.js';
export type { QuantizeOptions, QuantizeResult } from './quantize.js';
export { MM_EMA_DEFAULTS } from './defaults.js';
export type { MmEmaDefaults } from './defaults.js';
export { mmEmaStep, mmEmaStatistics, applyMmEmaStatistics, equalNum } from './mmEma.js';
export type {
  CodebookState,
  MmEmaOptions,
  MmEmaApplyOptions,
  MmEmaReport,
  MmEmaUpdateReport,
  MmEmaStatistics,
} from './mmEma.js';
export { codeMatchingLoss } from './codeMatching.js';
export type { CodeMatchingOptions } from './codeMatching.js';
export { infoNceLoss } from './infoNce.js';
export type { InfoNceOptions, InfoNceResult } from './infoNce.js';
export { resetRandom, resetNoise, fmix32 } from './resetRandom.js';
export type { OpBackend } from '../backend.js';
