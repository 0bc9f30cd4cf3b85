#include "device.h"

#include "args.h"
#include "ucmg/ops.h"

namespace ucmg::binding {

#ifdef UCMG_WITH_CUDA
namespace {
// Queried once: the set of devices does not change while the process runs.
const cuda::DeviceInfo& deviceInfo() {
  static const cuda::DeviceInfo info = cuda::deviceInfo();
  return info;
}
}  // namespace
#endif

Device parseDevice(const std::string& op, const Napi::Value& value) {
  const std::string message = op + ": device must be 'cpu' or 'cuda', got " + describe(value);
  if (!value.IsString()) throw Napi::TypeError::New(value.Env(), message);
  const std::string name = value.As<Napi::String>().Utf8Value();
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  throw Napi::RangeError::New(value.Env(), message);
}

void requireUsable(const std::string& op, Napi::Env env, Device device) {
  if (device == Device::Cpu) return;
#ifdef UCMG_WITH_CUDA
  if (!deviceInfo().usable)
    throw Napi::Error::New(env, op + ": CUDA is not usable here: " + deviceInfo().reason);
#else
  throw Napi::Error::New(env, op + ": CUDA was not compiled into this build");
#endif
}

Napi::Object cudaInfoObject(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
#ifdef UCMG_WITH_CUDA
  const cuda::DeviceInfo& info = deviceInfo();
  out.Set("usable", info.usable);
  if (!info.reason.empty()) out.Set("reason", info.reason);
  out.Set("deviceCount", info.deviceCount);
  if (info.usable) {
    out.Set("name", info.name);
    out.Set("computeCapability",
            std::to_string(info.ccMajor) + "." + std::to_string(info.ccMinor));
    out.Set("totalMemoryBytes", (double)info.totalMemory);
  }
  if (info.driverVersion) out.Set("driverVersion", info.driverVersion);
  if (info.runtimeVersion) out.Set("runtimeVersion", info.runtimeVersion);
#else
  out.Set("usable", false);
  out.Set("reason", "not compiled");
  out.Set("deviceCount", 0);
#endif
  return out;
}

}  // namespace ucmg::binding
