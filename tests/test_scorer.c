/* test_scorer.c - the batch scorer (host/scorer.c) against a fake backend
 * whose logits are a known function of each sequence, so that ordering,
 * batching, padding, truncation, out-of-memory retries, cancellation and
 * error propagation can all be checked without a real model. */
#include "testutil.h"
#include "fake_backend.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define N 3000
typedef struct seqs {
    int32_t *ids[N];
    int n[N];
} seqs;

static uint64_t rng = 12345;
static int rnd(int lo, int hi) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

typedef struct sink {
    const seqs *q;
    int max_len;
    uint64_t next;      /* expected next index */
    int delivered, wrong, skipped, stop_after, taken;
    float sum0[N];      /* logits[0] as delivered, by index */
} sink;

static int on_score(void *ctx, const vkb_score *r) {
    sink *k = ctx;
    if (r->index != k->next) k->wrong++;
    if ((uintptr_t)r->user != r->index + 1) k->wrong++;
    k->next = r->index + 1;
    k->delivered++;
    if (!r->logits) {
        k->skipped++;
    } else if (k->q && r->index < N) {
        int i = (int)r->index, n = k->q->n[i], m = n > k->max_len ? k->max_len : n;
        double s = 0;
        for (int p = 0; p < m; p++) s += k->q->ids[i][p];
        if (r->logits[0] != (float)s || r->logits[1] != (float)m || r->n_tokens != m ||
            r->truncated != (n > m))
            k->wrong++;
        k->sum0[i] = r->logits[0];
    }
    return k->stop_after && k->delivered >= k->stop_after;
}

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* the sink, with a delivered count that another thread may read */
typedef struct flush_sink {
    sink k;
    atomic_int delivered;
} flush_sink;
static int on_score_atomic(void *ctx, const vkb_score *r) {
    flush_sink *fk = ctx;
    int rc = on_score(&fk->k, r);
    atomic_fetch_add(&fk->delivered, 1);
    return rc;
}

/* drop_user runs on the caller and scorer threads alike: count atomically */
static atomic_int notes, drops;
static void on_drop(void *user) { (void)user; drops++; }
static void on_note(void *ctx, const char *msg) {
    (void)ctx;
    if (strstr(msg, "out of device memory") && strstr(msg, "token budget")) notes++;
}

static void run(fake *f, const seqs *q, vkb_scorer_opts *o, sink *k, int skip_every,
                vkb_scorer_stats *st, int expect_fail) {
    vkb_scorer *s;
    vkb_error e = {0};
    REQUIRE(vkb_scorer_create(&f->base, o, on_score, k, &s, &e) == 0, "%s", e.msg);
    k->max_len = vkb_scorer_max_len(s);
    for (int i = 0; i < N; i++) {
        int rc = skip_every && i % skip_every == 3
                     ? vkb_scorer_add_skip(s, (void *)(uintptr_t)(i + 1), &e)
                     : vkb_scorer_add_ids(s, q->ids[i], q->n[i], (void *)(uintptr_t)(i + 1), &e);
        if (rc) break; /* stopped early (cancel / failure) */
        k->taken++;
    }
    int rc = vkb_scorer_finish(s, &e);
    CHECK((rc != 0) == (expect_fail != 0), "finish rc %d (%s)", rc, e.msg);
    if (expect_fail) CHECK(strstr(e.msg, "device lost") != NULL, "error: %s", e.msg);
    vkb_scorer_get_stats(s, st);
    vkb_scorer_free(s);
}

int main(void) {
    static seqs q;
    for (int i = 0; i < N; i++) {
        /* mostly short, some long (truncated at 128 below) */
        q.n[i] = rnd(0, 9) == 0 ? rnd(100, 400) : rnd(2, 60);
        q.ids[i] = malloc(sizeof(int32_t) * (size_t)q.n[i]);
        for (int p = 0; p < q.n[i]; p++) q.ids[i][p] = rnd(1, 999);
    }
    fake f;
    static sink k1, k2;
    vkb_scorer_stats s1, s2;

    /* 1. sorted, several windows, two tokenizer threads: order and values */
    fake_init(&f);
    vkb_scorer_opts o = {.max_len = 128, .batch_tokens = 1024, .window = 256, .threads = 2};
    k1.q = &q;
    run(&f, &q, &o, &k1, 0, &s1, 0);
    CHECK(k1.delivered == N && k1.wrong == 0, "delivered %d wrong %d", k1.delivered, k1.wrong);
    CHECK(f.max_bl <= 1024, "batch of %d tokens exceeds the budget", f.max_bl);
    CHECK(f.bad_padding == 0, "padding errors %d", f.bad_padding);
    CHECK(s1.items == N && s1.padded_tokens >= s1.real_tokens, "stats");

    /* 2. no grouping: identical results, more padding */
    fake_init(&f);
    o.no_sort = 1;
    k2.q = &q;
    run(&f, &q, &o, &k2, 0, &s2, 0);
    CHECK(k2.delivered == N && k2.wrong == 0, "no-sort delivered %d wrong %d", k2.delivered, k2.wrong);
    CHECK(memcmp(k1.sum0, k2.sum0, sizeof k1.sum0) == 0, "no-sort results differ");
    CHECK(s1.real_tokens == s2.real_tokens, "real tokens differ");
    CHECK(s2.padded_tokens > s1.padded_tokens, "grouping saved nothing: %llu vs %llu",
          (unsigned long long)s1.padded_tokens, (unsigned long long)s2.padded_tokens);
    printf("padding overhead: sorted %.3f, unsorted %.3f\n",
           (double)s1.padded_tokens / (double)s1.real_tokens,
           (double)s2.padded_tokens / (double)s2.real_tokens);
    o.no_sort = 0;

    /* 2b. batch_cost_tokens: the cut that minimises padded tokens + cost per
     * batch - identical results, within the budget, and never a worse
     * objective than the greedy cut, for small windows (a server's) and
     * large ones, small costs and large */
    {
        static const int windows[] = {8, 256}, costs[] = {1, 64, 1 << 20};
        for (int wi = 0; wi < 2; wi++) {
            vkb_scorer_stats sg, sc;
            static sink kg, kc;
            vkb_scorer_opts og = {.max_len = 128, .batch_tokens = 1024, .window = windows[wi], .threads = 2};
            memset(&kg, 0, sizeof kg);
            kg.q = &q;
            fake_init(&f);
            run(&f, &q, &og, &kg, 0, &sg, 0);
            for (int ci = 0; ci < 3; ci++) {
                vkb_scorer_opts oc = og;
                oc.batch_cost_tokens = costs[ci];
                memset(&kc, 0, sizeof kc);
                kc.q = &q;
                fake_init(&f);
                run(&f, &q, &oc, &kc, 0, &sc, 0);
                CHECK(kc.delivered == N && kc.wrong == 0, "cost %d window %d: delivered %d wrong %d", costs[ci],
                      windows[wi], kc.delivered, kc.wrong);
                CHECK(memcmp(kg.sum0, kc.sum0, sizeof kg.sum0) == 0, "cost %d: results differ", costs[ci]);
                CHECK(f.max_bl <= 1024 && f.bad_padding == 0, "cost %d: batch of %d tokens, padding errors %d",
                      costs[ci], f.max_bl, f.bad_padding);
                CHECK(sc.real_tokens == sg.real_tokens, "cost %d: real tokens differ", costs[ci]);
                double jg = (double)sg.padded_tokens + (double)costs[ci] * (double)sg.batches;
                double jc = (double)sc.padded_tokens + (double)costs[ci] * (double)sc.batches;
                CHECK(jc <= jg, "cost %d window %d: objective %.0f worse than greedy's %.0f", costs[ci],
                      windows[wi], jc, jg);
                if (costs[ci] == 1)
                    CHECK(sc.padded_tokens < sg.padded_tokens, "cost 1 window %d: padding %llu not below greedy's %llu",
                          windows[wi], (unsigned long long)sc.padded_tokens, (unsigned long long)sg.padded_tokens);
                printf("window %d, batch cost %d: padding %.3f in %llu batches (greedy %.3f in %llu)\n", windows[wi],
                       costs[ci], (double)sc.padded_tokens / (double)sc.real_tokens, (unsigned long long)sc.batches,
                       (double)sg.padded_tokens / (double)sg.real_tokens, (unsigned long long)sg.batches);
            }
        }
    }

    /* 3. placeholders are delivered in place with NULL logits */
    static sink k3;
    fake_init(&f);
    k3.q = &q;
    run(&f, &q, &o, &k3, 7, &s1, 0);
    CHECK(k3.delivered == N && k3.wrong == 0, "skip: delivered %d wrong %d", k3.delivered, k3.wrong);
    CHECK(k3.skipped == (N + 3) / 7, "skipped %d", k3.skipped);

    /* 4. out of device memory above 300 tokens: budget halves, all scored */
    static sink k4;
    fake_init(&f);
    f.oom_above = 300;
    o.note = on_note;
    k4.q = &q;
    run(&f, &q, &o, &k4, 0, &s1, 0);
    CHECK(k4.delivered == N && k4.wrong == 0, "oom: delivered %d wrong %d", k4.delivered, k4.wrong);
    CHECK(notes >= 1 && s1.batch_tokens <= 300, "notes %d budget %d", notes, s1.batch_tokens);
    o.note = NULL;

    /* 5. the callback stops the run: nothing is delivered afterwards */
    static sink k5;
    fake_init(&f);
    k5.q = &q;
    k5.stop_after = 10;
    o.drop_user = on_drop;
    run(&f, &q, &o, &k5, 0, &s1, 0);
    CHECK(k5.delivered == 10 && k5.wrong == 0, "stop: delivered %d", k5.delivered);
    CHECK(drops == k5.taken - 10, "drop_user called %d times for %d undelivered", drops,
          k5.taken - 10);
    o.drop_user = NULL;

    /* 6. a forward error (not OOM) fails finish with the backend's message */
    static sink k6;
    fake_init(&f);
    f.fail_at_call = 3;
    k6.q = &q;
    run(&f, &q, &o, &k6, 0, &s1, 1);
    CHECK(k6.wrong == 0, "fail: wrong %d", k6.wrong);

    /* 7. the interrupt flag stops the scorer */
    {
        static sink k7;
        volatile int intr = 0;
        fake_init(&f);
        vkb_scorer_opts oi = o;
        oi.interrupt = &intr;
        vkb_scorer *s;
        vkb_error e = {0};
        k7.q = &q;
        REQUIRE(vkb_scorer_create(&f.base, &oi, on_score, &k7, &s, &e) == 0, "%s", e.msg);
        k7.max_len = vkb_scorer_max_len(s);
        for (int i = 0; i < 100; i++)
            vkb_scorer_add_ids(s, q.ids[i], q.n[i], (void *)(uintptr_t)(i + 1), &e);
        intr = 1;
        int rc = vkb_scorer_add_ids(s, q.ids[100], q.n[100], (void *)101, &e);
        CHECK(rc != 0, "add after interrupt succeeded");
        vkb_scorer_finish(s, &e);
        CHECK(k7.delivered == 0 && k7.wrong == 0, "interrupt: delivered %d", k7.delivered);
        vkb_scorer_free(s);
    }

    /* 7b. a failed forward in the middle of a window: the results scored
     * before it that are complete in input order are still delivered
     * (issue 11 item 17), and vkb_scorer_progress counts what was scored */
    {
        static sink k7b;
        fake_init(&f);
        f.fail_at_call = 4;
        vkb_scorer_opts of = {.max_len = 128, .batch_tokens = 1024, .window = 3000, .threads = 2,
                              .no_sort = 1};
        vkb_scorer *s;
        vkb_error e = {0};
        k7b.q = &q;
        REQUIRE(vkb_scorer_create(&f.base, &of, on_score, &k7b, &s, &e) == 0, "%s", e.msg);
        k7b.max_len = vkb_scorer_max_len(s);
        for (int i = 0; i < 500; i++)
            if (vkb_scorer_add_ids(s, q.ids[i], q.n[i], (void *)(uintptr_t)(i + 1), &e)) break;
        CHECK(vkb_scorer_finish(s, &e) != 0, "the failure was not reported");
        uint64_t done = vkb_scorer_progress(s);
        CHECK(k7b.delivered > 0 && k7b.wrong == 0,
              "failure mid-window: delivered %d (wrong %d) of the %llu scored", k7b.delivered,
              k7b.wrong, (unsigned long long)done);
        CHECK(done == (uint64_t)k7b.delivered, "progress %llu, delivered %d (--no-sort: a prefix)",
              (unsigned long long)done, k7b.delivered);
        vkb_scorer_free(s);
    }

    /* 7c. vkb_scorer_flush: a partial window is scored without waiting for
     * the window to fill (a server's requests), in order, with the same
     * logits; a flush with nothing new is a no-op; after finish it fails */
    {
        fake_init(&f);
        vkb_scorer_opts of = {.max_len = 128, .batch_tokens = 1024, .window = 2048, .threads = 2};
        vkb_scorer *s;
        vkb_error e = {0};
        static flush_sink fk;
        fk.k.q = &q;
        REQUIRE(vkb_scorer_create(&f.base, &of, on_score_atomic, &fk, &s, &e) == 0, "%s", e.msg);
        fk.k.max_len = vkb_scorer_max_len(s);
        int added = 0;
        for (int round = 0; round < 4; round++) {
            int n = 1 + round * 5;
            for (int i = 0; i < n; i++, added++)
                REQUIRE(vkb_scorer_add_ids(s, q.ids[added], q.n[added],
                                           (void *)(uintptr_t)(added + 1), &e) == 0, "%s", e.msg);
            if (round == 0) {
                /* without a flush nothing moves: the window is not full */
                nap_ms(100);
                CHECK(atomic_load(&fk.delivered) == 0, "delivered before the flush");
            }
            CHECK(vkb_scorer_flush(s, &e) == 0, "flush: %s", e.msg);
            CHECK(vkb_scorer_flush(s, &e) == 0, "empty flush: %s", e.msg);
            for (int t = 0; t < 2000 && atomic_load(&fk.delivered) < added; t++) nap_ms(5);
            CHECK(atomic_load(&fk.delivered) == added, "round %d: %d of %d delivered after a flush",
                  round, atomic_load(&fk.delivered), added);
        }
        CHECK(vkb_scorer_finish(s, &e) == 0, "finish: %s", e.msg);
        CHECK(fk.k.wrong == 0 && fk.k.delivered == added, "flushed: %d wrong, %d delivered",
              fk.k.wrong, fk.k.delivered);
        CHECK(vkb_scorer_flush(s, &e) != 0, "flush after finish succeeded");
        vkb_scorer_free(s);
    }

    /* 8. an empty run, text without a tokenizer, bad ids */
    {
        fake_init(&f);
        vkb_scorer *s;
        vkb_error e = {0};
        static sink k8;
        REQUIRE(vkb_scorer_create(&f.base, NULL, on_score, &k8, &s, &e) == 0, "%s", e.msg);
        CHECK(vkb_scorer_add_text(s, "hello", 5, NULL, &e) != 0 && strstr(e.msg, "tokenizer"),
              "text without tokenizer: %s", e.msg);
        int32_t bad[3] = {1, 5000, 2};
        CHECK(vkb_scorer_add_ids(s, bad, 3, NULL, &e) != 0 && strstr(e.msg, "5000"),
              "bad id: %s", e.msg);
        CHECK(vkb_scorer_finish(s, &e) == 0 && k8.delivered == 0, "empty run");
        vkb_scorer_free(s);
        f.model.cfg.n_labels = 0;
        CHECK(vkb_scorer_create(&f.base, NULL, on_score, &k8, &s, &e) != 0 &&
              strstr(e.msg, "classifier"), "no head: %s", e.msg);
    }
    for (int i = 0; i < N; i++) free(q.ids[i]);
    return vkb_test_done("test_scorer");
}
