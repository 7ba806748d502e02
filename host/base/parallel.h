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

/* A persistent thread team: `threads - 1` workers created once, plus the
 * caller's thread as slot 0.  Between jobs a worker spins for up to 100 us
 * (jobs come back to back in a forward pass), then sleeps on a condition
 * variable; the caller likewise spins up to 300 us for the workers' last
 * tasks before it sleeps.
 * The CPU backend's fp32 forward pass runs all its non-GEMM work on one. */
typedef struct vkb_team vkb_team;
/* NULL when out of memory; a worker that cannot be started leaves the team
 * smaller (at least the caller's slot remains). */
vkb_team *vkb_team_create(int threads);
void vkb_team_free(vkb_team *t);
/* A team without threads of its own: each job goes to run(rctx, slots,
 * n_tasks, fn, ctx), which must call fn(ctx, task, slot) for every task once
 * with slot in [0, slots) (slots = min(threads, n_tasks)).  The CPU
 * backend's bf16/int8 path runs its team work this way on oneDNN's OpenMP
 * threads, so that two pools do not take turns spinning on the same cores.
 * NULL when out of memory. */
typedef void (*vkb_team_runner)(void *rctx, int slots, int n_tasks, vkb_task_fn fn, void *ctx);
vkb_team *vkb_team_create_runner(int threads, vkb_team_runner run, void *rctx);
/* How many slots (threads, the caller's included) the team has. */
int vkb_team_slots(const vkb_team *t);
/* Runs fn(ctx, task, slot) for every task in [0, n_tasks) on min(slots,
 * n_tasks) of the team's threads, each task once, claimed one at a time (so
 * which slot runs a task varies; slot indexes per-thread scratch); returns
 * when all are done.  One job at a time per team (the team is not shared
 * between threads). */
void vkb_team_run(vkb_team *t, int n_tasks, vkb_task_fn fn, void *ctx);
#endif
