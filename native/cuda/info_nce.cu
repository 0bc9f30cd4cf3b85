// scores = targets preds^T over all modalities: row m*b + i, column n*b + j is S_mn[i, j].
// Each row segment n is softmaxed on its own; the softmax is never stored: one pass takes the
// rows' max and 1/sum, a second walks the columns for the argmax and overwrites each score
// with its gradient, and two GEMMs take that back to the inputs.
#include <math_constants.h>

#include <stdexcept>
#include <string>

#include "common.cuh"
#include "gemm.cuh"
#include "info_nce.cuh"
#include "reduce.cuh"

namespace ucmg::cuda {

namespace {

constexpr int kRowThreads = 256;

// The row-softmaxed score, as the CPU forms it: exp(s - max) * (float)(1 / sum).
__device__ inline float softmaxAt(float score, float rowMax, float rowScale) {
  return __fmul_rn(expf(score - rowMax), rowScale);
}

// Per row and segment: max, 1/sum of exp, and w_mn * log_softmax at the diagonal.
__global__ void __launch_bounds__(kRowThreads)
    rowStatsKernel(const float* scores, int k, int64_t b, const float* weights, float* rowMax,
                   float* rowScale, double* diagonalTerms) {
  const int64_t kb = k * b;
  for (int64_t r = blockIdx.x; r < kb; r += gridDim.x) {
    const int64_t m = r / b, i = r - m * b;
    for (int n = 0; n < k; ++n) {
      const float* segment = scores + r * kb + n * b;
      float high = -CUDART_INF_F;
      for (int64_t j = threadIdx.x; j < b; j += blockDim.x) high = fmaxf(high, segment[j]);
      high = blockReduce(high, MaxOp());
      double sum = 0.0;
      for (int64_t j = threadIdx.x; j < b; j += blockDim.x) sum += (double)expf(segment[j] - high);
      sum = blockReduce(sum, SumOp());
      if (threadIdx.x == 0) {
        const int64_t slot = r * k + n;
        rowMax[slot] = high;
        rowScale[slot] = (float)(1.0 / sum);
        diagonalTerms[slot] =
            (double)weights[m * k + n] * ((double)segment[i] - (double)high - log(sum));
      }
    }
  }
}

// One thread per (target modality m, column of S_mn): walks the column's b rows for the row
// i with the largest softmax value (ties to the lowest i), a hit when i is the column's own
// index. With scoreGrad, each visited score is also replaced by its gradient
// dLoss/dS = (w_mn / b) (softmax(S_mn) - I): together the threads visit every score once.
__global__ void columnKernel(float* __restrict__ scores, int k, int64_t b,
                             const float* __restrict__ weights, const float* __restrict__ rowMax,
                             const float* __restrict__ rowScale, unsigned int* hits,
                             bool scoreGrad) {
  const int64_t kb = k * b, total = k * kb, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t f = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; f < total; f += stride) {
    const int64_t m = f / kb, column = f - m * kb, n = column / b, j = column - n * b;
    const float gradScale = (float)((double)weights[m * k + n] / (double)b);
    float best = -1.0f;
    int64_t bestRow = 0;
#pragma unroll 4  // independent rows: several loads in flight
    for (int64_t i = 0; i < b; ++i) {
      const int64_t r = m * b + i;
      float* score = scores + r * kb + column;
      const float p = softmaxAt(*score, rowMax[r * k + n], rowScale[r * k + n]);
      if (p > best) best = p, bestRow = i;
      if (scoreGrad) *score = gradScale * (i == j ? p - 1.0f : p);
    }
    if (bestRow == j) atomicAdd(hits + m * k + n, 1u);
  }
}

}  // namespace

void infoNceOnDevice(const float* targets, const float* preds, int k, int64_t b, int64_t d,
                     const float* weights, double* loss, unsigned int* hits, float* gradTargets,
                     float* gradPreds, InfoNceWorkspace& work, cudaStream_t stream) {
  if (k < 1 || b < 1 || d < 0)
    throw std::invalid_argument("infoNce: need k >= 1, b >= 1, d >= 0; got k = " +
                                std::to_string(k) + ", b = " + std::to_string(b) +
                                ", d = " + std::to_string(d));
  const int64_t kb = k * b;
  auto* scores = work.scores.reserve<float>(kb * kb);
  auto* rowMax = work.rowMax.reserve<float>(kb * k);
  auto* rowScale = work.rowScale.reserve<float>(kb * k);
  auto* diagonalTerms = work.diagonalTerms.reserve<double>(kb * k);
  UCMG_CUDA_CHECK(cudaMemsetAsync(hits, 0, k * k * sizeof(unsigned int), stream));

  gemm<float>(false, true, kb, kb, d, 1.0f, targets, d, preds, d, 0.0f, scores, kb, stream);
  rowStatsKernel<<<blocksFor(kb, 1, 65535), kRowThreads, 0, stream>>>(scores, k, b, weights,
                                                                      rowMax, rowScale,
                                                                      diagonalTerms);
  UCMG_CHECK_LAUNCH("rowStatsKernel");
  launchScaledSum(diagonalTerms, kb * k, -1.0 / (double)b, loss, stream);
  const bool wantGrad = gradTargets || gradPreds;
  columnKernel<<<blocksFor(k * kb, 256, 65535), 256, 0, stream>>>(scores, k, b, weights, rowMax,
                                                                  rowScale, hits, wantGrad);
  UCMG_CHECK_LAUNCH("columnKernel");
  if (gradTargets)
    gemm<float>(false, false, kb, d, kb, 1.0f, scores, kb, preds, d, 0.0f, gradTargets, d, stream);
  if (gradPreds)
    gemm<float>(true, false, kb, d, kb, 1.0f, scores, kb, targets, d, 0.0f, gradPreds, d, stream);
}

}  // namespace ucmg::cuda
