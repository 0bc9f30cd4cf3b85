// N-API side of native/mpi: argument checks, then the plain C++ in communicator.cc.
#include "mpi_binding.h"

#include <cstring>
#include <string>
#include <vector>

#include "../binding/args.h"
#include "communicator.h"

namespace ucmg::binding {

namespace {

Napi::Value init(const Napi::CallbackInfo& info) {
  mpi::initialize();
  return info.Env().Undefined();
}

Napi::Value rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mpi::rank()); }

Napi::Value size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mpi::size()); }

Napi::Value barrier(const Napi::CallbackInfo& info) {
  mpi::barrier();
  return info.Env().Undefined();
}

Napi::Value abortAll(const Napi::CallbackInfo& info) {
  mpi::abortAll(static_cast<int>(integerValue("mpi.abort", info[0], "code", 1, 255)));
}

Napi::Value libraryVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), mpi::libraryVersion());
}

// Sums buffers of one element type in a single MPI_Allreduce (one message instead of one per
// buffer): copied into a contiguous block, reduced, copied back.
template <typename T>
void sumPacked(const std::vector<std::pair<T*, size_t>>& buffers) {
  if (buffers.empty()) return;
  if (buffers.size() == 1) {
    mpi::allReduceSum(buffers[0].first, static_cast<int64_t>(buffers[0].second));
    return;
  }
  size_t total = 0;
  for (const auto& b : buffers) total += b.second;
  std::vector<T> packed(total);
  size_t offset = 0;
  for (const auto& b : buffers) {
    std::memcpy(packed.data() + offset, b.first, b.second * sizeof(T));
    offset += b.second;
  }
  mpi::allReduceSum(packed.data(), static_cast<int64_t>(total));
  offset = 0;
  for (const auto& b : buffers) {
    std::memcpy(b.first, packed.data() + offset, b.second * sizeof(T));
    offset += b.second;
  }
}

// allReduceSum(buffers: (Float32Array | Float64Array)[]): every buffer summed over all ranks in
// place. Every rank must pass the same list of types and lengths.
Napi::Value allReduceSum(const Napi::CallbackInfo& info) {
  const char* op = "mpi.allReduceSum";
  if (!info[0].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": buffers must be an Array of Float32Array or "
                               "Float64Array, got " + describe(info[0]));
  }
  // Every element is read (getter-free) before any pointer is taken: a getter on a later element
  // could otherwise detach a buffer already pointed into.
  const std::vector<Napi::Value> items = ownElements(op, info[0].As<Napi::Array>(), "buffers");
  std::vector<std::pair<float*, size_t>> floats;
  std::vector<std::pair<double*, size_t>> doubles;
  for (size_t i = 0; i < items.size(); ++i) {
    const Napi::Value& item = items[i];
    const std::string name = "buffers[" + std::to_string(i) + "]";
    if (!item.IsTypedArray()) {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + name + " must be a Float32Array or "
                                 "Float64Array, got " + describe(item));
    }
    Napi::TypedArray array = item.As<Napi::TypedArray>();
    if (array.TypedArrayType() == napi_float32_array) {
      floats.emplace_back(array.As<Napi::Float32Array>().Data(), array.ElementLength());
    } else if (array.TypedArrayType() == napi_float64_array) {
      doubles.emplace_back(array.As<Napi::Float64Array>().Data(), array.ElementLength());
    } else {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + name + " must be a Float32Array or "
                                 "Float64Array, got " + describe(item));
    }
  }
  sumPacked(floats);
  sumPacked(doubles);
  return info.Env().Undefined();
}

}  // namespace

void registerMpiBinding(Napi::Env env, Napi::Object exports) {
  Napi::Object mpiExports = Napi::Object::New(env);
  exportFunction(env, mpiExports, "init", init);
  exportFunction(env, mpiExports, "rank", rank);
  exportFunction(env, mpiExports, "size", size);
  exportFunction(env, mpiExports, "allReduceSum", allReduceSum);
  exportFunction(env, mpiExports, "barrier", barrier);
  exportFunction(env, mpiExports, "abort", abortAll);
  exportFunction(env, mpiExports, "libraryVersion", libraryVersion);
  exports.Set("mpi", mpiExports);
}

}  // namespace ucmg::binding
