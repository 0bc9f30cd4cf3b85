// Binds the glibc symbols that a build on a newer glibc would take at a version above 2.28 to
// versions that glibc 2.28 has, so the prebuilt .node loads on any glibc >= 2.28 (UCMG_PORTABLE).
//
// CMake links with -Wl,--wrap=<symbol> for every FORWARD(symbol) and WRAP(symbol) below: every
// reference to it, also from the static libstdc++, libgcc, OpenBLAS and cudart archives, goes to
// __wrap_<symbol> here. Each wrapper
// calls the old version through a .symver alias, or replaces a function glibc 2.28 lacks.
// scripts/release/check-glibc.mjs checks the result; add a symbol here when that check names it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>

#define WRAPPER __attribute__((visibility("hidden")))
#define WRAP(name) __wrap_##name

// pthread, libdl and librt moved into libc.so.6 in glibc 2.34 (libm's exp and log got new
// versions in 2.29) under new versions; the old ones are still exported (before 2.34 from
// libpthread.so.0, libdl.so.2 and librt.so.1, which CMake adds as NEEDED). __wrap_<name> jumps
// to the old version with every argument register untouched (x86-64, the only portable target).
#define FORWARD(name, version)                                                        \
  __asm__(".symver old_" #name "," #name "@" version "\n"                             \
          ".globl __wrap_" #name "\n.hidden __wrap_" #name "\n"                       \
          ".type __wrap_" #name ",@function\n__wrap_" #name ":\n"                     \
          "  jmp old_" #name "@PLT\n");

FORWARD(pthread_create, "GLIBC_2.2.5")
FORWARD(pthread_join, "GLIBC_2.2.5")
FORWARD(pthread_detach, "GLIBC_2.2.5")
FORWARD(pthread_once, "GLIBC_2.2.5")
FORWARD(pthread_kill, "GLIBC_2.2.5")
FORWARD(pthread_getaffinity_np, "GLIBC_2.3.4")
FORWARD(pthread_setaffinity_np, "GLIBC_2.3.4")
FORWARD(__pthread_key_create, "GLIBC_2.2.5")
FORWARD(pthread_key_create, "GLIBC_2.2.5")
FORWARD(pthread_key_delete, "GLIBC_2.2.5")
FORWARD(pthread_getspecific, "GLIBC_2.2.5")
FORWARD(pthread_setspecific, "GLIBC_2.2.5")
FORWARD(pthread_mutex_trylock, "GLIBC_2.2.5")
FORWARD(pthread_mutexattr_init, "GLIBC_2.2.5")
FORWARD(pthread_mutexattr_destroy, "GLIBC_2.2.5")
FORWARD(pthread_mutexattr_settype, "GLIBC_2.2.5")
FORWARD(pthread_mutexattr_setpshared, "GLIBC_2.2.5")
FORWARD(pthread_condattr_setpshared, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_init, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_destroy, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_rdlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_wrlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_tryrdlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_trywrlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_timedrdlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_timedwrlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlock_unlock, "GLIBC_2.2.5")
FORWARD(pthread_rwlockattr_init, "GLIBC_2.2.5")
FORWARD(pthread_rwlockattr_destroy, "GLIBC_2.2.5")
FORWARD(pthread_rwlockattr_setpshared, "GLIBC_2.2.5")
FORWARD(pthread_spin_init, "GLIBC_2.2.5")
FORWARD(pthread_spin_destroy, "GLIBC_2.2.5")
FORWARD(pthread_spin_lock, "GLIBC_2.2.5")
FORWARD(pthread_spin_trylock, "GLIBC_2.2.5")
FORWARD(pthread_spin_unlock, "GLIBC_2.2.5")
FORWARD(sem_init, "GLIBC_2.2.5")
FORWARD(sem_destroy, "GLIBC_2.2.5")
FORWARD(sem_post, "GLIBC_2.2.5")
FORWARD(sem_wait, "GLIBC_2.2.5")
FORWARD(sem_trywait, "GLIBC_2.2.5")
FORWARD(sem_timedwait, "GLIBC_2.2.5")
FORWARD(shm_open, "GLIBC_2.2.5")
FORWARD(shm_unlink, "GLIBC_2.2.5")
FORWARD(dlopen, "GLIBC_2.2.5")
FORWARD(dlmopen, "GLIBC_2.3.4")
FORWARD(dlsym, "GLIBC_2.2.5")
FORWARD(dlvsym, "GLIBC_2.2.5")
FORWARD(dlclose, "GLIBC_2.2.5")
FORWARD(dlerror, "GLIBC_2.2.5")
// The values are the same; only the errno wrapper differs.
FORWARD(exp, "GLIBC_2.2.5")
FORWARD(log, "GLIBC_2.2.5")

// fstat64 became a function in glibc 2.33; before, the headers called __fxstat64 (version 1).
int old_fxstat64(int version, int fd, struct stat64* buf);
__asm__(".symver old_fxstat64,__fxstat64@GLIBC_2.2.5");
WRAPPER int WRAP(fstat64)(int fd, struct stat64* buf) { return old_fxstat64(1, fd, buf); }

// libstdc++ skips atomics while this is non-zero; 0 ("maybe several threads") is always safe.
WRAPPER char WRAP(__libc_single_threaded) = 0;

// std::random_device's default source (glibc 2.36); getrandom exists since 2.25.
WRAPPER uint32_t WRAP(arc4random)(void) {
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

WRAPPER int WRAP(_dl_find_object)(void* pc, struct dl_find_object* result) {
  struct find_request request = {(uintptr_t)pc, result};
  return dl_iterate_phdr(find_object, &request) ? 0 : -1;
}
