#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "runtime.cuh"

namespace ucmg::cuda {

void throwCudaError(cudaError_t err, const char* call, const char* file, int line) {
  cudaGetLastError();  // reset a non-sticky error; a sticky one stays and fails every call
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
                           cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

std::mutex& deviceMutex() {
  static std::mutex mutex;
  return mutex;
}

int multiprocessorCount() {
  // Queried once (the device does not change while the process runs); a failed query is
  // retried at the next call.
  static const int count = [] {
    int device = 0, value = 0;
    UCMG_CUDA_CHECK(cudaGetDevice(&device));
    UCMG_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device));
    return value;
  }();
  return count;
}

unsigned blocksFor(int64_t work, int64_t perBlock, int64_t cap) {
  const int64_t blocks = (work + perBlock - 1) / perBlock;
  return (unsigned)std::max<int64_t>(1, std::min(blocks, cap));
}

void DeviceBuffer::release() noexcept {
  if (data_) cudaFree(data_);  // nothing to do about a failure while releasing
  data_ = nullptr;
  bytes_ = 0;
}

void* DeviceBuffer::reserveBytes(int64_t count, size_t elementSize) {
  if (count < 0 || (uint64_t)count > std::numeric_limits<size_t>::max() / elementSize)
    throw std::length_error("device buffer of " + std::to_string(count) + " elements of " +
                            std::to_string(elementSize) + " bytes is not addressable");
  const size_t bytes = (size_t)count * elementSize;
  if (bytes <= bytes_) return data_;
  release();
  void* data = nullptr;
  UCMG_CUDA_CHECK(cudaMalloc(&data, bytes));
  data_ = data;
  bytes_ = bytes;
  return data_;
}

void copyBytes(void* dst, const void* src, int64_t count, size_t elementSize, cudaMemcpyKind kind) {
  if (count <= 0) return;
  UCMG_CUDA_CHECK(cudaMemcpy(dst, src, (size_t)count * elementSize, kind));
}

}  // namespace ucmg::cuda
