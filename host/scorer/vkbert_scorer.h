/* vkbert_scorer.h - the scorer's part of the public API (host/vkbert.h
 * includes it): length-grouped, token-budget batches over any backend. */
#ifndef VKBERT_SCORER_H
#define VKBERT_SCORER_H

#include "vkbert_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- batch scorer (host/scorer.c) ----------------------------------------
 * Additive section owned by the CLI/scoring work.  A scorer turns a stream of
 * texts into logits at full speed: tokenizer threads work on the next window
 * of inputs while one thread runs the backend; inputs of a window (default
 * 2048) are sorted by token length so that a batch holds similar lengths,
 * and a batch takes as many sequences as fit the token budget (B*L).
 * Results are delivered through the callback strictly in submission order,
 * from one scorer thread at a time.  Used by `vkbert score/eval/classify`
 * and meant for language bindings.
 *
 * Several backends (vkb_scorer_create_multi; e.g. one per GPU, or the same
 * GPU twice) get one worker thread each; batches are cut from the input the
 * same way whatever their number and handed to whichever worker is free, so
 * backends of the same kind give results identical to one backend.
 *
 * Out of device memory in a forward halves the token budget and retries
 * (with a note); any other forward error stops the scorer.  Test hook: when
 * the environment variable VKB_FAULT_AFTER_BATCHES=N is set (read at
 * creation), every forward after the first N fails with a "device lost"
 * error, as a crashed GPU would; unset, it has no effect. */
typedef struct vkb_scorer vkb_scorer;

typedef struct vkb_scorer_opts {
    int max_len;       /* truncate to this many ids; 0 = vkb_model_max_len(model, 0) */
    int batch_tokens;  /* token budget per forward (B*L); 0 = vkb_defaults()->batch_tokens */
    int window;        /* inputs sorted together; 0 = vkb_defaults()->window */
    int no_sort;       /* nonzero: keep input order inside batches (no grouping) */
    int threads;       /* tokenizer threads; 0 = 1 */
    int pad_multiple;  /* round a batch's L up to a multiple of this; 0 = 1 */
    /* Optional: informational messages (e.g. "out of device memory: retrying
     * with a token budget of 4096"); called from a scorer thread. */
    void (*note)(void *ctx, const char *msg);
    /* Optional: when *interrupt becomes nonzero the scorer stops as if
     * vkb_scorer_cancel() had been called (set from a signal handler). */
    const volatile int *interrupt;
    /* Optional: called with the user pointer of every item that will not be
     * delivered (the run was stopped or failed), so callers can free it. */
    void (*drop_user)(void *user);
    /* Fault injection, so that recovery from a lost device can be tested on
     * any device: when fault_inject is nonzero, every forward after the first
     * fault_after_batches fails as a lost device would (VKB_ERR_DEVICE_LOST).
     * The CLI sets it from VKB_FAULT_AFTER_BATCHES=N. */
    int fault_inject;
    long long fault_after_batches;
    /* Embeddings instead of logits: when pooling is not VKB_POOL_NONE each
     * result carries the last hidden state pooled so (vkb_score.embedding,
     * dim values; logits NULL), with or without a classifier head, in the
     * same length-grouped token-budget batches; normalize: scaled to unit
     * L2 norm. */
    vkb_pooling pooling;
    int normalize;
    /* 0: each window is cut greedily into batches as large as the budget
     * allows (`vkbert score`).  > 0: into the batches, within the budget,
     * that minimise the padded tokens plus this many tokens per batch (the
     * fixed cost of one forward), so that a few inputs of very different
     * lengths (a server's small windows) run in separate batches instead of
     * padded to the longest.  Results do not depend on it beyond the last
     * bits that another batch shape may round differently.  (Last, so that
     * the fields above keep their layout: python/vkbert/_lib.py mirrors
     * this struct.) */
    int batch_cost_tokens;
} vkb_scorer_opts;

typedef struct vkb_score {
    uint64_t index;        /* 0-based submission index */
    void *user;            /* as passed when submitted */
    const float *logits;   /* [n_labels]; NULL for an item added with _add_skip */
    int n_labels;
    int n_tokens;          /* ids after truncation (incl. [CLS], [SEP]) */
    int truncated;         /* nonzero when the text had more than max_len ids */
    const float *embedding; /* [dim] with opts.pooling, else NULL; NULL for a skip item */
    int dim;
} vkb_score;

/* Receives each result in submission order; return nonzero to stop the
 * scorer (e.g. the output pipe closed). */
typedef int (*vkb_score_fn)(void *ctx, const vkb_score *s);

typedef struct vkb_scorer_stats {
    uint64_t items;          /* scored (not skipped) items delivered */
    uint64_t real_tokens;    /* sum of item lengths */
    uint64_t padded_tokens;  /* sum of B*L over forwards */
    uint64_t batches;
    int batch_tokens;        /* budget in use (halved on out-of-memory) */
    double forward_seconds;  /* time inside vkb_forward */
} vkb_scorer_stats;

/* The backend must outlive the scorer; it is used by one thread only. */
int vkb_scorer_create(vkb_backend *be, const vkb_scorer_opts *opts,
                      vkb_score_fn fn, void *ctx, vkb_scorer **out, vkb_error *err);
/* One worker per backend (1..256), all created from the same vkb_model; the
 * array is copied, the backends must outlive the scorer, and each is used by
 * its worker thread only.  opts->batch_tokens must not exceed the smallest
 * max_tokens the backends were created with. */
int vkb_scorer_create_multi(vkb_backend *const *backends, int n_backends,
                            const vkb_scorer_opts *opts, vkb_score_fn fn, void *ctx,
                            vkb_scorer **out, vkb_error *err);
/* vkb_backend_create for a scorer: when the device runs out of memory for
 * the activations of opts->max_tokens, retries with half the token budget,
 * down to one sequence of max_len, telling note() each time.  *max_tokens
 * gets the budget that fit (use it as the scorer's batch_tokens).  Fails
 * like vkb_backend_create when even the weights do not fit. */
int vkb_backend_create_fit(const vkb_model *m, const vkb_backend_opts *opts,
                           void (*note)(void *ctx, const char *msg), void *ctx,
                           vkb_backend **out, int *max_tokens, vkb_error *err);
/* Queue a text (copied) / ids (copied, truncated to max_len) / a placeholder
 * that is delivered in order with logits == NULL (a line that failed to
 * parse).  May block while the pipeline is full.  On failure (the scorer
 * stopped or failed) the item was not taken and `user` stays the caller's;
 * on success it comes back through the callback or drop_user. */
int vkb_scorer_add_text(vkb_scorer *s, const char *text, size_t len, void *user,
                        vkb_error *err);
int vkb_scorer_add_ids(vkb_scorer *s, const int32_t *ids, int n, void *user,
                       vkb_error *err);
int vkb_scorer_add_skip(vkb_scorer *s, void *user, vkb_error *err);
/* Hands the inputs added since the last window was dispatched to the
 * tokenizers and workers now, as a (short) window of its own, instead of
 * waiting for opts->window inputs: for a server, which cannot wait for a
 * full window while its clients wait for their answers.  The window is
 * sorted and cut into batches like any other, so results are the same as
 * without the flush (up to batch composition); they still come in
 * submission order.  Call it from the thread that adds; it may block while
 * the pipeline is full.  Nothing added since the last dispatch: returns 0
 * and does nothing.  Fails (nothing taken back) when the scorer stopped. */
int vkb_scorer_flush(vkb_scorer *s, vkb_error *err);
/* Scores everything queued, delivers the remaining results and stops the
 * threads.  Returns non-zero when a forward failed (err says why).  After
 * opts.interrupt or a failed forward it still delivers (on the calling
 * thread) every result that is complete in input order, so that no scored
 * work is lost; after vkb_scorer_cancel it delivers nothing more. */
int vkb_scorer_finish(vkb_scorer *s, vkb_error *err);
/* Items scored so far (their forward is done, delivered or not): for a
 * progress display that advances with the work, from any thread. */
uint64_t vkb_scorer_progress(vkb_scorer *s);
/* Stops early: nothing more is delivered after the result in progress. */
void vkb_scorer_cancel(vkb_scorer *s);
int vkb_scorer_max_len(const vkb_scorer *s);
void vkb_scorer_get_stats(vkb_scorer *s, vkb_scorer_stats *st);
void vkb_scorer_free(vkb_scorer *s); /* cancels and joins if still running */

#ifdef __cplusplus
}
#endif
#endif
