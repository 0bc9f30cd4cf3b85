// The dead-code reset clock scaled to a run's length (docs/algorithm.md §3.5). The thresholds count
// steps; the published run is about 3,000 steps with a code dead after 300 unused steps and active
// below 100, so a run of S steps gets the same fractions of its length.
import { MM_EMA_DEFAULTS } from '../ops/defaults.js';

/** Length in steps of the published pretraining run the default thresholds were chosen for. */
export const PUBLISHED_RUN_STEPS = 3000;
/** Smallest scaled thresholds: both stay positive and deadAfter stays above activeBelow. */
const MIN_DEAD_AFTER = 3;
const MIN_ACTIVE_BELOW = 1;

export interface ResetClock {
  deadAfter: number;
  activeBelow: number;
}

/**
 * deadAfter = max(3, round(300 S / 3000)) and activeBelow = max(1, round(100 S / 3000)) for a run of
 * `plannedSteps` S (halves round up): 300 and 100 at 3,000 steps, 24 and 8 at 240.
 */
export function scaledResetClock(plannedSteps: number): ResetClock {
  if (!Number.isSafeInteger(plannedSteps) || plannedSteps < 1) {
    throw new RangeError(`scaledResetClock: plannedSteps must be a positive integer, got ${String(plannedSteps)}`);
  }
  const scale = (published: number) => Math.round((published * plannedSteps) / PUBLISHED_RUN_STEPS);
  return {
    deadAfter: Math.max(MIN_DEAD_AFTER, scale(MM_EMA_DEFAULTS.deadAfter)),
    activeBelow: Math.max(MIN_ACTIVE_BELOW, scale(MM_EMA_DEFAULTS.activeBelow)),
  };
}
