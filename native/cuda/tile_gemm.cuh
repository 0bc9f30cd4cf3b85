// The block-level GEMM main loop shared by the general GEMM (gemm.cu) and the fused
// nearest-code screen (quantize.cu): a block of 16 x 16 threads computes an E x E tile of
// A B^T, each thread a P x P register block, streaming slices of kDepth along the reduced
// dimension through double-buffered shared memory (the next slice is fetched from global
// memory into registers while the current one is multiplied).
// Registers (sm_90, ptxas): the 8 x 8 float tile takes ~170 per thread, so one block per
// multiprocessor; capping at 128 for two blocks made ptxas spill. 4 x 4 doubles take ~120.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ucmg::cuda::tile {

constexpr int kThreads = 256;
constexpr int kThreadsPerSide = 16;
constexpr int kDepth = 8;

// T: accumulation type; P: rows (and columns) per thread.
template <class T, int P>
struct Shape {
  using Scalar = T;
  static constexpr int kVector = 16 / (int)sizeof(T);     // elements per 16-byte shared load
  static constexpr int kPerThread = P;
  static constexpr int kEdge = kThreadsPerSide * P;       // tile rows = tile columns
  static constexpr int kStride = kEdge + kVector;         // padded shared row, 16-byte aligned
  static_assert(P % kVector == 0, "a thread's values must fill whole 16-byte vectors");
  static_assert(kEdge * kDepth % kThreads == 0, "tile loads must split evenly over threads");

  // The tile row (or column) of a thread's r-th value. A thread's values come in vectors of
  // kVector; consecutive threads hold consecutive vectors, so a warp's 16-byte shared loads
  // cover one contiguous span and never conflict on a bank.
  __device__ static int offset(int threadCoord, int r) {
    return (r / kVector) * (kThreadsPerSide * kVector) + threadCoord * kVector + r % kVector;
  }
};

// A matrix read as rows x depth (depth is the reduced dimension). Depth-contiguous: element
// (r, k) is data[r * ld + k]; otherwise rows are contiguous: data[k * ld + r]. Out-of-range
// elements read as 0, so partial tiles need no other care.
template <class S, bool DepthContiguous>
struct Operand {
  static constexpr bool kDepthContiguous = DepthContiguous;
  const S* data;
  int64_t rows;
  int64_t depth;
  int64_t ld;

  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    if (r >= rows || k >= depth) return T(0);
    return static_cast<T>(DepthContiguous ? data[r * ld + k] : data[k * ld + r]);
  }
};

__device__ inline float multiplyAdd(float a, float b, float c) { return fmaf(a, b, c); }
__device__ inline double multiplyAdd(double a, double b, double c) { return fma(a, b, c); }

__device__ inline void load16(const float* p, float* out) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
}
__device__ inline void load16(const double* p, double* out) {
  const double2 v = *reinterpret_cast<const double2*>(p);
  out[0] = v.x, out[1] = v.y;
}

// One operand's E x kDepth slice on its way from global to shared memory (as [kDepth][kStride]).
template <class Sh, class Op>
struct Stager {
  using T = typename Sh::Scalar;
  static constexpr int kCount = Sh::kEdge * kDepth / kThreads;
  T value[kCount];

  // Consecutive threads take consecutive addresses of the operand's contiguous dimension.
  __device__ static void coords(int e, int& r, int& k) {
    const int flat = threadIdx.x + e * kThreads;
    if constexpr (Op::kDepthContiguous) {
      r = flat / kDepth, k = flat % kDepth;
    } else {
      k = flat / Sh::kEdge, r = flat % Sh::kEdge;
    }
  }
  __device__ void fetch(const Op& op, int64_t row0, int64_t k0) {
#pragma unroll
    for (int e = 0; e < kCount; ++e) {
      int r, k;
      coords(e, r, k);
      value[e] = op.template load<T>(row0 + r, k0 + k);
    }
  }
  __device__ void stash(T* slice) const {
#pragma unroll
    for (int e = 0; e < kCount; ++e) {
      int r, k;
      coords(e, r, k);
      slice[k * Sh::kStride + r] = value[e];
    }
  }
};

template <class Sh>
struct Accumulator {
  using T = typename Sh::Scalar;
  static constexpr int P = Sh::kPerThread;
  T v[P][P];  // v[i][j]: tile row offset(ty, i), tile column offset(tx, j)

  __device__ void clear() {
#pragma unroll
    for (int i = 0; i < P; ++i)
#pragma unroll
      for (int j = 0; j < P; ++j) v[i][j] = T(0);
  }

  __device__ void multiply(const T* sliceA, const T* sliceB) {
    const int ty = threadIdx.x / kThreadsPerSide, tx = threadIdx.x % kThreadsPerSide;
#pragma unroll
    for (int k = 0; k < kDepth; ++k) {
      T a[P], b[P];
#pragma unroll
      for (int g = 0; g < P; g += Sh::kVector) {
        load16(sliceA + k * Sh::kStride + Sh::offset(ty, g), a + g);
        load16(sliceB + k * Sh::kStride + Sh::offset(tx, g), b + g);
      }
#pragma unroll
      for (int i = 0; i < P; ++i)
#pragma unroll
        for (int j = 0; j < P; ++j) v[i][j] = multiplyAdd(a[i], b[j], v[i][j]);
    }
  }
};

// Computes the block's tile rows [row0, row0 + E) against `colTiles` consecutive column tiles
// of b starting at col0, each over the whole depth, and calls epilogue(acc, colBase) once per
// column tile (acc holds that tile's products). a and b must have the same depth. The fetch
// of the next slice crosses column-tile boundaries, so the pipeline never drains.
template <class Sh, class OpA, class OpB, class Epilogue>
__device__ void forEachColumnTile(const OpA& a, const OpB& b, int64_t row0, int64_t col0,
                                  int64_t colTiles, Epilogue&& epilogue) {
  using T = typename Sh::Scalar;
  constexpr int kSlice = kDepth * Sh::kStride;
  __shared__ __align__(16) T sliceA[2][kSlice];
  __shared__ __align__(16) T sliceB[2][kSlice];

  Stager<Sh, OpA> stageA;
  Stager<Sh, OpB> stageB;
  Accumulator<Sh> acc;
  // depth 0 still takes one (all-zero) step so that every tile reaches its epilogue
  const int depthSteps = a.depth > 0 ? (int)((a.depth + kDepth - 1) / kDepth) : 1;

  stageA.fetch(a, row0, 0);
  stageB.fetch(b, col0, 0);
  stageA.stash(sliceA[0]);
  stageB.stash(sliceB[0]);
  __syncthreads();
  int buffer = 0;
  for (int64_t tileIndex = 0; tileIndex < colTiles; ++tileIndex) {
    const int64_t colBase = col0 + tileIndex * Sh::kEdge;
    const bool lastTile = tileIndex + 1 == colTiles;
    acc.clear();
    for (int step = 0; step < depthSteps; ++step) {
      // The next slice: further along the depth, or the start of the next column tile.
      const bool nextInTile = step + 1 < depthSteps;
      const bool more = nextInTile || !lastTile;
      if (more) {
        const int64_t nextK = nextInTile ? (int64_t)(step + 1) * kDepth : 0;
        stageA.fetch(a, row0, nextK);
        stageB.fetch(b, nextInTile ? colBase : colBase + Sh::kEdge, nextK);
      }
      acc.multiply(sliceA[buffer], sliceB[buffer]);
      // The other buffer was last read in the previous step, which every thread finished
      // before the barrier that ended it.
      if (more) {
        stageA.stash(sliceA[buffer ^ 1]);
        stageB.stash(sliceB[buffer ^ 1]);
      }
      __syncthreads();
      buffer ^= 1;
    }
    epilogue(acc, colBase);
  }
}

}  // namespace ucmg::cuda::tile
