/* test_vk_profile.c - the benchmarking API behind `vkbert bench`
 * (host/vk_profile.c) on a committed checkpoint:
 *  - with timestamps on, every kernel category of the pass is timed, with
 *    as many dispatches as the model has layers (LayerNorm 2 per layer);
 *  - profiling does not change the results (logits bit-identical);
 *  - the memory figures: the weight buffer holds at least every parameter
 *    at the storage precision, the activations are sized for the token
 *    budget (QKV, CTX and the FFN hidden layer sharing one buffer), and the
 *    peak covers both;
 *  - the CPU backend reports itself and refuses per-kernel times.
 * Runs with the validation layer when VKB_VALIDATION=1.  Skips (77) when
 * there is no Vulkan device. */
#include "testutil.h"
#include "backend.h"
#include "model.h"
#include "vk_internal.h"
#include <string.h>

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

static int find(const vkb_bench_info *bi, const char *name) {
    for (int k = 0; k < bi->n_kernels; k++)
        if (!strcmp(bi->kernel[k], name)) return k;
    return -1;
}

int main(void) {
    vkb_error err = {0};
    if (!vkb_test_have_vulkan("test_vk_profile")) return VKB_SKIP; /* no Vulkan device */

    vkb_model *m = NULL;
    REQUIRE(vkb_model_load("data/tiny-f32", &m, &err) == 0, "%s", err.msg);
    const vkb_config *c = vkb_model_config(m);
    enum { B = 3, L = 9 };
    int32_t ids[B * L], lens[B] = {L, 4, 1};
    for (int i = 0; i < B * L; i++) ids[i] = (i * 7 + 3) % c->vocab_size;
    vkb_batch batch = {B, L, ids, lens};
    float plain[B * 8], prof[B * 8];
    REQUIRE(c->n_labels <= 8, "test assumes at most 8 labels");

    for (int f16 = 0; f16 < 2; f16++) {
        vkb_backend_opts o = {.device = "gpu", .precision = f16 ? VKB_PREC_FP16 : VKB_PREC_FP32,
                              .max_tokens = 4096, .max_len = 16, .validation = validation()};
        vkb_backend *be = NULL;
        if (vkb_backend_create(m, &o, &be, &err)) {
            CHECK(f16, "fp32 backend: %s", err.msg); /* fp16 may be unsupported */
            continue;
        }
        vkb_outputs out = {.logits = plain, .hidden = NULL};
        REQUIRE(vkb_forward(be, &batch, &out, &err) == 0, "%s", err.msg);
        vkb_bench_info bi;
        REQUIRE(vkb_backend_bench_info(be, &bi, &err) == 0, "%s", err.msg);
        CHECK(bi.gpu == 1 && bi.device[0] && bi.vendor[0] && bi.driver[0], "device info missing");
        CHECK(bi.precision_bits == (f16 ? 16 : 32), "precision %d", bi.precision_bits);
        CHECK(bi.timestamps == 0, "no timestamps before profiling");
        /* parameters: embeddings + layers + head */
        uint64_t D = (uint64_t)c->dim, F = (uint64_t)c->hidden_dim;
        uint64_t params = (uint64_t)c->vocab_size * D + (uint64_t)c->max_pos * D + 2 * D +
                          (uint64_t)c->n_layers * (4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D) +
                          D * D + D + (uint64_t)c->n_labels * (D + 1);
        uint64_t es = f16 ? 2 : 4;
        CHECK(bi.weight_bytes >= params * es && bi.weight_bytes < params * es + 64 * 1024,
              "weight bytes %llu for %llu parameters", (unsigned long long)bi.weight_bytes,
              (unsigned long long)params);
        /* activations: X, X1, F of [T, D] and one scratch buffer holding H
         * [T, F], or QKV [T, 3D] + CTX [T, D] where that is larger (they
         * share it: vk_backend.c), plus slack for the driver's size
         * rounding (up to 64 KiB a buffer).  At this budget a buffer each
         * for QKV, CTX and P (8*D + F values a token) would exceed the bound. */
        uint64_t act = 4096 * (3 * D + (F > 4 * D ? F : 4 * D)) * es;
        CHECK(bi.activation_bytes >= act && bi.activation_bytes < act + 4 * 64 * 1024,
              "activation bytes %llu, expected about %llu", (unsigned long long)bi.activation_bytes,
              (unsigned long long)act);
        CHECK(bi.peak_mem_bytes >= bi.weight_bytes + bi.activation_bytes, "peak %llu",
              (unsigned long long)bi.peak_mem_bytes);

        if (vkb_backend_profile(be, 1, &err)) {
            /* only a queue without timestamps may refuse */
            CHECK(strstr(err.msg, "timestamps") != NULL, "profile: %s", err.msg);
        } else {
            out.logits = prof;
            for (int i = 0; i < 2; i++) REQUIRE(vkb_forward(be, &batch, &out, &err) == 0, "%s", err.msg);
            CHECK(memcmp(plain, prof, sizeof(float) * B * (size_t)c->n_labels) == 0,
                  "profiling changed the logits");
            REQUIRE(vkb_backend_bench_info(be, &bi, &err) == 0, "%s", err.msg);
            CHECK(bi.timestamps == 1 && bi.forwards == 2, "timestamps %d forwards %d", bi.timestamps,
                  bi.forwards);
            static const char *names[] = {"embedding", "gemm_qkv", "attention", "gemm_attn_out",
                                          "layernorm", "gemm_ffn1", "gemm_ffn2", "gemm_head"};
            double total = 0;
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                int k = find(&bi, names[i]);
                CHECK(k >= 0, "no time for %s", names[i]);
                if (k < 0) continue;
                int want = !strcmp(names[i], "embedding") ? 1
                         : !strcmp(names[i], "layernorm") ? 2 * c->n_layers
                         : !strcmp(names[i], "gemm_head") ? 1 : c->n_layers;
                CHECK(bi.kernel_calls[k] == want, "%s: %d dispatches, expected %d", names[i],
                      bi.kernel_calls[k], want);
                CHECK(bi.kernel_ms[k] >= 0 && bi.kernel_ms[k] < 60e3, "%s: %g ms", names[i], bi.kernel_ms[k]);
                total += bi.kernel_ms[k];
            }
            CHECK(total > 0, "all kernel times are 0");
            /* off again: a fresh pass without timestamps, same logits */
            REQUIRE(vkb_backend_profile(be, 0, &err) == 0, "%s", err.msg);
            REQUIRE(vkb_forward(be, &batch, &out, &err) == 0, "%s", err.msg);
            CHECK(memcmp(plain, prof, sizeof(float) * B * (size_t)c->n_labels) == 0,
                  "logits changed after profiling");
        }
        CHECK(vkb_vk_backend_close(be, &err) == 0, "validation: %s", err.msg);
    }

    vkb_backend_opts co = {.device = "cpu", .threads = 1};
    vkb_backend *cpu = NULL;
    REQUIRE(vkb_backend_create(m, &co, &cpu, &err) == 0, "%s", err.msg);
    vkb_bench_info bi;
    REQUIRE(vkb_backend_bench_info(cpu, &bi, &err) == 0, "%s", err.msg);
    CHECK(bi.gpu == 0 && bi.device[0] && bi.peak_mem_bytes == 0, "cpu info");
    CHECK(vkb_backend_profile(cpu, 1, &err) != 0, "the CPU backend has no kernel timestamps");
    vkb_backend_free(cpu);
    vkb_model_free(m);
    return vkb_test_done("test_vk_profile");
}
