// hot_ops_api.h: the hot ops' device kernels on backend handles, on the backend's stream.
#include <mutex>

#include "../quantize.cuh"
#include "../runtime.cuh"
#include "allocator.cuh"
#include "hot_ops_api.h"

namespace ucmg::cuda::backend {

void quantize(int64_t z, int64_t codebook, int64_t n, int64_t m, int64_t d, int64_t indices, int64_t distances,
              int64_t gathered) {
  // The workspace is cached between calls, like the host entry points' (one user at a time).
  std::lock_guard<std::mutex> lock(deviceMutex());
  static QuantizeWorkspace work;
  quantizeOnDevice(static_cast<const float*>(devicePointer(z)), static_cast<const float*>(devicePointer(codebook)),
                   n, m, d, static_cast<int32_t*>(devicePointer(indices)),
                   static_cast<float*>(devicePointer(distances)),
                   gathered != 0 ? static_cast<float*>(devicePointer(gathered)) : nullptr, work, nullptr);
}

}  // namespace ucmg::cuda::backend
