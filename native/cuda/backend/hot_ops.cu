// hot_ops_api.h: the hot ops' device kernels on backend handles, on the backend's stream.
#include <cstring>
#include <mutex>

#include "../code_matching.cuh"
#include "../info_nce.cuh"
#include "../mm_ema.cuh"
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

// The step's report, gathered into one int32 tensor so that the host reads it in one copy.
__global__ void packMmEmaReport(DeviceMmEmaReport report, int k, int64_t m, int32_t* out) {
  const int32_t resets = *report.resetCount;
  for (int64_t i = threadIdx.x; i < 2 * k; i += blockDim.x) {
    int32_t halves[2];
    memcpy(halves, report.perplexity + i / 2, sizeof halves);
    out[i] = halves[i % 2];
  }
  if (threadIdx.x == 0) {
    out[2 * k] = (int32_t)*report.equalNum;
    out[2 * k + 1] = *report.badIndexCount;
    out[2 * k + 2] = resets;
  }
  int32_t* codes = out + 2 * k + 3;
  for (int64_t r = threadIdx.x; r < m; r += blockDim.x) {
    codes[r] = r < resets ? report.resetCodes[r] : -1;
    codes[m + r] = r < resets ? report.resetSources[r] : -1;
  }
}

void copyDeviceTensor(int64_t to, int64_t from, size_t bytes) {
  UCMG_CUDA_CHECK(cudaMemcpyAsync(devicePointer(to), devicePointer(from), bytes, cudaMemcpyDeviceToDevice, 0));
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

void mmEma(const CodebookHandles& before, const CodebookHandles& after, int64_t m, int64_t d, int64_t z,
           int64_t indices, int k, int64_t n, const MmEmaOptions& options, int64_t report) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  static MmEmaWorkspace work;
  copyDeviceTensor(after.embedding, before.embedding, m * d * sizeof(float));
  copyDeviceTensor(after.emaCount, before.emaCount, m * sizeof(float));
  copyDeviceTensor(after.emaWeight, before.emaWeight, m * d * sizeof(float));
  copyDeviceTensor(after.unusedCount, before.unusedCount, m * sizeof(int32_t));
  DeviceCodebook state{floatsOf(after.embedding), floatsOf(after.emaCount), floatsOf(after.emaWeight),
                       static_cast<int32_t*>(devicePointer(after.unusedCount)), m, d};
  const DeviceMmEmaReport result = mmEmaOnDevice(state, static_cast<const float*>(devicePointer(z)),
                                                 static_cast<const int32_t*>(devicePointer(indices)), k, n,
                                                 options, work, nullptr);
  packMmEmaReport<<<1, 256>>>(result, k, m, static_cast<int32_t*>(devicePointer(report)));
  UCMG_CHECK_LAUNCH("packMmEmaReport");
}

}  // namespace ucmg::cuda::backend
