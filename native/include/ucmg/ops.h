// The compute contract of the four hot paths (docs/algorithm.md §3, §4, §6).
//
// Plain C++: nothing here knows N-API. The binding (native/binding/) validates every argument
// before calling these, so the functions assume well-formed, finite input. The CPU versions live
// in ucmg::cpu (native/cpu/), the CUDA versions in ucmg::cuda (native/cuda/) with the same
// signatures on host pointers: they copy in, compute on the device and copy out. CUDA failures
// throw std::runtime_error naming the call that failed.
//
// Layout: every matrix is row-major float32. "k" is the number of modalities (2 or 3); arrays of
// per-modality pointers have k entries in the caller's modality order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ucmg {

// ---- quantize -------------------------------------------------------------------------------
// indices[i] = argmin_j ||z_i - e_j||^2, exact for the float32 inputs, ties to the lowest j.
// Method (identical on every backend, so indices and distances agree bit for bit):
//   1. approximate distances dt_j = ||e_j||^2 - 2 z.e_j with a float32 GEMM (any order);
//   2. every j with dt_j <= min_j dt_j + 2*bound(z) is a candidate, where
//      bound(z) = quantizeErrorBound(d, ||z||, maxNormE) covers any float32 summation order;
//   3. candidates are rescored with exactSquaredDistance (float64, fixed order, no FMA) and the
//      smallest wins, ties to the lowest index.
// distances[i] = (float) exactSquaredDistance(z_i, e_idx). gathered (may be null) gets e_idx rows.
// The device never holds an n x m matrix: rows are processed in tiles.

// sum_{t<d} ((double)a[t] - (double)b[t])^2, accumulated in order t = 0..d-1 with separate
// multiply and add roundings (no FMA contraction). The canonical score of every backend.
double exactSquaredDistance(const float* a, const float* b, int64_t d);

// (2d + 8) * 2^-24 * (normZ + maxNormE)^2 * 1.01 : a bound on |dt_j - (true value)|.
double quantizeErrorBound(int64_t d, double normZ, double maxNormE);

// ---- MM-EMA step (docs/algorithm.md §3.4-§3.6) --------------------------------------------------------
struct CodebookState {
  float* embedding;    // [m, d]
  float* emaCount;     // [m]
  float* emaWeight;    // [m, d]
  int32_t* unused;     // [m]  steps since last use (the published "unactivated_count")
  int64_t m;
  int64_t d;
};

// No defaults here: the binding passes every field, and the one set of defaults is
// MM_EMA_DEFAULTS in src/ops/defaults.ts.
struct MmEmaOptions {
  float decay;
  float epsilon;
  int32_t deadAfter;    // unused > deadAfter  => dead, revived
  int32_t activeBelow;  // 0 <= unused < activeBelow => may be copied to revive a dead code
  uint32_t seed;        // drives the reset choices, see resetRandom()
  bool resetEma;        // also reset emaWeight of revived codes (not published behaviour)
  bool crossModal;      // false: dw uses only the owner's vectors with weight 1 (plain EMA)
  int64_t segmentsPerClip;  // T, for equal_num (n = B*T)
};

struct MmEmaReport {
  std::vector<double> perplexity;    // [k]
  int64_t equalNum = 0;              // clips whose mode code over T agrees in every modality
  std::vector<int32_t> resetCodes;   // dead codes revived this step, ascending
  std::vector<int32_t> resetSources; // the active code each one copied
};

// Updates state in place. z[k] are [n, d]; indices[k] are [n] (quantize's output for z[k]).
// Modalities are applied one after another in the given order (decay applies k times):
//   emaCount = decay*emaCount + (1-decay)*counts_m
//   nTot = sum(emaCount); emaCount = (emaCount + eps) / (nTot + m*eps) * nTot
//   dw_j = w_own * sum_{i: idx_m[i]=j} z_m[i] + sum_{o != m} w_cross * sum_{i: idx_m[i]=j} z_o[i]
//          with w_own = 0.5, w_cross = 0.5/(k-1)   (crossModal=false: w_own = 1, w_cross = 0)
//   emaWeight = decay*emaWeight + (1-decay)*dw ;  embedding = emaWeight / emaCount
// then the dead-code reset of docs/algorithm.md §3.5 on the updated embedding:
//   unused += 1 (saturating at INT32_MAX, nextUnusedCount); unused[j] = 0 for every j used by any
//   modality; dead = {j: unused > deadAfter};
//   active = {j: 0 <= unused < activeBelow} (computed after zeroing, before reviving);
//   for the r-th dead code j in ascending order: unused[j] = 0,
//     src = active[floor(resetRandom(seed, 0, j) * |active|)],
//     embedding[j][t] = embedding[src][t] + resetNoise(seed, j*d + t)
//   (no active code: nothing is revived). resetEma: emaWeight[j] = embedding[j] * emaCount[j].
// Perplexity_m = exp(-sum_j p_j log(p_j + 1e-10)) with p the mean one-hot of indices[m].
namespace cpu {
void mmEmaStep(CodebookState& state, const float* const* z, const int32_t* const* indices,
               int k, int64_t n, const MmEmaOptions& opt, MmEmaReport& report);
}  // namespace cpu

// Compiled for the host and, under nvcc, for the device too (the CUDA reset uses them as is).
#ifdef __CUDACC__
#define UCMG_HOST_DEVICE __host__ __device__
#else
#define UCMG_HOST_DEVICE
#endif

// Counter-based randomness shared by every backend (JS mirrors it in src/ops/resetRandom.ts).
//   fmix32 = murmur3 finaliser; key = fmix32(seed + 0x9E3779B9u * (stream + 1))
//   bits = fmix32(key ^ fmix32(counter)); resetRandom = (bits >> 8) * 2^-24  in [0, 1)
//   resetNoise(seed, c) = (float)(2 * resetRandom(seed, 1, c) - 1) * (1.0f / 1024)
UCMG_HOST_DEVICE inline uint32_t fmix32(uint32_t x) {
  x ^= x >> 16; x *= 0x85ebca6bu; x ^= x >> 13; x *= 0xc2b2ae35u; x ^= x >> 16;
  return x;
}
UCMG_HOST_DEVICE inline double resetRandom(uint32_t seed, uint32_t stream, uint32_t counter) {
  uint32_t key = fmix32(seed + 0x9E3779B9u * (stream + 1u));
  uint32_t bits = fmix32(key ^ fmix32(counter));
  return (double)(bits >> 8) * (1.0 / 16777216.0);
}
UCMG_HOST_DEVICE inline float resetNoise(uint32_t seed, uint32_t counter) {
  return (float)(2.0 * resetRandom(seed, 1u, counter) - 1.0) * (1.0f / 1024.0f);
}

// A code's unused count after a step in which it was not used: one more, but never past
// INT32_MAX (a count that wrapped to a negative value would make a dead code look active).
UCMG_HOST_DEVICE inline int32_t nextUnusedCount(int32_t unused) {
  return unused < INT32_MAX ? unused + 1 : unused;
}

// ---- code matching, L_cmcm (docs/algorithm.md §3.3) -------------------------------------------------
// z[k] are [b, t, d]. Returns L_cmcm = 0.5 * sum over unordered pairs (m<n) of
//   L_mn = -(1/b) sum_i [ (S_ii - c) - log( sum_j exp(S_ij - c) + eps ) ],  c = min_ij S_ij,
//   S = P_m log(P_n + 1e-10)^T + P_n log(P_m + 1e-10)^T,  P_m = mean_t softmax_j(-sqrt(d_tj)),
//   d_tj = ||z||^2 + ||e_j||^2 - 2 z.e_j  (clamped at 0).
// grad[k] (each may be null) receive dL_cmcm/dz[k], [b, t, d]; the codebook is a constant.
// The gradient includes the (tiny) path through c, as autograd of the published code does.
namespace cpu {
double codeMatching(const float* const* z, int k, int64_t b, int64_t t, int64_t d,
                    const float* codebook, int64_t m, float eps, float* const* grad);
}  // namespace cpu

// ---- InfoNCE score matrices (docs/algorithm.md §4.2) ---------------------------------------------
// targets[k], preds[k] are [b, d]; weights is [k, k] row-major. For every ordered pair
// (m = target modality, n = prediction modality): S = targets[m] preds[n]^T  [b, b];
//   loss = -(1/b) sum_{m,n} weights[m*k+n] * sum_i log_softmax_row(S)_ii
//   accuracies[m*k+n] = (1/b) #{j : argmax_i softmax_row(S)_ij == j}  (ties to the lowest i)
// gradTargets[k], gradPreds[k] (each may be null) receive d loss / d input.
namespace cpu {
double infoNce(const float* const* targets, const float* const* preds, int k, int64_t b,
               int64_t d, const float* weights, float* accuracies, float* const* gradTargets,
               float* const* gradPreds);
}  // namespace cpu

namespace cpu {
void quantize(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
              int32_t* indices, float* distances, float* gathered);
}  // namespace cpu

// ---- build and run-time facts ---------------------------------------------------------------
struct BuildInfo {
  bool cuda;
  std::string cudaArchitectures;  // "80;90" as compiled
  std::string blas;               // "openblas" or "" when the portable GEMM is used
  bool openmp;
};
BuildInfo buildInfo();
int cpuThreads();

#ifdef UCMG_WITH_CUDA
namespace cuda {
struct DeviceInfo {
  bool usable = false;
  std::string reason;          // why not usable ("no CUDA driver", "no CUDA device", ...)
  int deviceCount = 0;
  std::string name;
  int ccMajor = 0, ccMinor = 0;
  uint64_t totalMemory = 0;
  int driverVersion = 0, runtimeVersion = 0;
};
DeviceInfo deviceInfo();  // never throws

// Same contracts as the CPU functions above, on host pointers.
void quantize(const float* z, const float* codebook, int64_t n, int64_t m, int64_t d,
              int32_t* indices, float* distances, float* gathered);
void mmEmaStep(CodebookState& state, const float* const* z, const int32_t* const* indices, int k,
               int64_t n, const MmEmaOptions& opt, MmEmaReport& report);
double codeMatching(const float* const* z, int k, int64_t b, int64_t t, int64_t d,
                    const float* codebook, int64_t m, float eps, float* const* grad);
double infoNce(const float* const* targets, const float* const* preds, int k, int64_t b, int64_t d,
               const float* weights, float* accuracies, float* const* gradTargets,
               float* const* gradPreds);

// Device-resident timing for the device check: random inputs made on the device, `iters` timed
// runs after one warm-up, CUDA events around each. Returns per-run milliseconds.
// op: "quantize" {n,m,d} | "avtStep" {b,t,d,m} (quantize + mmEmaStep + codeMatching, 3 modalities)
//     | "infoNce" {b,d,k}
std::vector<double> timeOp(const std::string& op, int64_t p0, int64_t p1, int64_t p2, int64_t p3,
                           int iters);
}  // namespace cuda
#endif

}  // namespace ucmg
