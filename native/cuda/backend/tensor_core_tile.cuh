// The TF32 tensor-core main loop (real CUDA only; the emulated build has no tensor cores and
// runs Precision::Tf32 as the SIMT loop on TF32-rounded operands, the same rounding). A block
// of 4 warps computes a 64 x 64 output tile; each warp a 32 x 32 quarter as 2 x 2 wmma
// m16n16k8 products. Slices of kTcDepth along the reduced dimension go through shared memory,
// rounded to TF32 (cvt.rna) on the way in; products accumulate in fp32.
#pragma once

#if defined(__CUDACC__)

#include <mma.h>

#include <cstdint>

namespace ucmg::cuda::backend::detail {

constexpr int kTcThreads = 128;
constexpr int kTcEdge = 64;
constexpr int kTcDepth = 32;
constexpr int kTcStride = kTcDepth + 4;  // padded rows; a multiple of 4 floats, as wmma needs
constexpr int kTcOutStride = kTcEdge + 4;

// One operand's kTcEdge x kTcDepth slice into shared memory as [row][depth].
template <class Op>
__device__ void stageSlice(const Op& op, int64_t row0, int64_t k0, float* slice) {
  for (int e = threadIdx.x; e < kTcEdge * kTcDepth; e += kTcThreads) {
    // consecutive threads take consecutive addresses of the operand's contiguous dimension
    const int r = Op::kDepthContiguous ? e / kTcDepth : e % kTcEdge;
    const int k = Op::kDepthContiguous ? e % kTcDepth : e / kTcEdge;
    slice[r * kTcStride + k] = nvcuda::wmma::__float_to_tf32(op.template load<float>(row0 + r, k0 + k));
  }
}

template <class Problem>
__global__ void __launch_bounds__(kTcThreads) tensorCoreKernel(Problem p, int64_t zBase) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  __shared__ __align__(32) float sliceA[kTcEdge * kTcStride];
  __shared__ __align__(32) float sliceB[kTcEdge * kTcStride];
  __shared__ __align__(32) float tileOut[kTcEdge * kTcOutStride];
  const int64_t z = zBase + blockIdx.z;
  const auto a = p.a(z);
  const auto b = p.b(z);
  const int64_t row0 = (int64_t)blockIdx.x * kTcEdge, col0 = (int64_t)blockIdx.y * kTcEdge;
  const int warp = threadIdx.x / 32, warpRow = (warp / 2) * 32, warpCol = (warp % 2) * 32;

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  for (int64_t k0 = 0; k0 < a.depth; k0 += kTcDepth) {
    stageSlice(a, row0, k0, sliceA);
    stageSlice(b, col0, k0, sliceB);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTcDepth; k += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb[2];
      for (int i = 0; i < 2; ++i)
        wmma::load_matrix_sync(fa[i], sliceA + (warpRow + 16 * i) * kTcStride + k, kTcStride);
      for (int j = 0; j < 2; ++j)
        wmma::load_matrix_sync(fb[j], sliceB + (warpCol + 16 * j) * kTcStride + k, kTcStride);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();  // the slices are refilled next
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(tileOut + (warpRow + 16 * i) * kTcOutStride + warpCol + 16 * j, acc[i][j],
                              kTcOutStride, wmma::mem_row_major);
  __syncthreads();
  for (int e = threadIdx.x; e < kTcEdge * kTcEdge; e += kTcThreads) {
    const int r = e / kTcEdge, c = e % kTcEdge;
    if (row0 + r < p.rows && col0 + c < p.cols) p.store(z, row0 + r, col0 + c, tileOut[r * kTcOutStride + c]);
  }
#else
  __trap();  // CMake compiles for sm_80 and sm_90 only
#endif
}

}  // namespace ucmg::cuda::backend::detail

#endif  // __CUDACC__
