// NHWC 2-D convolutions and their two backprops as implicit GEMMs: the operands gather their
// elements straight from the images (tile_gemm.cuh's Operand interface), so no im2col matrix is
// ever built. With K = filterH*filterW*inC taps and P = batch*outH*outW output pixels:
//   forward          out [P, outC]       = im2col(x) [P, K]        x filter [K, outC]
//   backprop input   dx [pixels, inC]    = gathered dy [pixels, fh*fw*outC] x filter taps
//   backprop filter  dw [K, outC]        = im2col(x)^T [K, P]       x dy [P, outC], split over P
#include <algorithm>
#include <stdexcept>
#include <string>

#include "dense.cuh"
#include "dense_tile.cuh"

namespace ucmg::cuda::backend {

namespace {

using detail::DepthSlice;
using detail::DeviceEpilogue;
using tile::Operand;

// n / d for 0 <= n < 2^31 as a multiply-high and a shift by the divisor's magic number (computed
// on the host; round-up method, exact over that range): the operands decode every element they
// load into pixel and tap coordinates, and the device's integer division costs ~20 instructions.
struct FastDivisor {
  uint32_t divisor = 1, multiplier = 0, shift = 0;

  static FastDivisor of(int64_t d) {  // d >= 1
    FastDivisor f;
    f.divisor = (uint32_t)d;
    if (d == 1) return f;
    uint32_t log2 = 0;
    while ((uint64_t(1) << log2) < f.divisor) ++log2;  // ceil(log2 d)
    const uint32_t p = 31 + log2;
    f.multiplier = (uint32_t)(((uint64_t(1) << p) + f.divisor - 1) / f.divisor);
    f.shift = p - 32;
    return f;
  }
  __device__ int divide(int n) const {
    return divisor == 1 ? n : (int)((((uint64_t)(uint32_t)n * multiplier) >> 32) >> shift);
  }
};

// Index arithmetic runs in 32 bits: every row and depth index and every pixel index fits,
// checked by geometryOf; element offsets are formed in 64 bits.
struct Geometry {
  int batch, inH, inW, inC, outH, outW, outC, filterH, filterW;
  int strideH, strideW, dilationH, dilationW, padTop, padLeft;
  int pixels;  // batch * outH * outW
  int taps;    // filterH * filterW * inC
  // the divisors of the decoding (a zero size is never divided by: its operands are empty)
  FastDivisor byOutPixels, byOutW, byInPixels, byInW, byInC, byOutC, byFilterW, byStrideH, byStrideW;
};

Geometry geometryOf(const dense::Conv2DGeometry& g) {
  const int64_t limit = 0x7fffffff;
  const int64_t values[] = {g.batch * g.outHeight * g.outWidth, g.batch * g.inHeight * g.inWidth,
                            g.filterHeight * g.filterWidth * g.inChannels,
                            g.filterHeight * g.filterWidth * g.outChannels,
                            // the furthest input coordinate a tap reaches, either side
                            g.outHeight * g.strideHeight + g.filterHeight * g.dilationHeight +
                                g.padTop + g.inHeight,
                            g.outWidth * g.strideWidth + g.filterWidth * g.dilationWidth +
                                g.padLeft + g.inWidth};
  for (int64_t v : values)
    if (v < 0 || v > limit)
      throw std::length_error("conv2d: geometry exceeds 32-bit indexing (" + std::to_string(v) + ")");
  const auto by = [](int64_t d) { return FastDivisor::of(std::max<int64_t>(d, 1)); };
  return {(int)g.batch, (int)g.inHeight, (int)g.inWidth, (int)g.inChannels, (int)g.outHeight,
          (int)g.outWidth, (int)g.outChannels, (int)g.filterHeight, (int)g.filterWidth,
          (int)g.strideHeight, (int)g.strideWidth, (int)g.dilationHeight, (int)g.dilationWidth,
          (int)g.padTop, (int)g.padLeft, (int)values[0], (int)values[2],
          by(g.outHeight * g.outWidth), by(g.outWidth), by(g.inHeight * g.inWidth), by(g.inWidth),
          by(g.inChannels), by(g.outChannels), by(g.filterWidth), by(g.strideHeight),
          by(g.strideWidth)};
}

// The im2col matrix of x, [pixels, taps], never stored. Transposed reads it as taps x pixels
// (the backprop filter's left operand). Consecutive taps of one filter position are consecutive
// channels of one input pixel, so the tap axis is the contiguous one.
template <bool Transposed>
struct Im2col {
  static constexpr bool kDepthContiguous = !Transposed;
  const float* x;
  Geometry g;
  int64_t rows, depth;

  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    if (r >= rows || k >= depth) return T(0);
    const int pixel = (int)(Transposed ? k : r), tap = (int)(Transposed ? r : k);
    const int n = g.byOutPixels.divide(pixel), inImage = pixel - n * g.outH * g.outW;
    const int oy = g.byOutW.divide(inImage), ox = inImage - oy * g.outW;
    const int position = g.byInC.divide(tap), c = tap - position * g.inC;
    const int fy = g.byFilterW.divide(position), fx = position - fy * g.filterW;
    const int iy = oy * g.strideH - g.padTop + fy * g.dilationH;
    const int ix = ox * g.strideW - g.padLeft + fx * g.dilationW;
    if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) return T(0);
    return static_cast<T>(x[((int64_t)(n * g.inH + iy) * g.inW + ix) * g.inC + c]);
  }
};

// dy gathered for the input pixels: row (n, iy, ix), depth (fy, fx, outC channel) holds the
// dy element of the output pixel that tap (fy, fx) of the filter maps onto (n, iy, ix), or 0
// when no output pixel does (off the output, or between strides).
struct GatheredDy {
  static constexpr bool kDepthContiguous = true;
  const float* dy;
  Geometry g;
  int64_t rows, depth;

  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    if (r >= rows || k >= depth) return T(0);
    const int pixel = (int)r, tapChannel = (int)k;
    const int n = g.byInPixels.divide(pixel), inImage = pixel - n * g.inH * g.inW;
    const int iy = g.byInW.divide(inImage), ix = inImage - iy * g.inW;
    const int position = g.byOutC.divide(tapChannel), co = tapChannel - position * g.outC;
    const int fy = g.byFilterW.divide(position), fx = position - fy * g.filterW;
    const int ty = iy + g.padTop - fy * g.dilationH, tx = ix + g.padLeft - fx * g.dilationW;
    if (ty < 0 || tx < 0) return T(0);
    const int oy = g.byStrideH.divide(ty), ox = g.byStrideW.divide(tx);
    if (oy * g.strideH != ty || ox * g.strideW != tx || oy >= g.outH || ox >= g.outW) return T(0);
    return static_cast<T>(dy[((int64_t)(n * g.outH + oy) * g.outW + ox) * g.outC + co]);
  }
};

// The filter [fh, fw, inC, outC] read as inC rows x (fh, fw, outC) depth.
struct FilterByInputChannel {
  static constexpr bool kDepthContiguous = true;
  const float* filter;
  Geometry g;
  int64_t rows, depth;

  template <class T>
  __device__ T load(int64_t r, int64_t k) const {
    if (r >= rows || k >= depth) return T(0);
    const int c = (int)r, position = g.byOutC.divide((int)k), co = (int)k - position * g.outC;
    return static_cast<T>(filter[((int64_t)position * g.inC + c) * g.outC + co]);
  }
};

struct ForwardProblem {
  const float* x;
  const float* filter;
  float* out;
  Geometry g;
  int64_t rows, cols;
  DeviceEpilogue epilogue;

  __device__ Im2col<false> a(int64_t) const { return {x, g, rows, g.taps}; }
  __device__ Operand<float, false> b(int64_t) const { return {filter, cols, g.taps, cols}; }
  __device__ void store(int64_t, int64_t r, int64_t c, float v) const {
    out[r * cols + c] = epilogue(v, c);
  }
};

struct BackpropInputProblem {
  const float* dy;
  const float* filter;
  float* dx;
  Geometry g;
  int64_t rows, cols;

  __device__ int64_t depth() const { return (int64_t)g.filterH * g.filterW * g.outC; }
  __device__ GatheredDy a(int64_t) const { return {dy, g, rows, depth()}; }
  __device__ FilterByInputChannel b(int64_t) const { return {filter, g, cols, depth()}; }
  __device__ void store(int64_t, int64_t r, int64_t c, float v) const { dx[r * cols + c] = v; }
};

// Slice z reduces output pixels [z * chunk, (z + 1) * chunk) into out + z * rows * cols.
struct BackpropFilterProblem {
  const float* x;
  const float* dy;
  float* out;
  Geometry g;
  int64_t rows, cols, chunk;

  __device__ int64_t k0(int64_t z) const { return z * chunk; }
  __device__ int64_t sliceDepth(int64_t z) const {
    return max((int64_t)0, min(chunk, (int64_t)g.pixels - k0(z)));
  }
  __device__ DepthSlice<Im2col<true>> a(int64_t z) const {
    return {{x, g, rows, g.pixels}, k0(z), sliceDepth(z)};
  }
  __device__ DepthSlice<Operand<float, false>> b(int64_t z) const {
    return {{dy, cols, g.pixels, cols}, k0(z), sliceDepth(z)};
  }
  __device__ void store(int64_t z, int64_t r, int64_t c, float v) const {
    out[(z * rows + r) * cols + c] = v;
  }
};

// Splits of the backprop filter's reduction: enough blocks for two per multiprocessor, each
// split at least kMinSplitPixels deep, at most kMaxSplits.
constexpr int64_t kMinSplitPixels = 512;
constexpr int64_t kMaxSplits = 64;

int64_t filterSplits(const dense::Conv2DGeometry& g) {
  const int64_t pixels = g.batch * g.outHeight * g.outWidth;
  const int64_t taps = g.filterHeight * g.filterWidth * g.inChannels;
  const int64_t e = detail::SmallTile::kEdge;
  const int64_t tiles = std::max<int64_t>(1, ((taps + e - 1) / e) * ((g.outChannels + e - 1) / e));
  const int64_t wanted = (2 * multiprocessorCount() + tiles - 1) / tiles;
  return std::clamp<int64_t>(std::min(wanted, pixels / kMinSplitPixels), 1, kMaxSplits);
}

// dw[i] = sum over s of partial[s][i], in order of s.
__global__ void sumSplits(const float* partial, int64_t splits, int64_t count, float* dw) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
       i += (int64_t)gridDim.x * blockDim.x) {
    float sum = 0.0f;
    for (int64_t s = 0; s < splits; ++s) sum += partial[s * count + i];
    dw[i] = sum;
  }
}

}  // namespace

void conv2d(const float* x, const float* filter, float* out, const dense::Conv2DGeometry& g,
            const dense::Epilogue& epilogue, Precision precision, cudaStream_t stream) {
  const Geometry geo = geometryOf(g);
  const ForwardProblem p{x, filter, out, geo, geo.pixels, geo.outC, DeviceEpilogue::from(epilogue)};
  detail::runTiles(p, 1, precision, stream);
}

void conv2dBackpropInput(const float* dy, const float* filter, float* dx,
                         const dense::Conv2DGeometry& g, Precision precision,
                         cudaStream_t stream) {
  const Geometry geo = geometryOf(g);
  const BackpropInputProblem p{dy, filter, dx, geo, (int64_t)geo.batch * geo.inH * geo.inW,
                               geo.inC};
  detail::runTiles(p, 1, precision, stream);
}

int64_t conv2dBackpropFilterWorkspace(const dense::Conv2DGeometry& g) {
  const int64_t splits = filterSplits(g);
  return splits > 1 ? splits * g.filterHeight * g.filterWidth * g.inChannels * g.outChannels : 0;
}

void conv2dBackpropFilter(const float* x, const float* dy, float* dw,
                          const dense::Conv2DGeometry& g, float* workspace, Precision precision,
                          cudaStream_t stream) {
  const Geometry geo = geometryOf(g);
  const int64_t splits = filterSplits(g);
  if (splits > 1 && workspace == nullptr)
    throw std::invalid_argument("conv2dBackpropFilter: workspace required");
  // Each split's depth is a whole number of the main loop's slices.
  const int64_t chunk = ((geo.pixels + splits - 1) / splits + tile::kDepth - 1) / tile::kDepth *
                        tile::kDepth;
  const BackpropFilterProblem p{x, dy, splits > 1 ? workspace : dw, geo, geo.taps, geo.outC, chunk};
  detail::runTiles(p, splits, precision, stream);
  const int64_t count = (int64_t)geo.taps * geo.outC;
  if (splits > 1 && count > 0) {
    sumSplits<<<blocksFor(count, 256, 4096), 256, 0, stream>>>(workspace, splits, count, dw);
    UCMG_CHECK_LAUNCH("sumSplits");
  }
}

}  // namespace ucmg::cuda::backend
