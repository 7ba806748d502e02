/* test_vk_policy.c - the device policy (host/vk_policy.c) is what runs, and
 * every kernel variant can be forced through vkb_backend_opts.vulkan:
 *  - a backend opened with default options uses exactly the policy's
 *    precision, weight memory, GEMM, LayerNorm and attention (backend
 *    getters), and
 *    `vkbert devices` (vkb_devices_report) prints that same decision;
 *  - with each forceable combination (GEMM tiled/texel/tiled_s, and in fp16
 *    the coopmat tiles' scalar twins tiled_cs/tiled_cl; shared-memory and,
 *    where the device has them, subgroup LayerNorm and attention; flash
 *    attention; fp32 and
 *    fp16) the backend uses what was forced and its logits match the CPU
 *    reference on a random model of odd shape with a padded batch;
 *  - forcing what the device cannot run (coopmat without the probe, a twin
 *    in fp32, a tile beyond the device's shared memory, a bad enum value)
 *    fails with a message naming it; tuned choices it cannot run are
 *    ignored.
 * Skips (77) when there is no Vulkan device. */
#include "testutil.h"
#include "backend.h"
#include "vk_internal.h"
#include <math.h>
#include <string.h>

static int validation(void) {
    const char *v = getenv("VKB_VALIDATION");
    return v && atoi(v);
}

static vkb_backend *open_gpu(const vkb_model *m, vkb_precision prec, vkb_vulkan_opts vo,
                             vkb_error *err) {
    vkb_backend_opts o = {0};
    o.device = "gpu";
    o.precision = prec;
    o.validation = validation();
    o.max_tokens = 256;
    o.vulkan = vo;
    vkb_backend *be = NULL;
    return vkb_backend_create(m, &o, &be, err) ? NULL : be;
}

static void close_gpu(vkb_backend *be, const char *what) {
    vkb_error err = {0};
    CHECK(vkb_vk_backend_close(be, &err) == 0, "%s: %s", what, err.msg);
}

/* logits of the padded batch on be vs ref (max abs error) */
static double logit_err(vkb_backend *be, const float *ref, const vkb_batch *b, int nl, vkb_error *err) {
    float *lg = malloc((size_t)b->B * nl * sizeof *lg);
    REQUIRE(lg, "out of memory");
    vkb_outputs o = {.logits = lg, .hidden = NULL};
    double e = INFINITY;
    if (vkb_forward(be, b, &o, err) == 0) {
        e = 0;
        for (int i = 0; i < b->B * nl; i++) {
            double d = fabs((double)lg[i] - ref[i]);
            if (!(d <= e)) e = isnan(d) ? INFINITY : d;
        }
    }
    free(lg);
    return e;
}

int main(void) {
    if (!vkb_test_have_vulkan("test_vk_policy")) return VKB_SKIP;
    /* odd shape: 3 heads of 32, FFN 200, 2 layers (K multiples of 4 so the
     * texel GEMM runs every projection) */
    vkb_config shape = {96, 2, 3, 200, 301, 40, 0, 3, NULL};
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_random(&shape, 7, &m, &err) == 0, "random model: %s", err.msg);
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
    vkb_backend *cpu = NULL;
    REQUIRE(vkb_backend_create(m, &co, &cpu, &err) == 0, "cpu backend: %s", err.msg);
    vkb_outputs ro = {.logits = ref, .hidden = NULL};
    REQUIRE(vkb_forward(cpu, &batch, &ro, &err) == 0, "cpu forward: %s", err.msg);
    vkb_backend_free(cpu);

    /* 1. defaults: the backend uses the policy's decision, and the device
     * report prints it */
    vkb_vulkan_opts none = {0};
    vkb_backend *be = open_gpu(m, VKB_PREC_AUTO, none, &err);
    REQUIRE(be, "gpu backend: %s", err.msg);
    vkb_vk_ctx *c = vkb_vk_backend_ctx(be);
    REQUIRE(c, "no Vulkan context behind the backend");
    vkb_vk_caps caps = c->caps;
    char devname[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    snprintf(devname, sizeof devname, "%s", c->props.deviceName);
    vkb_vk_policy pol;
    REQUIRE(vkb_vk_policy_for_ctx(c, VKB_PREC_AUTO, NULL, &pol, &err) == 0, "policy: %s", err.msg);
    CHECK(vkb_vk_backend_f16(be) == pol.f16, "precision: backend fp16=%d, policy %d",
          vkb_vk_backend_f16(be), pol.f16);
    /* coopmat may fall back to tiled only when its self-test fails (the
     * backend's device string then says why) */
    vkb_gemm_variant g = vkb_vk_backend_gemm_variant(be);
    CHECK(g == pol.gemm || (pol.gemm == VKB_GEMM_COOPMAT && g == VKB_GEMM_TILED &&
                            strstr(vkb_backend_device(be), "coopmat")),
          "GEMM: backend %s, policy %s (%s)", vkb_gemm_variant_name(g), vkb_gemm_variant_name(pol.gemm),
          vkb_backend_device(be));
    CHECK(vkb_vk_backend_weights_mapped(be) == pol.mapped_weights, "weights mapped: backend %d, policy %d",
          vkb_vk_backend_weights_mapped(be), pol.mapped_weights);
    CHECK(vkb_vk_backend_ln_variant(be) == pol.ln, "layernorm: backend %s, policy %s",
          vkb_ln_variant_name(vkb_vk_backend_ln_variant(be)), vkb_ln_variant_name(pol.ln));
    CHECK(vkb_vk_backend_attn_variant(be) == pol.attn, "attention: backend %s, policy %s",
          vkb_attn_variant_name(vkb_vk_backend_attn_variant(be)), vkb_attn_variant_name(pol.attn));
    char want[256], line[300];
    vkb_vk_policy_str(&pol, want, sizeof want);
    snprintf(line, sizeof line, "vkbert uses     %s\n", want);
    char *report = NULL;
    CHECK(vkb_devices_report(0, &report, &err) == 0, "devices report: %s", err.msg);
    CHECK(report && strstr(report, devname) && strstr(report, line),
          "`vkbert devices` does not print the policy's decision '%s' for %s:\n%s", want, devname,
          report ? report : "");
    free(report);
    printf("%s: %s\n", devname, want);
    double e = logit_err(be, ref, &batch, 3, &err);
    CHECK(e <= (pol.f16 ? 2e-2 : 1e-3), "default kernels: logit error %.3g (%s)", e, err.msg);
    close_gpu(be, "default kernels");
    /* the CPU backend is no Vulkan backend: the getters say so */
    REQUIRE(vkb_backend_create(m, &co, &cpu, &err) == 0, "cpu backend: %s", err.msg);
    CHECK(!vkb_vk_backend_ctx(cpu) && vkb_vk_backend_gemm_variant(cpu) == VKB_GEMM_AUTO &&
          vkb_vk_backend_f16(cpu) == -1, "Vulkan getters accepted the CPU backend");
    vkb_backend_free(cpu);

    /* 2. every forceable combination runs what was forced, and is right */
    int nprec = caps.f16_storage ? 2 : 1;
    static const vkb_gemm_variant gemms[5] = {VKB_GEMM_TILED, VKB_GEMM_TEXEL, VKB_GEMM_TILED_S,
                                              VKB_GEMM_TILED_CS, VKB_GEMM_TILED_CL};
    for (int f = 0; f < nprec; f++)
        for (int gx = 0; gx < (f && caps.f16_arith ? 5 : 3); gx++)
            for (int li = VKB_LN_SHARED; li <= VKB_LN_SUBGROUP; li++)
                for (int ai = VKB_ATTN_SHARED; ai <= VKB_ATTN_FLASH; ai++) {
                    if (li == VKB_LN_SUBGROUP && !caps.sg_arith) continue;
                    if (ai == VKB_ATTN_SUBGROUP && !caps.sg_shuffle) continue;
                    /* the GEMM forms with both LN/attention pairs once; the
                     * mixed pairs with one GEMM */
                    int gi = (int)gemms[gx];
                    if (gi != VKB_GEMM_TILED && li != ai) continue;
                    vkb_vulkan_opts vo = {.gemm = (vkb_gemm_variant)gi, .layernorm = (vkb_ln_variant)li,
                                           .attention = (vkb_attn_variant)ai};
                    char what[128];
                    snprintf(what, sizeof what, "%s, %s GEMM, %s layernorm, %s attention", f ? "fp16" : "fp32",
                             vkb_gemm_variant_name(vo.gemm), vkb_ln_variant_name(vo.layernorm),
                             vkb_attn_variant_name(vo.attention));
                    be = open_gpu(m, f ? VKB_PREC_FP16 : VKB_PREC_FP32, vo, &err);
                    CHECK(be, "%s: %s", what, err.msg);
                    if (!be) continue;
                    CHECK(vkb_vk_backend_f16(be) == f && vkb_vk_backend_gemm_variant(be) == vo.gemm &&
                          vkb_vk_backend_ln_variant(be) == vo.layernorm &&
                          vkb_vk_backend_attn_variant(be) == vo.attention,
                          "%s: backend runs %d/%s/%s/%s", what, vkb_vk_backend_f16(be),
                          vkb_gemm_variant_name(vkb_vk_backend_gemm_variant(be)),
                          vkb_ln_variant_name(vkb_vk_backend_ln_variant(be)),
                          vkb_attn_variant_name(vkb_vk_backend_attn_variant(be)));
                    e = logit_err(be, ref, &batch, 3, &err);
                    CHECK(e <= (f ? 2e-2 : 1e-3), "%s: logit error %.3g vs the CPU (%s)", what, e, err.msg);
                    printf("forced %-60s logit error %.3g\n", what, e);
                    close_gpu(be, what);
                }

    /* 3. what cannot run is refused, naming it */
    vkb_vulkan_opts bad = {.gemm = VKB_GEMM_COOPMAT};
    if (!caps.coop_ok) {
        be = open_gpu(m, VKB_PREC_FP16, bad, &err);
        CHECK(!be && strstr(err.msg, "coopmat") && strstr(err.msg, "cannot run"),
              "coopmat forced on a device without it: '%s'", be ? "accepted" : err.msg);
        if (be) close_gpu(be, "coopmat");
    }
    bad = (vkb_vulkan_opts){.gemm = (vkb_gemm_variant)9};
    be = open_gpu(m, VKB_PREC_FP32, bad, &err);
    CHECK(!be && strstr(err.msg, "GEMM variant"), "GEMM variant 9: '%s'", be ? "accepted" : err.msg);
    if (be) close_gpu(be, "bad GEMM");
    vkb_gemm_variant pv;
    CHECK(vkb_gemm_variant_parse("tiled_s", &pv) == 0 && pv == VKB_GEMM_TILED_S &&
          !strcmp(vkb_gemm_variant_name(VKB_GEMM_TILED_S), "tiled_s") &&
          vkb_gemm_variant_parse("tiled_x", &pv) != 0, "GEMM variant names");
    static const char *const gnames[VKB_GEMM_NVARIANTS] = {"auto", "tiled", "texel", "coopmat", "tiled_s",
                                                           "coopmat_s", "coopmat_l", "tiled_cs", "tiled_cl"};
    for (int i = 0; i < VKB_GEMM_NVARIANTS; i++)
        CHECK(vkb_gemm_variant_parse(gnames[i], &pv) == 0 && (int)pv == i &&
              !strcmp(vkb_gemm_variant_name(pv), gnames[i]), "GEMM variant name %s", gnames[i]);
    /* the twins are fp16 builds */
    bad = (vkb_vulkan_opts){.gemm = VKB_GEMM_TILED_CL};
    be = open_gpu(m, VKB_PREC_FP32, bad, &err);
    CHECK(!be && strstr(err.msg, "tiled_cl") && strstr(err.msg, "fp16"), "tiled_cl in fp32: '%s'",
          be ? "accepted" : err.msg);
    if (be) close_gpu(be, "tiled_cl fp32");
    /* shared memory: a configuration the device cannot hold is refused,
     * forced or tuned (coopmat_l: 256x128x32 tiles, 38912 bytes; its twin 30720) */
    {
        CHECK(vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1) == 38912 && vkb_vk_gemm_smem(VKB_GEMM_TILED_CL, 1) == 30720 &&
              vkb_vk_gemm_smem(VKB_GEMM_COOPMAT, 1) == 49152 && vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_S, 1) == 24576 &&
              vkb_vk_gemm_smem(VKB_GEMM_TILED_CS, 1) == 20480 && vkb_vk_gemm_smem(VKB_GEMM_TILED, 0) == 17408 &&
              vkb_vk_gemm_smem(VKB_GEMM_TILED_CL, 0) == 0 && vkb_vk_gemm_smem(VKB_GEMM_TEXEL, 0) == 0,
              "shared memory of the GEMM configurations: coopmat_l %u tiled_cl %u coopmat %u",
              vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1), vkb_vk_gemm_smem(VKB_GEMM_TILED_CL, 1),
              vkb_vk_gemm_smem(VKB_GEMM_COOPMAT, 1));
        int bm, bn;
        vkb_vk_gemm_tile(VKB_GEMM_COOPMAT_L, &bm, &bn);
        CHECK(bm == 256 && bn == 128, "coopmat_l tile %dx%d", bm, bn);
        vkb_vk_caps big = {.f16_storage = 1, .f16_arith = 1, .coop_ok = 1, .coop_forms = VKB_VK_COOP_NV,
                           .sg_size = 32, .max_shared = 49152};
        vkb_vk_caps small = big;
        small.max_shared = 32768;
        vkb_vulkan_opts ol = {.gemm = VKB_GEMM_COOPMAT_L};
        CHECK(vkb_vk_policy_decide(&big, "48K", VKB_PREC_FP16, &ol, &pol, &err) == 0 &&
              pol.gemm == VKB_GEMM_COOPMAT_L, "coopmat_l on a 48 KiB device: %s", err.msg);
        CHECK(vkb_vk_policy_decide(&small, "32K", VKB_PREC_FP16, &ol, &pol, &err) != 0 &&
              strstr(err.msg, "coopmat_l") && strstr(err.msg, "38912"), "coopmat_l on 32 KiB: '%s'", err.msg);
        ol.gemm = VKB_GEMM_TILED_CL;
        CHECK(vkb_vk_policy_decide(&small, "32K", VKB_PREC_FP16, &ol, &pol, &err) == 0 &&
              pol.gemm == VKB_GEMM_TILED_CL, "tiled_cl on 32 KiB: %s", err.msg);
        ol.gemm = VKB_GEMM_COOPMAT_S;
        CHECK(vkb_vk_policy_decide(&big, "48K", VKB_PREC_FP32, &ol, &pol, &err) != 0 &&
              strstr(err.msg, "coopmat_s") && strstr(err.msg, "fp16"), "coopmat_s in fp32: '%s'", err.msg);
        REQUIRE(vkb_vk_policy_decide(&small, "32K", VKB_PREC_FP16, NULL, &pol, &err) == 0, "%s", err.msg);
        vkb_vk_tuned tt = {{VKB_GEMM_COOPMAT_L, VKB_GEMM_COOPMAT_S, VKB_GEMM_TILED_CL, VKB_GEMM_TILED_CS},
                           VKB_ATTN_AUTO, 0};
        vkb_vk_policy_tuned(&small, NULL, &tt, &pol);
        CHECK(pol.gemm_cls[0] == VKB_GEMM_COOPMAT && pol.gemm_cls[1] == VKB_GEMM_COOPMAT_S &&
              pol.gemm_cls[2] == VKB_GEMM_TILED_CL && pol.gemm_cls[3] == VKB_GEMM_TILED_CS,
              "tuned on 32 KiB: %d %d %d %d (coopmat_l must be ignored)", pol.gemm_cls[0], pol.gemm_cls[1],
              pol.gemm_cls[2], pol.gemm_cls[3]);
        REQUIRE(vkb_vk_policy_decide(&big, "48K", VKB_PREC_FP32, NULL, &pol, &err) == 0, "%s", err.msg);
        vkb_vk_policy_tuned(&big, NULL, &tt, &pol);
        CHECK(!pol.tuned, "fp16-only tuned GEMMs applied in fp32");
    }
    bad = (vkb_vulkan_opts){.layernorm = (vkb_ln_variant)9};
    be = open_gpu(m, VKB_PREC_FP32, bad, &err);
    CHECK(!be && strstr(err.msg, "layernorm variant"), "layernorm variant 9: '%s'", be ? "accepted" : err.msg);
    if (be) close_gpu(be, "bad layernorm");
    bad = (vkb_vulkan_opts){.attention = (vkb_attn_variant)9};
    be = open_gpu(m, VKB_PREC_FP32, bad, &err);
    CHECK(!be && strstr(err.msg, "attention variant"), "attention variant 9: '%s'", be ? "accepted" : err.msg);
    if (be) close_gpu(be, "bad attention");
    /* a device without subgroup support must refuse the subgroup forms */
    vkb_vk_caps nosg = caps;
    nosg.sg_arith = nosg.sg_shuffle = 0;
    vkb_vulkan_opts sg = {.layernorm = VKB_LN_SUBGROUP};
    CHECK(vkb_vk_policy_decide(&nosg, "test device", VKB_PREC_FP32, &sg, &pol, &err) != 0 &&
          strstr(err.msg, "subgroup"), "subgroup layernorm without subgroups accepted");
    sg = (vkb_vulkan_opts){.attention = VKB_ATTN_SUBGROUP};
    CHECK(vkb_vk_policy_decide(&nosg, "test device", VKB_PREC_FP32, &sg, &pol, &err) != 0 &&
          strstr(err.msg, "subgroup"), "subgroup attention without subgroups accepted");
    /* the AUTO decisions on device kinds this machine may not have */
    vkb_vk_caps gpu = {.is_cpu = 0, .f16_storage = 1, .sg_size = 32, .sg_arith = 1, .sg_shuffle = 1};
    CHECK(vkb_vk_policy_decide(&gpu, "gpu", VKB_PREC_AUTO, NULL, &pol, &err) == 0 && pol.f16 &&
          pol.gemm == VKB_GEMM_TILED && pol.ln == VKB_LN_SHARED && pol.attn == VKB_ATTN_FLASH &&
          !pol.attn_coop,
          "discrete GPU without coopmat: f16=%d %s/%s/%s", pol.f16, vkb_gemm_variant_name(pol.gemm),
          vkb_ln_variant_name(pol.ln), vkb_attn_variant_name(pol.attn));
    gpu.coop_ok = 1;
    gpu.coop_forms = VKB_VK_COOP_NV;
    CHECK(vkb_vk_policy_decide(&gpu, "gpu", VKB_PREC_AUTO, NULL, &pol, &err) == 0 &&
          pol.gemm == VKB_GEMM_COOPMAT && !pol.gemm_forced && pol.attn == VKB_ATTN_FLASH && !pol.attn_coop,
          "coopmat GPU: %s, %s attention (coopmat %d)", vkb_gemm_variant_name(pol.gemm),
          vkb_attn_variant_name(pol.attn), pol.attn_coop);
    CHECK(vkb_vk_policy_decide(&gpu, "gpu", VKB_PREC_FP32, NULL, &pol, &err) == 0 &&
          pol.gemm == VKB_GEMM_TILED && pol.attn == VKB_ATTN_FLASH && !pol.attn_coop,
          "coopmat GPU at fp32: %s", vkb_gemm_variant_name(pol.gemm));
    vkb_vulkan_opts flash = {.attention = VKB_ATTN_FLASH};
    CHECK(vkb_vk_policy_decide(&gpu, "gpu", VKB_PREC_AUTO, &flash, &pol, &err) == 0 &&
          pol.attn == VKB_ATTN_FLASH && pol.attn_coop,
          "coopmat GPU, flash asked for: coopmat form %d", pol.attn_coop);
    /* the coopmat form: NV on NVIDIA (quirk), else KHR; pinned forms; off */
    struct { int forms, prefer_nv; vkb_coopmat_form ask; int coop, khr; } fc[] = {
        {VKB_VK_COOP_NV, 0, VKB_COOPMAT_AUTO, 1, 0},
        {VKB_VK_COOP_KHR, 0, VKB_COOPMAT_AUTO, 1, 1},           /* AMD RDNA3, Intel Arc */
        {VKB_VK_COOP_NV | VKB_VK_COOP_KHR, 1, VKB_COOPMAT_AUTO, 1, 0}, /* NVIDIA */
        {VKB_VK_COOP_NV | VKB_VK_COOP_KHR, 0, VKB_COOPMAT_AUTO, 1, 1},
        {VKB_VK_COOP_NV | VKB_VK_COOP_KHR, 1, VKB_COOPMAT_KHR, 1, 1}, /* gpu-run.sh's KHR step */
        {VKB_VK_COOP_NV | VKB_VK_COOP_KHR, 0, VKB_COOPMAT_NV, 1, 0},
        {VKB_VK_COOP_NV, 1, VKB_COOPMAT_KHR, 0, 0},
        {VKB_VK_COOP_KHR, 0, VKB_COOPMAT_NV, 0, 0},
        {VKB_VK_COOP_NV | VKB_VK_COOP_KHR, 1, VKB_COOPMAT_OFF, 0, 0},
    };
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) {
        vkb_vk_caps cg = gpu;
        cg.coop_forms = fc[i].forms;
        cg.quirk_coop_prefer_nv = fc[i].prefer_nv;
        vkb_vulkan_opts co = {.coopmat = fc[i].ask, .attention = VKB_ATTN_FLASH};
        int rc = vkb_vk_policy_decide(&cg, "gpu", VKB_PREC_FP16, &co, &pol, &err);
        CHECK(rc == 0 && (pol.gemm == VKB_GEMM_COOPMAT) == fc[i].coop && pol.attn_coop == fc[i].coop &&
              pol.coop_khr == fc[i].khr,
              "coopmat forms %d prefer_nv %d asked %s: rc %d, %s GEMM, attn coop %d, khr %d", fc[i].forms,
              fc[i].prefer_nv, vkb_coopmat_form_name(fc[i].ask), rc, vkb_gemm_variant_name(pol.gemm),
              pol.attn_coop, pol.coop_khr);
        /* forcing the coopmat GEMM where the form is unavailable names why */
        co.gemm = VKB_GEMM_COOPMAT;
        rc = vkb_vk_policy_decide(&cg, "gpu", VKB_PREC_FP16, &co, &pol, &err);
        CHECK(fc[i].coop ? rc == 0 && pol.gemm_forced
                         : rc != 0 && strstr(err.msg, "cannot run") &&
                               strstr(err.msg, fc[i].ask == VKB_COOPMAT_OFF ? "off" : vkb_coopmat_form_name(fc[i].ask)),
              "forced coopmat GEMM, forms %d asked %s: rc %d '%s'", fc[i].forms,
              vkb_coopmat_form_name(fc[i].ask), rc, rc ? err.msg : "");
        char s[256];
        vkb_vk_policy_str(&pol, s, sizeof s);
        CHECK(!fc[i].coop || strstr(s, fc[i].khr ? "VK_KHR_cooperative_matrix" : "VK_NV_cooperative_matrix"),
              "policy string names the form: %s", s);
    }
    vkb_vulkan_opts badc = {.coopmat = (vkb_coopmat_form)7};
    CHECK(vkb_vk_policy_decide(&gpu, "gpu", VKB_PREC_FP16, &badc, &pol, &err) != 0 &&
          strstr(err.msg, "coopmat form"), "coopmat form 7 accepted");
    vkb_coopmat_form cf;
    CHECK(vkb_coopmat_form_parse("khr", &cf) == 0 && cf == VKB_COOPMAT_KHR &&
          vkb_coopmat_form_parse("off", &cf) == 0 && cf == VKB_COOPMAT_OFF &&
          !strcmp(vkb_coopmat_form_name(VKB_COOPMAT_NV), "nv") && vkb_coopmat_form_parse("amd", &cf) != 0,
          "coopmat form names");
    vkb_vk_caps cpu_dev = {.is_cpu = 1, .f16_storage = 1, .sg_size = 8, .sg_arith = 1, .sg_shuffle = 1};
    CHECK(vkb_vk_policy_decide(&cpu_dev, "cpu", VKB_PREC_AUTO, NULL, &pol, &err) == 0 && !pol.f16 &&
          pol.gemm == VKB_GEMM_TEXEL && pol.ln == VKB_LN_SUBGROUP && pol.attn == VKB_ATTN_SUBGROUP,
          "CPU implementation: f16=%d %s/%s/%s", pol.f16, vkb_gemm_variant_name(pol.gemm),
          vkb_ln_variant_name(pol.ln), vkb_attn_variant_name(pol.attn));
    cpu_dev.f16_storage = 0;
    CHECK(vkb_vk_policy_decide(&cpu_dev, "cpu", VKB_PREC_FP16, NULL, &pol, &err) != 0 &&
          strstr(err.msg, "16BitAccess"), "fp16 without 16-bit storage accepted");
    vkb_model_free(m);
    return vkb_test_done("test_vk_policy");
}
