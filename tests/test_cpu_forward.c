/* test_cpu_forward.c - the CPU reference forward pass against PyTorch.
 *
 * For each committed checkpoint under tests/data/ (written by
 * tools/make_checkpoint.py; reference.json by tools/reference_logits.py, an
 * independent float64 PyTorch implementation), the CPU backend must give:
 *  - logits (or, for the base model, the last hidden state) within 1e-4 of
 *    the reference in fp32 and within 1e-6 in fp64-accumulation mode;
 *  - the same logits for a padded batch as for each sequence run alone, to
 *    the bit;
 *  - hidden states whose last layer, first token, through the head,
 *    reproduces the logits; and the same logits whether or not hidden
 *    states are captured;
 *  - errors (not crashes) for bad lens, out-of-vocabulary ids, L > max_pos,
 *    and logits requested from a base model;
 *  - the fast fp32 path within 1e-4 of the fp64-accumulation mode on logits
 *    (base model: every hidden state) on every committed checkpoint and
 *    models/default, on padded batches at odd lengths, with 1, 2 and 3
 *    threads (and the same logits for any thread count);
 *  - fp32: a sequence alone and inside batches of other sizes, padded
 *    lengths and positions gives bit-identical logits, pooled vector and
 *    last hidden states (committed checkpoints, models/default, and a
 *    one-layer model of the distilbert-base width). */
#include "testutil.h"
#include "backend.h"
#include "cpu_ops.h"
#include "model.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define TOL_FP32 1e-4
#define TOL_FP64 1e-6

typedef struct {
    int B, L;
    int32_t *ids, *lens;
    double *ref; /* logits [B*n_labels] or last hidden state [B*L*dim] */
    size_t n_ref;
} ref_batch;

static int32_t *int_array(const cJSON *a, size_t want) {
    REQUIRE(cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == want, "bad int array");
    int32_t *v = malloc(want * sizeof *v);
    REQUIRE(v, "out of memory");
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = (int32_t)e->valuedouble;
    return v;
}

static int load_refs(const char *dir, const char *key, ref_batch **out) {
    char path[512];
    snprintf(path, sizeof path, "%s/reference.json", dir);
    char *text = vkb_test_read_file(path, NULL);
    REQUIRE(text, "cannot read %s", path);
    cJSON *root = cJSON_Parse(text);
    REQUIRE(root, "invalid JSON in %s", path);
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "batches");
    int n = cJSON_GetArraySize(bs);
    REQUIRE(n > 0, "%s: no batches", path);
    ref_batch *r = calloc((size_t)n, sizeof *r);
    REQUIRE(r, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *b = cJSON_GetArrayItem(bs, i);
        r[i].B = cJSON_GetObjectItemCaseSensitive(b, "B")->valueint;
        r[i].L = cJSON_GetObjectItemCaseSensitive(b, "L")->valueint;
        r[i].ids = int_array(cJSON_GetObjectItemCaseSensitive(b, "ids"), (size_t)r[i].B * r[i].L);
        r[i].lens = int_array(cJSON_GetObjectItemCaseSensitive(b, "lens"), (size_t)r[i].B);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, key);
        REQUIRE(cJSON_IsArray(y), "%s: batch %d has no %s", path, i, key);
        r[i].n_ref = (size_t)cJSON_GetArraySize(y);
        r[i].ref = malloc(r[i].n_ref * sizeof(double));
        REQUIRE(r[i].ref, "out of memory");
        size_t j = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, y) r[i].ref[j++] = e->valuedouble;
    }
    cJSON_Delete(root);
    free(text);
    *out = r;
    return n;
}

static double max_abs(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= m)) m = e;
    }
    return m;
}

static double max_abs_f(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= m)) m = e;
    }
    return m;
}

static float *tensor_f32(const vkb_tensor *t) {
    float *x = malloc((size_t)t->numel * sizeof *x);
    REQUIRE(x, "out of memory");
    REQUIRE(vkb_tensor_to_f32(t, x, NULL) == 0, "reading a tensor");
    return x;
}

static void check_model(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, "data/%s", name);
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "%s: %s", dir, err.msg);
    const vkb_config *c = vkb_model_config(m);
    int head = m->w.has_head, D = c->dim, NL = c->n_labels;
    CHECK(head == (c->n_labels > 0), "%s: has_head %d but %d labels", name, head, NL);
    ref_batch *rb;
    int nb = load_refs(dir, head ? "logits" : "last_hidden_state", &rb);

    for (int fp64 = 0; fp64 <= 1; fp64++) {
        double tol = fp64 ? TOL_FP64 : TOL_FP32;
        vkb_backend_opts o = {.device = "cpu", .threads = 2, .fp64_accum = fp64,
                              .max_tokens = 64}; /* small: forces buffer growth */
        vkb_backend *be = NULL;
        REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s: %s", name, err.msg);
        CHECK(strstr(vkb_backend_device(be), "CPU") != NULL, "device '%s'", vkb_backend_device(be));
        double worst = 0;
        for (int i = 0; i < nb; i++) {
            ref_batch *r = &rb[i];
            int B = r->B, L = r->L;
            size_t stage = (size_t)B * L * D;
            float *hidden = malloc((size_t)(c->n_layers + 1) * stage * sizeof(float));
            float *logits = malloc((size_t)B * (NL > 0 ? NL : 1) * sizeof(float));
            REQUIRE(hidden && logits, "out of memory");
            vkb_batch bt = {B, L, r->ids, r->lens};
            vkb_outputs out = {.logits = head ? logits : NULL, .hidden = hidden};
            REQUIRE(vkb_forward(be, &bt, &out, &err) == 0, "%s batch %d: %s", name, i, err.msg);
            const float *got = head ? logits : hidden + (size_t)c->n_layers * stage;
            size_t n = head ? (size_t)B * NL : stage;
            CHECK(r->n_ref == n, "%s batch %d: reference has %zu values, expected %zu", name, i,
                  r->n_ref, n);
            double e = max_abs(got, r->ref, n < r->n_ref ? n : r->n_ref);
            if (e > worst) worst = e;
            CHECK(e <= tol, "%s fp64=%d batch %d (B=%d L=%d): max |diff| %g > %g", name, fp64, i,
                  B, L, e, tol);

            /* Each sequence alone, unpadded, gives the same output as in the
             * padded batch (valid positions only for hidden states). */
            for (int b = 0; b < B; b++) {
                int n1 = r->lens[b];
                float *h1 = malloc((size_t)(c->n_layers + 1) * n1 * D * sizeof(float));
                float l1[16];
                REQUIRE(h1 && NL <= 16, "out of memory");
                vkb_batch one = {1, n1, r->ids + (size_t)b * L, &n1};
                vkb_outputs o1 = {.logits = head ? l1 : NULL, .hidden = h1};
                REQUIRE(vkb_forward(be, &one, &o1, &err) == 0, "%s: %s", name, err.msg);
                double d;
                if (head) d = max_abs_f(l1, logits + (size_t)b * NL, (size_t)NL);
                else d = max_abs_f(h1 + (size_t)c->n_layers * n1 * D,
                                   hidden + (size_t)c->n_layers * stage + (size_t)b * L * D,
                                   (size_t)n1 * D);
                /* both modes compute every row the same way whatever the
                 * batch (fp32: see vkb_cpu_gemm_packed), so exactly */
                CHECK(d == 0, "%s fp64=%d batch %d seq %d alone differs by %g",
                      name, fp64, i, b, d);
                free(h1);
            }

            if (head) {
                /* Hidden capture: the last layer's first tokens through the
                 * head reproduce the logits, and capturing changes nothing. */
                float *pw = tensor_f32(vkb_model_tensor(m, VKB_T_PRE_W, 0));
                float *pb = tensor_f32(vkb_model_tensor(m, VKB_T_PRE_B, 0));
                float *cw = tensor_f32(vkb_model_tensor(m, VKB_T_CLS_W, 0));
                float *cb = tensor_f32(vkb_model_tensor(m, VKB_T_CLS_B, 0));
                float *first = malloc((size_t)B * D * sizeof(float)), *mid = malloc((size_t)B * D * sizeof(float));
                float *l2 = malloc((size_t)B * NL * sizeof(float));
                REQUIRE(first && mid && l2, "out of memory");
                for (int b = 0; b < B; b++)
                    memcpy(first + (size_t)b * D,
                           hidden + (size_t)c->n_layers * stage + (size_t)b * L * D,
                           (size_t)D * sizeof(float));
                vkb_cpu_linear(first, pw, pb, mid, B, D, D, VKB_ACT_RELU, fp64, 1);
                vkb_cpu_linear(mid, cw, cb, l2, B, NL, D, VKB_ACT_NONE, fp64, 1);
                CHECK(max_abs_f(l2, logits, (size_t)B * NL) <= 1e-6,
                      "%s batch %d: head(hidden) differs from logits by %g", name, i,
                      max_abs_f(l2, logits, (size_t)B * NL));
                vkb_outputs only = {.logits = l2, .hidden = NULL};
                REQUIRE(vkb_forward(be, &bt, &only, &err) == 0, "%s: %s", name, err.msg);
                CHECK(memcmp(l2, logits, (size_t)B * NL * sizeof(float)) == 0,
                      "%s batch %d: logits differ when hidden states are not captured", name, i);
                free(pw); free(pb); free(cw); free(cb); free(first); free(mid); free(l2);
            } else {
                vkb_outputs bad = {.logits = logits, .hidden = NULL};
                CHECK(vkb_forward(be, &bt, &bad, &err) != 0,
                      "%s: logits from a base model must be an error", name);
            }
            free(hidden);
            free(logits);
        }
        printf("%s %s: max |diff| vs PyTorch float64 = %.3g (%s)\n", name, fp64 ? "fp64" : "fp32",
               worst, vkb_backend_device(be));

        /* Malformed batches are errors naming the problem. */
        int32_t ids[4] = {2, 5, 3, 0}, lens0 = 0, lens5 = 5, lens3 = 3;
        vkb_batch bad = {1, 4, ids, &lens0};
        vkb_outputs none = {.logits = NULL, .hidden = NULL};
        CHECK(vkb_forward(be, &bad, &none, &err) != 0 && strstr(err.msg, "lens"),
              "lens 0 accepted (%s)", err.msg);
        bad.lens = &lens5;
        CHECK(vkb_forward(be, &bad, &none, &err) != 0, "lens > L accepted");
        bad.lens = &lens3;
        ids[1] = c->vocab_size;
        CHECK(vkb_forward(be, &bad, &none, &err) != 0 && strstr(err.msg, "vocab"),
              "out-of-vocabulary id accepted (%s)", err.msg);
        ids[1] = -1;
        CHECK(vkb_forward(be, &bad, &none, &err) != 0, "negative id accepted");
        int32_t *big = calloc((size_t)c->max_pos + 1, sizeof *big);
        int32_t bl = 1;
        vkb_batch toolong = {1, c->max_pos + 1, big, &bl};
        CHECK(vkb_forward(be, &toolong, &none, &err) != 0, "L > max_pos accepted");
        free(big);
        vkb_backend_free(be);
    }

    /* The thread count does not change fp64 results. */
    if (head) {
        ref_batch *r = &rb[0];
        float a[64], b[64];
        REQUIRE(r->B * NL <= 64, "batch too large for the buffer");
        for (int th = 1; th <= 3; th += 2) {
            vkb_backend_opts o = {.device = "cpu", .threads = th, .fp64_accum = 1};
            vkb_backend *be;
            REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s", err.msg);
            vkb_batch bt = {r->B, r->L, r->ids, r->lens};
            vkb_outputs out = {.logits = th == 1 ? a : b, .hidden = NULL};
            REQUIRE(vkb_forward(be, &bt, &out, &err) == 0, "%s", err.msg);
            vkb_backend_free(be);
        }
        CHECK(memcmp(a, b, (size_t)r->B * NL * sizeof(float)) == 0,
              "%s: fp64 logits differ between 1 and 3 threads", name);
    }

    for (int i = 0; i < nb; i++) { free(rb[i].ids); free(rb[i].lens); free(rb[i].ref); }
    free(rb);
    vkb_model_free(m);
}

/* fp32 (the fast path) against fp64 accumulation on the same batches. */
static void check_fast_vs_fp64(const char *dir) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "%s: %s", dir, err.msg);
    const vkb_config *c = vkb_model_config(m);
    int head = m->w.has_head, NL = c->n_labels, D = c->dim;
    int shapes[][2] = {{1, 1}, {1, 13}, {3, 37}, {5, 70}};
    uint64_t s = 99;
    double worst = 0;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int B = shapes[k][0], L = shapes[k][1] < c->max_pos ? shapes[k][1] : c->max_pos;
        int32_t *ids = malloc((size_t)B * L * sizeof *ids), lens[5];
        size_t stage = (size_t)B * L * D, nh = (size_t)(c->n_layers + 1) * stage;
        float *lg[2][3], *hid[2];
        REQUIRE(ids, "out of memory");
        for (int i = 0; i < B * L; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            ids[i] = (int32_t)((s >> 33) % (uint64_t)c->vocab_size);
        }
        for (int b = 0; b < B; b++) lens[b] = L - (b * 7) % L; /* padded rows */
        for (int fp64 = 0; fp64 <= 1; fp64++) {
            hid[fp64] = malloc(nh * sizeof(float));
            REQUIRE(hid[fp64], "out of memory");
            for (int th = 1; th <= 3; th++) {
                lg[fp64][th - 1] = malloc((size_t)B * (NL > 0 ? NL : 1) * sizeof(float));
                REQUIRE(lg[fp64][th - 1], "out of memory");
                vkb_backend_opts o = {.device = "cpu", .threads = th, .fp64_accum = fp64};
                vkb_backend *be = NULL;
                REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s: %s", dir, err.msg);
                vkb_batch bt = {B, L, ids, lens};
                vkb_outputs out = {.logits = head ? lg[fp64][th - 1] : NULL, .hidden = th == 2 ? hid[fp64] : NULL};
                REQUIRE(vkb_forward(be, &bt, &out, &err) == 0, "%s: %s", dir, err.msg);
                vkb_backend_free(be);
            }
        }
        double e = 0;
        if (head) {
            for (int th = 0; th < 3; th++)
                for (int i = 0; i < B * NL; i++) {
                    double d = fabs((double)lg[0][th][i] - lg[1][th][i]);
                    if (!(d <= e)) e = d;
                }
            for (int th = 1; th < 3; th++)
                CHECK(memcmp(lg[0][0], lg[0][th], (size_t)B * NL * sizeof(float)) == 0,
                      "%s: fp32 logits differ between 1 and %d threads", dir, th + 1);
        } else { /* every stage's valid rows */
            for (int st = 0; st <= c->n_layers; st++)
                for (int b = 0; b < B; b++)
                    for (size_t i = 0; i < (size_t)lens[b] * D; i++) {
                        size_t at = st * stage + (size_t)b * L * D + i;
                        double d = fabs((double)hid[0][at] - hid[1][at]);
                        if (!(d <= e)) e = d;
                    }
        }
        CHECK(e <= TOL_FP32, "%s B=%d L=%d: fast fp32 vs fp64 max |diff| %g > %g", dir, B, L, e,
              TOL_FP32);
        if (e > worst) worst = e;
        for (int f = 0; f < 2; f++) {
            free(hid[f]);
            for (int th = 0; th < 3; th++) free(lg[f][th]);
        }
        free(ids);
    }
    printf("%s: fast fp32 vs fp64 max |diff| = %.3g (%s)\n", dir, worst,
           head ? "logits" : "hidden states");
    vkb_model_free(m);
}

/* Batch-composition independence (fp32 fast path, what `vkbert serve`
 * promises): a sequence scored alone, and inside batches of other sizes, of
 * other padded lengths and at other positions, gives bit-identical logits,
 * pooled vector and last-layer hidden states (valid rows).  Short sequences
 * matter most (few rows: tiles of one row, edge tiles). */
static void check_batch_independence(vkb_model *m, const char *name) {
    vkb_error err = {0};
    const vkb_config *c = vkb_model_config(m);
    int head = m->w.has_head, NL = head ? c->n_labels : 0, D = c->dim, NLY = c->n_layers;
    vkb_backend_opts o = {.device = "cpu", .threads = 2};
    vkb_backend *be = NULL;
    REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s: %s", name, err.msg);
    int lengths[] = {1, 2, 3, 5, 17, 40};
    uint64_t s = 7;
    int worst_cases = 0;
    double dev = 0; /* the largest deviation from the sequence alone */
    for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
        int n = lengths[li] < c->max_pos ? lengths[li] : c->max_pos;
        /* batches: {B, L, position of the sequence}; the alone run first */
        int shapes[][3] = {{1, n, 0}, {2, n, 0}, {2, n, 1}, {3, n + 9, 1}, {9, n + 20, 8}, {4, n + 1, 2}};
        float ref_logits[16], ref_pool[4096];
        float *ref_hidden = malloc((size_t)n * D * sizeof(float));
        int32_t *seq = malloc((size_t)n * sizeof *seq);
        REQUIRE(ref_hidden && seq && NL <= 16 && D <= 4096, "out of memory");
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            seq[i] = (int32_t)((s >> 33) % (uint64_t)c->vocab_size);
        }
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            int B = shapes[k][0], L = shapes[k][1], at = shapes[k][2];
            if (L > c->max_pos) L = c->max_pos;
            if (L < n) continue;
            int32_t *ids = malloc((size_t)B * L * sizeof *ids), *lens = malloc((size_t)B * sizeof *lens);
            float *logits = malloc((size_t)B * (NL ? NL : 1) * sizeof(float));
            float *pooled = malloc((size_t)B * D * sizeof(float));
            float *hidden = malloc((size_t)(NLY + 1) * B * L * D * sizeof(float));
            REQUIRE(ids && lens && logits && pooled && hidden, "out of memory");
            for (int b = 0; b < B; b++) {
                lens[b] = b == at ? n : 1 + (int)((b * 37 + k * 11) % (size_t)L);
                for (int p = 0; p < L; p++) {
                    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                    ids[(size_t)b * L + p] = b == at && p < n ? seq[p]
                                              : (int32_t)((s >> 33) % (uint64_t)c->vocab_size);
                }
            }
            vkb_batch bt = {B, L, ids, lens};
            vkb_outputs out = {.logits = head ? logits : NULL, .hidden = hidden, .pooled = pooled,
                               .pooling = VKB_POOL_MEAN};
            REQUIRE(vkb_forward(be, &bt, &out, &err) == 0, "%s: %s", name, err.msg);
            const float *h = hidden + (size_t)NLY * B * L * D + (size_t)at * L * D;
            if (k == 0) {
                if (head) memcpy(ref_logits, logits, (size_t)NL * sizeof(float));
                memcpy(ref_pool, pooled, (size_t)D * sizeof(float));
                memcpy(ref_hidden, h, (size_t)n * D * sizeof(float));
            } else {
                int same_l = !head || memcmp(ref_logits, logits + (size_t)at * NL, (size_t)NL * sizeof(float)) == 0;
                int same_p = memcmp(ref_pool, pooled + (size_t)at * D, (size_t)D * sizeof(float)) == 0;
                int same_h = memcmp(ref_hidden, h, (size_t)n * D * sizeof(float)) == 0;
                double dl = head ? max_abs_f(ref_logits, logits + (size_t)at * NL, (size_t)NL) : 0.0;
                double dp = max_abs_f(ref_pool, pooled + (size_t)at * D, (size_t)D);
                double dh = max_abs_f(ref_hidden, h, (size_t)n * D);
                double dk = dl > dp ? dl : dp;
                dk = dk > dh ? dk : dh;
                if (dk > dev) dev = dk;
                CHECK(same_l && same_p && same_h,
                      "%s: a sequence of %d tokens alone vs at %d of a %dx%d batch: logits %s (max "
                      "|diff| %g), pooled %s, hidden %s (max |diff| %g)",
                      name, n, at, B, L, same_l ? "same" : "differ",
                      head ? max_abs_f(ref_logits, logits + (size_t)at * NL, (size_t)NL) : 0.0,
                      same_p ? "same" : "differ", same_h ? "same" : "differ",
                      max_abs_f(ref_hidden, h, (size_t)n * D));
                worst_cases += !(same_l && same_p && same_h);
            }
            free(ids); free(lens); free(logits); free(pooled); free(hidden);
        }
        free(ref_hidden);
        free(seq);
    }
    printf("%s: batch composition independence (%s): %s (max |diff| %g)\n", name,
           vkb_backend_device(be), !worst_cases ? "bit-identical" : "DIFFERS", dev);
    vkb_backend_free(be);
}

/* A pass asked only for the first tokens' outputs (logits, CLS pooling, no
 * hidden states) runs the last layer on those rows only (cpu_backend.c,
 * cls_only): the same bits as the full pass in fp32 (bf16 / int8: within
 * 1e-3, oneDNN's kernels may depend on M), whatever the lengths (one of 1 token, padding, the first and last sequence). */
static void check_cls_only(vkb_model *m, const char *name) {
    vkb_error err = {0};
    const vkb_config *c = vkb_model_config(m);
    int head = m->w.has_head, NL = head ? c->n_labels : 0, D = c->dim, NLY = c->n_layers;
    int B = 5, L = 37 < c->max_pos ? 37 : c->max_pos;
    int32_t *ids = malloc((size_t)B * L * sizeof *ids), lens[5] = {L, 1, L - 3 > 0 ? L - 3 : 1, 2, 17 < L ? 17 : L};
    float *hidden = malloc((size_t)(NLY + 1) * B * L * D * sizeof(float));
    float *l_full = malloc((size_t)B * (NL ? NL : 1) * sizeof(float)), *l_cls = malloc((size_t)B * (NL ? NL : 1) * sizeof(float));
    float *p_full = malloc((size_t)B * D * sizeof(float)), *p_cls = malloc((size_t)B * D * sizeof(float));
    REQUIRE(ids && hidden && l_full && l_cls && p_full && p_cls, "out of memory");
    for (int i = 0; i < B * L; i++) ids[i] = (int32_t)((i * 7919 + 13) % c->vocab_size);
    vkb_batch bt = {B, L, ids, lens};
    for (int p = 0; p <= 2; p++) {
        vkb_precision prec = p == 0 ? VKB_PREC_FP32 : p == 1 ? VKB_PREC_BF16 : VKB_PREC_INT8;
        vkb_backend_opts o = {.device = "cpu", .threads = 2, .precision = prec};
        vkb_backend *be = NULL;
        REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s %s: %s", name, vkb_precision_name(prec), err.msg);
        vkb_outputs full = {.logits = head ? l_full : NULL, .hidden = hidden, .pooled = p_full,
                            .pooling = VKB_POOL_CLS};
        REQUIRE(vkb_forward(be, &bt, &full, &err) == 0, "%s: %s", name, err.msg);
        memset(l_cls, 0xff, (size_t)B * (NL ? NL : 1) * sizeof(float));
        memset(p_cls, 0xff, (size_t)B * D * sizeof(float));
        vkb_outputs cls = {.logits = head ? l_cls : NULL, .pooled = p_cls, .pooling = VKB_POOL_CLS};
        REQUIRE(vkb_forward(be, &bt, &cls, &err) == 0, "%s: %s", name, err.msg);
        /* fp32: every GEMM row and attention query on its own, to the bit.
         * bf16 / int8 (oneDNN; fp32 where it is missing) may pick other
         * kernels for B rows than for B*L: the mode's rounding, no more */
        double dl = head ? max_abs_f(l_full, l_cls, (size_t)B * NL) : 0.0;
        double dp = max_abs_f(p_full, p_cls, (size_t)B * D);
        int lowp = strstr(vkb_backend_device(be), "oneDNN") != NULL;
        CHECK(lowp ? dl <= 1e-3 : !head || memcmp(l_full, l_cls, (size_t)B * NL * sizeof(float)) == 0,
              "%s %s: logits of the [CLS]-only pass differ from the full pass (max |diff| %g)", name,
              vkb_backend_device(be), dl);
        CHECK(lowp ? dp <= 1e-3 : memcmp(p_full, p_cls, (size_t)B * D * sizeof(float)) == 0,
              "%s %s: CLS pooling of the [CLS]-only pass differs from the full pass (max |diff| %g)", name,
              vkb_backend_device(be), dp);
        if (lowp && (dl > 0 || dp > 0)) printf("%s %s: [CLS]-only vs full: logits %g, pooled %g\n", name,
                                               vkb_backend_device(be), dl, dp);
        int first = 1;
        for (int b = 0; b < B; b++)
            first &= memcmp(p_full + (size_t)b * D, hidden + ((size_t)NLY * B * L + (size_t)b * L) * D,
                            (size_t)D * sizeof(float)) == 0;
        CHECK(first, "%s %s: CLS pooling is not the last layer's first token", name, vkb_backend_device(be));
        if (head) { /* logits alone, no pooling */
            vkb_outputs lo = {.logits = l_cls};
            REQUIRE(vkb_forward(be, &bt, &lo, &err) == 0, "%s: %s", name, err.msg);
            CHECK(lowp ? max_abs_f(l_full, l_cls, (size_t)B * NL) <= 1e-3
                       : memcmp(l_full, l_cls, (size_t)B * NL * sizeof(float)) == 0,
                  "%s %s: logits alone differ from the full pass", name, vkb_backend_device(be));
        }
        vkb_backend_free(be);
    }
    printf("%s: [CLS]-only last layer: as the full pass (fp32 to the bit; bf16, int8)\n", name);
    free(ids); free(hidden); free(l_full); free(l_cls); free(p_full); free(p_cls);
}

static void check_batch_independence_dir(const char *dir) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "%s: %s", dir, err.msg);
    check_batch_independence(m, dir);
    check_cls_only(m, dir);
    vkb_model_free(m);
}

/* bf16 / int8 with oneDNN missing (vkb_backend_opts.dnnl_library names a
 * file that does not exist; the same as libdnnl.so.2 not installed): the
 * backend opens, runs fp32 (logits bit-identical to the fp32 backend's) and
 * says why in its note. */
static void check_lowp_without_dnnl(const char *dir) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "%s: %s", dir, err.msg);
    const vkb_config *c = vkb_model_config(m);
    int B = 3, L = 29 < c->max_pos ? 29 : c->max_pos, NL = c->n_labels;
    int32_t ids[3 * 29], lens[3] = {L, L - 5, 1};
    for (int i = 0; i < B * L; i++) ids[i] = (int32_t)((i * 7919) % c->vocab_size);
    float ref[3 * 16], got[3 * 16];
    REQUIRE(NL <= 16, "%s: %d labels", dir, NL);
    vkb_batch bt = {B, L, ids, lens};
    for (int p = 0; p <= 2; p++) {
        vkb_precision prec = p == 0 ? VKB_PREC_FP32 : p == 1 ? VKB_PREC_BF16 : VKB_PREC_INT8;
        vkb_backend_opts o = {.device = "cpu", .threads = 2, .precision = prec,
                              .dnnl_library = "/nonexistent/libdnnl.so.2"};
        vkb_backend *be = NULL;
        REQUIRE(vkb_backend_create(m, &o, &be, &err) == 0, "%s %s: %s", dir, vkb_precision_name(prec), err.msg);
        const char *note = vkb_backend_note(be);
        if (p == 0)
            CHECK(note[0] == 0, "%s fp32: oneDNN is not loaded for fp32, yet a note: %s", dir, note);
        else
            CHECK(strstr(note, "needs oneDNN") && strstr(note, "/nonexistent/libdnnl.so.2") &&
                      strstr(note, "running fp32") && strstr(note, vkb_precision_name(prec)),
                  "%s %s: note: '%s'", dir, vkb_precision_name(prec), note);
        CHECK(strstr(vkb_backend_device(be), "oneDNN") == NULL, "%s: device %s", dir, vkb_backend_device(be));
        vkb_outputs out = {.logits = p == 0 ? ref : got};
        REQUIRE(vkb_forward(be, &bt, &out, &err) == 0, "%s: %s", dir, err.msg);
        if (p > 0)
            CHECK(memcmp(ref, got, (size_t)B * NL * sizeof(float)) == 0,
                  "%s %s without oneDNN: logits differ from fp32", dir, vkb_precision_name(prec));
        vkb_backend_free(be);
    }
    printf("%s: bf16/int8 without oneDNN: fp32 with a note\n", dir);
    vkb_model_free(m);
}

int main(void) {
    check_lowp_without_dnnl("data/tiny-f32");
    const char *models[] = {"tiny-f32", "odd-f16", "tiny-bf16", "base-f32"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) check_model(models[i]);
    const char *dirs[] = {"data/tiny-f32", "data/odd-f16", "data/tiny-bf16", "data/base-f32",
                          "../models/default"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) check_fast_vs_fp64(dirs[i]);
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) check_batch_independence_dir(dirs[i]);
    /* the distilbert-base width (768, hidden 3072, 2 labels), one layer */
    vkb_config shape;
    vkb_model *rm = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_config_named("distilbert-base", &shape, &err) == 0, "%s", err.msg);
    shape.n_layers = 1;
    shape.vocab_size = 1000;
    REQUIRE(vkb_model_random(&shape, 5, &rm, &err) == 0, "%s", err.msg);
    check_batch_independence(rm, "distilbert-base shape, 1 layer");
    check_cls_only(rm, "distilbert-base shape, 1 layer");
    vkb_model_free(rm);
    return vkb_test_done("test_cpu_forward");
}
