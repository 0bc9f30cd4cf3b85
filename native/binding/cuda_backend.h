// The `cudaBackend` export: device tensors and kernels of the tfjs 'cuda' backend
// (src/cudaBackend/). Present only in builds with CUDA compiled in.
#pragma once

#include <napi.h>

namespace ucmg::binding {

void registerCudaBackendBinding(Napi::Env env, Napi::Object exports);

}  // namespace ucmg::binding
