/* vk_policy.c - the device policy: what a device can do (vkb_vk_caps, read
 * once from the physical device) and, from that, which storage precision
 * and which GEMM, LayerNorm and attention kernels run (vkb_vk_policy_decide).
 * The backend, the op entry points (tests, `vkbert check --ops`) and the
 * device report (`vkbert devices`) all take their decision from here, so
 * what is reported is what runs.  Every "is this a CPU implementation"
 * decision of the Vulkan runtime is made in this file. */
#include "vk_internal.h"
#include "error.h"
#include <stdio.h>
#include <string.h>

void vkb_vk_caps_query(VkInstance inst, VkPhysicalDevice pd, const vkb_vk_features *f,
                       vkb_vk_caps *caps) {
    memset(caps, 0, sizeof *caps);
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    caps->is_cpu = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    /* memory the host can map is device-local memory too (unified memory) */
    caps->uma = caps->is_cpu || p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    caps->f16_storage = f->f16_storage;
    /* coopmat: each SPIR-V form that passes its probe */
    char why_nv[150], why_khr[150];
    if (vkb_vk_coopmat_probe(inst, pd, f, VKB_VK_COOP_NV, why_nv, sizeof why_nv))
        caps->coop_forms |= VKB_VK_COOP_NV;
    if (vkb_vk_coopmat_probe(inst, pd, f, VKB_VK_COOP_KHR, why_khr, sizeof why_khr))
        caps->coop_forms |= VKB_VK_COOP_KHR;
    caps->coop_ok = caps->coop_forms != 0;
    if (!(caps->coop_forms & VKB_VK_COOP_NV) && !(caps->coop_forms & VKB_VK_COOP_KHR))
        snprintf(caps->coop_why, sizeof caps->coop_why, "NV: %s; KHR: %s", why_nv, why_khr);
    else if (!(caps->coop_forms & VKB_VK_COOP_NV))
        snprintf(caps->coop_why, sizeof caps->coop_why, "NV: %s", why_nv);
    else if (!(caps->coop_forms & VKB_VK_COOP_KHR))
        snprintf(caps->coop_why, sizeof caps->coop_why, "KHR: %s", why_khr);
    caps->quirk_coop_prefer_nv = p.vendorID == 0x10DE; /* NVIDIA */
    VkPhysicalDeviceSubgroupProperties sgp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sgp};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    caps->sg_size = (int)sgp.subgroupSize;
    int sg = (sgp.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) && sgp.subgroupSize >= 1 &&
             sgp.subgroupSize <= 64;
    caps->sg_arith = sg && (sgp.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    caps->sg_shuffle = sg && (sgp.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    caps->f16_arith = f->f16_arith;
    caps->max_shared = p.limits.maxComputeSharedMemorySize;
}

/* Can the device run GEMM variant v at precision f16 (coop: the coopmat
 * kernels are available, in the form the options allow)?  1, or 0 with the
 * reason in why. */
static int gemm_runnable(const vkb_vk_caps *caps, const char *dev, int f16, int coop,
                         const char *coop_why, vkb_gemm_variant v, char *why, size_t n) {
    const char *name = vkb_gemm_variant_name(v);
    if (vkb_vk_gemm_is_coop(v)) {
        if (!coop) {
            snprintf(why, n, "GEMM variant %s: device %s cannot run the cooperative-matrix GEMM: %s",
                     name, dev, coop_why);
            return 0;
        }
        if (!f16) {
            snprintf(why, n, "GEMM variant %s needs fp16 precision (--precision fp16)", name);
            return 0;
        }
    }
    if (v == VKB_GEMM_TILED_CS || v == VKB_GEMM_TILED_CL) {
        if (!f16) {
            snprintf(why, n, "GEMM variant %s (the scalar twin of coopmat%s) needs fp16 precision "
                     "(--precision fp16)", name, v == VKB_GEMM_TILED_CS ? "_s" : "_l");
            return 0;
        }
        if (!caps->f16_arith) {
            snprintf(why, n, "GEMM variant %s: device %s lacks shaderFloat16 (fp16 shared memory)",
                     name, dev);
            return 0;
        }
    }
    uint32_t need = vkb_vk_gemm_smem(v, f16);
    if (caps->max_shared && need > caps->max_shared) {
        snprintf(why, n, "GEMM variant %s needs %u bytes of shared memory; device %s has %u "
                 "(maxComputeSharedMemorySize)", name, need, dev, caps->max_shared);
        return 0;
    }
    return 1;
}

int vkb_vk_policy_decide(const vkb_vk_caps *caps, const char *dev, vkb_precision prec,
                         const vkb_vulkan_opts *o, vkb_vk_policy *p, vkb_error *err) {
    static const vkb_vulkan_opts none = {0};
    if (!o) o = &none;
    memset(p, 0, sizeof *p);
    /* Precision (AUTO = the fastest the device supports that keeps labels
     * identical to the CPU): fp16 storage where the device has it and it
     * pays (GPUs); on CPU implementations fp32, which is both exact and
     * faster there: on lavapipe the texel GEMM (1024x768x768) ran 28.6 vs
     * 25.5 GFLOP/s fp32 vs fp16, fp32 ahead in 4 of 4 alternated runs of
     * bench/gemm_bench (RGBA16F fetches add conversions, save nothing). */
    if (prec == VKB_PREC_BF16 || prec == VKB_PREC_INT8)
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "--precision %s is for the CPU backend (--device cpu); "
                         "device %s runs fp32 or fp16", vkb_precision_name(prec), dev);
    if (prec == VKB_PREC_FP16 && !caps->f16_storage)
        return vkb_fail(err, "fp16 storage requested but device %s lacks storageBuffer16BitAccess "
                        "(use --precision fp32)", dev);
    p->f16 = prec == VKB_PREC_FP16 ? 1 : prec == VKB_PREC_FP32 ? 0 : caps->f16_storage && !caps->is_cpu;

    /* Which extension the coopmat kernels (GEMM, flash attention) use: the
     * NV form on NVIDIA (quirk_coop_prefer_nv: the form they were written
     * and measured with), else the KHR form (the build's rewrite of the NV
     * module), else NV where only it passed; opts can pin one form or turn
     * coopmat off.  A pinned form the device lacks makes coopmat unavailable
     * (coop = 0): AUTO picks other kernels, a forced coopmat GEMM fails. */
    int nv = caps->coop_ok && (caps->coop_forms & VKB_VK_COOP_NV);
    int khr = caps->coop_ok && (caps->coop_forms & VKB_VK_COOP_KHR);
    int coop = 0;
    char coop_why[400];
    snprintf(coop_why, sizeof coop_why, "%s", caps->coop_why);
    switch (o->coopmat) {
    case VKB_COOPMAT_AUTO:
        coop = nv || khr;
        p->coop_khr = khr && !(nv && caps->quirk_coop_prefer_nv);
        break;
    case VKB_COOPMAT_NV: coop = nv; break;
    case VKB_COOPMAT_KHR: coop = khr; p->coop_khr = 1; break;
    case VKB_COOPMAT_OFF:
        snprintf(coop_why, sizeof coop_why, "coopmat form off");
        break;
    default: return vkb_fail(err, "unknown coopmat form %d", (int)o->coopmat);
    }
    if (!coop && o->coopmat != VKB_COOPMAT_OFF && (nv || khr))
        snprintf(coop_why, sizeof coop_why, "coopmat form %s asked for; %s",
                 vkb_coopmat_form_name(o->coopmat), caps->coop_why);
    if (!coop) p->coop_khr = 0;

    /* GEMM: the cooperative-matrix GEMM on fp16 devices that pass its probe
     * (and, at backend creation, its self-test: vkb_vk_gemm_confirm);
     * else the register-blocked texel-buffer variant on CPU implementations
     * (no real shared memory, wide SIMD across invocations), shared-memory
     * tiles (linear.comp's scalar form, 64x64 double-buffered) everywhere
     * else. */
    switch (o->gemm) {
    case VKB_GEMM_AUTO:
        p->gemm = coop && p->f16 ? VKB_GEMM_COOPMAT
                  : caps->is_cpu          ? VKB_GEMM_TEXEL
                                          : VKB_GEMM_TILED;
        break;
    case VKB_GEMM_TILED:
    case VKB_GEMM_TILED_S:
    case VKB_GEMM_TEXEL:
    case VKB_GEMM_TILED_CS:
    case VKB_GEMM_TILED_CL:
    case VKB_GEMM_COOPMAT:
    case VKB_GEMM_COOPMAT_S:
    case VKB_GEMM_COOPMAT_L: {
        char why[480];
        if (!gemm_runnable(caps, dev, p->f16, coop, coop_why, o->gemm, why, sizeof why))
            return vkb_fail(err, "%s", why);
        p->gemm = o->gemm;
        p->gemm_forced = 1;
        break;
    }
    default:
        return vkb_fail(err, "unknown GEMM variant %d", (int)o->gemm);
    }

    /* LayerNorm and attention: the subgroup forms on CPU implementations
     * (lavapipe), where they were measured several times faster (`vkbert
     * bench` per-kernel times: llvmpipe runs workgroup barriers as costly
     * coroutine switches); the shared-memory forms on GPUs. */
    switch (o->layernorm) {
    case VKB_LN_AUTO: p->ln = caps->is_cpu && caps->sg_arith ? VKB_LN_SUBGROUP : VKB_LN_SHARED; break;
    case VKB_LN_SHARED: p->ln = VKB_LN_SHARED; break;
    case VKB_LN_SUBGROUP:
        if (!caps->sg_arith)
            return vkb_fail(err, "layernorm variant subgroup: device %s lacks subgroup arithmetic "
                            "in compute shaders (subgroup size %d)", dev, caps->sg_size);
        p->ln = VKB_LN_SUBGROUP;
        break;
    default: return vkb_fail(err, "unknown layernorm variant %d", (int)o->layernorm);
    }
    /* Attention on GPUs: flash attention (query tiles; op matrix and model
     * tests pass on lavapipe in the scalar form).  Its tensor-core form
     * (inner products on coopmat fragments, fp16, where the coopmat probe
     * passes) runs only when flash is asked for explicitly: unlike the
     * coopmat GEMM it has no start-up self-test with a fallback yet, and it
     * has not run on hardware, so AUTO keeps the scalar form that CI checks
     * (`vkbert check --ops attention flash fp16` runs the coopmat form). */
    switch (o->attention) {
    case VKB_ATTN_AUTO:
        p->attn = caps->is_cpu ? (caps->sg_shuffle ? VKB_ATTN_SUBGROUP : VKB_ATTN_SHARED) : VKB_ATTN_FLASH;
        break;
    case VKB_ATTN_SHARED: p->attn = VKB_ATTN_SHARED; break;
    case VKB_ATTN_FLASH: p->attn = VKB_ATTN_FLASH; break;
    case VKB_ATTN_SUBGROUP:
        if (!caps->sg_shuffle)
            return vkb_fail(err, "attention variant subgroup: device %s lacks subgroup shuffles "
                            "in compute shaders (subgroup size %d)", dev, caps->sg_size);
        p->attn = VKB_ATTN_SUBGROUP;
        break;
    default: return vkb_fail(err, "unknown attention variant %d", (int)o->attention);
    }
    p->attn_coop = o->attention == VKB_ATTN_FLASH && p->f16 && coop;
    /* Weights: converted straight into device-local memory the host can map
     * where device memory is host memory (no staging copy); else through the
     * staging buffer (discrete GPUs: their host-visible window may be small
     * and slow). */
    p->mapped_weights = caps->uma && !o->staging_upload;
    for (int i = 0; i < 4; i++) p->gemm_cls[i] = p->gemm;
    return 0;
}

/* Tuned choices (the tuning cache, vk_tune.c): each was timed and checked
 * against the CPU reference on this device at the model's shapes.  A forced
 * variant (opts) wins; a choice the device cannot run (a cache written
 * elsewhere) is ignored.  A tuned flash attention runs the form that was
 * timed and checked: forced flash's (coopmat on fp16 probed devices). */
void vkb_vk_policy_tuned(const vkb_vk_caps *caps, const vkb_vulkan_opts *o, const vkb_vk_tuned *t,
                         vkb_vk_policy *p) {
    static const vkb_vulkan_opts none = {0};
    if (!o) o = &none;
    if (o->gemm == VKB_GEMM_AUTO) {
        int any = 0;
        for (int i = 0; i < 4; i++) {
            vkb_gemm_variant v = t->gemm[i];
            char why[480];
            int ok = v > VKB_GEMM_AUTO && v < VKB_GEMM_NVARIANTS &&
                     gemm_runnable(caps, "", p->f16, caps->coop_ok, "", v, why, sizeof why);
            if (!ok) continue;
            p->gemm_cls[i] = v;
            any = 1;
        }
        if (any) {
            p->gemm = p->gemm_cls[0]; /* the head's GEMMs: the QKV choice */
            p->tuned = 1;
        }
    }
    if (o->attention == VKB_ATTN_AUTO) {
        vkb_attn_variant a = t->attn;
        if (a == VKB_ATTN_SHARED || a == VKB_ATTN_FLASH || (a == VKB_ATTN_SUBGROUP && caps->sg_shuffle)) {
            p->attn = a;
            p->attn_coop = a == VKB_ATTN_FLASH && p->f16 && caps->coop_ok;
            p->tuned = 1;
        }
    }
}

int vkb_vk_policy_uses_gemm(const vkb_vk_policy *p, vkb_gemm_variant v) {
    if (p->gemm == v) return 1;
    for (int i = 0; i < 4; i++)
        if (p->gemm_cls[i] == v) return 1;
    return 0;
}

int vkb_vk_policy_for_ctx(const vkb_vk_ctx *c, vkb_precision prec, const vkb_vulkan_opts *o,
                          vkb_vk_policy *p, vkb_error *err) {
    return vkb_vk_policy_decide(&c->caps, c->props.deviceName, prec, o, p, err);
}

void vkb_vk_policy_str(const vkb_vk_policy *p, char *out, size_t n) {
    const char *form = p->coop_khr ? "VK_KHR_cooperative_matrix" : "VK_NV_cooperative_matrix";
    int cg = vkb_vk_gemm_is_coop(p->gemm);
    snprintf(out, n, "%s storage (weights %s), %s GEMM%s%s%s, %s layernorm, %s attention%s%s%s",
             p->f16 ? "fp16" : "fp32", p->mapped_weights ? "mapped" : "staged",
             vkb_gemm_variant_name(p->gemm),
             cg ? " (" : "", cg ? form : "",
             cg ? "; tiled if its self-test fails)" : "",
             vkb_ln_variant_name(p->ln), vkb_attn_variant_name(p->attn),
             p->attn_coop ? " (coopmat, " : "", p->attn_coop ? form : "", p->attn_coop ? ")" : "");
}

/* ---- names ---- */

static const char *const gemm_names[VKB_GEMM_NVARIANTS] = {
    "auto", "tiled", "texel", "coopmat", "tiled_s", "coopmat_s", "coopmat_l", "tiled_cs", "tiled_cl"};
static const char *const form_names[] = {"auto", "shared", "subgroup"};

const char *vkb_gemm_variant_name(vkb_gemm_variant v) {
    return (unsigned)v < VKB_GEMM_NVARIANTS ? gemm_names[v] : "?";
}
const char *vkb_ln_variant_name(vkb_ln_variant v) { return (unsigned)v < 3 ? form_names[v] : "?"; }
static const char *const attn_names[] = {"auto", "shared", "subgroup", "flash"};
const char *vkb_attn_variant_name(vkb_attn_variant v) { return (unsigned)v < 4 ? attn_names[v] : "?"; }

static const char *const coop_names[] = {"auto", "nv", "khr", "off"};
const char *vkb_coopmat_form_name(vkb_coopmat_form f) { return (unsigned)f < 4 ? coop_names[f] : "?"; }

static int parse(const char *s, const char *const *names, int n) {
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}
int vkb_gemm_variant_parse(const char *s, vkb_gemm_variant *v) {
    int i = parse(s, gemm_names, VKB_GEMM_NVARIANTS);
    if (i < 0) return -1;
    *v = (vkb_gemm_variant)i;
    return 0;
}
int vkb_ln_variant_parse(const char *s, vkb_ln_variant *v) {
    int i = parse(s, form_names, 3);
    if (i < 0) return -1;
    *v = (vkb_ln_variant)i;
    return 0;
}
int vkb_attn_variant_parse(const char *s, vkb_attn_variant *v) {
    int i = parse(s, attn_names, 4);
    if (i < 0) return -1;
    *v = (vkb_attn_variant)i;
    return 0;
}
int vkb_coopmat_form_parse(const char *s, vkb_coopmat_form *f) {
    int i = parse(s, coop_names, 4);
    if (i < 0) return -1;
    *f = (vkb_coopmat_form)i;
    return 0;
}
