// The N-API surface of build/Release/unicode_cmg.node: exactly NativeBinding of
// src/native/binding.ts. Every argument is checked (args.h) before any kernel runs; kernels
// write straight into freshly allocated JS typed arrays, so a failed call changes nothing.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "cuda_backend.h"
#include "cuda_dense_binding.h"
#include "dense_binding.h"
#include "device.h"
#include "mm_ema_options.h"
#include "ucmg/ops.h"

#ifdef UCMG_WITH_MPI
#include "../mpi/mpi_binding.h"
#endif

namespace ucmg::binding {

namespace {

#ifdef UCMG_WITH_CUDA
#define UCMG_ON_DEVICE(device, fn, ...) \
  ((device) == Device::Cuda ? cuda::fn(__VA_ARGS__) : cpu::fn(__VA_ARGS__))
#else
#define UCMG_ON_DEVICE(device, fn, ...) cpu::fn(__VA_ARGS__)
#endif

template <typename T>
std::vector<const T*> constPointers(const std::vector<Napi::TypedArrayOf<T>>& arrays) {
  std::vector<const T*> out;
  for (const Napi::TypedArrayOf<T>& a : arrays) out.push_back(a.Data());
  return out;
}

// k fresh Float32Arrays of `length` elements (k = 0 gives none).
std::vector<Napi::Float32Array> newFloatArrays(Napi::Env env, size_t k, int64_t length) {
  std::vector<Napi::Float32Array> out;
  for (size_t i = 0; i < k; ++i) out.push_back(Napi::Float32Array::New(env, length));
  return out;
}

std::vector<float*> mutablePointers(std::vector<Napi::Float32Array>& arrays) {
  std::vector<float*> out;
  for (Napi::Float32Array& a : arrays) out.push_back(a.Data());
  return out;
}

Napi::Array toJsArray(Napi::Env env, const std::vector<Napi::Float32Array>& arrays) {
  Napi::Array out = Napi::Array::New(env, arrays.size());
  for (uint32_t i = 0; i < arrays.size(); ++i) out.Set(i, arrays[i]);
  return out;
}

template <typename Array>
Array copyOf(Napi::Env env, const Array& source) {
  Array copy = Array::New(env, source.ElementLength());
  std::memcpy(copy.Data(), source.Data(), source.ByteLength());
  return copy;
}

template <typename T>
Napi::TypedArrayOf<T> fromVector(Napi::Env env, const std::vector<T>& values) {
  Napi::TypedArrayOf<T> out = Napi::TypedArrayOf<T>::New(env, values.size());
  if (!values.empty()) std::memcpy(out.Data(), values.data(), out.ByteLength());
  return out;
}

// ---- ops --------------------------------------------------------------------------------------

Napi::Value quantize(const Napi::CallbackInfo& info) {
  const std::string op = "quantize";
  Napi::Env env = info.Env();
  const Device device = parseDevice(op, info[0]);
  const Args args(op, info[1]);
  const int64_t n = args.dim("n"), m = args.dim("m"), d = args.dim("d");
  const bool gather = args.flag("gather");
  const Napi::Float32Array z = args.floats("z", n * d, "n*d");
  const Napi::Float32Array codebook = args.floats("codebook", m * d, "m*d");
  requireUsable(op, env, device);

  Napi::Int32Array indices = Napi::Int32Array::New(env, n);
  Napi::Float32Array distances = Napi::Float32Array::New(env, n);
  Napi::Float32Array gathered = gather ? Napi::Float32Array::New(env, n * d) : Napi::Float32Array();
  UCMG_ON_DEVICE(device, quantize, z.Data(), codebook.Data(), n, m, d, indices.Data(),
                 distances.Data(), gather ? gathered.Data() : nullptr);

  Napi::Object out = Napi::Object::New(env);
  out.Set("indices", indices);
  out.Set("distances", distances);
  if (gather) out.Set("quantized", gathered);
  return out;
}

Napi::Value mmEmaStep(const Napi::CallbackInfo& info) {
  const std::string op = "mmEmaStep";
  Napi::Env env = info.Env();
  const Device device = parseDevice(op, info[0]);
  const Args args(op, info[1]);
  const int64_t m = args.dim("m"), d = args.dim("d"), n = args.dim("n");

  // Both nested objects before any typed array (args.h).
  const Args state = args.object("state");
  const Args options = args.object("options");
  const Napi::Float32Array embedding = state.floats("embedding", m * d, "m*d");
  const Napi::Float32Array emaCount = state.floats("emaCount", m, "m");
  for (int64_t j = 0; j < m; ++j)
    if (emaCount.Data()[j] < 0.0f)
      args.rangeError("state.emaCount must be >= 0, but element " + std::to_string(j) + " is " +
                      describe(Napi::Number::New(env, emaCount.Data()[j])));
  const Napi::Float32Array emaWeight = state.floats("emaWeight", m * d, "m*d");
  const Napi::Int32Array unusedCount = state.ints("unusedCount", m, "m");

  const std::vector<Napi::Float32Array> z = args.floatList("z", n * d, "n*d");
  const std::vector<Napi::Int32Array> indices = args.intList("indices", n, "n");
  if (indices.size() != z.size())
    args.rangeError("indices must hold one Int32Array per modality of z (" +
                    std::to_string(z.size()) + "), got " + std::to_string(indices.size()));
  for (size_t k = 0; k < indices.size(); ++k)
    for (int64_t i = 0; i < n; ++i) {
      const int32_t j = indices[k].Data()[i];
      if (j < 0 || j >= m)
        args.rangeError("indices[" + std::to_string(k) + "][" + std::to_string(i) + "] = " +
                        std::to_string(j) + " is out of range [0, m = " + std::to_string(m) + ")");
    }

  const MmEmaOptions opt = readMmEmaOptions(args, options, n);
  requireUsable(op, env, device);

  // The step runs on copies: the caller's state is never modified.
  Napi::Float32Array newEmbedding = copyOf(env, embedding);
  Napi::Float32Array newEmaCount = copyOf(env, emaCount);
  Napi::Float32Array newEmaWeight = copyOf(env, emaWeight);
  Napi::Int32Array newUnused = copyOf(env, unusedCount);
  CodebookState s{newEmbedding.Data(), newEmaCount.Data(), newEmaWeight.Data(), newUnused.Data(),
                  m, d};
  const std::vector<const float*> zs = constPointers(z);
  const std::vector<const int32_t*> idx = constPointers(indices);
  MmEmaReport report;
  UCMG_ON_DEVICE(device, mmEmaStep, s, zs.data(), idx.data(), (int)z.size(), n, opt, report);

  Napi::Object newState = Napi::Object::New(env);
  newState.Set("embedding", newEmbedding);
  newState.Set("emaCount", newEmaCount);
  newState.Set("emaWeight", newEmaWeight);
  newState.Set("unusedCount", newUnused);
  Napi::Object out = Napi::Object::New(env);
  out.Set("state", newState);
  out.Set("perplexity", fromVector(env, report.perplexity));
  out.Set("equalNum", (double)report.equalNum);
  out.Set("resetCodes", fromVector(env, report.resetCodes));
  out.Set("resetSources", fromVector(env, report.resetSources));
  return out;
}

Napi::Value codeMatching(const Napi::CallbackInfo& info) {
  const std::string op = "codeMatching";
  Napi::Env env = info.Env();
  const Device device = parseDevice(op, info[0]);
  const Args args(op, info[1]);
  const int64_t b = args.dim("b"), t = args.dim("t"), d = args.dim("d"), m = args.dim("m");
  const std::vector<Napi::Float32Array> z = args.floatList("z", b * t * d, "b*t*d");
  const Napi::Float32Array codebook = args.floats("codebook", m * d, "m*d");
  const float epsilon = (float)args.atLeast("epsilon", 0.0, false);
  const bool wantGrad = args.flag("wantGrad");
  requireUsable(op, env, device);

  std::vector<Napi::Float32Array> grads = newFloatArrays(env, wantGrad ? z.size() : 0, b * t * d);
  const std::vector<const float*> zs = constPointers(z);
  const std::vector<float*> gs = mutablePointers(grads);
  const double loss = UCMG_ON_DEVICE(device, codeMatching, zs.data(), (int)z.size(), b, t, d,
                                     codebook.Data(), m, epsilon, wantGrad ? gs.data() : nullptr);

  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", loss);
  out.Set("grads", toJsArray(env, grads));
  return out;
}

Napi::Value infoNce(const Napi::CallbackInfo& info) {
  const std::string op = "infoNce";
  Napi::Env env = info.Env();
  const Device device = parseDevice(op, info[0]);
  const Args args(op, info[1]);
  const int64_t b = args.dim("b"), d = args.dim("d");
  const std::vector<Napi::Float32Array> targets = args.floatList("targets", b * d, "b*d");
  const std::vector<Napi::Float32Array> preds = args.floatList("preds", b * d, "b*d");
  const int64_t k = (int64_t)targets.size();
  if ((int64_t)preds.size() != k)
    args.rangeError("preds must hold as many modalities as targets (" + std::to_string(k) +
                    "), got " + std::to_string(preds.size()));
  const Napi::Float32Array weights = args.floats("weights", k * k, "k*k");
  const bool wantGrad = args.flag("wantGrad");
  requireUsable(op, env, device);

  Napi::Float32Array accuracies = Napi::Float32Array::New(env, k * k);
  std::vector<Napi::Float32Array> gradTargets = newFloatArrays(env, wantGrad ? k : 0, b * d);
  std::vector<Napi::Float32Array> gradPreds = newFloatArrays(env, wantGrad ? k : 0, b * d);
  const std::vector<const float*> ts = constPointers(targets), ps = constPointers(preds);
  const std::vector<float*> gts = mutablePointers(gradTargets), gps = mutablePointers(gradPreds);
  const double loss = UCMG_ON_DEVICE(device, infoNce, ts.data(), ps.data(), (int)k, b, d,
                                     weights.Data(), accuracies.Data(),
                                     wantGrad ? gts.data() : nullptr,
                                     wantGrad ? gps.data() : nullptr);

  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", loss);
  out.Set("accuracies", accuracies);
  out.Set("gradTargets", toJsArray(env, gradTargets));
  out.Set("gradPreds", toJsArray(env, gradPreds));
  return out;
}

Napi::Value cudaTime(const Napi::CallbackInfo& info) {
  const std::string op = "cudaTime";
  Napi::Env env = info.Env();
  const std::string ops = "'quantize', 'avtStep' or 'infoNce'";
  if (!info[0].IsString())
    throw Napi::TypeError::New(env, op + ": op must be " + ops + ", got " + describe(info[0]));
  const std::string which = info[0].As<Napi::String>().Utf8Value();
  const Args params(op, info[1], "params");
  [[maybe_unused]] int64_t p[4] = {0, 0, 0, 0};
  if (which == "quantize") {
    p[0] = params.dim("n"), p[1] = params.dim("m"), p[2] = params.dim("d");
  } else if (which == "avtStep") {
    p[0] = params.dim("b"), p[1] = params.dim("t"), p[2] = params.dim("d"), p[3] = params.dim("m");
  } else if (which == "infoNce") {
    p[0] = params.dim("b"), p[1] = params.dim("d"), p[2] = params.integer("k", 2, 3);
  } else {
    throw Napi::RangeError::New(env, op + ": op must be " + ops + ", got " + describe(info[0]));
  }
  [[maybe_unused]] const int iters = (int)integerValue(op, info[2], "iters", 1, 100000);
  requireUsable(op, env, Device::Cuda);
#ifdef UCMG_WITH_CUDA
  const std::vector<double> ms =
      cuda::timeOp(which, p[0], p[1], p[2], p[3], iters);
  Napi::Array out = Napi::Array::New(env, ms.size());
  for (uint32_t i = 0; i < ms.size(); ++i) out.Set(i, ms[i]);
  return out;
#else
  return env.Undefined();  // unreachable: requireUsable threw
#endif
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BuildInfo build = ucmg::buildInfo();
  Napi::Array archs = Napi::Array::New(env);
  for (size_t start = 0; start < build.cudaArchitectures.size();) {
    size_t end = build.cudaArchitectures.find(';', start);
    if (end == std::string::npos) end = build.cudaArchitectures.size();
    archs.Set(archs.Length(), build.cudaArchitectures.substr(start, end - start));
    start = end + 1;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("cuda", build.cuda);
  out.Set("cudaArchitectures", archs);
  out.Set("blas", build.blas.empty() ? env.Null() : Napi::String::New(env, build.blas));
  out.Set("openmp", build.openmp);
#ifdef UCMG_WITH_MPI
  out.Set("mpi", true);
#else
  out.Set("mpi", false);
#endif
  return out;
}

Napi::Value cpuThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ucmg::cpuThreads());
}

Napi::Value cudaInfo(const Napi::CallbackInfo& info) { return cudaInfoObject(info.Env()); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  captureIntrinsics(env);
  exportFunction(env, exports, "buildInfo", buildInfo);
  exportFunction(env, exports, "cpuThreads", cpuThreads);
  exportFunction(env, exports, "cudaInfo", cudaInfo);
  exportFunction(env, exports, "quantize", quantize);
  exportFunction(env, exports, "mmEmaStep", mmEmaStep);
  exportFunction(env, exports, "codeMatching", codeMatching);
  exportFunction(env, exports, "infoNce", infoNce);
  exportFunction(env, exports, "cudaTime", cudaTime);
  registerDenseBinding(env, exports);
#ifdef UCMG_WITH_CUDA
  registerCudaBackendBinding(env, exports);
  registerCudaDenseBinding(env, exports);
#endif
#ifdef UCMG_WITH_MPI
  registerMpiBinding(env, exports);
#endif
  return exports;
}

}  // namespace

}  // namespace ucmg::binding

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) {
  return ucmg::binding::init(env, exports);
}

NODE_API_MODULE(unicode_cmg, initAddon)
