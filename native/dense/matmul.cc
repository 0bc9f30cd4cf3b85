#include "../common/gemm.h"
#include "../common/parallel.h"
#include "parallel_gemm.h"
#include "dense.h"
#include "epilogue.h"

namespace ucmg {
namespace dense {

namespace {

// True when every output matrix i reads a[i] and one shared b matrix with a not transposed:
// the batch then stacks into one GEMM with batch*m rows (a dense layer over [B, T, k] input),
// which BLAS runs far better than `batch` small products.
bool stacksIntoOneGemm(const MatMulProblem& p) {
  if (p.transposeA) return false;
  for (int64_t i = 0; i < p.batch; ++i) {
    if (p.aBatchIndex[i] != i || p.bBatchIndex[i] != p.bBatchIndex[0]) return false;
  }
  return true;
}

}  // namespace

void matMul(const float* a, const float* b, float* out, const MatMulProblem& p,
            const Epilogue& epilogue) {
  if (p.batch == 0) return;
  const int64_t lda = p.transposeA ? p.m : p.k;
  const int64_t ldb = p.transposeB ? p.k : p.n;
  const int64_t aSize = p.m * p.k, bSize = p.k * p.n, outSize = p.m * p.n;
  auto product = [&](int64_t i) {
    sgemm(p.transposeA, p.transposeB, p.m, p.n, p.k, a + p.aBatchIndex[i] * aSize, lda,
          b + p.bBatchIndex[i] * bSize, ldb, 0.0f, out + i * outSize, p.n);
  };
  if (stacksIntoOneGemm(p)) {
    sgemm(false, p.transposeB, p.batch * p.m, p.n, p.k, a, lda,
          b + p.bBatchIndex[0] * bSize, ldb, 0.0f, out, p.n);
  } else if (2 * p.m * p.n * p.k < kParallelFlops) {
    // Products too small to split (attention heads): the threads take whole products instead.
    cpu::SerialGemmScope serialGemm;
    cpu::RegionExceptions exceptions;
#pragma omp parallel for schedule(dynamic) if (2 * p.batch * p.m * p.n * p.k >= kParallelFlops)
    for (int64_t i = 0; i < p.batch; ++i) exceptions.run([&] { product(i); });
    exceptions.rethrow();
  } else {
    for (int64_t i = 0; i < p.batch; ++i) product(i);
  }
  applyEpilogue(out, p.batch * p.m, p.n, epilogue);
}

}  // namespace dense
}  // namespace ucmg
