// The fused tail of the dense kernels: bias add and activation, one pass over the output.
#pragma once

#include <cstdint>

#include "dense.h"

namespace ucmg {
namespace dense {

// out[r, c] = act(out[r, c] + bias[c]) for a block of `rows` rows of `columns` values.
// A no-op for a linear epilogue without bias.
void applyEpilogue(float* out, int64_t rows, int64_t columns, const Epilogue& epilogue);

}  // namespace dense
}  // namespace ucmg
