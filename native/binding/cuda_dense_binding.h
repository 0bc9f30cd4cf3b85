// The `cudaDenseTest` export: host-array wrappers of the CUDA backend's dense kernels
// (native/cuda/backend/dense_host.h), for the emulated kernel tests and the device check.
// Present only in builds with CUDA compiled in.
#pragma once

#include <napi.h>

namespace ucmg::binding {

void registerCudaDenseBinding(Napi::Env env, Napi::Object exports);

}  // namespace ucmg::binding
