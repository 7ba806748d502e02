/* test_vk_model.c - the whole Vulkan forward pass against the CPU reference
 * (fp64 accumulation) on the committed checkpoints and on random models of
 * odd shapes, with padded mixed-length batches:
 *  - logits within 1e-3 (fp32 storage) / 2e-2 (fp16) and the same label on
 *    every input; for the base model (no head) the hidden states instead;
 *  - every layer's hidden state (the `vkbert check` path) close to the CPU's;
 *  - replaying a recorded shape gives bit-identical results, more shapes
 *    than the cache holds still work;
 *  - batches over the token budget run as several passes and give the same
 *    logits and hidden states (gathered across passes) as the CPU;
 *  - bad ids/lengths and logits from a base model are errors, not crashes;
 *  - the validation layer (VKB_VALIDATION=1) reports nothing.
 * Skips (77) when there is no Vulkan device. */
#include "testutil.h"
#include "backend.h"
#include "model.h"
#include "vk_internal.h"
#include <math.h>
#include <string.h>

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

typedef struct { int B, L; int32_t *ids, *lens; } batch_buf;

/* B sequences padded to L: lengths L, L/2, 1, 3, ... ids deterministic. */
static batch_buf make_batch(const vkb_config *cfg, int B, int L, uint32_t salt) {
    batch_buf b = {B, L, malloc((size_t)B * L * 4), malloc((size_t)B * 4)};
    REQUIRE(b.ids && b.lens, "out of memory");
    for (int s = 0; s < B; s++) {
        int len = s % 4 == 0 ? L : s % 4 == 1 ? (L + 1) / 2 : s % 4 == 2 ? 1 : (L < 3 ? L : 3);
        b.lens[s] = len;
        for (int p = 0; p < L; p++) {
            uint32_t h = (uint32_t)(s * 131 + p * 7 + 1) * 2654435761u + salt;
            b.ids[s * L + p] = p < len ? (int32_t)(h % (uint32_t)cfg->vocab_size) : cfg->pad_token_id;
        }
    }
    return b;
}

static void free_batch(batch_buf *b) { free(b->ids); free(b->lens); }

static int argmax(const float *x, int n) {
    int k = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[k]) k = i;
    return k;
}

/* Runs one batch on both backends and compares.  strict_labels: labels must
 * agree everywhere (checkpoints); else only where the CPU's top-2 margin
 * exceeds twice the tolerance (random weights give near-ties). */
static void compare(const char *what, vkb_backend *cpu, vkb_backend *gpu, const vkb_config *cfg,
                    int f16, const batch_buf *bb, int strict_labels) {
    int B = bb->B, L = bb->L, nl = cfg->n_labels, D = cfg->dim;
    vkb_batch batch = {B, L, bb->ids, bb->lens};
    size_t nh = (size_t)(cfg->n_layers + 1) * B * L * D;
    float *hc = malloc(nh * sizeof *hc), *hg = malloc(nh * sizeof *hg);
    float *lc = malloc((size_t)(B * nl + 1) * sizeof *lc), *lg = malloc((size_t)(B * nl + 1) * sizeof *lg);
    REQUIRE(hc && hg && lc && lg, "out of memory");
    vkb_outputs oc = {.logits = nl ? lc : NULL, .hidden = hc}, og = {.logits = nl ? lg : NULL, .hidden = hg};
    vkb_error err = {0};
    REQUIRE(vkb_forward(cpu, &batch, &oc, &err) == 0, "%s: cpu: %s", what, err.msg);
    int rc = vkb_forward(gpu, &batch, &og, &err);
    CHECK(rc == 0, "%s: gpu: %s", what, err.msg);
    if (rc) goto out;
    double tol = f16 ? 2e-2 : 1e-3;
    /* hidden states per layer (valid positions), relative to magnitude */
    for (int l = 0; l <= cfg->n_layers; l++) {
        double e = 0;
        for (int s = 0; s < B; s++)
            for (int p = 0; p < bb->lens[s]; p++)
                for (int d = 0; d < D; d++) {
                    size_t i = (((size_t)l * B + s) * L + p) * D + d;
                    double x = fabs((double)hg[i] - hc[i]) / (1.0 + fabs((double)hc[i]));
                    if (!(x <= e)) e = x;
                }
        /* fp16 stores every activation in fp16: allow 2x the logit tolerance */
        CHECK(e <= (f16 ? 2 * tol : tol), "%s: layer %d hidden error %.3g", what, l, e);
    }
    if (nl) {
        double e = 0;
        int agree = 0, checked = 0;
        for (int s = 0; s < B; s++) {
            for (int k = 0; k < nl; k++) {
                double x = fabs((double)lg[s * nl + k] - lc[s * nl + k]);
                if (!(x <= e)) e = x;
            }
            int a = argmax(lc + s * nl, nl), g = argmax(lg + s * nl, nl);
            double margin = 1e30;
            for (int k = 0; k < nl; k++)
                if (k != a && lc[s * nl + a] - lc[s * nl + k] < margin) margin = lc[s * nl + a] - lc[s * nl + k];
            if (strict_labels || margin > 2 * tol) { checked++; agree += a == g; }
        }
        CHECK(e <= tol, "%s: logits max abs error %.3g > %.3g", what, e, tol);
        CHECK(agree == checked, "%s: labels agree on %d of %d", what, agree, checked);
        printf("  %-34s logits err %.2e, labels %d/%d\n", what, e, agree, checked);
    }
    /* logits alone (no hidden capture: the other recorded command buffer,
     * whose last layer runs out_lin and the FFN on the first tokens only,
     * M = B rows L*dim apart): the same logits, within 1e-2 of the
     * tolerance.  The same bits where the GEMM's pipeline does not depend
     * on M (every form lavapipe runs: nothing is printed); a cooperative-
     * matrix GPU picks its tile by M, and a difference is printed. */
    if (nl) {
        float *l2 = malloc((size_t)B * nl * sizeof *l2);
        REQUIRE(l2, "out of memory");
        vkb_outputs o2 = {.logits = l2, .hidden = NULL};
        CHECK(vkb_forward(gpu, &batch, &o2, &err) == 0, "%s: gpu: %s", what, err.msg);
        int same = memcmp(l2, lg, (size_t)B * nl * sizeof *l2) == 0;
        double d = 0;
        for (size_t i = 0; i < (size_t)B * nl; i++) {
            double x = fabs((double)l2[i] - lg[i]);
            if (!(x <= d)) d = x; /* NaN too */
        }
        CHECK(d <= 1e-2 * tol, "%s: logits differ with/without hidden capture by %g", what, d);
        if (!same) printf("  %-34s logits with/without hidden capture differ by %.2e\n", what, d);
        free(l2);
    }
out:
    free(hc); free(hg); free(lc); free(lg);
}

static void run_model(const char *name, vkb_model *m, int strict_labels) {
    const vkb_config *cfg = vkb_model_config(m);
    vkb_backend_opts co = {.device = "cpu", .fp64_accum = 1, .threads = 2};
    vkb_backend *cpu = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_backend_create(m, &co, &cpu, &err) == 0, "%s: cpu backend: %s", name, err.msg);
    for (int f16 = 0; f16 <= 1; f16++) {
        vkb_backend_opts go = {.device = "gpu", .precision = f16 ? VKB_PREC_FP16 : VKB_PREC_FP32,
                               .max_tokens = 512, .validation = validation()};
        vkb_backend *gpu = NULL;
        if (vkb_backend_create(m, &go, &gpu, &err)) {
            /* fp16 is optional on a device; fp32 must work */
            CHECK(f16 && strstr(err.msg, "16"), "%s: vulkan backend: %s", name, err.msg);
            continue;
        }
        printf("%s on %s\n", name, vkb_backend_device(gpu));
        int Lmax = cfg->max_pos < 37 ? cfg->max_pos : 37;
        int shapes[][2] = {{5, Lmax}, {1, 1}, {3, Lmax > 9 ? 9 : Lmax}, {2, Lmax}, {4, 2}, {6, 3}};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            batch_buf bb = make_batch(cfg, shapes[i][0], shapes[i][1], (uint32_t)i);
            char what[96];
            snprintf(what, sizeof what, "%s %s B=%d L=%d", name, f16 ? "fp16" : "fp32", bb.B, bb.L);
            compare(what, cpu, gpu, cfg, f16, &bb, strict_labels);
            free_batch(&bb);
        }
        /* errors, not crashes */
        batch_buf bb = make_batch(cfg, 2, 2, 99);
        vkb_batch b = {2, 2, bb.ids, bb.lens};
        float lg[64], *hid = NULL;
        vkb_outputs o = {.logits = cfg->n_labels && cfg->n_labels <= 32 ? lg : NULL, .hidden = hid};
        bb.ids[1] = cfg->vocab_size;
        CHECK(vkb_forward(gpu, &b, &o, &err) != 0 && strstr(err.msg, "vocabulary"), "bad id accepted");
        bb.ids[1] = 0;
        bb.lens[1] = 0;
        CHECK(vkb_forward(gpu, &b, &o, &err) != 0 && strstr(err.msg, "length"), "length 0 accepted");
        bb.lens[1] = 1;
        /* over the 512-token budget: 75 x 9 = 675 tokens run as 2 passes of 38 + 37 */
        batch_buf big = make_batch(cfg, 75, cfg->max_pos < 9 ? cfg->max_pos : 9, 7);
        char what[96];
        snprintf(what, sizeof what, "%s %s B=75 (2 passes)", name, f16 ? "fp16" : "fp32");
        compare(what, cpu, gpu, cfg, f16, &big, strict_labels);
        int budget = 0, passes = 0;
        vkb_vk_backend_passes(gpu, &budget, &passes);
        CHECK(budget == 512 && passes == (big.L == 9 ? 2 : 1), "%s: budget %d, %d passes", what,
              budget, passes);
        free_batch(&big);
        if (!cfg->n_labels) {
            vkb_outputs ol = {.logits = lg, .hidden = NULL};
            CHECK(vkb_forward(gpu, &b, &ol, &err) != 0, "logits from a base model accepted");
        }
        free_batch(&bb);
        CHECK(vkb_vk_backend_close(gpu, &err) == 0, "%s: %s", name, err.msg);
    }
    vkb_backend_free(cpu);
}

int main(void) {
    vkb_error err = {0};
    if (!vkb_test_have_vulkan("test_vk_model")) return VKB_SKIP; /* no Vulkan device */

    static const char *ckpts[] = {"data/tiny-f32", "data/odd-f16", "data/tiny-bf16", "data/base-f32"};
    for (size_t i = 0; i < sizeof ckpts / sizeof ckpts[0]; i++) {
        vkb_model *m = NULL;
        REQUIRE(vkb_model_load(ckpts[i], &m, &err) == 0, "%s: %s", ckpts[i], err.msg);
        run_model(ckpts[i], m, 1);
        vkb_model_free(m);
    }
    /* random models: head dim 10 (K % 4 != 0 and odd tiles), head dim 32 */
    static const vkb_config shapes[] = {
        {.dim = 30, .n_layers = 2, .n_heads = 3, .hidden_dim = 50, .vocab_size = 97, .max_pos = 40, .n_labels = 3},
        {.dim = 64, .n_layers = 2, .n_heads = 2, .hidden_dim = 160, .vocab_size = 300, .max_pos = 64, .n_labels = 2},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        vkb_model *m = NULL;
        REQUIRE(vkb_model_random(&shapes[i], 7 + i, &m, &err) == 0, "random model: %s", err.msg);
        char name[32];
        snprintf(name, sizeof name, "random dim=%d", shapes[i].dim);
        run_model(name, m, 0);
        vkb_model_free(m);
    }
    return vkb_test_done("test_vk_model");
}
