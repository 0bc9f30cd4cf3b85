// Host-pointer entry points of the backend's dense kernels (dense.cuh), for tests and the
// device check: each copies its arrays to fresh device buffers, runs the kernel on the default
// stream, and copies the output back. Plain C++ (no CUDA types), so the binding can include it.
// The output's initial contents are copied in as well, so a caller can poison it and see that
// the kernel writes every element. Shapes are those of dense.cuh; tf32 selects Precision::Tf32.
#pragma once

#include <cstdint>
#include <vector>

#include "../../dense/dense.h"

namespace ucmg::cuda::backend {

// a holds aMatrices [m, k] ([k, m] when transposeA) matrices, b bMatrices [k, n] ([n, k]), where
// aMatrices and bMatrices are the products of aBatchShape and bBatchShape (batchRank entries
// each, equal or 1 per axis); out holds the broadcast batch of [m, n]. epilogue: host pointers.
void batchMatMulHost(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
                     bool transposeA, bool transposeB, int batchRank, const int64_t* aBatchShape,
                     const int64_t* bBatchShape, const dense::Epilogue& epilogue, bool tf32);

void conv2dHost(const float* x, const float* filter, float* out, const dense::Conv2DGeometry& g,
                const dense::Epilogue& epilogue, bool tf32);
void conv2dBackpropInputHost(const float* dy, const float* filter, float* dx,
                             const dense::Conv2DGeometry& g, bool tf32);
void conv2dBackpropFilterHost(const float* x, const float* dy, float* dw,
                              const dense::Conv2DGeometry& g, bool tf32);

// Device-resident timings for the device check: inputs filled on the device, one warm-up run,
// then `iters` runs each between two CUDA events; per-run milliseconds. Linear epilogue.
enum class ConvPass { Forward, BackpropInput, BackpropFilter };
std::vector<double> timeBatchMatMul(int64_t batch, int64_t m, int64_t n, int64_t k, bool tf32, int iters);
std::vector<double> timeConv2d(ConvPass pass, const dense::Conv2DGeometry& g, bool tf32, int iters);

}  // namespace ucmg::cuda::backend
