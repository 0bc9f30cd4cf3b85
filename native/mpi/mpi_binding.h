// Registers exports.mpi (see src/native/binding.ts, NativeMpi) when the addon is built with MPI.
#pragma once

#include <napi.h>

namespace ucmg::binding {
void registerMpiBinding(Napi::Env env, Napi::Object exports);
}  // namespace ucmg::binding
