/* test_pool.c - sentence embeddings (pooled last hidden state):
 *  - the pooling op (mean / cls / max over the real tokens) and L2
 *    normalization against fp64 at odd sizes (B 5, L 13, dim 77);
 *  - the CPU backend's and the Vulkan backend's pooled outputs on the
 *    committed checkpoints (a base DistilBertModel and the encoder of a
 *    classifier) against PyTorch (tests/data/<m>/embeddings.json, written by
 *    tools/reference_embeddings.py, HF / sentence-transformers semantics):
 *    within 1e-4 in fp32 (CPU, lavapipe) and 2e-2 in fp16;
 *  - pooled outputs with logits in the same forward leave the logits as
 *    they were; a batch over the Vulkan token budget (several passes) pools
 *    each sequence like one pass does;
 *  - a pooled output without a pooling mode is an error.
 * The Vulkan part skips when there is no Vulkan device. */
#include "testutil.h"
#include "backend.h"
#include "cpu_pool.h"
#include "model.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

static const char *const MODES[] = {"mean", "cls", "max"};

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

/* ---- the op vs fp64 -------------------------------------------------------- */
static void test_op(void) {
    enum { B = 5, L = 13, D = 77 };
    int32_t lens[B] = {13, 1, 7, 12, 2};
    float x[B * L * D], out[B * D];
    uint64_t st = 42;
    vkb_test_rand(x, sizeof x / sizeof *x, 3.0f, &st);
    for (int mode = 1; mode <= 3; mode++) {
        vkb_cpu_pool(x, lens, out, B, L, D, mode);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < D; j++) {
                double ref = mode == 2 ? x[(size_t)b * L * D + j] : mode == 3 ? -INFINITY : 0;
                for (int p = 0; mode != 2 && p < lens[b]; p++) {
                    double v = x[((size_t)b * L + p) * D + j];
                    if (mode == 1) ref += v / lens[b];
                    else if (v > ref) ref = v;
                }
                double e = fabs(out[b * D + j] - ref);
                if (e > worst) worst = e;
            }
        CHECK(worst <= (mode == 1 ? 1e-6 : 0), "pool mode %d: max abs error %g", mode, worst);
    }
    /* normalization */
    float v[D], z[3] = {0, 0, 0};
    memcpy(v, out, sizeof v);
    double n2 = 0;
    for (int j = 0; j < D; j++) n2 += (double)v[j] * v[j];
    vkb_l2_normalize(v, D);
    double worst = 0, s = 0;
    for (int j = 0; j < D; j++) {
        double e = fabs(v[j] - out[j] / sqrt(n2));
        if (e > worst) worst = e;
        s += (double)v[j] * v[j];
    }
    CHECK(worst < 1e-7 && fabs(s - 1) < 1e-6, "normalize: error %g, norm^2 %g", worst, s);
    vkb_l2_normalize(z, 3);
    CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0, "a zero vector stays zero");
    /* names */
    vkb_pooling p;
    CHECK(vkb_pooling_parse("max", &p) == 0 && p == VKB_POOL_MAX, "parse max");
    CHECK(vkb_pooling_parse("avg", &p) == -1, "parse avg");
    CHECK(!strcmp(vkb_pooling_name(VKB_POOL_CLS), "cls"), "name cls");
}

/* ---- backends vs PyTorch ------------------------------------------------------ */
typedef struct { int B, L; int32_t *ids, *lens; double *ref[3], *refn[3]; } ref_batch;

static double *num_array(const cJSON *a, size_t want) {
    REQUIRE(cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == want, "bad array");
    double *v = malloc(want * sizeof *v);
    REQUIRE(v, "out of memory");
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = e->valuedouble;
    return v;
}

static int load_refs(const char *dir, int dim, ref_batch **out) {
    char path[512], key[32];
    snprintf(path, sizeof path, "%s/embeddings.json", dir);
    char *text = vkb_test_read_file(path, NULL);
    REQUIRE(text, "cannot read %s", path);
    cJSON *root = cJSON_Parse(text);
    REQUIRE(root, "%s: not JSON", path);
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "batches");
    int n = cJSON_GetArraySize(bs);
    ref_batch *r = calloc((size_t)n, sizeof *r);
    REQUIRE(r && n > 0, "%s: no batches", path);
    for (int i = 0; i < n; i++) {
        const cJSON *b = cJSON_GetArrayItem(bs, i);
        r[i].B = cJSON_GetObjectItemCaseSensitive(b, "B")->valueint;
        r[i].L = cJSON_GetObjectItemCaseSensitive(b, "L")->valueint;
        size_t nt = (size_t)r[i].B * r[i].L;
        double *ids = num_array(cJSON_GetObjectItemCaseSensitive(b, "ids"), nt);
        double *lens = num_array(cJSON_GetObjectItemCaseSensitive(b, "lens"), (size_t)r[i].B);
        r[i].ids = malloc(nt * 4);
        r[i].lens = malloc((size_t)r[i].B * 4);
        REQUIRE(r[i].ids && r[i].lens, "out of memory");
        for (size_t k = 0; k < nt; k++) r[i].ids[k] = (int32_t)ids[k];
        for (int k = 0; k < r[i].B; k++) r[i].lens[k] = (int32_t)lens[k];
        free(ids);
        free(lens);
        for (int m = 0; m < 3; m++) {
            r[i].ref[m] = num_array(cJSON_GetObjectItemCaseSensitive(b, MODES[m]), (size_t)r[i].B * dim);
            snprintf(key, sizeof key, "%s_normalized", MODES[m]);
            r[i].refn[m] = num_array(cJSON_GetObjectItemCaseSensitive(b, key), (size_t)r[i].B * dim);
        }
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

/* Every batch and mode of the reference through `be`; returns the worst error. */
static double run_refs(const char *what, vkb_backend *be, const vkb_config *cfg, ref_batch *r, int n,
                       double tol) {
    double worst = 0;
    int D = cfg->dim;
    for (int i = 0; i < n; i++) {
        vkb_batch batch = {r[i].B, r[i].L, r[i].ids, r[i].lens};
        float *pooled = malloc((size_t)r[i].B * D * sizeof *pooled);
        float *lg = malloc((size_t)(r[i].B * cfg->n_labels + 1) * sizeof *lg);
        float *lg2 = malloc((size_t)(r[i].B * cfg->n_labels + 1) * sizeof *lg2);
        REQUIRE(pooled && lg && lg2, "out of memory");
        for (int m = 0; m < 3; m++) {
            vkb_error err = {0};
            vkb_outputs o = {.pooled = pooled, .pooling = (vkb_pooling)(m + 1)};
            /* with a head: logits in the same forward */
            if (cfg->n_labels && m == 0) o.logits = lg;
            REQUIRE(vkb_forward(be, &batch, &o, &err) == 0, "%s: forward: %s", what, err.msg);
            double e = max_abs(pooled, r[i].ref[m], (size_t)r[i].B * D);
            CHECK(e <= tol, "%s: batch %d (%dx%d) %s pooling: max abs error %g > %g", what, i,
                  r[i].B, r[i].L, MODES[m], e, tol);
            if (e > worst) worst = e;
            for (int b = 0; b < r[i].B; b++) vkb_l2_normalize(pooled + (size_t)b * D, D);
            e = max_abs(pooled, r[i].refn[m], (size_t)r[i].B * D);
            CHECK(e <= tol, "%s: batch %d %s pooling, normalized: max abs error %g > %g", what, i,
                  MODES[m], e, tol);
            if (o.logits) {
                vkb_outputs lo = {.logits = lg2};
                REQUIRE(vkb_forward(be, &batch, &lo, &err) == 0, "%s: forward: %s", what, err.msg);
                CHECK(!memcmp(lg, lg2, (size_t)r[i].B * cfg->n_labels * sizeof *lg),
                      "%s: batch %d: logits differ when pooled outputs are read too", what, i);
            }
        }
        free(pooled);
        free(lg);
        free(lg2);
    }
    printf("  %-44s max abs error vs PyTorch %.3g (tolerance %g)\n", what, worst, tol);
    return worst;
}

static void test_model(const char *dir) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "%s: %s", dir, err.msg);
    const vkb_config *cfg = &m->cfg;
    ref_batch *r;
    int n = load_refs(dir, cfg->dim, &r);
    char what[256];

    vkb_backend *cpu = NULL;
    vkb_backend_opts co = {.device = "cpu", .threads = 2};
    REQUIRE(vkb_backend_create(m, &co, &cpu, &err) == 0, "%s: cpu: %s", dir, err.msg);
    snprintf(what, sizeof what, "%s CPU fp32", dir);
    run_refs(what, cpu, cfg, r, n, 1e-4);
    /* a pooled output needs a mode */
    {
        float pooled[64 * 64];
        vkb_batch batch = {r[0].B, r[0].L, r[0].ids, r[0].lens};
        vkb_outputs o = {.pooled = pooled};
        CHECK(vkb_forward(cpu, &batch, &o, &err) != 0 && strstr(err.msg, "pooling"),
              "pooled without a mode: %s", err.msg);
    }
    vkb_backend_free(cpu);

    if (vkb_test_have_vulkan("test_pool")) {
        for (int f16 = 0; f16 <= 1; f16++)
            for (int small = 0; small <= 1; small++) {
                vkb_backend *gpu = NULL;
                /* small: a token budget of one longest sequence, so batches
                 * of several sequences run as several passes */
                vkb_backend_opts go = {.device = "gpu", .precision = f16 ? VKB_PREC_FP16 : VKB_PREC_FP32,
                                       .validation = validation(),
                                       .max_tokens = small ? cfg->max_pos : 0};
                REQUIRE(vkb_backend_create(m, &go, &gpu, &err) == 0, "%s: gpu: %s", dir, err.msg);
                snprintf(what, sizeof what, "%s Vulkan %s%s", dir, f16 ? "fp16" : "fp32",
                         small ? " (passes)" : "");
                run_refs(what, gpu, cfg, r, n, f16 ? 2e-2 : 1e-4);
                vkb_backend_free(gpu);
            }
    }
    for (int i = 0; i < n; i++) {
        free(r[i].ids);
        free(r[i].lens);
        for (int k = 0; k < 3; k++) { free(r[i].ref[k]); free(r[i].refn[k]); }
    }
    free(r);
    vkb_model_free(m);
}

int main(void) {
    test_op();
    test_model("data/base-f32");
    test_model("data/tiny-f32");
    return vkb_test_done("test_pool");
}
