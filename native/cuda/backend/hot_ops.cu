// hot_ops_api.h: the hot ops' device kernels on backend handles, on the backend's stream.
#include <mutex>

#include "../code_matching.cuh"
#include "../info_nce.cuh"
#include "../quantize.cuh"
#include "../runtime.cuh"
#include "allocator.cuh"
#include "hot_ops_api.h"

namespace ucmg::cuda::backend {

namespace {

float* floatsOf(int64_t handle) { return static_cast<float*>(devicePointer(handle)); }
float* optionalFloats(int64_t handle) { return handle != 0 ? floatsOf(handle) : nullptr; }

// The losses are double on the device; the tfjs tensor is float32.
__global__ void lossToFloat(const double* loss, float* out) {
  if (threadIdx.x == 0) *out = (float)*loss;
}

void storeLoss(const double* loss, int64_t out) {
  lossToFloat<<<1, 32>>>(loss, floatsOf(out));
  UCMG_CHECK_LAUNCH("lossToFloat");
}

}  // namespace

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

void infoNce(int64_t targets, int64_t preds, int k, int64_t b, int64_t d, int64_t weights, int64_t loss,
             int64_t hits, int64_t gradTargets, int64_t gradPreds) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  static InfoNceWorkspace work;
  static DeviceBuffer lossBuffer;
  double* deviceLoss = lossBuffer.reserve<double>(1);
  infoNceOnDevice(floatsOf(targets), floatsOf(preds), k, b, d, floatsOf(weights), deviceLoss,
                  static_cast<unsigned int*>(devicePointer(hits)), optionalFloats(gradTargets),
                  optionalFloats(gradPreds), work, nullptr);
  storeLoss(deviceLoss, loss);
}

void codeMatching(int64_t z, int k, int64_t b, int64_t t, int64_t d, int64_t codebook, int64_t m, float epsilon,
                  int64_t loss, int64_t grad) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  static CodeMatchingWorkspace work;
  static DeviceBuffer lossBuffer;
  double* deviceLoss = lossBuffer.reserve<double>(1);
  codeMatchingOnDevice(floatsOf(z), k, b, t, d, floatsOf(codebook), m, epsilon, deviceLoss, optionalFloats(grad),
                       work, nullptr);
  storeLoss(deviceLoss, loss);
}

}  // namespace ucmg::cuda::backend
