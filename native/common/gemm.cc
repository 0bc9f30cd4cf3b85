#include "gemm.h"

#ifdef UCMG_HAVE_OPENBLAS
#include <cblas.h>

#include <mutex>
#endif

namespace ucmg::cpu {

#ifdef UCMG_HAVE_OPENBLAS

namespace {
CBLAS_TRANSPOSE cblasTrans(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

template <>
void gemm<float>(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

template <>
void gemm<double>(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha,
                  const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                  double* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_dgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

// OpenBLAS's thread count is process-wide and scopes may overlap (quantizeAsync runs on a
// worker thread): the first scope in saves and lowers it, the last one out restores it.
namespace {
std::mutex scopeMutex;
int openScopes = 0;
int threadsBeforeScopes = 0;
}  // namespace

SerialGemmScope::SerialGemmScope() {
  std::lock_guard<std::mutex> lock(scopeMutex);
  if (openScopes++ == 0) {
    threadsBeforeScopes = openblas_get_num_threads();
    openblas_set_num_threads(1);
  }
}
SerialGemmScope::~SerialGemmScope() {
  std::lock_guard<std::mutex> lock(scopeMutex);
  if (--openScopes == 0) openblas_set_num_threads(threadsBeforeScopes);
}

#else

template <typename T>
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  portableGemm<T>(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

// The portable GEMM never spawns threads inside a parallel region, so there is nothing to do.
SerialGemmScope::SerialGemmScope() = default;
SerialGemmScope::~SerialGemmScope() = default;

#endif

}  // namespace ucmg::cpu
