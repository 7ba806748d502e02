/* vk_coopmat.c - the cooperative-matrix GEMM (shaders/linear.comp, COOPMAT):
 * whether a device can run it, its pipelines, a start-up self-test, and the
 * backend's choice of GEMM variant.
 *
 * Toolchain: Debian's glslc (shaderc 2023.2) compiles GL_NV_cooperative_matrix
 * but not GL_KHR_cooperative_matrix, so the shaders use the NV extension and
 * the build derives the SPV_KHR_cooperative_matrix form of each coopmat
 * variant from the NV module (shaders/spirv_coopmat_khr.py: "_khr" variants).
 * NVIDIA drivers expose both extensions; AMD RDNA3 and Intel Arc only the
 * KHR one.  A device qualifies for a form only if it reports a
 * subgroup-scope fp16 x fp16 -> fp32 16x16x16 configuration through that
 * extension, and the kernels are used only once they have reproduced the
 * CPU reference on the device itself: a wrong coopmat kernel must cost
 * speed, never correctness. */
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* coopmat vs the CPU reference, both over the same fp16 operands with fp32
 * accumulation: they differ by the fp16 rounding of the output (~5e-4
 * relative) plus summation order.  A wrong tile, offset or edge gives O(1). */
#define SELFTEST_TOL 4e-3

/* The NV extension's 16x16x16 subgroup fp16 x fp16 -> fp32 entry: 1 found,
 * 0 not (why says), -1 nothing reported. */
static int nv_config(VkPhysicalDevice pd, char *why, size_t n) {
    VkPhysicalDeviceCooperativeMatrixPropertiesNV cp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &cp};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    if (!(cp.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT)) {
        snprintf(why, n, "cooperative matrices not supported in compute shaders");
        return 0;
    }
    if (!vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) {
        snprintf(why, n, "loader lacks vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
        return 0;
    }
    uint32_t cnt = 0;
    if (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &cnt, NULL) != VK_SUCCESS || !cnt) {
        snprintf(why, n, "no cooperative matrix configurations reported");
        return 0;
    }
    VkCooperativeMatrixPropertiesNV *e = calloc(cnt, sizeof *e);
    if (!e) { snprintf(why, n, "out of memory"); return 0; }
    for (uint32_t i = 0; i < cnt; i++) e[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    int found = 0;
    if (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &cnt, e) >= 0)
        for (uint32_t i = 0; i < cnt; i++)
            if (e[i].MSize == 16 && e[i].NSize == 16 && e[i].KSize == 16 &&
                e[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                e[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                e[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                e[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV && e[i].scope == VK_SCOPE_SUBGROUP_NV)
                found = 1;
    free(e);
    if (!found) snprintf(why, n, "no subgroup fp16 x fp16 -> fp32 16x16x16 configuration among %u", cnt);
    return found;
}

/* The same through VK_KHR_cooperative_matrix (its entry point fetched from
 * the instance: the loader's headers here predate it). */
static int khr_config(VkInstance inst, VkPhysicalDevice pd, char *why, size_t n) {
    VkPhysicalDeviceCooperativeMatrixPropertiesKHR cp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &cp};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    if (!(cp.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT)) {
        snprintf(why, n, "cooperative matrices not supported in compute shaders");
        return 0;
    }
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get =
        inst ? (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
                   inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR")
             : NULL;
    if (!get) {
        snprintf(why, n, "loader lacks vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        return 0;
    }
    uint32_t cnt = 0;
    if (get(pd, &cnt, NULL) != VK_SUCCESS || !cnt) {
        snprintf(why, n, "no cooperative matrix configurations reported");
        return 0;
    }
    VkCooperativeMatrixPropertiesKHR *e = calloc(cnt, sizeof *e);
    if (!e) { snprintf(why, n, "out of memory"); return 0; }
    for (uint32_t i = 0; i < cnt; i++) e[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    int found = 0;
    if (get(pd, &cnt, e) >= 0)
        for (uint32_t i = 0; i < cnt; i++)
            if (e[i].MSize == 16 && e[i].NSize == 16 && e[i].KSize == 16 &&
                e[i].AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                e[i].BType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                e[i].CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                e[i].ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                e[i].scope == VK_SCOPE_SUBGROUP_KHR)
                found = 1;
    free(e);
    if (!found) snprintf(why, n, "no subgroup fp16 x fp16 -> fp32 16x16x16 configuration among %u", cnt);
    return found;
}

int vkb_vk_coopmat_probe(VkInstance inst, VkPhysicalDevice pd, const vkb_vk_features *f, int form,
                         char *why, size_t n) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    int khr = form == VKB_VK_COOP_KHR;
    if (p.apiVersion < VK_API_VERSION_1_2) {
        snprintf(why, n, "needs Vulkan 1.2");
        return 0;
    }
    if (!(khr ? f->coop_khr : f->coop_nv)) {
        snprintf(why, n, khr ? "no VK_KHR_cooperative_matrix" : "no VK_NV_cooperative_matrix");
        return 0;
    }
    if (!f->f16_storage || !f->f16_arith) {
        snprintf(why, n, "needs storageBuffer16BitAccess and shaderFloat16");
        return 0;
    }
    if (f->subgroup_size != 32) {
        snprintf(why, n, "subgroup size %d, the shader assumes 32", f->subgroup_size);
        return 0;
    }
    VkPhysicalDeviceVulkanMemoryModelFeatures mm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &mm};
    vkGetPhysicalDeviceFeatures2(pd, &f2);
    if (!mm.vulkanMemoryModel) {
        snprintf(why, n, "needs vulkanMemoryModel (glslang emits coopmat code with it)");
        return 0;
    }
    if (!(khr ? khr_config(inst, pd, why, n) : nv_config(pd, why, n))) return 0;
    why[0] = 0;
    return 1;
}

int vkb_vk_coopmat_pipes_create(vkb_vk_ctx *c, vkb_vk_kernels *k, vkb_error *err) {
    if (!c->caps.coop_ok) return vkb_fail(err, "cooperative-matrix GEMM unavailable on %s: %s",
                                     c->props.deviceName, c->caps.coop_why);
    if (!k->f16) return vkb_fail(err, "cooperative-matrix GEMM needs fp16 precision");
    if (k->gemm_coop.pipe) return 0;
    static const VkDescriptorType t[5] = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                          VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                          VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
    if (k->coop_khr && !(c->caps.coop_forms & VKB_VK_COOP_KHR))
        return vkb_fail(err, "coopmat GEMM: %s has no usable VK_KHR_cooperative_matrix: %s",
                        c->props.deviceName, c->caps.coop_why);
    if (!k->coop_khr && !(c->caps.coop_forms & VKB_VK_COOP_NV))
        return vkb_fail(err, "coopmat GEMM: %s has no usable VK_NV_cooperative_matrix: %s",
                        c->props.deviceName, c->caps.coop_why);
    /* the SPV_KHR_cooperative_matrix modules are the NV ones rewritten at build time */
    vkb_shader_id big = k->coop_khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_F16 : VKB_SHADER_LINEAR_COOPMAT_F16;
    vkb_shader_id small = k->coop_khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_S_F16 : VKB_SHADER_LINEAR_COOPMAT_S_F16;
    uint32_t smem = c->props.limits.maxComputeSharedMemorySize;
    if (vkb_vk_gemm_smem(VKB_GEMM_COOPMAT, 1) > smem || vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_S, 1) > smem)
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "coopmat GEMM needs %u bytes of shared memory; "
                         "device %s has %u", vkb_vk_gemm_smem(VKB_GEMM_COOPMAT, 1), c->props.deviceName, smem);
    if (vkb_vk_pipe_create(c, big, 5, t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_coop, err) ||
        vkb_vk_pipe_create(c, small, 5, t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_coop_s, err)) {
        vkb_vk_pipe_destroy(c, &k->gemm_coop);
        vkb_vk_pipe_destroy(c, &k->gemm_coop_s);
        return -1;
    }
    /* the 256x128 tiles only where the device's shared memory holds them */
    vkb_shader_id large = k->coop_khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_L_F16 : VKB_SHADER_LINEAR_COOPMAT_L_F16;
    if (vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1) <= smem &&
        vkb_vk_pipe_create(c, large, 5, t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_coop_l, err)) {
        vkb_vk_pipe_destroy(c, &k->gemm_coop);
        vkb_vk_pipe_destroy(c, &k->gemm_coop_s);
        return -1;
    }
    return 0;
}

static uint32_t cdiv(int a, int b) { return (uint32_t)((a + b - 1) / b); }

/* 128x128 tiles when they alone give enough workgroups to fill a big GPU
 * (an H100 has 132 SMs), else 64x64 tiles for more parallelism. */
static int use_big(int M, int N) { return cdiv(M, 128) * cdiv(N, 128) >= 128; }

const vkb_vk_pipe *vkb_vk_coopmat_pipe(const vkb_vk_kernels *k, int M, int N) {
    return use_big(M, N) ? &k->gemm_coop : &k->gemm_coop_s;
}

void vkb_vk_coopmat_groups(int M, int N, uint32_t g[3]) {
    int t = use_big(M, N) ? 128 : 64;
    g[0] = cdiv(N, t);
    g[1] = cdiv(M, t);
    g[2] = 1;
}

/* ------------------------------------------------------------ self-test */

static float rnd(uint64_t *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    float v = (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return vkb_f16_to_f32(vkb_f32_to_f16(v)); /* exact in fp16: both sides see it */
}

/* One case through the GEMM harness (vk_ops.c); *e = the max error vs the
 * CPU reference (NaN-safe: any NaN gives INFINITY), at index *at. */
static int run_case(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant v,
                    const vkb_vk_gemm_case *t0, int with_res, uint64_t *seed, double *e, int *at,
                    vkb_error *err) {
    vkb_vk_gemm_case tc = *t0;
    const vkb_vk_gemm_case *t = &tc;
    size_t nx = (size_t)(t->M - 1) * t->lda + t->K, nw = (size_t)t->N * t->K;
    size_t ny = (size_t)t->M * t->N;
    float *X = malloc(nx * 4), *Xc = malloc((size_t)t->M * t->K * 4), *W = malloc(nw * 4);
    float *b = malloc((size_t)t->N * 4), *Y = malloc(ny * 4), *R = malloc(ny * 4);
    float *res = with_res ? malloc(ny * 4) : NULL;
    int rc = 0;
    if (!X || !Xc || !W || !b || !Y || !R || (with_res && !res)) { rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); goto done; }
    for (size_t i = 0; i < nx; i++) X[i] = rnd(seed);
    for (size_t i = 0; i < nw; i++) W[i] = rnd(seed);
    for (int i = 0; i < t->N; i++) b[i] = rnd(seed);
    for (size_t i = 0; with_res && i < ny; i++) res[i] = rnd(seed);
    tc.res = res;
    for (int m = 0; m < t->M; m++) memcpy(Xc + (size_t)m * t->K, X + (size_t)m * t->lda, (size_t)t->K * 4);
    rc = vkb_vk_gemm_host(c, k, v, t, X, W, b, Y, 0, 0, NULL, err);
    if (!rc) {
        vkb_cpu_linear(Xc, W, b, R, t->M, t->N, t->K, t->act, 0, 1);
        for (size_t i = 0; with_res && i < ny; i++) R[i] += res[i];
        *e = 0;
        *at = 0;
        for (size_t i = 0; i < ny; i++) {
            double d = fabs((double)Y[i] - R[i]) / (1.0 + fabs((double)R[i]));
            if (!(d <= *e)) { *e = isnan(d) ? INFINITY : d; *at = (int)i; }
            if (isinf(*e)) break;
        }
    }
done:
    free(X); free(Xc); free(W); free(b); free(Y); free(R); free(res);
    return rc ? -1 : 0;
}

int vkb_vk_coopmat_selftest(vkb_vk_ctx *c, const vkb_vk_kernels *k, char *why, size_t n,
                            vkb_error *err) {
    /* both tiles; K % 8 == 0 (vector loads) and not (checked scalar loads);
     * lda > K (the classifier head reads every L-th row); each activation;
     * sizes that leave partial tiles in M, N and K; with and without the
     * residual epilogue */
    static const vkb_vk_gemm_case cases[] = {
        {77, 130, 96, 96, VKB_ACT_GELU, 128, NULL},
        {77, 130, 96, 96, VKB_ACT_NONE, 64, NULL},
        {45, 70, 100, 100, VKB_ACT_RELU, 128, NULL},
        {45, 70, 100, 100, VKB_ACT_GELU, 64, NULL},
        {5, 131, 96, 288, VKB_ACT_RELU, 64, NULL},
        {130, 200, 200, 200, VKB_ACT_NONE, 128, NULL},
    };
    if (!k->gemm_coop.pipe || !k->gemm_coop_s.pipe)
        return vkb_fail(err, "internal: coopmat self-test before the pipelines exist");
    int nc = (int)(sizeof cases / sizeof cases[0]);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < nc; i++) {
        const vkb_vk_gemm_case *t = &cases[i];
        double e = 0;
        int at = 0;
        if (run_case(c, k, VKB_GEMM_COOPMAT, t, i % 2, &seed, &e, &at, err)) return -1; /* residual: every other case */
        if (!(e <= SELFTEST_TOL)) {
            snprintf(why, n, "coopmat (%s) self-test failed: max err %.3g at (%d,%d) of M=%d N=%d "
                     "K=%d lda=%d act=%d %dx%d tile", k->coop_khr ? "KHR" : "NV", e, at / t->N,
                     at % t->N, t->M, t->N, t->K, t->lda, (int)t->act, t->tile, t->tile);
            return 1;
        }
    }
    return 0;
}

int vkb_vk_coopmat_l_selftest(vkb_vk_ctx *c, const vkb_vk_kernels *k, char *why, size_t n,
                              vkb_error *err) {
    /* partial 256-row and 128-column tiles, K % 32 != 0 and K % 4 != 0,
     * lda > K, several tiles in both directions, with the residual */
    static const vkb_vk_gemm_case cases[] = {
        {300, 200, 100, 100, VKB_ACT_GELU, 0, NULL},
        {77, 130, 96, 96, VKB_ACT_NONE, 0, NULL},
        {5, 131, 70, 288, VKB_ACT_RELU, 0, NULL},
        {513, 259, 66, 66, VKB_ACT_NONE, 0, NULL},
    };
    if (!k->gemm_coop_l.pipe) return vkb_fail(err, "internal: coopmat_l self-test without its pipeline");
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        const vkb_vk_gemm_case *t = &cases[i];
        double e = 0;
        int at = 0;
        if (run_case(c, k, VKB_GEMM_COOPMAT_L, t, i % 2, &seed, &e, &at, err)) return -1;
        if (!(e <= SELFTEST_TOL)) {
            snprintf(why, n, "coopmat_l (%s) self-test failed: max err %.3g at (%d,%d) of M=%d N=%d "
                     "K=%d lda=%d act=%d", k->coop_khr ? "KHR" : "NV", e, at / t->N, at % t->N, t->M,
                     t->N, t->K, t->lda, (int)t->act);
            return 1;
        }
    }
    return 0;
}

/* -------------------------------------------------------------- choice */

int vkb_vk_gemm_confirm(vkb_vk_ctx *c, vkb_vk_kernels *k, int forced, vkb_gemm_variant *vars, int nv,
                        char *note, size_t n, vkb_error *err) {
    if (n) note[0] = 0;
    int any = 0, want_l = 0;
    for (int i = 0; i < nv; i++) {
        any |= vkb_vk_gemm_is_coop(vars[i]);
        want_l |= vars[i] == VKB_GEMM_COOPMAT_L;
    }
    if (!any) return 0;
    vkb_error e2 = {0};
    /* messages from before are not coopmat's */
    int earlier = __atomic_load_n(&c->val_count, __ATOMIC_SEQ_CST);
    int rc = vkb_vk_coopmat_pipes_create(c, k, &e2);
    if (!rc) rc = vkb_vk_coopmat_selftest(c, k, note, n, &e2);
    if (rc < 0) snprintf(note, n, "coopmat (%s) unavailable: %s", k->coop_khr ? "KHR" : "NV", e2.msg);
    /* coopmat_l: its own self-test; where it fails (or the device cannot
     * hold its tile) coopmat runs in its place */
    int l_ok = 1;
    if (rc == 0 && want_l) {
        int lr = k->gemm_coop_l.pipe ? vkb_vk_coopmat_l_selftest(c, k, note, n, &e2) : 1;
        if (lr < 0) rc = -1;
        if (lr < 0) snprintf(note, n, "coopmat_l (%s): %s", k->coop_khr ? "KHR" : "NV", e2.msg);
        if (lr == 1 && !k->gemm_coop_l.pipe)
            snprintf(note, n, "coopmat_l needs %u bytes of shared memory; device has %u",
                     vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1), c->props.limits.maxComputeSharedMemorySize);
        l_ok = lr == 0;
    }
    /* messages the validation layer raised about the coopmat work belong to
     * it: a forced run reports them, an automatic one falls back */
    if (rc == 0 && !earlier && vkb_vk_ctx_check_validation(c, &e2)) {
        snprintf(note, n, "coopmat self-test: %s", e2.msg);
        rc = 1;
    }
    if (rc == 0 && l_ok) return 0;
    if (forced) {
        const char *name = "coopmat";
        for (int i = 0; i < nv; i++)
            if (vkb_vk_gemm_is_coop(vars[i]) && (rc != 0 || vars[i] == VKB_GEMM_COOPMAT_L))
                name = vkb_gemm_variant_name(vars[i]);
        return vkb_fail(err, "GEMM variant %s on %s: %s", name, c->props.deviceName, note);
    }
    if (rc == 0) { /* only coopmat_l failed */
        vkb_vk_pipe_destroy(c, &k->gemm_coop_l);
        for (int i = 0; i < nv; i++)
            if (vars[i] == VKB_GEMM_COOPMAT_L) vars[i] = VKB_GEMM_COOPMAT;
        return 0;
    }
    vkb_vk_pipe_destroy(c, &k->gemm_coop);
    vkb_vk_pipe_destroy(c, &k->gemm_coop_s);
    vkb_vk_pipe_destroy(c, &k->gemm_coop_l);
    for (int i = 0; i < nv; i++)
        if (vkb_vk_gemm_is_coop(vars[i])) vars[i] = VKB_GEMM_TILED;
    return 0;
}
