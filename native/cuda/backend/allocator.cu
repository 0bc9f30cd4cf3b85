// The caching allocator, the handle table and the host <-> device copies of the tfjs 'cuda'
// backend.
#include "allocator.cuh"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../runtime.cuh"

namespace ucmg::cuda::backend {

namespace {

std::string megabytes(int64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB", (double)bytes / (1 << 20));
  return std::to_string(bytes) + " bytes (" + text + ")";
}

// The test-only cap on device memory (bytes in use plus cached), from UCMG_CUDA_MEMORY_LIMIT.
int64_t memoryLimit() {
  const char* text = std::getenv("UCMG_CUDA_MEMORY_LIMIT");
  if (text == nullptr || *text == '\0') return -1;
  return std::strtoll(text, nullptr, 10);
}

struct Backend {
  CachingAllocator allocator;
  std::unordered_map<int64_t, TensorBuffer> tensors;
  int64_t nextHandle = 1;
};

Backend& state() {
  static Backend backend;
  return backend;
}

const TensorBuffer& buffer(int64_t handle) {
  auto found = state().tensors.find(handle);
  if (found == state().tensors.end())
    throw std::runtime_error("cuda backend: no tensor with handle " + std::to_string(handle) +
                             " (disposed?)");
  return found->second;
}

size_t bytesOf(const TensorBuffer& tensor) { return (size_t)tensor.count * 4; }

}  // namespace

size_t CachingAllocator::sizeClass(size_t bytes) {
  if (bytes <= (64u << 10)) return (bytes + 511) / 512 * 512;
  size_t power = 1;
  while (power * 2 <= bytes) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocateFromDriver(size_t bytes) {
  const int64_t limit = memoryLimit();
  if (limit >= 0 && stats_.bytesInUse + stats_.bytesCached + (int64_t)bytes > limit) return nullptr;
  void* block = nullptr;
  const cudaError_t err = cudaMalloc(&block, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so that the next call does not see it
    return nullptr;
  }
  UCMG_CUDA_CHECK(err);
  ++stats_.driverAllocations;
  return block;
}

void* CachingAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t size = sizeClass(bytes);
  void* block = nullptr;
  std::vector<void*>& pool = pools_[size];
  if (!pool.empty()) {
    block = pool.back();
    pool.pop_back();
    stats_.bytesCached -= (int64_t)size;
  } else {
    block = allocateFromDriver(size);
    if (block == nullptr) {
      emptyCache();
      block = allocateFromDriver(size);
    }
    if (block == nullptr) {
      const int64_t limit = memoryLimit();
      throw OutOfDeviceMemory("out of device memory: could not allocate " + megabytes((int64_t)bytes) +
                              "; in use: " + megabytes(stats_.bytesInUse) + " by " +
                              std::to_string(stats_.liveTensors) + " tensors" +
                              (limit >= 0 ? "; limit (UCMG_CUDA_MEMORY_LIMIT): " + megabytes(limit) : ""));
    }
  }
  stats_.bytesInUse += (int64_t)size;
  if (stats_.bytesInUse > stats_.peakBytesInUse) stats_.peakBytesInUse = stats_.bytesInUse;
  return block;
}

void CachingAllocator::release(void* block, size_t bytes) noexcept {
  if (block == nullptr) return;
  const size_t size = sizeClass(bytes);
  pools_[size].push_back(block);
  stats_.bytesInUse -= (int64_t)size;
  stats_.bytesCached += (int64_t)size;
}

void CachingAllocator::emptyCache() noexcept {
  for (auto& [size, pool] : pools_) {
    for (void* block : pool) cudaFree(block);  // nothing to do about a failure while releasing
    stats_.bytesCached -= (int64_t)(size * pool.size());
    pool.clear();
  }
}

int64_t allocateTensor(int64_t count, DType dtype) {
  Backend& backend = state();
  TensorBuffer tensor;
  tensor.count = count;
  tensor.dtype = dtype;
  tensor.data = backend.allocator.allocate(bytesOf(tensor));
  const int64_t handle = backend.nextHandle++;
  backend.tensors.emplace(handle, tensor);
  ++backend.allocator.stats().liveTensors;
  return handle;
}

void freeTensor(int64_t handle) {
  const TensorBuffer tensor = buffer(handle);
  state().allocator.release(tensor.data, bytesOf(tensor));
  state().tensors.erase(handle);
  --state().allocator.stats().liveTensors;
}

bool tensorExists(int64_t handle) { return state().tensors.count(handle) > 0; }
int64_t tensorCount(int64_t handle) { return buffer(handle).count; }
DType tensorDType(int64_t handle) { return buffer(handle).dtype; }

void* devicePointer(int64_t handle) { return buffer(handle).data; }

void upload(int64_t handle, const void* host, int64_t count) {
  if (count <= 0) return;
  UCMG_CUDA_CHECK(cudaMemcpy(buffer(handle).data, host, (size_t)count * 4, cudaMemcpyHostToDevice));
  MemoryStats& stats = state().allocator.stats();
  ++stats.uploads;
  stats.uploadBytes += count * 4;
}

void download(int64_t handle, void* host, int64_t count) {
  if (count <= 0) return;
  UCMG_CUDA_CHECK(cudaMemcpy(host, buffer(handle).data, (size_t)count * 4, cudaMemcpyDeviceToHost));
  MemoryStats& stats = state().allocator.stats();
  ++stats.downloads;
  stats.downloadBytes += count * 4;
}

MemoryStats memoryStats() { return state().allocator.stats(); }
void emptyCache() { state().allocator.emptyCache(); }

void resetCounters() {
  MemoryStats& stats = state().allocator.stats();
  stats.uploads = stats.uploadBytes = stats.downloads = stats.downloadBytes = 0;
  stats.peakBytesInUse = stats.bytesInUse;
}

void synchronize() { UCMG_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace ucmg::cuda::backend
