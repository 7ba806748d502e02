/* tokenize_bench - tokenizer throughput on IMDB reviews, one core.
 *
 *   build/bench/tokenize_bench [train.jsonl.gz] [vocab.txt] [passes]
 *
 * Defaults to ../shared/data/imdb/train.jsonl.gz and
 * ../shared/data/vocab/bert-base-uncased.txt.  Loads every review's "text"
 * into memory, then times vkb_tokenize over all of them (best of `passes`,
 * default 3) with max_len 512 (what scoring uses) and with no truncation,
 * and prints MB/s of UTF-8 input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "tokenizer.h"
#include "vkbert.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_gz(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 24, n = 0;
    char *b = malloc(cap + 1);
    int r;
    while (b && (r = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) { free(b); b = NULL; break; }
            b = nb;
            cap *= 2;
        }
    }
    gzclose(f);
    if (b) { b[n] = 0; *len = n; }
    return b;
}

int main(int argc, char **argv) {
    const char *data = argc > 1 ? argv[1] : VKB_SHARED_DIR "/data/imdb/train.jsonl.gz";
    const char *vocab = argc > 2 ? argv[2] : VKB_SHARED_DIR "/data/vocab/bert-base-uncased.txt";
    int passes = argc > 3 ? atoi(argv[3]) : 3;
    size_t glen, vlen = 0;
    char *all = read_gz(data, &glen);
    if (!all) { fprintf(stderr, "tokenize_bench: cannot read %s\n", data); return 1; }
    FILE *vf = fopen(vocab, "rb");
    if (!vf) { fprintf(stderr, "tokenize_bench: cannot read %s\n", vocab); return 1; }
    char *vb = malloc(1 << 22);
    vlen = fread(vb, 1, 1 << 22, vf);
    fclose(vf);
    vkb_error err;
    vkb_tokenizer *tok;
    if (vkb_tokenizer_from_vocab(vb, vlen, 1, 512, &tok, &err)) {
        fprintf(stderr, "tokenize_bench: %s\n", err.msg);
        return 1;
    }
    free(vb);

    size_t cap = 1024, n = 0, bytes = 0;
    char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    for (char *line = all, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (cJSON_IsString(t)) {
            if (n == cap) {
                cap *= 2;
                texts = realloc(texts, cap * sizeof *texts);
                lens = realloc(lens, cap * sizeof *lens);
            }
            lens[n] = strlen(t->valuestring);
            texts[n] = strdup(t->valuestring);
            bytes += lens[n++];
        }
        cJSON_Delete(j);
    }
    free(all);
    if (n == 0) { fprintf(stderr, "tokenize_bench: no texts in %s\n", data); return 1; }

    static const int max_lens[2] = {512, 1 << 20};
    int32_t *ids = malloc((size_t)max_lens[1] * sizeof *ids);
    printf("tokenize_bench: %zu reviews, %.2f MB of UTF-8, vocab %d tokens, 1 thread\n", n,
           (double)bytes / 1e6, vkb_tokenizer_vocab_size(tok));
    for (int m = 0; m < 2; m++) {
        double best = 1e30;
        long long total = 0;
        for (int p = 0; p < passes; p++) {
            total = 0;
            double t0 = now();
            for (size_t i = 0; i < n; i++) total += vkb_tokenize(tok, texts[i], lens[i], max_lens[m], ids);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("max_len %-8d %8.1f MB/s  %10.0f reviews/s  %lld ids  (best of %d: %.3f s)\n",
               max_lens[m], (double)bytes / 1e6 / best, (double)n / best, total, passes, best);
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(ids);
    vkb_tokenizer_free(tok);
    return 0;
}
