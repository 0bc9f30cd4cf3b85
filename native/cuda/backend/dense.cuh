// Dense kernels of the device-resident tfjs backend: batched matrix products with a fused
// bias + activation epilogue, and NHWC 2-D convolutions with their two backprops, as implicit
// GEMMs on the block-level main loop of tile_gemm.cuh (no im2col buffer, no cuBLAS/cuDNN).
//
// Every function takes device pointers, queues its work on `stream` and returns without a
// host round trip; every CUDA call is checked (a failure throws std::runtime_error naming it).
// The semantics and layouts are those of the CPU kernels in native/dense/dense.h, whose
// Epilogue, Activation and Conv2DGeometry are reused here: row-major fp32, images NHWC,
// filters [filterH, filterW, inC, outC]. Callers validate shapes; outputs must not overlap
// inputs. An output with zero elements launches nothing.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "../../dense/dense.h"

namespace ucmg::cuda::backend {

// Exact: fp32 products and fp32 accumulation (the default; differs from the CPU only in the
// order of the sums). Tf32: the operands are rounded to TF32 (10-bit mantissa, round to nearest,
// ties away from zero) and accumulated in fp32; the products run on tensor cores (wmma, sm_80+)
// in real CUDA builds, on the SIMT loop in the emulated build.
enum class Precision { Exact, Tf32 };

// Batch dimensions of a batched product, numpy-style: aShape[d] and bShape[d] are each either
// the output's size on that axis or 1 (broadcast), for d < rank (left-pad the shorter side with
// 1s). rank 0 is a single product. This covers tfjs BatchMatMul / _FusedMatMul broadcasting.
constexpr int kMaxBatchRank = 6;
struct BatchShape {
  int rank = 0;
  int64_t aShape[kMaxBatchRank] = {};
  int64_t bShape[kMaxBatchRank] = {};
};

// out[i] = epilogue(op(a[i]) op(b[i])) for every batch index i of the broadcast batch shape,
// op = transpose or not: a matrices are [m, k] ([k, m] when transposeA), b matrices [k, n]
// ([n, k] when transposeB), out [batch..., m, n]. k == 0 gives epilogue(0).
struct MatMulShape {
  int64_t m = 0, n = 0, k = 0;
  bool transposeA = false, transposeB = false;
  BatchShape batch;
};

// epilogue.bias (length 1 or n) and epilogue.preluAlpha (length 1 or n) are DEVICE pointers;
// the bias is added to every output row, then the activation applied (dense::Epilogue).
void batchMatMul(const float* a, const float* b, float* out, const MatMulShape& shape,
                 const dense::Epilogue& epilogue, Precision precision, cudaStream_t stream);

// out [batch, outH, outW, outC] = epilogue(conv(x [batch, inH, inW, inC], filter)), with the
// geometry of tfjs's computeConv2DInfo: padTop/padLeft explicit, padBottom/padRight implied by
// outHeight/outWidth. epilogue pointers are device pointers (per output channel).
void conv2d(const float* x, const float* filter, float* out, const dense::Conv2DGeometry& g,
            const dense::Epilogue& epilogue, Precision precision, cudaStream_t stream);

// dx [batch, inH, inW, inC] = d conv / d x applied to dy [batch, outH, outW, outC].
void conv2dBackpropInput(const float* dy, const float* filter, float* dx,
                         const dense::Conv2DGeometry& g, Precision precision,
                         cudaStream_t stream);

// dw [filterH, filterW, inC, outC] = d conv / d filter applied to dy. The reduction runs over
// batch * outH * outW output pixels, which can dwarf dw itself, so it is split over blocks
// that write partial sums to `workspace` and a second pass adds them in a fixed order
// (deterministic). workspace: conv2dBackpropFilterWorkspace(g) floats of device memory
// (null when that is 0).
int64_t conv2dBackpropFilterWorkspace(const dense::Conv2DGeometry& g);
void conv2dBackpropFilter(const float* x, const float* dy, float* dw,
                          const dense::Conv2DGeometry& g, float* workspace, Precision precision,
                          cudaStream_t stream);

}  // namespace ucmg::cuda::backend
