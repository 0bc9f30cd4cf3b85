// Batched matrix products with broadcast batch dimensions and the fused epilogue.
#include <stdexcept>

#include "dense.cuh"
#include "dense_tile.cuh"

namespace ucmg::cuda::backend {

namespace {

using detail::DeviceEpilogue;
using tile::Operand;

// Output batch index -> matrix index of a and of b, for the broadcast batch shape.
struct BatchMap {
  int rank = 0;
  int64_t outShape[kMaxBatchRank] = {};
  int64_t aStride[kMaxBatchRank] = {};  // in matrices; 0 on a broadcast axis
  int64_t bStride[kMaxBatchRank] = {};

  __device__ void locate(int64_t z, int64_t& aIndex, int64_t& bIndex) const {
    aIndex = 0, bIndex = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = z % outShape[d];
      z /= outShape[d];
      aIndex += i * aStride[d], bIndex += i * bStride[d];
    }
  }
};

// op(A) as rows x depth and op(B) as cols x depth (gemm.cu's reading of the transposes).
template <bool TransposeA, bool TransposeB>
struct MatMulProblem {
  const float* aData;
  const float* bData;
  float* out;
  int64_t rows, cols, depth;
  BatchMap batch;
  DeviceEpilogue epilogue;

  __device__ Operand<float, !TransposeA> a(int64_t z) const {
    int64_t ai, bi;
    batch.locate(z, ai, bi);
    return {aData + ai * rows * depth, rows, depth, TransposeA ? rows : depth};
  }
  __device__ Operand<float, TransposeB> b(int64_t z) const {
    int64_t ai, bi;
    batch.locate(z, ai, bi);
    return {bData + bi * cols * depth, cols, depth, TransposeB ? depth : cols};
  }
  __device__ void store(int64_t z, int64_t r, int64_t c, float v) const {
    out[(z * rows + r) * cols + c] = epilogue(v, c);
  }
};

template <bool TransposeA, bool TransposeB>
void run(const float* a, const float* b, float* out, const MatMulShape& s, const BatchMap& map,
         int64_t batch, const dense::Epilogue& e, Precision precision, cudaStream_t stream) {
  const MatMulProblem<TransposeA, TransposeB> p{a, b, out, s.m, s.n, s.k, map,
                                                DeviceEpilogue::from(e)};
  detail::runTiles(p, batch, precision, stream);
}

}  // namespace

void batchMatMul(const float* a, const float* b, float* out, const MatMulShape& shape,
                 const dense::Epilogue& epilogue, Precision precision, cudaStream_t stream) {
  if (shape.m < 0 || shape.n < 0 || shape.k < 0 || shape.batch.rank < 0 ||
      shape.batch.rank > kMaxBatchRank)
    throw std::invalid_argument("batchMatMul: negative dimension or batch rank out of range");
  BatchMap map;
  map.rank = shape.batch.rank;
  int64_t batch = 1, aMatrices = 1, bMatrices = 1;
  for (int d = map.rank - 1; d >= 0; --d) {
    const int64_t aSize = shape.batch.aShape[d], bSize = shape.batch.bShape[d];
    const int64_t outSize = aSize == 1 ? bSize : aSize;
    if (aSize < 0 || bSize < 0 || (aSize != bSize && aSize != 1 && bSize != 1))
      throw std::invalid_argument("batchMatMul: batch shapes do not broadcast");
    map.outShape[d] = outSize;
    map.aStride[d] = aSize == 1 ? 0 : aMatrices;
    map.bStride[d] = bSize == 1 ? 0 : bMatrices;
    batch *= outSize, aMatrices *= aSize, bMatrices *= bSize;
  }
  if (batch == 0 || shape.m == 0 || shape.n == 0) return;
  if (!shape.transposeA && !shape.transposeB)
    run<false, false>(a, b, out, shape, map, batch, epilogue, precision, stream);
  else if (!shape.transposeA)
    run<false, true>(a, b, out, shape, map, batch, epilogue, precision, stream);
  else if (!shape.transposeB)
    run<true, false>(a, b, out, shape, map, batch, epilogue, precision, stream);
  else
    run<true, true>(a, b, out, shape, map, batch, epilogue, precision, stream);
}

}  // namespace ucmg::cuda::backend
