// What this build contains and how many CPU threads the kernels use.
#include <algorithm>
#include <thread>

#include "parallel.h"
#include "ucmg/build_config.h"
#include "ucmg/ops.h"

namespace ucmg {

BuildInfo buildInfo() {
  BuildInfo info;
#ifdef UCMG_WITH_CUDA
  info.cuda = true;
#else
  info.cuda = false;
#endif
  info.cudaArchitectures = UCMG_CUDA_ARCHS;
#ifdef UCMG_HAVE_OPENBLAS
  info.blas = "openblas";
#endif
#ifdef _OPENMP
  info.openmp = true;
#else
  info.openmp = false;
#endif
  return info;
}

int cpuThreads() {
#ifdef _OPENMP
  return cpu::maxThreads();
#else
  return std::max(1u, std::thread::hardware_concurrency());
#endif
}

}  // namespace ucmg
