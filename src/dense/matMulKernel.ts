// BatchMatMul and _FusedMatMul on the native GEMM. Batch dimensions broadcast as in numpy;
// _FusedMatMul adds its bias and activation in the same native call.
import { tf } from '../tfjs.js';
import { declined, epilogueArgs, fusedTail, input, runNative, type DenseKernelImpl } from './nativeCall.js';

/** For every output matrix, the index of the a and b matrices it multiplies (numpy broadcasting). */
function broadcastBatchIndices(
  aBatch: number[],
  bBatch: number[],
): {
  outBatch: number[];
  aIndex: Int32Array;
  bIndex: Int32Array;
} {
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const rank = outBatch.length;
  const count = tf.util.sizeFromShape(outBatch);
  // Strides of a and b along each output batch axis, 0 where that operand broadcasts.
  const stridesOf = (shape: number[]): number[] => {
    const strides = new Array<number>(rank).fill(0);
    let stride = 1;
    for (let axis = rank - 1, own = shape.length - 1; own >= 0; axis--, own--) {
      strides[axis] = shape[own] === 1 ? 0 : stride;
      stride *= shape[own];
    }
    return strides;
  };
  const aStrides = stridesOf(aBatch);
  const bStrides = stridesOf(bBatch);
  const aIndex = new Int32Array(count);
  const bIndex = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let rest = i;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const coordinate = rest % outBatch[axis];
      rest = Math.floor(rest / outBatch[axis]);
      aIndex[i] += coordinate * aStrides[axis];
      bIndex[i] += coordinate * bStrides[axis];
    }
  }
  return { outBatch, aIndex, bIndex };
}

export const matMulKernel: DenseKernelImpl = (args, env) => {
  const a = input(args, 'a');
  const b = input(args, 'b');
  const transposeA = args.attrs.transposeA === true;
  const transposeB = args.attrs.transposeB === true;
  if (a.shape.length < 2 || b.shape.length < 2) return declined('rank < 2');
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  if ((transposeB ? bCols : bRows) !== k) return declined(`inner sizes ${k} and ${transposeB ? bCols : bRows} differ`);

  const tail = fusedTail(args, n);
  if ('declined' in tail) return tail;
  const { outBatch, aIndex, bIndex } = broadcastBatchIndices(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return {
    size: { flops: 2 * aIndex.length * m * n * k },
    run: () =>
      runNative(env, [...outBatch, m, n], [a, b, tail.bias, tail.prelu], (out, [av, bv, bias, prelu]) => {
        env.binding.denseMatMul({
          a: av!,
          b: bv!,
          out,
          m,
          n,
          k,
          transposeA,
          transposeB,
          batch: aIndex.length,
          aBatches: tf.util.sizeFromShape(a.shape.slice(0, -2)),
          bBatches: tf.util.sizeFromShape(b.shape.slice(0, -2)),
          aBatchIndex: aIndex,
          bBatchIndex: bIndex,
          ...epilogueArgs(tail, bias, prelu),
        });
      }),
  };
};
