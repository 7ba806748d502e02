/* test_vk_tune.c - tuning through the library (host/vulkan/vk_tune.c):
 *  - the policy applies tuned choices only where nothing is forced and the
 *    device can run them (fabricated device capabilities, no device);
 *  - vkb_tune on an odd shape (token budget 203, not a multiple of any
 *    tile) with a cache directory: a choice per op, each a candidate that
 *    passed; candidates made to fail (test hook) are never chosen; the entry
 *    is written, a second call reads it, auto_mode skips a CPU device;
 *  - a backend opened with tune_dir runs the cached per-class GEMMs (mixed
 *    here by the test hook) and its logits match the CPU reference;
 *    without tune_dir, or with another token budget, nothing is applied.
 * Skips (77) without a Vulkan device (part 1 still runs). */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "backend.h"
#include "vk_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

static void policy_unit(void) {
    vkb_vk_caps caps = {0};
    caps.f16_storage = 1; /* a GPU without coopmat or subgroup shuffles */
    vkb_vk_policy p;
    vkb_error err = {0};
    REQUIRE(vkb_vk_policy_decide(&caps, "fake", VKB_PREC_AUTO, NULL, &p, &err) == 0, "%s", err.msg);
    vkb_gemm_variant dflt = p.gemm;
    vkb_attn_variant adflt = p.attn;
    vkb_vk_tuned t = {{VKB_GEMM_TEXEL, VKB_GEMM_TILED_S, VKB_GEMM_COOPMAT, VKB_GEMM_AUTO}, VKB_ATTN_SUBGROUP, 0};
    vkb_vk_policy_tuned(&caps, NULL, &t, &p);
    CHECK(p.gemm_cls[0] == VKB_GEMM_TEXEL && p.gemm_cls[1] == VKB_GEMM_TILED_S &&
          p.gemm_cls[2] == dflt && p.gemm_cls[3] == dflt && p.gemm == VKB_GEMM_TEXEL && p.tuned,
          "tuned GEMMs: %d %d %d %d (coopmat without the probe must be ignored)",
          p.gemm_cls[0], p.gemm_cls[1], p.gemm_cls[2], p.gemm_cls[3]);
    CHECK(p.attn == adflt, "subgroup attention applied on a device without shuffles");
    /* forced variants win */
    vkb_vulkan_opts o = {.gemm = VKB_GEMM_TILED, .attention = VKB_ATTN_SHARED};
    REQUIRE(vkb_vk_policy_decide(&caps, "fake", VKB_PREC_AUTO, &o, &p, &err) == 0, "%s", err.msg);
    t.attn = VKB_ATTN_FLASH;
    vkb_vk_policy_tuned(&caps, &o, &t, &p);
    for (int i = 0; i < 4; i++) CHECK(p.gemm_cls[i] == VKB_GEMM_TILED, "forced GEMM lost to the cache");
    CHECK(p.attn == VKB_ATTN_SHARED && !p.tuned, "forced attention lost to the cache");
    /* a tuned flash on an fp16 coopmat device is the coopmat form that was timed */
    caps.coop_ok = 1;
    REQUIRE(vkb_vk_policy_decide(&caps, "fake", VKB_PREC_FP16, NULL, &p, &err) == 0, "%s", err.msg);
    vkb_vk_policy_tuned(&caps, NULL, &t, &p);
    CHECK(p.attn == VKB_ATTN_FLASH && p.attn_coop && p.gemm_cls[2] == VKB_GEMM_COOPMAT,
          "coopmat device: attn %d coop %d ffn1 %d", p.attn, p.attn_coop, p.gemm_cls[2]);
}

static const vkb_tune_cand *cand(const vkb_tune_op_result *o, const char *v) {
    for (int j = 0; j < o->ncand; j++)
        if (!strcmp(o->cand[j].variant, v)) return &o->cand[j];
    return NULL;
}

static double logit_err(vkb_backend *be, const float *ref, const vkb_batch *b, int nl) {
    float lg[3 * 3];
    vkb_outputs out = {.logits = lg};
    vkb_error err = {0};
    if (vkb_forward(be, b, &out, &err)) { fprintf(stderr, "forward: %s\n", err.msg); return INFINITY; }
    double e = 0;
    for (int i = 0; i < b->B * nl; i++) {
        double d = fabs((double)lg[i] - ref[i]);
        if (!(d <= e)) e = isnan(d) ? INFINITY : d;
    }
    return e;
}

int main(void) {
    policy_unit();
    if (!vkb_test_have_vulkan("test_vk_tune")) return vkb_test_done("test_vk_tune") ? 1 : VKB_SKIP;
    char dir[] = "/tmp/vkb_tune_test.XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char cache[64];
    snprintf(cache, sizeof cache, "%s/sub/vkbert", dir); /* created by the first write */
    vkb_config shape = {96, 2, 3, 200, 301, 40, 0, 3, NULL};
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_random(&shape, 7, &m, &err) == 0, "random model: %s", err.msg);

    vkb_tune_opts to = {0};
    to.device = "gpu";
    to.validation = validation();
    to.precision = VKB_PREC_FP32;
    vkb_tune_shape_of(m, 203, &to.shape);
    to.cache_dir = cache;
    to.repeats = 2;
    /* qkv and ffn1 lose texel, out and ffn2 lose tiled_s: the classes mix */
    to.test_fail = "qkv:texel,ffn1:texel,out:tiled_s,ffn2:tiled_s,attention:subgroup";
    vkb_tune_result *r = calloc(1, sizeof *r), *r2 = calloc(1, sizeof *r2);
    REQUIRE(r && r2, "oom");
    REQUIRE(vkb_tune(&to, r, &err) == 0, "tune: %s", err.msg);
    CHECK(r->written && !r->from_cache && r->path[0] && access(r->path, R_OK) == 0,
          "not written: %s (%s)", r->path, r->note);
    CHECK(r->shape.tokens == 203 && r->shape.dim == 96 && r->shape.hidden == 200 && r->shape.heads == 3 &&
          !strcmp(r->precision, "fp32"), "key shape");
    static const char *const hooked[VKB_TUNE_NOPS] = {"texel", "tiled_s", "texel", "tiled_s", "subgroup"};
    for (int i = 0; i < VKB_TUNE_NOPS; i++) {
        const vkb_tune_op_result *o = &r->ops[i];
        const vkb_tune_cand *ch = cand(o, o->chosen);
        CHECK(ch && ch->pass && ch->error <= ch->tolerance && o->ms == ch->ms,
              "%s: chosen '%s' is not a passing candidate", vkb_tune_op_name((vkb_tune_op)i), o->chosen);
        const vkb_tune_cand *h = cand(o, hooked[i]);
        if (i != VKB_TUNE_ATTENTION || h) {
            CHECK(h && !h->pass && strcmp(o->chosen, hooked[i]),
                  "%s: the candidate made to fail (%s) passed or was chosen", vkb_tune_op_name((vkb_tune_op)i),
                  hooked[i]);
        }
        for (int j = 0; j < o->ncand; j++)
            if (strcmp(o->cand[j].variant, hooked[i]))
                CHECK(o->cand[j].pass, "%s %s failed its check: error %.3g (%s)",
                      vkb_tune_op_name((vkb_tune_op)i), o->cand[j].variant, o->cand[j].error, o->cand[j].note);
    }
    /* the second call reads the entry */
    REQUIRE(vkb_tune(&to, r2, &err) == 0, "tune (cached): %s", err.msg);
    CHECK(r2->from_cache && !r2->written && !r2->note[0], "second call: from_cache %d note '%s'",
          r2->from_cache, r2->note);
    for (int i = 0; i < VKB_TUNE_NOPS; i++)
        CHECK(!strcmp(r2->ops[i].chosen, r->ops[i].chosen), "cached choice differs");
    /* automatic tuning skips CPU implementations */
    vkb_tune_opts ao = to;
    ao.auto_mode = 1;
    ao.retune = 1;
    REQUIRE(vkb_tune(&ao, r2, &err) == 0, "tune (auto): %s", err.msg);
    CHECK(r2->skipped == r2->is_cpu, "auto_mode: skipped %d on is_cpu %d", r2->skipped, r2->is_cpu);

    /* the backend applies the entry: per-class GEMMs, right logits */
    enum { B = 3, L = 19 };
    int32_t ids[B * L], lens[B] = {L, 10, 1};
    for (int s = 0; s < B; s++)
        for (int p = 0; p < L; p++)
            ids[s * L + p] = p < lens[s] ? (int32_t)((s * 977 + p * 131 + 5) % shape.vocab_size) : 0;
    vkb_batch batch = {B, L, ids, lens};
    float ref[B * 3];
    vkb_backend_opts co = {0};
    co.device = "cpu";
    co.fp64_accum = 1;
    vkb_backend *be = NULL;
    REQUIRE(vkb_backend_create(m, &co, &be, &err) == 0, "cpu backend: %s", err.msg);
    vkb_outputs ro = {.logits = ref};
    REQUIRE(vkb_forward(be, &batch, &ro, &err) == 0, "cpu forward: %s", err.msg);
    vkb_backend_free(be);
    vkb_backend_opts go = {0};
    go.device = "gpu";
    go.precision = VKB_PREC_FP32;
    go.validation = validation();
    go.max_tokens = 203;
    go.vulkan.tune_dir = cache;
    REQUIRE(vkb_backend_create(m, &go, &be, &err) == 0, "gpu backend: %s", err.msg);
    char want[96];
    if (!strcmp(r->ops[0].chosen, r->ops[1].chosen) && !strcmp(r->ops[0].chosen, r->ops[2].chosen) &&
        !strcmp(r->ops[0].chosen, r->ops[3].chosen))
        snprintf(want, sizeof want, "tuned, %s GEMM", r->ops[0].chosen);
    else
        snprintf(want, sizeof want, "tuned, %s/%s/%s/%s GEMM", r->ops[0].chosen, r->ops[1].chosen,
                 r->ops[2].chosen, r->ops[3].chosen);
    char wanta[48];
    snprintf(wanta, sizeof wanta, "%s attention", r->ops[VKB_TUNE_ATTENTION].chosen);
    CHECK(strstr(vkb_backend_device(be), want) && strstr(vkb_backend_device(be), wanta),
          "backend runs '%s', the cache says '%s', '%s'", vkb_backend_device(be), want, wanta);
    printf("tuned backend: %s\n", vkb_backend_device(be));
    double e = logit_err(be, ref, &batch, 3);
    CHECK(e <= 1e-3, "tuned kernels: logit error %.3g", e);
    CHECK(vkb_vk_backend_close(be, &err) == 0, "close: %s", err.msg);
    /* a larger token budget than the entry's is not served by it */
    go.max_tokens = 256;
    REQUIRE(vkb_backend_create(m, &go, &be, &err) == 0, "gpu backend: %s", err.msg);
    CHECK(!strstr(vkb_backend_device(be), "tuned"), "an entry of a smaller budget applied: %s",
          vkb_backend_device(be));
    CHECK(vkb_vk_backend_close(be, &err) == 0, "close: %s", err.msg);
    /* a smaller one is (a budget shrunk after an out-of-memory fit): the
     * entry tuned at 203 tokens applies at 150, and vkb_tune reads it */
    go.max_tokens = 150;
    REQUIRE(vkb_backend_create(m, &go, &be, &err) == 0, "gpu backend: %s", err.msg);
    snprintf(want, sizeof want, "tuned at 203 tokens, ");
    CHECK(strstr(vkb_backend_device(be), want) && strstr(vkb_backend_device(be), wanta),
          "budget 150: backend runs '%s', the entry of 203 says '%s'", vkb_backend_device(be), wanta);
    e = logit_err(be, ref, &batch, 3);
    CHECK(e <= 1e-3, "tuned kernels at budget 150: logit error %.3g", e);
    CHECK(vkb_vk_backend_close(be, &err) == 0, "close: %s", err.msg);
    vkb_tune_opts so = to;
    so.shape.tokens = 150;
    so.test_fail = NULL;
    REQUIRE(vkb_tune(&so, r2, &err) == 0, "tune (budget 150): %s", err.msg);
    CHECK(r2->from_cache && !r2->written && !strcmp(r2->path, r->path) && r2->shape.tokens == 203 &&
          !r2->note[0], "budget 150: from_cache %d path %s tokens %d note '%s'", r2->from_cache,
          r2->path, r2->shape.tokens, r2->note);
    for (int i = 0; i < VKB_TUNE_NOPS; i++)
        CHECK(!strcmp(r2->ops[i].chosen, r->ops[i].chosen), "budget 150: cached choice differs");
    /* another precision is another key, whatever the budget */
    vkb_vk_ctx *vc = NULL;
    REQUIRE(vkb_vk_ctx_create("gpu", 0, &vc, &err) == 0, "ctx: %s", err.msg);
    vkb_tune_shape ts = r->shape;
    ts.tokens = 100;
    vkb_vk_tuned tt;
    CHECK(vkb_vk_tune_lookup(cache, vc, 0, &ts, &tt) == 0 && tt.tokens == 203, "lookup fp32 at 100");
    CHECK(vkb_vk_tune_lookup(cache, vc, 1, &ts, &tt) != 0, "an fp32 entry served fp16");
    ts.dim = 48;
    CHECK(vkb_vk_tune_lookup(cache, vc, 0, &ts, &tt) != 0, "an entry of another dim served");
    vkb_vk_ctx_destroy(vc);

    /* fp16 (where the device has 16-bit storage and shaderFloat16): the
     * coopmat tiles' scalar twins are candidates too, checked like the rest
     * (and the coopmat variants where the probe passes); no cache */
    {
        vkb_vk_ctx *fc = NULL;
        REQUIRE(vkb_vk_ctx_create("gpu", 0, &fc, &err) == 0, "ctx: %s", err.msg);
        /* (the twins are candidates on GPUs only, not on CPU implementations) */
        int f16ok = fc->caps.f16_storage && fc->caps.f16_arith, coop = fc->caps.coop_ok, cpu = fc->caps.is_cpu;
        vkb_vk_ctx_destroy(fc);
        if (f16ok) {
            vkb_tune_opts fo = to;
            fo.precision = VKB_PREC_FP16;
            fo.cache_dir = NULL;
            fo.test_fail = "qkv:tiled_cl,ffn2:tiled_cs";
            vkb_tune_shape_of(m, 300, &fo.shape); /* two 256-row tiles, the second partial */
            REQUIRE(vkb_tune(&fo, r2, &err) == 0, "tune fp16: %s", err.msg);
            static const char *const want_c[] = {"tiled_cs", "tiled_cl", "coopmat", "coopmat_s", "coopmat_l"};
            for (int i = 0; i < 4; i++) {
                const vkb_tune_op_result *o = &r2->ops[i];
                for (int w = 0; w < (coop ? 5 : 2); w++) {
                    const vkb_tune_cand *cd = cand(o, want_c[w]);
                    if (cpu && w < 2) {
                        CHECK(!cd, "fp16 %s: twin %s a candidate on a CPU implementation",
                              vkb_tune_op_name((vkb_tune_op)i), want_c[w]);
                        continue;
                    }
                    int hooked_here = (i == VKB_TUNE_QKV && w == 1) || (i == VKB_TUNE_FFN2 && w == 0);
                    if (w == 4 && !cd) continue; /* coopmat_l: only where the shared memory holds it */
                    CHECK(cd && (hooked_here ? !cd->pass : cd->pass), "fp16 %s: candidate %s %s (%s)",
                          vkb_tune_op_name((vkb_tune_op)i), want_c[w], cd ? (cd->pass ? "passed" : "failed") : "missing",
                          cd ? cd->note : r2->note);
                }
                CHECK(o->chosen[0] && strcmp(o->chosen, i == VKB_TUNE_QKV ? "tiled_cl" : i == VKB_TUNE_FFN2 ? "tiled_cs" : "-"),
                      "fp16 %s chose '%s'", vkb_tune_op_name((vkb_tune_op)i), o->chosen);
                CHECK(o->ncand >= 3, "fp16 %s: %d candidates", vkb_tune_op_name((vkb_tune_op)i), o->ncand);
            }
            CHECK(!r2->written, "fp16 tune without a cache wrote %s", r2->path);
        }
    }

    /* the device report lists the entry */
    char *rep = NULL;
    CHECK(vkb_devices_report_tuned(0, cache, &rep, &err) == 0, "report: %s", err.msg);
    CHECK(rep && strstr(rep, "dim 96, hidden 200, heads 3, 203 tokens, fp32"), "report:\n%s", rep ? rep : "");
    free(rep);
    remove(r->path);
    char sub[64];
    rmdir(cache);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    rmdir(sub);
    rmdir(dir);
    free(r);
    free(r2);
    vkb_model_free(m);
    return vkb_test_done("test_vk_tune");
}
