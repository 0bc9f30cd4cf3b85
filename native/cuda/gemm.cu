#include <stdexcept>
#include <string>

#include "gemm.cuh"
#include "runtime.cuh"
#include "tile_gemm.cuh"

namespace ucmg::cuda {

namespace {

using tile::Operand;

template <class Sh, class OpA, class OpB>
__global__ void __launch_bounds__(tile::kThreads)
    gemmKernel(OpA a, OpB b, typename Sh::Scalar alpha, typename Sh::Scalar beta,
               typename Sh::Scalar* c, int64_t ldc) {
  using T = typename Sh::Scalar;
  const int64_t row0 = (int64_t)blockIdx.x * Sh::kEdge;
  tile::forEachColumnTile<Sh>(
      a, b, row0, (int64_t)blockIdx.y * Sh::kEdge, 1, [&](const auto& acc, int64_t col0) {
        const int ty = threadIdx.x / tile::kThreadsPerSide;
        const int tx = threadIdx.x % tile::kThreadsPerSide;
#pragma unroll
        for (int i = 0; i < Sh::kPerThread; ++i) {
          const int64_t r = row0 + Sh::offset(ty, i);
          if (r >= a.rows) continue;
#pragma unroll
          for (int j = 0; j < Sh::kPerThread; ++j) {
            const int64_t col = col0 + Sh::offset(tx, j);
            if (col >= b.rows) continue;
            T* out = c + r * ldc + col;
            const T product = alpha * acc.v[i][j];
            *out = beta == T(0) ? product : product + beta * *out;
          }
        }
      });
}

template <class Sh, class T, class SA, class SB>
void launchGemm(bool aTransposed, bool bTransposed, int64_t rows, int64_t cols, int64_t depth,
                T alpha, const SA* a, int64_t lda, const SB* b, int64_t ldb, T beta, T* c,
                int64_t ldc, cudaStream_t stream) {
  const int64_t rowTiles = (rows + Sh::kEdge - 1) / Sh::kEdge;
  const int64_t colTiles = (cols + Sh::kEdge - 1) / Sh::kEdge;
  if (rowTiles > 0x7fffffff || colTiles > 65535)
    throw std::length_error("gemm: " + std::to_string(rows) + " x " + std::to_string(cols) +
                            " output exceeds the launch grid");
  const dim3 grid((unsigned)rowTiles, (unsigned)colTiles);
  auto run = [&](auto opA, auto opB) {
    gemmKernel<Sh, decltype(opA), decltype(opB)>
        <<<grid, tile::kThreads, 0, stream>>>(opA, opB, alpha, beta, c, ldc);
    UCMG_CHECK_LAUNCH("gemmKernel");
  };
  // op(A) is read as rows x depth, op(B) as cols x depth.
  const Operand<SA, true> aPlain{a, rows, depth, lda};
  const Operand<SA, false> aTrans{a, rows, depth, lda};
  const Operand<SB, false> bPlain{b, cols, depth, ldb};
  const Operand<SB, true> bTrans{b, cols, depth, ldb};
  if (!aTransposed && !bTransposed) run(aPlain, bPlain);
  else if (!aTransposed) run(aPlain, bTrans);
  else if (!bTransposed) run(aTrans, bPlain);
  else run(aTrans, bTrans);
}

// float: 128 x 128 tiles, or 64 x 64 when the larger tiles would leave multiprocessors idle.
// double: 64 x 64 tiles (4 x 4 doubles per thread keep the register count of 8 x 8 floats).
template <class T>
struct GemmShapes;
template <>
struct GemmShapes<float> {
  using Large = tile::Shape<float, 8>;
  using Small = tile::Shape<float, 4>;
};
template <>
struct GemmShapes<double> {
  using Large = tile::Shape<double, 4>;
  using Small = Large;
};

}  // namespace

template <class T, class SA, class SB>
void gemm(bool aTransposed, bool bTransposed, int64_t rows, int64_t cols, int64_t depth, T alpha,
          const SA* a, int64_t lda, const SB* b, int64_t ldb, T beta, T* c, int64_t ldc,
          cudaStream_t stream) {
  if (rows < 0 || cols < 0 || depth < 0)
    throw std::invalid_argument("gemm: negative dimension");
  if (rows == 0 || cols == 0) return;
  using Large = typename GemmShapes<T>::Large;
  using Small = typename GemmShapes<T>::Small;
  const int64_t largeTiles = ((rows + Large::kEdge - 1) / Large::kEdge) *
                             ((cols + Large::kEdge - 1) / Large::kEdge);
  if (largeTiles >= multiprocessorCount())
    launchGemm<Large>(aTransposed, bTransposed, rows, cols, depth, alpha, a, lda, b, ldb, beta, c,
                      ldc, stream);
  else
    launchGemm<Small>(aTransposed, bTransposed, rows, cols, depth, alpha, a, lda, b, ldb, beta, c,
                      ldc, stream);
}

template void gemm<float, float, float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                        int64_t, const float*, int64_t, float, float*, int64_t,
                                        cudaStream_t);
template void gemm<double, float, float>(bool, bool, int64_t, int64_t, int64_t, double,
                                         const float*, int64_t, const float*, int64_t, double,
                                         double*, int64_t, cudaStream_t);
template void gemm<double, double, double>(bool, bool, int64_t, int64_t, int64_t, double,
                                           const double*, int64_t, const double*, int64_t, double,
                                           double*, int64_t, cudaStream_t);
template void gemm<double, double, float>(bool, bool, int64_t, int64_t, int64_t, double,
                                          const double*, int64_t, const float*, int64_t, double,
                                          double*, int64_t, cudaStream_t);

}  // namespace ucmg::cuda
