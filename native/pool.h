/*
 * A small fixed thread pool for the kernels: the calling thread plus up to MTSA_MAX_THREADS − 1
 * helpers. `mtsa_parallel` runs fn(ctx, task) for task = 0..tasks−1, each exactly once, on
 * whichever thread claims it first. Kernels split their work into tasks whose results do not
 * depend on which thread runs them (disjoint outputs, fixed reduction order), so bytes never
 * depend on the thread count. When the pool is busy (another Node.js thread of the process holds
 * it), the caller runs every task itself.
 */
#ifndef MTSA_POOL_H
#define MTSA_POOL_H

#define MTSA_MAX_THREADS 16

typedef void (*mtsa_task_fn)(void *ctx, long task);

void mtsa_parallel(long tasks, mtsa_task_fn fn, void *ctx);
/* total threads (caller included) used by mtsa_parallel; 1 runs everything in the caller */
void mtsa_set_threads(int threads);
int mtsa_get_threads(void);

#endif
