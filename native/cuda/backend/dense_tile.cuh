// What the backend's products and convolutions share: a launcher that runs the block-level
// GEMM main loop of tile_gemm.cuh over a grid of output tiles times a third grid axis (batch
// index, or depth split), the fused epilogue on the device, and the TF32 rounding of operands.
// Precision::Tf32 runs the tensor-core loop of tensor_core_tile.cuh in real CUDA builds, and
// the SIMT loop on TF32-rounded operands in the emulated build (which has no tensor cores).
//
// A problem (matmul.cu, conv2d.cu) is a struct passed by value to the kernel with
//   rows, cols                      the output tile grid (rows x cols per z)
//   a(z), b(z)                      the operands of slice z, read as rows x depth and
//                                   cols x depth (tile_gemm.cuh's Operand interface: load<T>(r, k),
//                                   kDepthContiguous, depth)
//   store(z, row, col, value)       writes one finished element
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../runtime.cuh"
#include "../tile_gemm.cuh"
#include "dense.cuh"
#include "tensor_core_tile.cuh"

namespace ucmg::cuda::backend::detail {

// Round to TF32 (10 explicit mantissa bits) to nearest, ties away from zero: what
// cvt.rna.tf32.f32 does before a tensor-core product. Inf and NaN pass unchanged.
__device__ inline float roundToTf32(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
  memcpy(&x, &bits, sizeof bits);
  return x;
}

// An operand read with TF32 rounding (the Tf32 precision on the SIMT path).
template <class Op>
struct Tf32Operand {
  static constexpr bool kDepthContiguous = Op::kDepthContiguous;
  Op op;
  int64_t depth;
  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    return roundToTf32(op.template load<T>(r, k));
  }
};

// Elements [k0, k0 + depth) of an operand's depth, renumbered from 0 (one split of a reduction).
template <class Op>
struct DepthSlice {
  static constexpr bool kDepthContiguous = Op::kDepthContiguous;
  Op op;
  int64_t k0;
  int64_t depth;
  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    return k < depth ? op.template load<T>(r, k0 + k) : T(0);
  }
};

// dense::Epilogue with device pointers, applied per element: act(v + bias[col]).
struct DeviceEpilogue {
  const float* bias = nullptr;
  bool biasPerColumn = false;
  dense::Activation activation = dense::Activation::Linear;
  float leakyreluAlpha = 0.2f;
  const float* preluAlpha = nullptr;
  bool preluPerColumn = false;

  static DeviceEpilogue from(const dense::Epilogue& e) {
    DeviceEpilogue d;
    d.bias = e.bias;
    d.biasPerColumn = e.bias != nullptr && e.biasLength != 1;
    d.activation = e.activation;
    d.leakyreluAlpha = e.leakyreluAlpha;
    d.preluAlpha = e.preluAlpha;
    d.preluPerColumn = e.preluAlpha != nullptr && e.preluLength != 1;
    return d;
  }

  __device__ float operator()(float v, int64_t col) const {
    if (bias != nullptr) v += bias[biasPerColumn ? col : 0];
    switch (activation) {
      case dense::Activation::Linear: return v;
      case dense::Activation::Relu: return v < 0.0f ? 0.0f : v;
      case dense::Activation::Relu6: return fminf(fmaxf(v, 0.0f), 6.0f);
      case dense::Activation::Elu: return v >= 0.0f ? v : expm1f(v);
      case dense::Activation::LeakyRelu: return v < 0.0f ? leakyreluAlpha * v : v;
      case dense::Activation::Prelu:
        return v < 0.0f ? preluAlpha[preluPerColumn ? col : 0] * v : v;
      case dense::Activation::Sigmoid: return 1.0f / (1.0f + expf(-v));
    }
    return v;
  }
};

template <bool Tf32, class Op>
__device__ auto withPrecision(const Op& op) {
  if constexpr (Tf32) {
    return Tf32Operand<Op>{op, op.depth};
  } else {
    return op;
  }
}

template <class Sh, class Problem, bool Tf32>
__global__ void __launch_bounds__(tile::kThreads) tileKernel(Problem p, int64_t zBase) {
  const int64_t z = zBase + blockIdx.z;
  const auto a = withPrecision<Tf32>(p.a(z));
  const auto b = withPrecision<Tf32>(p.b(z));
  const int64_t row0 = (int64_t)blockIdx.x * Sh::kEdge;
  tile::forEachColumnTile<Sh>(
      a, b, row0, (int64_t)blockIdx.y * Sh::kEdge, 1, [&](const auto& acc, int64_t col0) {
        const int ty = threadIdx.x / tile::kThreadsPerSide;
        const int tx = threadIdx.x % tile::kThreadsPerSide;
#pragma unroll
        for (int i = 0; i < Sh::kPerThread; ++i) {
          const int64_t r = row0 + Sh::offset(ty, i);
          if (r >= p.rows) continue;
#pragma unroll
          for (int j = 0; j < Sh::kPerThread; ++j) {
            const int64_t c = col0 + Sh::offset(tx, j);
            if (c < p.cols) p.store(z, r, c, acc.v[i][j]);
          }
        }
      });
}

using LargeTile = tile::Shape<float, 8>;  // 128 x 128 per block
using SmallTile = tile::Shape<float, 4>;  // 64 x 64 per block

// Large tiles unless they would leave multiprocessors idle.
inline bool useLargeTiles(int64_t rows, int64_t cols, int64_t slices) {
  const int64_t e = LargeTile::kEdge;
  return ((rows + e - 1) / e) * ((cols + e - 1) / e) * slices >= multiprocessorCount();
}

// Runs kernel(p, z0) over the output's tiles of edge x edge, `slices` deep.
template <class Problem, class Kernel>
void launchGrid(const Problem& p, int64_t slices, int64_t edge, Kernel kernel, int threads, cudaStream_t stream) {
  const int64_t rowTiles = (p.rows + edge - 1) / edge;
  const int64_t colTiles = (p.cols + edge - 1) / edge;
  if (rowTiles > 0x7fffffff || colTiles > 65535)
    throw std::length_error("dense kernel: " + std::to_string(p.rows) + " x " +
                            std::to_string(p.cols) + " output exceeds the launch grid");
  constexpr int64_t kMaxSlicesPerLaunch = 65535;
  for (int64_t z0 = 0; z0 < slices; z0 += kMaxSlicesPerLaunch) {
    const dim3 grid((unsigned)rowTiles, (unsigned)colTiles,
                    (unsigned)std::min(kMaxSlicesPerLaunch, slices - z0));
    kernel<<<grid, threads, 0, stream>>>(p, z0);
    UCMG_CHECK_LAUNCH("dense tile kernel");
  }
}

// Runs `p` over `slices` slices of its tile grid (nothing when the output is empty).
template <class Problem>
void runTiles(const Problem& p, int64_t slices, Precision precision, cudaStream_t stream) {
  if (p.rows == 0 || p.cols == 0 || slices == 0) return;
  const bool large = useLargeTiles(p.rows, p.cols, slices);
  const bool tf32 = precision == Precision::Tf32;
  constexpr int kT = tile::kThreads;
#if defined(__CUDACC__)
  if (tf32) return launchGrid(p, slices, kTcEdge, &tensorCoreKernel<Problem>, kTcThreads, stream);
#else
  // the emulated build: no tensor cores, the same rounding on the SIMT loop
  if (tf32 && large) return launchGrid(p, slices, LargeTile::kEdge, &tileKernel<LargeTile, Problem, true>, kT, stream);
  if (tf32) return launchGrid(p, slices, SmallTile::kEdge, &tileKernel<SmallTile, Problem, true>, kT, stream);
#endif
  if (large) launchGrid(p, slices, LargeTile::kEdge, &tileKernel<LargeTile, Problem, false>, kT, stream);
  else launchGrid(p, slices, SmallTile::kEdge, &tileKernel<SmallTile, Problem, false>, kT, stream);
}

}  // namespace ucmg::cuda::backend::detail
