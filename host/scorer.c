/* scorer.c - the batch scorer behind `vkbert score`/`eval`/`classify`.
 *
 * Pipeline (declared in vkbert.h, "batch scorer" section):
 *   caller thread   vkb_scorer_add_*() fills a window of inputs;
 *   tokenizer(s)    tokenize whole windows (several windows in flight, so
 *                   tokenizing window k+1 overlaps the forwards of window k);
 *   run thread      sorts a window by token length (longest first, so an
 *                   out-of-memory shows up on the first batch), cuts it into
 *                   batches with B*L <= the token budget, runs the backend and
 *                   delivers the window's results in submission order.
 * Windows reach the run thread strictly in order (by id), so results are in
 * input order without any global reordering buffer.  All state lives in the
 * vkb_scorer; the library never prints (messages go to opts.note). */
#define _GNU_SOURCE
#include "vkbert.h"
#include "backend.h"
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
} window;

struct vkb_scorer {
    vkb_backend *be;
    const vkb_tokenizer *tok;
    int n_labels, pad_id, max_len, budget, wcap, no_sort, nthreads, pad_mul;
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
    uint64_t next_run;             /* id of the window the run thread wants */
    int inflight, max_inflight;    /* windows dispatched and not yet done */
    int closing, stop, failed, joined;
    vkb_error ferr;
    pthread_t *threads;            /* nthreads tokenizers + 1 run thread */
    int n_started;
    int inited;                    /* mu/cv initialized */
    vkb_scorer_stats st;

    /* run-thread scratch, sized once */
    int32_t *bids, *blens;
    float *blogits;
    int bcap_tokens, bcap_seqs;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
    if (!x->ids) return vkb_fail(err, "scorer: out of memory tokenizing item");
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
        vkb_error e = {{0}};
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

/* ---- run thread ----------------------------------------------------------- */

typedef struct { int n; int idx; } len_idx;

static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int is_oom(const char *msg) {
    return strstr(msg, "out of device memory") || strstr(msg, "OUT_OF_DEVICE_MEMORY") ||
           strstr(msg, "out of memory") || strstr(msg, "OUT_OF_HOST_MEMORY");
}

static int run_window(vkb_scorer *s, window *w, int *delivered, vkb_error *err) {
    int nl = s->n_labels, m = 0;
    len_idx *order = malloc(sizeof(len_idx) * (size_t)(w->n ? w->n : 1));
    float *logits = malloc(sizeof(float) * (size_t)nl * (size_t)(w->n ? w->n : 1));
    if (!order || !logits) {
        free(order); free(logits);
        return vkb_fail(err, "scorer: out of memory");
    }
    for (int i = 0; i < w->n; i++)
        if (!w->it[i].skip) { order[m].n = w->it[i].n; order[m].idx = i; m++; }
    if (!s->no_sort) qsort(order, (size_t)m, sizeof *order, cmp_len_desc);

    int pos = 0, rc = 0;
    while (pos < m) {
        pthread_mutex_lock(&s->mu);
        int stop = stopping_locked(s);
        int budget = s->budget;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        /* Greedy batch: add sequences while B * L stays within the budget
         * (one sequence always fits; it is at most max_len long). */
        int B = 0, L = 0;
        while (pos + B < m && B < s->bcap_seqs) {
            int l2 = order[pos + B].n > L ? order[pos + B].n : L;
            if (s->pad_mul > 1) {
                l2 = (l2 + s->pad_mul - 1) / s->pad_mul * s->pad_mul;
                if (l2 > s->max_len) l2 = s->max_len > L ? s->max_len : L;
            }
            if (B > 0 && (long)(B + 1) * l2 > budget) break;
            L = l2;
            B++;
        }
        for (int b = 0; b < B; b++) {
            const item *x = &w->it[order[pos + b].idx];
            int32_t *row = s->bids + (size_t)b * L;
            memcpy(row, x->ids, sizeof(int32_t) * (size_t)x->n);
            for (int p = x->n; p < L; p++) row[p] = s->pad_id;
            s->blens[b] = x->n;
        }
        vkb_batch batch = {B, L, s->bids, s->blens};
        vkb_outputs out = {s->blogits, NULL};
        vkb_error fe = {{0}};
        double t0 = now_s();
        int frc = vkb_forward(s->be, &batch, &out, &fe);
        double dt = now_s() - t0;
        if (frc) {
            if (is_oom(fe.msg) && B > 1) {
                int nb = (B * L) / 2;
                if (nb < L) nb = L;
                pthread_mutex_lock(&s->mu);
                if (nb < s->budget) s->budget = nb;
                s->st.batch_tokens = s->budget;
                pthread_mutex_unlock(&s->mu);
                if (s->note) {
                    char msg[VKB_ERR_MAX + 128];
                    snprintf(msg, sizeof msg,
                             "%s; retrying with a token budget of %d (batch %dx%d failed)",
                             fe.msg, nb, B, L);
                    s->note(s->ctx, msg);
                }
                continue; /* same pos, smaller batches */
            }
            rc = vkb_fail(err, "%s (batch of %d sequences x %d tokens)", fe.msg, B, L);
            break;
        }
        for (int b = 0; b < B; b++)
            memcpy(logits + (size_t)order[pos + b].idx * nl, s->blogits + (size_t)b * nl,
                   sizeof(float) * (size_t)nl);
        pthread_mutex_lock(&s->mu);
        s->st.batches++;
        s->st.padded_tokens += (uint64_t)B * (uint64_t)L;
        for (int b = 0; b < B; b++) s->st.real_tokens += (uint64_t)order[pos + b].n;
        s->st.forward_seconds += dt;
        pthread_mutex_unlock(&s->mu);
        pos += B;
    }
    free(order);
    if (rc == 0 && pos >= m) {
        /* Deliver in submission order; stop as soon as asked to. */
        for (int i = 0; i < w->n; i++) {
            pthread_mutex_lock(&s->mu);
            int stop = stopping_locked(s);
            if (!stop && !w->it[i].skip) s->st.items++;
            pthread_mutex_unlock(&s->mu);
            if (stop) break;
            const item *x = &w->it[i];
            vkb_score r = {w->base + (uint64_t)i, x->user,
                           x->skip ? NULL : logits + (size_t)i * nl, nl, x->n, x->truncated};
            *delivered = i + 1;
            if (s->fn && s->fn(s->ctx, &r)) {
                pthread_mutex_lock(&s->mu);
                s->stop = 1;
                pthread_cond_broadcast(&s->cv);
                pthread_mutex_unlock(&s->mu);
                break;
            }
        }
    }
    free(logits);
    return rc;
}

static void *run_main(void *arg) {
    vkb_scorer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        window *w = NULL, **pp;
        for (;;) {
            if (stopping_locked(s)) break;
            for (pp = &s->ready; *pp; pp = &(*pp)->next)
                if ((*pp)->id == s->next_run) break;
            if (*pp) { w = *pp; *pp = w->next; w->next = NULL; break; }
            if (s->closing && s->inflight == 0) break;
            timed_wait(s);
        }
        if (!w) break;
        pthread_mutex_unlock(&s->mu);
        vkb_error e = {{0}};
        int delivered = 0;
        int rc = run_window(s, w, &delivered, &e);
        free_window_from(s, w, delivered);
        pthread_mutex_lock(&s->mu);
        s->next_run++;
        s->inflight--;
        if (rc) fail_locked(s, &e);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- public API ----------------------------------------------------------- */

int vkb_scorer_create(vkb_backend *be, const vkb_scorer_opts *opts, vkb_score_fn fn,
                      void *ctx, vkb_scorer **out, vkb_error *err) {
    *out = NULL;
    if (!be || !be->model) return vkb_fail(err, "scorer: no backend");
    const vkb_config *c = &be->model->cfg;
    if (c->n_labels <= 0)
        return vkb_fail(err, "scorer: the model has no classifier head (n_labels = 0)");
    vkb_scorer_opts def = {0};
    if (!opts) opts = &def;
    vkb_scorer *s = calloc(1, sizeof *s);
    if (!s) return vkb_fail(err, "scorer: out of memory");
    s->be = be;
    s->tok = be->model->tok;
    s->n_labels = c->n_labels;
    s->pad_id = c->pad_token_id;
    int ml = opts->max_len;
    if (ml <= 0) {
        ml = 512;
        if (s->tok && vkb_tokenizer_max_len(s->tok) > 0 && vkb_tokenizer_max_len(s->tok) < ml)
            ml = vkb_tokenizer_max_len(s->tok);
    }
    if (ml > c->max_pos) ml = c->max_pos;
    if (ml < 2) { free(s); return vkb_fail(err, "scorer: max_len %d is below 2", ml); }
    s->max_len = ml;
    s->budget = opts->batch_tokens > 0 ? opts->batch_tokens : 8192;
    if (s->budget < ml) s->budget = ml;
    s->wcap = opts->window > 0 ? opts->window : 2048;
    s->no_sort = opts->no_sort;
    s->nthreads = opts->threads > 0 ? opts->threads : 1;
    if (s->nthreads > 64) s->nthreads = 64;
    s->pad_mul = opts->pad_multiple > 1 ? opts->pad_multiple : 1;
    s->fn = fn;
    s->ctx = ctx;
    s->note = opts->note;
    s->interrupt = opts->interrupt;
    s->drop_user = opts->drop_user;
    s->max_inflight = s->nthreads + 2;
    s->st.batch_tokens = s->budget;
    s->bcap_tokens = s->budget;
    s->bcap_seqs = s->budget / 2 > 0 ? s->budget / 2 : 1; /* every sequence has >= 2 ids */
    s->bids = malloc(sizeof(int32_t) * (size_t)s->bcap_tokens);
    s->blens = malloc(sizeof(int32_t) * (size_t)s->bcap_seqs);
    s->blogits = malloc(sizeof(float) * (size_t)s->bcap_seqs * (size_t)s->n_labels);
    s->threads = calloc((size_t)s->nthreads + 1, sizeof(pthread_t));
    if (!s->bids || !s->blens || !s->blogits || !s->threads) {
        vkb_scorer_free(s);
        return vkb_fail(err, "scorer: out of memory for a token budget of %d", s->budget);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->inited = 1;
    /* Scorer threads take no signals: the application's threads handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (int i = 0; i <= s->nthreads && rc == 0; i++) {
        rc = pthread_create(&s->threads[i], NULL, i < s->nthreads ? tok_main : run_main, s);
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
        if (!w || !w->it) { free(w); vkb_fail(err, "scorer: out of memory"); return NULL; }
        w->cap = cap;
        w->base = s->next_index;
        s->cur = w;
    }
    window *w = s->cur;
    if (w->n == w->cap) {
        int cap = w->cap * 2 > s->wcap ? s->wcap : w->cap * 2;
        item *it = realloc(w->it, sizeof(item) * (size_t)cap);
        if (!it) { vkb_fail(err, "scorer: out of memory"); return NULL; }
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
    /* The item is taken either way: if the pipeline has stopped, dispatch
     * drops the window (drop_user) and the next add reports the stop. */
    if (s->cur->n >= s->wcap) {
        vkb_error e;
        dispatch(s, &e);
    }
    (void)err;
    return 0;
}

int vkb_scorer_add_text(vkb_scorer *s, const char *text, size_t len, void *user,
                        vkb_error *err) {
    if (!s->tok) return vkb_fail(err, "scorer: the model has no tokenizer (vocab.txt)");
    item *x = new_item(s, err);
    if (!x) return -1;
    x->text = malloc(len + 1);
    if (!x->text) return vkb_fail(err, "scorer: out of memory for a text of %zu bytes", len);
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
    if (!x->ids) return vkb_fail(err, "scorer: out of memory");
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

static void join_all(vkb_scorer *s) {
    if (s->joined) return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_started; i++) pthread_join(s->threads[i], NULL);
    s->joined = 1;
}

int vkb_scorer_finish(vkb_scorer *s, vkb_error *err) {
    int rc = 0;
    if (s->cur && s->cur->n > 0) {
        vkb_error e = {{0}};
        dispatch(s, &e); /* a failure is reported below from s->ferr */
    } else {
        free_window_from(s, s->cur, 0);
        s->cur = NULL;
    }
    join_all(s);
    if (s->failed) {
        if (err) *err = s->ferr;
        rc = -1;
    }
    return rc;
}

void vkb_scorer_cancel(vkb_scorer *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
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
    if (s->inited) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free(s->threads);
    free(s->bids);
    free(s->blens);
    free(s->blogits);
    free(s);
}
