/*
 * The kernels' thread pool (pool.h). Helpers spin briefly after a job (the next kernel call of a
 * training step usually follows within microseconds), then sleep on a condition variable, so an
 * idle pool costs no CPU that another thread of the machine could use for long.
 */
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* `pause` instructions a helper spins through before it sleeps (200,000 measured no faster on the
 * training step: the next job nearly always comes within this) */
#define SPIN_ITERATIONS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int started = 0;           /* helper threads started so far */
static int threads = 1;           /* threads (caller included) a job may use */
static atomic_int busy;           /* 1 while a caller holds the pool */
static atomic_long generation;    /* bumped once per job */
static atomic_long next_task;
static atomic_int active_helpers; /* helpers still inside the current job */
static long job_tasks;
static mtsa_task_fn job_fn;
static void *job_ctx;
static int job_helpers;           /* helpers invited to the current job */

static void run_tasks(void) {
  for (;;) {
    long task = atomic_fetch_add_explicit(&next_task, 1, memory_order_relaxed);
    if (task >= job_tasks) return;
    job_fn(job_ctx, task);
  }
}

static long start_generation[MTSA_MAX_THREADS];

static void *helper_main(void *arg) {
  int index = (int)(intptr_t)arg; /* 1.. */
  long seen = start_generation[index]; /* the generation when it was created: no job was running */
  for (;;) {
    long current = atomic_load_explicit(&generation, memory_order_acquire);
    for (int spin = 0; current == seen && spin < SPIN_ITERATIONS; spin++) {
      CPU_RELAX();
      current = atomic_load_explicit(&generation, memory_order_acquire);
    }
    if (current == seen) {
      pthread_mutex_lock(&lock);
      while ((current = atomic_load_explicit(&generation, memory_order_acquire)) == seen) pthread_cond_wait(&wake, &lock);
      pthread_mutex_unlock(&lock);
    }
    seen = current;
    if (index <= job_helpers) {
      run_tasks();
      atomic_fetch_sub_explicit(&active_helpers, 1, memory_order_release);
    }
  }
  return NULL;
}

void mtsa_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MTSA_MAX_THREADS) n = MTSA_MAX_THREADS;
  /* hold the pool so that no job runs while helpers are added */
  int expected = 0;
  while (!atomic_compare_exchange_weak(&busy, &expected, 1)) { expected = 0; CPU_RELAX(); }
  pthread_mutex_lock(&lock);
  while (started < n - 1) {
    pthread_t thread;
    start_generation[started + 1] = atomic_load(&generation);
    if (pthread_create(&thread, NULL, helper_main, (void *)(intptr_t)(started + 1)) != 0) break;
    pthread_detach(thread);
    started++;
  }
  threads = started + 1 < n ? started + 1 : n;
  pthread_mutex_unlock(&lock);
  atomic_store(&busy, 0);
}

int mtsa_get_threads(void) { return threads; }

void mtsa_parallel(long tasks, mtsa_task_fn fn, void *ctx) {
  int expected = 0;
  if (tasks <= 1 || threads <= 1 || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
    for (long t = 0; t < tasks; t++) fn(ctx, t);
    return;
  }
  int helpers = threads - 1;
  if (helpers > tasks - 1) helpers = (int)(tasks - 1);
  job_fn = fn;
  job_ctx = ctx;
  job_tasks = tasks;
  job_helpers = helpers;
  atomic_store_explicit(&next_task, 0, memory_order_relaxed);
  atomic_store_explicit(&active_helpers, started, memory_order_relaxed);
  /* every started helper sees each generation; the uninvited ones just count themselves out */
  pthread_mutex_lock(&lock);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  run_tasks();
  while (atomic_load_explicit(&active_helpers, memory_order_acquire) > 0) CPU_RELAX();
  atomic_store_explicit(&busy, 0, memory_order_release);
}
