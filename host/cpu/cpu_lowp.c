/* cpu_lowp.c - fp32 / bf16 / int8 linear layers on oneDNN's matmul (see
 * cpu_lowp.h).  oneDNN runs the GEMM only (no bias, no scales): the
 * conversion of the activations before it and the epilogue after it are
 * row loops here, on the same OpenMP threads oneDNN uses.
 *
 * Weights go into the blocked layout oneDNN's matmul asks for (format_any,
 * queried once at a reference M); the primitive for each M is then created
 * with that layout, so the weights are reordered once, at load.
 *
 * oneDNN is dlopen()ed, not linked (cpu_lowp.h): dnnl.h gives the types and
 * the declarations the function-pointer fields are typed from; every call
 * goes through the vkb_lp's table (dn->dnnl_...). */
#define _GNU_SOURCE /* RTLD_NODELETE */
#include "cpu_lowp.h"
#include "bigmem.h"
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- oneDNN, dlopen()ed ------------------------------------------------------ */
/* Every oneDNN function this file calls; the field of each in vkb_dnnl has
 * its name and the type of its declaration in dnnl.h. */
#define DNNL_FUNCS(X) \
    X(dnnl_engine_create) \
    X(dnnl_engine_destroy) \
    X(dnnl_get_effective_cpu_isa) \
    X(dnnl_matmul_desc_init) \
    X(dnnl_memory_create) \
    X(dnnl_memory_desc_get_size) \
    X(dnnl_memory_desc_init_by_strides) \
    X(dnnl_memory_desc_init_by_tag) \
    X(dnnl_memory_destroy) \
    X(dnnl_primitive_attr_create) \
    X(dnnl_primitive_attr_destroy) \
    X(dnnl_primitive_attr_set_scratchpad_mode) \
    X(dnnl_primitive_create) \
    X(dnnl_primitive_desc_create) \
    X(dnnl_primitive_desc_destroy) \
    X(dnnl_primitive_desc_query_md) \
    X(dnnl_primitive_destroy) \
    X(dnnl_primitive_execute) \
    X(dnnl_reorder_primitive_desc_create) \
    X(dnnl_stream_create) \
    X(dnnl_stream_destroy) \
    X(dnnl_stream_wait)

struct vkb_dnnl {
    void *so; /* dlopen() handle */
#define DNNL_FIELD(f) __typeof__(&f) f;
    DNNL_FUNCS(DNNL_FIELD)
#undef DNNL_FIELD
};

int vkb_dnnl_open(const char *path, vkb_dnnl **out, vkb_error *err) {
    *out = NULL;
    if (!path) path = VKB_DNNL_LIB;
    vkb_dnnl *d = calloc(1, sizeof *d);
    if (!d) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    /* NODELETE: dlclose() does not unmap it.  oneDNN keeps process-lifetime
     * state (its primitive cache, CPU detection) reachable only from its own
     * globals, and libgomp's pool threads outlive any vkb_lp: unmapped, that
     * state would turn into leaks (LeakSanitizer, tests/sanitize.sh) and a
     * later load would rebuild it. */
    d->so = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!d->so) {
        const char *why = dlerror();
        free(d);
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "%s", why ? why : path); /* dlerror names the file */
    }
    /* dlsym's void * into a function pointer: copied, as POSIX intends */
#define DNNL_RESOLVE(f)                                                                            \
    {                                                                                              \
        void *sym = dlsym(d->so, #f);                                                              \
        if (!sym) {                                                                                \
            vkb_dnnl_close(d);                                                                     \
            return vkb_failc(err, VKB_ERR_UNSUPPORTED, "%s lacks %s", path, #f);                   \
        }                                                                                          \
        memcpy(&d->f, &sym, sizeof sym);                                                           \
    }
    DNNL_FUNCS(DNNL_RESOLVE)
#undef DNNL_RESOLVE
    *out = d;
    return 0;
}

void vkb_dnnl_close(vkb_dnnl *d) {
    if (!d) return;
    if (d->so) dlclose(d->so);
    free(d);
}

#define LP_CACHE 16 /* primitives kept per weight (one per M) */
#define LP_REF_M 128

struct vkb_lp {
    vkb_dnnl *dn;    /* oneDNN's functions, loaded for this lp */
    vkb_lp_kind kind;
    int threads;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    void *xq;        /* converted activations: bf16 or u8, M*K */
    size_t xq_bytes;
    float *rscale;   /* int8: per-row scale and zero point */
    int32_t *rzp;
    size_t rows_cap;
    uint64_t tick;   /* cache recency */
};

typedef struct {
    int M;
    uint64_t used;
    dnnl_primitive_t prim;
    size_t scratch_bytes;
} lp_entry;

struct vkb_lp_weight {
    vkb_lp *lp;
    int N, K;
    char name[96];
    dnnl_memory_desc_t wmd; /* the (blocked) layout of wmem */
    void *wmem;             /* converted weights in that layout */
    size_t wbytes;
    float *wscale;          /* int8: per output channel */
    int32_t *wsum;          /* int8: sum_k wq[n,k] */
    lp_entry cache[LP_CACHE];
    void *scratch;          /* oneDNN scratchpad (user mode), the largest asked */
    size_t scratch_cap;
};

/* ---- ISA --------------------------------------------------------------------- */
static int isa_has(dnnl_cpu_isa_t isa, unsigned need) { return ((unsigned)isa & need) == need; }

int vkb_lp_supported(const vkb_dnnl *dn, vkb_lp_kind kind) {
    dnnl_cpu_isa_t isa = dn->dnnl_get_effective_cpu_isa();
    switch (kind) {
    case VKB_LP_F32: return 1;
    case VKB_LP_BF16: return isa_has(isa, dnnl_cpu_isa_avx512_core_bf16);
    case VKB_LP_INT8:
        return isa_has(isa, dnnl_cpu_isa_avx512_core_vnni) || isa_has(isa, dnnl_cpu_isa_avx2_vnni);
    }
    return 0;
}

const char *vkb_lp_isa_name(const vkb_dnnl *dn) {
    dnnl_cpu_isa_t isa = dn->dnnl_get_effective_cpu_isa();
    static const struct { dnnl_cpu_isa_t isa; const char *name; } names[] = {
        {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
        {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
        {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
        {dnnl_cpu_isa_avx512_core, "avx512_core"},
        {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
        {dnnl_cpu_isa_avx2, "avx2"},
        {dnnl_cpu_isa_avx, "avx"},
        {dnnl_cpu_isa_sse41, "sse41"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (isa_has(isa, (unsigned)names[i].isa)) return names[i].name;
    return "baseline";
}

const char *vkb_lp_kind_name(vkb_lp_kind kind) {
    return kind == VKB_LP_BF16 ? "bf16" : kind == VKB_LP_INT8 ? "int8" : "fp32";
}

/* ---- engine ------------------------------------------------------------------ */
static int dfail(vkb_error *err, dnnl_status_t st, const char *what, const char *name) {
    return vkb_failc(err, st == dnnl_out_of_memory ? VKB_ERR_HOST_OOM : VKB_ERR_FAILED,
                     "CPU backend: oneDNN %s failed for %s (status %d)", what, name, (int)st);
}

int vkb_lp_create(const char *dnnl_path, vkb_lp_kind kind, int threads, vkb_lp **out, vkb_error *err) {
    *out = NULL;
    vkb_dnnl *dn = NULL;
    vkb_error why = {0};
    if (vkb_dnnl_open(dnnl_path, &dn, &why))
        return vkb_failc(err, why.code, "CPU backend: oneDNN could not be loaded (%s)", why.msg);
    if (!vkb_lp_supported(dn, kind)) {
        vkb_failc(err, VKB_ERR_UNSUPPORTED, "CPU backend: %s GEMMs need an instruction set this "
                  "CPU lacks (oneDNN's effective ISA: %s)", vkb_lp_kind_name(kind), vkb_lp_isa_name(dn));
        vkb_dnnl_close(dn);
        return -1;
    }
    vkb_lp *lp = calloc(1, sizeof *lp);
    if (!lp) {
        vkb_dnnl_close(dn);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    }
    lp->dn = dn;
    lp->kind = kind;
    lp->threads = threads > 0 ? threads : 1;
    dnnl_status_t st = dn->dnnl_engine_create(&lp->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dn->dnnl_stream_create(&lp->stream, lp->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        vkb_lp_free(lp);
        return dfail(err, st, "engine creation", "the CPU");
    }
    *out = lp;
    return 0;
}

void vkb_lp_free(vkb_lp *lp) {
    if (!lp) return;
    const vkb_dnnl *dn = lp->dn;
    if (lp->stream) dn->dnnl_stream_destroy(lp->stream);
    if (lp->engine) dn->dnnl_engine_destroy(lp->engine);
    free(lp->xq);
    free(lp->rscale);
    free(lp->rzp);
    vkb_dnnl_close(lp->dn);
    free(lp);
}

vkb_lp_kind vkb_lp_get_kind(const vkb_lp *lp) { return lp->kind; }

const vkb_dnnl *vkb_lp_dnnl(const vkb_lp *lp) { return lp->dn; }

void vkb_lp_run(void *lp, int slots, int n_tasks, vkb_task_fn fn, void *ctx) {
    (void)lp;
#pragma omp parallel num_threads(slots)
    {
        int slot = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < n_tasks; k++) fn(ctx, k, slot);
    }
}

static dnnl_data_type_t src_type(vkb_lp_kind k) {
    return k == VKB_LP_BF16 ? dnnl_bf16 : k == VKB_LP_INT8 ? dnnl_u8 : dnnl_f32;
}
static dnnl_data_type_t wei_type(vkb_lp_kind k) {
    return k == VKB_LP_BF16 ? dnnl_bf16 : k == VKB_LP_INT8 ? dnnl_s8 : dnnl_f32;
}
static dnnl_data_type_t dst_type(vkb_lp_kind k) { return k == VKB_LP_INT8 ? dnnl_s32 : dnnl_f32; }
static size_t src_size(vkb_lp_kind k) { return k == VKB_LP_BF16 ? 2 : k == VKB_LP_INT8 ? 1 : 4; }

/* A matmul primitive descriptor for [M,K] x [K,N] -> [M,N] with the weights
 * in layout wmd (NULL: format_any); scratchpad in user mode. */
static dnnl_status_t make_pd(vkb_lp *lp, int M, int N, int K, const dnnl_memory_desc_t *wmd,
                             dnnl_primitive_desc_t *pd) {
    const vkb_dnnl *dn = lp->dn;
    dnnl_memory_desc_t smd, dmd, wany;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N};
    dnnl_status_t st = dn->dnnl_memory_desc_init_by_tag(&smd, 2, sd, src_type(lp->kind), dnnl_ab);
    if (st == dnnl_success) st = dn->dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dst_type(lp->kind), dnnl_ab);
    if (st == dnnl_success && !wmd) {
        st = dn->dnnl_memory_desc_init_by_tag(&wany, 2, wd, wei_type(lp->kind), dnnl_format_tag_any);
        wmd = &wany;
    }
    if (st != dnnl_success) return st;
    dnnl_matmul_desc_t md;
    st = dn->dnnl_matmul_desc_init(&md, &smd, wmd, NULL, &dmd);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    st = dn->dnnl_primitive_attr_create(&attr);
    if (st != dnnl_success) return st;
    st = dn->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dn->dnnl_primitive_desc_create(pd, &md, attr, lp->engine, NULL);
    dn->dnnl_primitive_attr_destroy(attr);
    return st;
}

/* ---- weights ----------------------------------------------------------------- */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even (finite inputs) */
    return (uint16_t)(u >> 16);
}

void vkb_lp_weight_free(vkb_lp_weight *w) {
    const vkb_dnnl *dn = w->lp->dn;
    if (!w) return;
    for (int i = 0; i < LP_CACHE; i++)
        if (w->cache[i].prim) dn->dnnl_primitive_destroy(w->cache[i].prim);
    vkb_big_free(w->wmem);
    free(w->wscale);
    free(w->wsum);
    free(w->scratch);
    free(w);
}

size_t vkb_lp_weight_bytes(const vkb_lp_weight *w) {
    return w->wbytes + (w->wscale ? (size_t)w->N * (sizeof(float) + sizeof(int32_t)) : 0);
}

int vkb_lp_weight_create(vkb_lp *lp, const float *W, int N, int K, const char *name,
                         vkb_lp_weight **out, vkb_error *err) {
    const vkb_dnnl *dn = lp->dn;
    *out = NULL;
    vkb_lp_weight *w = calloc(1, sizeof *w);
    if (!w) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %s", name);
    w->lp = lp;
    w->N = N;
    w->K = K;
    snprintf(w->name, sizeof w->name, "%s", name);
    size_t nk = (size_t)N * K, es = src_size(lp->kind);
    /* the plain [K,N] weights with strides {1, K}: W as stored, transposed */
    void *plain = malloc(nk * es);
    if (!plain) {
        vkb_lp_weight_free(w);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %s", name);
    }
    if (lp->kind == VKB_LP_F32) {
        memcpy(plain, W, nk * 4);
    } else if (lp->kind == VKB_LP_BF16) {
        uint16_t *p = plain;
        for (size_t i = 0; i < nk; i++) p[i] = to_bf16(W[i]);
    } else {
        int8_t *p = plain;
        w->wscale = malloc((size_t)N * sizeof(float));
        w->wsum = malloc((size_t)N * sizeof(int32_t));
        if (!w->wscale || !w->wsum) {
            free(plain);
            vkb_lp_weight_free(w);
            return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %s", name);
        }
        for (int n = 0; n < N; n++) {
            const float *r = W + (size_t)n * K;
            float mx = 0;
            for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(r[k]));
            float s = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s;
            int32_t sum = 0;
            for (int k = 0; k < K; k++) {
                float q = nearbyintf(r[k] * inv);
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                p[(size_t)n * K + k] = (int8_t)q;
                sum += (int32_t)q;
            }
            w->wscale[n] = s;
            w->wsum[n] = sum;
        }
    }
    /* the layout the matmul wants, and a reorder into it */
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = make_pd(lp, LP_REF_M, N, K, NULL, &pd);
    dnnl_memory_desc_t pmd;
    dnnl_dims_t wd = {K, N}, ws = {1, K};
    if (st == dnnl_success) {
        w->wmd = *dn->dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        st = dn->dnnl_memory_desc_init_by_strides(&pmd, 2, wd, wei_type(lp->kind), ws);
    }
    if (pd) dn->dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        free(plain);
        vkb_lp_weight_free(w);
        return dfail(err, st, "matmul creation", name);
    }
    w->wbytes = dn->dnnl_memory_desc_get_size(&w->wmd);
    w->wmem = vkb_big_alloc(w->wbytes);
    if (!w->wmem) {
        free(plain);
        vkb_lp_weight_free(w);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %s", name);
    }
    dnnl_memory_t msrc = NULL, mdst = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    st = dn->dnnl_memory_create(&msrc, &pmd, lp->engine, plain);
    if (st == dnnl_success) st = dn->dnnl_memory_create(&mdst, &w->wmd, lp->engine, w->wmem);
    if (st == dnnl_success)
        st = dn->dnnl_reorder_primitive_desc_create(&rpd, &pmd, lp->engine, &w->wmd, lp->engine, NULL);
    if (st == dnnl_success) st = dn->dnnl_primitive_create(&rp, rpd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, msrc}, {DNNL_ARG_TO, mdst}};
        int saved = omp_get_max_threads();
        omp_set_num_threads(lp->threads);
        st = dn->dnnl_primitive_execute(rp, lp->stream, 2, args);
        if (st == dnnl_success) st = dn->dnnl_stream_wait(lp->stream);
        omp_set_num_threads(saved);
    }
    if (rp) dn->dnnl_primitive_destroy(rp);
    if (rpd) dn->dnnl_primitive_desc_destroy(rpd);
    if (msrc) dn->dnnl_memory_destroy(msrc);
    if (mdst) dn->dnnl_memory_destroy(mdst);
    free(plain);
    if (st != dnnl_success) {
        vkb_lp_weight_free(w);
        return dfail(err, st, "weight reorder", name);
    }
    *out = w;
    return 0;
}

/* ---- the linear layer -------------------------------------------------------- */
static lp_entry *get_prim(vkb_lp_weight *w, int M, vkb_error *err) {
    vkb_lp *lp = w->lp;
    const vkb_dnnl *dn = lp->dn;
    lp_entry *victim = &w->cache[0];
    for (int i = 0; i < LP_CACHE; i++) {
        lp_entry *e = &w->cache[i];
        if (e->prim && e->M == M) {
            e->used = ++lp->tick;
            return e;
        }
        if (!e->prim || (victim->prim && e->used < victim->used)) victim = e;
    }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_status_t st = make_pd(lp, M, w->N, w->K, &w->wmd, &pd);
    if (st == dnnl_success) st = dn->dnnl_primitive_create(&prim, pd);
    size_t scratch = 0;
    if (st == dnnl_success) scratch = dn->dnnl_memory_desc_get_size(dn->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    if (pd) dn->dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        dfail(err, st, "matmul creation", w->name);
        return NULL;
    }
    if (scratch > w->scratch_cap) {
        void *s = realloc(w->scratch, scratch);
        if (!s) {
            dn->dnnl_primitive_destroy(prim);
            vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %s's GEMM scratch", w->name);
            return NULL;
        }
        w->scratch = s;
        w->scratch_cap = scratch;
    }
    if (victim->prim) dn->dnnl_primitive_destroy(victim->prim);
    victim->prim = prim;
    victim->M = M;
    victim->scratch_bytes = scratch;
    victim->used = ++lp->tick;
    return victim;
}

static int ensure_scratch(vkb_lp *lp, int M, int K, vkb_error *err) {
    size_t need = (size_t)M * K * src_size(lp->kind);
    if (lp->kind != VKB_LP_F32 && need > lp->xq_bytes) {
        void *p = realloc(lp->xq, need);
        if (!p) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %zu converted activations", need);
        lp->xq = p;
        lp->xq_bytes = need;
    }
    if (lp->kind == VKB_LP_INT8 && (size_t)M > lp->rows_cap) {
        float *s = realloc(lp->rscale, (size_t)M * sizeof(float));
        if (s) lp->rscale = s;
        int32_t *z = realloc(lp->rzp, (size_t)M * sizeof(int32_t));
        if (z) lp->rzp = z;
        if (!s || !z) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for row scales");
        lp->rows_cap = (size_t)M;
    }
    return 0;
}

/* int8: row m of X to u8 with its scale and zero point (the range [min(0,
 * lo), max(0, hi)] onto [0, 255], so 0 is exact): vkb_cpu_quant_u8_row;
 * bf16: vkb_cpu_bf16_row (cpu_simd.c, vectorized, the same bits as to_bf16). */

/* vkb_lp_linear, and with g set vkb_lp_linear_ln: the LayerNorm in the
 * epilogue's pass over each row. */
static int lp_linear(vkb_lp *lp, vkb_lp_weight *w, const float *X, size_t ldx, const float *b,
                     const float *R, size_t ldr, const float *g, const float *beta, float eps,
                     float *Y, int M, vkb_act act, vkb_error *err) {
    const vkb_dnnl *dn = lp->dn;
    int N = w->N, K = w->K;
    if (M <= 0) return 0;
    if (ensure_scratch(lp, M, K, err)) return -1;
    lp_entry *e = get_prim(w, M, err);
    if (!e) return -1;
    int saved = omp_get_max_threads();
    omp_set_num_threads(lp->threads);

    /* the activations in the GEMM's input type, contiguous */
    const void *src = X;
    float *xf = NULL; /* fp32 with ldx != K: a contiguous copy (xq is not sized for it) */
    if (lp->kind == VKB_LP_BF16) {
        uint16_t *q = lp->xq;
#pragma omp parallel for schedule(static)
        for (int m = 0; m < M; m++)
            vkb_cpu_bf16_row(X + (size_t)m * ldx, q + (size_t)m * K, K, VKB_CPU_SIMD_AUTO);
        src = q;
    } else if (lp->kind == VKB_LP_INT8) {
        uint8_t *q = lp->xq;
#pragma omp parallel for schedule(static)
        for (int m = 0; m < M; m++)
            vkb_cpu_quant_u8_row(X + (size_t)m * ldx, K, q + (size_t)m * K, &lp->rscale[m], &lp->rzp[m],
                                 VKB_CPU_SIMD_AUTO);
        src = q;
    } else if (ldx != (size_t)K) {
        xf = malloc((size_t)M * K * sizeof(float));
        if (!xf) {
            omp_set_num_threads(saved);
            return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for a GEMM input copy");
        }
        for (int m = 0; m < M; m++) memcpy(xf + (size_t)m * K, X + (size_t)m * ldx, (size_t)K * sizeof(float));
        src = xf;
    }

    dnnl_memory_desc_t smd, dmd, pmd;
    dnnl_dims_t sd = {M, K}, dd = {M, N}, pd1 = {(dnnl_dim_t)e->scratch_bytes};
    dnnl_memory_t ms = NULL, mw = NULL, md = NULL, mp = NULL;
    dnnl_status_t st = dn->dnnl_memory_desc_init_by_tag(&smd, 2, sd, src_type(lp->kind), dnnl_ab);
    if (st == dnnl_success) st = dn->dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dst_type(lp->kind), dnnl_ab);
    if (st == dnnl_success) st = dn->dnnl_memory_desc_init_by_tag(&pmd, 1, pd1, dnnl_u8, dnnl_a);
    if (st == dnnl_success) st = dn->dnnl_memory_create(&ms, &smd, lp->engine, (void *)src);
    if (st == dnnl_success) st = dn->dnnl_memory_create(&mw, &w->wmd, lp->engine, w->wmem);
    if (st == dnnl_success) st = dn->dnnl_memory_create(&md, &dmd, lp->engine, Y);
    if (st == dnnl_success) st = dn->dnnl_memory_create(&mp, &pmd, lp->engine, w->scratch);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md},
                                  {DNNL_ARG_SCRATCHPAD, mp}};
        st = dn->dnnl_primitive_execute(e->prim, lp->stream, 4, args);
        if (st == dnnl_success) st = dn->dnnl_stream_wait(lp->stream);
    }
    dnnl_memory_t mems[] = {ms, mw, md, mp};
    for (int i = 0; i < 4; i++)
        if (mems[i]) dn->dnnl_memory_destroy(mems[i]);
    free(xf);
    if (st != dnnl_success) {
        omp_set_num_threads(saved);
        return dfail(err, st, "matmul", w->name);
    }

    /* epilogue per row, one vector pass (vkb_cpu_lp_epilogue_row): (int8: s32 ->
     * scaled f32), bias, activation, residual, then the LayerNorm */
    const float *rscale = lp->rscale, *wscale = w->wscale;
    const int32_t *rzp = lp->rzp, *wsum = w->wsum;
    int int8 = lp->kind == VKB_LP_INT8;
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        vkb_lp_row_q qz = {wsum, wscale, int8 ? rzp[m] : 0, int8 ? rscale[m] : 0.0f};
        vkb_cpu_lp_epilogue_row(Y + (size_t)m * N, N, int8 ? &qz : NULL, b, act,
                                R ? R + (size_t)m * ldr : NULL, g, beta, eps, VKB_CPU_SIMD_AUTO);
    }
    omp_set_num_threads(saved);
    return 0;
}

int vkb_lp_linear(vkb_lp *lp, vkb_lp_weight *w, const float *X, size_t ldx, const float *b,
                  const float *R, size_t ldr, float *Y, int M, vkb_act act, vkb_error *err) {
    return lp_linear(lp, w, X, ldx, b, R, ldr, NULL, NULL, 0, Y, M, act, err);
}

int vkb_lp_linear_ln(vkb_lp *lp, vkb_lp_weight *w, const float *X, size_t ldx, const float *b,
                     const float *R, size_t ldr, const float *g, const float *beta, float eps,
                     float *Y, int M, vkb_error *err) {
    return lp_linear(lp, w, X, ldx, b, R, ldr, g, beta, eps, Y, M, VKB_ACT_NONE, err);
}
