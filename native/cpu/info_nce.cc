// Cross-CPC InfoNCE over all ordered modality pairs (contract in ucmg/ops.h, docs/algorithm.md §4.2). S is
// never held whole: rows of S = targets[m] preds[n]^T are produced a tile at a time, softmaxed
// in place, and the tile then holds the gradient dLoss/dS = (w/b) (softmax(S) - I), the factor
// w/b being applied by the GEMMs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fast_exp.h"
#include "../common/gemm.h"
#include "../common/parallel.h"
#include "ucmg/ops.h"

namespace ucmg::cpu {

namespace {

constexpr int64_t kTileElements = 1 << 20;  // 4 MiB of float scores per thread's tile

// Softmaxes the row s[0..b) in place; returns log_softmax(s)[diagonal].
UCMG_SIMD_CLONES double softmaxRow(float* s, int64_t b, int64_t diagonal) {
  float maxScore = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : maxScore)
  for (int64_t j = 0; j < b; ++j) maxScore = s[j] > maxScore ? s[j] : maxScore;
  const float diagonalScore = s[diagonal];
  double sum = 0.0;
  // Blocks of float sums, added in double: vectorised yet accurate for large b.
  for (int64_t j0 = 0; j0 < b; j0 += 64) {
    const int64_t j1 = std::min(b, j0 + 64);
    float block = 0.0f;
#pragma omp simd reduction(+ : block)
    for (int64_t j = j0; j < j1; ++j) {
      s[j] = expNonPositive(s[j] - maxScore);
      block += s[j];
    }
    sum += block;
  }
  const float inv = (float)(1.0 / sum);
#pragma omp simd
  for (int64_t j = 0; j < b; ++j) s[j] *= inv;
  return (double)diagonalScore - (double)maxScore - std::log(sum);
}

// Folds one softmaxed row into the running column maxima (strictly greater: ties keep the
// lower row, which came first).
UCMG_SIMD_CLONES void updateColumnMax(const float* p, int64_t b, int32_t row, float* value,
                                      int32_t* rows) {
#pragma omp simd
  for (int64_t j = 0; j < b; ++j) {
    const bool better = p[j] > value[j];
    value[j] = better ? p[j] : value[j];
    rows[j] = better ? row : rows[j];
  }
}

// What one thread accumulates over its tiles of one modality pair.
struct ThreadPart {
  float* tile;          // [tileRows, b] scores, then softmax, then dLoss/dS / scale
  float* columnValue;   // [b] running max down each column of softmax(S)
  int32_t* columnRow;   // [b] the row holding it (ties to the lowest row)
  float* gradPreds;     // [b, d] this thread's share of dLoss/dpreds[n], or null
  double logProb;       // sum of log_softmax(S)_ii over its rows
};

}  // namespace

double infoNce(const float* const* targets, const float* const* preds, int k, int64_t b,
               int64_t d, const float* weights, float* accuracies, float* const* gradTargets,
               float* const* gradPreds) {
  for (int mod = 0; mod < k; ++mod) {
    if (gradTargets && gradTargets[mod])
      std::fill(gradTargets[mod], gradTargets[mod] + b * d, 0.0f);
    if (gradPreds && gradPreds[mod]) std::fill(gradPreds[mod], gradPreds[mod] + b * d, 0.0f);
  }
  // Each thread takes whole row tiles of S with its own single-threaded GEMMs: one thread pool
  // for everything. On 2 cores this took 2.9 s of CPU at b=4096, k=3 against 3.7 s for
  // multi-threaded GEMMs over shared tiles with OpenMP passes between them (the pools fight).
  const int threads = maxThreads();
  const int64_t tileRows = blockSize(b, std::max<int64_t>(1, kTileElements / b));
  std::vector<float> tileMemory(threads * tileRows * b), columnValues(threads * b);
  std::vector<int32_t> columnRows(threads * b);
  std::vector<float> gradPredsMemory(gradPreds ? threads * b * d : 0);
  std::vector<ThreadPart> parts(threads);
  SerialGemmScope serialGemm;
  double loss = 0.0;

  for (int m = 0; m < k; ++m)
    for (int n = 0; n < k; ++n) {
      const double w = weights[m * k + n];
      const float gradScale = (float)(w / (double)b);
      float* gT = gradTargets ? gradTargets[m] : nullptr;
      float* gP = gradPreds ? gradPreds[n] : nullptr;
      const bool backward = w != 0.0 && (gT || gP);
      for (int th = 0; th < threads; ++th) {
        parts[th] = {tileMemory.data() + th * tileRows * b, columnValues.data() + th * b,
                     columnRows.data() + th * b,
                     gP && backward ? gradPredsMemory.data() + th * b * d : nullptr, 0.0};
        std::fill(parts[th].columnValue, parts[th].columnValue + b, -1.0f);
        std::fill(parts[th].columnRow, parts[th].columnRow + b, 0);
        if (parts[th].gradPreds) std::fill(parts[th].gradPreds, parts[th].gradPreds + b * d, 0.f);
      }

      const double flopsPerRow = 2.0 * b * d * (backward ? 3 : 1);
      parallelBlocks(b, tileRows, flopsPerRow, [&](int64_t i0, int64_t i1) {
        ThreadPart& part = parts[threadIndex()];
        const int64_t rows = i1 - i0;
        const float* t = targets[m] + i0 * d;
        float* S = part.tile;
        gemm<float>(false, true, rows, b, d, 1.0f, t, d, preds[n], d, 0.0f, S, b);
        for (int64_t r = 0; r < rows; ++r) {
          float* p = S + r * b;
          part.logProb += softmaxRow(p, b, i0 + r);
          updateColumnMax(p, b, (int32_t)(i0 + r), part.columnValue, part.columnRow);
        }
        if (!backward) return;
        for (int64_t r = 0; r < rows; ++r) S[r * b + i0 + r] -= 1.0f;
        if (gT)
          gemm<float>(false, false, rows, d, b, gradScale, S, b, preds[n], d, 1.0f, gT + i0 * d, d);
        if (part.gradPreds)
          gemm<float>(true, false, b, d, rows, gradScale, S, b, t, d, 1.0f, part.gradPreds, d);
      });

      // Merge the threads' parts: column maxima (ties to the lowest row), sums.
      double logProb = 0.0;
      int64_t hits = 0;
      for (int64_t j = 0; j < b; ++j) {
        float value = -1.0f;
        int64_t row = 0;
        for (const ThreadPart& part : parts)
          if (part.columnValue[j] > value ||
              (part.columnValue[j] == value && part.columnRow[j] < row))
            value = part.columnValue[j], row = part.columnRow[j];
        hits += row == j;
      }
      for (const ThreadPart& part : parts) {
        logProb += part.logProb;
        if (part.gradPreds)
          for (int64_t e = 0; e < b * d; ++e) gP[e] += part.gradPreds[e];
      }
      loss -= w * logProb / (double)b;
      accuracies[m * k + n] = (float)((double)hits / (double)b);
    }
  return loss;
}

}  // namespace ucmg::cpu
