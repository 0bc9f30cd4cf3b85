// The reset clock scaled to the run length: the published thresholds at the published length,
// proportional elsewhere, halves rounded up, never below the documented minimums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scaledResetClock } from '../src/train/resetClock.js';

test('the published 300 / 100 at 3,000 steps, the same fractions of any other length', () => {
  assert.deepEqual(scaledResetClock(3000), { deadAfter: 300, activeBelow: 100 });
  assert.deepEqual(scaledResetClock(240), { deadAfter: 24, activeBelow: 8 });
  assert.deepEqual(scaledResetClock(480), { deadAfter: 48, activeBelow: 16 });
  assert.deepEqual(scaledResetClock(2000), { deadAfter: 200, activeBelow: 67 });
  assert.deepEqual(scaledResetClock(6000), { deadAfter: 600, activeBelow: 200 });
});

test('halves round up; short runs stop at deadAfter 3 and activeBelow 1', () => {
  // 45 steps: 4.5 and 1.5 exactly.
  assert.deepEqual(scaledResetClock(45), { deadAfter: 5, activeBelow: 2 });
  // 44 steps: 4.4 and 1.47.
  assert.deepEqual(scaledResetClock(44), { deadAfter: 4, activeBelow: 1 });
  assert.deepEqual(scaledResetClock(20), { deadAfter: 3, activeBelow: 1 });
  assert.deepEqual(scaledResetClock(1), { deadAfter: 3, activeBelow: 1 });
});

test('a run length that is not a positive integer is refused, naming it', () => {
  for (const bad of [0, -5, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => scaledResetClock(bad), /scaledResetClock: plannedSteps must be a positive integer/);
  }
});
