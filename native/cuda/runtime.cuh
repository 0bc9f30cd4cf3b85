// What every CUDA source here shares: error checking that names the failed call, device memory
// owned by RAII buffers, the lock that serialises use of the cached buffers, launch sizing.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ucmg::cuda {

// Throws std::runtime_error "file:line: call: cudaErrorName: description". It also clears the
// runtime's last error so that a recoverable failure does not resurface in the next call.
[[noreturn]] void throwCudaError(cudaError_t err, const char* call, const char* file, int line);

inline void checkCuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) throwCudaError(err, call, file, line);
}

#define UCMG_CUDA_CHECK(call) ::ucmg::cuda::checkCuda((call), #call, __FILE__, __LINE__)
// After every kernel launch: a bad configuration is reported at its launch, not at a later call.
#define UCMG_CHECK_LAUNCH(kernelName) \
  ::ucmg::cuda::checkCuda(cudaGetLastError(), "launch of " kernelName, __FILE__, __LINE__)

// Held by every entry point that touches device memory: the buffers below are cached between
// calls, one set per op, so two threads must not use them at once.
std::mutex& deviceMutex();

// Streaming multiprocessors of the device (sizes grids).
int multiprocessorCount();

// Blocks for `work` items at `perBlock` items per block, at least 1 and at most `cap` (kernels
// that may be capped use grid-stride loops).
unsigned blocksFor(int64_t work, int64_t perBlock, int64_t cap = 1 << 30);

// A device allocation that only grows: reserve() keeps the memory when it is large enough, so
// a cached buffer is allocated once for the largest size seen. Contents are not preserved.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <class T>
  T* reserve(int64_t count) {
    return static_cast<T*>(reserveBytes(count, sizeof(T)));
  }
  void release() noexcept;

 private:
  void* reserveBytes(int64_t count, size_t elementSize);
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Synchronous copies between host and device; `count` elements, nothing happens for 0.
void copyBytes(void* dst, const void* src, int64_t count, size_t elementSize, cudaMemcpyKind kind);

template <class T>
void copyToDevice(T* deviceDst, const T* hostSrc, int64_t count) {
  copyBytes(deviceDst, hostSrc, count, sizeof(T), cudaMemcpyHostToDevice);
}
template <class T>
void copyToHost(T* hostDst, const T* deviceSrc, int64_t count) {
  copyBytes(hostDst, deviceSrc, count, sizeof(T), cudaMemcpyDeviceToHost);
}

}  // namespace ucmg::cuda
