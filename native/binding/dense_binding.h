// The exports of the dense tfjs kernels (denseMatMul, denseConv2d, ...): the N-API side of
// native/dense/.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "../dense/dense.h"
#include "args.h"

namespace ucmg::binding {

void registerDenseBinding(Napi::Env env, Napi::Object exports);

// The argument readers of the dense exports, shared with the CUDA dense test exports
// (cuda_dense_binding.cc) so that both check their arguments the same way.

// A Float32Array used in place.
struct Floats {
  float* data;
  int64_t length;
};
// A Float32Array of exactly `length` elements (values unchecked: NaN and Infinity propagate).
Floats floatView(const Args& args, const Napi::Value& value, const std::string& name,
                 int64_t length, const std::string& lengthText);
// The product of `factors`, a RangeError naming `what` above 2^53.
int64_t checkedProduct(const Args& args, std::initializer_list<int64_t> factors, const std::string& what);
// RangeError when out and in share memory.
void requireDisjoint(const Args& args, const Floats& out, const char* outName, const Floats& in,
                     const char* inName);
// bias / activation / leakyreluAlpha / preluAlpha for outputs of `columns` channels.
dense::Epilogue readEpilogue(const Args& args, int64_t columns, const Floats& out, const char* outName);
// args.geometry, checked to describe the arrays (tfjs's computeConv2DInfo fields).
dense::Conv2DGeometry readGeometry(const Args& args);
// The three tensors of a convolution: x [batch, inH, inW, inC], filter [fh, fw, inC, outC] and
// y [batch, outH, outW, outC], read under the given argument names.
struct ConvTensors {
  Floats x, filter, y;
};
ConvTensors readConvTensors(const Args& args, const dense::Conv2DGeometry& g, const char* xName,
                            const char* filterName, const char* yName);

}  // namespace ucmg::binding
