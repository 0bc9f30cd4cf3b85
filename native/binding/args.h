// Argument checking for the binding. Every reader throws a Napi::TypeError (wrong kind of value)
// or Napi::RangeError (right kind, bad value) whose message starts with the op name and names
// the argument, so nothing reaches a kernel unchecked.
//
// Reading an argument never runs JavaScript. An Args first checks that its object holds only
// own data properties (a getter or setter anywhere on it is a TypeError, never called; a Proxy
// is refused before any of its traps can run); after that, reading an own data property runs no
// script, and inherited properties are not read at all. So no getter can detach or shrink a
// typed array between its check and the kernel that uses it. The one exception is an exotic host
// object (another vm context's global, say), whose check might run script: an entry point
// therefore constructs every Args it needs, nested ones included, before it touches any typed
// array, and reads Arrays of typed arrays through ownElements.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ucmg::binding {

// The fields of one op's argument object.
class Args {
 public:
  // TypeError unless `value` is a plain object: not an array, typed array, function or Proxy, and
  // with no own getter or setter.
  Args(const std::string& op, const Napi::Value& value, const std::string& what = "args");

  // The own property `name` (a data property, see above), undefined when there is none.
  Napi::Value field(const char* name) const;
  // Like field(), with null read as undefined: for optional arguments.
  Napi::Value optional(const char* name) const;

  // A positive integer below 2^31 (dims, counts). Zero is a RangeError: no empty batches.
  int64_t dim(const char* name) const;
  // An integer in [lo, hi].
  int64_t integer(const char* name, int64_t lo, int64_t hi) const;
  // A finite number; open=true excludes the ends of [lo, hi].
  double number(const char* name, double lo, double hi, bool open = false) const;
  // A finite number >= lo (or > lo when strict).
  double atLeast(const char* name, double lo, bool strict) const;
  bool flag(const char* name) const;
  // A Float32Array of exactly `length` finite elements (`lengthText` says how length is formed).
  Napi::Float32Array floats(const char* name, int64_t length, const std::string& lengthText) const;
  Napi::Int32Array ints(const char* name, int64_t length, const std::string& lengthText) const;
  // An Array of 2 or 3 Float32Arrays (one per modality), each like floats(). Its elements are
  // own data properties too.
  std::vector<Napi::Float32Array> floatList(const char* name, int64_t length,
                                            const std::string& lengthText) const;
  std::vector<Napi::Int32Array> intList(const char* name, int64_t length,
                                        const std::string& lengthText) const;
  Args object(const char* name) const;

  [[noreturn]] void typeError(const std::string& message) const;
  [[noreturn]] void rangeError(const std::string& message) const;

  const std::string& op() const { return op_; }
  Napi::Env env() const { return object_.Env(); }

 private:
  std::string path(const char* name) const;

  std::string op_;
  std::string prefix_;        // "" or "options." for nested objects
  Napi::Object object_;  // checked: only own data properties, no Proxy
};

// Prepares the data-property check from the built-ins as they are when the addon loads (Object,
// util.types.isProxy), so that later changes to the globals cannot reach the binding. Called
// once from the addon's init; it holds the env's instance data.
void captureIntrinsics(Napi::Env env);

// The elements of a JS Array, checked like an Args object (holes read as undefined, never from
// the prototype); `name` names the array in messages. Runs no JavaScript (a Proxy is no Array).
std::vector<Napi::Value> ownElements(const std::string& op, const Napi::Array& array,
                                     const std::string& name);
inline std::vector<Napi::Value> ownElements(const Args& args, const Napi::Array& array,
                                            const std::string& name) {
  return ownElements(args.op(), array, name);
}

// An integer in [lo, hi] given as a plain argument (not an object field).
int64_t integerValue(const std::string& op, const Napi::Value& value, const std::string& name,
                     int64_t lo, int64_t hi);

// Throws RangeError naming `name` unless every element of `data` is finite.
void requireFinite(const Args& args, const std::string& name, const float* data, int64_t length);

// A short description of a JS value for messages: "a Float64Array", "an Array", "undefined".
std::string describe(const Napi::Value& value);

// Registers `handler` as exports[name]. Argument errors are Napi errors already; C++ exceptions
// from the kernels (allocation, BLAS limits) become JS Errors prefixed with the function's name
// instead of terminating the process.
void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    Napi::Value (*handler)(const Napi::CallbackInfo&));

}  // namespace ucmg::binding
