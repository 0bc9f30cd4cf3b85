// The host-pointer entry points of dense_host.h: copy in, run, copy out.
#include <mutex>
#include <stdexcept>
#include <vector>

#include "dense.cuh"
#include "dense_host.h"
#include "../common.cuh"
#include "../runtime.cuh"

namespace ucmg::cuda::backend {

namespace {

Precision precisionOf(bool tf32) { return tf32 ? Precision::Tf32 : Precision::Exact; }

// A device copy of `count` host floats (or of nothing).
struct DeviceCopy {
  DeviceBuffer buffer;
  float* data = nullptr;
  DeviceCopy(const float* host, int64_t count) {
    if (count <= 0) return;
    data = buffer.reserve<float>(count);
    copyToDevice(data, host, count);
  }
};

// The epilogue's bias and PReLU weights on the device; `device` points at them.
struct DeviceEpilogueCopy {
  DeviceCopy bias, prelu;
  dense::Epilogue device;
  explicit DeviceEpilogueCopy(const dense::Epilogue& host)
      : bias(host.bias, host.bias ? host.biasLength : 0),
        prelu(host.preluAlpha, host.preluAlpha ? host.preluLength : 0),
        device(host) {
    device.bias = bias.data;
    device.preluAlpha = prelu.data;
  }
};

void finish(float* hostOut, const DeviceCopy& out, int64_t count) {
  UCMG_CUDA_CHECK(cudaDeviceSynchronize());
  if (count > 0) copyToHost(hostOut, out.data, count);
}

}  // namespace

void batchMatMulHost(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
                     bool transposeA, bool transposeB, int batchRank, const int64_t* aBatchShape,
                     const int64_t* bBatchShape, const dense::Epilogue& epilogue, bool tf32) {
  if (batchRank < 0 || batchRank > kMaxBatchRank)
    throw std::invalid_argument("batchMatMulHost: batch rank out of range");
  MatMulShape shape;
  shape.m = m, shape.n = n, shape.k = k;
  shape.transposeA = transposeA, shape.transposeB = transposeB;
  shape.batch.rank = batchRank;
  int64_t aMatrices = 1, bMatrices = 1, batch = 1;
  for (int d = 0; d < batchRank; ++d) {
    shape.batch.aShape[d] = aBatchShape[d], shape.batch.bShape[d] = bBatchShape[d];
    aMatrices *= aBatchShape[d], bMatrices *= bBatchShape[d];
    batch *= aBatchShape[d] == 1 ? bBatchShape[d] : aBatchShape[d];
  }
  std::lock_guard<std::mutex> lock(deviceMutex());
  const DeviceCopy da(a, aMatrices * m * k), db(b, bMatrices * k * n), dout(out, batch * m * n);
  const DeviceEpilogueCopy e(epilogue);
  batchMatMul(da.data, db.data, dout.data, shape, e.device, precisionOf(tf32), nullptr);
  finish(out, dout, batch * m * n);
}

namespace {
int64_t inputSize(const dense::Conv2DGeometry& g) {
  return g.batch * g.inHeight * g.inWidth * g.inChannels;
}
int64_t outputSize(const dense::Conv2DGeometry& g) {
  return g.batch * g.outHeight * g.outWidth * g.outChannels;
}
int64_t filterSize(const dense::Conv2DGeometry& g) {
  return g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
}
}  // namespace

void conv2dHost(const float* x, const float* filter, float* out, const dense::Conv2DGeometry& g,
                const dense::Epilogue& epilogue, bool tf32) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  const DeviceCopy dx(x, inputSize(g)), df(filter, filterSize(g)), dout(out, outputSize(g));
  const DeviceEpilogueCopy e(epilogue);
  conv2d(dx.data, df.data, dout.data, g, e.device, precisionOf(tf32), nullptr);
  finish(out, dout, outputSize(g));
}

void conv2dBackpropInputHost(const float* dy, const float* filter, float* dx,
                             const dense::Conv2DGeometry& g, bool tf32) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  const DeviceCopy ddy(dy, outputSize(g)), df(filter, filterSize(g)), ddx(dx, inputSize(g));
  conv2dBackpropInput(ddy.data, df.data, ddx.data, g, precisionOf(tf32), nullptr);
  finish(dx, ddx, inputSize(g));
}

void conv2dBackpropFilterHost(const float* x, const float* dy, float* dw,
                              const dense::Conv2DGeometry& g, bool tf32) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  const DeviceCopy dx(x, inputSize(g)), ddy(dy, outputSize(g)), ddw(dw, filterSize(g));
  DeviceBuffer workspace;
  const int64_t workspaceFloats = conv2dBackpropFilterWorkspace(g);
  float* work = workspaceFloats > 0 ? workspace.reserve<float>(workspaceFloats) : nullptr;
  conv2dBackpropFilter(dx.data, ddy.data, ddw.data, g, work, precisionOf(tf32), nullptr);
  finish(dw, ddw, filterSize(g));
}

namespace {

// A device buffer of `count` floats filled uniformly in [-1, 1).
float* filled(DeviceBuffer& buffer, int64_t count, uint32_t seed) {
  float* data = buffer.reserve<float>(count > 0 ? count : 1);
  if (count > 0) launchFillUniform(data, count, seed, -1.0f, 1.0f, nullptr);
  return data;
}

template <class Run>
std::vector<double> timeRuns(int iters, Run&& run) {
  cudaEvent_t start = nullptr, stop = nullptr;
  std::vector<double> ms;
  try {
    UCMG_CUDA_CHECK(cudaEventCreate(&start));
    UCMG_CUDA_CHECK(cudaEventCreate(&stop));
    run();  // warm-up
    for (int i = 0; i < iters; ++i) {
      UCMG_CUDA_CHECK(cudaEventRecord(start, nullptr));
      run();
      UCMG_CUDA_CHECK(cudaEventRecord(stop, nullptr));
      UCMG_CUDA_CHECK(cudaEventSynchronize(stop));
      float elapsed = 0.0f;
      UCMG_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
      ms.push_back(elapsed);
    }
  } catch (...) {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    throw;
  }
  UCMG_CUDA_CHECK(cudaEventDestroy(start));
  UCMG_CUDA_CHECK(cudaEventDestroy(stop));
  return ms;
}

}  // namespace

std::vector<double> timeBatchMatMul(int64_t batch, int64_t m, int64_t n, int64_t k, bool tf32, int iters) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  DeviceBuffer a, b, out;
  MatMulShape shape;
  shape.m = m, shape.n = n, shape.k = k;
  shape.batch.rank = 1;
  shape.batch.aShape[0] = shape.batch.bShape[0] = batch;
  const float* da = filled(a, batch * m * k, 1);
  const float* db = filled(b, batch * k * n, 2);
  float* dout = out.reserve<float>(batch * m * n > 0 ? batch * m * n : 1);
  return timeRuns(iters, [&] {
    batchMatMul(da, db, dout, shape, dense::Epilogue{}, precisionOf(tf32), nullptr);
  });
}

std::vector<double> timeConv2d(ConvPass pass, const dense::Conv2DGeometry& g, bool tf32, int iters) {
  std::lock_guard<std::mutex> lock(deviceMutex());
  DeviceBuffer x, filter, y, workspace;
  float* dx = filled(x, inputSize(g), 3);
  float* df = filled(filter, filterSize(g), 4);
  float* dy = filled(y, outputSize(g), 5);
  const int64_t workspaceFloats = conv2dBackpropFilterWorkspace(g);
  float* work = workspaceFloats > 0 ? workspace.reserve<float>(workspaceFloats) : nullptr;
  const Precision precision = precisionOf(tf32);
  return timeRuns(iters, [&] {
    switch (pass) {
      case ConvPass::Forward: return conv2d(dx, df, dy, g, dense::Epilogue{}, precision, nullptr);
      case ConvPass::BackpropInput: return conv2dBackpropInput(dy, df, dx, g, precision, nullptr);
      case ConvPass::BackpropFilter: return conv2dBackpropFilter(dx, dy, df, g, work, precision, nullptr);
    }
  });
}

}  // namespace ucmg::cuda::backend
