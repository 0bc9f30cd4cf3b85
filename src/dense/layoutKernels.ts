// Transpose, Reverse, Sum and Mean on the native layout kernels. tfjs wasm runs transposes of rank 5 at
// a few million elements per second and sums over leading axes (bias gradients) through a
// transpose; tfjs cpu reverses a conv filter in seconds. In a training step those cost more than
// many of the products.
import { tf } from '../tfjs.js';
import { declined, input, runNative, type DenseKernelImpl } from './nativeCall.js';

/** The rank the native transpose handles (kMaxTransposeRank in native/dense/dense.h). */
const MAX_TRANSPOSE_RANK = 8;

export const transposeKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  const perm = args.attrs.perm as number[];
  const rank = x.shape.length;
  if (rank === 0 || rank > MAX_TRANSPOSE_RANK) return declined(`rank ${rank}`);
  return {
    size: { elements: tf.util.sizeFromShape(x.shape) },
    run: () =>
      runNative(
        env,
        perm.map((axis) => x.shape[axis]),
        [x],
        (out, [xv]) => {
          env.binding.denseTranspose({
            x: xv!,
            out,
            rank,
            shape: Int32Array.from(x.shape),
            perm: Int32Array.from(perm),
          });
        },
      ),
  };
};

/** tf.reverse: the identity permutation reading the reversed axes backwards. */
export const reverseKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  const rank = x.shape.length;
  if (rank === 0 || rank > MAX_TRANSPOSE_RANK) return declined(`rank ${rank}`);
  const axes = tf.util.parseAxisParam(args.attrs.dims as number | number[], x.shape);
  const reversed = Int32Array.from(x.shape, (_, axis) => (axes.includes(axis) ? 1 : 0));
  return {
    size: { elements: tf.util.sizeFromShape(x.shape) },
    run: () =>
      runNative(env, x.shape, [x], (out, [xv]) => {
        env.binding.denseTranspose({
          x: xv!,
          out,
          rank,
          shape: Int32Array.from(x.shape),
          perm: Int32Array.from(x.shape, (_, i) => i),
          reversed,
        });
      }),
  };
};

/** Sum or Mean over one run of consecutive axes: x seen as [outer, reduce, inner]. */
function reductionKernel(mean: boolean): DenseKernelImpl {
  return (args, env) => {
    const x = input(args, 'x');
    const axes = tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
    if (axes.length === 0) return declined('no axes to reduce');
    if (axes.some((axis, i) => axis !== axes[0] + i)) return declined(`axes [${axes}] are not consecutive`);
    const first = axes[0],
      last = axes[axes.length - 1];
    const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
    const reduce = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
    const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
    const outShape =
      args.attrs.keepDims === true
        ? x.shape.map((d, axis) => (axes.includes(axis) ? 1 : d))
        : x.shape.filter((_, axis) => axis < first || axis > last);
    return {
      size: { elements: outer * reduce * inner },
      run: () =>
        runNative(env, outShape, [x], (out, [xv]) => {
          env.binding.denseSumAxis({ x: xv!, out, outer, reduce, inner, scale: mean ? 1 / reduce : 1 });
        }),
    };
  };
}

export const sumKernel = reductionKernel(false);
export const meanKernel = reductionKernel(true);

/**
 * Identity as another reference to the same memory. tfjs-core clones every tensor it saves for
 * the backward pass through this kernel, and tfjs wasm copies each one (about 3,000 copies per
 * small training step); tfjs cpu already shares. Safe because no kernel writes into its inputs.
 */
export const identityKernel: DenseKernelImpl = (args, env) => {
  const x = input(args, 'x');
  if (x.dtype === 'string') return declined('string tensor');
  return { size: { free: true }, run: () => env.memory.share(x) };
};
