// The published pretraining step fixture (test/fixtures/published-step.json): its types, the
// formulas that set its weights and inputs, and the one table that maps its tensors onto ours.
import type { Modality } from '../src/model/config.js';

export interface Checksum {
  sum: number;
  sumsq: number;
}
export interface FixtureTensor {
  p: number;
  module: string;
  name: string;
  kind: 'param' | 'buffer';
  shape: number[];
  formula: 'W' | 'B' | 'LNW' | 'CB' | 'ZERO' | 'COPY_EMB' | 'UNACT';
  scale?: number;
  grad?: Checksum | null;
  after?: Checksum;
}
export interface PublishedStep {
  config: { B: number; T: number; lr: number; mi_lr: number; clip_gradient: number };
  inputs: Record<'query' | 'audio_fea' | 'video_fea', { shape: number[]; sum: number; sumsq: number }>;
  rng_draws: { fn: string; args: number[]; result: number | number[] }[];
  club_inner: Record<string, number>[];
  losses: Record<string, number>;
  quantizer: { indices: Record<Modality, number[]>; dead_code_reset_indices: number[] } & Record<string, unknown>;
  clip_groups: { group: string; total_norm_before: number; clip_coef: number }[];
  buffers_after: Record<'embedding' | 'ema_weight' | 'ema_count', Checksum> & { ema_count_values: number[] };
  tensors: FixtureTensor[];
  activations: ({ n: number; module: string; shape: number[] } & Checksum)[];
}

/** g(i, a, c) = sin((a*i + c) + ((i*i) mod 1009)) in float64, i*i exact. */
export function g(i: number, a: number, c: number): number {
  return Math.sin(a * i + c + ((i * i) % 1009));
}

/** A fixture tensor's values from its formula, row-major in torch's shape. */
export function tensorValues(t: FixtureTensor, embedding?: Float64Array): Float64Array {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  const c = 0.1 * t.p;
  for (let i = 0; i < size; i++) {
    switch (t.formula) {
      case 'W':
        out[i] = g(i, 0.37, c) * t.scale!;
        break;
      case 'B':
        out[i] = 0.01 * g(i, 0.37, c);
        break;
      case 'LNW':
        out[i] = 1 + 0.1 * g(i, 0.37, c);
        break;
      case 'CB':
        out[i] = g(i, 0.37, c) * (1 / 400);
        break;
      case 'ZERO':
        out[i] = 0;
        break;
      case 'COPY_EMB':
        out[i] = embedding![i];
        break;
      case 'UNACT':
        out[i] = i % 50 === 7 ? 300 : -1;
        break;
    }
  }
  return out;
}

/** The inputs: x[i] = g(i, 0.001, c) with c = 2 (text), 0 (audio), 1 (video). */
export function inputValues(size: number, c: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = g(i, 0.001, c);
  return out;
}

/**
 * How a torch tensor becomes ours:
 * - same: identical layout (Linear [out,in], LSTM, MultiheadAttention, LayerNorm).
 * - conv: Conv2d [out,in,kh,kw] -> [kh,kw,in,out]; ConvTranspose2d [in,out,kh,kw] -> [kh,kw,out,in]
 *   (both are the axis order 2,3,1,0).
 */
export type Layout = 'same' | 'conv';

/**
 * Where the published layer's input is a concatenation in the other order: it concatenates the
 * code's projection (`first` channels) before ψ, ours ψ before the code. The input axis is 1 for a
 * Linear [out, in] and 0 for a ConvTranspose2d [in, out, kh, kw].
 */
export interface InputSwap {
  axis: 0 | 1;
  first: number;
}

/** One row of the mapping: a fixture tensor ("Module/name") and our parameter, or why it has none. */
export type Mapping = { ours: string; layout: Layout; swap?: InputSwap } | { unused: string };

const same = (ours: string): Mapping => ({ ours, layout: 'same' });
const conv = (ours: string): Mapping => ({ ours, layout: 'conv' });
/** The published decoders concatenate the code's projection (256 wide) before ψ; ours put ψ first. */
const codeFirst = (mapping: Mapping, axis: 0 | 1): Mapping => ({ ...mapping, swap: { axis, first: 256 } });
const TEMPLATE = 'the template layer of the published temporal module: never run, so its gradient is None';
const CLASSIFIER = 'a semantic classifier of the published decoder: evaluated, not in the loss, gradient None';

/** name prefix -> ours, for the repeated transformer and LSTM blocks. */
function transformer(fixturePrefix: string, oursPrefix: string): [string, Mapping][] {
  const rows: [string, Mapping][] = [];
  const parts = [
    'self_attn.in_proj_weight',
    'self_attn.in_proj_bias',
    'self_attn.out_proj.weight',
    'self_attn.out_proj.bias',
    'linear1.weight',
    'linear1.bias',
    'linear2.weight',
    'linear2.bias',
    'norm1.weight',
    'norm1.bias',
    'norm2.weight',
    'norm2.bias',
  ];
  for (const part of parts) rows.push([`Encoder/${fixturePrefix}.encoder_layer.${part}`, { unused: TEMPLATE }]);
  for (const layer of [0, 1]) {
    for (const part of parts) {
      const name = `layers.${layer}.${part}`;
      rows.push([`Encoder/${fixturePrefix}.encoder.${name}`, same(`${oursPrefix}.${name}`)]);
    }
  }
  return rows;
}

function lstm(fixturePrefix: string, oursPrefix: string, bidirectional: boolean): [string, Mapping][] {
  const rows: [string, Mapping][] = [];
  for (const layer of [0, 1]) {
    for (const suffix of bidirectional ? ['', '_reverse'] : ['']) {
      for (const what of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) {
        rows.push([`${fixturePrefix}${what}_l${layer}${suffix}`, same(`${oursPrefix}.${what}_l${layer}${suffix}`)]);
      }
    }
  }
  return rows;
}

function club(module: string, modality: Modality): [string, Mapping][] {
  return ['p_mu', 'p_logvar'].flatMap((net) =>
    [0, 2, 4, 6].flatMap((i) =>
      ['weight', 'bias'].map((w): [string, Mapping] => [
        `${module}/${net}.${i}.${w}`,
        same(`club.${modality}.${net}.${i}.${w}`),
      ]),
    ),
  );
}

/** Every fixture parameter ("Module/name") and what it is in our model. */
export const PUBLISHED_TO_OURS = new Map<string, Mapping>([
  ...lstm('Text_ar_lstm/', 'front.text.lstm', true),
  ['Encoder/Video_encoder.conv_stack.0.weight', conv('specific.video.conv1.weight')],
  ['Encoder/Video_encoder.conv_stack.0.bias', same('specific.video.conv1.bias')],
  ['Encoder/Video_encoder.conv_stack.2.weight', conv('specific.video.conv2.weight')],
  ['Encoder/Video_encoder.conv_stack.2.bias', same('specific.video.conv2.bias')],
  ['Encoder/Video_encoder.conv_stack.4.weight', conv('specific.video.conv3.weight')],
  ['Encoder/Video_encoder.conv_stack.4.bias', same('specific.video.conv3.bias')],
  ['Encoder/Video_encoder.conv_stack.5.stack.0.res_block.1.weight', conv('specific.video.residual.conv3.weight')],
  ['Encoder/Video_encoder.conv_stack.5.stack.0.res_block.3.weight', conv('specific.video.residual.conv1.weight')],
  ['Encoder/Video_encoder.feed_forward.0.weight', same('specific.video.club_feature.0.weight')],
  ['Encoder/Video_encoder.feed_forward.0.bias', same('specific.video.club_feature.0.bias')],
  ['Encoder/Video_encoder.feed_forward.2.weight', same('specific.video.club_feature.2.weight')],
  ['Encoder/Video_encoder.feed_forward.2.bias', same('specific.video.club_feature.2.bias')],
  ['Encoder/Audio_encoder.audio_linear.weight', same('specific.audio.proj.weight')],
  ['Encoder/Audio_encoder.audio_linear.bias', same('specific.audio.proj.bias')],
  ['Encoder/Text_encoder.text_linear.weight', same('specific.text.proj.weight')],
  ['Encoder/Text_encoder.text_linear.bias', same('specific.text.proj.bias')],
  ['Encoder/video_semantic_encoder.se_layer.0.weight', same('semantic.video.pool.squeeze.weight')],
  ['Encoder/video_semantic_encoder.se_layer.2.weight', same('semantic.video.pool.excite.weight')],
  ['Encoder/video_semantic_encoder.affine_video_ave.weight', same('semantic.video.pool.query.weight')],
  ['Encoder/video_semantic_encoder.affine_video_ave.bias', same('semantic.video.pool.query.bias')],
  ['Encoder/video_semantic_encoder.affine_video_self.weight', same('semantic.video.pool.key.weight')],
  ['Encoder/video_semantic_encoder.affine_video_self.bias', same('semantic.video.pool.key.bias')],
  ['Encoder/video_semantic_encoder.ave_v_att.weight', same('semantic.video.pool.score.weight')],
  ['Encoder/video_semantic_encoder.ave_v_att.bias', same('semantic.video.pool.score.bias')],
  ...(['video', 'text', 'audio'] as const).flatMap((m) => [
    ...transformer(`${m}_self_att`, `semantic.${m}.transformer`),
    [`Encoder/${m}_self_att.affine_matrix.weight`, same(`semantic.${m}.proj.weight`)] as [string, Mapping],
    [`Encoder/${m}_self_att.affine_matrix.bias`, same(`semantic.${m}.proj.bias`)] as [string, Mapping],
  ]),
  ...(['video', 'audio', 'text'] as const).flatMap((m) => lstm(`CPC/${m}_ar_lstm.`, `cpc.${m}_ar_lstm`, false)),
  ...(['video', 'audio', 'text'] as const).flatMap((m) =>
    ['weight', 'bias'].map((w): [string, Mapping] => [
      `CPC/${m}_predictors.0.${w}`,
      same(`cpc.${m}_predictors.0.${w}`),
    ]),
  ),
  ...club('Video_mi_net', 'video'),
  ...club('Text_mi_net', 'text'),
  ...club('Audio_mi_net', 'audio'),
  ['Decoder/Video_decoder.inverse_conv_block.0.weight', codeFirst(conv('decoder.video.up1.weight'), 0)],
  ['Decoder/Video_decoder.inverse_conv_block.0.bias', same('decoder.video.up1.bias')],
  [
    'Decoder/Video_decoder.inverse_conv_block.1.stack.0.res_block.1.weight',
    conv('decoder.video.residual.conv3.weight'),
  ],
  [
    'Decoder/Video_decoder.inverse_conv_block.1.stack.0.res_block.3.weight',
    conv('decoder.video.residual.conv1.weight'),
  ],
  ['Decoder/Video_decoder.inverse_conv_block.2.weight', conv('decoder.video.up2.weight')],
  ['Decoder/Video_decoder.inverse_conv_block.2.bias', same('decoder.video.up2.bias')],
  ['Decoder/Video_decoder.inverse_conv_block.4.weight', conv('decoder.video.out.weight')],
  ['Decoder/Video_decoder.inverse_conv_block.4.bias', same('decoder.video.out.bias')],
  ['Decoder/Video_decoder.video_linear.weight', same('decoder.video.code_proj.weight')],
  ['Decoder/Video_decoder.video_linear.bias', same('decoder.video.code_proj.bias')],
  ['Decoder/Audio_decoder.audio_rec.weight', codeFirst(same('decoder.audio.out.weight'), 1)],
  ['Decoder/Audio_decoder.audio_rec.bias', same('decoder.audio.out.bias')],
  ['Decoder/Audio_decoder.audio_linear.weight', same('decoder.audio.code_proj.weight')],
  ['Decoder/Audio_decoder.audio_linear.bias', same('decoder.audio.code_proj.bias')],
  ['Decoder/Text_decoder.text_rec.weight', codeFirst(same('decoder.text.out.weight'), 1)],
  ['Decoder/Text_decoder.text_rec.bias', same('decoder.text.out.bias')],
  ['Decoder/Text_decoder.text_linear.weight', same('decoder.text.code_proj.weight')],
  ['Decoder/Text_decoder.text_linear.bias', same('decoder.text.code_proj.bias')],
  ...['video', 'text', 'audio'].flatMap((m) =>
    ['linear', 'event_classifier'].flatMap((layer) =>
      ['weight', 'bias'].map((w): [string, Mapping] => [
        `Decoder/${m}_semantic_decoder.${layer}.${w}`,
        { unused: CLASSIFIER },
      ]),
    ),
  ),
]);

/** Moves the first `first` entries of `axis` behind the rest (row-major values of `shape`). */
function swapInput(values: Float64Array, shape: number[], { axis, first }: InputSwap): Float64Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const length = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(values.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < length; i++) {
      const to = (i + length - first) % length;
      const from = (o * length + i) * inner;
      out.set(values.subarray(from, from + inner), (o * length + to) * inner);
    }
  }
  return out;
}

/** Row-major torch values in our layout. */
export function toOurLayout(
  torchValues: Float64Array,
  shape: number[],
  layout: Layout,
  swap?: InputSwap,
): Float32Array {
  const values = swap === undefined ? torchValues : swapInput(torchValues, shape, swap);
  if (layout === 'same') return Float32Array.from(values);
  const [a, b, kh, kw] = shape;
  const out = new Float32Array(values.length);
  // torch [a, b, kh, kw] -> ours [kh, kw, b, a]
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * b + j) * a + i] = values[((i * b + j) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/** Sum and sum of squares in float64, in the torch layout's order (the order does not matter at 1e-5). */
export function checksum(values: ArrayLike<number>): Checksum {
  let sum = 0;
  let sumsq = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    sumsq += values[i] * values[i];
  }
  return { sum, sumsq };
}
