// Binds the glibc symbols that a build on a newer glibc would take at a version above 2.28 to
// versions that glibc 2.28 has, so the prebuilt .node loads on any glibc >= 2.28 (UCMG_PORTABLE).
//
// CMake links with -Wl,--wrap=<symbol> for every symbol below: every reference to it, also from
// the static libstdc++, libgcc and OpenBLAS archives, goes to __wrap_<symbol> here. Each wrapper
// calls the old version through a .symver alias, or replaces a function glibc 2.28 lacks.
// scripts/release/check-glibc.mjs checks the result; add a symbol here when that check names it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/random.h>

#define WRAPPER __attribute__((visibility("hidden")))

// pthread and libdl moved into libc.so.6 in glibc 2.34 under new versions; the old versions are
// still exported (from libpthread.so.0 / libdl.so.2 on older glibc, which CMake adds as NEEDED).
#define FORWARD(ret, name, version, params, args)                 \
  ret old_##name params;                                          \
  __asm__(".symver old_" #name "," #name "@" version);            \
  WRAPPER ret __wrap_##name params { return old_##name args; }

FORWARD(int, pthread_create, "GLIBC_2.2.5",
        (pthread_t * thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg),
        (thread, attr, start, arg))
FORWARD(int, pthread_join, "GLIBC_2.2.5", (pthread_t thread, void** result), (thread, result))
FORWARD(int, pthread_detach, "GLIBC_2.2.5", (pthread_t thread), (thread))
FORWARD(int, pthread_once, "GLIBC_2.2.5", (pthread_once_t * once, void (*init)(void)), (once, init))
FORWARD(int, __pthread_key_create, "GLIBC_2.2.5", (pthread_key_t * key, void (*destructor)(void*)),
        (key, destructor))
FORWARD(int, pthread_getaffinity_np, "GLIBC_2.3.4", (pthread_t thread, size_t size, cpu_set_t* set),
        (thread, size, set))
FORWARD(int, pthread_setaffinity_np, "GLIBC_2.3.4",
        (pthread_t thread, size_t size, const cpu_set_t* set), (thread, size, set))
FORWARD(void*, dlopen, "GLIBC_2.2.5", (const char* file, int mode), (file, mode))
FORWARD(void*, dlsym, "GLIBC_2.2.5", (void* handle, const char* name), (handle, name))
FORWARD(int, dlclose, "GLIBC_2.2.5", (void* handle), (handle))
FORWARD(char*, dlerror, "GLIBC_2.2.5", (void), ())
// glibc 2.29 gave exp and log new versions that skip the errno wrapper; the values are the same.
FORWARD(double, exp, "GLIBC_2.2.5", (double x), (x))
FORWARD(double, log, "GLIBC_2.2.5", (double x), (x))

// libstdc++ skips atomics while this is non-zero; 0 ("maybe several threads") is always safe.
WRAPPER char __wrap___libc_single_threaded = 0;

// std::random_device's default source (glibc 2.36); getrandom exists since 2.25.
WRAPPER uint32_t __wrap_arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != (ssize_t)sizeof value) {
  }
  return value;
}

// The unwinder's fast lookup of the .eh_frame_hdr that covers pc (glibc 2.35), done the way
// libgcc did before: walk the loaded objects with dl_iterate_phdr.
struct find_request {
  uintptr_t pc;
  struct dl_find_object* result;
};

static int find_object(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  struct find_request* request = data;
  uintptr_t start = UINTPTR_MAX, end = 0;
  void* eh_frame_hdr = NULL;
  int contains = 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* segment = &info->dlpi_phdr[i];
    uintptr_t low = info->dlpi_addr + segment->p_vaddr;
    if (segment->p_type == PT_LOAD) {
      if (low < start) start = low;
      if (low + segment->p_memsz > end) end = low + segment->p_memsz;
      if (request->pc >= low && request->pc < low + segment->p_memsz) contains = 1;
    } else if (segment->p_type == PT_GNU_EH_FRAME) {
      eh_frame_hdr = (void*)low;
    }
  }
  if (!contains) return 0;
  request->result->dlfo_flags = 0;
  request->result->dlfo_map_start = (void*)start;
  request->result->dlfo_map_end = (void*)end;
  request->result->dlfo_link_map = NULL;
  request->result->dlfo_eh_frame = eh_frame_hdr;
  return 1;
}

WRAPPER int __wrap__dl_find_object(void* pc, struct dl_find_object* result) {
  struct find_request request = {(uintptr_t)pc, result};
  return dl_iterate_phdr(find_object, &request) ? 0 : -1;
}
