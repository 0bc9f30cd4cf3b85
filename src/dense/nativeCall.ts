// What every native dense kernel shares: the calling convention of a kernel override, running a
// native call on tfjs memory, and reading the fused bias / activation inputs.
import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { DenseActivation, DenseEpilogue, NativeBinding } from '../native/binding.js';
import { tf } from '../tfjs.js';
import type { TensorMemory } from './tensorMemory.js';

export interface DenseKernelArgs {
  inputs: NamedTensorInfoMap;
  attrs: NamedAttrMap;
  backend: KernelBackend;
}

export interface DenseKernelEnv {
  binding: NativeBinding;
  memory: TensorMemory;
}

/** Why the native kernel passes a call on to the original tfjs kernel. */
export interface Declined {
  declined: string;
}

/** The output(s) of the native kernel, or why it declined after all. */
export type DenseKernelResult = TensorInfo | TensorInfo[] | Declined;

/**
 * A call the native kernel accepts: its size, which decides whether it is worth the native round
 * trip (products: GEMM flops against minFlops; layout kernels: elements against minElements), and
 * how to run it.
 */
export interface DensePlan {
  /** `free`: cheaper than the tfjs kernel at any size (no threshold applies). */
  size: { flops: number } | { elements: number } | { free: true };
  run(): DenseKernelResult;
}

export type DenseKernelImpl = (args: DenseKernelArgs, env: DenseKernelEnv) => DensePlan | Declined;

/** A tensor input tfjs always passes to this kernel. */
export function input(args: DenseKernelArgs, name: string): TensorInfo {
  const tensor = args.inputs[name];
  if (tensor === undefined) throw new Error(`dense kernel: input '${name}' is missing`);
  return tensor;
}

export const declined = (why: string): Declined => ({ declined: why });

/**
 * Allocates the float32 output, takes in-place views of it and of `inputs` (absent optional
 * inputs stay undefined), and lets `compute` fill it. On a throw the output is freed, so a failed call leaves the
 * backend as it was. Declines when an input is not plain float32 memory.
 */
export function runNative(
  env: DenseKernelEnv,
  outShape: number[],
  inputs: (TensorInfo | undefined)[],
  compute: (out: Float32Array, views: (Float32Array | undefined)[]) => void,
): DenseKernelResult {
  if (inputs.some((t) => t !== undefined && t.dtype !== 'float32')) return declined('non-float32 input');
  const out = env.memory.allocate(outShape);
  try {
    // Views after the allocation: allocating can move the wasm heap.
    const views = inputs.map((t) => (t === undefined ? undefined : env.memory.view(t)));
    const outView = env.memory.view(out);
    if (outView === null || views.includes(null)) {
      env.memory.release(out);
      return declined('tensor memory not addressable');
    }
    compute(outView, views as (Float32Array | undefined)[]);
    return out;
  } catch (error) {
    env.memory.release(out);
    throw error;
  }
}

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'];

/** A tensor the epilogue can broadcast over `channels` output columns: one value, or one per column. */
function isChannelVector(shape: number[], channels: number): boolean {
  const size = tf.util.sizeFromShape(shape);
  return size === 1 || (size === channels && shape[shape.length - 1] === channels);
}

/** The fused bias / activation inputs of _FusedMatMul and FusedConv2D, checked for support. */
export interface FusedTail {
  bias?: TensorInfo;
  prelu?: TensorInfo;
  activation: DenseActivation;
  leakyreluAlpha?: number;
}

export function fusedTail(args: DenseKernelArgs, channels: number): FusedTail | Declined {
  const { bias, preluActivationWeights: prelu } = args.inputs;
  const activation = (args.attrs.activation as string | undefined) ?? 'linear';
  if (!ACTIVATIONS.includes(activation)) return declined(`activation '${activation}'`);
  if (bias !== undefined && !isChannelVector(bias.shape, channels)) return declined(`bias shape [${bias.shape}]`);
  if (activation === 'prelu' && (prelu === undefined || !isChannelVector(prelu.shape, channels))) {
    return declined(`prelu weights shape [${prelu?.shape}]`);
  }
  return {
    bias,
    prelu: activation === 'prelu' ? prelu : undefined,
    activation: activation as DenseActivation,
    leakyreluAlpha: args.attrs.leakyreluAlpha as number | undefined,
  };
}

/** The binding's epilogue arguments from the views of the tail's bias and prelu tensors. */
export function epilogueArgs(
  tail: FusedTail,
  bias: Float32Array | undefined,
  prelu: Float32Array | undefined,
): DenseEpilogue {
  return {
    activation: tail.activation,
    ...(bias === undefined ? {} : { bias }),
    ...(prelu === undefined ? {} : { preluAlpha: prelu }),
    ...(tail.leakyreluAlpha === undefined ? {} : { leakyreluAlpha: tail.leakyreluAlpha }),
  };
}
