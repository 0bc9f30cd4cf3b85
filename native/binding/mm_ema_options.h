// The MM-EMA options object of the bindings (the host-array step and the cuda backend's step on
// device tensors read it alike), validated field by field.
#pragma once

#include <string>

#include "args.h"
#include "ucmg/ops.h"

namespace ucmg::binding {

// options: {decay, epsilon, deadAfter, activeBelow, seed, resetEma, crossModal, segmentsPerClip};
// segmentsPerClip must divide n, the vectors per modality. `args` names the call in errors.
inline MmEmaOptions readMmEmaOptions(const Args& args, const Args& options, int64_t n) {
  MmEmaOptions opt{};
  opt.decay = (float)options.number("decay", 0.0, 1.0, true);
  opt.epsilon = (float)options.atLeast("epsilon", 0.0, true);
  opt.deadAfter = (int32_t)options.integer("deadAfter", 0, 2147483647);
  opt.activeBelow = (int32_t)options.integer("activeBelow", 0, 2147483647);
  opt.seed = (uint32_t)options.integer("seed", 0, 4294967295LL);
  opt.resetEma = options.flag("resetEma");
  opt.crossModal = options.flag("crossModal");
  opt.segmentsPerClip = options.dim("segmentsPerClip");
  if (n % opt.segmentsPerClip != 0)
    args.rangeError("options.segmentsPerClip must divide n = " + std::to_string(n) + ", got " +
                    std::to_string(opt.segmentsPerClip));
  return opt;
}

}  // namespace ucmg::binding
