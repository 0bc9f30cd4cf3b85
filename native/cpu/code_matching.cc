// Cross-modal code matching loss L_cmcm and its gradient (contract in ucmg/ops.h, docs/algorithm.md §3.3),
// in float64 throughout. Backward pass, by hand, for one pair (m, n) with G = dL/dS [b, b]:
//   S = P_m L_n^T + P_n L_m^T with L_x = log(P_x + 1e-10), so
//   dP_m += G L_n + (G^T P_n) / (P_m + 1e-10),   dP_n += G L_m + (G^T P_m) / (P_n + 1e-10).
//   L_mn = -(1/b) sum_i [S_ii - c - log(Z_i + eps)], Z_i = sum_j exp(S_ij - c), c = min S:
//   dL_mn/dS_ij = (1/b) (exp(S_ij - c) / (Z_i + eps) - [i == j]) plus the path through c,
//   dL_mn/dc = (1/b) sum_i eps / (Z_i + eps), shared equally by the entries equal to min S
//   (as autograd of a full min does).
// Then P = mean_t p: dp_t = dP / T; p = softmax(a) with a = -sqrt(dist):
//   da = p * (dp - <dp, p>);  ddist = -da / (2 sqrt(dist))  (0 where dist was clamped at 0);
//   dist_j = |z|^2 + |e_j|^2 - 2 z.e_j:  dz = 2 z sum_j ddist_j - 2 ddist E.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "../common/gemm.h"
#include "../common/parallel.h"
#include "ucmg/ops.h"

namespace ucmg::cpu {

namespace {

constexpr double kLogFloor = 1e-10;

constexpr int64_t kMaxBlockRows = 128;

// Large scratch arrays that are fully written before being read: no zero fill.
using Scratch = std::unique_ptr<double[]>;
Scratch scratch(int64_t size) { return Scratch(new double[size]); }

// Per modality: the soft assignments p [rows, m] with their root distances, and P [b, m].
struct SoftCodes {
  Scratch root;                 // [rows, m], sqrt(dist) with dist clamped at 0
  Scratch p;                    // [rows, m]
  std::vector<double> mean;     // [b, m]
  std::vector<double> logMean;  // [b, m], log(mean + 1e-10)
};

// One row: root_j = sqrt(max(0, |z|^2 + |e_j|^2 - 2 z.e_j)), given -2 z.e_j in root on entry;
// p = softmax(-root).
UCMG_SIMD_CLONES void softAssignRow(double zz, const double* eNorm, int64_t m, double* root,
                                    double* p) {
  double minRoot = std::numeric_limits<double>::infinity();
#pragma omp simd reduction(min : minRoot)
  for (int64_t j = 0; j < m; ++j) {
    const double r = std::sqrt(std::max(0.0, root[j] + zz + eNorm[j]));
    root[j] = r;
    minRoot = r < minRoot ? r : minRoot;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < m; ++j) sum += (p[j] = std::exp(minRoot - root[j]));
  const double inv = 1.0 / sum;
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) p[j] *= inv;
}

// One row of the backward pass to the distances: from dp (= dP of the row's clip, before the
// 1/T of the mean), out_j = dL/ddist_j = -(p_j (dp_j - <dp, p>) / T) / (2 root_j), 0 where the
// distance was clamped. Returns sum_j out_j.
UCMG_SIMD_CLONES double distanceGradRow(const double* dp, const double* p, const double* root,
                                        double invT, int64_t m, double* out) {
  double dot = 0.0;
#pragma omp simd reduction(+ : dot)
  for (int64_t j = 0; j < m; ++j) dot += dp[j] * p[j];
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < m; ++j) {
    const double da = p[j] * (dp[j] - dot) * invT;
    out[j] = root[j] > 0.0 ? -da / (2.0 * root[j]) : 0.0;
    sum += out[j];
  }
  return sum;
}

SoftCodes softAssign(const std::vector<double>& zD, const std::vector<double>& eD,
                     const std::vector<double>& eNorm, int64_t b, int64_t t, int64_t d, int64_t m) {
  const int64_t rows = b * t;
  SoftCodes s;
  s.root = scratch(rows * m);
  s.p = scratch(rows * m);
  parallelBlocks(rows, blockSize(rows, kMaxBlockRows), 2.0 * m * d, [&](int64_t r0, int64_t r1) {
    gemm<double>(false, true, r1 - r0, m, d, -2.0, zD.data() + r0 * d, d, eD.data(), d, 0.0,
                 s.root.get() + r0 * m, m);
    for (int64_t r = r0; r < r1; ++r) {
      const double* zr = zD.data() + r * d;
      double zz = 0.0;
      for (int64_t u = 0; u < d; ++u) zz += zr[u] * zr[u];
      softAssignRow(zz, eNorm.data(), m, s.root.get() + r * m, s.p.get() + r * m);
    }
  });
  s.mean.assign(b * m, 0.0);
  s.logMean.resize(b * m);
  for (int64_t i = 0; i < b; ++i) {
    double* P = s.mean.data() + i * m;
    for (int64_t u = 0; u < t; ++u) {
      const double* p = s.p.get() + (i * t + u) * m;
      for (int64_t j = 0; j < m; ++j) P[j] += p[j];
    }
    for (int64_t j = 0; j < m; ++j) {
      P[j] /= (double)t;
      s.logMean[i * m + j] = std::log(P[j] + kLogFloor);
    }
  }
  return s;
}

// L_mn for one pair; when gradS is given it receives scale * dL_mn/dS.
double pairLoss(const SoftCodes& a, const SoftCodes& c, int64_t b, int64_t m, double eps,
                double scale, std::vector<double>* gradS) {
  std::vector<double> S(b * b);
  gemm<double>(false, true, b, b, m, 1.0, a.mean.data(), m, c.logMean.data(), m, 0.0, S.data(), b);
  gemm<double>(false, true, b, b, m, 1.0, c.mean.data(), m, a.logMean.data(), m, 1.0, S.data(), b);
  const double shift = *std::min_element(S.begin(), S.end());

  double loss = 0.0, dShift = 0.0;
  std::vector<double> Z(b);
  for (int64_t i = 0; i < b; ++i) {
    double z = 0.0;
    for (int64_t j = 0; j < b; ++j) z += std::exp(S[i * b + j] - shift);
    Z[i] = z;
    loss -= (S[i * b + i] - shift) - std::log(z + eps);
    dShift += eps / (z + eps);
  }
  loss /= (double)b;
  if (gradS) {
    const double g = scale / (double)b;
    int64_t ties = 0;
    for (double v : S) ties += v == shift;
    const double perTie = g * dShift / (double)ties;
    gradS->resize(b * b);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < b; ++j) {
        const double v = S[i * b + j];
        (*gradS)[i * b + j] =
            g * (std::exp(v - shift) / (Z[i] + eps) - (i == j ? 1.0 : 0.0)) +
            (v == shift ? perTie : 0.0);
      }
  }
  return loss;
}

// The term P_x L_y^T of S:  dP_x += G L_y,  dP_y += (G^T P_x) / (P_y + 1e-10).
void accumulateMeanGrad(const std::vector<double>& G, const SoftCodes& x, const SoftCodes& y,
                        int64_t b, int64_t m, std::vector<double>& dMeanX,
                        std::vector<double>& dMeanY) {
  gemm<double>(false, false, b, m, b, 1.0, G.data(), b, y.logMean.data(), m, 1.0, dMeanX.data(), m);
  std::vector<double> dLog(b * m);
  gemm<double>(true, false, b, m, b, 1.0, G.data(), b, x.mean.data(), m, 0.0, dLog.data(), m);
  for (int64_t e = 0; e < b * m; ++e) dMeanY[e] += dLog[e] / (y.mean[e] + kLogFloor);
}

// dz for one modality from dP [b, m].
void backToInputs(const SoftCodes& s, const std::vector<double>& dMean,
                  const std::vector<double>& zD, const std::vector<double>& eD, int64_t b,
                  int64_t t, int64_t d, int64_t m, float* grad) {
  const int64_t rows = b * t;
  const Scratch dDist = scratch(rows * m), dz = scratch(rows * d);
  std::vector<double> rowSum(rows);
  parallelBlocks(rows, blockSize(rows, kMaxBlockRows), 2.0 * m * d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      rowSum[r] = distanceGradRow(dMean.data() + (r / t) * m, s.p.get() + r * m,
                                  s.root.get() + r * m, 1.0 / (double)t, m, dDist.get() + r * m);
    gemm<double>(false, false, r1 - r0, d, m, -2.0, dDist.get() + r0 * m, m, eD.data(), d, 0.0,
                 dz.get() + r0 * d, d);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t u = 0; u < d; ++u)
        grad[r * d + u] = (float)(dz[r * d + u] + 2.0 * rowSum[r] * zD[r * d + u]);
  });
}

}  // namespace

double codeMatching(const float* const* z, int k, int64_t b, int64_t t, int64_t d,
                    const float* codebook, int64_t m, float eps, float* const* grad) {
  SerialGemmScope serialGemm;  // row blocks run their GEMMs in parallel, one per thread
  const std::vector<double> eD(codebook, codebook + m * d);
  std::vector<double> eNorm(m, 0.0);
  for (int64_t j = 0; j < m; ++j)
    for (int64_t u = 0; u < d; ++u) eNorm[j] += eD[j * d + u] * eD[j * d + u];

  std::vector<std::vector<double>> zD(k);
  std::vector<SoftCodes> soft(k);
  for (int mod = 0; mod < k; ++mod) {
    zD[mod].assign(z[mod], z[mod] + b * t * d);
    soft[mod] = softAssign(zD[mod], eD, eNorm, b, t, d, m);
  }

  bool wantGrad = false;
  for (int mod = 0; mod < k; ++mod) wantGrad |= grad && grad[mod];
  std::vector<std::vector<double>> dMean(k, std::vector<double>(wantGrad ? b * m : 0, 0.0));
  std::vector<double> G;
  double loss = 0.0;
  for (int x = 0; x < k; ++x)
    for (int y = x + 1; y < k; ++y) {
      loss += 0.5 * pairLoss(soft[x], soft[y], b, m, eps, 0.5, wantGrad ? &G : nullptr);
      if (!wantGrad) continue;
      accumulateMeanGrad(G, soft[x], soft[y], b, m, dMean[x], dMean[y]);
      accumulateMeanGrad(G, soft[y], soft[x], b, m, dMean[y], dMean[x]);
    }

  for (int mod = 0; mod < k && wantGrad; ++mod)
    if (grad[mod]) backToInputs(soft[mod], dMean[mod], zD[mod], eD, b, t, d, m, grad[mod]);
  return loss;
}

}  // namespace ucmg::cpu
