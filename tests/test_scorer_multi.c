/* test_scorer_multi.c - vkb_scorer_create_multi (one worker per backend)
 * against fake backends whose logits are a known function of each sequence:
 * results in order and correct, the same batches as with one backend, work
 * shared among the workers, an out-of-memory on one worker handled, the
 * VKB_FAULT_AFTER_BATCHES device-loss hook, and mismatched models refused. */
#define _GNU_SOURCE
#include "testutil.h"
#include "fake_backend.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* each fake runs on one worker; 1 ms per forward so that every worker gets batches */
static void init_fake(fake *f) {
    fake_init(f);
    f->delay_ns = 1000000;
}

#define N 1500
static int32_t *ids[N];
static int lens[N];

typedef struct sink { uint64_t next; int delivered, wrong; } sink;
static int on_score(void *ctx, const vkb_score *r) {
    sink *k = ctx;
    if (r->index != k->next || (uintptr_t)r->user != r->index + 1) k->wrong++;
    k->next = r->index + 1;
    k->delivered++;
    int i = (int)r->index, m = lens[i] > 128 ? 128 : lens[i];
    double s = 0;
    for (int p = 0; p < m; p++) s += ids[i][p];
    if (!r->logits || r->logits[0] != (float)s || r->logits[1] != (float)m) k->wrong++;
    return 0;
}
static atomic_int notes;
static void on_note(void *ctx, const char *msg) {
    (void)ctx;
    if (strstr(msg, "out of device memory") && strstr(msg, "token budget")) notes++;
}

/* Runs all N sequences through n fakes; returns finish's rc. */
static long long fault_after = -1; /* >= 0: the scorer's fault injection */

static int run(fake *f, int n, sink *k, vkb_scorer_stats *st, vkb_error *e) {
    vkb_backend *bes[4];
    for (int i = 0; i < n; i++) bes[i] = &f[i].base;
    vkb_scorer_opts o = {.max_len = 128, .batch_tokens = 1024, .window = 200, .threads = 2,
                         .note = on_note, .fault_inject = fault_after >= 0,
                         .fault_after_batches = fault_after};
    vkb_scorer *s;
    memset(k, 0, sizeof *k);
    REQUIRE(vkb_scorer_create_multi(bes, n, &o, on_score, k, &s, e) == 0, "%s", e->msg);
    for (int i = 0; i < N; i++)
        if (vkb_scorer_add_ids(s, ids[i], lens[i], (void *)(uintptr_t)(i + 1), e)) break;
    int rc = vkb_scorer_finish(s, e);
    vkb_scorer_get_stats(s, st);
    vkb_scorer_free(s);
    return rc;
}

int main(void) {
    uint64_t rng = 99;
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        lens[i] = 2 + (int)((rng >> 33) % 200);
        ids[i] = malloc(sizeof(int32_t) * (size_t)lens[i]);
        for (int p = 0; p < lens[i]; p++) ids[i][p] = 1 + (int)((rng >> (p % 20)) % 999);
    }
    static fake f1[1], f3[3];
    sink k;
    vkb_scorer_stats s1, s3;
    vkb_error e = {0};

    init_fake(&f1[0]);
    CHECK(run(f1, 1, &k, &s1, &e) == 0, "one backend: %s", e.msg);
    CHECK(k.delivered == N && k.wrong == 0, "one backend: %d delivered, %d wrong", k.delivered, k.wrong);

    for (int i = 0; i < 3; i++) init_fake(&f3[i]);
    CHECK(run(f3, 3, &k, &s3, &e) == 0, "three backends: %s", e.msg);
    CHECK(k.delivered == N && k.wrong == 0, "three backends: %d delivered, %d wrong", k.delivered, k.wrong);
    /* the same batches, whatever the number of workers */
    CHECK(s3.batches == s1.batches && s3.padded_tokens == s1.padded_tokens,
          "batches %llu vs %llu, padded %llu vs %llu", (unsigned long long)s3.batches,
          (unsigned long long)s1.batches, (unsigned long long)s3.padded_tokens,
          (unsigned long long)s1.padded_tokens);
    int busy = 0, calls = 0;
    for (int i = 0; i < 3; i++) { busy += f3[i].ok_calls > 0; calls += f3[i].ok_calls; }
    CHECK(calls == (int)s3.batches, "forwards %d != batches %llu", calls, (unsigned long long)s3.batches);
    CHECK(busy >= 2, "only %d of 3 workers got batches (%d %d %d)", busy, f3[0].ok_calls,
          f3[1].ok_calls, f3[2].ok_calls);

    /* out of memory on one worker: the budget halves for all, same results */
    for (int i = 0; i < 3; i++) init_fake(&f3[i]);
    f3[1].oom_above = 300;
    notes = 0;
    CHECK(run(f3, 3, &k, &s3, &e) == 0, "oom: %s", e.msg);
    CHECK(k.delivered == N && k.wrong == 0, "oom: %d delivered, %d wrong", k.delivered, k.wrong);
    CHECK(notes > 0 && s3.batch_tokens <= 300, "oom: %d notes, budget %d", (int)notes, s3.batch_tokens);

    /* simulated device loss after 7 forwards: an error naming it, and what
     * was delivered is an in-order prefix */
    fault_after = 7;
    for (int i = 0; i < 3; i++) init_fake(&f3[i]);
    int rc = run(f3, 3, &k, &s3, &e);
    fault_after = -1;
    CHECK(rc != 0 && strstr(e.msg, "device lost") && strstr(e.msg, "fault injection") &&
          e.code == VKB_ERR_DEVICE_LOST, "fault hook: rc %d, code %s, %s", rc,
          vkb_errcode_name(e.code), e.msg);
    CHECK(k.wrong == 0 && k.delivered < N, "fault hook: %d delivered, %d wrong", k.delivered, k.wrong);
    CHECK(f3[0].ok_calls + f3[1].ok_calls + f3[2].ok_calls == 7, "fault hook: %d forwards",
          f3[0].ok_calls + f3[1].ok_calls + f3[2].ok_calls);

    /* backends of different models are refused */
    init_fake(&f3[0]);
    init_fake(&f3[1]);
    f3[1].model.cfg.n_labels = 3;
    vkb_backend *bes[2] = {&f3[0].base, &f3[1].base};
    vkb_scorer *s = NULL;
    CHECK(vkb_scorer_create_multi(bes, 2, NULL, on_score, &k, &s, &e) != 0 &&
          strstr(e.msg, "different model"), "mismatched models accepted: %s", e.msg);
    CHECK(vkb_scorer_create_multi(bes, 0, NULL, on_score, &k, &s, &e) != 0, "0 backends accepted");
    for (int i = 0; i < N; i++) free(ids[i]);
    return vkb_test_done("test_scorer_multi");
}
