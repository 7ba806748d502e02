/* parallel.c - a tiny fork-join helper and a persistent thread team.
 * vkb_parallel_run creates threads per call: the work handed to it is coarse
 * (a weight tensor, a pipeline compile, a reference operator), so ~30 us per
 * call is noise next to it.  vkb_team keeps its workers for its lifetime
 * (the CPU backend's fp32 forward pass: a dozen jobs per layer). */
#include "parallel.h"
#include "clock.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/* ---- the persistent team ------------------------------------------------------ */
struct vkb_team {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen; /* bumped for each job; changed under mu, read while spinning too */
    atomic_int quit, pending;
    int active;
    atomic_int next; /* the next task to claim */
    vkb_task_fn fn;
    void *ctx;
    int n_tasks;
    int slots;   /* threads, the caller's included */
    int started; /* workers running (slots - 1) */
    pthread_t tid[VKB_MAX_SLOTS];
    struct team_worker { struct vkb_team *t; int slot; } w[VKB_MAX_SLOTS];
    vkb_team_runner runner; /* vkb_team_create_runner: jobs go there */
    void *rctx;
};

/* Tasks are claimed one at a time, so a thread the OS runs late (a busy
 * machine) leaves its share to the others instead of holding up the job. */
static void claim_tasks(vkb_team *t, int slot) {
    for (int k; (k = atomic_fetch_add(&t->next, 1)) < t->n_tasks;) t->fn(t->ctx, k, slot);
}

/* Between jobs a thread first spins a little before it sleeps: the forward
 * pass hands the team dozens of jobs of 0.05-1 ms each, back to back, and a
 * wake-up through the condition variable (a futex, an inter-processor
 * interrupt in a VM) took long enough that the job's tail waited on it. */
#ifndef SPIN_WORKER_S
#define SPIN_WORKER_S 100e-6 /* a worker, for the next job */
#endif
#ifndef SPIN_CALLER_S
#define SPIN_CALLER_S 300e-6 /* the caller, for the workers' last tasks */
#endif

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin until *v != not (or quit is set) / until *v == 0, for at most about
 * limit seconds; they return whether they saw it. */
static int spin_ulong(atomic_ulong *v, unsigned long not, const atomic_int *quit, double limit) {
    double end = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) != not || atomic_load(quit)) return 1;
        if ((i & 31) == 31) {
            double now = vkb_now_s();
            if (end == 0) end = now + limit;
            else if (now > end) return 0;
        }
        cpu_relax();
    }
}

static int spin_zero(atomic_int *v, double limit) {
    double end = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) == 0) return 1;
        if ((i & 31) == 31) {
            double now = vkb_now_s();
            if (end == 0) end = now + limit;
            else if (now > end) return 0;
        }
        cpu_relax();
    }
}

static void *team_main(void *p) {
    struct team_worker *w = p;
    vkb_team *t = w->t;
    unsigned long seen = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (!atomic_load(&t->quit) && atomic_load(&t->gen) == seen) {
            pthread_mutex_unlock(&t->mu);
            spin_ulong(&t->gen, seen, &t->quit, SPIN_WORKER_S);
            pthread_mutex_lock(&t->mu);
        }
        while (!atomic_load(&t->quit) && atomic_load(&t->gen) == seen) pthread_cond_wait(&t->go, &t->mu);
        if (atomic_load(&t->quit)) break;
        seen = atomic_load(&t->gen);
        int active = t->active;
        pthread_mutex_unlock(&t->mu);
        if (w->slot < active) claim_tasks(t, w->slot);
        pthread_mutex_lock(&t->mu);
        if (atomic_fetch_sub(&t->pending, 1) == 1) pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

vkb_team *vkb_team_create(int threads) {
    vkb_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    int want = vkb_parallel_slots(threads, VKB_MAX_SLOTS);
    atomic_init(&t->next, 0);
    atomic_init(&t->gen, 0);
    atomic_init(&t->quit, 0);
    atomic_init(&t->pending, 0);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    t->slots = 1;
    for (int i = 1; i < want; i++) {
        t->w[i] = (struct team_worker){t, i};
        if (pthread_create(&t->tid[i], NULL, team_main, &t->w[i]) != 0) break;
        t->started++;
        t->slots++;
    }
    return t;
}

vkb_team *vkb_team_create_runner(int threads, vkb_team_runner run, void *rctx) {
    vkb_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    atomic_init(&t->next, 0);
    atomic_init(&t->gen, 0);
    atomic_init(&t->quit, 0);
    atomic_init(&t->pending, 0);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    t->slots = vkb_parallel_slots(threads, VKB_MAX_SLOTS);
    t->runner = run;
    t->rctx = rctx;
    return t;
}

void vkb_team_free(vkb_team *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->quit, 1);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    for (int i = 1; i <= t->started; i++) pthread_join(t->tid[i], NULL);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int vkb_team_slots(const vkb_team *t) { return t ? t->slots : 1; }

void vkb_team_run(vkb_team *t, int n_tasks, vkb_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    int active = t ? t->slots : 1;
    if (active > n_tasks) active = n_tasks;
    if (active <= 1) {
        for (int k = 0; k < n_tasks; k++) fn(ctx, k, 0);
        return;
    }
    if (t->runner) {
        t->runner(t->rctx, active, n_tasks, fn, ctx);
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->ctx = ctx;
    t->n_tasks = n_tasks;
    t->active = active;
    atomic_store(&t->next, 0);
    atomic_store(&t->pending, t->started); /* every worker wakes and reports, active or not */
    atomic_fetch_add(&t->gen, 1);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    claim_tasks(t, 0);
    if (spin_zero(&t->pending, SPIN_CALLER_S)) return; /* the workers' writes are visible (acquire) */
    pthread_mutex_lock(&t->mu);
    while (atomic_load(&t->pending) > 0) pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
}
