/* cli_serve.c - `vkbert serve`: an HTTP server on one loaded model with the
 * request and response JSON of Hugging Face's text-embeddings-inference
 * (TEI), so that TEI clients work unchanged.  HTTP is libmicrohttpd's (one
 * thread per connection); this file only routes, validates and answers.
 *
 * Dynamic batching: a /predict handler tokenizes its inputs on its own
 * connection thread (so tokenizing runs on many cores), queues them and
 * waits.  One batcher thread moves everything queued into the library's
 * scorer and flushes it as one window (vkb_scorer_flush), which the scorer
 * sorts by length and cuts into token-budget batches as for `vkbert score`;
 * the scorer's worker runs them on the device.  One window is in flight at
 * a time (MAX_WINDOWS): while the device is busy, requests pile up in the
 * queue and the next window takes them all, so the batch size follows the
 * load, batches group similar lengths, and an idle server answers a lone
 * request at once.  (With two windows in flight the device never waits for
 * the batcher, but under load each window is half as large and padding
 * grows: bench/serve_bench.py measured 8 clients slower that way.)
 *
 * POST /embed runs the same way on a lane of its own (a second backend and
 * a scorer opened with pooling: the model's sentence-transformers pooling,
 * else mean, as `vkbert embed`), so embedding requests are grouped and
 * budgeted among themselves; "normalize" (default true, as TEI) is applied
 * per request to the pooled vectors, with the scorer's arithmetic.
 *
 * Several devices (--device LIST, as score): one /predict lane per device
 * (this struct again: its own backend, token budget, scorer and batcher
 * thread), all sharing the front's mutex, condition and queue; a lane takes
 * the next window when its own is done.  A lane lost for good stops taking
 * windows; /health says "degraded" (200) until every lane is lost (503).
 *
 * Failures: a forward that fails (device lost, ...) fails only the requests
 * whose inputs were not scored, with 503/500 and the message; the scorer is
 * then rebuilt (the backend reopened after a lost device).  Out of device
 * memory halves the token budget inside the scorer.  FAILS_FOR_LOST
 * failures in a row without one scored input mark the device lost for good:
 * /health and /predict answer 503 from then on.
 *
 * Lifecycle: SIGTERM/SIGINT stop accepting connections, answer requests on
 * open connections with 503, finish the requests in flight and exit 0. */
#define _GNU_SOURCE
#include "cli.h"
#include "clock.h"
#include "vkb_git.h" /* VKB_GIT_COMMIT */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEF_PORT 8080
#define DEF_MAX_CONC 512
#define DEF_MAX_BODY (4 << 20)
#define DEF_TIMEOUT 30
#define DEF_BATCH_COST 256    /* --batch-cost-tokens */
#define MAX_CLIENT_BATCH 1024 /* inputs in one request (TEI: max_client_batch_size) */
#define MAX_WINDOWS 1         /* flushed windows in flight */
#define FAILS_FOR_LOST 3      /* failed reopenings in a row: the device is lost */
#define SHUTDOWN_WAIT_S 120
#define MAX_DEVICES 64        /* --device list entries (as score) */   /* most time given to requests in flight at exit */

static const double lat_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,    10,   30};
#define N_LAT (int)(sizeof lat_le / sizeof lat_le[0])
static const int bsz_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
#define N_BSZ (int)(sizeof bsz_le / sizeof bsz_le[0])

/* error kinds, for the JSON body's "error_type" and /metrics */
enum { E_VALIDATION, E_TOO_LARGE, E_OVERLOADED, E_BACKEND, E_UNHEALTHY, E_SHUTDOWN,
       E_NOT_FOUND, E_METHOD, N_KINDS };
static const char *const kind_name[N_KINDS] = {"validation", "too_large", "overloaded", "backend",
                                               "unhealthy", "shutting_down", "not_found",
                                               "method_not_allowed"};

typedef struct request {
    int n, nl;
    float *logits;      /* [n * nl] */
    int left;           /* inputs not answered yet (under server.mu) */
    int status;         /* 0, or the HTTP status of a failure */
    char msg[VKB_ERR_MAX + 512];
    pthread_cond_t cv;
} request;

struct server;
typedef struct qitem {  /* one input, queued and then the scorer's user pointer */
    struct qitem *next;
    struct server *S;
    request *r;
    int idx, n;
    int32_t *ids;
} qitem;

typedef struct server {
    const cli_opts *o;
    vkb_model *m;
    const vkb_config *cfg;
    const vkb_tokenizer *tok;
    vkb_backend *be;
    vkb_scorer *s;         /* NULL while being rebuilt */
    vkb_scorer_opts so;
    int max_len, budget, window, max_conc, max_body;
    char device[256];
    char prec[8];          /* the precision the backend runs in: fp32, fp16, bf16, int8 */
    const char *model_id;

    /* mu, qcv: this lane's own (mu_own, qcv_own), or for the /predict lanes
     * of a device list the front's (lane 0 = the server struct itself) */
    pthread_mutex_t *mu, mu_own;
    pthread_cond_t *qcv, qcv_own;  /* the queue or the deliveries moved */
    struct server *front;  /* the lane that owns the queue (qh, qt, qn, q_since) */
    struct server **lanes; /* front only: its /predict lanes, one per device */
    int n_lanes;
    int lane;              /* this lane's index (the /metrics label) */
    const char *dev_spec;  /* --device list entry; NULL: cli_backend_opts' choice */
    qitem *qh, *qt;        /* waiting for the batcher */
    int qn;
    uint64_t added, delivered;   /* inputs given to / answered by the current scorer */
    uint64_t wend[MAX_WINDOWS + 1];
    int wn;                      /* flushed windows in flight: their cumulative ends */
    /* the adaptive wait: the last window's size and time on the device */
    int last_n;
    double last_dt, flush_t, q_since;
    int stop, lost, fails_in_row, shutting_down;
    char lost_msg[VKB_ERR_MAX + 512];
    int fail_status;             /* for the inputs a failed scorer drops */
    char fail_msg[VKB_ERR_MAX];
    vkb_scorer_stats past;       /* stats of the scorers before the current one */
    /* metrics */
    int in_flight, active;
    uint64_t n_requests, n_success, n_inputs, reopens;
    uint64_t errors[N_KINDS];
    uint64_t lat_bucket[N_LAT + 1], lat_n;
    double lat_sum;
    uint64_t bsz_bucket[N_BSZ + 1], bsz_n, bsz_sum;
    double t_start;
    /* POST /embed: a second lane (this struct again, with its own backend,
     * scorer opened with pooling, queue and batcher thread), so that
     * embedding requests are length-grouped and token-budgeted among
     * themselves; requests, errors and latency are counted on the main one */
    struct server *emb;
    vkb_pooling pooling;
    int dim;
    uint64_t n_embed_requests, n_embed_success;
    /* the /embed lane's device is opened on the first POST /embed (a model
     * with a classifier) or at start (a base model): open_mu, opened */
    pthread_mutex_t open_mu;
    int opened;
} server;

typedef struct conn {   /* one HTTP request */
    char *body;
    size_t n, cap;
    int too_large, replied;
    int counted; /* 1: holds one of the --max-concurrent-requests slots; 2: held
                    one, released when its answer was queued (release_slot) */
    double t0;
} conn;

/* Gives the request's slot back once its answer is queued.  libmicrohttpd
 * reports the request completed (on_completed) only after the answer is
 * sent, which under load came after the client had read it and sent its
 * next request: a client sending one request at a time could be refused
 * 429 (stop 19, under ASan).  The slot counts the work, not the sending. */
static void release_slot(server *S, conn *k) {
    pthread_mutex_lock(S->mu);
    if (k->counted == 1) {
        S->in_flight--;
        k->counted = 2;
    }
    pthread_mutex_unlock(S->mu);
}

/* ---- responses ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             cli_buf *b, int close_conn) {
    struct MHD_Response *r = MHD_create_response_from_buffer(b->n, b->p, MHD_RESPMEM_MUST_FREE);
    if (!r) { free(b->p); return MHD_NO; }
    b->p = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (close_conn) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* TEI's error body: {"error": "...", "error_type": "..."} */
static enum MHD_Result reply_error(server *S, struct MHD_Connection *c, unsigned status, int kind,
                                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result reply_error(server *S, struct MHD_Connection *c, unsigned status, int kind,
                                   const char *fmt, ...) {
    char msg[VKB_ERR_MAX + 1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(S->mu);
    S->errors[kind]++;
    int closing = S->shutting_down;
    pthread_mutex_unlock(S->mu);
    cli_buf b = {0};
    cb_puts(&b, "{\"error\":");
    cb_json_str(&b, msg);
    cb_puts(&b, ",\"error_type\":");
    cb_json_str(&b, kind_name[kind]);
    cb_puts(&b, "}\n");
    return reply(c, status, "application/json", &b, closing || status == MHD_HTTP_CONTENT_TOO_LARGE);
}

static void put_float(cli_buf *b, float f) {
    char t[40];
    vkb_float_repr(f, t, sizeof t);
    cb_puts(b, t);
}

static void put_label(cli_buf *b, const vkb_config *cfg, int i) {
    if (cfg->labels && cfg->labels[i]) {
        cb_json_str(b, cfg->labels[i]);
    } else {
        char t[32];
        snprintf(t, sizeof t, "LABEL_%d", i);
        cb_json_str(b, t);
    }
}

/* TEI's predictions for one input: [{"score": s, "label": L}, ...], best
 * first; scores are the softmax (as `vkbert score`'s "score") or, with
 * raw_scores, the logits. */
static void put_predictions(cli_buf *b, const vkb_config *cfg, const float *logits, int nl,
                            int raw) {
    float p[nl];
    int order[nl];
    memcpy(p, logits, sizeof(float) * (size_t)nl);
    if (!raw) vkb_softmax(p, nl);
    for (int i = 0; i < nl; i++) {
        int j = i;
        while (j > 0 && p[order[j - 1]] < p[i]) { order[j] = order[j - 1]; j--; }
        order[j] = i;
    }
    cb_puts(b, "[");
    for (int i = 0; i < nl; i++) {
        cb_puts(b, i ? ",{\"score\":" : "{\"score\":");
        put_float(b, p[order[i]]);
        cb_puts(b, ",\"label\":");
        put_label(b, cfg, order[i]);
        cb_puts(b, "}");
    }
    cb_puts(b, "]");
}

/* ---- the batcher ------------------------------------------------------------ */

/* Scorer callback (a scorer thread): the result of one input. */
static int on_result(void *ctx, const vkb_score *sc) {
    server *S = ctx;
    qitem *q = sc->user;
    request *r = q->r;
    const float *v = sc->embedding ? sc->embedding : sc->logits; /* an embedding has r->nl = dim */
    if (v) memcpy(r->logits + (size_t)q->idx * r->nl, v, sizeof(float) * (size_t)r->nl);
    pthread_mutex_lock(S->mu);
    S->delivered++;
    S->fails_in_row = 0;
    if (--r->left == 0) pthread_cond_signal(&r->cv);
    pthread_cond_broadcast(S->qcv);
    pthread_mutex_unlock(S->mu);
    free(q);
    return 0;
}

/* Caller holds mu: input q fails with the status and message given. */
static void fail_item_locked(server *S, qitem *q, int status, const char *msg) {
    (void)S;
    request *r = q->r;
    if (!r->status) {
        r->status = status;
        snprintf(r->msg, sizeof r->msg, "%s", msg);
    }
    if (--r->left == 0) pthread_cond_signal(&r->cv);
    free(q->ids);
    free(q);
}

/* Scorer drop_user: an input the failed scorer did not score. */
static void on_drop(void *user) {
    qitem *q = user;
    server *S = q->S;
    pthread_mutex_lock(S->mu);
    S->delivered++;
    fail_item_locked(S, q, S->fail_status ? S->fail_status : 503,
                     S->fail_msg[0] ? S->fail_msg : "the device failed while scoring this input");
    pthread_cond_broadcast(S->qcv);
    pthread_mutex_unlock(S->mu);
}

static void on_note(void *ctx, const char *msg) {
    server *S = ctx;
    if (!S->o->quiet) fprintf(stderr, "vkbert serve: note: %s\n", msg);
}

/* Opens the device (into *be, with its description in dev); the caller
 * publishes them under mu, since /info reads the description. */
static int open_backend(server *S, vkb_backend **be, char *dev, size_t devsz) {
    vkb_backend_opts bo;
    cli_backend_opts(S->o, S->max_len, &bo);
    if (S->dev_spec) bo.device = S->dev_spec;
    cli_auto_tune(S->o, S->m, &bo); /* this lane's device */
    vkb_error e = {0};
    int t = 0;
    if (vkb_backend_create_fit(S->m, &bo, on_note, S, be, &t, &e)) {
        fprintf(stderr, "vkbert serve: cannot open device %s: %s\n", bo.device, e.msg);
        pthread_mutex_lock(S->mu);
        snprintf(S->lost_msg, sizeof S->lost_msg, "cannot open device %s: %s", bo.device, e.msg);
        pthread_mutex_unlock(S->mu);
        return -1;
    }
    vkb_bench_info bi;
    const char *prec = vkb_backend_bench_info(*be, &bi, &e) == 0 ? bi.precision : "fp32";
    cli_backend_note(S->o, *be);
    pthread_mutex_lock(S->mu);
    if (t < S->budget) S->budget = t;
    snprintf(S->prec, sizeof S->prec, "%s", prec);
    pthread_mutex_unlock(S->mu);
    snprintf(dev, devsz, "%s", vkb_backend_device(*be));
    return 0;
}

static int open_scorer(server *S, vkb_backend *be, vkb_scorer **s);

/* The /embed lane's device and scorer, opened by the first caller (the
 * first POST /embed; at start for a base model).  On failure the lane is
 * marked lost: its requests get 503 with the reason. */
static void open_embed_lane(server *E) {
    pthread_mutex_lock(&E->open_mu);
    if (!E->opened) {
        E->opened = 1;
        vkb_backend *be = NULL;
        vkb_scorer *s = NULL;
        char dev[sizeof E->device];
        int bad = open_backend(E, &be, dev, sizeof dev);
        if (!bad) bad = open_scorer(E, be, &s);
        if (bad) vkb_backend_free(be);
        pthread_mutex_lock(E->mu);
        if (bad) {
            E->lost = 1;
        } else {
            E->be = be;
            E->s = s;
            snprintf(E->device, sizeof E->device, "%s", dev);
            E->past.batch_tokens = E->budget;
        }
        pthread_mutex_unlock(E->mu);
        if (!bad && !E->o->quiet) fprintf(stderr, "vkbert serve: /embed: opened %s\n", dev);
    }
    pthread_mutex_unlock(&E->open_mu);
}

static int open_scorer(server *S, vkb_backend *be, vkb_scorer **s) {
    S->so.batch_tokens = S->budget;
    vkb_error e = {0};
    if (vkb_scorer_create(be, &S->so, on_result, S, s, &e)) {
        fprintf(stderr, "vkbert serve: cannot start the scorer: %s\n", e.msg);
        pthread_mutex_lock(S->mu);
        snprintf(S->lost_msg, sizeof S->lost_msg, "cannot start the scorer: %s", e.msg);
        pthread_mutex_unlock(S->mu);
        return -1;
    }
    return 0;
}

static void add_stats(vkb_scorer_stats *a, const vkb_scorer_stats *b) {
    a->items += b->items;
    a->real_tokens += b->real_tokens;
    a->padded_tokens += b->padded_tokens;
    a->batches += b->batches;
    a->forward_seconds += b->forward_seconds;
}

/* Caller holds mu.  The scorer failed (err): its unscored inputs fail with
 * the message, then it is rebuilt (the device reopened after a lost device);
 * after FAILS_FOR_LOST failures in a row the device is lost for good. */
static void scorer_failed_locked(server *S, const vkb_error *err) {
    S->fail_status = err->code == VKB_ERR_DEVICE_LOST || err->code == VKB_ERR_DEVICE_OOM ? 503 : 500;
    snprintf(S->fail_msg, sizeof S->fail_msg, "%s", err->msg);
    vkb_scorer *s = S->s;
    S->s = NULL;
    S->fails_in_row++;
    int lost_now = S->fails_in_row >= FAILS_FOR_LOST;
    pthread_mutex_unlock(S->mu);
    fprintf(stderr, "vkbert serve: scoring failed: %s; %s\n", err->msg,
            lost_now ? "giving up on the device" : err->code == VKB_ERR_DEVICE_LOST
                                                       ? "reopening the device" : "restarting the scorer");
    vkb_error e2 = {0};
    (void)vkb_scorer_finish(s, &e2); /* answers what was scored, drops the rest */
    vkb_scorer_stats st;
    vkb_scorer_get_stats(s, &st);
    vkb_scorer_free(s);
    int bad = lost_now;
    vkb_backend *be = S->be; /* the batcher's: nothing else uses it */
    vkb_scorer *ns = NULL;
    char dev[sizeof S->device];
    snprintf(dev, sizeof dev, "%s", "(none)");
    if (!bad && err->code == VKB_ERR_DEVICE_LOST) {
        vkb_backend_free(be);
        be = NULL;
        bad = open_backend(S, &be, dev, sizeof dev);
    }
    if (!bad) bad = open_scorer(S, be, &ns);
    pthread_mutex_lock(S->mu);
    S->be = be;
    S->s = ns;
    /* (a lane of a device list keeps its device's name once lost: /metrics
     * labels and /health name it) */
    if (err->code == VKB_ERR_DEVICE_LOST && !(bad && S->front->n_lanes > 1))
        snprintf(S->device, sizeof S->device, "%s", dev);
    add_stats(&S->past, &st);
    S->past.batch_tokens = st.batch_tokens;
    S->added = S->delivered = 0;
    S->wn = 0;
    S->fail_status = 0;
    S->fail_msg[0] = 0;
    if (bad) {
        S->lost = 1;
        if (lost_now)
            snprintf(S->lost_msg, sizeof S->lost_msg, "the device failed %d times in a row: %s",
                     FAILS_FOR_LOST, err->msg);
    } else {
        S->reopens++;
    }
}

/* Caller holds mu: every /predict lane (device) of the front F is lost. */
static int all_lost_locked(const server *F) {
    if (F->n_lanes <= 1) return F->lost;
    for (int i = 0; i < F->n_lanes; i++)
        if (!F->lanes[i]->lost) return 0;
    return 1;
}

static void *batcher_main(void *arg) {
    server *S = arg;    /* this lane: its device's scorer */
    server *F = S->front; /* the queue, shared by the /predict lanes */
    pthread_mutex_lock(S->mu);
    for (;;) {
        int done = 0;
        while (done < S->wn && S->wend[done] <= S->delivered) done++;
        if (done) {
            memmove(S->wend, S->wend + done, sizeof(uint64_t) * (size_t)(S->wn - done));
            S->wn -= done;
            S->last_dt = vkb_now_s() - S->flush_t;
        }
        if (S->lost && all_lost_locked(F)) { /* no lane left to take the queue */
            while (F->qh) {
                qitem *q = F->qh;
                F->qh = q->next;
                fail_item_locked(S, q, 503, S->lost_msg);
            }
            F->qt = NULL;
            F->qn = 0;
        }
        /* The device is free.  When fewer requests are queued than the last
         * window held, the clients that were answered are probably sending
         * their next ones: wait for them a little (at most a tenth of the
         * last window's time, and 20 ms), so that the next window is not a
         * handful of texts followed by the rest.  A lone client is never
         * kept waiting (its last window held one text). */
        double wait_until = F->q_since + (S->last_dt * 0.1 < 0.02 ? S->last_dt * 0.1 : 0.02);
        int refill = F->qh && F->qn < S->last_n && !S->stop && vkb_now_s() < wait_until;
        if (F->qh && S->s && !S->lost && S->wn < MAX_WINDOWS && !refill) {
            /* the next window: everything queued (at most a scorer window),
             * taken by whichever device's lane is free first */
            qitem *list = F->qh, *last = F->qh;
            int k = 1;
            last->S = S;
            while (last->next && k < S->window) { last = last->next; last->S = S; k++; }
            F->qh = last->next;
            if (!F->qh) F->qt = NULL;
            last->next = NULL;
            F->qn -= k;
            pthread_mutex_unlock(S->mu);
            vkb_error e = {0};
            int rc = 0, added = 0;
            for (qitem *q = list, *next; q; q = next) {
                next = q->next;
                q->next = NULL;
                if (!rc) rc = vkb_scorer_add_ids(S->s, q->ids, q->n, q, &e);
                free(q->ids);
                q->ids = NULL;
                if (rc) {
                    pthread_mutex_lock(S->mu);
                    fail_item_locked(S, q, e.code == VKB_ERR_DEVICE_LOST ? 503 : 500, e.msg);
                    pthread_mutex_unlock(S->mu);
                } else {
                    added++;
                }
            }
            if (!rc) rc = vkb_scorer_flush(S->s, &e);
            pthread_mutex_lock(S->mu);
            S->added += (uint64_t)added;
            if (added) {
                S->bsz_n++;
                S->bsz_sum += (uint64_t)added;
                int bi = 0;
                while (bi < N_BSZ && added > bsz_le[bi]) bi++;
                S->bsz_bucket[bi]++;
            }
            if (!rc) {
                S->wend[S->wn++] = S->added;
                S->flush_t = vkb_now_s();
                S->last_n = added;
            }
            if (F->qh) F->q_since = vkb_now_s();
            if (rc) scorer_failed_locked(S, &e);
            continue;
        }
        if (S->stop && (!F->qh || S->lost) && S->wn == 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (refill ? 1 : 20) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(S->qcv, S->mu, &ts);
        if (S->wn > 0 && S->s) {
            /* inputs in flight: a flush with nothing new says whether the
             * scorer has stopped (a failed forward) */
            pthread_mutex_unlock(S->mu);
            vkb_error e = {0};
            int rc = vkb_scorer_flush(S->s, &e);
            pthread_mutex_lock(S->mu);
            if (rc) scorer_failed_locked(S, &e);
        }
    }
    pthread_mutex_unlock(S->mu);
    return NULL;
}

/* ---- /predict ------------------------------------------------------------------ */

static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int k = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (k < 0 || n - i <= (size_t)k) return 0;
        unsigned cp = c & (0x3Fu >> k);
        for (int j = 1; j <= k; j++) {
            if ((s[i + (size_t)j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + (size_t)j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

/* An optional boolean member: 0 (absent or null: *v unchanged) or -1. */
static int opt_bool(const cJSON *root, const char *name, int *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!x || cJSON_IsNull(x)) return 0;
    if (!cJSON_IsBool(x)) return -1;
    *v = cJSON_IsTrue(x);
    return 0;
}

/* POST /predict, or with embed POST /embed (queued on the embedding lane
 * S->emb; "normalize" instead of "raw_scores"; TEI's [[f, ...], ...]). */
static enum MHD_Result predict(server *S, struct MHD_Connection *c, conn *k, int embed) {
    server *Q = embed ? S->emb : S; /* the lane: queue, scorer */
    if (embed) open_embed_lane(Q);
    if (!embed && S->cfg->n_labels <= 0)
        return reply_error(S, c, MHD_HTTP_BAD_REQUEST, E_VALIDATION,
                           "the model has no classifier head (a base model): it serves POST /embed only");
    if (k->too_large)
        return reply_error(S, c, MHD_HTTP_CONTENT_TOO_LARGE, E_TOO_LARGE,
                           "the request body is larger than %d bytes (--max-body-bytes)", S->max_body);
    const char *perr = NULL;
    if (k->n) k->body[k->n] = 0; /* room kept; the NUL ends the JSON (no trailing bytes) */
    cJSON *root = k->n ? cJSON_ParseWithLengthOpts(k->body, k->n + 1, &perr, 1) : NULL;
    if (!root) {
        if (!k->n)
            return reply_error(S, c, MHD_HTTP_UNPROCESSABLE_CONTENT, E_VALIDATION,
                               "empty request body (expected JSON: {\"inputs\": ...})");
        long at = perr && perr >= k->body ? (long)(perr - k->body) : 0;
        return reply_error(S, c, MHD_HTTP_UNPROCESSABLE_CONTENT, E_VALIDATION,
                           "malformed JSON at byte %ld of the request body", at);
    }
    enum MHD_Result ret;
    const char *bad = NULL;
    char badbuf[160];
    int truncate = 0, raw = 0, single = 0, n = 0, normalize = 1;
    const cJSON *inputs = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "inputs") : NULL;
    const cJSON *dir = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "truncation_direction") : NULL;
    if (!cJSON_IsObject(root)) bad = "the request body must be a JSON object with \"inputs\"";
    else if (!inputs) bad = "missing \"inputs\" (a string or an array of strings)";
    else if (opt_bool(root, "truncate", &truncate)) bad = "\"truncate\" must be a boolean";
    else if (!embed && opt_bool(root, "raw_scores", &raw)) bad = "\"raw_scores\" must be a boolean";
    else if (embed && opt_bool(root, "normalize", &normalize)) bad = "\"normalize\" must be a boolean";
    else if (dir && !cJSON_IsNull(dir) &&
             !(cJSON_IsString(dir) && (!strcmp(dir->valuestring, "Right") || !strcmp(dir->valuestring, "right"))))
        bad = "\"truncation_direction\": only \"Right\" is supported";
    else if (cJSON_IsString(inputs)) { single = 1; n = 1; }
    else if (cJSON_IsArray(inputs)) {
        n = cJSON_GetArraySize(inputs);
        if (n == 0) bad = "\"inputs\" is an empty array";
        else if (n > MAX_CLIENT_BATCH) {
            snprintf(badbuf, sizeof badbuf, "batch size %d is larger than the maximum of %d inputs per request",
                     n, MAX_CLIENT_BATCH);
            bad = badbuf;
        }
    } else bad = "\"inputs\" must be a string or an array of strings";
    if (bad) {
        cJSON_Delete(root);
        return reply_error(S, c, MHD_HTTP_UNPROCESSABLE_CONTENT, E_VALIDATION, "%s", bad);
    }
    /* tokenize here, on this connection's thread */
    int cap = S->max_len + 1, nl = embed ? Q->dim : S->cfg->n_labels;
    qitem **items = calloc((size_t)n, sizeof *items);
    request r;
    memset(&r, 0, sizeof r);
    r.n = n;
    r.nl = nl;
    r.left = n;
    r.logits = malloc(sizeof(float) * (size_t)n * (size_t)nl);
    if (!items || !r.logits) {
        free(items);
        free(r.logits);
        cJSON_Delete(root);
        return reply_error(S, c, MHD_HTTP_INTERNAL_SERVER_ERROR, E_BACKEND, "out of memory");
    }
    unsigned status = 0;
    int kind = 0;
    char msg[256] = "";
    for (int i = 0; i < n && !status; i++) {
        const cJSON *x = single ? inputs : cJSON_GetArrayItem(inputs, i);
        if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 1) x = cJSON_GetArrayItem(x, 0);
        if (!cJSON_IsString(x)) {
            status = MHD_HTTP_UNPROCESSABLE_CONTENT;
            kind = E_VALIDATION;
            snprintf(msg, sizeof msg, cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2
                         ? "inputs[%d]: sentence pairs are not supported (one text per input)"
                         : "inputs[%d] must be a string", i);
            break;
        }
        size_t len = strlen(x->valuestring);
        if (len == 0 || !utf8_valid((const unsigned char *)x->valuestring, len)) {
            status = MHD_HTTP_UNPROCESSABLE_CONTENT;
            kind = E_VALIDATION;
            const char *what = len ? "is not valid UTF-8" : "is empty";
            if (single) snprintf(msg, sizeof msg, "\"inputs\" %s", what);
            else snprintf(msg, sizeof msg, "inputs[%d] %s", i, what);
            break;
        }
        qitem *q = calloc(1, sizeof *q);
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
        if (!q || !ids) {
            free(q);
            free(ids);
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            kind = E_BACKEND;
            snprintf(msg, sizeof msg, "out of memory");
            break;
        }
        int m = vkb_tokenize(S->tok, x->valuestring, len, cap, ids);
        if (m == cap) {
            if (!truncate) {
                free(q);
                free(ids);
                status = MHD_HTTP_CONTENT_TOO_LARGE;
                kind = E_VALIDATION;
                char where[32] = "\"inputs\"";
                if (!single) snprintf(where, sizeof where, "inputs[%d]", i);
                snprintf(msg, sizeof msg, "%s is longer than the maximum input length of %d tokens "
                         "(send \"truncate\": true to truncate it)", where, S->max_len);
                break;
            }
            /* as the scorer truncates: the first max_len-2 pieces, then [SEP] */
            ids[S->max_len - 1] = ids[cap - 1];
            m = S->max_len;
        }
        q->S = Q;
        q->r = &r;
        q->idx = i;
        q->n = m;
        q->ids = ids;
        items[i] = q;
    }
    cJSON_Delete(root);
    if (status) {
        for (int i = 0; i < n; i++)
            if (items[i]) { free(items[i]->ids); free(items[i]); }
        free(items);
        free(r.logits);
        return reply_error(S, c, status, kind, "%s", msg);
    }
    pthread_cond_init(&r.cv, NULL);
    pthread_mutex_lock(Q->mu);
    if (all_lost_locked(Q)) {
        char lmsg[sizeof Q->lost_msg];
        snprintf(lmsg, sizeof lmsg, "%s", Q->lost_msg);
        pthread_mutex_unlock(Q->mu);
        for (int i = 0; i < n; i++) { free(items[i]->ids); free(items[i]); }
        free(items);
        free(r.logits);
        pthread_cond_destroy(&r.cv);
        return reply_error(S, c, MHD_HTTP_SERVICE_UNAVAILABLE, E_UNHEALTHY, "%s", lmsg);
    }
    if (!Q->qh) Q->q_since = vkb_now_s();
    for (int i = 0; i < n; i++) {
        if (Q->qt) Q->qt->next = items[i]; else Q->qh = items[i];
        Q->qt = items[i];
    }
    Q->qn += n;
    Q->n_inputs += (uint64_t)n;
    pthread_cond_broadcast(Q->qcv);
    while (r.left > 0) pthread_cond_wait(&r.cv, Q->mu);
    int fail_kind = all_lost_locked(Q) ? E_UNHEALTHY : E_BACKEND;
    pthread_mutex_unlock(Q->mu);
    free(items);
    pthread_cond_destroy(&r.cv);
    if (r.status) {
        free(r.logits);
        return reply_error(S, c, (unsigned)r.status, fail_kind,
                           "%s", r.msg);
    }
    cli_buf b = {0};
    if (embed) {
        /* TEI: one vector per input, a lone string included */
        cb_puts(&b, "[");
        for (int i = 0; i < n; i++) {
            float *v = r.logits + (size_t)i * nl;
            if (normalize) vkb_l2_normalize(v, nl); /* as the scorer's normalize */
            cb_puts(&b, i ? ",[" : "[");
            for (int j = 0; j < nl; j++) {
                if (j) cb_puts(&b, ",");
                put_float(&b, v[j]);
            }
            cb_puts(&b, "]");
        }
        cb_puts(&b, "]");
    } else {
        if (!single) cb_puts(&b, "[");
        for (int i = 0; i < n; i++) {
            if (i) cb_puts(&b, ",");
            put_predictions(&b, S->cfg, r.logits + (size_t)i * nl, nl, raw);
        }
        if (!single) cb_puts(&b, "]");
    }
    cb_puts(&b, "\n");
    free(r.logits);
    pthread_mutex_lock(S->mu);
    S->n_success++;
    if (embed) S->n_embed_success++;
    int closing = S->shutting_down;
    pthread_mutex_unlock(S->mu);
    ret = reply(c, MHD_HTTP_OK, "application/json", &b, closing);
    return ret;
}

/* ---- /health, /info, /metrics ------------------------------------------------ */

static enum MHD_Result health(server *S, struct MHD_Connection *c) {
    pthread_mutex_lock(S->mu);
    int lost = all_lost_locked(S), closing = S->shutting_down;
    char msg[sizeof S->lost_msg + 32];
    snprintf(msg, sizeof msg, "%s", S->lost_msg);
    /* a device list with some devices lost for good: the others serve */
    cli_buf deg = {0};
    int n_lost = 0;
    for (int i = 0; i < S->n_lanes && !lost; i++) {
        server *L = S->lanes[i];
        if (!L->lost) continue;
        cb_puts(&deg, n_lost++ ? ",{\"device\":" : "{\"device\":");
        cb_json_str(&deg, L->device);
        cb_puts(&deg, ",\"error\":");
        cb_json_str(&deg, L->lost_msg);
        cb_puts(&deg, "}");
    }
    pthread_mutex_unlock(S->mu);
    if (!lost) {
        pthread_mutex_lock(S->emb->mu);
        lost = S->emb->lost;
        snprintf(msg, sizeof msg, "%s (the /embed lane)", S->emb->lost_msg);
        pthread_mutex_unlock(S->emb->mu);
    }
    if (lost || closing) free(deg.p);
    if (lost) return reply_error(S, c, MHD_HTTP_SERVICE_UNAVAILABLE, E_UNHEALTHY, "device lost: %s", msg);
    if (closing) return reply_error(S, c, MHD_HTTP_SERVICE_UNAVAILABLE, E_SHUTDOWN, "shutting down");
    cli_buf b = {0};
    if (n_lost) {
        cb_printf(&b, "{\"status\":\"degraded\",\"devices_lost\":[%.*s]}\n", (int)deg.n, deg.p);
        free(deg.p);
        return reply(c, MHD_HTTP_OK, "application/json", &b, 0);
    }
    cb_puts(&b, "{\"status\":\"ok\"}\n");
    return reply(c, MHD_HTTP_OK, "application/json", &b, 0);
}

static enum MHD_Result info(server *S, struct MHD_Connection *c) {
    const vkb_config *cfg = S->cfg;
    cli_buf b = {0};
    cb_puts(&b, "{\"model_id\":");
    cb_json_str(&b, S->model_id);
    cb_puts(&b, ",\"model_sha\":null,\"model_dtype\":");
    /* the precision the device runs in (not the one asked for: auto
     * chooses, the CPU reference is fp32 unless bf16/int8 ran) */
    server *P = cfg->n_labels > 0 ? S : S->emb;
    char prec[8];
    pthread_mutex_lock(P->mu);
    snprintf(prec, sizeof prec, "%s", P->prec);
    if (!prec[0]) snprintf(prec, sizeof prec, "fp32");
    pthread_mutex_unlock(P->mu);
    cb_json_str(&b, !strcmp(prec, "fp16") ? "float16" : !strcmp(prec, "bf16") ? "bfloat16"
                    : !strcmp(prec, "int8") ? "int8" : "float32");
    cb_puts(&b, ",\"model_type\":{");
    if (cfg->n_labels > 0) { /* a base model has no classifier: /embed only */
        cb_puts(&b, "\"classifier\":{\"id2label\":{");
        for (int i = 0; i < cfg->n_labels; i++) {
            cb_printf(&b, "%s\"%d\":", i ? "," : "", i);
            put_label(&b, cfg, i);
        }
        cb_puts(&b, "},\"label2id\":{");
        for (int i = 0; i < cfg->n_labels; i++) {
            if (i) cb_puts(&b, ",");
            put_label(&b, cfg, i);
            cb_printf(&b, ":%d", i);
        }
        cb_puts(&b, "}},");
    }
    cb_puts(&b, "\"embedding\":{\"pooling\":");
    cb_json_str(&b, vkb_pooling_name(S->emb->pooling));
    cb_printf(&b, ",\"dim\":%d}},\"device\":", S->emb->dim);
    pthread_mutex_lock(S->mu);
    if (S->n_lanes > 1) {
        cli_buf all = {0};
        for (int i = 0; i < S->n_lanes; i++) {
            if (i) cb_puts(&all, ",");
            cb_puts(&all, S->lanes[i]->device);
        }
        cb_json_str(&b, all.p ? all.p : "");
        free(all.p);
    } else {
        cb_json_str(&b, S->device);
    }
    int budget = S->s ? S->past.batch_tokens : S->budget;
    if (S->s) {
        vkb_scorer_stats st;
        vkb_scorer_get_stats(S->s, &st);
        budget = st.batch_tokens;
    }
    int lost = all_lost_locked(S);
    if (S->n_lanes > 1) { /* a device list: one entry per device, by lane */
        cb_puts(&b, ",\"devices\":[");
        for (int i = 0; i < S->n_lanes; i++) {
            server *L = S->lanes[i];
            int lb = L->s ? L->past.batch_tokens : L->budget;
            if (L->s) {
                vkb_scorer_stats st;
                vkb_scorer_get_stats(L->s, &st);
                lb = st.batch_tokens;
            }
            cb_printf(&b, "%s{\"index\":%d,\"device\":", i ? "," : "", i);
            cb_json_str(&b, L->device);
            cb_printf(&b, ",\"precision\":\"%s\",\"max_batch_tokens\":%d,\"healthy\":%s}",
                      L->prec[0] ? L->prec : "fp32", lb, L->lost ? "false" : "true");
        }
        cb_puts(&b, "]");
    }
    pthread_mutex_unlock(S->mu);
    cb_puts(&b, ",\"precision\":");
    cb_json_str(&b, prec);
    cb_printf(&b, ",\"max_input_length\":%d,\"max_concurrent_requests\":%d,\"max_batch_tokens\":%d,"
                  "\"max_client_batch_size\":%d,\"max_batch_requests\":null,\"tokenization_workers\":null,"
                  "\"healthy\":%s,\"version\":",
              S->max_len, S->max_conc, budget, MAX_CLIENT_BATCH, lost ? "false" : "true");
    cb_json_str(&b, VKB_VERSION);
    cb_puts(&b, ",\"sha\":");
    cb_json_str(&b, VKB_GIT_COMMIT);
    cb_puts(&b, "}\n");
    return reply(c, MHD_HTTP_OK, "application/json", &b, 0);
}

static enum MHD_Result metrics(server *S, struct MHD_Connection *c) {
    cli_buf b = {0};
    pthread_mutex_lock(S->mu);
    vkb_scorer_stats st = S->past;
    if (S->s) {
        vkb_scorer_stats cur;
        vkb_scorer_get_stats(S->s, &cur);
        add_stats(&st, &cur);
    }
    server m = *S; /* a consistent copy of the counters */
    uint64_t queue = (uint64_t)S->qn + (S->added - S->delivered);
    /* a device list: the other /predict lanes count with lane 0, and each
     * device gets its own series (labelled by lane index and device) */
    int nd = S->n_lanes > 1 ? S->n_lanes : 0;
    struct { vkb_scorer_stats st; uint64_t reopens; int lost; char dev[sizeof S->device]; } dv[nd ? nd : 1];
    for (int i = 0; i < nd; i++) {
        server *L = S->lanes[i];
        dv[i].st = L->past;
        if (L->s) {
            vkb_scorer_stats cur;
            vkb_scorer_get_stats(L->s, &cur);
            add_stats(&dv[i].st, &cur);
            dv[i].st.batch_tokens = cur.batch_tokens;
        }
        dv[i].reopens = L->reopens;
        dv[i].lost = L->lost;
        snprintf(dv[i].dev, sizeof dv[i].dev, "%s", L->device);
        if (i == 0) continue;
        add_stats(&st, &dv[i].st);
        queue += L->added - L->delivered;
        m.reopens += L->reopens;
        for (int j = 0; j <= N_BSZ; j++) m.bsz_bucket[j] += L->bsz_bucket[j];
        m.bsz_n += L->bsz_n;
        m.bsz_sum += L->bsz_sum;
    }
    m.lost = all_lost_locked(S);
    pthread_mutex_unlock(S->mu);
    /* the /embed lane: its inputs, batches and forwards count with the rest */
    server *E = S->emb;
    pthread_mutex_lock(E->mu);
    add_stats(&st, &E->past);
    if (E->s) {
        vkb_scorer_stats cur;
        vkb_scorer_get_stats(E->s, &cur);
        add_stats(&st, &cur);
    }
    uint64_t embed_inputs = E->n_inputs;
    int embed_open = E->be != NULL;
    m.n_inputs += E->n_inputs;
    m.reopens += E->reopens;
    m.lost |= E->lost;
    queue += (uint64_t)E->qn + (E->added - E->delivered);
    for (int i = 0; i <= N_BSZ; i++) m.bsz_bucket[i] += E->bsz_bucket[i];
    m.bsz_n += E->bsz_n;
    m.bsz_sum += E->bsz_sum;
    pthread_mutex_unlock(E->mu);
    cb_puts(&b, "# HELP vkbert_requests_total /predict and /embed requests received.\n"
                "# TYPE vkbert_requests_total counter\n");
    cb_printf(&b, "vkbert_requests_total %llu\n", (unsigned long long)m.n_requests);
    cb_puts(&b, "# HELP vkbert_requests_success_total /predict and /embed requests answered with 200.\n"
                "# TYPE vkbert_requests_success_total counter\n");
    cb_printf(&b, "vkbert_requests_success_total %llu\n", (unsigned long long)m.n_success);
    cb_puts(&b, "# HELP vkbert_embed_requests_total /embed requests received (counted in vkbert_requests_total too).\n"
                "# TYPE vkbert_embed_requests_total counter\n");
    cb_printf(&b, "vkbert_embed_requests_total %llu\n", (unsigned long long)m.n_embed_requests);
    cb_puts(&b, "# HELP vkbert_embed_requests_success_total /embed requests answered with 200.\n"
                "# TYPE vkbert_embed_requests_success_total counter\n");
    cb_printf(&b, "vkbert_embed_requests_success_total %llu\n", (unsigned long long)m.n_embed_success);
    cb_puts(&b, "# HELP vkbert_embed_inputs_total Texts queued for embedding.\n"
                "# TYPE vkbert_embed_inputs_total counter\n");
    cb_printf(&b, "vkbert_embed_inputs_total %llu\n", (unsigned long long)embed_inputs);
    cb_puts(&b, "# HELP vkbert_errors_total Requests answered with an error, by kind.\n"
                "# TYPE vkbert_errors_total counter\n");
    for (int i = 0; i < N_KINDS; i++)
        cb_printf(&b, "vkbert_errors_total{kind=\"%s\"} %llu\n", kind_name[i],
                  (unsigned long long)m.errors[i]);
    cb_puts(&b, "# HELP vkbert_inputs_total Texts queued for scoring.\n# TYPE vkbert_inputs_total counter\n");
    cb_printf(&b, "vkbert_inputs_total %llu\n", (unsigned long long)m.n_inputs);
    cb_puts(&b, "# HELP vkbert_queue_depth Texts queued or being scored.\n# TYPE vkbert_queue_depth gauge\n");
    cb_printf(&b, "vkbert_queue_depth %llu\n", (unsigned long long)queue);
    cb_puts(&b, "# HELP vkbert_requests_in_flight /predict and /embed requests being served.\n"
                "# TYPE vkbert_requests_in_flight gauge\n");
    cb_printf(&b, "vkbert_requests_in_flight %d\n", m.in_flight);
    cb_puts(&b, "# HELP vkbert_batch_size Texts per dynamic batch (a window handed to the scorer).\n"
                "# TYPE vkbert_batch_size histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < N_BSZ; i++) {
        cum += m.bsz_bucket[i];
        cb_printf(&b, "vkbert_batch_size_bucket{le=\"%d\"} %llu\n", bsz_le[i], (unsigned long long)cum);
    }
    cum += m.bsz_bucket[N_BSZ];
    cb_printf(&b, "vkbert_batch_size_bucket{le=\"+Inf\"} %llu\nvkbert_batch_size_sum %llu\n"
                  "vkbert_batch_size_count %llu\n",
              (unsigned long long)cum, (unsigned long long)m.bsz_sum, (unsigned long long)m.bsz_n);
    cb_puts(&b, "# HELP vkbert_forward_batches_total Forward passes on the device.\n"
                "# TYPE vkbert_forward_batches_total counter\n");
    cb_printf(&b, "vkbert_forward_batches_total %llu\n", (unsigned long long)st.batches);
    cb_puts(&b, "# HELP vkbert_tokens_total Tokens scored (without padding).\n# TYPE vkbert_tokens_total counter\n");
    cb_printf(&b, "vkbert_tokens_total %llu\n", (unsigned long long)st.real_tokens);
    cb_puts(&b, "# HELP vkbert_padded_tokens_total Tokens run, padding included (B*L).\n"
                "# TYPE vkbert_padded_tokens_total counter\n");
    cb_printf(&b, "vkbert_padded_tokens_total %llu\n", (unsigned long long)st.padded_tokens);
    cb_puts(&b, "# HELP vkbert_forward_seconds_total Time in forward passes.\n"
                "# TYPE vkbert_forward_seconds_total counter\n");
    cb_printf(&b, "vkbert_forward_seconds_total %.6f\n", st.forward_seconds);
    cb_puts(&b, "# HELP vkbert_tokens_per_second Tokens scored per second of forward time.\n"
                "# TYPE vkbert_tokens_per_second gauge\n");
    cb_printf(&b, "vkbert_tokens_per_second %.1f\n",
              st.forward_seconds > 0 ? (double)st.real_tokens / st.forward_seconds : 0.0);
    cb_puts(&b, "# HELP vkbert_request_duration_seconds /predict and /embed latency, from the request to its answer.\n"
                "# TYPE vkbert_request_duration_seconds histogram\n");
    cum = 0;
    for (int i = 0; i < N_LAT; i++) {
        cum += m.lat_bucket[i];
        cb_printf(&b, "vkbert_request_duration_seconds_bucket{le=\"%g\"} %llu\n", lat_le[i],
                  (unsigned long long)cum);
    }
    cum += m.lat_bucket[N_LAT];
    cb_printf(&b, "vkbert_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "vkbert_request_duration_seconds_sum %.6f\nvkbert_request_duration_seconds_count %llu\n",
              (unsigned long long)cum, m.lat_sum, (unsigned long long)m.lat_n);
    cb_puts(&b, "# HELP vkbert_device_reopens_total Scorer restarts after a failed batch.\n"
                "# TYPE vkbert_device_reopens_total counter\n");
    cb_printf(&b, "vkbert_device_reopens_total %llu\n", (unsigned long long)m.reopens);
    cb_puts(&b, "# HELP vkbert_device_lost 1 when the device is lost for good.\n# TYPE vkbert_device_lost gauge\n");
    cb_printf(&b, "vkbert_device_lost %d\n", m.lost);
    if (nd) {
        static const char *const dh[][3] = {
            {"vkbert_device_batches_total", "counter", "Forward passes, by /predict device."},
            {"vkbert_device_tokens_total", "counter", "Tokens scored (without padding), by /predict device."},
            {"vkbert_device_padded_tokens_total", "counter", "Tokens run (B*L), by /predict device."},
            {"vkbert_device_forward_seconds_total", "counter", "Time in forward passes, by /predict device."},
            {"vkbert_device_batch_tokens", "gauge", "Token budget in use, by /predict device."},
            {"vkbert_device_reopens_total", "counter", "Scorer restarts after a failed batch, by /predict device."},
            {"vkbert_device_up", "gauge", "1 while the /predict device serves, 0 once it is lost for good."},
        };
        for (int k = 0; k < (int)(sizeof dh / sizeof dh[0]); k++) {
            cb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", dh[k][0], dh[k][2], dh[k][0], dh[k][1]);
            for (int i = 0; i < nd; i++) {
                cb_printf(&b, "%s{index=\"%d\",device=", dh[k][0], i);
                cb_json_str(&b, dv[i].dev); /* a quoted, escaped label value */
                const vkb_scorer_stats *t = &dv[i].st;
                switch (k) {
                case 0: cb_printf(&b, "} %llu\n", (unsigned long long)t->batches); break;
                case 1: cb_printf(&b, "} %llu\n", (unsigned long long)t->real_tokens); break;
                case 2: cb_printf(&b, "} %llu\n", (unsigned long long)t->padded_tokens); break;
                case 3: cb_printf(&b, "} %.6f\n", t->forward_seconds); break;
                case 4: cb_printf(&b, "} %d\n", t->batch_tokens); break;
                case 5: cb_printf(&b, "} %llu\n", (unsigned long long)dv[i].reopens); break;
                default: cb_printf(&b, "} %d\n", !dv[i].lost); break;
                }
            }
        }
    }
    cb_puts(&b, "# HELP vkbert_embed_backend_open 1 once the /embed lane's device is open (on the first "
                "POST /embed; at start for a base model).\n# TYPE vkbert_embed_backend_open gauge\n");
    cb_printf(&b, "vkbert_embed_backend_open %d\n", embed_open);
    cb_puts(&b, "# HELP vkbert_uptime_seconds Seconds since the server started.\n# TYPE vkbert_uptime_seconds gauge\n");
    cb_printf(&b, "vkbert_uptime_seconds %.3f\n", vkb_now_s() - m.t_start);
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b, 0);
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    server *S = cls;
    conn *k = *con_cls;
    int is_embed = !strcmp(url, "/embed");
    int is_predict = is_embed || !strcmp(url, "/predict");
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return MHD_NO;
        *con_cls = k;
        k->t0 = vkb_now_s();
        pthread_mutex_lock(S->mu);
        S->active++;
        int closing = S->shutting_down, over = 0;
        if (is_predict && !strcmp(method, "POST")) {
            S->n_requests++;
            if (is_embed) S->n_embed_requests++;
            if (!closing && S->in_flight >= S->max_conc) over = 1;
            else if (!closing) { S->in_flight++; k->counted = 1; }
        }
        pthread_mutex_unlock(S->mu);
        if (is_predict && !strcmp(method, "POST")) {
            k->replied = 1;
            if (closing)
                return reply_error(S, c, MHD_HTTP_SERVICE_UNAVAILABLE, E_SHUTDOWN, "shutting down");
            if (over)
                return reply_error(S, c, MHD_HTTP_TOO_MANY_REQUESTS, E_OVERLOADED,
                                   "model is overloaded: more than %d requests in flight "
                                   "(--max-concurrent-requests)", S->max_conc);
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > (unsigned long long)S->max_body) {
                enum MHD_Result r = reply_error(S, c, MHD_HTTP_CONTENT_TOO_LARGE, E_TOO_LARGE,
                                                "the request body is larger than %d bytes (--max-body-bytes)",
                                                S->max_body);
                release_slot(S, k);
                return r;
            }
            k->replied = 0;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!k->replied && !k->too_large) {
            if (k->n + *upload_size > (size_t)S->max_body) {
                k->too_large = 1;
                free(k->body);
                k->body = NULL;
                k->n = k->cap = 0;
            } else {
                if (k->n + *upload_size + 1 > k->cap) {
                    size_t nc = k->cap ? k->cap : 4096;
                    while (nc < k->n + *upload_size + 1) nc *= 2;
                    char *p = realloc(k->body, nc);
                    if (!p) return MHD_NO;
                    k->body = p;
                    k->cap = nc;
                }
                memcpy(k->body + k->n, upload, *upload_size);
                k->n += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (k->replied) return MHD_YES;
    k->replied = 1;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (is_predict) {
        if (strcmp(method, "POST"))
            return reply_error(S, c, MHD_HTTP_METHOD_NOT_ALLOWED, E_METHOD, "%s %s: use POST", method, url);
        enum MHD_Result r = predict(S, c, k, is_embed);
        release_slot(S, k); /* the answer is queued */
        return r;
    }
    int known = !strcmp(url, "/health") || !strcmp(url, "/info") || !strcmp(url, "/metrics");
    if (known && !get)
        return reply_error(S, c, MHD_HTTP_METHOD_NOT_ALLOWED, E_METHOD, "%s %s: use GET", method, url);
    if (!strcmp(url, "/health")) return health(S, c);
    if (!strcmp(url, "/info")) return info(S, c);
    if (!strcmp(url, "/metrics")) return metrics(S, c);
    return reply_error(S, c, MHD_HTTP_NOT_FOUND, E_NOT_FOUND,
                       "no route %s %s (routes: POST /predict, POST /embed, GET /health, /info, /metrics)", method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    server *S = cls;
    conn *k = *con_cls;
    if (!k) return;
    double dt = vkb_now_s() - k->t0;
    pthread_mutex_lock(S->mu);
    S->active--;
    if (k->counted) {
        if (k->counted == 1) S->in_flight--; /* ended before an answer was queued */
        int i = 0;
        while (i < N_LAT && dt > lat_le[i]) i++;
        S->lat_bucket[i]++;
        S->lat_n++;
        S->lat_sum += dt;
    }
    pthread_mutex_unlock(S->mu);
    free(k->body);
    free(k);
    *con_cls = NULL;
}

/* ---- main ---------------------------------------------------------------------- */

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cli_serve(cli_opts *o) {
    const char *host = o->host ? o->host : "127.0.0.1";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    int port = o->port_set ? o->port : DEF_PORT, v6 = 0, loopback;
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        loopback = (ntohl(a4.sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        v6 = 1;
        loopback = IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr);
    } else {
        fprintf(stderr, "vkbert serve: --host: expected a numeric IPv4 or IPv6 address or localhost, "
                        "got '%s'\n", host);
        return CLI_USAGE;
    }
    if (!loopback && !o->allow_remote) {
        fprintf(stderr, "vkbert serve: --host %s is not a loopback address: the server has no "
                        "authentication or TLS; pass --allow-remote to listen on it anyway (README: "
                        "Security)\n", host);
        return CLI_USAGE;
    }
    server *S = calloc(1, sizeof *S);
    if (!S) return CLI_FAILED;
    S->o = o;
    S->t_start = vkb_now_s();
    S->max_conc = o->max_concurrent > 0 ? o->max_concurrent : DEF_MAX_CONC;
    S->max_body = o->max_body > 0 ? o->max_body : DEF_MAX_BODY;
    S->model_id = o->model ? o->model : "default";
    S->mu = &S->mu_own;
    S->qcv = &S->qcv_own;
    S->front = S;
    pthread_mutex_init(S->mu, NULL);
    pthread_cond_init(S->qcv, NULL);
    int rc = CLI_FAILED;
    struct MHD_Daemon *d = NULL;
    pthread_t bt, et, lt[MAX_DEVICES];
    int bt_started = 0, et_started = 0, n_lt = 0;
    char *devs[MAX_DEVICES], *dev_storage = NULL;
    server *lanes[MAX_DEVICES];
    int n_dev = 1;
    server *E = calloc(1, sizeof *E);
    if (!E) { free(S); return CLI_FAILED; }
    S->emb = E;
    E->mu = &E->mu_own;
    E->qcv = &E->qcv_own;
    E->front = E;
    pthread_mutex_init(E->mu, NULL);
    pthread_cond_init(E->qcv, NULL);
    pthread_mutex_init(&E->open_mu, NULL);
    S->m = cli_load_model(o);
    if (!S->m) goto out;
    S->cfg = vkb_model_config(S->m);
    S->tok = vkb_model_tokenizer(S->m);
    if (!S->tok) {
        fprintf(stderr, "vkbert serve: the model has no tokenizer (vocab.txt or tokenizer.json)\n");
        goto out;
    }
    /* a base model (no classifier head) serves /embed only */
    int classifier = S->cfg->n_labels > 0;
    S->max_len = cli_max_len(o, S->m);
    S->budget = cli_batch_tokens(o, S->max_len);
    S->window = o->window > 0 ? o->window : vkb_defaults()->window;
    /* --device LIST (as score: "all" or DEV,DEV...): one /predict lane per
     * device, each with its own backend, token budget, scorer and batcher
     * thread, all taking windows from the one queue (lane 0 is S) */
    if (classifier && o->device && (strchr(o->device, ',') || !strcmp(o->device, "all"))) {
        n_dev = cli_device_list(o->device, devs, MAX_DEVICES, &dev_storage);
        if (n_dev < 0) goto out;
        S->dev_spec = devs[0];
    }
    lanes[0] = S;
    S->lanes = lanes;
    S->n_lanes = 1;
    for (int i = 1; i < n_dev; i++) {
        server *L = calloc(1, sizeof *L);
        if (!L) goto out;
        *L = (server){.o = o, .m = S->m, .cfg = S->cfg, .tok = S->tok, .mu = S->mu, .qcv = S->qcv,
                      .front = S, .lane = i, .dev_spec = devs[i], .max_len = S->max_len,
                      .budget = S->budget, .window = S->window, .max_conc = S->max_conc,
                      .max_body = S->max_body, .model_id = S->model_id, .t_start = S->t_start};
        lanes[S->n_lanes++] = L;
    }
    for (int i = 0; classifier && i < S->n_lanes; i++)
        if (open_backend(lanes[i], &lanes[i]->be, lanes[i]->device, sizeof lanes[i]->device)) goto out;
    S->so.max_len = S->max_len;
    S->so.window = S->window;
    S->so.threads = 1; /* the texts come tokenized (connection threads) */
    S->so.batch_cost_tokens = o->batch_cost >= 0 ? o->batch_cost : DEF_BATCH_COST;
    S->so.note = on_note;
    S->so.drop_user = on_drop;
    cli_fault_injection(&S->so);
    /* test hook (the CLI's, not the library's): VKB_FAULT_DEVICE=I limits
     * VKB_FAULT_AFTER_BATCHES to lane I of a device list */
    const char *fd = getenv("VKB_FAULT_DEVICE");
    int fault_lane = fd && *fd ? atoi(fd) : -1;
    vkb_scorer_opts so_all = S->so;
    for (int i = 0; classifier && i < S->n_lanes; i++) {
        server *L = lanes[i];
        L->so = so_all;
        if (fault_lane >= 0 && fault_lane != i) L->so.fault_inject = 0;
        if (open_scorer(L, L->be, &L->s)) goto out;
        L->past.batch_tokens = L->budget;
    }
    S->past.batch_tokens = S->budget;
    /* the /embed lane: the same model and limits, its own device context */
    E->o = o;
    E->m = S->m;
    E->cfg = S->cfg;
    E->tok = S->tok;
    E->max_len = S->max_len;
    E->budget = cli_batch_tokens(o, S->max_len);
    E->window = S->window;
    E->max_conc = S->max_conc;
    E->max_body = S->max_body;
    E->model_id = S->model_id;
    E->t_start = S->t_start;
    const vkb_st_pooling *stp = vkb_model_st_pooling(S->m);
    E->pooling = stp->present ? (vkb_pooling)stp->pooling : VKB_POOL_MEAN;
    E->dim = S->cfg->dim;
    E->so = S->so;
    E->so.pooling = E->pooling;
    E->so.normalize = 0; /* per request */
    E->past.batch_tokens = E->budget;
    /* with a classifier, the /embed lane's device (on a GPU a second copy of
     * the weights) is opened by the first POST /embed */
    if (!classifier) {
        open_embed_lane(E);
        if (E->lost) goto out;
        snprintf(S->device, sizeof S->device, "%s", E->device);
    }

    /* only this thread takes SIGINT/SIGTERM: the others start with them blocked */
    cli_install_signals();
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    if (pthread_create(&bt, NULL, batcher_main, S) == 0) bt_started = 1;
    for (int i = 1; bt_started && i < S->n_lanes; i++) {
        if (pthread_create(&lt[n_lt], NULL, batcher_main, lanes[i])) break;
        n_lt++;
    }
    if (bt_started && n_lt == S->n_lanes - 1 && pthread_create(&et, NULL, batcher_main, E) == 0) et_started = 1;
    int timeout = o->timeout_s > 0 ? o->timeout_s : DEF_TIMEOUT;
    unsigned conn_limit = (unsigned)(S->max_conc < 256 ? S->max_conc + 64 : S->max_conc + 256);
    if (conn_limit > 1000) conn_limit = 1000;
    if (et_started)
        d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                 MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0),
                             (uint16_t)port, NULL, NULL, on_request, S,
                             MHD_OPTION_SOCK_ADDR, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout,
                             MHD_OPTION_CONNECTION_LIMIT, conn_limit,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, S,
                             MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                             MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d) {
        fprintf(stderr, "vkbert serve: cannot listen on %s port %d: %s\n", host, port,
                d || et_started ? strerror(errno) : "cannot start the batcher threads");
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (di && di->port) port = di->port;
    fprintf(stderr, "vkbert serve: %s on %s, max input length %d, token budget %d; /embed: %s pooling, "
            "dim %d\n", S->model_id, S->device, S->max_len, S->budget, vkb_pooling_name(E->pooling), E->dim);
    for (int i = 1; i < S->n_lanes; i++)
        fprintf(stderr, "vkbert serve: /predict device %d: %s, token budget %d\n", i, lanes[i]->device,
                lanes[i]->budget);
    fprintf(stderr, "vkbert serve: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "",
            port);
    fflush(stderr);
    while (!vkb_cli_interrupted) nap_ms(50);

    /* graceful stop: no new connections, finish what is in flight */
    fprintf(stderr, "vkbert serve: %s: finishing the requests in flight\n",
            vkb_cli_interrupted == SIGTERM ? "SIGTERM" : "interrupted");
    pthread_mutex_lock(S->mu);
    S->shutting_down = 1;
    pthread_mutex_unlock(S->mu);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    double t0 = vkb_now_s();
    for (;;) {
        pthread_mutex_lock(S->mu);
        int active = S->active;
        pthread_mutex_unlock(S->mu);
        if (active == 0 || vkb_now_s() - t0 > SHUTDOWN_WAIT_S) break;
        nap_ms(10);
    }
    rc = CLI_OK;
out:
    if (d) MHD_stop_daemon(d);
    if (bt_started) {
        pthread_mutex_lock(S->mu);
        for (int i = 0; i < S->n_lanes; i++) S->lanes[i]->stop = 1;
        pthread_cond_broadcast(S->qcv);
        pthread_mutex_unlock(S->mu);
        pthread_join(bt, NULL);
    }
    for (int i = 0; i < n_lt; i++) pthread_join(lt[i], NULL); /* woken by the shared qcv */
    if (et_started) {
        pthread_mutex_lock(E->mu);
        E->stop = 1;
        pthread_cond_broadcast(E->qcv);
        pthread_mutex_unlock(E->mu);
        pthread_join(et, NULL);
    }
    if (E->s) {
        vkb_error e = {0};
        (void)vkb_scorer_finish(E->s, &e);
        vkb_scorer_free(E->s);
    }
    vkb_backend_free(E->be);
    pthread_mutex_destroy(E->mu);
    pthread_cond_destroy(E->qcv);
    pthread_mutex_destroy(&E->open_mu);
    free(E);
    if (S->s) {
        vkb_error e = {0};
        (void)vkb_scorer_finish(S->s, &e);
        vkb_scorer_free(S->s);
    }
    vkb_backend_free(S->be);
    for (int i = 1; i < S->n_lanes; i++) {
        server *L = lanes[i];
        if (L->s) {
            vkb_error e = {0};
            (void)vkb_scorer_finish(L->s, &e);
            vkb_scorer_free(L->s);
        }
        vkb_backend_free(L->be);
        free(L);
    }
    free(dev_storage);
    vkb_model_free(S->m);
    pthread_mutex_destroy(S->mu);
    pthread_cond_destroy(S->qcv);
    if (rc == CLI_OK && !o->quiet) fprintf(stderr, "vkbert serve: stopped\n");
    free(S);
    return rc;
}
