// Runs the CUDA sources of native/cuda on the CPU, for checking them where there is no GPU
// (build.sh force-includes this header and rewrites kernel<<<...>>>(...) launches). It covers
// exactly the subset those sources use. The threads of a block are fibers switched at every
// barrier and warp shuffle, so these, shared memory (a function-static array: blocks run one
// after another) and atomics behave as on the device, deterministically. Fresh device memory
// is filled with 0xff bytes (NaN floats, -1 ints) so that reads of unwritten memory show.
// Speed is no guide.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

// ---- types ------------------------------------------------------------------------------------
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };

inline dim3 threadIdx, blockIdx, blockDim, gridDim;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
};
using cudaStream_t = void*;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount };
struct cudaDeviceProp {
  char name[256];
  int major, minor;
  size_t totalGlobalMem;
};
struct cudaFuncAttributes {
  int maxThreadsPerBlock;
};

namespace emu {

inline cudaError_t& lastError() {
  static cudaError_t error = cudaSuccess;
  return error;
}
inline cudaError_t fail(cudaError_t e) { return lastError() = e; }

// All threads of a block are fibers on the calling OS thread (ucontext), switched only where
// a device thread would wait: at a barrier. A scheduler runs them round-robin, so a run is
// deterministic and needs no locks; atomics are plain read-modify-writes.
struct Fiber {
  static constexpr size_t kStackBytes = 64 * 1024;
  ucontext_t context;
  std::unique_ptr<char[]> stack{new char[kStackBytes]};
  unsigned index = 0;
  bool finished = false;
};

inline ucontext_t schedulerContext;
inline Fiber* currentFiber = nullptr;
inline const std::function<void()>* blockBody = nullptr;

inline void yield() { swapcontext(&currentFiber->context, &schedulerContext); }

// A barrier whose party shrinks when a thread leaves the kernel (as exited device threads stop
// counting for __syncthreads).
class ShrinkingBarrier {
 public:
  void reset(int parties) { running_ = parties, arrived_ = 0; }
  void wait() {
    const uint64_t generation = generation_;
    if (++arrived_ == running_) return release();
    while (generation_ == generation) yield();
  }
  void leave() {
    --running_;
    if (arrived_ > 0 && arrived_ == running_) release();
  }

 private:
  void release() { arrived_ = 0, ++generation_; }
  int running_ = 0, arrived_ = 0;
  uint64_t generation_ = 0;
};

struct Warp {
  ShrinkingBarrier barrier;
  uint64_t slot[32];
};

struct Block {
  ShrinkingBarrier barrier;
  std::vector<Warp> warps;
};

inline Block* currentBlock = nullptr;

// Lane `source`'s value of v, for every lane of the warp (all lanes must call).
template <class T>
T exchange(T v, int source) {
  static_assert(sizeof(T) <= 8, "one slot per lane");
  Warp& warp = currentBlock->warps[threadIdx.x / 32];
  std::memcpy(&warp.slot[threadIdx.x % 32], &v, sizeof(T));
  warp.barrier.wait();
  T out;
  std::memcpy(&out, &warp.slot[source & 31], sizeof(T));
  warp.barrier.wait();
  return out;
}

inline void fiberMain() {
  (*blockBody)();
  currentFiber->finished = true;
  currentBlock->barrier.leave();
  currentBlock->warps[threadIdx.x / 32].barrier.leave();
}  // uc_link returns to the scheduler

struct Config {
  dim3 grid, block;
  Config(dim3 g, dim3 b, size_t = 0, cudaStream_t = nullptr) : grid(g), block(b) {}
};

template <class Kernel, class... Args>
void launch(const Config& config, Kernel kernel, Args... args) {
  const unsigned threads = config.block.x * config.block.y * config.block.z;
  if (config.block.y != 1 || config.block.z != 1 || threads == 0 || threads > 1024 ||
      threads % 32 != 0 || config.grid.x == 0 || config.grid.y == 0 || config.grid.z == 0 ||
      config.grid.y > 65535 || config.grid.z > 65535) {
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  std::vector<Fiber> fibers(threads);
  for (unsigned t = 0; t < threads; ++t) fibers[t].index = t;
  Block block;
  block.warps = std::vector<Warp>(threads / 32);
  const std::function<void()> body = [&] { kernel(args...); };
  blockBody = &body;
  currentBlock = &block;
  blockDim = config.block, gridDim = config.grid;
  for (unsigned z = 0; z < config.grid.z; ++z)
    for (unsigned y = 0; y < config.grid.y; ++y)
      for (unsigned x = 0; x < config.grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        block.barrier.reset((int)threads);
        for (Warp& w : block.warps) w.barrier.reset(32);
        for (Fiber& f : fibers) {
          f.finished = false;
          getcontext(&f.context);
          f.context.uc_stack.ss_sp = f.stack.get();
          f.context.uc_stack.ss_size = Fiber::kStackBytes;
          f.context.uc_link = &schedulerContext;
          makecontext(&f.context, fiberMain, 0);
        }
        for (unsigned left = threads; left > 0;) {
          left = 0;
          for (Fiber& f : fibers) {
            if (f.finished) continue;
            currentFiber = &f;
            threadIdx = dim3(f.index);
            swapcontext(&schedulerContext, &f.context);
            left += !f.finished;
          }
        }
      }
}

inline int multiprocessors() {
  const char* text = std::getenv("UCMG_EMULATED_SMS");
  return text ? std::max(1, std::atoi(text)) : 4;
}

}  // namespace emu

// ---- device built-ins ----------------------------------------------------------------------
inline void __syncthreads() { emu::currentBlock->barrier.wait(); }
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) {
  return emu::exchange(v, (int)(threadIdx.x % 32) ^ mask);
}
inline int __shfl_up_sync(unsigned, int v, unsigned delta) {
  const int lane = threadIdx.x % 32;
  return emu::exchange(v, lane >= (int)delta ? lane - (int)delta : lane);
}

// One OS thread runs every fiber: plain read-modify-writes are atomic.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  *p = std::max(old, v);
  return old;
}

// Built with -ffp-contract=off, so these round each operation on its own, as on the device.
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline long long __double_as_longlong(double v) {
  long long out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
inline double __longlong_as_double(long long v) {
  double out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
template <class T>
T min(T a, T b) { return b < a ? b : a; }
template <class T>
T max(T a, T b) { return a < b ? b : a; }

// ---- runtime API --------------------------------------------------------------------------------
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
  }
  return "cudaErrorUnknown";
}
inline const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::lastError();
  emu::lastError() = cudaSuccess;
  return e;
}
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!*p) return emu::fail(cudaErrorMemoryAllocation);
  std::memset(*p, 0xff, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                   cudaStream_t = nullptr) {
  return cudaMemcpy(dst, src, bytes, kind);
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t = nullptr) {
  std::memset(p, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* device) { *device = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* count) { *count = 1; return cudaSuccess; }
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  *value = emu::multiprocessors();
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::snprintf(prop->name, sizeof prop->name, "CPU emulation (%d SMs)", emu::multiprocessors());
  prop->major = 9, prop->minor = 0, prop->totalGlobalMem = size_t(16) << 30;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, F) {
  a->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

struct CUevent_emulated {
  std::chrono::steady_clock::time_point at;
};
using cudaEvent_t = CUevent_emulated*;
inline cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_emulated;
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = nullptr) {
  e->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
  return cudaSuccess;
}

// ---- the two CUB algorithms used -----------------------------------------------------------
namespace cub {
struct DeviceRadixSort {
  template <class K, class V, class N>
  static cudaError_t SortPairs(void* temp, size_t& bytes, const K* keysIn, K* keysOut,
                               const V* valuesIn, V* valuesOut, N count, int beginBit = 0,
                               int endBit = sizeof(K) * 8, cudaStream_t = nullptr) {
    if (!temp) return bytes = 16, cudaSuccess;
    const int bits = endBit - beginBit;
    const K mask = bits >= (int)sizeof(K) * 8 ? ~K(0) : (K(1) << bits) - 1;
    auto digit = [&](int64_t i) { return (K)((keysIn[i] >> beginBit) & mask); };
    std::vector<int64_t> order((size_t)count);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return digit(a) < digit(b); });
    for (int64_t i = 0; i < (int64_t)count; ++i) {
      keysOut[i] = keysIn[order[i]];
      valuesOut[i] = valuesIn[order[i]];
    }
    return cudaSuccess;
  }
};
struct DeviceScan {
  template <class In, class Out, class N>
  static cudaError_t ExclusiveSum(void* temp, size_t& bytes, In in, Out out, N count,
                                  cudaStream_t = nullptr) {
    if (!temp) return bytes = 16, cudaSuccess;
    auto sum = in[0] - in[0];
    for (int64_t i = 0; i < (int64_t)count; ++i) {
      const auto v = in[i];
      out[i] = sum;
      sum += v;
    }
    return cudaSuccess;
  }
};
}  // namespace cub
