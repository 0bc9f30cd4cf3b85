// The hot ops on device tensors of the tfjs 'cuda' backend: the *OnDevice kernels of native/cuda
// on handles, so that no operand or result goes through the host. CUDA-free (for the binding).
#pragma once

#include <cstdint>

#include "ucmg/ops.h"

namespace ucmg::cuda::backend {

// z [n, d], codebook [m, d] -> indices [n] (int32), distances [n], gathered [n, d] (0: none).
void quantize(int64_t z, int64_t codebook, int64_t n, int64_t m, int64_t d, int64_t indices, int64_t distances,
              int64_t gathered);

// InfoNCE over k modalities: targets, preds [k, b, d] (modalities back to back), weights
// [k * k] -> loss [1] (float32), hits [k * k] (int32) and, when not 0, gradTargets / gradPreds
// [k, b, d].
void infoNce(int64_t targets, int64_t preds, int k, int64_t b, int64_t d, int64_t weights, int64_t loss,
             int64_t hits, int64_t gradTargets, int64_t gradPreds);

// The code-matching loss: z [k, b*t, d], codebook [m, d] -> loss [1] (float32) and, when not 0,
// grad [k, b*t, d].
void codeMatching(int64_t z, int k, int64_t b, int64_t t, int64_t d, int64_t codebook, int64_t m, float epsilon,
                  int64_t loss, int64_t grad);

// The codebook state's four tensors: embedding [m, d], emaCount [m], emaWeight [m, d] (float32)
// and unusedCount [m] (int32).
struct CodebookHandles {
  int64_t embedding, emaCount, emaWeight, unusedCount;
};

// The int32 elements of mmEma's report for k modalities and m codes: perplexity [k] as float64
// (two int32 each, little-endian), equalNum, badIndexCount, resetCount, resetCodes [m] and
// resetSources [m] (the first resetCount of each are set).
constexpr int64_t mmEmaReportSize(int64_t k, int64_t m) { return 2 * k + 3 + 2 * m; }

// One MM-EMA step (ucmg/ops.h, mmEmaStep) on device tensors: `before` is copied to `after` (the
// inputs are never written) and updated there from z [k, n, d] and indices [k, n] (int32, quantize's
// output, modalities back to back); the report goes to report [mmEmaReportSize(k, m)] (int32).
void mmEma(const CodebookHandles& before, const CodebookHandles& after, int64_t m, int64_t d, int64_t z,
           int64_t indices, int k, int64_t n, const MmEmaOptions& options, int64_t report);

}  // namespace ucmg::cuda::backend
