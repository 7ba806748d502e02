/* test_vk_upload.c - the two weight-upload paths give the same device
 * contents: tensors converted straight into mapped device memory (CPU
 * devices, integrated GPUs) and through the staging buffer (discrete GPUs:
 * many tensors per fill, copies of many regions per submit, tensors split
 * across fills).  On the committed checkpoints (F32, F16, BF16) and a random
 * model whose word embedding alone (30 MB fp32) is larger than the 16 MiB
 * staging buffer, in fp32 and fp16, logits and every layer's hidden states
 * must be bit-identical between the two paths.  The validation layer is on
 * when VKB_VALIDATION=1.  Skips (77) without a Vulkan device. */
#include "testutil.h"
#include "backend.h"
#include "model.h"
#include "vk_internal.h"
#include <string.h>

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

static void run(const char *name, const vkb_model *m) {
    const vkb_config *c = vkb_model_config(m);
    int B = 3, L = c->max_pos < 11 ? c->max_pos : 11, T = B * L;
    int32_t ids[64], lens[3] = {L, L / 2 + 1, 1};
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 7919u + 13u) % (uint32_t)c->vocab_size);
    vkb_batch b = {B, L, ids, lens};
    size_t nh = (size_t)(c->n_layers + 1) * T * c->dim, nl = (size_t)B * (c->n_labels ? c->n_labels : 1);
    for (int f16 = 0; f16 <= 1; f16++) {
        float *h[2], *lg[2];
        vkb_backend *be[2] = {NULL, NULL};
        int ok = 1;
        /* both backends alive at once: the staged one cannot inherit the
         * mapped one's freed memory and so hide a missing copy */
        for (int staged = 0; staged <= 1; staged++) {
            vkb_backend_opts o = {.device = "gpu", .precision = f16 ? VKB_PREC_FP16 : VKB_PREC_FP32,
                                  .max_tokens = 256, .validation = validation()};
            vkb_error err = {0};
            h[staged] = calloc(nh, sizeof(float));
            lg[staged] = calloc(nl, sizeof(float));
            REQUIRE(h[staged] && lg[staged], "out of memory");
            o.vulkan.staging_upload = staged;
            if (vkb_backend_create(m, &o, &be[staged], &err)) {
                CHECK(f16 && strstr(err.msg, "16"), "%s: %s", name, err.msg); /* fp16 is optional */
                ok = 0;
            }
        }
        for (int staged = 0; staged <= 1 && ok; staged++) {
            vkb_error err = {0};
            if (staged) CHECK(!vkb_vk_backend_weights_mapped(be[1]), "%s: staged upload but mapped", name);
            vkb_outputs out = {.logits = c->n_labels ? lg[staged] : NULL, .hidden = h[staged]};
            CHECK(vkb_forward(be[staged], &b, &out, &err) == 0, "%s: forward: %s", name, err.msg);
        }
        for (int staged = 0; staged <= 1; staged++) {
            vkb_error err = {0};
            if (be[staged]) CHECK(vkb_vk_backend_close(be[staged], &err) == 0, "%s: %s", name, err.msg);
        }
        if (ok) {
            CHECK(memcmp(h[0], h[1], nh * sizeof(float)) == 0, "%s %s: hidden states differ between "
                  "mapped and staged upload", name, f16 ? "fp16" : "fp32");
            CHECK(memcmp(lg[0], lg[1], nl * sizeof(float)) == 0, "%s %s: logits differ", name,
                  f16 ? "fp16" : "fp32");
            printf("  %-24s %s: mapped and staged uploads identical\n", name, f16 ? "fp16" : "fp32");
        }
        for (int i = 0; i < 2; i++) { free(h[i]); free(lg[i]); }
    }
}

int main(void) {
    vkb_error err = {0};
    if (!vkb_test_have_vulkan("test_vk_upload")) return VKB_SKIP; /* no Vulkan device */
    static const char *ckpts[] = {"data/tiny-f32", "data/odd-f16", "data/tiny-bf16", "data/base-f32"};
    for (size_t i = 0; i < sizeof ckpts / sizeof ckpts[0]; i++) {
        vkb_model *m = NULL;
        REQUIRE(vkb_model_load(ckpts[i], &m, &err) == 0, "%s: %s", ckpts[i], err.msg);
        run(ckpts[i], m);
        vkb_model_free(m);
    }
    /* word embedding 30000 x 256 = 30 MB fp32: spans two staging fills */
    vkb_config shape = {256, 1, 4, 512, 30000, 64, 0, 2, NULL};
    vkb_model *m = NULL;
    REQUIRE(vkb_model_random(&shape, 7, &m, &err) == 0, "%s", err.msg);
    run("random dim 256, vocab 30000", m);
    vkb_model_free(m);
    return vkb_test_done("test_vk_upload");
}
