#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dense.h"

namespace ucmg {
namespace dense {

// These kernels run on the calling thread: one core's memory bandwidth is most of what the
// machine has, and an OpenMP region costs milliseconds whenever another process holds the other
// core (measured: a 1.25M-element transpose took 14 ms with two threads under load, 0.8 ms alone).

namespace {

// Tile edge of the blocked transpose: a tile's 32 source cache lines stay in L1 while it is copied.
constexpr int64_t kTile = 32;

// The output's last axis reads x at a large stride while output axis `contiguous` reads it at
// stride 1: gathering the last axis element by element would touch a new cache line per element,
// so tiles of (contiguous axis x last axis) are copied instead, whole cache lines on both sides.
// dims/strides: merged output axes with their signed input strides; start: where x's reading begins.
void tiledTranspose(const float* start, float* y, const std::vector<int64_t>& dims,
                    const std::vector<int64_t>& strides, int contiguous) {
  const int last = static_cast<int>(dims.size()) - 1;
  std::vector<int64_t> outStride(dims.size());
  int64_t total = 1;
  for (int a = last; a >= 0; --a) {
    outStride[a] = total;
    total *= dims[a];
  }
  const int64_t rowsP = dims[contiguous], columns = dims[last], readStride = strides[last];
  const int64_t tilesP = (rowsP + kTile - 1) / kTile;
  const int64_t batches = total / (rowsP * columns);
  for (int64_t task = 0; task < batches * tilesP; ++task) {
    int64_t in = 0, out = 0, index = task / tilesP;
    for (int a = last - 1; a >= 0; --a) {
      if (a == contiguous) continue;
      in += (index % dims[a]) * strides[a];
      out += (index % dims[a]) * outStride[a];
      index /= dims[a];
    }
    const int64_t i0 = (task % tilesP) * kTile, i1 = std::min(rowsP, i0 + kTile);
    for (int64_t j0 = 0; j0 < columns; j0 += kTile) {
      const int64_t j1 = std::min(columns, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i) {
        const float* src = start + in + i;
        float* dst = y + out + i * outStride[contiguous];
        for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * readStride];
      }
    }
  }
}

}  // namespace

void transpose(const float* x, float* y, const int64_t* shape, const int* perm,
               const bool* reversed, int rank) {
  std::vector<int64_t> inStride(rank);
  int64_t total = 1;
  for (int a = rank - 1; a >= 0; --a) {
    inStride[a] = total;
    total *= shape[a];
  }
  if (total == 0) return;
  // Each output axis reads x at a signed stride (negative when reversed, starting from the axis's
  // last element). Output axes that are consecutive input axes read the same way merge into one:
  // [80,10,3,4,16] by [2,0,3,1,4] keeps 5 axes, a permutation of whole blocks shrinks to a few.
  const float* start = x;
  std::vector<int64_t> dims, strides;  // merged output axes: extent and signed input stride
  for (int i = 0; i < rank; ++i) {
    const int axis = perm[i];
    const int64_t extent = shape[axis];
    if (extent == 1) continue;
    int64_t stride = inStride[axis];
    if (reversed != nullptr && reversed[axis]) {
      start += (extent - 1) * stride;
      stride = -stride;
    }
    if (!dims.empty() && strides.back() == stride * extent) {
      dims.back() *= extent;
      strides.back() = stride;
    } else {
      dims.push_back(extent);
      strides.push_back(stride);
    }
  }
  if (dims.empty() || (dims.size() == 1 && strides[0] == 1)) {
    std::memcpy(y, start, sizeof(float) * total);
    return;
  }
  const int last = static_cast<int>(dims.size()) - 1;
  int contiguous = -1;  // an output axis other than the last that reads x contiguously
  for (int a = 0; a < last; ++a) {
    if (strides[a] == 1) contiguous = a;
  }
  if (contiguous >= 0 && std::abs(strides[last]) >= kTile) {
    tiledTranspose(start, y, dims, strides, contiguous);
    return;
  }
  // Output rows of the last merged axis; each row reads x at a fixed stride (1: one memcpy).
  const int outer = last;
  const int64_t rowLength = dims[outer], rowStride = strides[outer];
  const int64_t rows = total / rowLength;
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset = 0, index = row;
    for (int a = outer - 1; a >= 0; --a) {
      offset += (index % dims[a]) * strides[a];
      index /= dims[a];
    }
    const float* src = start + offset;
    float* dst = y + row * rowLength;
    if (rowStride == 1) {
      std::memcpy(dst, src, sizeof(float) * rowLength);
    } else {
      for (int64_t j = 0; j < rowLength; ++j) dst[j] = src[j * rowStride];
    }
  }
}

void sumAxis(const float* x, float* y, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  // Tasks are (outer index, block of up to kBlock columns): each sums its columns down the
  // reduced axis into doubles, reading x row by row.
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t tasks = outer * blocks;
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t o = task / blocks, j0 = (task % blocks) * kBlock;
    const int64_t width = std::min(kBlock, inner - j0);
    double acc[kBlock] = {};
    const float* base = x + o * reduce * inner + j0;
    for (int64_t r = 0; r < reduce; ++r) {
      const float* row = base + r * inner;
      for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
    }
    float* out = y + o * inner + j0;
    for (int64_t j = 0; j < width; ++j) out[j] = static_cast<float>(scale * acc[j]);
  }
}

}  // namespace dense
}  // namespace ucmg
