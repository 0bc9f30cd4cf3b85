#include <math_constants.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "common.cuh"
#include "quantize.cuh"
#include "reduce.cuh"
#include "tile_gemm.cuh"
#include "ucmg/ops.h"

namespace ucmg::cuda {

namespace {

// The screen's tiles: 128 x 128 while there are enough rows to fill the device, else 64 x 64
// with the codebook split between blocks too (then per-split results are merged).
using LargeScreen = tile::Shape<float, 8>;
using SmallScreen = tile::Shape<float, 4>;
constexpr int kConfirmRows = 128;           // rows per confirm block, one per thread
constexpr int kConfirmChunk = 32;           // columns staged per confirm step
constexpr int kResolveThreads = 256;

// The screen's result for one row: the smallest approximate score with its code, and the
// second smallest score (the code is not needed: any second candidate sends the row on).
struct NearestTwo {
  float best;
  int32_t index;
  float second;
};

__device__ void offer(NearestTwo& n, float score, int32_t code) {
  if (score < n.best) {
    n.second = n.best, n.best = score, n.index = code;
  } else if (score < n.second) {
    n.second = score;
  }
}

__device__ NearestTwo merge(const NearestTwo& a, const NearestTwo& b) {
  const bool aFirst = a.best < b.best || (a.best == b.best && a.index < b.index);
  const NearestTwo& first = aFirst ? a : b;
  const NearestTwo& other = aFirst ? b : a;
  return {first.best, first.index, fminf(first.second, other.best)};
}

// exactSquaredDistance of ops.h, one term at a time: every multiply and add rounded on its
// own (the _rn intrinsics are never contracted into FMA), so the sum is the CPU's bit for bit.
__device__ inline double addSquaredDifference(double sum, float a, float b) {
  const double diff = __dsub_rn((double)a, (double)b);
  return __dadd_rn(sum, __dmul_rn(diff, diff));
}

__device__ double exactSquaredDistance(const float* a, const float* b, int64_t d) {
  double sum = 0.0;
  for (int64_t t = 0; t < d; ++t) sum = addSquaredDifference(sum, a[t], b[t]);
  return sum;
}

// ||e||^2 - 2 z.e in float32, with pinned roundings so that a recomputation gives the same
// value (the resolve pass computes it twice).
__device__ float approximateScore(const float* z, const float* e, int64_t d, float codeNorm) {
  float dot = 0.0f;
  for (int64_t t = 0; t < d; ++t) dot = __fmaf_rn(z[t], e[t], dot);
  return __fsub_rn(codeNorm, __fmul_rn(2.0f, dot));
}

// The upper end of the candidate window, min + 2 * quantizeErrorBound(d, ||z||, maxNormE),
// with boundPerScale = quantizeErrorBound(d, 1, 0) (the bound is that times
// (||z|| + maxNormE)^2). Where float32 overflow or gradual underflow can void the bound, +inf:
// every code is rescored, as on the CPU.
__device__ double candidateLimit(float minScore, double normZ, double maxNormE,
                                 double boundPerScale) {
  const double norms = normZ + maxNormE;
  const double scale = norms * norms;
  if (!(scale >= 1e-30 && scale <= 1e37)) return CUDART_INF;
  return (double)minScore + 2.0 * boundPerScale * scale;
}

// Grid (row tiles, codebook splits): each block screens its rows against the column tiles
// [split * tilesPerSplit, ...) and writes nearest[split * n + row].
template <class Sh>
__global__ void __launch_bounds__(tile::kThreads)
    screenKernel(tile::Operand<float, true> z, tile::Operand<float, true> codebook,
                 const float* codeNorms, int64_t tilesPerSplit, NearestTwo* nearest) {
  constexpr int P = Sh::kPerThread;
  const int ty = threadIdx.x / tile::kThreadsPerSide, tx = threadIdx.x % tile::kThreadsPerSide;
  const int64_t row0 = (int64_t)blockIdx.x * Sh::kEdge;
  NearestTwo mine[P];
#pragma unroll
  for (int i = 0; i < P; ++i) mine[i] = {CUDART_INF_F, 0, CUDART_INF_F};

  const int64_t colTiles = (codebook.rows + Sh::kEdge - 1) / Sh::kEdge;
  const int64_t firstTile = (int64_t)blockIdx.y * tilesPerSplit;
  const int64_t tiles = min(tilesPerSplit, colTiles - firstTile);
  tile::forEachColumnTile<Sh>(
      z, codebook, row0, firstTile * Sh::kEdge, tiles, [&](const auto& acc, int64_t col0) {
        // ascending codes per thread: offer() keeps the lowest of equal scores
#pragma unroll
        for (int j = 0; j < P; ++j) {
          const int64_t code = col0 + Sh::offset(tx, j);
          if (code >= codebook.rows) continue;
          const float norm = codeNorms[code];
#pragma unroll
          for (int i = 0; i < P; ++i) offer(mine[i], norm - 2.0f * acc.v[i][j], (int32_t)code);
        }
      });

  // The 16 threads that share a row form one half-warp.
  NearestTwo* out = nearest + (int64_t)blockIdx.y * z.rows;
#pragma unroll
  for (int i = 0; i < P; ++i) {
    for (int mask = tile::kThreadsPerSide / 2; mask > 0; mask /= 2) {
      const NearestTwo other{__shfl_xor_sync(kFullWarp, mine[i].best, mask),
                             __shfl_xor_sync(kFullWarp, mine[i].index, mask),
                             __shfl_xor_sync(kFullWarp, mine[i].second, mask)};
      mine[i] = merge(mine[i], other);
    }
    const int64_t row = row0 + Sh::offset(ty, i);
    if (tx == 0 && row < z.rows) out[row] = mine[i];
  }
}

// How the screen shares the codebook among blocks: each takes tilesPerSplit column tiles,
// `splits` blocks per row tile (none left empty).
struct CodebookSplit {
  int64_t tilesPerSplit;
  int64_t splits;
};

CodebookSplit splitCodebook(int64_t colTiles, int64_t wantedSplits) {
  const int64_t tilesPerSplit = (colTiles + wantedSplits - 1) / wantedSplits;
  return {tilesPerSplit, (colTiles + tilesPerSplit - 1) / tilesPerSplit};
}

template <class Sh>
void launchScreen(const tile::Operand<float, true>& z, const tile::Operand<float, true>& codebook,
                  const float* codeNorms, const CodebookSplit& split, NearestTwo* nearest,
                  cudaStream_t stream) {
  const int64_t rowTiles = (z.rows + Sh::kEdge - 1) / Sh::kEdge;
  screenKernel<Sh><<<dim3((unsigned)rowTiles, (unsigned)split.splits), tile::kThreads, 0, stream>>>(
      z, codebook, codeNorms, split.tilesPerSplit, nearest);
  UCMG_CHECK_LAUNCH("screenKernel");
}

// One thread per row: merges the splits' screens, then takes ||z|| and the exact distance to
// the screened code, both in order over t, from coalesced chunks staged in shared memory.
// Rows with a second candidate are listed.
__global__ void __launch_bounds__(kConfirmRows)
    confirmKernel(const float* z, const float* codebook, int64_t n, int64_t d,
                  const NearestTwo* nearest, int64_t splits, double boundPerScale,
                  const unsigned long long* maxNormBits, int32_t* indices, float* distances,
                  int32_t* ambiguousRows, unsigned int* ambiguousCount) {
  __shared__ float zChunk[kConfirmRows][kConfirmChunk + 1];  // +1: conflict-free row reads
  __shared__ float eChunk[kConfirmRows][kConfirmChunk + 1];
  __shared__ int32_t code[kConfirmRows];
  const int64_t row0 = (int64_t)blockIdx.x * kConfirmRows;
  const int64_t row = row0 + threadIdx.x;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  NearestTwo screened{CUDART_INF_F, 0, CUDART_INF_F};
  for (int64_t split = 0; split < splits && row < n; ++split)
    screened = merge(screened, nearest[split * n + row]);
  code[threadIdx.x] = screened.index;
  __syncthreads();

  double normSquared = 0.0, exact = 0.0;
  for (int64_t c0 = 0; c0 < d; c0 += kConfirmChunk) {
    for (int r = warp; r < kConfirmRows; r += kConfirmRows / 32) {
      const int64_t stagedRow = row0 + r, col = c0 + lane;
      const bool inside = stagedRow < n && col < d;
      zChunk[r][lane] = inside ? z[stagedRow * d + col] : 0.0f;
      eChunk[r][lane] = inside ? codebook[(int64_t)code[r] * d + col] : 0.0f;
    }
    __syncthreads();
    const int width = d - c0 < kConfirmChunk ? (int)(d - c0) : kConfirmChunk;
    for (int c = 0; c < width; ++c) {
      const double zv = zChunk[threadIdx.x][c];
      normSquared = __dadd_rn(normSquared, __dmul_rn(zv, zv));
      exact = addSquaredDifference(exact, zChunk[threadIdx.x][c], eChunk[threadIdx.x][c]);
    }
    __syncthreads();
  }
  if (row >= n) return;
  const double limit = candidateLimit(screened.best, sqrt(normSquared),
                                      __longlong_as_double((long long)*maxNormBits), boundPerScale);
  if ((double)screened.second > limit) {
    indices[row] = screened.index;
    distances[row] = (float)exact;
  } else {
    ambiguousRows[atomicAdd(ambiguousCount, 1u)] = (int32_t)row;
  }
}

// One block per listed row (a persistent grid walks the list): the CPU's method on one row.
__global__ void __launch_bounds__(kResolveThreads)
    resolveKernel(const float* z, const float* codebook, const float* codeNorms, int64_t m,
                  int64_t d, double boundPerScale, const unsigned long long* maxNormBits,
                  const int32_t* rows, const unsigned int* count, int32_t* indices,
                  float* distances) {
  const double maxNormE = __longlong_as_double((long long)*maxNormBits);
  const unsigned total = *count;
  for (unsigned q = blockIdx.x; q < total; q += gridDim.x) {
    const int64_t row = rows[q];
    const float* zr = z + row * d;
    double normSquared = 0.0;
    for (int64_t t = threadIdx.x; t < d; t += blockDim.x) normSquared += (double)zr[t] * zr[t];
    normSquared = blockReduce(normSquared, SumOp());
    float low = CUDART_INF_F;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
      low = fminf(low, approximateScore(zr, codebook + j * d, d, codeNorms[j]));
    low = blockReduce(low, MinOp());
    const double limit = candidateLimit(low, sqrt(normSquared), maxNormE, boundPerScale);
    ScoredIndex best{CUDART_INF, m};
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      // "not above": a NaN score (overflow) is rescored too, as on the CPU
      if ((double)approximateScore(zr, codebook + j * d, d, codeNorms[j]) > limit) continue;
      const double exact = exactSquaredDistance(zr, codebook + j * d, d);
      if (exact < best.score) best = {exact, j};
    }
    best = blockReduce(best, LowestOp());
    if (threadIdx.x == 0) {
      indices[row] = (int32_t)best.index;
      distances[row] = (float)best.score;
    }
  }
}

__global__ void gatherKernel(const float* codebook, const int32_t* indices, int64_t n, int64_t d,
                             float* gathered) {
  const int64_t total = n * d, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t row = e / d;
    gathered[e] = codebook[(int64_t)indices[row] * d + (e - row * d)];
  }
}

}  // namespace

void quantizeOnDevice(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
                      int32_t* indices, float* distances, float* gathered, QuantizeWorkspace& work,
                      cudaStream_t stream) {
  if (n < 0 || m < 1 || d < 0 || n > std::numeric_limits<int32_t>::max() ||
      m > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("quantize: need 0 <= n < 2^31, 1 <= m < 2^31, d >= 0; got n = " +
                                std::to_string(n) + ", m = " + std::to_string(m) +
                                ", d = " + std::to_string(d));
  if (n == 0) return;
  const double boundPerScale = quantizeErrorBound(d, 1.0, 0.0);

  float* codeNorms = work.codeNorms.reserve<float>(m);
  auto* maxNormBits = work.maxNormBits.reserve<unsigned long long>(1);
  auto* ambiguousRows = work.ambiguousRows.reserve<int32_t>(n);
  auto* ambiguousCount = work.ambiguousCount.reserve<unsigned int>(1);
  UCMG_CUDA_CHECK(cudaMemsetAsync(maxNormBits, 0, sizeof(unsigned long long), stream));
  UCMG_CUDA_CHECK(cudaMemsetAsync(ambiguousCount, 0, sizeof(unsigned int), stream));

  launchCodebookNorms(codebook, m, d, codeNorms, maxNormBits, stream);

  const tile::Operand<float, true> zRows{z, n, d, d};
  const tile::Operand<float, true> codeRows{codebook, m, d, d};
  // Enough rows for every multiprocessor: large tiles over the whole codebook. Otherwise small
  // tiles, with the codebook split so that there are about two blocks per multiprocessor.
  const int64_t multiprocessors = multiprocessorCount();
  const bool largeTiles = (n + LargeScreen::kEdge - 1) / LargeScreen::kEdge >= multiprocessors;
  const int64_t edge = largeTiles ? LargeScreen::kEdge : SmallScreen::kEdge;
  const int64_t rowTiles = (n + edge - 1) / edge;
  const CodebookSplit split = splitCodebook(
      (m + edge - 1) / edge, largeTiles ? 1 : (2 * multiprocessors + rowTiles - 1) / rowTiles);
  auto* nearest = work.nearest.reserve<NearestTwo>(split.splits * n);
  if (largeTiles)
    launchScreen<LargeScreen>(zRows, codeRows, codeNorms, split, nearest, stream);
  else
    launchScreen<SmallScreen>(zRows, codeRows, codeNorms, split, nearest, stream);

  confirmKernel<<<blocksFor(n, kConfirmRows), kConfirmRows, 0, stream>>>(
      z, codebook, n, d, nearest, split.splits, boundPerScale, maxNormBits, indices, distances,
      ambiguousRows, ambiguousCount);
  UCMG_CHECK_LAUNCH("confirmKernel");

  // The list's length stays on the device: a persistent grid reads it there.
  resolveKernel<<<blocksFor(n, 1, 8 * multiprocessors), kResolveThreads, 0,
                  stream>>>(z, codebook, codeNorms, m, d, boundPerScale, maxNormBits,
                            ambiguousRows, ambiguousCount, indices, distances);
  UCMG_CHECK_LAUNCH("resolveKernel");

  if (gathered) {
    gatherKernel<<<blocksFor(n * d, 256, 65535), 256, 0, stream>>>(codebook, indices, n, d,
                                                                   gathered);
    UCMG_CHECK_LAUNCH("gatherKernel");
  }
}

}  // namespace ucmg::cuda
