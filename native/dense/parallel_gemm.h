// The GEMM of the dense kernels. Row-major C[M, N] = op(A) op(B) + beta * C, op = transpose when
// the flag is set, beta in {0, 1}.
//
// Parallelism comes from OpenMP, never from BLAS threads: C is cut into tiles (along its longer
// side) that the threads take dynamically, each tile one single-threaded BLAS call. On this 2-core
// machine that beat OpenBLAS's own threads at every size the models use (see the report), above
// all when other processes hold a core: a descheduled BLAS thread stalls its statically split
// partner, a dynamic tile queue does not. Inside an OpenMP region, or below kParallelFlops, the
// whole product runs on the calling thread; a caller that opens an OpenMP region around sgemm
// holds a cpu::SerialGemmScope for it.
#pragma once

#include <cstdint>

namespace ucmg {
namespace dense {

// Work below this many flops (about 0.5 ms on one core) runs on the calling thread. Waking the
// other thread costs microseconds on an idle machine but milliseconds when other processes hold
// its core, and on this shared 2-core machine that made 16-25 MFLOP products 3-5x slower split
// than whole (bench/dense.bench.ts, under load); above this the idle-machine gain wins.
constexpr int64_t kParallelFlops = int64_t(1) << 26;

// The binding keeps M, N, K and the leading dimensions within BLAS's 32-bit integers.
void sgemm(bool transposeA, bool transposeB, int64_t M, int64_t N, int64_t K, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace dense
}  // namespace ucmg
