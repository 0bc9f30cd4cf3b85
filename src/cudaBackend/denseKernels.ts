// Matrix products and convolutions on the addon's CUDA kernels (native/cuda/backend/dense.cuh):
// exact fp32 by default; UCMG_CUDA_TF32=1 opts into TF32 operands. NHWC only.
import { type KernelConfig, type NamedAttrMap, type TensorInfo, backend_util, util } from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';
import { broadcastView, fullView, runElementwise, withOutput, withTemporaries } from './engine.js';
import { castTensor, kernel } from './elementwiseKernels.js';
import { transposeTensor } from './layoutKernels.js';
import { conv2dGeometry } from '../dense/convKernels.js';
import type { DenseConv2dGeometry } from '../native/binding.js';
import type { NativeDeviceEpilogue } from './native.js';

/** TF32 products are an explicit opt-in (UCMG_CUDA_TF32=1); exact fp32 otherwise. */
function tf32(): boolean {
  return process.env.UCMG_CUDA_TF32 === '1';
}

type Activation = NonNullable<NativeDeviceEpilogue['activation']>;

function requireFloat32(kernelName: string, tensors: TensorInfo[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new Error(`${kernelName}: the cuda backend runs float32 only, got ${t.dtype}`);
  }
}

/**
 * The fused tail as device handles when the native epilogue can take it (bias and PReLU weights
 * of 1 or `columns` elements), else null: then the tail runs as separate element-wise ops.
 */
function nativeEpilogue(
  backend: CudaBackend,
  kernelName: string,
  columns: number,
  attrs: NamedAttrMap,
  bias?: TensorInfo,
  prelu?: TensorInfo,
): NativeDeviceEpilogue | null {
  // A vector along the last (column / channel) axis, or a single value.
  const fits = (t?: TensorInfo) =>
    t === undefined ||
    (t.shape.slice(0, -1).every((d) => d === 1) && [1, columns].includes(util.sizeFromShape(t.shape)));
  if (!fits(bias) || !fits(prelu)) return null;
  return {
    activation: ((attrs.activation as string | undefined) ?? 'linear') as Activation,
    ...(attrs.leakyreluAlpha === undefined ? {} : { leakyreluAlpha: attrs.leakyreluAlpha as number }),
    ...(bias === undefined ? {} : { bias: backend.handle(bias, kernelName) }),
    ...(prelu === undefined ? {} : { preluAlpha: backend.handle(prelu, kernelName) }),
  };
}

const ACTIVATION_OPS: Record<string, string> = {
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  leakyrelu: 'leakyRelu',
  prelu: 'prelu',
  sigmoid: 'sigmoid',
};

/** y = activation(y + bias) in place, with tfjs broadcasting, for tails the native epilogue cannot take. */
function applyTail(
  backend: CudaBackend,
  kernelName: string,
  y: TensorInfo,
  attrs: NamedAttrMap,
  bias?: TensorInfo,
  prelu?: TensorInfo,
): void {
  const shape = [...y.shape];
  const view = fullView(backend, y, kernelName);
  if (bias !== undefined) {
    runElementwise(backend, 'add', shape, view, [view, broadcastView(backend, bias, shape, kernelName)]);
  }
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (activation === 'linear') return;
  const op = ACTIVATION_OPS[activation];
  if (op === undefined) throw new Error(`${kernelName}: activation '${activation}' is not supported`);
  const inputs = activation === 'prelu' ? [view, broadcastView(backend, prelu!, shape, kernelName)] : [view];
  runElementwise(backend, op, shape, view, inputs, (attrs.leakyreluAlpha as number | undefined) ?? 0.2);
}

function matMul(
  backend: CudaBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const { a, b, bias, preluActivationWeights: prelu } = inputs;
  if (a.dtype === 'int32' && b.dtype === 'int32' && bias === undefined) {
    // tfjs multiplies int32 matrices into int32: the fp32 product, truncated (exact below 2^24).
    return withTemporaries(backend, (temp) => {
      const product = temp(
        matMul(
          backend,
          kernelName,
          {
            a: temp(castTensor(backend, a, 'float32', kernelName)),
            b: temp(castTensor(backend, b, 'float32', kernelName)),
          },
          attrs,
        ),
      );
      return castTensor(backend, product, 'int32', kernelName);
    });
  }
  requireFloat32(kernelName, [a, b]);
  const transposeA = attrs.transposeA as boolean,
    transposeB = attrs.transposeB as boolean;
  const aRank = a.shape.length,
    bRank = b.shape.length;
  const m = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const k = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const n = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  const kB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  if (k !== kB) throw new Error(`${kernelName}: inner dimensions differ: ${k} and ${kB} ([${a.shape}] x [${b.shape}])`);
  const rank = Math.max(aRank, bRank) - 2;
  const pad = (s: number[]) => [...new Array<number>(rank - (s.length - 2)).fill(1), ...s.slice(0, -2)];
  const aBatch = pad([...a.shape]),
    bBatch = pad([...b.shape]);
  const batch = backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const outShape = [...batch, m, n];
  const epilogue = nativeEpilogue(backend, kernelName, n, attrs, bias, prelu);
  return withOutput(backend, outShape, 'float32', (out) => {
    backend.native.matMul({
      a: backend.handle(a, kernelName),
      b: backend.handle(b, kernelName),
      out: backend.handle(out, kernelName),
      m,
      n,
      k,
      transposeA,
      transposeB,
      aBatch,
      bBatch,
      tf32: tf32(),
      ...(epilogue ?? {}),
    });
    if (epilogue === null) applyTail(backend, kernelName, out, attrs, bias, prelu);
  });
}

type Shape4D = [number, number, number, number];

function convGeometry(
  kernelName: string,
  attrs: NamedAttrMap,
  xShape: number[],
  filterShape: number[],
): DenseConv2dGeometry {
  const format = backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC');
  if (format !== 'channelsLast') throw new Error(`${kernelName}: the cuda backend runs NHWC convolutions only`);
  const info = backend_util.computeConv2DInfo(
    xShape as Shape4D,
    filterShape as Shape4D,
    attrs.strides as number | [number, number],
    (attrs.dilations ?? 1) as number | [number, number],
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    format,
  );
  return conv2dGeometry(info);
}

function conv2d(
  backend: CudaBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  if (attrs.dataFormat === 'NCHW') {
    // The kernels are NHWC: transpose the input, explicit paddings, 3-D bias / PReLU weights
    // ([C, H, W]) and the output.
    return withTemporaries(backend, (temp) => {
      const toNhwc = (t: TensorInfo | undefined) =>
        t === undefined || t.shape.length !== 3 ? t : temp(transposeTensor(backend, t, [1, 2, 0], kernelName));
      const x = temp(transposeTensor(backend, inputs.x, [0, 2, 3, 1], kernelName));
      const pad = nhwcPad(attrs);
      const nhwcInputs: Record<string, TensorInfo> = { ...inputs, x };
      for (const key of ['bias', 'preluActivationWeights']) {
        const converted = toNhwc(inputs[key]);
        if (converted === undefined) delete nhwcInputs[key];
        else nhwcInputs[key] = converted;
      }
      const y = temp(conv2d(backend, kernelName, nhwcInputs, { ...attrs, pad, dataFormat: 'NHWC' }));
      return transposeTensor(backend, y, [0, 3, 1, 2], kernelName);
    });
  }
  const { x, filter, bias, preluActivationWeights: prelu } = inputs;
  requireFloat32(kernelName, [x, filter]);
  const g = convGeometry(kernelName, attrs, [...x.shape], [...filter.shape]);
  const epilogue = nativeEpilogue(backend, kernelName, g.outChannels, attrs, bias, prelu);
  return withOutput(backend, [g.batch, g.outHeight, g.outWidth, g.outChannels], 'float32', (out) => {
    backend.native.conv2d({
      x: backend.handle(x, kernelName),
      filter: backend.handle(filter, kernelName),
      out: backend.handle(out, kernelName),
      geometry: g,
      tf32: tf32(),
      ...(epilogue ?? {}),
    });
    if (epilogue === null) applyTail(backend, kernelName, out, attrs, bias, prelu);
  });
}

/** An NCHW call's explicit paddings in NHWC order (other paddings unchanged). */
function nhwcPad(attrs: NamedAttrMap): NamedAttrMap['pad'] {
  return Array.isArray(attrs.pad) ? [0, 2, 3, 1].map((k) => (attrs.pad as number[][])[k]) : attrs.pad;
}

function conv2dBackpropInput(
  backend: CudaBackend,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const name = 'Conv2DBackpropInput';
  const { dy, filter } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    return withTemporaries(backend, (temp) => {
      const [n, c, h, w] = attrs.inputShape as number[];
      const dyNhwc = temp(transposeTensor(backend, dy, [0, 2, 3, 1], name));
      const dx = temp(
        conv2dBackpropInput(
          backend,
          { dy: dyNhwc, filter },
          { ...attrs, pad: nhwcPad(attrs), dataFormat: 'NHWC', inputShape: [n, h, w, c] },
        ),
      );
      return transposeTensor(backend, dx, [0, 3, 1, 2], name);
    });
  }
  requireFloat32(name, [dy, filter]);
  const g = convGeometry(name, attrs, attrs.inputShape as number[], [...filter.shape]);
  return withOutput(backend, attrs.inputShape as number[], 'float32', (dx) =>
    backend.native.conv2dBackpropInput({
      dy: backend.handle(dy, name),
      filter: backend.handle(filter, name),
      dx: backend.handle(dx, name),
      geometry: g,
      tf32: tf32(),
    }),
  );
}

function conv2dBackpropFilter(
  backend: CudaBackend,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const name = 'Conv2DBackpropFilter';
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    // The filter's layout does not depend on the data format: only x and dy are transposed.
    return withTemporaries(backend, (temp) =>
      conv2dBackpropFilter(
        backend,
        {
          x: temp(transposeTensor(backend, x, [0, 2, 3, 1], name)),
          dy: temp(transposeTensor(backend, dy, [0, 2, 3, 1], name)),
        },
        { ...attrs, pad: nhwcPad(attrs), dataFormat: 'NHWC' },
      ),
    );
  }
  requireFloat32(name, [x, dy]);
  const g = convGeometry(name, attrs, [...x.shape], attrs.filterShape as number[]);
  return withOutput(backend, attrs.filterShape as number[], 'float32', (dw) =>
    backend.native.conv2dBackpropFilter({
      x: backend.handle(x, name),
      dy: backend.handle(dy, name),
      dw: backend.handle(dw, name),
      geometry: g,
      tf32: tf32(),
    }),
  );
}

export const DENSE_KERNELS: KernelConfig[] = [
  kernel('BatchMatMul', ({ inputs, attrs, backend }) => matMul(backend, 'BatchMatMul', inputs, attrs)),
  kernel('_FusedMatMul', ({ inputs, attrs, backend }) => matMul(backend, '_FusedMatMul', inputs, attrs)),
  kernel('Conv2D', ({ inputs, attrs, backend }) => conv2d(backend, 'Conv2D', inputs, attrs)),
  kernel('FusedConv2D', ({ inputs, attrs, backend }) => conv2d(backend, 'FusedConv2D', inputs, attrs)),
  kernel('Conv2DBackpropInput', ({ inputs, attrs, backend }) => conv2dBackpropInput(backend, inputs, attrs)),
  kernel('Conv2DBackpropFilter', ({ inputs, attrs, backend }) => conv2dBackpropFilter(backend, inputs, attrs)),
];
