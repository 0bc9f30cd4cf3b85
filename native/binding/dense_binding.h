// The exports of the dense tfjs kernels (denseMatMul, denseConv2d, ...): the N-API side of
// native/dense/.
#pragma once

#include <napi.h>

namespace ucmg::binding {

void registerDenseBinding(Napi::Env env, Napi::Object exports);

}  // namespace ucmg::binding
