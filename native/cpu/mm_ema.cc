// One multimodal EMA codebook step (contract in ucmg/ops.h, docs/algorithm.md §3.4-§3.6). The EMA runs in
// float64 from the float32 state and is rounded once at the end; the dead-code reset then works
// on the float32 embedding, as every backend does.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ucmg/ops.h"

namespace ucmg::cpu {

namespace {

// The most frequent value of v (ties to the smallest), v is scratch and gets sorted.
int32_t modeOf(std::vector<int32_t>& v) {
  std::sort(v.begin(), v.end());
  int32_t best = v[0];
  size_t bestRun = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j < v.size() && v[j] == v[i]) ++j;
    if (j - i > bestRun) best = v[i], bestRun = j - i;
    i = j;
  }
  return best;
}

int64_t countEqualModes(const int32_t* const* indices, int k, int64_t n, int64_t t) {
  int64_t equal = 0;
  std::vector<int32_t> scratch(t);
  for (int64_t clip = 0; clip < n / t; ++clip) {
    bool same = true;
    int32_t first = 0;
    for (int mod = 0; mod < k && same; ++mod) {
      scratch.assign(indices[mod] + clip * t, indices[mod] + (clip + 1) * t);
      const int32_t mode = modeOf(scratch);
      if (mod == 0) first = mode;
      same = mode == first;
    }
    equal += same;
  }
  return equal;
}

double perplexity(const std::vector<int64_t>& counts, int64_t n) {
  double entropy = 0.0;
  for (int64_t c : counts) {
    const double p = (double)c / (double)n;
    entropy -= p * std::log(p + 1e-10);
  }
  return std::exp(entropy);
}

}  // namespace

void mmEmaStep(CodebookState& state, const float* const* z, const int32_t* const* indices, int k,
               int64_t n, const MmEmaOptions& opt, MmEmaReport& report) {
  const int64_t m = state.m, d = state.d;
  const double decay = opt.decay, eps = opt.epsilon;
  const double wOwn = opt.crossModal ? 0.5 : 1.0;
  const double wCross = opt.crossModal && k > 1 ? 0.5 / (k - 1) : 0.0;

  std::vector<double> count(state.emaCount, state.emaCount + m);
  std::vector<double> weight(state.emaWeight, state.emaWeight + m * d);
  std::vector<double> dw(m * d);
  std::vector<int64_t> hits(m);
  std::vector<char> used(m, 0);
  report.perplexity.assign(k, 0.0);

  for (int mod = 0; mod < k; ++mod) {
    const int32_t* idx = indices[mod];
    std::fill(hits.begin(), hits.end(), 0);
    for (int64_t i = 0; i < n; ++i) ++hits[idx[i]];
    for (int64_t j = 0; j < m; ++j) used[j] |= hits[j] > 0;
    report.perplexity[mod] = perplexity(hits, n);

    double total = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      count[j] = decay * count[j] + (1.0 - decay) * (double)hits[j];
      total += count[j];
    }
    for (int64_t j = 0; j < m; ++j) count[j] = (count[j] + eps) / (total + m * eps) * total;

    // dw: rows scattered to this modality's codes; the other modalities' rows are gathered at
    // this modality's indices, position by position (the cross-modal part).
    std::fill(dw.begin(), dw.end(), 0.0);
    for (int src = 0; src < k; ++src) {
      const double w = src == mod ? wOwn : wCross;
      if (w == 0.0) continue;
      const float* zs = z[src];
      for (int64_t i = 0; i < n; ++i) {
        double* row = dw.data() + (int64_t)idx[i] * d;
        const float* zi = zs + i * d;
        for (int64_t t = 0; t < d; ++t) row[t] += w * zi[t];
      }
    }
    // Serial on purpose: at paper size this is 0.1 ms of work, less than waking a thread team.
    for (int64_t e = 0; e < m * d; ++e) weight[e] = decay * weight[e] + (1.0 - decay) * dw[e];
  }

  for (int64_t j = 0; j < m; ++j) {
    state.emaCount[j] = (float)count[j];
    for (int64_t t = 0; t < d; ++t) {
      state.emaWeight[j * d + t] = (float)weight[j * d + t];
      state.embedding[j * d + t] = (float)(weight[j * d + t] / count[j]);
    }
  }

  // Dead-code reset on the updated embedding.
  std::vector<int32_t> active;
  for (int64_t j = 0; j < m; ++j) {
    int32_t& u = state.unused[j];
    u = used[j] ? 0 : nextUnusedCount(u);
    if (u >= 0 && u < opt.activeBelow) active.push_back((int32_t)j);
  }
  report.resetCodes.clear();
  report.resetSources.clear();
  for (int64_t j = 0; j < m && !active.empty(); ++j) {
    if (state.unused[j] <= opt.deadAfter) continue;
    state.unused[j] = 0;
    const size_t pick = (size_t)(resetRandom(opt.seed, 0, (uint32_t)j) * (double)active.size());
    const int32_t src = active[std::min(pick, active.size() - 1)];
    float* target = state.embedding + j * d;
    const float* from = state.embedding + (int64_t)src * d;
    for (int64_t t = 0; t < d; ++t)
      target[t] = from[t] + resetNoise(opt.seed, (uint32_t)(j * d + t));
    if (opt.resetEma)
      for (int64_t t = 0; t < d; ++t) state.emaWeight[j * d + t] = target[t] * state.emaCount[j];
    report.resetCodes.push_back((int32_t)j);
    report.resetSources.push_back(src);
  }

  report.equalNum = countEqualModes(indices, k, n, opt.segmentsPerClip);
}

}  // namespace ucmg::cpu
