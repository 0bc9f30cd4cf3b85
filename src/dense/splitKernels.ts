// SplitV and Unpack for the tfjs cpu backend: each output is one run of x along an axis, i.e.
// `outer` contiguous blocks, copied with TypedArray.set (a memcpy). tfjs cpu slices element by
// element through index arithmetic; when it hosts the paper model, splitting the decoders' concat
// gradients alone took seconds per step. (tfjs wasm slices natively: not registered there.)
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tfjs.js';
import { input, type DenseKernelEnv, type DenseKernelImpl, type DenseKernelResult } from './nativeCall.js';

/** x split along `axis` into runs of `sizes`; each output gets `shapeOf(size)`. */
function copyRuns(
  env: DenseKernelEnv,
  x: TensorInfo,
  axis: number,
  sizes: number[],
  shapeOf: (size: number) => number[],
): DenseKernelResult {
  const source = env.memory.view(x);
  if (source === null) return { declined: 'tensor memory not addressable' };
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const row = x.shape[axis] * inner;
  const outputs: TensorInfo[] = [];
  try {
    let offset = 0;
    for (const size of sizes) {
      const out = env.memory.allocate(shapeOf(size));
      outputs.push(out);
      const target = env.memory.view(out)!;
      const block = size * inner;
      for (let o = 0; o < outer; o++)
        target.set(source.subarray(o * row + offset, o * row + offset + block), o * block);
      offset += block;
    }
    return outputs;
  } catch (error) {
    outputs.forEach((t) => env.memory.release(t));
    throw error;
  }
}

export const splitVKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  if (x.dtype !== 'float32') return { declined: 'non-float32 input' };
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs.numOrSizeSplits as number | number[], axis);
  return {
    size: { elements: tf.util.sizeFromShape(x.shape) },
    run: () => copyRuns(env, x, axis, sizes, (size) => x.shape.map((d, a) => (a === axis ? size : d))),
  };
};

export const unpackKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'value');
  if (x.dtype !== 'float32') return { declined: 'non-float32 input' };
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  return {
    size: { elements: tf.util.sizeFromShape(x.shape) },
    run: () =>
      copyRuns(env, x, axis, new Array<number>(x.shape[axis]).fill(1), () => x.shape.filter((_, a) => a !== axis)),
  };
};
