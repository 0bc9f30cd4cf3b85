// Layout kernels: every one is a copy between views on the strided engine (a transpose permutes
// strides, a slice offsets them, a reverse negates them, a tile broadcasts over a doubled rank,
// concatenation and padding write into sub-views of the output).
import { type KernelConfig, type TensorInfo, backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';
import { contiguousStrides, fullView, runElementwise, sizeOf, withOutput } from './engine.js';
import { kernel } from './elementwiseKernels.js';
import type { NativeView } from './native.js';

/** Copies the elements of `from` (a view over `shape`) into `to` (a view over the same shape). */
function copy(backend: CudaBackend, shape: number[], to: NativeView, from: NativeView): void {
  if (sizeOf(shape) > 0) runElementwise(backend, 'copy', shape, to, [from]);
}

/** A view of x starting at `begin` with `steps` per axis (1 when absent). */
function subView(
  backend: CudaBackend,
  x: TensorInfo,
  begin: number[],
  kernelName: string,
  steps?: number[],
): NativeView {
  const strides = contiguousStrides(x.shape);
  const offset = begin.reduce((sum, b, k) => sum + b * strides[k], 0);
  return [backend.handle(x, kernelName), offset, ...strides.map((s, k) => s * (steps?.[k] ?? 1))];
}

export function transposeTensor(
  backend: CudaBackend,
  x: TensorInfo,
  perm: number[],
  kernelName = 'Transpose',
): TensorInfo {
  const strides = contiguousStrides(x.shape);
  const shape = perm.map((p) => x.shape[p]);
  return withOutput(backend, shape, x.dtype, (out) =>
    copy(backend, shape, fullView(backend, out, kernelName), [
      backend.handle(x, kernelName),
      0,
      ...perm.map((p) => strides[p]),
    ]),
  );
}

function sliceTensor(
  backend: CudaBackend,
  x: TensorInfo,
  begin: number[],
  size: number[],
  kernelName: string,
  steps?: number[],
): TensorInfo {
  return withOutput(backend, size, x.dtype, (out) =>
    copy(backend, size, fullView(backend, out, kernelName), subView(backend, x, begin, kernelName, steps)),
  );
}

/** Writes each input into its place along `axis` of a new tensor (Concat, Pack). */
function concatTensors(
  backend: CudaBackend,
  tensors: TensorInfo[],
  axis: number,
  shapeIn: (t: TensorInfo) => number[],
  kernelName: string,
): TensorInfo {
  const shapes = tensors.map(shapeIn);
  const outShape = [...shapes[0]];
  outShape[axis] = shapes.reduce((sum, s) => sum + s[axis], 0);
  const dtype = tensors[0].dtype;
  return withOutput(backend, outShape, dtype, (out) => {
    const outStrides = contiguousStrides(outShape);
    let at = 0;
    tensors.forEach((t, i) => {
      const shape = shapes[i];
      copy(
        backend,
        shape,
        [backend.handle(out, kernelName), at * outStrides[axis], ...outStrides],
        [backend.handle(t, kernelName), 0, ...contiguousStrides(shape)],
      );
      at += shape[axis];
    });
  });
}

export const LAYOUT_KERNELS: KernelConfig[] = [
  kernel('Transpose', ({ inputs: { x }, attrs, backend }) => transposeTensor(backend, x, attrs.perm as number[])),
  kernel('Slice', ({ inputs: { x }, attrs, backend }) => {
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number | number[]);
    slice_util.assertParamsValid(x, begin, size);
    return sliceTensor(backend, x, begin, size, 'Slice');
  }),
  kernel('StridedSlice', ({ inputs: { x }, attrs, backend }) => {
    const a = attrs as unknown as {
      begin: number[];
      end: number[];
      strides: number[];
      beginMask: number;
      endMask: number;
      ellipsisMask: number;
      newAxisMask: number;
      shrinkAxisMask: number;
    };
    const info = slice_util.sliceInfo(
      [...x.shape],
      a.begin,
      a.end,
      a.strides,
      a.beginMask,
      a.endMask,
      a.ellipsisMask,
      a.newAxisMask,
      a.shrinkAxisMask,
    );
    // One view over x's own rank (size per axis from the dense begin/end/strides), then the final shape.
    const size = slice_util.computeOutShape(info.begin, info.end, info.strides);
    const sliced = sliceTensor(backend, x, info.begin, size, 'StridedSlice', info.strides);
    return { ...sliced, shape: info.finalShape };
  }),
  kernel('Concat', ({ inputs, attrs, backend }) => {
    const tensors = Object.values(inputs);
    const axis = util.parseAxisParam(attrs.axis as number, tensors[0].shape)[0];
    backend_util.assertParamsConsistent(
      tensors.map((t) => t.shape),
      axis,
    );
    return concatTensors(backend, tensors, axis, (t) => [...t.shape], 'Concat');
  }),
  kernel('Pack', ({ inputs, attrs, backend }) => {
    const tensors = Object.values(inputs);
    const axis = attrs.axis as number;
    for (const t of tensors) {
      if (t.dtype !== tensors[0].dtype) {
        throw new Error(`Pack: all tensors must have one dtype, got ${t.dtype} and ${tensors[0].dtype}`);
      }
    }
    return concatTensors(backend, tensors, axis, (t) => [...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)], 'Pack');
  }),
  kernel('Unpack', ({ inputs: { value }, attrs, backend }) => {
    const axis = util.parseAxisParam(attrs.axis as number, value.shape)[0];
    const shape = value.shape.filter((_, k) => k !== axis);
    const strides = contiguousStrides(value.shape);
    const outs: TensorInfo[] = [];
    try {
      for (let i = 0; i < value.shape[axis]; i++) {
        outs.push(
          withOutput(backend, shape, value.dtype, (out) =>
            copy(backend, shape, fullView(backend, out, 'Unpack'), [
              backend.handle(value, 'Unpack'),
              i * strides[axis],
              ...strides.filter((_, k) => k !== axis),
            ]),
          ),
        );
      }
    } catch (error) {
      for (const out of outs) backend.disposeIntermediateTensorInfo(out);
      throw error;
    }
    return outs;
  }),
  kernel('SplitV', ({ inputs: { x }, attrs, backend }) => {
    const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits as number | number[], axis);
    const outs: TensorInfo[] = [];
    const begin = x.shape.map(() => 0);
    try {
      for (const s of sizes) {
        const size = [...x.shape];
        size[axis] = s;
        outs.push(sliceTensor(backend, x, [...begin], size, 'SplitV'));
        begin[axis] += s;
      }
    } catch (error) {
      for (const out of outs) backend.disposeIntermediateTensorInfo(out);
      throw error;
    }
    return outs;
  }),
  kernel('PadV2', ({ inputs: { x }, attrs, backend }) => {
    const paddings = attrs.paddings as Array<[number, number]>;
    const outShape = x.shape.map((d, k) => paddings[k][0] + d + paddings[k][1]);
    return withOutput(backend, outShape, x.dtype, (out) => {
      const outView = fullView(backend, out, 'PadV2');
      if (sizeOf(outShape) > 0) runElementwise(backend, 'fill', outShape, outView, [], attrs.constantValue as number);
      const strides = contiguousStrides(outShape);
      const offset = paddings.reduce((sum, [before], k) => sum + before * strides[k], 0);
      copy(backend, [...x.shape], [outView[0], offset, ...strides], fullView(backend, x, 'PadV2'));
    });
  }),
  kernel('Tile', ({ inputs: { x }, attrs, backend }) => {
    const reps = attrs.reps as number[];
    const outShape = x.shape.map((d, k) => d * reps[k]);
    // out seen as [reps0, x0, reps1, x1, ...] (axes with one repetition stay single): x broadcast along the reps.
    const shape: number[] = [];
    const from: number[] = [];
    const xStrides = contiguousStrides(x.shape);
    x.shape.forEach((d, k) => {
      if (reps[k] !== 1) {
        shape.push(reps[k]);
        from.push(0);
      }
      shape.push(d);
      from.push(xStrides[k]);
    });
    if (shape.length > 8) throw new Error(`Tile: the cuda backend tiles at most 8 axes after merging, got [${shape}]`);
    return withOutput(backend, outShape, x.dtype, (out) =>
      copy(
        backend,
        shape,
        [backend.handle(out, 'Tile'), 0, ...contiguousStrides(shape)],
        [backend.handle(x, 'Tile'), 0, ...from],
      ),
    );
  }),
  kernel('Reverse', ({ inputs: { x }, attrs, backend }) => {
    const axes = util.parseAxisParam(attrs.dims as number | number[], x.shape);
    const strides = contiguousStrides(x.shape);
    let offset = 0;
    const steps = strides.map((s, k) => {
      if (!axes.includes(k) || x.shape[k] === 0) return s;
      offset += (x.shape[k] - 1) * s;
      return -s;
    });
    const shape = [...x.shape];
    return withOutput(backend, shape, x.dtype, (out) =>
      copy(backend, shape, fullView(backend, out, 'Reverse'), [backend.handle(x, 'Reverse'), offset, ...steps]),
    );
  }),
  kernel('BroadcastTo', ({ inputs: { x }, attrs, backend }) => {
    const shape = attrs.shape as number[];
    const lead = shape.length - x.shape.length;
    const own = contiguousStrides(x.shape);
    const strides = shape.map((_, k) => (k < lead || x.shape[k - lead] === 1 ? 0 : own[k - lead]));
    return withOutput(backend, [...shape], x.dtype, (out) =>
      copy(backend, [...shape], fullView(backend, out, 'BroadcastTo'), [
        backend.handle(x, 'BroadcastTo'),
        0,
        ...strides,
      ]),
    );
  }),
];
