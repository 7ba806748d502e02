/* scorer.c - the batch scorer behind `vkbert score`/`eval`/`classify`.
 *
 * Pipeline (declared in vkbert.h, "batch scorer" section):
 *   caller thread   vkb_scorer_add_*() fills a window of inputs;
 *   tokenizer(s)    tokenize whole windows (several windows in flight, so
 *                   tokenizing window k+1 overlaps the forwards of window k);
 *   workers         one thread per backend (vkb_scorer_create_multi: one
 *                   per device, each with its own weights and queue).  The
 *                   next window in order is sorted by token length (longest
 *                   first, so an out-of-memory shows up on the first batch)
 *                   and cut into batches with B*L <= the token budget; the
 *                   batches go to one queue that every worker takes from, and
 *                   a finished window is delivered in submission order.
 * Windows are cut and delivered strictly in order (by id), so results are in
 * input order with at most a few windows buffered.  All state lives in the
 * vkb_scorer; the library never prints (messages go to opts.note). */
#define _GNU_SOURCE
#include "vkbert_scorer.h"
#include "clock.h"
#include "backend.h"
#include "vkbert_io.h" /* vkb_l2_normalize */
#include "error.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct item {
    char *text;      /* owned until tokenized */
    size_t len;
    int32_t *ids;    /* owned, n entries */
    int n;
    int truncated;
    int skip;        /* placeholder: delivered with logits == NULL */
    int has_ids;     /* added with vkb_scorer_add_ids */
    void *user;
} item;

typedef struct window {
    uint64_t id;     /* windows are numbered in submission order */
    uint64_t base;   /* submission index of it[0] */
    item *it;
    int n, cap;
    struct window *next;
    /* set when the window is cut into jobs */
    struct len_idx *order;  /* non-skipped items, sorted by length */
    int m;                  /* entries of order */
    float *logits;          /* [n * n_labels] by item index */
    unsigned char *done;    /* [n]: scored (or a skip item) */
    int left;               /* jobs not yet run */
} window;

/* One batch of a window: order[start .. start+count). */
typedef struct job {
    window *w;
    int start, count;
    struct job *next;
} job;

typedef struct worker {
    struct vkb_scorer *s;
    vkb_backend *be;
    int idx;
    int32_t *bids, *blens;  /* batch scratch, sized for the initial budget */
    float *blogits;
} worker;

struct vkb_scorer {
    vkb_backend *be;               /* the first backend (model, config) */
    worker *wk;
    int n_workers;
    const vkb_tokenizer *tok;
    int n_labels, pad_id, max_len, budget, wcap, no_sort, nthreads, pad_mul;
    int batch_cost;                /* opts.batch_cost_tokens */
    int width;                 /* values per result: n_labels, or dim when embedding */
    vkb_pooling pooling;       /* VKB_POOL_NONE: logits; else embeddings */
    int normalize;
    vkb_score_fn fn;
    void *ctx;
    void (*note)(void *ctx, const char *msg);
    const volatile int *interrupt;
    void (*drop_user)(void *user);

    window *cur;               /* being filled by the caller */
    uint64_t next_index, next_wid;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    window *pend_head, *pend_tail; /* waiting for a tokenizer (FIFO) */
    window *ready;                 /* tokenized, any order */
    uint64_t next_cut;             /* id of the next window to cut into jobs */
    window *active;                /* cut, not yet delivered */
    job *jq_head, *jq_tail;        /* batches waiting for a worker (FIFO) */
    uint64_t next_deliver;         /* id of the next window to deliver */
    int delivering;                /* a worker is in the callback */
    long long fault_after;         /* opts.fault_after_batches, -1 = off */
    uint64_t forwards;             /* forwards started (for fault_after) */
    int inflight, max_inflight;    /* windows dispatched and not yet done */
    int closing, stop, failed, joined;
    int cancelled;                 /* vkb_scorer_cancel or the callback stopped it */
    uint64_t scored;               /* items scored so far (vkb_scorer_progress) */
    vkb_error ferr;
    pthread_t *threads;            /* nthreads tokenizers + n_workers workers */
    int n_started;
    int inited;                    /* mu/cv initialized */
    vkb_scorer_stats st;
    int bcap_seqs;                 /* most sequences in a batch */
};

/* Items from index `delivered` on were never handed to the callback: their
 * user pointers go to drop_user. */
static void free_window_from(vkb_scorer *s, window *w, int delivered) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->it[i].text);
        free(w->it[i].ids);
        if (i >= delivered && s->drop_user) s->drop_user(w->it[i].user);
    }
    free(w->it);
    free(w->order);
    free(w->logits);
    free(w->done);
    free(w);
}

/* Caller holds mu. */
static int stopping_locked(vkb_scorer *s) {
    if (!s->stop && s->interrupt && *s->interrupt) s->stop = 1;
    return s->stop;
}

/* Waits on cv for at most 50 ms so that an interrupt flag set by a signal
 * handler (which cannot signal a condition variable) is noticed. */
static void timed_wait(vkb_scorer *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void fail_locked(vkb_scorer *s, const vkb_error *e) {
    if (!s->failed) { s->failed = 1; s->ferr = *e; }
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
}

/* ---- tokenizer threads ---------------------------------------------------- */

static int tokenize_item(vkb_scorer *s, item *x, vkb_error *err) {
    /* Tokenize to max_len+1 ids: if that many come back the text was longer
     * than max_len, and dropping the last word piece before [SEP] gives
     * exactly HF's truncation to max_len ([CLS] + first max_len-2 + [SEP]). */
    int cap = s->max_len + 1;
    x->ids = malloc(sizeof(int32_t) * (size_t)cap);
    if (!x->ids) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory tokenizing item");
    int n = vkb_tokenize(s->tok, x->text, x->len, cap, x->ids);
    if (n < 0 || n > cap) return vkb_fail(err, "scorer: tokenizer failed (returned %d)", n);
    if (n == cap) {
        x->ids[s->max_len - 1] = x->ids[cap - 1];
        n = s->max_len;
        x->truncated = 1;
    }
    x->n = n;
    free(x->text);
    x->text = NULL;
    return 0;
}

static void *tok_main(void *arg) {
    vkb_scorer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->pend_head && !s->closing && !stopping_locked(s)) timed_wait(s);
        if (s->stop || !s->pend_head) break;
        window *w = s->pend_head;
        s->pend_head = w->next;
        if (!s->pend_head) s->pend_tail = NULL;
        w->next = NULL;
        pthread_mutex_unlock(&s->mu);
        vkb_error e = {0};
        int rc = 0;
        for (int i = 0; i < w->n && rc == 0; i++) {
            item *x = &w->it[i];
            if (!x->skip && !x->has_ids) rc = tokenize_item(s, x, &e);
        }
        pthread_mutex_lock(&s->mu);
        if (rc) { free_window_from(s, w, 0); s->inflight--; fail_locked(s, &e); break; }
        w->next = s->ready;
        s->ready = w;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- workers: one thread per backend ----------------------------------------
 * A window that is tokenized and next in order is "cut" by whichever worker
 * gets to it first: its items are sorted by length and split greedily into
 * batches (jobs) with B*L <= the token budget.  The cut depends only on the
 * window and the budget, never on the number of workers, so every batch -
 * and therefore every logit - is the same with 1 or N backends of the same
 * kind.  Jobs go to one FIFO that all workers take from; a window whose
 * jobs are all done is delivered when it is the next one in order, by one
 * worker at a time (s->delivering), so results still come in input order. */

typedef struct len_idx { int n; int idx; } len_idx;

static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Out of memory for activations: a smaller token budget may fit. */
static int is_oom(const vkb_error *e) {
    return e->code == VKB_ERR_DEVICE_OOM || e->code == VKB_ERR_HOST_OOM;
}

/* Greedy batch from order[pos..end): add sequences while B * L stays within
 * the budget (one sequence always fits; it is at most max_len long). */
static void greedy(const vkb_scorer *s, const len_idx *order, int pos, int end, int budget,
                   int *Bo, int *Lo) {
    int B = 0, L = 0;
    while (pos + B < end && B < s->bcap_seqs) {
        int l2 = order[pos + B].n > L ? order[pos + B].n : L;
        if (s->pad_mul > 1) {
            l2 = (l2 + s->pad_mul - 1) / s->pad_mul * s->pad_mul;
            if (l2 > s->max_len) l2 = s->max_len > L ? s->max_len : L;
        }
        if (B > 0 && (long)(B + 1) * l2 > budget) break;
        L = l2;
        B++;
    }
    *Bo = B;
    *Lo = L;
}

/* A batch's padded length when its longest input has n ids. */
static int padded_len(const vkb_scorer *s, int n) {
    if (s->pad_mul <= 1) return n;
    int l = (n + s->pad_mul - 1) / s->pad_mul * s->pad_mul;
    return l > s->max_len ? (s->max_len > n ? s->max_len : n) : l;
}

/* With batch_cost: the cut of order[0..m) (longest first) into batches of
 * at most bcap_seqs inputs and budget tokens (one input may be over) that
 * minimises the padded tokens plus batch_cost per batch; next[i] is the end
 * of the batch that starts at i.  Dynamic programming from the end, O(m x
 * the inputs a batch can hold). */
static int cost_cut(const vkb_scorer *s, const len_idx *order, int m, int budget, int *next,
                    vkb_error *err) {
    long long *best = malloc(sizeof *best * (size_t)(m + 1));
    if (!best) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory");
    best[m] = 0;
    for (int i = m - 1; i >= 0; i--) {
        long long L = padded_len(s, order[i].n);
        best[i] = -1;
        for (int j = i + 1; j <= m && j - i <= s->bcap_seqs; j++) {
            if (j - i > 1 && (long long)(j - i) * L > budget) break;
            long long c = (long long)(j - i) * L + s->batch_cost + best[j];
            if (best[i] < 0 || c < best[i]) { best[i] = c; next[i] = j; }
        }
    }
    free(best);
    return 0;
}

/* Sorts a window and cuts it into jobs (returned as a list, not queued). */
static int cut_window(vkb_scorer *s, window *w, job **jobs, vkb_error *err) {
    *jobs = NULL;
    int nl = s->width, m = 0;
    w->order = malloc(sizeof(len_idx) * (size_t)(w->n ? w->n : 1));
    w->logits = malloc(sizeof(float) * (size_t)nl * (size_t)(w->n ? w->n : 1));
    w->done = calloc((size_t)(w->n ? w->n : 1), 1);
    if (!w->order || !w->logits || !w->done) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory");
    for (int i = 0; i < w->n; i++) {
        if (!w->it[i].skip) { w->order[m].n = w->it[i].n; w->order[m].idx = i; m++; }
        else w->done[i] = 1;
    }
    if (!s->no_sort) qsort(w->order, (size_t)m, sizeof *w->order, cmp_len_desc);
    w->m = m;
    pthread_mutex_lock(&s->mu);
    int budget = s->budget;
    pthread_mutex_unlock(&s->mu);
    int *next = NULL;
    if (s->batch_cost && m > 1) {
        next = malloc(sizeof *next * (size_t)m);
        if (!next) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory");
        if (cost_cut(s, w->order, m, budget, next, err)) { free(next); return -1; }
    }
    job **tail = jobs;
    for (int pos = 0; pos < m;) {
        int B, L;
        if (next) B = next[pos] - pos;
        else greedy(s, w->order, pos, m, budget, &B, &L);
        job *j = calloc(1, sizeof *j);
        if (!j) { free(next); return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory"); }
        j->w = w; j->start = pos; j->count = B;
        *tail = j;
        tail = &j->next;
        w->left++;
        pos += B;
    }
    free(next);
    return 0;
}

/* Runs one job on this worker's backend.  Normally that is one forward of
 * exactly the batch that was cut; after an out-of-memory the budget is
 * smaller and the job is run in several smaller batches. */
static int run_job(worker *wk, const job *j, vkb_error *err) {
    vkb_scorer *s = wk->s;
    window *w = j->w;
    const len_idx *order = w->order;
    int nl = s->width, pos = j->start, end = j->start + j->count;
    while (pos < end) {
        pthread_mutex_lock(&s->mu);
        int stop = stopping_locked(s);
        int budget = s->budget;
        pthread_mutex_unlock(&s->mu);
        if (stop) return 0; /* nothing of this window will be delivered */
        int B, L;
        greedy(s, order, pos, end, budget, &B, &L);
        for (int b = 0; b < B; b++) {
            const item *x = &w->it[order[pos + b].idx];
            int32_t *row = wk->bids + (size_t)b * L;
            memcpy(row, x->ids, sizeof(int32_t) * (size_t)x->n);
            for (int p = x->n; p < L; p++) row[p] = s->pad_id;
            wk->blens[b] = x->n;
        }
        vkb_batch batch = {B, L, wk->bids, wk->blens};
        vkb_outputs out = {s->pooling ? NULL : wk->blogits, NULL, s->pooling ? wk->blogits : NULL,
                           s->pooling};
        vkb_error fe = {0};
        /* Fault injection (vkb_scorer_opts.fault_inject): the forward after
         * the first N fails as a lost device would. */
        pthread_mutex_lock(&s->mu);
        int fault = s->fault_after >= 0 && s->forwards >= (uint64_t)s->fault_after;
        if (!fault) s->forwards++;
        pthread_mutex_unlock(&s->mu);
        double t0 = vkb_now_s();
        int frc = fault ? vkb_failc(&fe, VKB_ERR_DEVICE_LOST, "Vulkan: device lost while running the forward pass "
                                   "(simulated: fault injection after %lld batches)",
                                   (long long)s->fault_after)
                        : vkb_forward(wk->be, &batch, &out, &fe);
        double dt = vkb_now_s() - t0;
        if (frc) {
            if (is_oom(&fe) && B > 1) {
                int nb = (B * L) / 2;
                if (nb < L) nb = L;
                pthread_mutex_lock(&s->mu);
                if (nb < s->budget) s->budget = nb;
                s->st.batch_tokens = s->budget;
                pthread_mutex_unlock(&s->mu);
                if (s->note) {
                    char msg[VKB_ERR_MAX + 160];
                    snprintf(msg, sizeof msg,
                             "%s; retrying with a token budget of %d (batch %dx%d failed on %s)",
                             fe.msg, nb, B, L, vkb_backend_device(wk->be));
                    s->note(s->ctx, msg);
                }
                continue; /* same pos, smaller batches */
            }
            if (s->n_workers > 1)
                return vkb_failc(err, fe.code, "%s (batch of %d sequences x %d tokens, worker %d: %s)",
                                fe.msg, B, L, wk->idx, vkb_backend_device(wk->be));
            return vkb_failc(err, fe.code, "%s (batch of %d sequences x %d tokens)", fe.msg, B, L);
        }
        for (int b = 0; b < B; b++) {
            float *dst = w->logits + (size_t)order[pos + b].idx * nl;
            memcpy(dst, wk->blogits + (size_t)b * nl, sizeof(float) * (size_t)nl);
            if (s->normalize) vkb_l2_normalize(dst, nl);
        }
        pthread_mutex_lock(&s->mu);
        for (int b = 0; b < B; b++) w->done[order[pos + b].idx] = 1;
        s->scored += (uint64_t)B;
        s->st.batches++;
        s->st.padded_tokens += (uint64_t)B * (uint64_t)L;
        for (int b = 0; b < B; b++) s->st.real_tokens += (uint64_t)order[pos + b].n;
        s->st.forward_seconds += dt;
        pthread_mutex_unlock(&s->mu);
        pos += B;
    }
    return 0;
}

/* The result of item i of a finished window. */
static vkb_score make_result(const vkb_scorer *s, const window *w, int i) {
    const item *x = &w->it[i];
    const float *v = x->skip ? NULL : w->logits + (size_t)i * s->width;
    vkb_score r = {w->base + (uint64_t)i, x->user, s->pooling ? NULL : v, s->n_labels, x->n,
                   x->truncated, s->pooling ? v : NULL, s->pooling ? s->width : 0};
    return r;
}

/* Delivers a finished window in submission order; returns how many items
 * went to the callback (the rest go to drop_user). */
static int deliver_window(vkb_scorer *s, window *w) {
    int delivered = 0;
    for (int i = 0; i < w->n; i++) {
        /* A window whose results are all in is written out whole even when
         * an interrupt or another worker's failure comes meanwhile: only a
         * cancel (or the callback asking to stop) ends it early. */
        pthread_mutex_lock(&s->mu);
        int stop = s->cancelled;
        if (!stop && !w->it[i].skip) s->st.items++;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        vkb_score r = make_result(s, w, i);
        delivered = i + 1;
        if (s->fn && s->fn(s->ctx, &r)) {
            pthread_mutex_lock(&s->mu);
            s->stop = 1;
            s->cancelled = 1;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            break;
        }
    }
    return delivered;
}

/* Caller holds mu.  Delivers every finished window that is next in order,
 * unless another worker is already delivering (it will pick them up). */
static void try_deliver_locked(vkb_scorer *s) {
    while (!s->delivering) {
        window *w = NULL, **pp;
        for (pp = &s->active; *pp; pp = &(*pp)->next)
            if ((*pp)->id == s->next_deliver) break;
        if (!*pp || (*pp)->left > 0) return;
        /* stopped: the results complete in order are delivered by
         * vkb_scorer_finish (flush_in_order) */
        if (s->stop) return;
        w = *pp;
        *pp = w->next;
        w->next = NULL;
        s->delivering = 1;
        pthread_mutex_unlock(&s->mu);
        int delivered = deliver_window(s, w);
        free_window_from(s, w, delivered);
        pthread_mutex_lock(&s->mu);
        s->delivering = 0;
        s->next_deliver++;
        s->inflight--;
        pthread_cond_broadcast(&s->cv);
    }
}

static void *worker_main(void *arg) {
    worker *wk = arg;
    vkb_scorer *s = wk->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (stopping_locked(s)) break;
        if (s->jq_head) {
            job *j = s->jq_head;
            s->jq_head = j->next;
            if (!s->jq_head) s->jq_tail = NULL;
            pthread_mutex_unlock(&s->mu);
            vkb_error e = {0};
            int rc = run_job(wk, j, &e);
            pthread_mutex_lock(&s->mu);
            j->w->left--;
            free(j);
            if (rc) { fail_locked(s, &e); break; }
            try_deliver_locked(s);
            continue;
        }
        window *w = NULL, **pp;
        for (pp = &s->ready; *pp; pp = &(*pp)->next)
            if ((*pp)->id == s->next_cut) break;
        if (*pp) {
            w = *pp;
            *pp = w->next;
            w->next = NULL;
            s->next_cut++;
            pthread_mutex_unlock(&s->mu);
            vkb_error e = {0};
            job *jobs = NULL;
            int rc = cut_window(s, w, &jobs, &e);
            pthread_mutex_lock(&s->mu);
            /* the window joins the active list even on failure, so that
             * vkb_scorer_free releases it and its jobs' users */
            w->next = s->active;
            s->active = w;
            if (rc) {
                while (jobs) { job *n = jobs->next; free(jobs); jobs = n; }
                fail_locked(s, &e);
                break;
            }
            if (jobs) {
                if (s->jq_tail) s->jq_tail->next = jobs; else s->jq_head = jobs;
                job *t = jobs;
                while (t->next) t = t->next;
                s->jq_tail = t;
            }
            pthread_cond_broadcast(&s->cv);
            try_deliver_locked(s);
            continue;
        }
        if (s->closing && s->inflight == 0) break;
        timed_wait(s);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- public API ----------------------------------------------------------- */

int vkb_scorer_create(vkb_backend *be, const vkb_scorer_opts *opts, vkb_score_fn fn,
                      void *ctx, vkb_scorer **out, vkb_error *err) {
    return vkb_scorer_create_multi(&be, 1, opts, fn, ctx, out, err);
}

int vkb_scorer_create_multi(vkb_backend *const *bes, int n_be, const vkb_scorer_opts *opts,
                            vkb_score_fn fn, void *ctx, vkb_scorer **out, vkb_error *err) {
    *out = NULL;
    if (!bes || n_be < 1 || n_be > 256)
        return vkb_fail(err, "scorer: %d backends (expected 1..256)", n_be);
    for (int i = 0; i < n_be; i++)
        if (!bes[i] || !bes[i]->model) return vkb_fail(err, "scorer: no backend %d", i);
    vkb_backend *be = bes[0];
    const vkb_config *c = &be->model->cfg;
    vkb_scorer_opts def = {0};
    if (!opts) opts = &def;
    if (opts->pooling < VKB_POOL_NONE || opts->pooling > VKB_POOL_MAX)
        return vkb_fail(err, "scorer: unknown pooling mode %d", (int)opts->pooling);
    if (c->n_labels <= 0 && !opts->pooling)
        return vkb_fail(err, "scorer: the model has no classifier head (n_labels = 0): it "
                             "gives embeddings (a pooling mode), not logits");
    for (int i = 1; i < n_be; i++) {
        const vkb_config *ci = &bes[i]->model->cfg;
        if (ci->n_labels != c->n_labels || ci->pad_token_id != c->pad_token_id ||
            ci->max_pos != c->max_pos || ci->vocab_size != c->vocab_size ||
            bes[i]->model->tok != be->model->tok)
            return vkb_fail(err, "scorer: backend %d runs a different model than backend 0 "
                            "(every backend must be created from the same vkb_model)", i);
    }
    vkb_scorer *s = calloc(1, sizeof *s);
    if (!s) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory");
    s->be = be;
    s->tok = be->model->tok;
    s->n_labels = c->n_labels;
    s->pooling = opts->pooling;
    s->normalize = opts->pooling && opts->normalize;
    s->width = opts->pooling ? c->dim : c->n_labels;
    s->pad_id = c->pad_token_id;
    int ml = vkb_model_max_len(be->model, opts->max_len);
    if (ml < 2) { free(s); return vkb_fail(err, "scorer: max_len %d is below 2", ml); }
    s->max_len = ml;
    s->budget = opts->batch_tokens > 0 ? opts->batch_tokens : vkb_defaults()->batch_tokens;
    if (s->budget < ml) s->budget = ml;
    s->wcap = opts->window > 0 ? opts->window : vkb_defaults()->window;
    s->no_sort = opts->no_sort;
    s->nthreads = opts->threads > 0 ? opts->threads : 1;
    if (s->nthreads > 64) s->nthreads = 64;
    s->pad_mul = opts->pad_multiple > 1 ? opts->pad_multiple : 1;
    s->batch_cost = opts->batch_cost_tokens > 0 ? opts->batch_cost_tokens : 0;
    s->fn = fn;
    s->ctx = ctx;
    s->note = opts->note;
    s->interrupt = opts->interrupt;
    s->drop_user = opts->drop_user;
    s->n_workers = n_be;
    /* windows buffered: being tokenized, waiting, and enough cut ones to
     * keep every worker busy while the oldest is finished */
    s->max_inflight = s->nthreads + 1 + n_be;
    s->st.batch_tokens = s->budget;
    s->bcap_seqs = s->budget / 2 > 0 ? s->budget / 2 : 1; /* every sequence has >= 2 ids */
    /* fault injection (vkb_scorer_opts): simulate a lost device */
    s->fault_after = opts->fault_inject && opts->fault_after_batches >= 0 ? opts->fault_after_batches : -1;
    s->wk = calloc((size_t)n_be, sizeof *s->wk);
    s->threads = calloc((size_t)s->nthreads + (size_t)n_be, sizeof(pthread_t));
    int bad = !s->wk || !s->threads;
    for (int i = 0; i < n_be && !bad; i++) {
        worker *w = &s->wk[i];
        w->s = s;
        w->be = bes[i];
        w->idx = i;
        w->bids = malloc(sizeof(int32_t) * (size_t)s->budget);
        w->blens = malloc(sizeof(int32_t) * (size_t)s->bcap_seqs);
        w->blogits = malloc(sizeof(float) * (size_t)s->bcap_seqs * (size_t)s->width);
        bad = !w->bids || !w->blens || !w->blogits;
    }
    if (bad) {
        vkb_scorer_free(s);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory for a token budget of %d", s->budget);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->inited = 1;
    /* Scorer threads take no signals: the application's threads handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (int i = 0; i < s->nthreads + n_be && rc == 0; i++) {
        rc = i < s->nthreads ? pthread_create(&s->threads[i], NULL, tok_main, s)
                             : pthread_create(&s->threads[i], NULL, worker_main,
                                              &s->wk[i - s->nthreads]);
        if (rc == 0) s->n_started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        vkb_scorer_free(s);
        return vkb_fail(err, "scorer: cannot start threads: %s", strerror(rc));
    }
    *out = s;
    return 0;
}

int vkb_scorer_max_len(const vkb_scorer *s) { return s->max_len; }

static int state_error(vkb_scorer *s, vkb_error *err) {
    if (s->failed) {
        if (err) *err = s->ferr;
        return -1;
    }
    return vkb_fail(err, "scorer: stopped");
}

/* Hands the current window to the tokenizers, waiting while too many
 * windows are in flight. */
static int dispatch(vkb_scorer *s, vkb_error *err) {
    window *w = s->cur;
    s->cur = NULL;
    if (!w) return 0;
    pthread_mutex_lock(&s->mu);
    while (s->inflight >= s->max_inflight && !stopping_locked(s)) timed_wait(s);
    if (s->stop || s->closing) {
        int rc = state_error(s, err);
        pthread_mutex_unlock(&s->mu);
        free_window_from(s, w, 0);
        return rc;
    }
    w->id = s->next_wid++;
    if (s->pend_tail) s->pend_tail->next = w; else s->pend_head = w;
    s->pend_tail = w;
    s->inflight++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static item *new_item(vkb_scorer *s, vkb_error *err) {
    pthread_mutex_lock(&s->mu);
    int bad = stopping_locked(s) || s->closing;
    int rc = bad ? state_error(s, err) : 0;
    pthread_mutex_unlock(&s->mu);
    if (rc) return NULL;
    if (!s->cur) {
        window *w = calloc(1, sizeof *w);
        int cap = s->wcap < 64 ? s->wcap : 64;
        if (w) w->it = calloc((size_t)cap, sizeof(item));
        if (!w || !w->it) { free(w); vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory"); return NULL; }
        w->cap = cap;
        w->base = s->next_index;
        s->cur = w;
    }
    window *w = s->cur;
    if (w->n == w->cap) {
        int cap = w->cap * 2 > s->wcap ? s->wcap : w->cap * 2;
        item *it = realloc(w->it, sizeof(item) * (size_t)cap);
        if (!it) { vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory"); return NULL; }
        w->it = it;
        w->cap = cap;
    }
    item *x = &w->it[w->n];
    memset(x, 0, sizeof *x);
    return x;
}

static int commit_item(vkb_scorer *s, vkb_error *err) {
    s->cur->n++;
    s->next_index++;
    /* A full window goes to the tokenizers.  If the pipeline has stopped,
     * dispatch fails after dropping the window, this item included
     * (drop_user): the item was taken all the same, so this add succeeds
     * (vkbert.h: a failed add leaves the item with the caller) and the
     * stop is reported by the next add or by vkb_scorer_finish. */
    if (s->cur->n >= s->wcap) (void)dispatch(s, NULL);
    (void)err;
    return 0;
}

int vkb_scorer_add_text(vkb_scorer *s, const char *text, size_t len, void *user,
                        vkb_error *err) {
    if (!s->tok) return vkb_fail(err, "scorer: the model has no tokenizer (vocab.txt)");
    item *x = new_item(s, err);
    if (!x) return -1;
    x->text = malloc(len + 1);
    if (!x->text) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory for a text of %zu bytes", len);
    memcpy(x->text, text, len);
    x->text[len] = 0;
    x->len = len;
    x->user = user;
    return commit_item(s, err);
}

int vkb_scorer_add_ids(vkb_scorer *s, const int32_t *ids, int n, void *user, vkb_error *err) {
    if (n < 1) return vkb_fail(err, "scorer: empty id sequence");
    const vkb_config *c = &s->be->model->cfg;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return vkb_fail(err, "scorer: token id %d at position %d is outside the vocabulary (%d)",
                            ids[i], i, c->vocab_size);
    item *x = new_item(s, err);
    if (!x) return -1;
    int m = n > s->max_len ? s->max_len : n;
    x->ids = malloc(sizeof(int32_t) * (size_t)m);
    if (!x->ids) return vkb_failc(err, VKB_ERR_HOST_OOM, "scorer: out of memory");
    memcpy(x->ids, ids, sizeof(int32_t) * (size_t)m);
    x->n = m;
    x->truncated = n > m;
    x->has_ids = 1;
    x->user = user;
    return commit_item(s, err);
}

int vkb_scorer_add_skip(vkb_scorer *s, void *user, vkb_error *err) {
    item *x = new_item(s, err);
    if (!x) return -1;
    x->skip = 1;
    x->user = user;
    return commit_item(s, err);
}

int vkb_scorer_flush(vkb_scorer *s, vkb_error *err) {
    pthread_mutex_lock(&s->mu);
    int rc = stopping_locked(s) || s->closing ? state_error(s, err) : 0;
    pthread_mutex_unlock(&s->mu);
    if (rc) return rc;
    if (!s->cur || s->cur->n == 0) return 0;
    return dispatch(s, err);
}

static void join_all(vkb_scorer *s) {
    if (s->joined) return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_started; i++) pthread_join(s->threads[i], NULL);
    s->joined = 1;
}

/* After an interrupt or a failure (threads joined): delivers, on the
 * caller's thread, every result that is complete in input order - the
 * windows that were fully scored and the scored prefix of the next one - so
 * that work already done is not lost.  The rest goes to drop_user. */
static void flush_in_order(vkb_scorer *s) {
    while (!s->cancelled) {
        window *w = NULL, **pp;
        for (pp = &s->active; *pp; pp = &(*pp)->next)
            if ((*pp)->id == s->next_deliver) break;
        if (!*pp || !(*pp)->done) return;
        w = *pp;
        *pp = w->next;
        w->next = NULL;
        int i = 0;
        for (; i < w->n && w->done[i] && !s->cancelled; i++) {
            const item *x = &w->it[i];
            if (!x->skip) s->st.items++;
            vkb_score r = make_result(s, w, i);
            if (s->fn && s->fn(s->ctx, &r)) s->cancelled = 1;
        }
        int whole = i == w->n;
        free_window_from(s, w, i);
        s->next_deliver++;
        if (!whole) return;
    }
}

uint64_t vkb_scorer_progress(vkb_scorer *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->scored;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int vkb_scorer_finish(vkb_scorer *s, vkb_error *err) {
    int rc = 0;
    if (s->cur && s->cur->n > 0) {
        vkb_error e = {0};
        dispatch(s, &e); /* a failure is reported below from s->ferr */
    } else {
        free_window_from(s, s->cur, 0);
        s->cur = NULL;
    }
    join_all(s);
    if (s->stop) flush_in_order(s);
    if (s->failed) {
        if (err) *err = s->ferr;
        rc = -1;
    }
    return rc;
}

void vkb_scorer_cancel(vkb_scorer *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    s->cancelled = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void vkb_scorer_get_stats(vkb_scorer *s, vkb_scorer_stats *st) {
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    pthread_mutex_unlock(&s->mu);
}

void vkb_scorer_free(vkb_scorer *s) {
    if (!s) return;
    if (s->n_started) {
        vkb_scorer_cancel(s);
        join_all(s);
    }
    free_window_from(s, s->cur, 0);
    for (window *w = s->pend_head, *n; w; w = n) { n = w->next; free_window_from(s, w, 0); }
    for (window *w = s->ready, *n; w; w = n) { n = w->next; free_window_from(s, w, 0); }
    for (job *j = s->jq_head, *n; j; j = n) { n = j->next; free(j); }
    for (window *w = s->active, *n; w; w = n) { n = w->next; free_window_from(s, w, 0); }
    if (s->inited) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free(s->threads);
    if (s->wk)
        for (int i = 0; i < s->n_workers; i++) {
            free(s->wk[i].bids);
            free(s->wk[i].blens);
            free(s->wk[i].blogits);
        }
    free(s->wk);
    free(s);
}

/* ---- backend creation that fits the device --------------------------------- */

int vkb_backend_create_fit(const vkb_model *m, const vkb_backend_opts *opts,
                           void (*note)(void *ctx, const char *msg), void *ctx,
                           vkb_backend **out, int *max_tokens, vkb_error *err) {
    vkb_backend_opts o = {0};
    if (opts) o = *opts;
    *out = NULL;
    int ml = o.max_len > 0 && o.max_len < m->cfg.max_pos ? o.max_len : m->cfg.max_pos;
    int T = o.max_tokens > 0 ? o.max_tokens : vkb_defaults()->max_tokens;
    if (T < ml) T = ml;
    for (;;) {
        o.max_tokens = T;
        vkb_error e = {0};
        if (vkb_backend_create(m, &o, out, &e) == 0) {
            *max_tokens = T;
            return 0;
        }
        /* Only the activations scale with the token budget: when the
         * weights themselves do not fit, smaller batches cannot help. */
        if (!is_oom(&e) || T <= ml) {
            if (e.code == VKB_ERR_WEIGHTS_OOM)
                return vkb_failc(err, e.code, "%s: the model's weights alone do not fit the device "
                                 "memory%s", e.msg, o.max_device_mem ? " cap" : "");
            if (is_oom(&e) && T <= ml)
                return vkb_failc(err, e.code, "%s, even with a token budget of one sequence (%d)",
                                 e.msg, T);
            if (err) *err = e;
            return -1;
        }
        int nt = T / 2 < ml ? ml : T / 2;
        if (note) {
            char msg[VKB_ERR_MAX + 128];
            snprintf(msg, sizeof msg, "%s; retrying with a token budget of %d", e.msg, nt);
            note(ctx, msg);
        }
        T = nt;
    }
}
