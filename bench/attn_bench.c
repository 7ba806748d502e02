/* attn_bench.c - attention kernel micro-benchmark on a Vulkan device: the
 * attention forms (shared, subgroup, flash) at one B x L x H x hd shape,
 * every key real except where --pad gives the sequences lengths L, L/2, 1.
 *
 *   build/bench/attn_bench [--B 8] [--L 128] [--H 12] [--hd 64] [--f16]
 *                          [--rounds 5] [--reps 1] [--pad] [--device gpu:N]
 *                          [FORM ...]   (default: subgroup shared flash)
 *
 * The machine this runs on is shared and loaded, so the forms are measured
 * in alternation: each round times every form once (REPS dispatches in one
 * submit, wall clock around submit + wait, through vkb_vk_attention_host),
 * and the median over rounds is reported with min/max, ms per dispatch and
 * GFLOP/s (4 B H L^2 hd over real keys).  Each form's output is checked
 * against the CPU reference (max |gpu - cpu| / (1 + |cpu|) printed). */
#define _POSIX_C_SOURCE 200809L
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 3
#define MAXR 64

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int B = 8, L = 128, H = 12, hd = 64, f16 = 0, rounds = 5, reps = 1, pad = 0, nf = 0;
    const char *device = "gpu";
    vkb_attn_variant forms[MAXF];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--B")) B = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--L")) L = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--H")) H = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--hd")) hd = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--rounds")) rounds = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--reps")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--device")) device = argv[++i];
        else if (!strcmp(a, "--f16")) f16 = 1;
        else if (!strcmp(a, "--pad")) pad = 1;
        else if (nf < MAXF && !vkb_attn_variant_parse(a, &forms[nf]) && forms[nf] != VKB_ATTN_AUTO) nf++;
        else { fprintf(stderr, "attn_bench: bad argument %s\n", a); return 2; }
    }
    if (B < 1 || L < 1 || H < 1 || hd < 1 || rounds < 1 || rounds > MAXR || reps < 1) {
        fprintf(stderr, "attn_bench: B, L, H, hd, reps >= 1 and 1 <= rounds <= %d\n", MAXR);
        return 2;
    }
    if (!nf) { forms[0] = VKB_ATTN_SUBGROUP; forms[1] = VKB_ATTN_SHARED; forms[2] = VKB_ATTN_FLASH; nf = 3; }
    size_t n = (size_t)B * L * H * hd;
    float *q = malloc(n * sizeof *q), *k = malloc(n * sizeof *k), *v = malloc(n * sizeof *v);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    int32_t *lens = malloc((size_t)B * sizeof *lens);
    if (!q || !k || !v || !y || !ref || !lens) { fprintf(stderr, "attn_bench: out of memory\n"); return 2; }
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        float *dst[3] = {q, k, v};
        for (int j = 0; j < 3; j++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            float x = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * (j < 2 ? 2.0f : 1.0f);
            dst[j][i] = f16 ? vkb_f16_to_f32(vkb_f32_to_f16(x)) : x;
        }
    }
    double keys = 0;
    for (int b = 0; b < B; b++) {
        lens[b] = !pad ? L : b % 3 == 0 ? L : b % 3 == 1 ? (L + 1) / 2 : 1;
        keys += (double)L * lens[b];
    }
    vkb_cpu_attention(q, k, v, ref, B, L, H, hd, lens, 1, 1);
    const char *val = getenv("VKB_VALIDATION");
    vkb_error e = {0};
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create(device, val && *val == '1', &c, &e)) {
        fprintf(stderr, "attn_bench: device: %s\n", e.msg);
        return 2;
    }
    printf("device: %s; B=%d L=%d H=%d hd=%d %s%s, %d rounds x %d reps, in alternation\n",
           c->props.deviceName, B, L, H, hd, f16 ? "fp16" : "fp32", pad ? " padded" : "", rounds, reps);
    double ms[MAXF][MAXR], err[MAXF];
    int bad = 0;
    for (int r = 0; r < rounds && !bad; r++)
        for (int f = 0; f < nf && !bad; f++) {
            if (vkb_vk_attention_host(c, f16, forms[f], q, k, v, y, B, L, H, hd, lens, 1, reps, &ms[f][r], &e)) {
                fprintf(stderr, "attn_bench: %s: %s\n", vkb_attn_variant_name(forms[f]), e.msg);
                bad = 1;
                break;
            }
            if (r == 0) {
                double m = 0;
                for (int b = 0; b < B; b++)
                    for (size_t i = (size_t)b * L * H * hd; i < ((size_t)b * L + lens[b]) * H * hd; i++) {
                        double d = fabs((double)y[i] - ref[i]) / (1.0 + fabs((double)ref[i]));
                        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
                    }
                err[f] = m;
            }
        }
    if (!bad) {
        printf("%-10s %10s %10s %10s %10s %10s\n", "form", "median ms", "min ms", "max ms", "GFLOP/s", "max err");
        for (int f = 0; f < nf; f++) {
            double t[MAXR];
            memcpy(t, ms[f], (size_t)rounds * sizeof *t);
            qsort(t, (size_t)rounds, sizeof *t, cmp_d);
            double med = t[rounds / 2];
            printf("%-10s %10.3f %10.3f %10.3f %10.2f %10.2e\n", vkb_attn_variant_name(forms[f]), med, t[0],
                   t[rounds - 1], 4.0 * H * keys * hd / (med * 1e-3) / 1e9, err[f]);
        }
    }
    vkb_vk_ctx_destroy(c);
    free(q); free(k); free(v); free(y); free(ref); free(lens);
    return bad ? 1 : 0;
}
