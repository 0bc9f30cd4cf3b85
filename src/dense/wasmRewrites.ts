// Kernels of the tfjs wasm backend rebuilt from its fast ones, so that model code can use the plain
// tfjs ops (and their tfjs gradients) on any backend:
// - BatchMatMul / _FusedMatMul with a transpose flag run about 10x slower than on plain operands
//   (XNNPACK takes only plain ones): the flagged operand is transposed explicitly first.
// - Conv2DBackpropInput (what tf.conv2dTranspose and conv2d's input gradient run) is a plain loop
//   several times slower than Conv2D: at stride 1 it runs as a Conv2D of the padded dy with the
//   flipped filter.
// - Conv2DBackpropFilter does not exist on tfjs wasm: at stride 1 it runs as one Conv2D with the
//   batch in the channel position.
// Each rewrite calls the kernels registered at call time, so while src/dense's native kernels
// are enabled they run natively. This module imports tfjs-core itself, not ../tfjs.js, because
// src/tfjs.ts registers these kernels while it sets tfjs up.
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

const HOST = 'wasm';

/** A kernel's arguments as a backend's kernels see them (tfjs types the backend as `{}`). */
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  attrs: NamedAttrMap;
  backend: KernelBackend;
}
type Kernel = (args: KernelArgs) => TensorInfo | TensorInfo[];
const asKernel = (config: KernelConfig): Kernel => config.kernelFunc as unknown as Kernel;

/** Runs the wasm kernel registered now under `kernelName`. */
function runKernel(
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
  backend: KernelBackend,
): TensorInfo {
  const kernel = getKernel(kernelName, HOST);
  if (kernel === undefined) throw new Error(`${kernelName}: no kernel registered for the tfjs '${HOST}' backend`);
  return asKernel(kernel)({ inputs, attrs, backend }) as TensorInfo;
}

/** `body` with a list for its intermediate tensors, which are freed when it returns or throws. */
function withTemporaries<T>(backend: KernelBackend, body: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const temporaries: TensorInfo[] = [];
  try {
    return body((t) => {
      temporaries.push(t);
      return t;
    });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** BatchMatMul or _FusedMatMul on plain operands: a flagged operand is transposed first. */
function plainOperandsMatMul(original: KernelConfig): Kernel {
  const originalKernel = asKernel(original);
  return ({ inputs, attrs, backend }) => {
    const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return originalKernel({ inputs, attrs, backend });
    return withTemporaries(backend, (keep) => {
      const plain = (x: TensorInfo, flagged: boolean | undefined) =>
        flagged ? keep(runKernel('Transpose', { x }, { perm: swapLastTwo(x.shape.length) }, backend)) : x;
      return originalKernel({
        inputs: { ...inputs, a: plain(inputs.a, transposeA), b: plain(inputs.b, transposeB) },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      });
    });
  };
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The geometry of the forward conv that a backprop belongs to; null unless NHWC at stride 1. */
function strideOneGeometry(xShape: number[], filterShape: number[], attrs: ConvAttrs): backend_util.Conv2DInfo | null {
  if (attrs.dataFormat !== 'NHWC') return null;
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return info.strideHeight === 1 && info.strideWidth === 1 ? info : null;
}

/** A stride-1 Conv2D with the given zero padding [top, bottom, left, right] (kept inside the kernel). */
function paddedConv(x: TensorInfo, filter: TensorInfo, pad: number[], backend: KernelBackend): TensorInfo {
  const [top, bottom, left, right] = pad;
  return runKernel(
    'Conv2D',
    { x, filter },
    {
      strides: [1, 1],
      dilations: [1, 1],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
    } as unknown as NamedAttrMap,
    backend,
  );
}

/**
 * dx as the full correlation of dy with the filter flipped in space and its channel axes swapped,
 * dy padded by filter size - 1 - the forward padding on each side. Other geometry (strides,
 * padding wider than the filter) goes to the original kernel.
 */
function conv2dBackpropInput(original: KernelConfig): Kernel {
  const originalKernel = asKernel(original);
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const info = strideOneGeometry(attrs.inputShape, inputs.filter.shape, attrs);
    if (info === null) return originalKernel(args);
    const { top, bottom, left, right } = info.padInfo;
    const [fh, fw] = [info.filterHeight, info.filterWidth];
    const pad = [fh - 1 - top, fh - 1 - bottom, fw - 1 - left, fw - 1 - right];
    if (pad.some((p) => p < 0)) return originalKernel(args);
    return withTemporaries(backend, (keep) => {
      const flipped = keep(runKernel('Reverse', { x: inputs.filter }, { dims: [0, 1] }, backend));
      const swapped = keep(runKernel('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }, backend));
      return paddedConv(inputs.dy, swapped, pad, backend);
    });
  };
}

/**
 * dw[i, j, c, o] = sum over n, y, x of x[n, y+i-top, x+j-left, c] * dy[n, y, x, o]: a 'valid'
 * correlation of x seen as [c, H, W, n] with dy seen as a filter [outH, outW, n, o].
 */
const conv2dBackpropFilter: Kernel = (args) => {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
  const info = strideOneGeometry(inputs.x.shape, attrs.filterShape, attrs);
  if (info === null) {
    throw new Error(
      `Conv2DBackpropFilter: the tfjs '${HOST}' backend has no kernel of its own and the rewrite ` +
        `runs NHWC at stride 1 only; got dataFormat ${attrs.dataFormat}, strides ${JSON.stringify(attrs.strides)}`,
    );
  }
  const { top, bottom, left, right } = info.padInfo;
  return withTemporaries(backend, (keep) => {
    const channelsFirst = keep(runKernel('Transpose', { x: inputs.x }, { perm: [3, 1, 2, 0] }, backend));
    const dyFilter = keep(runKernel('Transpose', { x: inputs.dy }, { perm: [1, 2, 0, 3] }, backend));
    const perChannel = keep(paddedConv(channelsFirst, dyFilter, [top, bottom, left, right], backend));
    return runKernel('Transpose', { x: perChannel }, { perm: [1, 2, 0, 3] }, backend);
  });
};

/**
 * Registers the rewrites over the tfjs wasm kernels. Call once, after tfjs-backend-wasm is imported
 * (src/tfjs.ts does). The originals' setup functions are kept: the rewrites call the originals.
 */
export function registerWasmRewrites(): void {
  const replace = (kernelName: string, make: (original: KernelConfig) => Kernel) => {
    const original = getKernel(kernelName, HOST);
    if (original === undefined) throw new Error(`registerWasmRewrites: tfjs wasm has no ${kernelName} kernel`);
    unregisterKernel(kernelName, HOST);
    registerKernel({ ...original, kernelFunc: make(original) as unknown as KernelFunc });
  };
  replace('BatchMatMul', plainOperandsMatMul);
  replace('_FusedMatMul', plainOperandsMatMul);
  replace('Conv2DBackpropInput', conv2dBackpropInput);
  if (getKernel('Conv2DBackpropFilter', HOST) === undefined) {
    const kernelFunc = conv2dBackpropFilter as unknown as KernelFunc;
    registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: HOST, kernelFunc });
  }
}
