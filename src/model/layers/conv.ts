// Stride-1 NHWC convolutions with filters in tf layout, on the plain tfjs ops and their gradients.
// How each backend runs them fast (tfjs wasm's missing or slow backprop kernels, the native dense
// kernels) is src/dense's business.
import type { Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../../tfjs.js';
import type { ParamStore } from '../params.js';
import { asData } from './asData.js';

/**
 * Correlation with filter [kh, kw, in, out]; 'same' pads (k-1)/2 on each side (odd kernels).
 * inputGradient false: x is data, its gradient is reported as zeros.
 */
export function conv2d(x: Tensor4D, filter: Tensor4D, pad: 'valid' | 'same', inputGradient = true): Tensor4D {
  return tf.conv2d(inputGradient ? x : asData(x), filter, 1, pad);
}

/** Transposed convolution (valid, stride 1) with filter [kh, kw, out, in]: grows H by kh-1 and W by kw-1. */
export function conv2dTranspose(x: Tensor4D, filter: Tensor4D): Tensor4D {
  const [n, h, w] = x.shape;
  const [kh, kw, outC] = filter.shape;
  return tf.conv2dTranspose(x, filter, [n, h + kh - 1, w + kw - 1, outC], 1, 'valid');
}

export class Conv2d {
  readonly weight: Variable;
  readonly bias: Variable | null;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    inC: number,
    outC: number,
    readonly kernel: number,
    private readonly pad: 'valid' | 'same' = 'valid',
    private readonly inputGradient = true,
    { bias = true } = {},
  ) {
    const bound = 1 / Math.sqrt(inC * kernel * kernel);
    this.weight = store.uniform(group, `${name}.weight`, [kernel, kernel, inC, outC], bound);
    this.bias = bias ? store.uniform(group, `${name}.bias`, [outC], bound) : null;
  }

  apply(x: Tensor4D): Tensor4D {
    const y = conv2d(x, this.weight as Tensor4D, this.pad, this.inputGradient);
    return this.bias === null ? y : tf.add(y, this.bias);
  }
}

export class ConvTranspose2d {
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(
    store: ParamStore,
    group: string,
    name: string,
    inC: number,
    outC: number,
    readonly kernel: number,
  ) {
    // torch computes the transposed conv's fan-in from its [in, out, k, k] weight as out*k*k.
    const bound = 1 / Math.sqrt(outC * kernel * kernel);
    this.weight = store.uniform(group, `${name}.weight`, [kernel, kernel, outC, inC], bound);
    this.bias = store.uniform(group, `${name}.bias`, [outC], bound);
  }

  apply(x: Tensor4D): Tensor4D {
    return tf.add(conv2dTranspose(x, this.weight as Tensor4D), this.bias);
  }
}

/**
 * relu(relu(x) + conv1x1(relu(conv3x3_same(relu(x))))), convs without bias: the published VQ-VAE
 * style residual block of docs/algorithm.md §2. Its first ReLU runs in place, so the skip adds relu(x), not x.
 */
export class ResidualBlock {
  private readonly conv3: Conv2d;
  private readonly conv1: Conv2d;

  constructor(store: ParamStore, group: string, name: string, channels: number) {
    this.conv3 = new Conv2d(store, group, `${name}.conv3`, channels, channels, 3, 'same', true, { bias: false });
    this.conv1 = new Conv2d(store, group, `${name}.conv1`, channels, channels, 1, 'valid', true, { bias: false });
  }

  apply(x: Tensor4D): Tensor4D {
    const activated = tf.relu(x);
    const inner = this.conv1.apply(tf.relu(this.conv3.apply(activated)));
    return tf.relu(tf.add(activated, inner)) as Tensor4D;
  }
}
