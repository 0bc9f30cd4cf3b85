// A small OpenMP runtime for the portable build (UCMG_PORTABLE): GCC's libgomp.a uses local-exec
// TLS and cannot be linked into a shared object, and a libgomp.so.1 dependency would not load on
// slim systems. The kernels are compiled with -fopenmp as usual; this file defines the GOMP entry
// points GCC emits for the constructs they use (parallel regions with an `if` clause, static and
// dynamic loops, named critical sections) and the omp_* queries, on a pool of pthreads started on
// first use. A GOMP symbol missing here stays undefined, which check-glibc.mjs reports.
//
// All symbols are hidden: the kernels bind to these even where another module loaded libgomp.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define RUNTIME __attribute__((visibility("hidden")))

// One dynamic loop's shared iteration counter. A region may run several loops without a barrier
// between them (nowait), so a team keeps a ring of them; loop k of a region uses slot k % 8.
enum { LOOP_SLOTS = 8 };
typedef struct {
  atomic_long next;
  long end, incr, chunk;
  atomic_long claimed;  // the last loop index that claimed this slot (-1: none)
  atomic_long ready;    // the last loop index whose bounds are set
} Loop;

typedef struct {
  void (*fn)(void*);
  void* data;
  unsigned size;
  Loop loops[LOOP_SLOTS];
} Team;

// What a thread knows about the region it runs in.
typedef struct {
  unsigned num, size;
  bool active;     // inside a region of more than one thread
  Team* team;      // null in a one-thread region
  long loopsSeen;  // dynamic loops started in this region
  Loop own;        // the loop of a one-thread region
} Member;

static _Thread_local Member self = {0, 1, false, NULL, 0, {0}};

static pthread_once_t poolOnce = PTHREAD_ONCE_INIT;
static pthread_mutex_t poolLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static unsigned poolSize = 1;  // threads, the caller included (OMP_NUM_THREADS or the CPUs)
static unsigned long generation;
static unsigned finished;
static Team team;
static atomic_flag teamBusy = ATOMIC_FLAG_INIT;

static void runAs(unsigned num, unsigned size, Team* in, void (*fn)(void*), void* data) {
  Member saved = self;
  self.num = num;
  self.size = size;
  self.active = saved.active || size > 1;
  self.team = in;
  self.loopsSeen = 0;
  fn(data);
  self = saved;
}

static void* worker(void* arg) {
  const unsigned num = (unsigned)(unsigned long)arg;
  unsigned long seen = 0;
  for (;;) {
    pthread_mutex_lock(&poolLock);
    while (generation == seen) pthread_cond_wait(&wake, &poolLock);
    seen = generation;
    const bool member = num < team.size;
    pthread_mutex_unlock(&poolLock);
    if (!member) continue;
    runAs(num, team.size, &team, team.fn, team.data);
    pthread_mutex_lock(&poolLock);
    if (++finished == team.size - 1) pthread_cond_signal(&done);
    pthread_mutex_unlock(&poolLock);
  }
  return NULL;
}

static void startPool(void) {
  const char* fromEnv = getenv("OMP_NUM_THREADS");
  long wanted = fromEnv ? strtol(fromEnv, NULL, 10) : 0;
  if (wanted <= 0) {
    cpu_set_t cpus;
    wanted = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  }
  poolSize = wanted > 256 ? 256 : (unsigned)wanted;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (unsigned num = 1; num < poolSize; ++num) {
    pthread_t thread;
    if (pthread_create(&thread, &attr, worker, (void*)(unsigned long)num) != 0) {
      poolSize = num;  // run with the threads that did start
      break;
    }
  }
  pthread_attr_destroy(&attr);
}

RUNTIME void GOMP_parallel(void (*fn)(void*), void* data, unsigned numThreads, unsigned flags) {
  (void)flags;
  pthread_once(&poolOnce, startPool);
  const unsigned size = numThreads == 0 || numThreads > poolSize ? poolSize : numThreads;
  // Nested regions, and regions entered while another thread's region holds the pool, run on
  // the calling thread alone, as OpenMP allows.
  if (size <= 1 || self.active || atomic_flag_test_and_set(&teamBusy)) {
    runAs(0, 1, NULL, fn, data);
    return;
  }
  pthread_mutex_lock(&poolLock);
  team.fn = fn;
  team.data = data;
  team.size = size;
  for (int slot = 0; slot < LOOP_SLOTS; ++slot) {
    atomic_store(&team.loops[slot].claimed, -1);
    atomic_store(&team.loops[slot].ready, -1);
  }
  finished = 0;
  ++generation;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&poolLock);

  runAs(0, size, &team, fn, data);

  pthread_mutex_lock(&poolLock);
  while (finished < size - 1) pthread_cond_wait(&done, &poolLock);
  pthread_mutex_unlock(&poolLock);
  atomic_flag_clear(&teamBusy);
}

static Loop* currentLoop(long index) {
  return self.team == NULL ? &self.own : &self.team->loops[index % LOOP_SLOTS];
}

static bool nextChunk(long* start, long* end) {
  Loop* loop = currentLoop(self.loopsSeen - 1);
  const long step = loop->chunk * loop->incr;
  const long first = atomic_fetch_add(&loop->next, step);
  const bool up = loop->incr > 0;
  if (up ? first >= loop->end : first <= loop->end) return false;
  const long last = first + step;
  *start = first;
  *end = (up ? last > loop->end : last < loop->end) ? loop->end : last;
  return true;
}

RUNTIME bool GOMP_loop_nonmonotonic_dynamic_start(long start, long end, long incr, long chunk,
                                                  long* chunkStart, long* chunkEnd) {
  const long index = self.loopsSeen++;
  Loop* loop = currentLoop(index);
  long previous = index - LOOP_SLOTS < 0 ? -1 : index - LOOP_SLOTS;
  // The first thread to reach loop `index` sets its bounds; the others wait for them.
  if (self.team == NULL || atomic_compare_exchange_strong(&loop->claimed, &previous, index)) {
    atomic_store(&loop->next, start);
    loop->end = end;
    loop->incr = incr;
    loop->chunk = chunk > 0 ? chunk : 1;
    atomic_store_explicit(&loop->ready, index, memory_order_release);
  } else {
    while (atomic_load_explicit(&loop->ready, memory_order_acquire) != index) sched_yield();
  }
  return nextChunk(chunkStart, chunkEnd);
}

RUNTIME bool GOMP_loop_nonmonotonic_dynamic_next(long* chunkStart, long* chunkEnd) {
  return nextChunk(chunkStart, chunkEnd);
}

RUNTIME void GOMP_loop_end_nowait(void) {}

// `#pragma omp critical(name)`: *lock is the name's pointer-sized, zero-initialised variable.
RUNTIME void GOMP_critical_name_start(void** lock) {
  atomic_int* flag = (atomic_int*)lock;
  int expected = 0;
  while (!atomic_compare_exchange_weak(flag, &expected, 1)) {
    expected = 0;
    sched_yield();
  }
}

RUNTIME void GOMP_critical_name_end(void** lock) { atomic_store((atomic_int*)lock, 0); }

RUNTIME int omp_get_max_threads(void) {
  pthread_once(&poolOnce, startPool);
  return (int)poolSize;
}

RUNTIME int omp_get_num_threads(void) { return (int)self.size; }
RUNTIME int omp_get_thread_num(void) { return (int)self.num; }
RUNTIME int omp_in_parallel(void) { return self.active; }
