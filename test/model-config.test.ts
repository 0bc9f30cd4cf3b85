// Named configs carry the published dimensions (docs/algorithm.md §2); overrides are validated with errors
// naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAPER_TEXT_FRONT, inputShapeOf, makeConfig, modalitiesOf } from '../src/model/config.js';

test('the paper config has exactly the published dimensions and every ablation switch on', () => {
  const c = makeConfig('paper');
  assert.equal(c.name, 'paper');
  assert.deepEqual(
    [
      c.modalities,
      c.segments,
      c.embeddingDim,
      c.codebookSize,
      c.audioDim,
      c.textDim,
      c.specificDim,
      c.clubHidden,
      c.cpcHidden,
      c.cpcLayers,
    ],
    ['AVT', 10, 256, 400, 128, 256, 256, 256, 256, 2],
  );
  assert.deepEqual(c.video, { height: 7, width: 7, channels: 512 });
  assert.deepEqual(c.transformer, { layers: 2, heads: 4, feedForward: 1024, dropout: 0.1 });
  assert.deepEqual(c.videoWidths, [1024, 2048]);
  assert.deepEqual([c.commitment, c.decay, c.epsilon, c.deadAfter, c.activeBelow], [0.25, 0.99, 1e-5, 300, 100]);
  assert.deepEqual(
    [c.useClub, c.useCpc, c.crossModalEma, c.useCmcm, c.resetDeadCodes, c.resetEma],
    [true, true, true, true, true, false],
  );
  assert.equal(c.textFront, null);
  assert.deepEqual(inputShapeOf(c, 'video'), [7, 7, 512]);
});

test('overrides change only the named fields, nested ones included, and the name shows it', () => {
  const c = makeConfig('small', { modalities: 'AV', video: { channels: 64 }, transformer: { feedForward: 96 } });
  const base = makeConfig('small');
  assert.equal(c.name, 'small*');
  assert.deepEqual(modalitiesOf(c.modalities), ['audio', 'video']);
  assert.deepEqual(c.video, { ...base.video, channels: 64 });
  assert.deepEqual(c.transformer, { ...base.transformer, feedForward: 96 });
  assert.equal(c.embeddingDim, base.embeddingDim);
  // The plain shared-VQ baseline: four switches off.
  const plain = makeConfig('small', { useClub: false, useCpc: false, crossModalEma: false, useCmcm: false });
  assert.deepEqual([plain.useClub, plain.useCpc, plain.crossModalEma, plain.useCmcm], [false, false, false, false]);
});

test('the BiLSTM text front takes 768-d input and feeds textDim = 2 x hidden', () => {
  const c = makeConfig('paper', { textFront: PAPER_TEXT_FRONT });
  assert.deepEqual(inputShapeOf(c, 'text'), [768]);
  assert.throws(
    () => makeConfig('small', { textFront: PAPER_TEXT_FRONT }),
    /textDim \(32\) must equal 2 \* textFront\.hidden \(256\)/,
  );
});

test('invalid configs are refused with an error naming the field', () => {
  const cases: [Parameters<typeof makeConfig>[1], RegExp][] = [
    [{ embeddingDim: 0 }, /config\.embeddingDim must be an integer >= 1, got 0/],
    [{ embeddingDim: 30 }, /config\.embeddingDim \(30\) must be divisible by config\.transformer\.heads \(4\)/],
    [{ segments: 2 }, /config\.segments must be an integer >= 3/],
    [{ modalities: 'AX' as never }, /config\.modalities must be one of AV, AT, VT, AVT, got AX/],
    [{ video: { channels: 12 } }, /config\.video\.channels must be divisible by 8/],
    [{ video: { height: 4 } }, /config\.video\.height must be an integer >= 5/],
    [{ transformer: { dropout: 1 } }, /config\.transformer\.dropout must be a number in \[0, 1\)/],
    [{ decay: 1.5 }, /config\.decay must be a number in \[0, 1\)/],
    [{ useClub: 'yes' as never }, /config\.useClub must be a boolean/],
    [{ clubHidden: 15 }, /config\.clubHidden must be even/],
    [{ deadAfter: 50 }, /config\.deadAfter \(50\) must be >= config\.activeBelow \(100\)/],
    [{ widths: [1, 2] } as never, /unknown config field 'widths'/],
  ];
  for (const [overrides, message] of cases)
    assert.throws(() => makeConfig('small', overrides), message, JSON.stringify(overrides));
  assert.throws(() => makeConfig('huge' as never), /unknown config name 'huge'/);
});
