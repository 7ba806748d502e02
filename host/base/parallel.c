/* parallel.c - a tiny fork-join helper.  Threads are created per call: the
 * work handed to it is coarse (a GEMM epilogue, a whole attention, a weight
 * tensor, a pipeline compile), so ~30 us per call is noise next to it, and
 * no pool outlives a call. */
#include "parallel.h"
#include <pthread.h>
#include <unistd.h>

typedef struct {
    vkb_task_fn fn;
    void *ctx;
    int n_tasks, stride, slot;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *a = p;
    for (int t = a->slot; t < a->n_tasks; t += a->stride) a->fn(a->ctx, t, a->slot);
    return NULL;
}

int vkb_parallel_slots(int threads, int n_tasks) {
    int T = threads;
    if (T <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        T = n > 0 ? (int)n : 1;
    }
    if (T > n_tasks) T = n_tasks;
    if (T > VKB_MAX_SLOTS) T = VKB_MAX_SLOTS;
    return T < 1 ? 1 : T;
}

void vkb_parallel_run(int slots, int n_tasks, vkb_task_fn fn, void *ctx) {
    if (slots <= 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    if (slots > VKB_MAX_SLOTS) slots = VKB_MAX_SLOTS;
    pthread_t tid[VKB_MAX_SLOTS];
    int started[VKB_MAX_SLOTS] = {0};
    worker_arg args[VKB_MAX_SLOTS];
    for (int i = 0; i < slots; i++) args[i] = (worker_arg){fn, ctx, n_tasks, slots, i};
    for (int i = 1; i < slots; i++)
        started[i] = pthread_create(&tid[i], NULL, worker_main, &args[i]) == 0;
    worker_main(&args[0]);
    for (int i = 1; i < slots; i++)
        if (!started[i]) worker_main(&args[i]);
    for (int i = 1; i < slots; i++)
        if (started[i]) pthread_join(tid[i], NULL);
}
