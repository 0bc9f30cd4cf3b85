#include "parallel_gemm.h"

#include <algorithm>

#include "../common/gemm.h"
#include "../common/parallel.h"

namespace ucmg {
namespace dense {

namespace {

// Tiles are at least this wide, and each thread gets about kTilesPerThread of them so a thread
// that loses its core for a while leaves its share to the others.
constexpr int64_t kMinTile = 64;
constexpr int64_t kTilesPerThread = 4;

// One single-threaded BLAS call (or the zero product, which BLAS rejects as lda = 0).
void serialGemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.0f) {
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    }
    return;
  }
  cpu::gemm<float>(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void sgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Inside a region, whoever opened it holds the SerialGemmScope (it sets a process-wide count,
  // so threads must not each set and restore it).
  if (cpu::inParallelRegion()) {
    serialGemm(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cpu::SerialGemmScope serial;
  const int64_t threads = cpu::maxThreads();
  if (threads == 1 || 2 * M * N * K < kParallelFlops) {
    serialGemm(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the longer side of C: rows of op(A), or columns of op(B).
  const bool byRows = M >= N;
  const int64_t extent = byRows ? M : N;
  const int64_t tile = std::max(kMinTile, (extent + threads * kTilesPerThread - 1) / (threads * kTilesPerThread));
  const int64_t tiles = (extent + tile - 1) / tile;
  cpu::RegionExceptions exceptions;
#pragma omp parallel for schedule(dynamic)
  for (int64_t t = 0; t < tiles; ++t) {
    exceptions.run([&] {
      const int64_t begin = t * tile, size = std::min(tile, extent - begin);
      if (byRows) {
        // Rows begin.. of op(A): rows of A, or columns when A is stored transposed.
        serialGemm(tA, tB, size, N, K, A + (tA ? begin : begin * lda), lda, B, ldb, beta,
                   C + begin * ldc, ldc);
      } else {
        serialGemm(tA, tB, M, size, K, A, lda, B + (tB ? begin * ldb : begin), ldb, beta,
                   C + begin, ldc);
      }
    });
  }
  exceptions.rethrow();
}

}  // namespace dense
}  // namespace ucmg
