// Device-resident timings for the device check: inputs are made on the device, the timed
// region holds no host transfer, and each run sits between two CUDA events.
#include <stdexcept>
#include <string>
#include <vector>

#include "code_matching.cuh"
#include "common.cuh"
#include "info_nce.cuh"
#include "mm_ema.cuh"
#include "quantize.cuh"
#include "runtime.cuh"
#include "ucmg/ops.h"

namespace ucmg::cuda {

namespace {

class Event {
 public:
  Event() { UCMG_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// One warm-up run (it also sizes every workspace), then `iters` timed runs, in milliseconds.
template <class Run>
std::vector<double> timeRuns(int iters, Run&& run) {
  run();
  UCMG_CUDA_CHECK(cudaDeviceSynchronize());
  Event start, stop;
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    UCMG_CUDA_CHECK(cudaEventRecord(start.get(), 0));
    run();
    UCMG_CUDA_CHECK(cudaEventRecord(stop.get(), 0));
    UCMG_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float elapsed = 0.0f;
    UCMG_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start.get(), stop.get()));
    ms.push_back(elapsed);
  }
  return ms;
}

void requirePositive(const std::string& op, const char* name, int64_t value) {
  if (value < 1 || value > 0x7fffffff)
    throw std::invalid_argument("timeOp " + op + ": " + name + " must be in [1, 2^31), got " +
                                std::to_string(value));
}

std::vector<double> timeQuantize(int64_t n, int64_t m, int64_t d, int iters) {
  DeviceBuffer z, codebook, indices, distances;
  QuantizeWorkspace work;
  float* dz = z.reserve<float>(n * d);
  float* dCodebook = codebook.reserve<float>(m * d);
  int32_t* dIndices = indices.reserve<int32_t>(n);
  float* dDistances = distances.reserve<float>(n);
  launchFillUniform(dz, n * d, 1, -1.0f, 1.0f, 0);
  launchFillUniform(dCodebook, m * d, 2, -1.0f, 1.0f, 0);
  return timeRuns(iters, [&] {
    quantizeOnDevice(dz, dCodebook, n, m, d, dIndices, dDistances, nullptr, work, 0);
  });
}

// One AVT codebook step as training runs it: quantize with the codebook before the step,
// L_cmcm forward and backward, then the MM-EMA update with the reset. The codebook starts as
// published (embedding U(-1/400, 1/400), emaCount 0, emaWeight = embedding, unused -1).
std::vector<double> timeAvtStep(int64_t b, int64_t t, int64_t d, int64_t m, int iters) {
  constexpr int k = 3;
  const int64_t n = b * t;
  DeviceBuffer z, embedding, emaCount, emaWeight, unused, indices, distances, grad, loss;
  QuantizeWorkspace quantizeWork;
  CodeMatchingWorkspace matchingWork;
  MmEmaWorkspace emaWork;
  float* dz = z.reserve<float>(k * n * d);
  DeviceCodebook state{embedding.reserve<float>(m * d), emaCount.reserve<float>(m),
                       emaWeight.reserve<float>(m * d), unused.reserve<int32_t>(m), m, d};
  int32_t* dIndices = indices.reserve<int32_t>(k * n);
  float* dDistances = distances.reserve<float>(k * n);
  float* dGrad = grad.reserve<float>(k * n * d);
  double* dLoss = loss.reserve<double>(1);
  launchFillUniform(dz, k * n * d, 3, -1.0f, 1.0f, 0);
  launchFillUniform(state.embedding, m * d, 4, -1.0f / 400, 1.0f / 400, 0);
  UCMG_CUDA_CHECK(cudaMemcpyAsync(state.emaWeight, state.embedding, m * d * sizeof(float),
                                  cudaMemcpyDeviceToDevice, 0));
  UCMG_CUDA_CHECK(cudaMemsetAsync(state.emaCount, 0, m * sizeof(float), 0));
  UCMG_CUDA_CHECK(cudaMemsetAsync(state.unused, 0xff, m * sizeof(int32_t), 0));  // -1
  // A timing fixture: the step costs the same for any valid values. No code dies within a run.
  MmEmaOptions options{};
  options.decay = 0.9f;
  options.epsilon = 1e-3f;
  options.deadAfter = INT32_MAX;
  options.activeBelow = INT32_MAX;
  options.crossModal = true;
  options.segmentsPerClip = t;
  return timeRuns(iters, [&] {
    quantizeOnDevice(dz, state.embedding, k * n, m, d, dIndices, dDistances, nullptr,
                     quantizeWork, 0);
    codeMatchingOnDevice(dz, k, b, t, d, state.embedding, m, 1e-5f, dLoss, dGrad, matchingWork, 0);
    mmEmaOnDevice(state, dz, dIndices, k, n, options, emaWork, 0);
  });
}

// All k*k Cross-CPC score matrices, forward and backward, weights 1 (0.1 on the diagonal).
std::vector<double> timeInfoNce(int64_t b, int64_t d, int64_t k, int iters) {
  DeviceBuffer targets, preds, weights, loss, hits, gradTargets, gradPreds;
  InfoNceWorkspace work;
  float* dTargets = targets.reserve<float>(k * b * d);
  float* dPreds = preds.reserve<float>(k * b * d);
  float* dWeights = weights.reserve<float>(k * k);
  double* dLoss = loss.reserve<double>(1);
  unsigned int* dHits = hits.reserve<unsigned int>(k * k);
  float* dGradTargets = gradTargets.reserve<float>(k * b * d);
  float* dGradPreds = gradPreds.reserve<float>(k * b * d);
  launchFillUniform(dTargets, k * b * d, 5, -1.0f, 1.0f, 0);
  launchFillUniform(dPreds, k * b * d, 6, -1.0f, 1.0f, 0);
  std::vector<float> pairWeights(k * k, 1.0f);
  for (int64_t i = 0; i < k; ++i) pairWeights[i * k + i] = 0.1f;
  copyToDevice(dWeights, pairWeights.data(), k * k);
  return timeRuns(iters, [&] {
    infoNceOnDevice(dTargets, dPreds, (int)k, b, d, dWeights, dLoss, dHits, dGradTargets,
                    dGradPreds, work, 0);
  });
}

}  // namespace

std::vector<double> timeOp(const std::string& op, int64_t p0, int64_t p1, int64_t p2, int64_t p3,
                           int iters) {
  if (iters < 1 || iters > 100000)
    throw std::invalid_argument("timeOp: iters must be in [1, 100000], got " +
                                std::to_string(iters));
  std::lock_guard<std::mutex> lock(deviceMutex());
  if (op == "quantize") {
    requirePositive(op, "n", p0), requirePositive(op, "m", p1), requirePositive(op, "d", p2);
    return timeQuantize(p0, p1, p2, iters);
  }
  if (op == "avtStep") {
    requirePositive(op, "b", p0), requirePositive(op, "t", p1), requirePositive(op, "d", p2);
    requirePositive(op, "m", p3);
    return timeAvtStep(p0, p1, p2, p3, iters);
  }
  if (op == "infoNce") {
    requirePositive(op, "b", p0), requirePositive(op, "d", p1), requirePositive(op, "k", p2);
    if (p2 > 3)
      throw std::invalid_argument("timeOp infoNce: k must be 1, 2 or 3, got " + std::to_string(p2));
    return timeInfoNce(p0, p1, p2, iters);
  }
  throw std::invalid_argument("timeOp: unknown op '" + op + "' (quantize, avtStep or infoNce)");
}

}  // namespace ucmg::cuda
