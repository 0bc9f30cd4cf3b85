import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multiLabelScores, recallAtK, top1Accuracy } from '../src/downstream/metrics.js';

test('top-1 accuracy on a hand-computed case, ties going to the lower class', () => {
  // 4 samples x 3 classes. Argmaxes: 2, 0 (tie 0/1), 1, 0 (all tied).
  const scores = [0.1, 0.2, 0.7, 0.5, 0.5, 0.0, 0.3, 0.4, 0.3, 1, 1, 1];
  assert.equal(top1Accuracy(scores, [2, 0, 1, 0], 3), 1);
  assert.equal(top1Accuracy(scores, [2, 1, 1, 2], 3), 0.5); // the ties do not count for 1 or 2
  assert.equal(top1Accuracy(scores, [0, 2, 0, 1], 3), 0);
  assert.throws(() => top1Accuracy(scores, [0, 1], 3), /12 scores for 2 labels/);
});

test('multi-label precision at 0.5, recall and F1 on a hand-computed case', () => {
  // 2 segments x 3 labels.
  const probabilities = [0.9, 0.6, 0.1, 0.5, 0.8, 0.2];
  const targets = [1, 0, 0, 1, 1, 1];
  // Predicted positive (> 0.5, strictly): entries 0, 1, 4 -> 3. True positives: 0, 4 -> 2. Actual: 4.
  const { precision, recall, f1 } = multiLabelScores(probabilities, targets);
  assert.equal(precision, 2 / 3);
  assert.equal(recall, 2 / 4);
  assert.ok(Math.abs(f1 - (2 * (2 / 3) * 0.5) / (2 / 3 + 0.5)) < 1e-15); // 4/7
  assert.ok(Math.abs(f1 - 4 / 7) < 1e-15);
  // A lower threshold turns 0.5 into a positive: 4 predicted, 3 correct.
  assert.deepEqual(multiLabelScores(probabilities, targets, 0.4), { precision: 3 / 4, recall: 3 / 4, f1: 3 / 4 });
  // Nothing predicted: precision 0 (as published), F1 0.
  assert.deepEqual(multiLabelScores([0.1, 0.2], [1, 0]), { precision: 0, recall: 0, f1: 0 });
  assert.throws(() => multiLabelScores([0.1], [1, 0]), /1 probabilities for 2 targets/);
});

test('recall@k on a hand-computed similarity matrix, ties broken by gallery index', () => {
  // 3 queries x 4 gallery items; query q's match is gallery q.
  const similarity = [
    0.9,
    0.1,
    0.2,
    0.3, // match ranked 1st
    0.8,
    0.5,
    0.7,
    0.5, // match (0.5) beaten by 0.8 and 0.7; tie with item 3 at a higher index: rank 2
    0.4,
    0.4,
    0.4,
    0.9, // match tied with items 0 and 1 at lower indices and beaten by 0.9: rank 3
  ];
  const recall = recallAtK(similarity, [0, 1, 2], 4, [1, 2, 3, 4]);
  assert.deepEqual(recall, { 1: 1 / 3, 2: 1 / 3, 3: 2 / 3, 4: 1 });
  assert.throws(() => recallAtK(similarity, [0, 1, 4], 4, [1]), /target 4 of query 2/);
  assert.throws(() => recallAtK(similarity, [0, 1], 4, [1]), /12 similarities for 2 queries/);
});
