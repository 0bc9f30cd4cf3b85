// Forward and backward of L_cmcm (ops.h; the derivation is written out in
// native/cpu/code_matching.cc). With Pall = [P_0; ...; P_{k-1}] and Lall = log(Pall + 1e-10),
// scores = Pall Lall^T holds every block P_x L_y^T, so the pair (x, y) reads
//   S = scores[x, y] + scores[y, x]   (blocks, same (i, j) in both),
// and its gradient G = dL/dS goes to both blocks. Then one GEMM each gives
//   dPall = dScores Lall  and  dLall = dScores^T Pall   for all pairs at once.
#include <math_constants.h>

#include <stdexcept>
#include <string>

#include "code_matching.cuh"
#include "common.cuh"
#include "gemm.cuh"
#include "reduce.cuh"

namespace ucmg::cuda {

namespace {

constexpr int kRowThreads = 256;
constexpr int kPairThreads = 1024;
constexpr double kLogFloor = 1e-10;

// Per row of z: distances to every code (clamped at 0) and p = softmax(-sqrt(distance)).
// distances holds -2 z.e on entry.
__global__ void __launch_bounds__(kRowThreads)
    softAssignKernel(const float* z, const double* codeNorms, int64_t rows, int64_t m,
                     int64_t d, double* distances, double* soft) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* zr = z + r * d;
    double zz = 0.0;
    for (int64_t u = threadIdx.x; u < d; u += blockDim.x) zz += (double)zr[u] * zr[u];
    zz = blockReduce(zz, SumOp());
    double* dist = distances + r * m;
    double* p = soft + r * m;
    double maxLogit = -CUDART_INF;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      dist[j] = fmax(0.0, __dadd_rn(__dadd_rn(dist[j], zz), codeNorms[j]));
      p[j] = -sqrt(dist[j]);
      maxLogit = fmax(maxLogit, p[j]);
    }
    maxLogit = blockReduce(maxLogit, MaxOp());
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) sum += (p[j] = exp(p[j] - maxLogit));
    sum = blockReduce(sum, SumOp());
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) p[j] /= sum;
  }
}

// P[c, j] = mean over the clip's t rows of p, and log(P + 1e-10); c runs over k * b clips.
__global__ void clipMeanKernel(const double* soft, int64_t clips, int64_t t, int64_t m,
                               double* mean, double* logMean) {
  const int64_t total = clips * m, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t clip = e / m, j = e - clip * m;
    double sum = 0.0;
    for (int64_t u = 0; u < t; ++u) sum += soft[(clip * t + u) * m + j];
    mean[e] = sum / (double)t;
    logMean[e] = log(mean[e] + kLogFloor);
  }
}

// The pair's two score blocks, ordered (x, y) by the block's index, x < y.
__device__ void pairOf(int pair, int k, int& x, int& y) {
  for (x = 0; x < k; ++x)
    for (y = x + 1; y < k; ++y)
      if (pair-- == 0) return;
}

// One block per modality pair: L_xy = -(1/b) sum_i [(S_ii - c) - log(sum_j exp(S_ij - c) + eps)]
// with c = min S; with scoreGrad, also gradScale * dL_xy/dS (the path through c shared
// equally by the entries equal to the minimum) into both of the pair's blocks.
__global__ void __launch_bounds__(kPairThreads)
    pairLossKernel(const double* scores, int k, int64_t b, double epsilon, double gradScale,
                   double* rowTotals, double* pairLosses, double* scoreGrad) {
  int x, y;
  pairOf(blockIdx.x, k, x, y);
  const int64_t kb = k * b;
  const double* direct = scores + x * b * kb + y * b;  // P_x L_y^T
  const double* mirror = scores + y * b * kb + x * b;  // P_y L_x^T
  auto S = [&](int64_t i, int64_t j) { return direct[i * kb + j] + mirror[i * kb + j]; };

  double shift = CUDART_INF;
  for (int64_t e = threadIdx.x; e < b * b; e += blockDim.x) shift = fmin(shift, S(e / b, e % b));
  shift = blockReduce(shift, MinOp());

  double* totals = rowTotals + blockIdx.x * b;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  double loss = 0.0, dShift = 0.0;
  for (int64_t i = warp; i < b; i += warps) {
    double z = 0.0;
    for (int64_t j = lane; j < b; j += 32) z += exp(S(i, j) - shift);
    z = warpReduce(z, SumOp());
    if (lane == 0) {
      totals[i] = z;
      loss -= (S(i, i) - shift) - log(z + epsilon);
      dShift += epsilon / (z + epsilon);
    }
  }
  loss = blockReduce(loss, SumOp());
  dShift = blockReduce(dShift, SumOp());  // also orders the writes of totals before the reads
  if (threadIdx.x == 0) pairLosses[blockIdx.x] = loss / (double)b;
  if (!scoreGrad) return;

  int ties = 0;
  for (int64_t e = threadIdx.x; e < b * b; e += blockDim.x) ties += S(e / b, e % b) == shift;
  ties = blockReduce(ties, SumOp());
  const double g = gradScale / (double)b;
  const double perTie = g * dShift / (double)ties;
  double* gradDirect = scoreGrad + x * b * kb + y * b;
  double* gradMirror = scoreGrad + y * b * kb + x * b;
  for (int64_t e = threadIdx.x; e < b * b; e += blockDim.x) {
    const int64_t i = e / b, j = e % b;
    const double v = S(i, j);
    const double grad = g * (exp(v - shift) / (totals[i] + epsilon) - (i == j ? 1.0 : 0.0)) +
                        (v == shift ? perTie : 0.0);
    gradDirect[i * kb + j] = grad;
    gradMirror[i * kb + j] = grad;
  }
}

// dP += dL / (P + 1e-10): the log's derivative joins the direct one.
__global__ void meanGradKernel(double* meanGrad, const double* logMeanGrad, const double* mean,
                               int64_t count) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += stride)
    meanGrad[e] += logMeanGrad[e] / (mean[e] + kLogFloor);
}

// Per row: from dP back through the mean over t, the softmax and the square root to
// dDistance (written over p), and its row sum.
__global__ void __launch_bounds__(kRowThreads)
    softBackwardKernel(const double* meanGrad, const double* distances, int64_t rows, int64_t t,
                       int64_t m, double* soft, double* rowSums) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const double* dp = meanGrad + (r / t) * m;  // dp_t = dP / t, the 1/t applied below
    const double* dist = distances + r * m;
    double* p = soft + r * m;
    double dot = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) dot += dp[j] * p[j];
    dot = blockReduce(dot, SumOp());
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      const double da = p[j] * (dp[j] - dot) / (double)t;
      const double dd = dist[j] > 0.0 ? -da / (2.0 * sqrt(dist[j])) : 0.0;
      p[j] = dd;
      sum += dd;
    }
    sum = blockReduce(sum, SumOp());
    if (threadIdx.x == 0) rowSums[r] = sum;
  }
}

// dz = -2 dDistance E (already in inputGrad) + 2 z sum_j dDistance_j.
__global__ void inputGradKernel(const double* inputGrad, const double* rowSums, const float* z,
                                int64_t rows, int64_t d, float* grad) {
  const int64_t total = rows * d, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride)
    grad[e] =
        (float)__dadd_rn(inputGrad[e], __dmul_rn(__dmul_rn(2.0, rowSums[e / d]), (double)z[e]));
}

}  // namespace

void codeMatchingOnDevice(const float* z, int k, int64_t b, int64_t t, int64_t d,
                          const float* codebook, int64_t m, float epsilon, double* loss,
                          float* grad, CodeMatchingWorkspace& work, cudaStream_t stream) {
  if (k < 2 || b < 1 || t < 1 || d < 0 || m < 1)
    throw std::invalid_argument("codeMatching: need k >= 2, b >= 1, t >= 1, d >= 0, m >= 1; "
                                "got k = " +
                                std::to_string(k) + ", b = " + std::to_string(b) + ", t = " +
                                std::to_string(t) + ", d = " + std::to_string(d) + ", m = " +
                                std::to_string(m));
  const int64_t rows = k * b * t, clips = k * b;
  const int pairs = k * (k - 1) / 2;
  const unsigned rowBlocks = blocksFor(rows, 1, 65535);
  auto* codeNorms = work.codeNorms.reserve<double>(m);
  auto* distances = work.distances.reserve<double>(rows * m);
  auto* soft = work.soft.reserve<double>(rows * m);
  auto* mean = work.mean.reserve<double>(clips * m);
  auto* logMean = work.logMean.reserve<double>(clips * m);
  auto* scores = work.scores.reserve<double>(clips * clips);
  auto* rowTotals = work.rowTotals.reserve<double>(pairs * b);
  auto* pairLosses = work.pairLosses.reserve<double>(pairs);
  double* scoreGrad = nullptr;
  if (grad) {
    scoreGrad = work.scoreGrad.reserve<double>(clips * clips);
    UCMG_CUDA_CHECK(cudaMemsetAsync(scoreGrad, 0, clips * clips * sizeof(double), stream));
  }

  launchCodebookNorms<double>(codebook, m, d, codeNorms, nullptr, stream);
  gemm<double>(false, true, rows, m, d, -2.0, z, d, codebook, d, 0.0, distances, m, stream);
  softAssignKernel<<<rowBlocks, kRowThreads, 0, stream>>>(z, codeNorms, rows, m, d, distances,
                                                          soft);
  UCMG_CHECK_LAUNCH("softAssignKernel");
  clipMeanKernel<<<blocksFor(clips * m, 256, 65535), 256, 0, stream>>>(soft, clips, t, m, mean,
                                                                        logMean);
  UCMG_CHECK_LAUNCH("clipMeanKernel");
  gemm<double>(false, true, clips, clips, m, 1.0, mean, m, logMean, m, 0.0, scores, clips, stream);
  pairLossKernel<<<pairs, kPairThreads, 0, stream>>>(scores, k, b, (double)epsilon, 0.5, rowTotals,
                                                     pairLosses, scoreGrad);
  UCMG_CHECK_LAUNCH("pairLossKernel");
  launchScaledSum(pairLosses, pairs, 0.5, loss, stream);
  if (!grad) return;

  auto* meanGrad = work.meanGrad.reserve<double>(clips * m);
  auto* logMeanGrad = work.logMeanGrad.reserve<double>(clips * m);
  auto* rowSums = work.rowSums.reserve<double>(rows);
  auto* inputGrad = work.inputGrad.reserve<double>(rows * d);
  gemm<double>(false, false, clips, m, clips, 1.0, scoreGrad, clips, logMean, m, 0.0, meanGrad, m,
               stream);
  gemm<double>(true, false, clips, m, clips, 1.0, scoreGrad, clips, mean, m, 0.0, logMeanGrad, m,
               stream);
  meanGradKernel<<<blocksFor(clips * m, 256, 65535), 256, 0, stream>>>(meanGrad, logMeanGrad, mean,
                                                                        clips * m);
  UCMG_CHECK_LAUNCH("meanGradKernel");
  softBackwardKernel<<<rowBlocks, kRowThreads, 0, stream>>>(meanGrad, distances, rows, t, m, soft,
                                                            rowSums);
  UCMG_CHECK_LAUNCH("softBackwardKernel");
  gemm<double>(false, false, rows, d, m, -2.0, soft, m, codebook, d, 0.0, inputGrad, d, stream);
  if (rows * d > 0) {
    inputGradKernel<<<blocksFor(rows * d, 256, 65535), 256, 0, stream>>>(inputGrad, rowSums, z,
                                                                         rows, d, grad);
    UCMG_CHECK_LAUNCH("inputGradKernel");
  }
}

}  // namespace ucmg::cuda
