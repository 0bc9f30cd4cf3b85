// The hot ops on the 'cuda' backend's device tensors: their CUDA kernels read the operands where
// they are and write fresh device tensors, so nothing crosses to the host but one validity flag.
import { type Tensor, type Tensor1D, type Tensor2D, type TensorInfo, all, engine, isFinite, logicalAnd, tidy }
  from '@tensorflow/tfjs-core';
import { CUDA_BACKEND_NAME, type CudaBackend } from './backend.js';

/** The active tfjs backend when it is 'cuda', else null. */
export function activeCudaBackend(): CudaBackend | null {
  return engine().backendName === CUDA_BACKEND_NAME ? (engine().backend as CudaBackend) : null;
}

/** Whether every element of every tensor is finite: one scalar read from the device. */
function allFinite(tensors: Tensor[]): boolean {
  const flag = tidy(() => tensors.map((t) => all(isFinite(t))).reduce((a, b) => logicalAnd(a, b)));
  const value = flag.dataSync()[0];
  flag.dispose();
  return value !== 0;
}

/** Makes tensors of `infos` after `run` filled them; frees them all if it throws. */
function outputs<T extends Tensor[]>(backend: CudaBackend, infos: TensorInfo[], run: () => void): T {
  try {
    run();
  } catch (error) {
    for (const info of infos) backend.disposeIntermediateTensorInfo(info);
    throw error;
  }
  return infos.map((info) => engine().makeTensorFromTensorInfo(info, backend)) as T;
}

/**
 * quantize on device tensors: indices, distances (and the gathered rows) stay on the device.
 * Returns null when an operand is not finite, so that the caller's host check names the element.
 */
export function quantizeOnCuda(backend: CudaBackend, z: Tensor2D, codebook: Tensor2D, gather: boolean):
  { indices: Tensor1D; distances: Tensor1D; quantized?: Tensor2D } | null {
  if (!allFinite([z, codebook])) return null;
  const [n, d] = z.shape;
  const m = codebook.shape[0];
  const infos = [backend.makeOutput([n], 'int32'), backend.makeOutput([n], 'float32'),
    ...(gather ? [backend.makeOutput([n, d], 'float32')] : [])];
  const [indices, distances, quantized] = outputs<Tensor[]>(backend, infos, () =>
    backend.native.quantize({ z: backend.handle(z, 'quantize'), codebook: backend.handle(codebook, 'quantize'), n, m, d,
      indices: backend.handle(infos[0]), distances: backend.handle(infos[1]),
      ...(gather ? { gathered: backend.handle(infos[2]) } : {}) }));
  return { indices: indices as Tensor1D, distances: distances as Tensor1D,
    ...(quantized === undefined ? {} : { quantized: quantized as Tensor2D }) };
}
