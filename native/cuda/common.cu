#include "common.cuh"
#include "reduce.cuh"
#include "runtime.cuh"
#include "ucmg/ops.h"

namespace ucmg::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kSumThreads = 1024;

// One warp per codebook row.
template <class T>
__global__ void codebookNormsKernel(const float* codebook, int64_t m, int64_t d, T* squaredNorms,
                                    unsigned long long* maxNormBits) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = (int64_t)gridDim.x * kWarpsPerBlock;
  for (int64_t j = (int64_t)blockIdx.x * kWarpsPerBlock + threadIdx.x / 32; j < m; j += warps) {
    const float* row = codebook + j * d;
    double sum = 0.0;
    for (int64_t t = lane; t < d; t += 32) sum += (double)row[t] * row[t];
    sum = warpReduce(sum, SumOp());
    if (lane == 0) {
      squaredNorms[j] = (T)sum;
      if (maxNormBits) atomicMax(maxNormBits, (unsigned long long)__double_as_longlong(sqrt(sum)));
    }
  }
}

__global__ void __launch_bounds__(kSumThreads)
    scaledSumKernel(const double* values, int64_t count, double scale, double* out) {
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += values[i];
  sum = blockReduce(sum, SumOp());
  if (threadIdx.x == 0) *out = scale * sum;
}

__global__ void fillUniformKernel(float* data, int64_t count, uint32_t seed, float lo, float hi) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    const double u = resetRandom(seed + (uint32_t)(i >> 32), 2u, (uint32_t)i);
    data[i] = lo + (hi - lo) * (float)u;
  }
}

}  // namespace

template <class T>
void launchCodebookNorms(const float* codebook, int64_t m, int64_t d, T* squaredNorms,
                         unsigned long long* maxNormBits, cudaStream_t stream) {
  if (m <= 0) return;
  codebookNormsKernel<T><<<blocksFor(m, kWarpsPerBlock, 65535), kWarpsPerBlock * 32, 0, stream>>>(
      codebook, m, d, squaredNorms, maxNormBits);
  UCMG_CHECK_LAUNCH("codebookNormsKernel");
}
template void launchCodebookNorms<float>(const float*, int64_t, int64_t, float*,
                                         unsigned long long*, cudaStream_t);
template void launchCodebookNorms<double>(const float*, int64_t, int64_t, double*,
                                          unsigned long long*, cudaStream_t);

void launchScaledSum(const double* values, int64_t count, double scale, double* out,
                     cudaStream_t stream) {
  scaledSumKernel<<<1, kSumThreads, 0, stream>>>(values, count, scale, out);
  UCMG_CHECK_LAUNCH("scaledSumKernel");
}

void launchFillUniform(float* data, int64_t count, uint32_t seed, float lo, float hi,
                       cudaStream_t stream) {
  if (count <= 0) return;
  fillUniformKernel<<<blocksFor(count, 256, 65535), 256, 0, stream>>>(data, count, seed, lo, hi);
  UCMG_CHECK_LAUNCH("fillUniformKernel");
}

}  // namespace ucmg::cuda
