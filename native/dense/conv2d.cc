// 2-D convolutions as GEMMs over an im2col matrix. One row of that matrix per output pixel
// (n, oy, ox), one column per filter tap and input channel (fy, fx, c): the column order of
// the [filterH, filterW, inC, outC] filter seen as a [K, outC] matrix, K = filterH*filterW*inC.
// In NHWC each tap of a row is one contiguous run of inC input values, so a row is built with
// filterH*filterW copies. The matrix is built for a chunk of rows at a time to bound memory.
#include <algorithm>
#include <cstring>
#include <memory>

#include "../common/gemm.h"
#include "../common/parallel.h"
#include "parallel_gemm.h"
#include "dense.h"
#include "epilogue.h"

namespace ucmg {
namespace dense {

namespace {

// Upper bound on one im2col chunk (floats): 64 MiB keeps the GEMMs large while the buffer stays
// small next to the activations of a training step.
constexpr int64_t kChunkFloats = int64_t(16) << 20;
// The forward pass works in per-thread tiles of about half an L2 cache (2 MiB per core on the
// target machine), so the GEMM reads the im2col rows while they are still cached; at least 256
// rows, so that streaming the filter once per tile stays cheap next to the tile's GEMM.
constexpr int64_t kTileFloats = int64_t(1) << 18;
constexpr int64_t kMinTileRows = 256;
constexpr int64_t kMaxTileRows = 4096;

int64_t tapColumns(const Conv2DGeometry& g) { return g.filterHeight * g.filterWidth * g.inChannels; }
int64_t outputRows(const Conv2DGeometry& g) { return g.batch * g.outHeight * g.outWidth; }

// Each output pixel sees exactly the input pixel at its own position: the im2col matrix is the
// input itself.
bool isPointwise(const Conv2DGeometry& g) {
  return g.filterHeight == 1 && g.filterWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1 &&
         g.padTop == 0 && g.padLeft == 0 && g.outHeight == g.inHeight && g.outWidth == g.inWidth;
}

int64_t chunkRows(const Conv2DGeometry& g) {
  return std::max<int64_t>(1, std::min(outputRows(g), kChunkFloats / std::max<int64_t>(1, tapColumns(g))));
}

// Visits every (im2col row r in [begin, end), tap t, input pixel offset or -1 when the tap falls
// into the padding). The input pixel offset counts pixels, not floats.
template <typename Visit>
void forEachTap(const Conv2DGeometry& g, int64_t begin, int64_t end, Visit visit) {
  const int64_t pixelsPerImage = g.outHeight * g.outWidth;
  for (int64_t r = begin; r < end; ++r) {
    const int64_t n = r / pixelsPerImage;
    const int64_t oy = (r % pixelsPerImage) / g.outWidth;
    const int64_t ox = r % g.outWidth;
    int64_t tap = 0;
    for (int64_t fy = 0; fy < g.filterHeight; ++fy) {
      const int64_t iy = oy * g.strideHeight - g.padTop + fy * g.dilationHeight;
      for (int64_t fx = 0; fx < g.filterWidth; ++fx, ++tap) {
        const int64_t ix = ox * g.strideWidth - g.padLeft + fx * g.dilationWidth;
        const bool inside = iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth;
        visit(r, tap, inside ? (n * g.inHeight + iy) * g.inWidth + ix : int64_t(-1));
      }
    }
  }
}

void im2col(const float* x, const Conv2DGeometry& g, int64_t begin, int64_t end, float* col) {
  const int64_t c = g.inChannels, K = tapColumns(g);
  forEachTap(g, begin, end, [&](int64_t r, int64_t tap, int64_t pixel) {
    float* dst = col + (r - begin) * K + tap * c;
    if (pixel < 0) {
      std::fill(dst, dst + c, 0.0f);
    } else {
      std::memcpy(dst, x + pixel * c, sizeof(float) * c);
    }
  });
}

// The adjoint of im2col: adds each column run back onto the input pixel it came from.
void col2imAdd(const float* col, const Conv2DGeometry& g, int64_t begin, int64_t end, float* dx) {
  const int64_t c = g.inChannels, K = tapColumns(g);
  forEachTap(g, begin, end, [&](int64_t r, int64_t tap, int64_t pixel) {
    if (pixel < 0) return;
    const float* src = col + (r - begin) * K + tap * c;
    float* dst = dx + pixel * c;
    for (int64_t i = 0; i < c; ++i) dst[i] += src[i];
  });
}

std::unique_ptr<float[]> chunkBuffer(const Conv2DGeometry& g) {
  return std::unique_ptr<float[]>(new float[chunkRows(g) * tapColumns(g)]);
}

}  // namespace

// Each thread builds the im2col rows of its tile and multiplies them right away with a
// single-threaded GEMM (the quantize kernel's pattern in native/cpu/quantize.cc): the copy and
// the product share one core's cache, and no GEMM waits for BLAS threads to sync.
void conv2d(const float* x, const float* filter, float* out, const Conv2DGeometry& g,
            const Epilogue& epilogue) {
  const int64_t rows = outputRows(g), K = tapColumns(g), C = g.outChannels;
  if (isPointwise(g)) {
    sgemm(false, false, rows, C, K, x, K, filter, C, 0.0f, out, C);
    applyEpilogue(out, rows, C, epilogue);
    return;
  }
  const int64_t threads = cpu::maxThreads();
  const int64_t byCache = std::clamp(kTileFloats / std::max<int64_t>(1, K), kMinTileRows, kMaxTileRows);
  const int64_t byMemory = std::max<int64_t>(1, kChunkFloats / std::max<int64_t>(1, K));
  const int64_t byThreads = std::max<int64_t>(1, (rows + threads - 1) / threads);
  const int64_t step = std::min({byCache, byMemory, byThreads});
  const int64_t tiles = (rows + step - 1) / step;
  cpu::SerialGemmScope serialGemm;
  std::unique_ptr<float[]> col(new float[threads * step * K]);  // one tile per thread
  cpu::RegionExceptions exceptions;
#pragma omp parallel for schedule(dynamic) if (2 * rows * K * C >= kParallelFlops)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    exceptions.run([&] {
      const int64_t begin = tile * step, end = std::min(rows, begin + step);
      float* buffer = col.get() + cpu::threadIndex() * step * K;
      im2col(x, g, begin, end, buffer);
      sgemm(false, false, end - begin, C, K, buffer, K, filter, C, 0.0f, out + begin * C, C);
      applyEpilogue(out + begin * C, end - begin, C, epilogue);
    });
  }
  exceptions.rethrow();
}

void conv2dBackpropInput(const float* dy, const float* filter, float* dx, const Conv2DGeometry& g) {
  const int64_t rows = outputRows(g), K = tapColumns(g), C = g.outChannels;
  if (isPointwise(g)) {
    sgemm(false, true, rows, K, C, dy, C, filter, C, 0.0f, dx, K);
    return;
  }
  const int64_t step = chunkRows(g);
  auto col = chunkBuffer(g);  // before any write: a failed allocation leaves dx untouched
  std::fill(dx, dx + g.batch * g.inHeight * g.inWidth * g.inChannels, 0.0f);
  for (int64_t begin = 0; begin < rows; begin += step) {
    const int64_t end = std::min(rows, begin + step);
    sgemm(false, true, end - begin, K, C, dy + begin * C, C, filter, C, 0.0f, col.get(), K);
    col2imAdd(col.get(), g, begin, end, dx);
  }
}

void conv2dBackpropFilter(const float* x, const float* dy, float* dw, const Conv2DGeometry& g) {
  const int64_t rows = outputRows(g), K = tapColumns(g), C = g.outChannels;
  if (isPointwise(g)) {
    sgemm(true, false, K, C, rows, x, K, dy, C, 0.0f, dw, C);
    return;
  }
  if (rows == 0) {
    std::fill(dw, dw + K * C, 0.0f);
    return;
  }
  const int64_t step = chunkRows(g);
  auto col = chunkBuffer(g);
  for (int64_t begin = 0; begin < rows; begin += step) {
    const int64_t end = std::min(rows, begin + step);
    im2col(x, g, begin, end, col.get());
    sgemm(true, false, K, C, end - begin, col.get(), K, dy + begin * C, C,
          begin == 0 ? 0.0f : 1.0f, dw, C);
  }
}

}  // namespace dense
}  // namespace ucmg
