// Which backend an op call runs on, and what the binding knows about CUDA.
#pragma once

#include <napi.h>

#include <string>

namespace ucmg::binding {

enum class Device { Cpu, Cuda };

// Reads the device argument: "cpu" or "cuda" (TypeError/RangeError otherwise).
Device parseDevice(const std::string& op, const Napi::Value& value);

// Throws an Error unless `device` can run here: CUDA must be compiled in and usable.
void requireUsable(const std::string& op, Napi::Env env, Device device);

// The NativeCudaInfo object of src/native/binding.ts.
Napi::Object cudaInfoObject(Napi::Env env);

}  // namespace ucmg::binding
