// dense_api.h: handles resolved to device pointers, then the kernels of dense.cuh on the
// backend's stream.
#include "allocator.cuh"
#include "dense.cuh"
#include "dense_api.h"

namespace ucmg::cuda::backend {

namespace {

constexpr cudaStream_t kStream = nullptr;

const float* floats(int64_t handle) { return static_cast<const float*>(devicePointer(handle)); }
float* mutableFloats(int64_t handle) { return static_cast<float*>(devicePointer(handle)); }

dense::Epilogue deviceEpilogue(const EpilogueHandles& handles) {
  dense::Epilogue e;
  e.activation = handles.activation;
  e.leakyreluAlpha = handles.leakyreluAlpha;
  if (handles.bias != 0) e.bias = floats(handles.bias), e.biasLength = tensorCount(handles.bias);
  if (handles.preluAlpha != 0)
    e.preluAlpha = floats(handles.preluAlpha), e.preluLength = tensorCount(handles.preluAlpha);
  return e;
}

Precision precision(bool tf32) { return tf32 ? Precision::Tf32 : Precision::Exact; }

}  // namespace

void matMul(int64_t a, int64_t b, int64_t out, int64_t m, int64_t n, int64_t k, bool transposeA, bool transposeB,
            const std::vector<int64_t>& aBatch, const std::vector<int64_t>& bBatch, const EpilogueHandles& epilogue,
            bool tf32) {
  MatMulShape shape;
  shape.m = m, shape.n = n, shape.k = k;
  shape.transposeA = transposeA, shape.transposeB = transposeB;
  shape.batch.rank = (int)aBatch.size();
  for (size_t d = 0; d < aBatch.size(); ++d) shape.batch.aShape[d] = aBatch[d], shape.batch.bShape[d] = bBatch[d];
  batchMatMul(floats(a), floats(b), mutableFloats(out), shape, deviceEpilogue(epilogue), precision(tf32), kStream);
}

void conv2d(int64_t x, int64_t filter, int64_t out, const dense::Conv2DGeometry& g, const EpilogueHandles& epilogue,
            bool tf32) {
  backend::conv2d(floats(x), floats(filter), mutableFloats(out), g, deviceEpilogue(epilogue), precision(tf32), kStream);
}

void conv2dBackpropInput(int64_t dy, int64_t filter, int64_t dx, const dense::Conv2DGeometry& g, bool tf32) {
  backend::conv2dBackpropInput(floats(dy), floats(filter), mutableFloats(dx), g, precision(tf32), kStream);
}

void conv2dBackpropFilter(int64_t x, int64_t dy, int64_t dw, const dense::Conv2DGeometry& g, bool tf32) {
  const int64_t workspaceCount = conv2dBackpropFilterWorkspace(g);
  const int64_t workspace = workspaceCount > 0 ? allocateTensor(workspaceCount, DType::Float32) : 0;
  try {
    backend::conv2dBackpropFilter(floats(x), floats(dy), mutableFloats(dw), g,
                                  workspace != 0 ? mutableFloats(workspace) : nullptr, precision(tf32), kStream);
  } catch (...) {
    if (workspace != 0) freeTensor(workspace);
    throw;
  }
  // Back to the pool: later work on the same stream may reuse it only after this kernel ran.
  if (workspace != 0) freeTensor(workspace);
}

}  // namespace ucmg::cuda::backend
