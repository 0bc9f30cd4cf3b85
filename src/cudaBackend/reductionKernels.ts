// Reductions (the reduced axes are transposed innermost first, as tfjs cpu does), Softmax, and
// the index kernels (gather, segment sums, scatter, one-hot).
import {
  type DataType,
  type KernelConfig,
  type TensorInfo,
  backend_util,
  upcastType,
  util,
} from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';
import { broadcastView, fullView, runElementwise, sizeOf, withOutput, withTemporaries } from './engine.js';
import { fillTensor, kernel } from './elementwiseKernels.js';
import { transposeTensor } from './layoutKernels.js';

const reduceNumbers = new WeakMap<CudaBackend, Map<string, number>>();

function reduceNumber(backend: CudaBackend, op: string): number {
  let numbers = reduceNumbers.get(backend);
  if (numbers === undefined) {
    numbers = new Map(backend.native.reduceOps.map((name, i) => [name, i]));
    reduceNumbers.set(backend, numbers);
  }
  const number = numbers.get(op);
  if (number === undefined) throw new Error(`cuda backend: the addon has no reduce op '${op}' (stale build?)`);
  return number;
}

/** op over `axes` of x, into a new tensor of `dtype` (shape with the axes removed, or kept as 1s). */
export function reduceTensor(
  backend: CudaBackend,
  kernelName: string,
  op: string,
  x: TensorInfo,
  axisAttr: number | number[],
  keepDims: boolean,
  dtype: DataType,
): TensorInfo {
  const origAxes = util.parseAxisParam(axisAttr, x.shape);
  let axes = origAxes;
  const permutation = backend_util.getAxesPermutation(axes, x.shape.length);
  return withTemporaries(backend, (temp) => {
    let input = x;
    if (permutation !== null) {
      input = temp(transposeTensor(backend, x, permutation, kernelName));
      axes = backend_util.getInnerMostAxes(axes.length, x.shape.length);
    }
    backend_util.assertAxesAreInnerMostDims(kernelName, axes, input.shape.length);
    const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(input.shape, axes);
    const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, origAxes) : outShape;
    return withOutput(backend, shape, dtype, (out) =>
      backend.native.reduce(
        reduceNumber(backend, op),
        backend.handle(input, kernelName),
        backend.handle(out, kernelName),
        sizeOf(outShape),
        sizeOf(reduceShape),
      ),
    );
  });
}

function reduction(kernelName: string, op: string, dtypeOf: (x: TensorInfo) => DataType): KernelConfig {
  return kernel(kernelName, ({ inputs: { x }, attrs, backend }) =>
    // Max and Min name their axes reductionIndices, the others axis.
    reduceTensor(
      backend,
      kernelName,
      op,
      x,
      (attrs.axis ?? attrs.reductionIndices) as number | number[],
      attrs.keepDims as boolean,
      dtypeOf(x),
    ),
  );
}

function argReduction(kernelName: string, op: string): KernelConfig {
  return kernel(kernelName, ({ inputs: { x }, attrs, backend }) =>
    reduceTensor(backend, kernelName, op, x, [attrs.axis as number[] | number].flat()[0], false, 'int32'),
  );
}

/** The rows of x (flattened to [rows, depth]) as int32 indices for the native index kernels. */
function requireInt32(kernelName: string, t: TensorInfo, what: string): void {
  if (t.dtype !== 'int32') throw new Error(`${kernelName}: ${what} must be int32, got ${t.dtype}`);
}

export const REDUCTION_KERNELS: KernelConfig[] = [
  reduction('Sum', 'sum', (x) => upcastType(x.dtype, 'int32')),
  reduction('Prod', 'prod', (x) => upcastType(x.dtype, 'int32')),
  reduction('Mean', 'mean', () => 'float32'),
  reduction('Max', 'max', (x) => x.dtype),
  reduction('Min', 'min', (x) => x.dtype),
  reduction('Any', 'any', () => 'bool'),
  reduction('All', 'all', () => 'bool'),
  argReduction('ArgMax', 'argMax'),
  argReduction('ArgMin', 'argMin'),
  kernel('Softmax', ({ inputs: { logits }, attrs, backend }) => {
    const dim = (attrs.dim as number) < 0 ? logits.shape.length + (attrs.dim as number) : (attrs.dim as number);
    const shape = [...logits.shape];
    return withTemporaries(backend, (temp) => {
      // exp(x - max) / sum(exp(x - max)) along the last axis, as tfjs cpu computes it.
      const max = temp(reduceTensor(backend, 'Softmax', 'max', logits, dim, true, 'float32'));
      const view = (t: TensorInfo) => fullView(backend, t, 'Softmax');
      const shifted = temp(
        withOutput(backend, shape, 'float32', (out) =>
          runElementwise(backend, 'sub', shape, view(out), [
            view(logits),
            broadcastView(backend, max, shape, 'Softmax'),
          ]),
        ),
      );
      runElementwise(backend, 'exp', shape, view(shifted), [view(shifted)]);
      const sum = temp(reduceTensor(backend, 'Softmax', 'sum', shifted, dim, true, 'float32'));
      return withOutput(backend, shape, 'float32', (out) =>
        runElementwise(backend, 'div', shape, view(out), [
          view(shifted),
          broadcastView(backend, sum, shape, 'Softmax'),
        ]),
      );
    });
  }),
  kernel('GatherV2', ({ inputs: { x, indices }, attrs, backend }) => {
    requireInt32('GatherV2', indices, 'indices');
    const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const info = backend_util.segment_util.collectGatherOpShapeInfo(
      x as never,
      indices as never,
      axis,
      attrs.batchDims as number,
    );
    const indexCount = util.sizeFromShape(indices.shape) / info.batchSize;
    return withOutput(backend, info.outputShape, x.dtype, (out) =>
      backend.native.gather(
        backend.handle(x, 'GatherV2'),
        backend.handle(indices, 'GatherV2'),
        backend.handle(out, 'GatherV2'),
        info.batchSize,
        info.outerSize,
        info.dimSize,
        info.sliceSize,
        indexCount,
      ),
    );
  }),
  kernel('UnsortedSegmentSum', ({ inputs: { x, segmentIds }, attrs, backend }) => {
    requireInt32('UnsortedSegmentSum', segmentIds, 'segmentIds');
    const rows = util.sizeFromShape(segmentIds.shape);
    const innerShape = x.shape.slice(segmentIds.shape.length);
    const segments = attrs.numSegments as number;
    return withOutput(backend, [segments, ...innerShape], x.dtype, (out) =>
      backend.native.segmentSum(
        backend.handle(x, 'UnsortedSegmentSum'),
        backend.handle(segmentIds, 'UnsortedSegmentSum'),
        backend.handle(out, 'UnsortedSegmentSum'),
        rows,
        sizeOf(innerShape),
        segments,
      ),
    );
  }),
  kernel('GatherNd', ({ inputs: { params, indices }, backend }) => {
    requireInt32('GatherNd', indices, 'indices');
    const depth = indices.shape[indices.shape.length - 1];
    const rows = util.sizeFromShape(indices.shape) / depth;
    const innerShape = params.shape.slice(depth);
    const outShape = [...indices.shape.slice(0, -1), ...innerShape];
    return withOutput(backend, outShape, params.dtype, (out) =>
      backend.native.gatherNd(
        backend.handle(params, 'GatherNd'),
        backend.handle(indices, 'GatherNd'),
        backend.handle(out, 'GatherNd'),
        rows,
        params.shape.slice(0, depth),
        sizeOf(innerShape),
      ),
    );
  }),
  kernel('ScatterNd', ({ inputs: { indices, updates }, attrs, backend }) => {
    requireInt32('ScatterNd', indices, 'indices');
    const shape = attrs.shape as number[];
    const { sliceRank, numUpdates, sliceSize } = backend_util.calculateShapes(
      updates as never,
      indices as never,
      shape,
    );
    return withOutput(backend, [...shape], updates.dtype, (out) =>
      backend.native.scatterNd(
        backend.handle(indices, 'ScatterNd'),
        backend.handle(updates, 'ScatterNd'),
        backend.handle(out, 'ScatterNd'),
        numUpdates,
        shape.slice(0, sliceRank),
        sliceSize,
      ),
    );
  }),
  kernel('OneHot', ({ inputs: { indices }, attrs, backend }) => {
    const { depth, onValue, offValue, dtype } = attrs as {
      depth: number;
      onValue: number;
      offValue: number;
      dtype: DataType;
    };
    const shape = [...indices.shape, depth];
    const flat = [sizeOf(indices.shape), depth];
    return withTemporaries(backend, (temp) => {
      const positions = temp(
        withOutput(backend, [depth], 'int32', (out) =>
          runElementwise(backend, 'iota', [depth], fullView(backend, out, 'OneHot'), [], 0, 1),
        ),
      );
      const on = temp(fillTensor(backend, [1], dtype, onValue));
      const off = temp(fillTensor(backend, [1], dtype, offValue));
      const hit = temp(
        withOutput(backend, flat, 'bool', (out) =>
          runElementwise(backend, 'equal', flat, fullView(backend, out, 'OneHot'), [
            [backend.handle(indices, 'OneHot'), 0, 1, 0],
            [backend.handle(positions, 'OneHot'), 0, 0, 1],
          ]),
        ),
      );
      return withOutput(backend, shape, dtype, (out) =>
        runElementwise(
          backend,
          'select',
          flat,
          [backend.handle(out, 'OneHot'), 0, depth, 1],
          [
            fullView(backend, hit, 'OneHot'),
            [backend.handle(on, 'OneHot'), 0, 0, 0],
            [backend.handle(off, 'OneHot'), 0, 0, 0],
          ],
        ),
      );
    });
  }),
];
