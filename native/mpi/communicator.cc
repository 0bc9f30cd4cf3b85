// See communicator.h.
#include "communicator.h"

#include <dlfcn.h>
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

namespace ucmg::mpi {

namespace {

[[noreturn]] void fail(const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
}

void check(const char* call, int code) {
  if (code != MPI_SUCCESS) fail(call, code);
}

void requireInitialized(const char* call) {
  if (!initialized()) throw std::runtime_error(std::string(call) + ": MPI is not initialized (call init first)");
}

// Node loads addons RTLD_LOCAL, so libmpi's symbols are hidden from the plugins Open MPI itself
// dlopens (they fail with undefined opal_* symbols). Re-opening the already loaded library with
// RTLD_GLOBAL | RTLD_NOLOAD makes its symbols global without loading a second copy.
void promoteLibmpiToGlobal() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &info) == 0 || info.dli_fname == nullptr) return;
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
    throw std::runtime_error(std::string("MPI: cannot make ") + info.dli_fname + " global: " + dlerror());
  }
}

void finalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

template <typename T>
void sumInPlace(T* data, int64_t length, MPI_Datatype type) {
  requireInitialized("allReduceSum");
  // MPI counts are int: large buffers go in chunks.
  for (int64_t start = 0; start < length; start += INT_MAX) {
    const int count = static_cast<int>(std::min<int64_t>(INT_MAX, length - start));
    check("MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, data + start, count, type, MPI_SUM, MPI_COMM_WORLD));
  }
}

}  // namespace

bool initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

void initialize() {
  if (initialized()) return;
  promoteLibmpiToGlobal();
  int provided = 0;
  // Only the JS main thread calls MPI.
  check("MPI_Init_thread", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes (and become exceptions) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::atexit(finalizeAtExit);
}

int rank() {
  requireInitialized("rank");
  int r = 0;
  check("MPI_Comm_rank", MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

int size() {
  requireInitialized("size");
  int s = 0;
  check("MPI_Comm_size", MPI_Comm_size(MPI_COMM_WORLD, &s));
  return s;
}

void allReduceSum(float* data, int64_t length) { sumInPlace(data, length, MPI_FLOAT); }
void allReduceSum(double* data, int64_t length) { sumInPlace(data, length, MPI_DOUBLE); }

void barrier() {
  requireInitialized("barrier");
  check("MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD));
}

void abortAll(int code) {
  if (initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::string libraryVersion() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "MPI";
  std::string version(text, length);
  const size_t end = version.find_first_of(",\n");
  return end == std::string::npos ? version : version.substr(0, end);
}

}  // namespace ucmg::mpi
