// Warp and block reductions and scans. All are deterministic: the combination order depends
// only on the block shape, never on timing. Block functions need blockDim.x to be a multiple of
// 32 (at most 1024), must be reached by every thread of the block, and return the result to
// every thread.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ucmg::cuda {

constexpr unsigned kFullWarp = 0xffffffffu;

// A score with the index it belongs to; the smaller score wins, ties go to the lower index.
struct ScoredIndex {
  double score;
  int64_t index;
};

__device__ inline float shuffleXor(float v, int mask) {
  return __shfl_xor_sync(kFullWarp, v, mask);
}
__device__ inline double shuffleXor(double v, int mask) {
  return __shfl_xor_sync(kFullWarp, v, mask);
}
__device__ inline int shuffleXor(int v, int mask) { return __shfl_xor_sync(kFullWarp, v, mask); }
__device__ inline ScoredIndex shuffleXor(ScoredIndex v, int mask) {
  return {__shfl_xor_sync(kFullWarp, v.score, mask),
          (int64_t)__shfl_xor_sync(kFullWarp, (long long)v.index, mask)};
}

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MinOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return b < a ? b : a; }
};
struct MaxOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};
struct LowestOp {
  __device__ ScoredIndex operator()(ScoredIndex a, ScoredIndex b) const {
    return (b.score < a.score || (b.score == a.score && b.index < a.index)) ? b : a;
  }
};

// Butterfly over `width` lanes (a power of two up to 32); every lane gets its group's result.
template <class T, class Op>
__device__ T warpReduce(T v, Op op, int width = 32) {
  for (int mask = width / 2; mask > 0; mask /= 2) v = op(v, shuffleXor(v, mask));
  return v;
}

template <class T, class Op>
__device__ T blockReduce(T v, Op op) {
  __shared__ T partial[32];
  v = warpReduce(v, op);
  __syncthreads();  // an earlier call may still be reading `partial`
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  T result = partial[0];
  for (int w = 1; w < (int)(blockDim.x / 32); ++w) result = op(result, partial[w]);
  return result;
}

// Exclusive prefix sum of one int per thread in thread order; *total gets the block's sum.
__device__ inline int blockExclusiveScan(int v, int* total) {
  __shared__ int warpTotals[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int inclusive = v;
  for (int offset = 1; offset < 32; offset *= 2) {
    const int up = __shfl_up_sync(kFullWarp, inclusive, offset);
    if (lane >= offset) inclusive += up;
  }
  __syncthreads();  // an earlier call may still be reading `warpTotals`
  if (lane == 31) warpTotals[warp] = inclusive;
  __syncthreads();
  int before = 0, sum = 0;
  for (int w = 0; w < (int)(blockDim.x / 32); ++w) {
    if (w < warp) before += warpTotals[w];
    sum += warpTotals[w];
  }
  *total = sum;
  return before + inclusive - v;
}

}  // namespace ucmg::cuda
