// Elementwise kernels for the tfjs cpu backend, whose own are plain JavaScript loops (tens of
// millions of elements per second). When it hosts a model too big for the wasm heap, the
// optimizer's and the backward's passes over the weights outweigh the products. (tfjs wasm's own
// elementwise kernels are fast: these are not registered there.)
import { tf } from '../tfjs.js';
import { declined, input, runNative, type DenseKernelImpl } from './nativeCall.js';

/**
 * How `shape` broadcasts to `outShape` as [outer, mid, inner] with the operand repeated along mid,
 * or null when its broadcast axes are not one consecutive run (then tfjs's kernel runs).
 */
function runOfBroadcast(shape: number[], outShape: number[]): { outer: number; mid: number; inner: number } | null {
  const aligned = [...new Array<number>(outShape.length - shape.length).fill(1), ...shape];
  const broadcast = outShape.map((d, axis) => aligned[axis] !== d);
  const first = broadcast.indexOf(true);
  if (first < 0) return { outer: tf.util.sizeFromShape(outShape), mid: 1, inner: 1 };
  const last = broadcast.lastIndexOf(true);
  if (broadcast.slice(first, last + 1).some((b) => !b)) return null;
  return {
    outer: tf.util.sizeFromShape(outShape.slice(0, first)),
    mid: tf.util.sizeFromShape(outShape.slice(first, last + 1)),
    inner: tf.util.sizeFromShape(outShape.slice(last + 1)),
  };
}

function binaryKernel(op: 'add' | 'sub' | 'mul' | 'div'): DenseKernelImpl {
  return (args, env) => {
    const a = input(args, 'a');
    const b = input(args, 'b');
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = tf.util.sizeFromShape(outShape);
    // The full operand fixes nothing; the other (if smaller) gives the run it repeats along.
    const partial = tf.util.sizeFromShape(a.shape) === n ? b : a;
    const run = runOfBroadcast(partial.shape, outShape);
    if (run === null || tf.util.sizeFromShape((partial === a ? b : a).shape) !== n) {
      return declined(`broadcast of [${a.shape}] and [${b.shape}]`);
    }
    return {
      size: { elements: n },
      run: () =>
        runNative(env, outShape, [a, b], (out, [av, bv]) =>
          env.binding.denseBinary({ op, a: av!, b: bv!, out, ...run }),
        ),
    };
  };
}

function unaryKernel(op: 'relu' | 'step' | 'sqrt' | 'square' | 'neg'): DenseKernelImpl {
  return (args, env) => {
    const x = input(args, 'x');
    const alpha = op === 'step' ? ((args.attrs.alpha as number | undefined) ?? 0) : undefined;
    return {
      size: { elements: tf.util.sizeFromShape(x.shape) },
      run: () =>
        runNative(env, x.shape, [x], (out, [xv]) => {
          env.binding.denseUnary({ op, x: xv!, out, ...(alpha === undefined ? {} : { alpha }) });
        }),
    };
  };
}

/** tfjs kernel name -> native kernel. */
export const ELEMENTWISE_KERNELS: Readonly<Record<string, DenseKernelImpl>> = {
  Add: binaryKernel('add'),
  Sub: binaryKernel('sub'),
  Multiply: binaryKernel('mul'),
  RealDiv: binaryKernel('div'),
  Relu: unaryKernel('relu'),
  Step: unaryKernel('step'),
  Sqrt: unaryKernel('sqrt'),
  Square: unaryKernel('square'),
  Neg: unaryKernel('neg'),
};
