/* cpu_forward_bench.c - sequences/s of the CPU reference forward pass on the
 * distilbert-base shape (6 layers, dim 768, 12 heads, hidden 3072, vocab
 * 30522, 2 labels) with random weights, so no download is needed.
 *
 *   cpu_forward_bench [--batch 8] [--seq 128] [--threads 2] [--iters 5]
 *                     [--fp64] [--layers 6]
 *
 * Prints one JSON object: seq_per_s, ms_per_batch, gflops (linear layers +
 * attention matmuls), device. */
#define _POSIX_C_SOURCE 200809L
#include "backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int B = 8, L = 128, threads = 2, iters = 5, fp64 = 0, layers = 6;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--fp64")) { fp64 = 1; continue; }
        if (!v) { fprintf(stderr, "%s: missing value\n", a); return 2; }
        if (!strcmp(a, "--batch")) B = atoi(v);
        else if (!strcmp(a, "--seq")) L = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
        i++;
    }
    if (B < 1 || L < 1 || L > 512 || iters < 1 || layers < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    vkb_config shape = {.dim = 768, .n_layers = layers, .n_heads = 12, .hidden_dim = 3072,
                        .vocab_size = 30522, .max_pos = 512, .pad_token_id = 0, .n_labels = 2};
    vkb_model *m;
    vkb_error err;
    if (vkb_model_random(&shape, 42, &m, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    vkb_backend_opts o = {.device = "cpu", .threads = threads, .fp64_accum = fp64};
    vkb_backend *be;
    if (vkb_backend_create(m, &o, &be, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int32_t *ids = malloc((size_t)B * L * sizeof *ids), *lens = malloc((size_t)B * sizeof *lens);
    float *logits = malloc((size_t)B * 2 * sizeof *logits);
    if (!ids || !lens || !logits) return 1;
    uint64_t s = 1;
    for (int i = 0; i < B * L; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int32_t)((s >> 33) % 30522);
    }
    for (int b = 0; b < B; b++) lens[b] = L; /* full length: the work PyTorch does */
    vkb_batch bt = {B, L, ids, lens};
    vkb_outputs out = {.logits = logits, .hidden = NULL};
    if (vkb_forward(be, &bt, &out, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; } /* warm-up */
    double t0 = now();
    for (int i = 0; i < iters; i++)
        if (vkb_forward(be, &bt, &out, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double dt = (now() - t0) / iters;
    double D = 768, FF = 3072, T = (double)B * L;
    double flops = layers * (2 * T * D * (4 * D + 2 * FF) + 4.0 * B * L * L * D) + 2 * B * D * (D + 2);
    printf("{\"batch\": %d, \"seq\": %d, \"threads\": %d, \"seq_per_s\": %.2f, \"ms_per_batch\": %.1f, "
           "\"gflops\": %.1f, \"device\": \"%s\", \"logit0\": %.6f}\n",
           B, L, threads, B / dt, dt * 1e3, flops / dt * 1e-9, vkb_backend_device(be), logits[0]);
    vkb_backend_free(be);
    vkb_model_free(m);
    free(ids); free(lens); free(logits);
    return 0;
}
