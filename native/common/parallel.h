// OpenMP helpers that also compile without OpenMP (then everything runs on one thread).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

// Marks a hot loop function to be compiled twice, for x86-64-v3 (AVX2, FMA) and the baseline,
// the copy being picked when the addon loads: the .node must run on any x86-64 CPU, so the
// build itself cannot target more than the baseline.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define UCMG_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define UCMG_SIMD_CLONES
#endif

namespace ucmg::cpu {

inline int maxThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int threadIndex() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

inline bool inParallelRegion() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// An exception escaping an OpenMP region terminates the process. Bodies run through run()
// instead; the first exception is kept and rethrown by rethrow() after the region.
class RegionExceptions {
 public:
  template <typename Body>
  void run(Body&& body) noexcept {
    try {
      body();
    } catch (...) {
#pragma omp critical(ucmg_region_exceptions)
      if (!first_) first_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::exception_ptr first_;
};

// A block size for splitting `count` items over the threads: at most maxBlock (a cache budget),
// and small enough for four blocks per thread, which keeps a static schedule balanced.
inline int64_t blockSize(int64_t count, int64_t maxBlock) {
  const int64_t perQuarterThread = (count + 4 * maxThreads() - 1) / (4 * maxThreads());
  return std::max<int64_t>(1, std::min(maxBlock, perQuarterThread));
}

// Below this much work a parallel region costs more than it saves: waking the thread team
// takes microseconds on an idle machine, and up to a scheduler time slice on a busy one.
constexpr double kParallelMinFlops = 16e6;

// Runs body(begin, end) over [0, count) in blocks of `block` spread over the OpenMP threads
// (on the calling thread alone when count * flopsPerItem is below kParallelMinFlops). The
// schedule is static, so a run splits the work the same way every time (sums in a fixed
// order). A body may call gemm() under a SerialGemmScope: one thread pool does all the work.
template <typename Body>
void parallelBlocks(int64_t count, int64_t block, double flopsPerItem, Body&& body) {
  const int64_t blocks = (count + block - 1) / block;
  const bool parallel = blocks > 1 && (double)count * flopsPerItem >= kParallelMinFlops;
  RegionExceptions exceptions;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < blocks; ++i) {
    exceptions.run([&] { body(i * block, std::min(count, (i + 1) * block)); });
  }
  exceptions.rethrow();
}

}  // namespace ucmg::cpu
