// One whole published AVT pretraining step (test/fixtures/published-step.json): the `paper` model
// with the BiLSTM text front, weights and inputs from the fixture's formulas, its recorded draws
// replayed, one Trainer.step with the published clipping groups, then every loss, clip norm,
// gradient and post-Adam checksum, the codebook buffers, indices and counters against the fixture.
//
// Tolerances. The fixture is float64; we run float32 (about 6e-8 relative per rounding). The worst
// error of each kind, as a fraction of its tolerance, is printed with UCMG_GOLDEN_VERBOSE=1:
// - losses: LOSS_RTOL (1e-6) relative; they reach 1.2e-7 (cpc), 5e-8 or better for the rest. The
//   MI terms (~1e-3 and below) are differences of two ~1-sized terms: compared at that scale, they
//   are within 1.1e-7. The CLUB log-likelihoods after 5 Adam steps of their own: CLUB_RTOL (2e-5;
//   they reach 1.2e-5), since each Adam step normalises its gradient, which amplifies noise.
// - clip norms, post-Adam checksums and the codebook: RTOL (1e-5) relative (they reach 3e-6, 7e-6
//   and 1.3e-6).
// - per-parameter gradient checksums: GRAD_RTOL (5e-5) relative. They come out of up to ~30 float32
//   layers (the video path sums 49 cells of ~500-sized activations) and reach 1e-5 for most
//   parameters, not all (the worst is 2.4e-5).
// - sums: relative to max(|sum|, sqrt(n * sumsq)), the largest a sum of n values with that sum of
//   squares can be: a sum that cancels to near zero keeps only the absolute precision of its terms.
// - gradients that are zero analytically (the Cross-CPC predictor biases: InfoNCE is invariant to
//   a shift shared by all predictions) are float32 noise here, 1e-15 there: ours must be below
//   ZERO_GRAD of the group's norm, and their post-Adam values are not compared (Adam's first step
//   moves any nonzero gradient by about lr, whatever its size).
//
// The CLUB nets' clip norms and gradients are the published sum of their last inner step's gradient
// and the main loss's, as the Trainer measures them. The step takes about 45 s (2 minutes for the
// whole test, 7.6 GB peak) on 2 cores: the paper widths, on tfjs cpu with the native dense kernels.
//
// The dead-code reset draws from the published Python RNG; ours has its own. The test checks that
// the same codes are revived, each from an active code within the noise bound, then replays the
// published sources and noise on those rows before comparing the embedding's checksum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Modality } from '../src/model/config.js';
import { PAPER_TEXT_FRONT, makeConfig } from '../src/model/config.js';
import type { CodebookForward, CodebookUpdateReport } from '../src/model/sharedCodebook.js';
import type { CodebookState } from '../src/ops/index.js';
import { UniCodeModel } from '../src/model/uniCode.js';
import { enableNativeDense } from '../src/dense/index.js';
import { initTfjs } from '../src/tfjs.js';
import { Trainer } from '../src/train/trainer.js';
import { readFixture } from './golden-support.js';
import {
  type Checksum,
  type PublishedStep,
  PUBLISHED_TO_OURS,
  checksum,
  inputValues,
  tensorValues,
  toOurLayout,
} from './golden-step-support.js';

const RTOL = 1e-5;
const LOSS_RTOL = 1e-6;
const GRAD_RTOL = 5e-5;
const CLUB_RTOL = 2e-5;
const ZERO_GRAD = 1e-6;
const VERBOSE = process.env.UCMG_GOLDEN_VERBOSE === '1';
const MODALITIES: Modality[] = ['audio', 'video', 'text'];
/** The fixture's clipping groups and ours. */
const GROUP_NAMES: Record<string, string> = {
  CPC: 'cpc',
  Encoder: 'encoders',
  Text_ar_lstm: 'front.text',
  Audio_mi_net: 'club.audio',
  Video_mi_net: 'club.video',
  Text_mi_net: 'club.text',
  Decoder: 'decoders',
};

const fixture = readFixture<PublishedStep>('published-step.json');
type Tensor = PublishedStep['tensors'][number];

/** Largest errors seen per category, as fractions of what each tolerance allows. */
const worst = new Map<string, { ratio: number; what: string }>();
const failures: string[] = [];

function close(
  category: string,
  what: string,
  actual: number,
  expected: number,
  rtol: number,
  scale = Math.abs(expected),
): void {
  const ratio = actual === expected ? 0 : Math.abs(actual - expected) / (rtol * scale);
  if (!(ratio <= 1)) {
    failures.push(`${category} ${what}: got ${actual}, want ${expected} (${ratio.toExponential(2)} x the tolerance)`);
  }
  if (!(ratio <= (worst.get(category)?.ratio ?? -1))) worst.set(category, { ratio, what });
}

function closeChecksum(
  category: string,
  what: string,
  actual: Checksum,
  expected: Checksum,
  n: number,
  rtol = RTOL,
): void {
  const sumScale = Math.max(Math.abs(expected.sum), Math.sqrt(n * expected.sumsq));
  close(category, `${what} sum`, actual.sum, expected.sum, rtol, sumScale);
  close(category, `${what} sumsq`, actual.sumsq, expected.sumsq, rtol);
}

/**
 * Sets every parameter of `model` from the fixture's formulas through PUBLISHED_TO_OURS, after
 * checking the table covers both sides. Returns our parameter name -> its fixture tensor.
 */
function loadPublishedWeights(model: UniCodeModel): Map<string, Tensor> {
  const params = fixture.tensors.filter((t) => t.kind === 'param');
  const unmapped = params.map((t) => `${t.module}/${t.name}`).filter((key) => !PUBLISHED_TO_OURS.has(key));
  assert.deepEqual(unmapped, [], `fixture tensors with no row in PUBLISHED_TO_OURS: ${unmapped.join(', ')}`);
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  const fixtureOf = new Map<string, Tensor>();
  for (const t of params) {
    const row = PUBLISHED_TO_OURS.get(`${t.module}/${t.name}`)!;
    if ('unused' in row) {
      assert.equal(t.grad ?? null, null, `${t.module}/${t.name} is mapped as unused but has a gradient in the fixture`);
      continue;
    }
    assert.ok(!(row.ours in weights), `${row.ours} is the target of two fixture tensors`);
    const data = toOurLayout(tensorValues(t), t.shape, row.layout, row.swap);
    weights[row.ours] = { shape: [...model.params.get(row.ours).shape], data };
    fixtureOf.set(row.ours, t);
  }
  const notSet = model.params.names().filter((n) => !(n in weights));
  assert.deepEqual(notSet, [], `parameters of ours that no fixture tensor sets: ${notSet.join(', ')}`);
  model.params.importWeights(weights);
  return fixtureOf;
}

function codebookBuffer(name: string): Tensor {
  return fixture.tensors.find((t) => t.module === 'Encoder' && t.name === `Cross_quantizer.${name}`)!;
}

function loadPublishedCodebook(model: UniCodeModel): void {
  const embedding = tensorValues(codebookBuffer('embedding'));
  model.codebook.setState({
    embedding: Float32Array.from(embedding),
    emaCount: Float32Array.from(tensorValues(codebookBuffer('ema_count'))),
    emaWeight: Float32Array.from(tensorValues(codebookBuffer('ema_weight'), embedding)),
    unusedCount: Int32Array.from(tensorValues(codebookBuffer('unactivated_count'))),
    m: model.config.codebookSize,
    d: model.config.embeddingDim,
  });
}

/**
 * Our embedding after the step with the revived rows redone from the published draws: each dead
 * code j (in order) takes active[randint] plus the recorded noise, with the active list taken
 * before the dead codes' counters are zeroed.
 */
function withPublishedReset(state: CodebookState, d: number): Float64Array {
  const dead = fixture.quantizer.dead_code_reset_indices;
  const active = Array.from(state.unusedCount.keys()).filter((j) => !dead.includes(j) && state.unusedCount[j] < 100);
  const draws = fixture.rng_draws.filter((r) => r.fn === 'random.randint' || r.fn === 'torch.Tensor.uniform_');
  const replayed = Float64Array.from(state.embedding);
  dead.forEach((j, k) => {
    const source = active[draws[2 * k].result as number];
    const noise = draws[2 * k + 1].result as number[];
    for (let c = 0; c < d; c++) replayed[j * d + c] = state.embedding[source * d + c] + noise[c];
  });
  return replayed;
}

test('the paper AVT model reproduces one whole published pretraining step', async () => {
  await initTfjs('cpu'); // the paper model does not fit the wasm heap
  enableNativeDense();
  const config = makeConfig('paper', { textFront: PAPER_TEXT_FRONT, transformer: { dropout: 0 } });
  const model = new UniCodeModel(config, { seed: 0 });
  try {
    const fixtureOf = loadPublishedWeights(model);
    loadPublishedCodebook(model);
    const cpcDraw = fixture.rng_draws.find((d) => d.fn === 'torch.randint')!.result as number[];
    const permutation = Int32Array.from(fixture.rng_draws.find((d) => d.fn === 'torch.randperm')!.result as number[]);
    const gradients = new Map<string, Checksum>();
    const trainer = new Trainer(model, {
      progress: false,
      // The published context ends at the draw plus its min_start_steps (1).
      replayDraws: (drawn) => ({ ...drawn, tSample: cpcDraw[0] + 1, permutations: MODALITIES.map(() => permutation) }),
      inspectGradients: (groups) =>
        groups.forEach((g) => g.params.forEach((n, i) => gradients.set(n, checksum(g.grads[i].dataSync())))),
    });
    // Spy on the codebook update for the code indices and the reset report.
    let forward: CodebookForward | undefined;
    let report: CodebookUpdateReport | undefined;
    const update = model.codebook.update.bind(model.codebook);
    model.codebook.update = async (f, seed) => {
      forward = f;
      report = await update(f, seed);
      return report;
    };

    const { B, T } = fixture.config;
    const started = performance.now();
    const metrics = await trainer.step({
      audio: inputValues(B * T * config.audioDim, 0),
      video: inputValues(B * T * config.video.height * config.video.width * config.video.channels, 1),
      text: inputValues(B * T * PAPER_TEXT_FRONT.inputDim, 2),
    });
    const stepMs = performance.now() - started;

    // Losses, CLUB log-likelihoods, perplexities, accuracies, indices.
    const L = fixture.losses;
    for (const m of MODALITIES) {
      close('loss', `${m}_recon`, metrics.loss.recon[m]!, L[`${m}_recon_loss`], LOSS_RTOL);
      close('loss', `${m}_embed`, metrics.loss.commitment[m]!, L[`${m}_embed_loss`], LOSS_RTOL);
      // mi is a difference of two terms of the CLUB log-likelihood's size (~1): precise to that scale.
      const mi = L[`${m}_mine_loss`];
      close('loss', `${m}_mine`, metrics.loss.mi[m]!, mi, LOSS_RTOL, Math.max(Math.abs(mi), 1));
      close('loss', `lld_${m} (5th inner step)`, -metrics.clubLoglikeli[m]!, L[`lld_${m}_loss`], CLUB_RTOL);
      const perplexity = fixture.quantizer[`${m}_perplexity`] as number;
      close('loss', `${m}_perplexity`, metrics.perplexity[m]!, perplexity, LOSS_RTOL);
    }
    close('loss', 'cpc', metrics.loss.cpc, L.cpc_loss, LOSS_RTOL);
    close('loss', 'cmcm', metrics.loss.cmcm, L.cmcm_loss, LOSS_RTOL);
    close('loss', 'total', metrics.loss.total, L.total, LOSS_RTOL);
    const letter = { a: 'audio', v: 'video', t: 'text' } as const;
    for (const [key, value] of Object.entries(L).filter(([k]) => k.startsWith('acc_'))) {
      const [x, y] = [letter[key[4] as 'a'], letter[key[5] as 'a']];
      assert.equal(metrics.cpcAccuracy[`${x}->${y}`], value, `CPC accuracy ${key}`);
    }
    assert.equal(metrics.equalNum, fixture.quantizer.equal_num, 'equal_num');
    MODALITIES.forEach((m, i) => {
      assert.deepEqual(Array.from(forward!.indices[i]), fixture.quantizer.indices[m], `${m} code indices`);
    });

    // Clip norms, then per-parameter gradients before the clip and values after the step.
    const groupNorm = new Map<string, number>();
    for (const g of fixture.clip_groups) {
      close('clip norm', g.group, metrics.gradNorm[GROUP_NAMES[g.group]], g.total_norm_before, RTOL);
      groupNorm.set(g.group, g.total_norm_before);
    }
    const after = model.params.exportWeights();
    for (const [ours, t] of fixtureOf) {
      const n = after[ours].data.length;
      const grad = gradients.get(ours);
      assert.ok(grad !== undefined, `${ours}: no gradient was reported for it`);
      const floor = ZERO_GRAD * groupNorm.get(t.module)!;
      if (t.grad!.sumsq > 0 && Math.sqrt(t.grad!.sumsq) < floor) {
        const norm = Math.sqrt(grad.sumsq);
        if (!(norm < floor)) failures.push(`gradient ${ours}: norm ${norm}, want below ${floor} (zero)`);
        continue;
      }
      closeChecksum('gradient', ours, grad, t.grad!, n, GRAD_RTOL);
      closeChecksum('after Adam', ours, checksum(after[ours].data), t.after!, n);
    }

    // Codebook buffers and counters.
    const state = model.codebook.getState();
    const d = config.embeddingDim;
    assert.deepEqual(report!.resetCodes, fixture.quantizer.dead_code_reset_indices, 'revived codes');
    report!.resetCodes.forEach((j, k) => {
      const source = report!.resetSources[k];
      for (let c = 0; c < d; c++) {
        const offset = Math.abs(state.embedding[j * d + c] - state.embedding[source * d + c]);
        assert.ok(offset <= 1 / 1024, `code ${j} revived from ${source}: component ${c} is ${offset} away`);
      }
    });
    const cb = fixture.buffers_after;
    const replayed = withPublishedReset(state, d);
    closeChecksum(
      'codebook',
      'embedding (published reset replayed)',
      checksum(replayed),
      cb.embedding,
      replayed.length,
    );
    closeChecksum('codebook', 'ema_weight', checksum(state.emaWeight), cb.ema_weight, state.emaWeight.length);
    state.emaCount.forEach((v, j) => close('codebook', `ema_count[${j}]`, v, cb.ema_count_values[j], RTOL));
    assert.deepEqual(checksum(state.unusedCount), codebookBuffer('unactivated_count').after, 'unused counters');

    if (VERBOSE) {
      console.log(`step ${stepMs.toFixed(0)} ms`);
      for (const [category, { ratio, what }] of worst) {
        console.log(`${category}: worst ${ratio.toExponential(2)} x the tolerance (${what})`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length} mismatches`);
    trainer.dispose();
  } finally {
    model.dispose();
  }
});
