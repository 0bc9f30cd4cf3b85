// Conv2D / FusedConv2D and the two convolution backprops (Conv2DBackpropInput is also what
// conv2dTranspose runs) on the native im2col + GEMM kernels. NHWC only; NCHW declines.
import type { backend_util } from '@tensorflow/tfjs-core';
import type { DenseConv2dGeometry } from '../native/binding.js';
import { tf } from '../tfjs.js';
import {
  declined,
  epilogueArgs,
  fusedTail,
  input,
  runNative,
  type Declined,
  type DenseKernelArgs,
  type DenseKernelImpl,
} from './nativeCall.js';

type Shape4D = [number, number, number, number];

/** tfjs's own geometry for the call (same padding / rounding rules), or why it cannot run natively. */
function convInfo(
  args: DenseKernelArgs,
  inShape: number[],
  filterShape: number[],
  dilations: unknown,
): backend_util.Conv2DInfo | Declined {
  const { strides, pad, dataFormat, dimRoundingMode } = args.attrs;
  const format = tf.backend_util.convertConv2DDataFormat((dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC');
  if (format !== 'channelsLast') return declined('NCHW data format');
  return tf.backend_util.computeConv2DInfo(
    inShape as Shape4D,
    filterShape as Shape4D,
    strides as number | [number, number],
    (dilations ?? 1) as number | [number, number],
    pad as 'same' | 'valid' | number,
    dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    format,
  );
}

/** The native kernels' NHWC geometry (native/dense/dense.h) of a tfjs Conv2DInfo: CPU and CUDA alike. */
export function conv2dGeometry(info: backend_util.Conv2DInfo): DenseConv2dGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Flops of the GEMMs a convolution (or either backprop) runs. */
const convFlops = (g: DenseConv2dGeometry): number =>
  2 * g.batch * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;

/** Conv2D and FusedConv2D (FusedConv2D adds bias and activation in the same call). */
export const conv2dKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  const filter = input(args, 'filter');
  const info = convInfo(args, x.shape, filter.shape, args.attrs.dilations);
  if ('declined' in info) return info;
  const g = conv2dGeometry(info);
  const tail = fusedTail(args, g.outChannels);
  if ('declined' in tail) return tail;
  return {
    size: { flops: convFlops(g) },
    run: () =>
      runNative(env, info.outShape, [x, filter, tail.bias, tail.prelu], (out, [xv, fv, bias, prelu]) => {
        env.binding.denseConv2d({ x: xv!, filter: fv!, out, geometry: g, ...epilogueArgs(tail, bias, prelu) });
      }),
  };
};

export const conv2dBackpropInputKernel: DenseKernelImpl = (args, env) => {
  const dy = input(args, 'dy');
  const filter = input(args, 'filter');
  const info = convInfo(args, args.attrs.inputShape as number[], filter.shape, 1);
  if ('declined' in info) return info;
  const g = conv2dGeometry(info);
  return {
    size: { flops: convFlops(g) },
    run: () =>
      runNative(env, info.inShape, [dy, filter], (dx, [dyv, fv]) => {
        env.binding.denseConv2dBackpropInput({ dy: dyv!, filter: fv!, dx, geometry: g });
      }),
  };
};

export const conv2dBackpropFilterKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  const dy = input(args, 'dy');
  const info = convInfo(args, x.shape, args.attrs.filterShape as number[], 1);
  if ('declined' in info) return info;
  const g = conv2dGeometry(info);
  return {
    size: { flops: convFlops(g) },
    run: () =>
      runNative(env, info.filterShape, [x, dy], (dw, [xv, dyv]) => {
        env.binding.denseConv2dBackpropFilter({ x: xv!, dy: dyv!, dw, geometry: g });
      }),
  };
};
