#include "args.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>

namespace ucmg::binding {

namespace {

// Checks that an argument object holds only data properties. Compiled once when the addon loads,
// from the built-ins as they are then, so that later changes to Object or util cannot reach it.
// check(object) returns null for a Proxy (without running a trap), the name of the first own
// getter or setter if there is one, and undefined otherwise. It runs no user code on ordinary
// objects: it indexes arrays rather than iterating them, and reads only descriptors made by the
// engine. (Object.getOwnPropertyDescriptors would do, but takes several times longer.)
constexpr const char* kCheckScript = R"js(
(() => {
  'use strict';
  const { getOwnPropertyDescriptor, getOwnPropertyNames, hasOwn } = Object;
  // process.getBuiltinModule came with Node 20.16. Without it a Proxy is not recognised, and its
  // traps run here: still before the binding touches any typed array.
  const isProxy = globalThis.process?.getBuiltinModule?.('node:util')?.types?.isProxy;
  return (object) => {
    if (isProxy !== undefined && isProxy(object)) return null;
    const names = getOwnPropertyNames(object);
    for (let i = 0; i < names.length; i++) {
      if (!hasOwn(getOwnPropertyDescriptor(object, names[i]), 'value')) return names[i];
    }
    return undefined;
  };
})()
)js";

struct Intrinsics {
  Napi::FunctionReference check;
};

// Throws unless `object` (an object or an Array, named `name` in messages) holds only own data
// properties; then reading its own properties runs no JavaScript.
void requirePlain(const std::string& op, const Napi::Object& object, const std::string& name) {
  Napi::Env env = object.Env();
  const Napi::Value verdict = env.GetInstanceData<Intrinsics>()->check.Call({object});
  if (verdict.IsNull())
    throw Napi::TypeError::New(env, op + ": " + name + " must be a plain object, got a Proxy");
  if (verdict.IsString()) {
    const std::string key = verdict.As<Napi::String>().Utf8Value();
    const bool index = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
    throw Napi::TypeError::New(env, op + ": " + (name == "args" ? "" : name + (index ? "" : ".")) +
                                        (index ? "[" + key + "]" : key) +
                                        " must be a data property, got a getter or setter");
  }
}

// object[key] if it is an own property, else undefined: inherited properties are never read.
Napi::Value ownValue(const Napi::Object& object, const std::string& key) {
  return object.HasOwnProperty(key) ? object.Get(key) : Napi::Value(object.Env().Undefined());
}

constexpr int64_t kMaxDim = 2147483647;  // GEMM dimensions and code indices are 32-bit

const char* typedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

// "a Float32Array", "an Int32Array".
std::string withArticle(const std::string& noun) {
  return (std::string("AEIOUaeiou").find(noun[0]) != std::string::npos ? "an " : "a ") + noun;
}

template <typename Array>
Array typedArray(const Args& args, const Napi::Value& value, const std::string& name,
                 napi_typedarray_type type, int64_t length, const std::string& lengthText) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type)
    args.typeError(name + " must be " + withArticle(typedArrayName(type)) + ", got " +
                   describe(value));
  Array array = value.As<Array>();
  if ((int64_t)array.ElementLength() != length)
    args.rangeError(name + " must have " + lengthText + " = " + std::to_string(length) +
                    " elements, got " + std::to_string(array.ElementLength()));
  return array;
}

template <typename Array>
std::vector<Array> typedArrayList(const Args& args, const Napi::Value& value,
                                  const std::string& name, napi_typedarray_type type,
                                  int64_t length, const std::string& lengthText) {
  const std::string expected =
      name + " must be an Array of 2 or 3 " + typedArrayName(type) + "s (one per modality)";
  if (!value.IsArray()) args.typeError(expected + ", got " + describe(value));
  Napi::Array list = value.As<Napi::Array>();
  if (list.Length() < 2 || list.Length() > 3)
    args.rangeError(expected + ", got " + std::to_string(list.Length()));
  const std::vector<Napi::Value> elements = ownElements(args, list, name);
  std::vector<Array> out;
  for (size_t i = 0; i < elements.size(); ++i)
    out.push_back(typedArray<Array>(args, elements[i], name + "[" + std::to_string(i) + "]", type,
                                    length, lengthText));
  return out;
}

// The shortest %g text that reads back as x.
std::string formatNumber(double x) {
  char text[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (std::strtod(text, nullptr) == x) break;
  }
  return text;
}

}  // namespace

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsTypedArray())
    return withArticle(typedArrayName(value.As<Napi::TypedArray>().TypedArrayType()));
  if (value.IsArray()) return "an Array";
  if (value.IsString()) return "the string '" + value.As<Napi::String>().Utf8Value() + "'";
  if (value.IsNumber()) {
    const double x = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
    return formatNumber(x);
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsFunction()) return "a function";
  if (value.IsObject()) return "an object";
  return "a value of another type";
}

Args::Args(const std::string& op, const Napi::Value& value, const std::string& what)
    : op_(op), prefix_(what == "args" ? "" : what + ".") {
  Napi::Env env = value.Env();
  if (value.Type() != napi_object || value.IsArray() || value.IsTypedArray())
    throw Napi::TypeError::New(env, op + ": " + what + " must be an object, got " + describe(value));
  object_ = value.As<Napi::Object>();
  requirePlain(op, object_, what);
}

void captureIntrinsics(Napi::Env env) {
  auto* builtins = new Intrinsics();
  builtins->check = Napi::Persistent(env.RunScript(kCheckScript).As<Napi::Function>());
  env.SetInstanceData(builtins);
}

std::vector<Napi::Value> ownElements(const std::string& op, const Napi::Array& array,
                                     const std::string& name) {
  requirePlain(op, array, name);  // an Array is never a Proxy
  std::vector<Napi::Value> out;
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(ownValue(array, std::to_string(i)));
  return out;
}

void Args::typeError(const std::string& message) const {
  throw Napi::TypeError::New(env(), op_ + ": " + message);
}

void Args::rangeError(const std::string& message) const {
  throw Napi::RangeError::New(env(), op_ + ": " + message);
}

std::string Args::path(const char* name) const { return prefix_ + name; }

Napi::Value Args::field(const char* name) const {
  return ownValue(object_, name);
}

Napi::Value Args::optional(const char* name) const {
  const Napi::Value v = field(name);
  return v.IsNull() ? Napi::Value(env().Undefined()) : v;
}

int64_t integerValue(const std::string& op, const Napi::Value& value, const std::string& name,
                     int64_t lo, int64_t hi) {
  const std::string message = op + ": " + name + " must be an integer in [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "], got " + describe(value);
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), message);
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= (double)lo && x <= (double)hi) || std::floor(x) != x)
    throw Napi::RangeError::New(value.Env(), message);
  return (int64_t)x;
}

int64_t Args::integer(const char* name, int64_t lo, int64_t hi) const {
  return integerValue(op_, field(name), path(name), lo, hi);
}

int64_t Args::dim(const char* name) const {
  const Napi::Value v = field(name);
  if (!v.IsNumber()) typeError(path(name) + " must be a positive integer, got " + describe(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= 1 && x <= (double)kMaxDim) || std::floor(x) != x)
    rangeError(path(name) + " must be a positive integer below 2^31, got " + describe(v));
  return (int64_t)x;
}

double Args::number(const char* name, double lo, double hi, bool open) const {
  const Napi::Value v = field(name);
  const std::string range = (open ? "(" : "[") + formatNumber(lo) + ", " + formatNumber(hi) +
                            (open ? ")" : "]");
  if (!v.IsNumber())
    typeError(path(name) + " must be a number in " + range + ", got " + describe(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  const bool inside = open ? (x > lo && x < hi) : (x >= lo && x <= hi);
  if (!std::isfinite(x) || !inside)
    rangeError(path(name) + " must be a finite number in " + range + ", got " + describe(v));
  return x;
}

double Args::atLeast(const char* name, double lo, bool strict) const {
  const Napi::Value v = field(name);
  const std::string range = (strict ? "> " : ">= ") + formatNumber(lo);
  if (!v.IsNumber()) typeError(path(name) + " must be a number " + range + ", got " + describe(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || (strict ? !(x > lo) : !(x >= lo)))
    rangeError(path(name) + " must be a finite number " + range + ", got " + describe(v));
  return x;
}

bool Args::flag(const char* name) const {
  const Napi::Value v = field(name);
  if (!v.IsBoolean()) typeError(path(name) + " must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

Napi::Float32Array Args::floats(const char* name, int64_t length,
                                const std::string& lengthText) const {
  Napi::Float32Array a =
      typedArray<Napi::Float32Array>(*this, field(name), path(name), napi_float32_array, length,
                                     lengthText);
  requireFinite(*this, path(name), a.Data(), length);
  return a;
}

Napi::Int32Array Args::ints(const char* name, int64_t length, const std::string& lengthText) const {
  return typedArray<Napi::Int32Array>(*this, field(name), path(name), napi_int32_array, length,
                                      lengthText);
}

std::vector<Napi::Float32Array> Args::floatList(const char* name, int64_t length,
                                                const std::string& lengthText) const {
  auto list = typedArrayList<Napi::Float32Array>(*this, field(name), path(name),
                                                 napi_float32_array, length, lengthText);
  for (size_t i = 0; i < list.size(); ++i)
    requireFinite(*this, path(name) + "[" + std::to_string(i) + "]", list[i].Data(), length);
  return list;
}

std::vector<Napi::Int32Array> Args::intList(const char* name, int64_t length,
                                            const std::string& lengthText) const {
  return typedArrayList<Napi::Int32Array>(*this, field(name), path(name), napi_int32_array, length,
                                          lengthText);
}

Args Args::object(const char* name) const { return Args(op_, field(name), path(name)); }

void requireFinite(const Args& args, const std::string& name, const float* data, int64_t length) {
  // Inputs run to millions of values: scan blocks with a vectorised test, then find the index.
  constexpr int64_t kBlock = 1024;
  for (int64_t i0 = 0; i0 < length; i0 += kBlock) {
    const int64_t i1 = std::min(length, i0 + kBlock);
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (int64_t i = i0; i < i1; ++i) bad |= !(std::fabs(data[i]) <= FLT_MAX);
    if (!bad) continue;
    for (int64_t i = i0; i < i1; ++i)
      if (!std::isfinite(data[i]))
        args.rangeError(name + " must be finite, but element " + std::to_string(i) + " is " +
                        (std::isnan(data[i]) ? "NaN" : data[i] > 0 ? "Infinity" : "-Infinity"));
  }
}

void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    Napi::Value (*handler)(const Napi::CallbackInfo&)) {
  auto guarded = [name, handler](const Napi::CallbackInfo& info) -> Napi::Value {
    try {
      return handler(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), std::string(name) + ": out of memory");
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what());
    }
  };
  exports.Set(name, Napi::Function::New(env, guarded, name));
}

}  // namespace ucmg::binding
