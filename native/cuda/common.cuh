// Small kernels that several ops share, as launchers on device pointers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ucmg::cuda {

// squaredNorms[j] = ||e_j||^2 of the codebook rows [m, d] (summed in double, stored as T);
// when maxNormBits is given, it must hold 0 on entry and receives max_j ||e_j|| as the bits of
// a double (non-negative doubles order like their bit patterns, so an integer atomicMax works).
template <class T>
void launchCodebookNorms(const float* codebook, int64_t m, int64_t d, T* squaredNorms,
                         unsigned long long* maxNormBits, cudaStream_t stream);

// *out = scale * sum of values[0..count), in a fixed order (one block).
void launchScaledSum(const double* values, int64_t count, double scale, double* out,
                     cudaStream_t stream);

// data[i] = lo + (hi - lo) * u_i with u_i in [0, 1) from the reset randomness of ops.h
// (stream 2), for inputs made on the device.
void launchFillUniform(float* data, int64_t count, uint32_t seed, float lo, float hi,
                       cudaStream_t stream);

}  // namespace ucmg::cuda
