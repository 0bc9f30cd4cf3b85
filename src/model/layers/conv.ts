// Stride-1 NHWC convolutions (filters in tf layout) with their gradients built from fast kernels.
// Plain tfjs wasm has no Conv2DBackpropFilter kernel, and its Conv2DBackpropInput (what
// tf.conv2dTranspose runs) is a plain loop several times slower than its XNNPACK conv2d. So there
// input gradients and transposed convolutions run as a conv2d of the padded input with the flipped
// filter, and filter gradients as a conv2d with the batch in the channel position. Where the native
// dense kernels host the backend, both backprops are BLAS calls and run directly, without the
// transposes and flips of the rewrites.
import type { Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { nativeDenseStatus } from '../../dense/index.js';
import type { DenseHostBackend } from '../../dense/tensorMemory.js';
import { tf } from '../../tfjs.js';
import type { ParamStore } from '../params.js';

/** Whether the backprop kernels of the active backend are the native ones. */
function nativeBackprops(): boolean {
  const status = nativeDenseStatus();
  return status.enabled && status.backends.includes(tf.getBackend() as DenseHostBackend);
}

/** d/dw of a stride-1 correlation with the given padding, as one Conv2DBackpropFilter kernel call. */
function backpropFilter(input: Tensor4D, outGrad: Tensor4D, pad: number, filterShape: number[]): Tensor4D {
  const attrs = { strides: 1, pad: pad === 0 ? 'valid' : 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape };
  return tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy: outGrad }, attrs as unknown as tf.NamedAttrMap) as Tensor4D;
}

/** dx of a stride-1 correlation of x (shape `inShape`) with w, as one Conv2DBackpropInput kernel call. */
function backpropInput(outGrad: Tensor4D, w: Tensor4D, pad: 'valid' | 'same', inShape: number[]): Tensor4D {
  return tf.conv2dTranspose(outGrad, w, inShape as [number, number, number, number], 1, pad);
}

/**
 * Zero padding done inside the conv kernel (no padded copy). Explicit, because tfjs sizes the output
 * of a numeric pad from the filter height alone, wrong for the non-square "filters" used below.
 */
function spatialPadding(pad: number): [[0, 0], [number, number], [number, number], [0, 0]] {
  return [[0, 0], [pad, pad], [pad, pad], [0, 0]];
}

/**
 * The full correlation with filter w [kh, kw, a, b] flipped in space and with its channel axes
 * swapped: maps b channels to a. With pad = k-1 this is the transposed convolution of w; with
 * pad = k-1-p it is the input gradient of a conv with padding p.
 */
function flippedCorrelation(x: Tensor4D, w: Tensor4D, pad: number): Tensor4D {
  return tf.conv2d(x, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as Tensor4D, 1, spatialPadding(pad));
}

/**
 * d/dw of a stride-1 correlation: grad[i, j, c, o] = sum_{n,y,x} input[n, y+i-pad, x+j-pad, c] * outGrad[n, y, x, o].
 * That is itself a 'valid' correlation of the input seen as [c, H, W, n] with outGrad seen as a
 * filter [ho, wo, n, o], so it runs as one conv2d (the window size is outGrad's spatial size).
 */
function filterGradient(input: Tensor4D, outGrad: Tensor4D, pad: number): Tensor4D {
  const perChannel = tf.conv2d(tf.transpose(input, [3, 1, 2, 0]) as Tensor4D, tf.transpose(outGrad, [1, 2, 0, 3]) as Tensor4D, 1, spatialPadding(pad));
  return tf.transpose(perChannel, [1, 2, 0, 3]);
}

/**
 * Correlation with filter [kh, kw, in, out]; 'same' pads (k-1)/2 on each side (odd kernels).
 * inputGradient false: x is data, its gradient (the costliest part of the backward) is reported as zeros.
 */
export function conv2d(x: Tensor4D, filter: Tensor4D, pad: 'valid' | 'same', inputGradient = true): Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [Tensor4D, Tensor4D, tf.GradSaveFunc];
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, 1, pad),
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as Tensor4D[];
        const kh = sw.shape[0];
        const padding = pad === 'same' ? (kh - 1) / 2 : 0;
        if (nativeBackprops()) {
          return [
            inputGradient ? backpropInput(dy as Tensor4D, sw, pad, sx.shape) : tf.zerosLike(sx),
            backpropFilter(sx, dy as Tensor4D, padding, sw.shape),
          ];
        }
        return [
          inputGradient ? flippedCorrelation(dy as Tensor4D, sw, kh - 1 - padding) : tf.zerosLike(sx),
          filterGradient(sx, dy as Tensor4D, padding),
        ];
      },
    };
  });
  return op(x, filter) as Tensor4D;
}

/** Transposed convolution (valid, stride 1) with filter [kh, kw, out, in]: grows H by kh-1 and W by kw-1. */
export function conv2dTranspose(x: Tensor4D, filter: Tensor4D): Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [Tensor4D, Tensor4D, tf.GradSaveFunc];
    save([xs, ws]);
    const [n, h, w] = xs.shape;
    const [kh, kw, outC] = ws.shape;
    const outShape = [n, h + kh - 1, w + kw - 1, outC];
    const native = nativeBackprops();
    return {
      value: native ? backpropInput(xs, ws, 'valid', outShape) : flippedCorrelation(xs, ws, kh - 1),
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as Tensor4D[];
        // y[p+i, q+j, o] += x[p, q, c] w[i, j, o, c]: the filter gradient correlates dy with x.
        const dw = native ? backpropFilter(dy as Tensor4D, sx, 0, sw.shape) : filterGradient(dy as Tensor4D, sx, 0);
        return [tf.conv2d(dy as Tensor4D, sw, 1, 'valid'), dw];
      },
    };
  });
  return op(x, filter) as Tensor4D;
}

export class Conv2d {
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(store: ParamStore, group: string, name: string, inC: number, outC: number, readonly kernel: number,
    private readonly pad: 'valid' | 'same' = 'valid', private readonly inputGradient = true) {
    const bound = 1 / Math.sqrt(inC * kernel * kernel);
    this.weight = store.uniform(group, `${name}.weight`, [kernel, kernel, inC, outC], bound);
    this.bias = store.uniform(group, `${name}.bias`, [outC], bound);
  }

  apply(x: Tensor4D): Tensor4D {
    return tf.add(conv2d(x, this.weight as Tensor4D, this.pad, this.inputGradient), this.bias);
  }
}

export class ConvTranspose2d {
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(store: ParamStore, group: string, name: string, inC: number, outC: number, readonly kernel: number) {
    // torch computes the transposed conv's fan-in from its [in, out, k, k] weight as out*k*k.
    const bound = 1 / Math.sqrt(outC * kernel * kernel);
    this.weight = store.uniform(group, `${name}.weight`, [kernel, kernel, outC, inC], bound);
    this.bias = store.uniform(group, `${name}.bias`, [outC], bound);
  }

  apply(x: Tensor4D): Tensor4D {
    return tf.add(conv2dTranspose(x, this.weight as Tensor4D), this.bias);
  }
}

/** relu(x + conv1x1(relu(conv3x3_same(relu(x))))): the VQ-VAE style residual block of SPEC §2. */
export class ResidualBlock {
  private readonly conv3: Conv2d;
  private readonly conv1: Conv2d;

  constructor(store: ParamStore, group: string, name: string, channels: number) {
    this.conv3 = new Conv2d(store, group, `${name}.conv3`, channels, channels, 3, 'same');
    this.conv1 = new Conv2d(store, group, `${name}.conv1`, channels, channels, 1);
  }

  apply(x: Tensor4D): Tensor4D {
    const inner = this.conv1.apply(tf.relu(this.conv3.apply(tf.relu(x))));
    return tf.relu(tf.add(x, inner)) as Tensor4D;
  }
}
