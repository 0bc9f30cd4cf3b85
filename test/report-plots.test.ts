import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeUsageSvg, crossModalHeatmapSvg, lossCurvesSvg } from '../src/report/plots.js';

/** Checks that every element is closed in order (well-formed XML) and returns the text nodes. */
function parseSvg(svg: string): string[] {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const stack: string[] = [];
  const texts: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (const m of svg.matchAll(tag)) {
    if (m[4] !== undefined) {
      if (stack.at(-1) === 'text' || stack.at(-1) === 'tspan') texts.push(m[4]);
      continue;
    }
    const [, closing, name, selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `closing </${name}>`);
    else if (!selfClosing) stack.push(name);
  }
  assert.deepEqual(stack, [], 'every element closed');
  return texts;
}

test('plots: loss curves have one titled panel per metric, bookkeeping fields excluded', async () => {
  const records = Array.from({ length: 50 }, (_, i) => ({
    step: i * 10,
    epoch: Math.floor(i / 10),
    lr: 4e-4,
    loss: { total: 3 / (i + 1), cpc: 2 / (i + 1), broken: i === 3 ? null : 1 },
    perplexity: { audio: 10 + i },
  }));
  const texts = parseSvg(await lossCurvesSvg(records, { title: 'Pretraining' }));
  for (const label of ['Pretraining', 'loss.total', 'loss.cpc', 'loss.broken', 'perplexity.audio', 'step']) {
    assert.ok(texts.includes(label), `label ${label} in ${texts.join('|')}`);
  }
  assert.ok(!texts.includes('epoch') && !texts.includes('lr'), 'epoch and lr are not curves');

  const chosen = parseSvg(await lossCurvesSvg(records, { metrics: ['loss.cpc'] }));
  assert.ok(chosen.includes('loss.cpc') && !chosen.includes('loss.total'));
  const group = parseSvg(await lossCurvesSvg(records, { metrics: ['perplexity', 'loss'] }));
  for (const label of ['perplexity.audio', 'loss.total', 'loss.cpc'])
    assert.ok(group.includes(label), `group member ${label}`);
  assert.ok(group.indexOf('perplexity.audio') < group.indexOf('loss.total'), 'panels in the order asked for');
});

test('plots: loss curves refuse input with nothing to draw', async () => {
  await assert.rejects(lossCurvesSvg([{ epoch: 1, loss: 2 }]), /no record has a numeric 'step'/);
  await assert.rejects(lossCurvesSvg([{ step: 1, loss: 2 }], { metrics: ['loss.total'] }), /'loss\.total'/);
  await assert.rejects(lossCurvesSvg([{ step: 1, lossy: 2 }], { metrics: ['loss'] }), /no record has numeric 'loss'/);
  await assert.rejects(lossCurvesSvg([{ step: 1 }, 5 as unknown as Record<string, unknown>]), /records\[1\]/);
});

test('plots: code usage panels state used codes and perplexity', async () => {
  const audio = new Array(8).fill(0);
  audio[1] = 5;
  audio[6] = 5; // two codes equally used: perplexity exactly 2
  const texts = parseSvg(await codeUsageSvg({ audio, video: [1, 1, 1, 1, 0, 0, 0, 0] }));
  assert.ok(texts.includes('audio: 2/8 codes used, perplexity 2.0'), texts.join('|'));
  assert.ok(texts.includes('video: 4/8 codes used, perplexity 4.0'));
  assert.ok(texts.includes('code index'));
  await assert.rejects(codeUsageSvg({ audio: [1, 2], video: [1] }), /usage\.video has 1 codes, the others 2/);
  await assert.rejects(codeUsageSvg({ audio: [1, -2] }), /usage\.audio\[1\]/);
});

test('plots: cross-modal heatmap labels axes, panels and every cell in percent', async () => {
  const modalities = ['audio', 'video', 'text'];
  const cells = modalities.flatMap((train, i) =>
    modalities.map((test, j) => ({ train, test, value: (i * 3 + j) / 10, panel: 'Uni-Code' })),
  );
  cells.push({ train: 'audio', test: 'video', value: 0.055, panel: 'plain VQ' });
  const texts = parseSvg(await crossModalHeatmapSvg(cells, { metric: 'top-1 accuracy' }));
  for (const label of [
    'trained on (X)',
    'tested on (Y)',
    'Uni-Code',
    'plain VQ',
    'top-1 accuracy',
    'audio',
    'video',
    'text',
    '0.0%',
    '50.0%',
    '80.0%',
    '5.5%',
  ]) {
    assert.ok(texts.includes(label), `label ${label} in ${texts.join('|')}`);
  }
  await assert.rejects(
    crossModalHeatmapSvg([{ train: 'audio', test: 'video', value: 52.3 }]),
    /cells\[0\]\.value must be a fraction/,
  );
  await assert.rejects(crossModalHeatmapSvg([]), /non-empty/);
});
