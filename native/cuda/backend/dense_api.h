// Handle-based entry points of the dense kernels (dense.cuh) for the tfjs 'cuda' backend's
// binding: CUDA-free, like backend_api.h. The binding checks every count and shape first.
#pragma once

#include <cstdint>
#include <vector>

#include "../../dense/dense.h"

namespace ucmg::cuda::backend {

// The fused tail of a product or convolution: handles of device tensors, 0 for none.
struct EpilogueHandles {
  int64_t bias = 0;
  int64_t preluAlpha = 0;
  dense::Activation activation = dense::Activation::Linear;
  float leakyreluAlpha = 0.2f;
};

// out [broadcast(aBatch, bBatch)..., m, n] = epilogue(op(a) op(b)); aBatch and bBatch have the
// same length (at most 6), each axis equal or 1.
void matMul(int64_t a, int64_t b, int64_t out, int64_t m, int64_t n, int64_t k, bool transposeA, bool transposeB,
            const std::vector<int64_t>& aBatch, const std::vector<int64_t>& bBatch, const EpilogueHandles& epilogue,
            bool tf32);
void conv2d(int64_t x, int64_t filter, int64_t out, const dense::Conv2DGeometry& g, const EpilogueHandles& epilogue,
            bool tf32);
void conv2dBackpropInput(int64_t dy, int64_t filter, int64_t dx, const dense::Conv2DGeometry& g, bool tf32);
// Its workspace comes from the backend's allocator and goes back to the pool afterwards.
void conv2dBackpropFilter(int64_t x, int64_t dy, int64_t dw, const dense::Conv2DGeometry& g, bool tf32);

}  // namespace ucmg::cuda::backend
