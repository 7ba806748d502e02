/* gemm_bench.c - GEMM micro-benchmark on a Vulkan device (lavapipe first):
 * Y[M,N] = X[M,K] W[N,K]^T + b through the texel-buffer binding layout
 * (A, W uniform texel buffers; bias, Y storage buffers).
 *
 *   build/bench/gemm_bench [--M 1024] [--N 768] [--K 768] [--f16] [--rounds 7]
 *                          [--reps 4] [--device gpu:N] [VARIANT ...]
 *
 * VARIANT is "texel" (the built-in shader as the backend uses it), "tiled"
 * or "tiled_s" (linear.comp's scalar configurations) or "LABEL=FILE.spv,TM,TN[,S0,S1,...]": a
 * candidate compiled with glslc, dispatched as ceil(N/TN) x ceil(M/TM)
 * workgroups with int specialization constants S0.. (ids 0..); FILE may be
 * prefixed "sa@" (A bound as a storage buffer) or "img@" (A and W as
 * storage texel buffers, imageLoad); "cpu" times the CPU path's GEMM
 * (OpenBLAS, 2 threads) as a yardstick of the share of the machine a run
 * got.  Default:
 * texel and tiled.  The machine this runs on is shared and loaded, so the
 * variants are measured in alternation: each round times every variant once
 * (REPS dispatches in one submit, wall clock), and the median over rounds is
 * reported with min/max and the load average.  Every variant's output is
 * checked against the CPU reference first (max abs error printed). */
#define _POSIX_C_SOURCE 200809L
#include "vk_internal.h"
#include "error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXV 16

typedef struct variant {
    char label[300];
    vkb_vk_pipe pipe;
    const vkb_vk_pipe *use;
    int tm, tn;
    double *ms;
    double err;
} variant;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint32_t *read_spv(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint32_t *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    *size = (size_t)n;
    return p;
}

static void die(const char *what, const vkb_error *e) {
    fprintf(stderr, "gemm_bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* Times n dispatches of one variant in one submit; returns seconds. */
static double run(vkb_vk_ctx *c, VkCommandBuffer cmd, const variant *x, VkDescriptorSet set,
                  const vkb_vk_gemm_pc *pc, int M, int N, int n) {
    vkb_error e = {0};
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    c->d.vkBeginCommandBuffer(cmd, &bi);
    for (int r = 0; r < n; r++) {
        vkb_vk_dispatch(c, cmd, x->use, set, pc, (uint32_t)((N + x->tn - 1) / x->tn),
                        (uint32_t)((M + x->tm - 1) / x->tm), 1);
        vkb_vk_barrier(c, cmd);
    }
    c->d.vkEndCommandBuffer(cmd);
    double t0 = now_s();
    if (vkb_vk_submit_wait(c, cmd, 600ull * 1000000000ull, "gemm", &e)) die(x->label, &e);
    return now_s() - t0;
}

int main(int argc, char **argv) {
    int M = 1024, N = 768, K = 768, f16 = 0, rounds = 7, reps = 4;
    const char *device = "gpu";
    const char *specs[MAXV];
    int nspecs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--M")) M = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--N")) N = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--K")) K = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--rounds")) rounds = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--reps")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--device")) device = argv[++i];
        else if (!strcmp(a, "--f16")) f16 = 1;
        else if (a[0] != '-' && nspecs < MAXV) specs[nspecs++] = a;
        else { fprintf(stderr, "gemm_bench: bad argument %s (see the comment atop bench/gemm_bench.c)\n", a); return 2; }
    }
    if (M < 1 || N < 1 || K < 4 || K % 4 || rounds < 1 || reps < 1) {
        fprintf(stderr, "gemm_bench: need M, N >= 1, K a multiple of 4, rounds/reps >= 1\n");
        return 2;
    }
    if (!nspecs) { specs[nspecs++] = "texel"; specs[nspecs++] = "tiled"; }

    vkb_error e = {0};
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create(device, 0, &c, &e)) die("device", &e);
    vkb_vk_kernels k;
    vkb_vk_policy pol;
    if (vkb_vk_policy_for_ctx(c, f16 ? VKB_PREC_FP16 : VKB_PREC_FP32, NULL, &pol, &e) ||
        vkb_vk_kernels_create(c, &pol, 64, &k, &e))
        die("kernels", &e);

    variant v[MAXV];
    memset(v, 0, sizeof v);
    static const VkDescriptorType texel_t[4] = {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                                VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                                VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
    for (int i = 0; i < nspecs; i++) {
        variant *x = &v[i];
        x->ms = calloc((size_t)rounds, sizeof *x->ms);
        if (!strcmp(specs[i], "cpu")) { /* the CPU path's GEMM (OpenBLAS, 2 threads): a
                                           * load-independent yardstick */
            snprintf(x->label, sizeof x->label, "cpu");
            continue;
        }
        if (!strcmp(specs[i], "texel") || !strcmp(specs[i], "tiled") || !strcmp(specs[i], "tiled_s")) {
            int var = !strcmp(specs[i], "texel") ? VKB_GEMM_TEXEL
                      : !strcmp(specs[i], "tiled") ? VKB_GEMM_TILED : VKB_GEMM_TILED_S;
            snprintf(x->label, sizeof x->label, "%s", specs[i]);
            if (var == VKB_GEMM_TILED_S && !k.gemm_tiled_s.pipe) {
                static const VkDescriptorType st[5] = {
                    VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                    VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                    VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
                if (vkb_vk_pipe_create(c, f16 ? VKB_SHADER_LINEAR_TILED_S_F16 : VKB_SHADER_LINEAR_TILED_S_F32,
                                       5, st, sizeof(vkb_vk_gemm_pc), NULL, 0, &k.gemm_tiled_s, &e))
                    die("tiled_s", &e);
            }
            x->use = var == VKB_GEMM_TEXEL ? &k.gemm_texel : var == VKB_GEMM_TILED ? &k.gemm_tiled
                                                                                   : &k.gemm_tiled_s;
            uint32_t g[3];
            vkb_vk_gemm_groups(var, 1 << 20, 1 << 20, g);
            x->tm = (1 << 20) / (int)g[1];
            x->tn = (1 << 20) / (int)g[0];
            continue;
        }
        char buf[256];
        snprintf(buf, sizeof buf, "%s", specs[i]);
        char *eq = strchr(buf, '=');
        if (!eq) { fprintf(stderr, "gemm_bench: variant %s: expected LABEL=FILE,TM,TN[,S...]\n", specs[i]); return 2; }
        *eq = 0;
        snprintf(x->label, sizeof x->label, "%s", buf);
        char *file = strtok(eq + 1, ",");
        char *tm = strtok(NULL, ","), *tn = strtok(NULL, ",");
        if (!file || !tm || !tn) { fprintf(stderr, "gemm_bench: variant %s: need FILE,TM,TN\n", specs[i]); return 2; }
        x->tm = atoi(tm);
        x->tn = atoi(tn);
        int32_t spec[8];
        int ns = 0;
        for (char *s; ns < 8 && (s = strtok(NULL, ","));) spec[ns++] = atoi(s);
        VkDescriptorType types[4] = {texel_t[0], texel_t[1], texel_t[2], texel_t[3]};
        if (!strncmp(file, "sa@", 3)) { /* A read from a storage buffer */
            file += 3;
            types[0] = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        } else if (!strncmp(file, "img@", 4)) { /* A and W as storage texel buffers (imageLoad) */
            file += 4;
            types[0] = types[1] = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
        }
        size_t size = 0;
        uint32_t *code = read_spv(file, &size);
        if (!code) { fprintf(stderr, "gemm_bench: cannot read %s\n", file); return 1; }
        if (vkb_vk_pipe_create_spirv(c, x->label, code, size, 4, types, sizeof(vkb_vk_gemm_pc),
                                     spec, ns, &x->pipe, &e))
            die(x->label, &e);
        free(code);
        x->use = &x->pipe;
    }

    /* operands */
    size_t es = f16 ? 2 : 4;
    float *X = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4), *bias = malloc((size_t)N * 4);
    float *Y = malloc((size_t)M * N * 4), *R = malloc((size_t)M * N * 4);
    void *tmp = malloc(((size_t)M * K > (size_t)N * K ? (size_t)M * K : (size_t)N * K) * 4 + (size_t)M * N * 4);
    if (!X || !W || !bias || !Y || !R || !tmp) { fprintf(stderr, "gemm_bench: out of memory\n"); return 1; }
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < (size_t)M * K; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; X[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5); }
    for (size_t i = 0; i < (size_t)N * K; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; W[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5); }
    for (int i = 0; i < N; i++) bias[i] = 0.01f * (float)(i % 7);
    if (f16) { /* both sides see the same fp16 operands */
        for (size_t i = 0; i < (size_t)M * K; i++) X[i] = vkb_f16_to_f32(vkb_f32_to_f16(X[i]));
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = vkb_f16_to_f32(vkb_f32_to_f16(W[i]));
        for (int i = 0; i < N; i++) bias[i] = vkb_f16_to_f32(vkb_f32_to_f16(bias[i]));
    }
    vkb_vk_buffer bx, bw, bb, by;
    if (vkb_vk_buffer_create(c, (size_t)M * K * es, VKB_MEM_DEVICE, "X", &bx, &e) ||
        vkb_vk_buffer_create(c, (size_t)N * K * es, VKB_MEM_DEVICE, "W", &bw, &e) ||
        vkb_vk_buffer_create(c, (size_t)N * es, VKB_MEM_DEVICE, "b", &bb, &e) ||
        vkb_vk_buffer_create(c, (size_t)M * N * es, VKB_MEM_DEVICE, "Y", &by, &e))
        die("buffers", &e);
    vkb_vk_pack(X, tmp, (size_t)M * K, f16);
    if (vkb_vk_upload(c, &bx, 0, tmp, (size_t)M * K * es, &e)) die("upload", &e);
    vkb_vk_pack(W, tmp, (size_t)N * K, f16);
    if (vkb_vk_upload(c, &bw, 0, tmp, (size_t)N * K * es, &e)) die("upload", &e);
    vkb_vk_pack(bias, tmp, (size_t)N, f16);
    if (vkb_vk_upload(c, &bb, 0, tmp, (size_t)N * es, &e)) die("upload", &e);
    VkBufferView vx, vw;
    if (vkb_vk_view_create(c, bx.buf, 0, VK_WHOLE_SIZE, f16, &vx, &e) ||
        vkb_vk_view_create(c, bw.buf, 0, VK_WHOLE_SIZE, f16, &vw, &e))
        die("views", &e);
    VkDescriptorPool pool;
    VkDescriptorPoolSize psz[3] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 4 * MAXV},
                                   {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 2 * MAXV},
                                   {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, 2 * MAXV}};
    VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = MAXV, .poolSizeCount = 3, .pPoolSizes = psz};
    if (c->d.vkCreateDescriptorPool(c->dev, &pci, NULL, &pool) != VK_SUCCESS) die("pool", NULL);
    VkDescriptorSet sets[MAXV];
    for (int i = 0; i < nspecs; i++) {
        if (!v[i].use) continue;
        int ta = v[i].use->types[0] != VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        int tw = v[i].use->types[1] != VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        /* binding 4 (the residual, unused: pc.res = 0) gets the bias; the
         * candidates from files have 4 bindings, the built-in GEMMs 5 */
        vkb_vk_bind b[5] = {{.buf = bx.buf, .range = VK_WHOLE_SIZE, .view = ta ? vx : 0},
                            {.buf = bw.buf, .range = VK_WHOLE_SIZE, .view = tw ? vw : 0},
                            {.buf = bb.buf, .range = VK_WHOLE_SIZE},
                            {.buf = by.buf, .range = VK_WHOLE_SIZE},
                            {.buf = bb.buf, .range = VK_WHOLE_SIZE}};
        if (vkb_vk_set_create(c, pool, v[i].use, b, &sets[i], &e)) die("set", &e);
    }
    VkCommandBuffer cmd;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    if (c->d.vkAllocateCommandBuffers(c->dev, &ai, &cmd) != VK_SUCCESS) die("command buffer", NULL);
    vkb_vk_gemm_pc pc = {(uint32_t)M, (uint32_t)N, (uint32_t)K, (uint32_t)K, (uint32_t)N, 0, 0};
    vkb_cpu_linear(X, W, bias, R, M, N, K, VKB_ACT_NONE, 1, 0);


    for (int i = 0; i < nspecs; i++) {
        if (!v[i].use) {
            vkb_cpu_linear(X, W, bias, Y, M, N, K, VKB_ACT_NONE, 0, 2);
            double m = 0;
            for (size_t j = 0; j < (size_t)M * N; j++) {
                double d = Y[j] > R[j] ? Y[j] - R[j] : R[j] - Y[j];
                if (!(d <= m)) m = d;
            }
            v[i].err = m;
            continue;
        }
        memset(tmp, 0, (size_t)M * N * es);
        if (vkb_vk_upload(c, &by, 0, tmp, (size_t)M * N * es, &e)) die("clear", &e);
        (void)run(c, cmd, &v[i], sets[i], &pc, M, N, 1);
        if (vkb_vk_download(c, &by, 0, tmp, (size_t)M * N * es, &e)) die("download", &e);
        vkb_vk_unpack(tmp, Y, (size_t)M * N, f16);
        double m = 0;
        for (size_t j = 0; j < (size_t)M * N; j++) {
            double d = Y[j] > R[j] ? Y[j] - R[j] : R[j] - Y[j];
            if (!(d <= m)) m = d;
        }
        v[i].err = m;
    }
    double load0[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) { if (fscanf(la, "%lf %lf %lf", &load0[0], &load0[1], &load0[2]) != 3) load0[0] = -1; fclose(la); }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nspecs; i++) {
            if (v[i].use) {
                v[i].ms[r] = run(c, cmd, &v[i], sets[i], &pc, M, N, reps) * 1e3 / reps;
                continue;
            }
            double t0 = now_s();
            for (int q = 0; q < reps; q++) vkb_cpu_linear(X, W, bias, Y, M, N, K, VKB_ACT_NONE, 0, 2);
            v[i].ms[r] = (now_s() - t0) * 1e3 / reps;
        }
    double flop = 2.0 * M * N * K;
    printf("# %s, %s, M=%d N=%d K=%d, %d rounds x %d dispatches, load avg %.2f at start\n",
           c->props.deviceName, f16 ? "fp16" : "fp32", M, N, K, rounds, reps, load0[0]);
    printf("%-16s %10s %10s %10s %10s %10s\n", "variant", "median_ms", "GFLOP/s", "min_ms", "max_ms", "max_err");
    for (int i = 0; i < nspecs; i++) {
        qsort(v[i].ms, (size_t)rounds, sizeof(double), cmp_d);
        double med = v[i].ms[rounds / 2];
        printf("%-16s %10.2f %10.1f %10.2f %10.2f %10.2g\n", v[i].label, med, flop / med * 1e-6,
               v[i].ms[0], v[i].ms[rounds - 1], v[i].err);
    }
    c->d.vkFreeCommandBuffers(c->dev, c->pool, 1, &cmd);
    c->d.vkDestroyDescriptorPool(c->dev, pool, NULL);
    c->d.vkDestroyBufferView(c->dev, vx, NULL);
    c->d.vkDestroyBufferView(c->dev, vw, NULL);
    vkb_vk_buffer_destroy(c, &bx); vkb_vk_buffer_destroy(c, &bw);
    vkb_vk_buffer_destroy(c, &bb); vkb_vk_buffer_destroy(c, &by);
    for (int i = 0; i < nspecs; i++) { vkb_vk_pipe_destroy(c, &v[i].pipe); free(v[i].ms); }
    vkb_vk_kernels_destroy(c, &k);
    vkb_vk_ctx_destroy(c);
    free(X); free(W); free(bias); free(Y); free(R); free(tmp);
    return 0;
}
