// The ucmg::cuda functions of ops.h on host pointers: copy in, run the device-level op, copy
// out. Device buffers are cached per op between calls (under deviceMutex()). Nothing the
// caller owns is written before every device step has succeeded, except output arrays.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "code_matching.cuh"
#include "info_nce.cuh"
#include "mm_ema.cuh"
#include "quantize.cuh"
#include "runtime.cuh"
#include "ucmg/ops.h"

namespace ucmg::cuda {

namespace {

// One op's device copies of its arguments and its scratch, kept for the next call. Never
// destroyed: at process exit the CUDA runtime may already be gone, and the driver frees all.
template <class Buffers>
Buffers& cached() {
  static Buffers* buffers = new Buffers;
  return *buffers;
}

struct QuantizeBuffers {
  DeviceBuffer z, codebook, indices, distances, gathered;
  QuantizeWorkspace work;
};
struct MmEmaBuffers {
  DeviceBuffer embedding, emaCount, emaWeight, unused, z, indices;
  MmEmaWorkspace work;
};
struct CodeMatchingBuffers {
  DeviceBuffer z, codebook, loss, grad;
  CodeMatchingWorkspace work;
};
struct InfoNceBuffers {
  DeviceBuffer targets, preds, weights, loss, hits, gradTargets, gradPreds;
  InfoNceWorkspace work;
};

// k host arrays of `each` elements -> one device array, back to back.
template <class T>
void uploadParts(T* deviceDst, const T* const* parts, int k, int64_t each) {
  for (int i = 0; i < k; ++i) copyToDevice(deviceDst + i * each, parts[i], each);
}

// The reverse; null parts are skipped.
template <class T>
void downloadParts(T* const* parts, const T* deviceSrc, int k, int64_t each) {
  for (int i = 0; i < k; ++i)
    if (parts[i]) copyToHost(parts[i], deviceSrc + i * each, each);
}

bool anyPart(float* const* parts, int k) {
  return parts && std::any_of(parts, parts + k, [](float* p) { return p != nullptr; });
}

}  // namespace

void quantize(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
              int32_t* indices, float* distances, float* gathered) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  QuantizeBuffers& c = cached<QuantizeBuffers>();
  float* dz = c.z.reserve<float>(n * d);
  float* dCodebook = c.codebook.reserve<float>(m * d);
  int32_t* dIndices = c.indices.reserve<int32_t>(n);
  float* dDistances = c.distances.reserve<float>(n);
  float* dGathered = gathered ? c.gathered.reserve<float>(n * d) : nullptr;
  copyToDevice(dz, z, n * d);
  copyToDevice(dCodebook, codebook, m * d);
  quantizeOnDevice(dz, dCodebook, n, m, d, dIndices, dDistances, dGathered, c.work, 0);
  copyToHost(indices, dIndices, n);
  copyToHost(distances, dDistances, n);
  if (gathered) copyToHost(gathered, dGathered, n * d);
}

void mmEmaStep(CodebookState& state, const float* const* z, const int32_t* const* indices, int k,
               int64_t n, const MmEmaOptions& opt, MmEmaReport& report) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  MmEmaBuffers& c = cached<MmEmaBuffers>();
  const int64_t m = state.m, d = state.d;
  DeviceCodebook device{c.embedding.reserve<float>(m * d), c.emaCount.reserve<float>(m),
                        c.emaWeight.reserve<float>(m * d), c.unused.reserve<int32_t>(m), m, d};
  float* dz = c.z.reserve<float>(k * n * d);
  int32_t* dIndices = c.indices.reserve<int32_t>(k * n);
  copyToDevice(device.embedding, state.embedding, m * d);
  copyToDevice(device.emaCount, state.emaCount, m);
  copyToDevice(device.emaWeight, state.emaWeight, m * d);
  copyToDevice(device.unused, state.unused, m);
  uploadParts(dz, z, k, n * d);
  uploadParts(dIndices, indices, k, n);
  const DeviceMmEmaReport result = mmEmaOnDevice(device, dz, dIndices, k, n, opt, c.work, 0);

  int32_t badIndices = 0;
  copyToHost(&badIndices, result.badIndexCount, 1);
  if (badIndices > 0)
    throw std::invalid_argument("mmEmaStep: " + std::to_string(badIndices) +
                                " indices lie outside [0, m = " + std::to_string(m) + ")");
  // Everything is read back before the caller's state is touched.
  std::vector<float> embedding(m * d), emaCount(m), emaWeight(m * d);
  std::vector<int32_t> unused(m);
  MmEmaReport out;
  out.perplexity.resize(k);
  unsigned long long equalNum = 0;
  int32_t resetCount = 0;
  copyToHost(embedding.data(), device.embedding, m * d);
  copyToHost(emaCount.data(), device.emaCount, m);
  copyToHost(emaWeight.data(), device.emaWeight, m * d);
  copyToHost(unused.data(), device.unused, m);
  copyToHost(out.perplexity.data(), result.perplexity, k);
  copyToHost(&equalNum, result.equalNum, 1);
  copyToHost(&resetCount, result.resetCount, 1);
  out.equalNum = (int64_t)equalNum;
  out.resetCodes.resize(resetCount);
  out.resetSources.resize(resetCount);
  copyToHost(out.resetCodes.data(), result.resetCodes, resetCount);
  copyToHost(out.resetSources.data(), result.resetSources, resetCount);

  std::copy(embedding.begin(), embedding.end(), state.embedding);
  std::copy(emaCount.begin(), emaCount.end(), state.emaCount);
  std::copy(emaWeight.begin(), emaWeight.end(), state.emaWeight);
  std::copy(unused.begin(), unused.end(), state.unused);
  report = std::move(out);
}

double codeMatching(const float* const* z, int k, int64_t b, int64_t t, int64_t d,
                    const float* codebook, int64_t m, float eps, float* const* grad) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  CodeMatchingBuffers& c = cached<CodeMatchingBuffers>();
  const int64_t each = b * t * d;
  float* dz = c.z.reserve<float>(k * each);
  float* dCodebook = c.codebook.reserve<float>(m * d);
  double* dLoss = c.loss.reserve<double>(1);
  float* dGrad = anyPart(grad, k) ? c.grad.reserve<float>(k * each) : nullptr;
  uploadParts(dz, z, k, each);
  copyToDevice(dCodebook, codebook, m * d);
  codeMatchingOnDevice(dz, k, b, t, d, dCodebook, m, eps, dLoss, dGrad, c.work, 0);
  double loss = 0.0;
  copyToHost(&loss, dLoss, 1);
  if (dGrad) downloadParts(grad, dGrad, k, each);
  return loss;
}

double infoNce(const float* const* targets, const float* const* preds, int k, int64_t b, int64_t d,
               const float* weights, float* accuracies, float* const* gradTargets,
               float* const* gradPreds) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  InfoNceBuffers& c = cached<InfoNceBuffers>();
  const int64_t each = b * d;
  float* dTargets = c.targets.reserve<float>(k * each);
  float* dPreds = c.preds.reserve<float>(k * each);
  float* dWeights = c.weights.reserve<float>(k * k);
  double* dLoss = c.loss.reserve<double>(1);
  unsigned int* dHits = c.hits.reserve<unsigned int>(k * k);
  float* dGradTargets = anyPart(gradTargets, k) ? c.gradTargets.reserve<float>(k * each) : nullptr;
  float* dGradPreds = anyPart(gradPreds, k) ? c.gradPreds.reserve<float>(k * each) : nullptr;
  uploadParts(dTargets, targets, k, each);
  uploadParts(dPreds, preds, k, each);
  copyToDevice(dWeights, weights, k * k);
  infoNceOnDevice(dTargets, dPreds, k, b, d, dWeights, dLoss, dHits, dGradTargets, dGradPreds,
                  c.work, 0);
  double loss = 0.0;
  std::vector<unsigned int> hits(k * k);
  copyToHost(&loss, dLoss, 1);
  copyToHost(hits.data(), dHits, k * k);
  for (int i = 0; i < k * k; ++i) accuracies[i] = (float)((double)hits[i] / (double)b);
  if (dGradTargets) downloadParts(gradTargets, dGradTargets, k, each);
  if (dGradPreds) downloadParts(gradPreds, dGradPreds, k, each);
  return loss;
}

}  // namespace ucmg::cuda
