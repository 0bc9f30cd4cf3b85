#include <cuda_runtime.h>

#include <string>

#include "ucmg/ops.h"

namespace ucmg::cuda {

namespace {

// Never launched: asking for its attributes tells whether this build has code the device runs.
__global__ void probeKernel() {}

// 12040 -> "12.4"
std::string versionText(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string errorText(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

void describeDevice(DeviceInfo& info) {
  cudaError_t err = cudaGetDeviceCount(&info.deviceCount);
  if (err != cudaSuccess) {
    cudaGetLastError();
    info.deviceCount = 0;
    if (info.driverVersion == 0)
      info.reason = "no CUDA driver";
    else if (err == cudaErrorInsufficientDriver)
      info.reason = "CUDA driver too old: driver supports CUDA " + versionText(info.driverVersion) +
                    ", this build needs " + versionText(info.runtimeVersion);
    else if (err == cudaErrorNoDevice)
      info.reason = "no CUDA device";
    else
      info.reason = "CUDA unavailable: " + errorText(err);
    return;
  }
  if (info.deviceCount == 0) {
    info.reason = "no CUDA device";
    return;
  }
  int device = 0;
  cudaDeviceProp prop{};
  if ((err = cudaGetDevice(&device)) != cudaSuccess ||
      (err = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
    cudaGetLastError();
    info.reason = "cannot query the CUDA device: " + errorText(err);
    return;
  }
  info.name = prop.name;
  info.ccMajor = prop.major;
  info.ccMinor = prop.minor;
  info.totalMemory = prop.totalGlobalMem;
  cudaFuncAttributes attributes{};
  if ((err = cudaFuncGetAttributes(&attributes, probeKernel)) != cudaSuccess) {
    cudaGetLastError();
    info.reason = "no kernel image for compute capability " + std::to_string(prop.major) + "." +
                  std::to_string(prop.minor) + " in this build: " + errorText(err);
    return;
  }
  info.usable = true;
}

}  // namespace

DeviceInfo deviceInfo() {
  DeviceInfo info;
  try {
    // Both report 0 rather than fail when there is no driver.
    cudaDriverGetVersion(&info.driverVersion);
    cudaRuntimeGetVersion(&info.runtimeVersion);
    describeDevice(info);
  } catch (...) {  // std::string allocation: report, never throw
    info.usable = false;
    info.reason = "CUDA query failed";
  }
  return info;
}

}  // namespace ucmg::cuda
