// The device memory of the tfjs 'cuda' backend: a caching allocator with size-class pools, and
// the table of tensor handles that JavaScript holds as integer ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "backend_api.h"

namespace ucmg::cuda::backend {

// Blocks are rounded up to a size class and kept in a pool per class when freed, so that the
// steady state of a training step allocates nothing from the driver. A failed cudaMalloc (or a
// request above the test-only cap UCMG_CUDA_MEMORY_LIMIT, in bytes) first returns every cached
// block to the driver and retries; then it throws OutOfDeviceMemory.
class CachingAllocator {
 public:
  void* allocate(size_t bytes);
  void release(void* block, size_t bytes) noexcept;
  // Returns every cached block to the driver.
  void emptyCache() noexcept;
  const MemoryStats& stats() const { return stats_; }
  MemoryStats& stats() { return stats_; }

  // The size class of a request: multiples of 512 bytes up to 64 KiB, then steps of an eighth
  // of the power of two below (at most 12.5% wasted).
  static size_t sizeClass(size_t bytes);

 private:
  void* allocateFromDriver(size_t bytes);
  std::unordered_map<size_t, std::vector<void*>> pools_;
  MemoryStats stats_;
};

struct TensorBuffer {
  void* data = nullptr;
  int64_t count = 0;
  DType dtype = DType::Float32;
};

// The device memory of a live handle (throws naming the handle when there is none); null for an
// empty tensor.
void* devicePointer(int64_t handle);

}  // namespace ucmg::cuda::backend
