// Element-wise tfjs kernels on the strided engine: unary, binary (numpy broadcasting), select,
// casts, fills, AddN, Identity and Reshape (which share the data id, as tfjs cpu does).
import {
  type DataType,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
  backend_util,
  upcastType,
  util,
} from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend.js';
import { broadcastView, elementwiseTensor, fullView, runElementwise, withOutput } from './engine.js';

type OutType = 'same' | 'float32' | 'bool' | 'upcast' | 'int32';

function outDType(rule: OutType, inputs: TensorInfo[]): DataType {
  if (rule === 'same') return inputs[0].dtype;
  if (rule === 'upcast') return inputs.map((t) => t.dtype).reduce((a, b) => upcastType(a, b));
  return rule;
}

// tfjs kernel name -> [engine op, output dtype]
const UNARY: Record<string, [string, OutType]> = {
  Abs: ['abs', 'same'],
  Neg: ['neg', 'same'],
  Sign: ['sign', 'same'],
  Square: ['square', 'same'],
  Floor: ['floor', 'same'],
  Ceil: ['ceil', 'same'],
  Round: ['round', 'same'],
  Relu: ['relu', 'same'],
  Relu6: ['relu6', 'same'],
  Exp: ['exp', 'float32'],
  Expm1: ['expm1', 'float32'],
  Log: ['log', 'float32'],
  Log1p: ['log1p', 'float32'],
  Sqrt: ['sqrt', 'float32'],
  Rsqrt: ['rsqrt', 'float32'],
  Reciprocal: ['reciprocal', 'float32'],
  Elu: ['elu', 'float32'],
  Selu: ['selu', 'float32'],
  Sigmoid: ['sigmoid', 'float32'],
  Softplus: ['softplus', 'float32'],
  Tanh: ['tanh', 'float32'],
  Sin: ['sin', 'float32'],
  Cos: ['cos', 'float32'],
  Tan: ['tan', 'float32'],
  Asin: ['asin', 'float32'],
  Acos: ['acos', 'float32'],
  Atan: ['atan', 'float32'],
  Sinh: ['sinh', 'float32'],
  Cosh: ['cosh', 'float32'],
  Asinh: ['asinh', 'float32'],
  Acosh: ['acosh', 'float32'],
  Atanh: ['atanh', 'float32'],
  Erf: ['erf', 'float32'],
  LogicalNot: ['logicalNot', 'bool'],
  IsNan: ['isNan', 'bool'],
  IsInf: ['isInf', 'bool'],
  IsFinite: ['isFinite', 'bool'],
};

const BINARY: Record<string, [string, OutType]> = {
  Add: ['add', 'upcast'],
  Sub: ['sub', 'upcast'],
  Multiply: ['mul', 'upcast'],
  RealDiv: ['div', 'float32'],
  FloorDiv: ['floorDiv', 'int32'],
  Mod: ['mod', 'upcast'],
  Pow: ['pow', 'upcast'],
  Maximum: ['maximum', 'upcast'],
  Minimum: ['minimum', 'upcast'],
  SquaredDifference: ['squaredDifference', 'upcast'],
  Atan2: ['atan2', 'upcast'],
  Equal: ['equal', 'bool'],
  NotEqual: ['notEqual', 'bool'],
  Less: ['less', 'bool'],
  LessEqual: ['lessEqual', 'bool'],
  Greater: ['greater', 'bool'],
  GreaterEqual: ['greaterEqual', 'bool'],
  LogicalAnd: ['logicalAnd', 'bool'],
  LogicalOr: ['logicalOr', 'bool'],
};

type KernelArgs = { inputs: Record<string, TensorInfo>; attrs: NamedAttrMap; backend: CudaBackend };
type Impl = (args: KernelArgs) => TensorInfo | TensorInfo[];

export function kernel(kernelName: string, impl: Impl): KernelConfig {
  return {
    kernelName,
    backendName: 'cuda',
    kernelFunc: (args) => impl(args as unknown as KernelArgs),
  };
}

function rejectComplexOrString(kernelName: string, inputs: TensorInfo[]): void {
  for (const t of inputs) {
    if (t.dtype === 'complex64' || t.dtype === 'string') {
      throw new Error(`${kernelName}: the cuda backend does not support ${t.dtype} tensors`);
    }
  }
}

function unary(
  kernelName: string,
  op: string,
  rule: OutType,
  alpha?: (attrs: NamedAttrMap) => [number, number],
): KernelConfig {
  return kernel(kernelName, ({ inputs: { x }, attrs, backend }) => {
    rejectComplexOrString(kernelName, [x]);
    const [a, b] = alpha?.(attrs) ?? [0, 0];
    return elementwiseTensor(backend, kernelName, op, [...x.shape], outDType(rule, [x]), [x], a, b);
  });
}

function binaryOf(kernelName: string, op: string, rule: OutType, names: [string, string]): KernelConfig {
  return kernel(kernelName, ({ inputs, backend }) => {
    const a = inputs[names[0]],
      b = inputs[names[1]];
    rejectComplexOrString(kernelName, [a, b]);
    const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    return elementwiseTensor(backend, kernelName, op, shape, outDType(rule, [a, b]), [a, b]);
  });
}

/** Shares the data id under a new shape (tfjs cpu's Reshape and Identity do the same). */
function share(backend: CudaBackend, x: TensorInfo, shape: number[], kernelName: string): TensorInfo {
  backend.handle(x, kernelName);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

export function fillTensor(backend: CudaBackend, shape: number[], dtype: DataType, value: number): TensorInfo {
  return withOutput(backend, shape, dtype, (out) =>
    runElementwise(backend, 'fill', shape, fullView(backend, out, 'Fill'), [], value),
  );
}

/** x converted to `dtype` (a fresh tensor; bool is x != 0). */
export function castTensor(backend: CudaBackend, x: TensorInfo, dtype: DataType, kernelName = 'Cast'): TensorInfo {
  rejectComplexOrString(kernelName, [x]);
  if (dtype === 'complex64' || dtype === 'string') {
    throw new Error(`${kernelName}: the cuda backend does not support ${dtype} tensors`);
  }
  return elementwiseTensor(backend, kernelName, dtype === 'bool' ? 'toBool' : 'copy', [...x.shape], dtype, [x]);
}

export const ELEMENTWISE_KERNELS: KernelConfig[] = [
  ...Object.entries(UNARY).map(([name, [op, rule]]) => unary(name, op, rule)),
  unary('LeakyRelu', 'leakyRelu', 'float32', (attrs) => [attrs.alpha as number, 0]),
  unary('Step', 'step', 'same', (attrs) => [attrs.alpha as number, 0]),
  unary('ClipByValue', 'clip', 'same', (attrs) => [attrs.clipValueMin as number, attrs.clipValueMax as number]),
  ...Object.entries(BINARY).map(([name, [op, rule]]) => binaryOf(name, op, rule, ['a', 'b'])),
  binaryOf('Prelu', 'prelu', 'float32', ['x', 'alpha']),
  binaryOf('EluGrad', 'eluGrad', 'float32', ['dy', 'y']),
  kernel('Select', ({ inputs: { condition, t, e }, backend }) => {
    const shape = backend_util.assertAndGetBroadcastShape(t.shape, e.shape);
    const conditionView = broadcastView(backend, condition, shape, 'Select');
    const dtype = upcastType(t.dtype, e.dtype);
    return withOutput(backend, shape, dtype, (out) =>
      runElementwise(backend, 'select', shape, fullView(backend, out, 'Select'), [
        conditionView,
        broadcastView(backend, t, shape, 'Select'),
        broadcastView(backend, e, shape, 'Select'),
      ]),
    );
  }),
  kernel('AddN', ({ inputs, backend }) => {
    const tensors = Object.values(inputs);
    rejectComplexOrString('AddN', tensors);
    const shape = [...tensors[0].shape];
    const dtype = tensors.map((t) => t.dtype).reduce((a, b) => upcastType(a, b));
    if (tensors.length === 1) return castTensor(backend, tensors[0], dtype, 'AddN');
    return withOutput(backend, shape, dtype, (out) => {
      const outView = fullView(backend, out, 'AddN');
      runElementwise(backend, 'add', shape, outView, [
        fullView(backend, tensors[0], 'AddN'),
        fullView(backend, tensors[1], 'AddN'),
      ]);
      // Accumulating in place is safe: every element reads and writes only its own position.
      for (const t of tensors.slice(2)) {
        runElementwise(backend, 'add', shape, outView, [outView, fullView(backend, t, 'AddN')]);
      }
    });
  }),
  kernel('Cast', ({ inputs: { x }, attrs, backend }) => castTensor(backend, x, attrs.dtype as DataType)),
  kernel('Identity', ({ inputs: { x }, backend }) => share(backend, x, [...x.shape], 'Identity')),
  kernel('ExpandDims', ({ inputs: { input }, attrs, backend }) => {
    const rank = input.shape.length;
    const dim = attrs.dim as number;
    if (dim < -(rank + 1) || dim > rank) throw new Error(`ExpandDims: dim ${dim} is outside [${-(rank + 1)}, ${rank}]`);
    const axis = dim < 0 ? rank + 1 + dim : dim;
    return share(backend, input, [...input.shape.slice(0, axis), 1, ...input.shape.slice(axis)], 'ExpandDims');
  }),
  kernel('Reshape', ({ inputs: { x }, attrs, backend }) =>
    share(backend, x, util.inferFromImplicitShape(attrs.shape as number[], util.sizeFromShape(x.shape)), 'Reshape'),
  ),
  kernel('ZerosLike', ({ inputs: { x }, backend }) => fillTensor(backend, [...x.shape], x.dtype, 0)),
  kernel('OnesLike', ({ inputs: { x }, backend }) => fillTensor(backend, [...x.shape], x.dtype, 1)),
  kernel('Fill', ({ attrs, backend }) => {
    const dtype = (attrs.dtype as DataType) ?? util.inferDtype(attrs.value as number);
    return fillTensor(backend, attrs.shape as number[], dtype, Number(attrs.value));
  }),
  kernel('Range', ({ attrs, backend }) => {
    const { start, stop, step, dtype } = attrs as { start: number; stop: number; step: number; dtype: DataType };
    // tfjs cpu's rules: empty when the step points away (a step of 1 is flipped for a falling range).
    const empty = start === stop || (start < stop && step < 0) || (stop < start && step > 1);
    const size = empty ? 0 : Math.abs(Math.ceil((stop - start) / step));
    const signedStep = stop < start && step === 1 ? -1 : step;
    return withOutput(backend, [size], dtype, (out) =>
      runElementwise(backend, 'iota', [size], fullView(backend, out, 'Range'), [], start, signedStep),
    );
  }),
];
