/* parallel.h - the one fork-join helper of the library (internal): the CPU
 * reference operators, the weight conversion of uploads and the parallel
 * pipeline compilation all split their work with it. */
#ifndef VKB_PARALLEL_H
#define VKB_PARALLEL_H

/* fn(ctx, task, slot) for task in [0, n_tasks); slot s (0 = the caller's
 * thread) takes tasks s, s + slots, ... */
typedef void (*vkb_task_fn)(void *ctx, int task, int slot);
/* How many threads a call with n_tasks tasks uses: `threads` (<= 0: one per
 * online CPU), at most n_tasks, at most VKB_MAX_SLOTS, at least 1. */
#define VKB_MAX_SLOTS 64
int vkb_parallel_slots(int threads, int n_tasks);
/* Runs the tasks on `slots` threads created for this call and joined before
 * it returns (a slot whose thread cannot be created runs on the caller's). */
void vkb_parallel_run(int slots, int n_tasks, vkb_task_fn fn, void *ctx);
#endif
