// Exact nearest-code search (contract in ucmg/ops.h): a float32 GEMM screens the codebook, the
// float64 canonical distance decides among the few codes the GEMM's rounding cannot separate.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/gemm.h"
#include "../common/parallel.h"
#include "ucmg/ops.h"

namespace ucmg::cpu {

namespace {

// A tile holds rows x m approximate distances: 1 MiB stays in a core's L2 and amortises the
// GEMM's packing of the codebook (measured best of 64K-1M elements at m = 1024).
constexpr int64_t kTileElements = 256 * 1024;
constexpr int64_t kMinTileRows = 8;
constexpr int64_t kMaxTileRows = 512;
constexpr int64_t kScanBlock = 64;

struct CodebookNorms {
  std::vector<float> squared;  // ||e_j||^2 rounded to float, the GEMM's companion term
  double maxNorm = 0.0;        // max_j ||e_j||
};

CodebookNorms codebookNorms(const float* codebook, int64_t m, int64_t d) {
  CodebookNorms norms;
  norms.squared.resize(m);
  double maxSquared = 0.0;
  for (int64_t j = 0; j < m; ++j) {
    const float* e = codebook + j * d;
    double s = 0.0;
    for (int64_t t = 0; t < d; ++t) s += (double)e[t] * e[t];
    norms.squared[j] = (float)s;
    maxSquared = std::max(maxSquared, s);
  }
  norms.maxNorm = std::sqrt(maxSquared);
  return norms;
}

// The largest float f with (double)f <= x: comparing floats against it is the same as
// comparing their double values against x.
float floatAtOrBelow(double x) {
  float f = (float)x;
  if ((double)f > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

struct Choice {
  int32_t index;
  double distance;
};

// row[j] holds -2 z.e_j on entry (it is overwritten with the approximate distance).
UCMG_SIMD_CLONES Choice chooseCode(const float* zi, float* row, const float* codebook,
                                   const CodebookNorms& norms, int64_t m, int64_t d) {
  const float* en = norms.squared.data();
  float minApprox = std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : minApprox)
  for (int64_t j = 0; j < m; ++j) {
    const float approx = row[j] + en[j];
    row[j] = approx;
    minApprox = approx < minApprox ? approx : minApprox;  // std::min here defeats vectorising
  }
  double zz = 0.0;  // only scales the bound, so any summation order will do
#pragma omp simd reduction(+ : zz)
  for (int64_t t = 0; t < d; ++t) zz += (double)zi[t] * zi[t];
  const double normZ = std::sqrt(zz);
  const double scale = (normZ + norms.maxNorm) * (normZ + norms.maxNorm);
  // Outside this range float32 overflow or gradual underflow can void the relative error
  // bound: then every code is rescored.
  const bool boundHolds = scale >= 1e-30 && scale <= 1e37;
  const double window = 2.0 * quantizeErrorBound(d, normZ, norms.maxNorm);
  const float threshold = boundHolds ? floatAtOrBelow((double)minApprox + window)
                                     : std::numeric_limits<float>::infinity();

  // Candidates are rare: test blocks of the row with a vectorised any() first.
  Choice best{-1, std::numeric_limits<double>::infinity()};
  for (int64_t j0 = 0; j0 < m; j0 += kScanBlock) {
    const int64_t j1 = std::min(m, j0 + kScanBlock);
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t j = j0; j < j1; ++j) any |= !(row[j] > threshold);
    if (!any) continue;
    for (int64_t j = j0; j < j1; ++j) {
      if (row[j] > threshold) continue;  // NaN (overflowed) entries are rescored too
      const double exact = exactSquaredDistance(zi, codebook + j * d, d);
      if (exact < best.distance) best = {(int32_t)j, exact};
    }
  }
  return best;
}

}  // namespace

void quantize(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
              int32_t* indices, float* distances, float* gathered) {
  const CodebookNorms norms = codebookNorms(codebook, m, d);
  const int64_t tileRows =
      blockSize(n, std::clamp(kTileElements / m, kMinTileRows, kMaxTileRows));

  // Each thread runs its own single-threaded GEMM on its tile and selects on it while the tile
  // is hot in cache: on 2 cores this beat multi-threaded GEMMs over large tiles followed by a
  // parallel selection pass (240 vs 290+ ms at n=65536, m=1024, d=256).
  SerialGemmScope serialGemm;
  std::vector<float> approx(maxThreads() * tileRows * m);  // one tile buffer per thread
  parallelBlocks(n, tileRows, 2.0 * m * d, [&](int64_t i0, int64_t i1) {
    float* tile = approx.data() + threadIndex() * tileRows * m;
    gemm<float>(false, true, i1 - i0, m, d, -2.0f, z + i0 * d, d, codebook, d, 0.0f, tile, m);
    for (int64_t i = i0; i < i1; ++i) {
      const Choice c = chooseCode(z + i * d, tile + (i - i0) * m, codebook, norms, m, d);
      indices[i] = c.index;
      distances[i] = (float)c.distance;
      if (gathered) std::memcpy(gathered + i * d, codebook + c.index * d, d * sizeof(float));
    }
  });
}

}  // namespace ucmg::cpu
