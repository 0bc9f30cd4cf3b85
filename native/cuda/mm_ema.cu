#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "mm_ema.cuh"
#include "reduce.cuh"

namespace ucmg::cuda {

namespace {

constexpr int kSerialThreads = 1024;  // the one-block kernels (counts, reset)
constexpr int kRowThreads = 128;

// Per (modality, row): sort key modality * m + code and the row; hits[modality * m + code]
// counts the rows. An index outside [0, m) is counted as bad and gets the key k * m, which
// sorts after every real key and belongs to no code.
__global__ void keyRowsKernel(const int32_t* indices, int k, int64_t n, int64_t m, uint32_t* keys,
                              int32_t* rows, int32_t* hits, int32_t* badIndexCount) {
  const int64_t total = k * n, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t f = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; f < total; f += stride) {
    const int64_t modality = f / n;
    const int32_t code = indices[f];
    rows[f] = (int32_t)(f - modality * n);
    if (code >= 0 && code < m) {
      keys[f] = (uint32_t)(modality * m + code);
      atomicAdd(hits + modality * m + code, 1);
    } else {
      keys[f] = (uint32_t)(k * m);
      atomicAdd(badIndexCount, 1);
    }
  }
}

// dw of ops.h for one (modality, code) per block, in double: the rows owned by that code, in
// ascending order, with each source modality's weight, summed exactly as the CPU sums them
// (source by source, row by row, each product and sum rounded on its own).
__global__ void codeUpdateKernel(const float* z, const int32_t* sortedRows,
                                 const int32_t* segmentStart, const int32_t* hits, int k,
                                 int64_t n, int64_t m, int64_t d, double ownWeight,
                                 double crossWeight, double* codeUpdate) {
  for (int64_t segment = blockIdx.x; segment < k * m; segment += gridDim.x) {
    const int modality = (int)(segment / m);
    const int32_t* rows = sortedRows + segmentStart[segment];
    const int32_t count = hits[segment];
    for (int64_t t = threadIdx.x; t < d; t += blockDim.x) {
      double sum = 0.0;
      for (int source = 0; source < k; ++source) {
        const double w = source == modality ? ownWeight : crossWeight;
        if (w == 0.0) continue;
        const float* zs = z + source * n * d + t;
        for (int32_t r = 0; r < count; ++r)
          sum = __dadd_rn(sum, __dmul_rn(w, (double)zs[(int64_t)rows[r] * d]));
      }
      codeUpdate[segment * d + t] = sum;
    }
  }
}

// The sequential part of the count EMA (each modality needs the previous one's total), with
// the perplexities. finalCount receives the float64 counts the embedding is divided by.
__global__ void __launch_bounds__(kSerialThreads)
    countsKernel(const int32_t* hits, int k, int64_t n, int64_t m, double decay, double epsilon,
                 float* emaCount, double* finalCount, double* perplexity) {
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) finalCount[j] = emaCount[j];
  const double keep = __dsub_rn(1.0, decay);
  const double smoothing = __dmul_rn((double)m, epsilon);
  for (int modality = 0; modality < k; ++modality) {
    const int32_t* modalityHits = hits + modality * m;
    double total = 0.0, entropy = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      const double h = modalityHits[j];
      const double c = __dadd_rn(__dmul_rn(decay, finalCount[j]), __dmul_rn(keep, h));
      finalCount[j] = c;
      total += c;
      const double p = __ddiv_rn(h, (double)n);
      entropy -= p * log(p + 1e-10);
    }
    total = blockReduce(total, SumOp());
    entropy = blockReduce(entropy, SumOp());
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
      finalCount[j] = __dmul_rn(
          __ddiv_rn(__dadd_rn(finalCount[j], epsilon), __dadd_rn(total, smoothing)), total);
    if (threadIdx.x == 0) perplexity[modality] = exp(entropy);
  }
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) emaCount[j] = (float)finalCount[j];
}

// emaWeight through the k modality updates in double, then embedding = weight / count.
__global__ void weightsKernel(DeviceCodebook state, const double* codeUpdate,
                              const double* finalCount, int k, double decay) {
  const int64_t total = state.m * state.d, stride = (int64_t)gridDim.x * blockDim.x;
  const double keep = __dsub_rn(1.0, decay);
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
    double w = state.emaWeight[e];
    for (int modality = 0; modality < k; ++modality)
      w = __dadd_rn(__dmul_rn(decay, w), __dmul_rn(keep, codeUpdate[modality * total + e]));
    state.emaWeight[e] = (float)w;
    state.embedding[e] = (float)__ddiv_rn(w, finalCount[e / state.d]);
  }
}

// The dead-code reset of ops.h in one block, on the float32 embedding. Codes are listed in
// ascending order by block-wide scans; revivals run one after another, since a source may be a
// code revived before it.
__global__ void __launch_bounds__(kSerialThreads)
    resetKernel(DeviceCodebook state, const int32_t* hits, int k, int32_t deadAfter,
                int32_t activeBelow, uint32_t seed, bool resetEma, int32_t* activeCodes,
                int32_t* resetCodes, int32_t* resetSources, int32_t* resetCount) {
  const int64_t m = state.m, d = state.d;
  int activeTotal = 0;
  for (int64_t base = 0; base < m; base += blockDim.x) {
    const int64_t j = base + threadIdx.x;
    int active = 0;
    if (j < m) {
      bool used = false;
      for (int modality = 0; modality < k; ++modality) used |= hits[modality * m + j] > 0;
      const int32_t u = used ? 0 : nextUnusedCount(state.unused[j]);
      state.unused[j] = u;
      active = u >= 0 && u < activeBelow;
    }
    int added;
    const int position = blockExclusiveScan(active, &added);
    if (active) activeCodes[activeTotal + position] = (int32_t)j;
    activeTotal += added;
  }
  if (activeTotal == 0) {  // nothing to copy from: no code is revived (its counter stays)
    if (threadIdx.x == 0) *resetCount = 0;
    return;
  }
  int deadTotal = 0;
  for (int64_t base = 0; base < m; base += blockDim.x) {
    const int64_t j = base + threadIdx.x;
    const int dead = j < m && state.unused[j] > deadAfter;
    int added;
    const int position = blockExclusiveScan(dead, &added);
    if (dead) resetCodes[deadTotal + position] = (int32_t)j;
    deadTotal += added;
  }
  __syncthreads();  // resetCodes and activeCodes were written by other threads
  for (int r = 0; r < deadTotal; ++r) {
    const int32_t j = resetCodes[r];
    const int64_t pick = (int64_t)(resetRandom(seed, 0u, (uint32_t)j) * (double)activeTotal);
    const int32_t source = activeCodes[pick < activeTotal ? pick : activeTotal - 1];
    float* target = state.embedding + j * d;
    const float* from = state.embedding + (int64_t)source * d;
    for (int64_t t = threadIdx.x; t < d; t += blockDim.x) {
      target[t] = __fadd_rn(from[t], resetNoise(seed, (uint32_t)(j * d + t)));
      if (resetEma) state.emaWeight[j * d + t] = __fmul_rn(target[t], state.emaCount[j]);
    }
    if (threadIdx.x == 0) {
      state.unused[j] = 0;
      resetSources[r] = source;
    }
    __syncthreads();  // the next revival may copy this code
  }
  if (threadIdx.x == 0) *resetCount = deadTotal;
}

// The most frequent value among v[0..t) (ties to the smallest value).
__device__ int32_t modeOf(const int32_t* v, int64_t t) {
  int32_t best = v[0];
  int64_t bestCount = 0;
  for (int64_t a = 0; a < t; ++a) {
    int64_t count = 0;
    for (int64_t b = 0; b < t; ++b) count += v[b] == v[a];
    if (count > bestCount || (count == bestCount && v[a] < best)) best = v[a], bestCount = count;
  }
  return best;
}

__global__ void equalNumKernel(const int32_t* indices, int k, int64_t n, int64_t t,
                               unsigned long long* equalNum) {
  const int64_t clips = n / t, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t clip = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; clip < clips;
       clip += stride) {
    const int32_t first = modeOf(indices + clip * t, t);
    bool same = true;
    for (int modality = 1; modality < k && same; ++modality)
      same = modeOf(indices + modality * n + clip * t, t) == first;
    if (same) atomicAdd(equalNum, 1ull);
  }
}

int bitsFor(int64_t value) {
  int bits = 1;
  while (bits < 32 && (value >> bits) != 0) ++bits;
  return bits;
}

}  // namespace

DeviceMmEmaReport mmEmaOnDevice(DeviceCodebook& state, const float* z, const int32_t* indices,
                                int k, int64_t n, const MmEmaOptions& options,
                                MmEmaWorkspace& work, cudaStream_t stream) {
  const int64_t m = state.m, d = state.d;
  if (k < 1 || n < 0 || m < 1 || d < 0 || options.segmentsPerClip < 1 ||
      k * n > std::numeric_limits<int32_t>::max() || k * m >= std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("mmEmaStep: need k >= 1, 0 <= k*n < 2^31, 1 <= k*m < 2^31, d >= 0, "
                                "segmentsPerClip >= 1; got k = " + std::to_string(k) +
                                ", n = " + std::to_string(n) + ", m = " + std::to_string(m) +
                                ", d = " + std::to_string(d) + ", segmentsPerClip = " +
                                std::to_string(options.segmentsPerClip));
  const int64_t items = k * n, segments = k * m;
  auto* keys = work.sortKeys.reserve<uint32_t>(items);
  auto* sortedKeys = work.sortedKeys.reserve<uint32_t>(items);
  auto* rows = work.sortRows.reserve<int32_t>(items);
  auto* sortedRows = work.sortedRows.reserve<int32_t>(items);
  auto* hits = work.hits.reserve<int32_t>(segments);
  auto* segmentStart = work.segmentStart.reserve<int32_t>(segments);
  auto* codeUpdate = work.codeUpdate.reserve<double>(segments * d);
  auto* finalCount = work.countUpdate.reserve<double>(m);
  auto* activeCodes = work.activeCodes.reserve<int32_t>(m);
  auto* perplexity = work.perplexity.reserve<double>(k);
  auto* equalNum = work.equalNum.reserve<unsigned long long>(1);
  auto* resetCount = work.resetCount.reserve<int32_t>(1);
  auto* resetCodes = work.resetCodes.reserve<int32_t>(m);
  auto* resetSources = work.resetSources.reserve<int32_t>(m);
  auto* badIndexCount = work.badIndexCount.reserve<int32_t>(1);

  UCMG_CUDA_CHECK(cudaMemsetAsync(hits, 0, segments * sizeof(int32_t), stream));
  UCMG_CUDA_CHECK(cudaMemsetAsync(badIndexCount, 0, sizeof(int32_t), stream));
  UCMG_CUDA_CHECK(cudaMemsetAsync(equalNum, 0, sizeof(unsigned long long), stream));

  if (items > 0) {
    keyRowsKernel<<<blocksFor(items, 256, 65535), 256, 0, stream>>>(indices, k, n, m, keys, rows,
                                                                    hits, badIndexCount);
    UCMG_CHECK_LAUNCH("keyRowsKernel");
    // A stable sort by code: each code's rows stay in ascending order.
    const int endBit = bitsFor(segments);  // the bad-index key, k * m, included
    size_t sortBytes = 0, scanBytes = 0;
    UCMG_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sortBytes, keys, sortedKeys, rows,
                                                    sortedRows, items, 0, endBit, stream));
    UCMG_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scanBytes, hits, segmentStart,
                                                  segments, stream));
    void* temp = work.sortTemp.reserve<char>((int64_t)std::max(sortBytes, scanBytes));
    UCMG_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, sortBytes, keys, sortedKeys, rows,
                                                    sortedRows, items, 0, endBit, stream));
    UCMG_CUDA_CHECK(
        cub::DeviceScan::ExclusiveSum(temp, scanBytes, hits, segmentStart, segments, stream));
  } else {
    UCMG_CUDA_CHECK(cudaMemsetAsync(segmentStart, 0, segments * sizeof(int32_t), stream));
  }

  const double ownWeight = options.crossModal ? 0.5 : 1.0;
  const double crossWeight = options.crossModal && k > 1 ? 0.5 / (k - 1) : 0.0;
  if (d > 0) {
    codeUpdateKernel<<<blocksFor(segments, 1, 65535), kRowThreads, 0, stream>>>(
        z, sortedRows, segmentStart, hits, k, n, m, d, ownWeight, crossWeight, codeUpdate);
    UCMG_CHECK_LAUNCH("codeUpdateKernel");
  }
  countsKernel<<<1, kSerialThreads, 0, stream>>>(hits, k, n, m, options.decay, options.epsilon,
                                                 state.emaCount, finalCount, perplexity);
  UCMG_CHECK_LAUNCH("countsKernel");
  if (d > 0) {
    weightsKernel<<<blocksFor(m * d, 256, 65535), 256, 0, stream>>>(state, codeUpdate, finalCount,
                                                                   k, options.decay);
    UCMG_CHECK_LAUNCH("weightsKernel");
  }
  resetKernel<<<1, kSerialThreads, 0, stream>>>(state, hits, k, options.deadAfter,
                                                options.activeBelow, options.seed,
                                                options.resetEma, activeCodes, resetCodes,
                                                resetSources, resetCount);
  UCMG_CHECK_LAUNCH("resetKernel");
  const int64_t clips = n / options.segmentsPerClip;
  if (clips > 0) {
    equalNumKernel<<<blocksFor(clips, 256, 65535), 256, 0, stream>>>(
        indices, k, n, options.segmentsPerClip, equalNum);
    UCMG_CHECK_LAUNCH("equalNumKernel");
  }
  return {perplexity, equalNum, resetCount, resetCodes, resetSources, badIndexCount};
}

}  // namespace ucmg::cuda
