// A blocked GEMM in plain C++ for builds without OpenBLAS. Panels of op(A) and op(B) are packed
// into contiguous row-major blocks, then four rows of C are updated at a time so each loaded
// row of the B panel feeds four multiply-adds; the inner loop over columns vectorises.
#include <algorithm>
#include <vector>

#include "gemm.h"
#include "parallel.h"

namespace ucmg::cpu {

namespace {

constexpr int64_t kRowBlock = 64;   // rows of C per task
constexpr int64_t kDepthBlock = 256;
constexpr int64_t kColBlock = 512;  // kDepthBlock x kColBlock floats of B stay in L2

// C[0..rows, 0..cols] += Ap[rows, depth] * Bp[depth, cols], all row-major, C with stride ldc.
template <typename T>
void multiplyPanels(const T* Ap, const T* Bp, int64_t rows, int64_t depth, int64_t cols, T* C,
                    int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    T* c0 = C + i * ldc;
    T* c1 = c0 + ldc;
    T* c2 = c1 + ldc;
    T* c3 = c2 + ldc;
    for (int64_t k = 0; k < depth; ++k) {
      const T a0 = Ap[i * depth + k], a1 = Ap[(i + 1) * depth + k];
      const T a2 = Ap[(i + 2) * depth + k], a3 = Ap[(i + 3) * depth + k];
      const T* b = Bp + k * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) {
        c0[j] += a0 * b[j];
        c1[j] += a1 * b[j];
        c2[j] += a2 * b[j];
        c3[j] += a3 * b[j];
      }
    }
  }
  for (; i < rows; ++i) {
    T* c = C + i * ldc;
    for (int64_t k = 0; k < depth; ++k) {
      const T a = Ap[i * depth + k];
      const T* b = Bp + k * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) c[j] += a * b[j];
    }
  }
}

}  // namespace

template <typename T>
void portableGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const int64_t rowBlocks = (M + kRowBlock - 1) / kRowBlock;
  RegionExceptions exceptions;
  const bool parallel =
      rowBlocks > 1 && !inParallelRegion() && 2.0 * M * N * K >= kParallelMinFlops;
#pragma omp parallel for schedule(dynamic) if (parallel)
  for (int64_t blk = 0; blk < rowBlocks; ++blk) {
    exceptions.run([&] {
      const int64_t i0 = blk * kRowBlock;
      const int64_t rows = std::min(kRowBlock, M - i0);
      for (int64_t i = i0; i < i0 + rows; ++i) {
        T* c = C + i * ldc;
        if (beta == T(0)) {
          std::fill(c, c + N, T(0));
        } else if (beta != T(1)) {
          for (int64_t j = 0; j < N; ++j) c[j] *= beta;
        }
      }
      std::vector<T> Ap(kRowBlock * kDepthBlock), Bp(kDepthBlock * kColBlock);
      for (int64_t k0 = 0; k0 < K; k0 += kDepthBlock) {
        const int64_t depth = std::min(kDepthBlock, K - k0);
        // Ap = alpha * op(A)[i0.., k0..]
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t k = 0; k < depth; ++k)
            Ap[i * depth + k] =
                alpha * (transA ? A[(k0 + k) * lda + i0 + i] : A[(i0 + i) * lda + k0 + k]);
        for (int64_t j0 = 0; j0 < N; j0 += kColBlock) {
          const int64_t cols = std::min(kColBlock, N - j0);
          for (int64_t k = 0; k < depth; ++k)
            for (int64_t j = 0; j < cols; ++j)
              Bp[k * cols + j] = transB ? B[(j0 + j) * ldb + k0 + k] : B[(k0 + k) * ldb + j0 + j];
          multiplyPanels(Ap.data(), Bp.data(), rows, depth, cols, C + i0 * ldc + j0, ldc);
        }
      }
    });
  }
  exceptions.rethrow();
}

template void portableGemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                  int64_t, const float*, int64_t, float, float*, int64_t);
template void portableGemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                   int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace ucmg::cpu
