/* ckpt_writer.c - see ckpt_writer.h. */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include "ckpt_writer.h"
#include <ftw.h>
#include "model.h"
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t s) {
    void *p = calloc(n ? n : 1, s ? s : 1);
    if (!p) { fprintf(stderr, "ckpt_writer: out of memory\n"); abort(); }
    return p;
}

static size_t elem_size(const char *dt) {
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16")) return 2;
    if (!strcmp(dt, "I64") || !strcmp(dt, "F64")) return 8;
    return 1;
}

/* f32 -> f16 for values that are exact in f16 (normal range or zero). */
static uint16_t to_f16(uint32_t u) {
    if (!(u & 0x7fffffffu)) return (uint16_t)(u >> 16);
    int e = (int)(u >> 23 & 0xff) - 127 + 15;
    return (uint16_t)((u >> 16 & 0x8000u) | (uint32_t)e << 10 | (u & 0x7fffffu) >> 13);
}

static void encode(ckw_tensor *t) {
    size_t n = t->nbytes / elem_size(t->dtype);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &t->vals[i], 4);
        if (!strcmp(t->dtype, "F16")) u = to_f16(u);
        else if (!strcmp(t->dtype, "BF16")) u >>= 16;
        size_t es = elem_size(t->dtype);
        for (size_t b = 0; b < es; b++) t->bytes[i * es + b] = (unsigned char)(u >> (8 * b));
    }
}

static ckw_tensor *push(ckw *w, const char *name, const char *dtype, int ndim, const int64_t *shape) {
    w->t = realloc(w->t, (size_t)(w->n + 1) * sizeof *w->t);
    if (!w->t) abort();
    ckw_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; numel *= (size_t)shape[i]; }
    t->nbytes = numel * elem_size(dtype);
    t->bytes = xcalloc(t->nbytes, 1);
    return t;
}

static void add_rand(ckw *w, const char *name, const char *dtype, int64_t d0, int64_t d1, int ln_w,
                     uint64_t *s) {
    int64_t shape[2] = {d0, d1};
    ckw_tensor *t = push(w, name, dtype, d1 > 0 ? 2 : 1, shape);
    size_t n = (size_t)(d0 * (d1 > 0 ? d1 : 1));
    t->vals = xcalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = (int)(*s >> 33) % 129 - 64; /* -64..64 */
        t->vals[i] = ln_w ? 1.0f + (float)(k / 4) / 128.0f : (float)k / 256.0f;
    }
    encode(t);
}

/* Row r of the tensor table, for layer l, with random values. */
static void add_row(ckw *w, const vkb_config *c, const char *dt, const char *prefix, int r, int l,
                    uint64_t *s) {
    const vkb_tensor_spec *t = &vkb_tensor_table[r];
    int64_t sh[2];
    int nd = vkb_tensor_spec_shape(t, c->dim, c->hidden_dim, c->vocab_size, c->max_pos, c->n_labels, sh);
    char nm[160];
    vkb_tensor_spec_name(t, prefix, l, nm, sizeof nm);
    add_rand(w, nm, dt, sh[0], nd == 2 ? sh[1] : 0, t->kind == VKB_TK_LN_WEIGHT, s);
}

void ckw_model(ckw *w, const vkb_config *c, const char *dt, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->cfg = *c;
    uint64_t s = seed;
    /* every row of the table (loader/distilbert_tensors.h), in model order */
    const char *p = c->n_labels > 0 ? VKB_ENCODER_PREFIX : "";
    for (int r = 0; r < VKB_T_FIRST_LAYER; r++) add_row(w, c, dt, p, r, -1, &s);
    for (int l = 0; l < c->n_layers; l++)
        for (int r = VKB_T_FIRST_LAYER; r < VKB_T_FIRST_HEAD; r++) add_row(w, c, dt, p, r, l, &s);
    for (int r = VKB_T_FIRST_HEAD; r < VKB_T_COUNT && c->n_labels > 0; r++) add_row(w, c, dt, p, r, -1, &s);
}

ckw_tensor *ckw_find(ckw *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return &w->t[i];
    fprintf(stderr, "ckpt_writer: no tensor '%s'\n", name);
    abort();
}

static void free_tensor(ckw_tensor *t) { free(t->bytes); free(t->vals); }

void ckw_remove(ckw *w, const char *name) {
    ckw_tensor *t = ckw_find(w, name);
    free_tensor(t);
    memmove(t, t + 1, (size_t)(w->t + w->n - t - 1) * sizeof *t);
    w->n--;
}

ckw_tensor *ckw_add(ckw *w, const char *name, const char *dtype, int ndim, const int64_t *shape) {
    return push(w, name, dtype, ndim, shape);
}

void ckw_reshape(ckw *w, const char *name, int ndim, const int64_t *shape) {
    ckw_tensor *t = ckw_find(w, name);
    free_tensor(t);
    t->vals = NULL;
    t->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; numel *= (size_t)shape[i]; }
    t->nbytes = numel * elem_size(t->dtype);
    t->bytes = xcalloc(t->nbytes, 1);
}

/* Appends to a growing string. */
typedef struct { char *s; size_t len, cap; } sbuf;
static void sb(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)k + 1 > b->cap) {
        b->cap = (b->len + (size_t)k + 1) * 2;
        if (!(b->s = realloc(b->s, b->cap))) abort();
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
}

char *ckw_header(const ckw *w) {
    sbuf b = {0};
    sb(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const ckw_tensor *t = &w->t[i];
        uint64_t be = t->fixed ? t->begin : off, en = t->fixed ? t->end : off + t->nbytes;
        sb(&b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++) sb(&b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        sb(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)be, (unsigned long long)en);
        off += t->nbytes;
    }
    sb(&b, "}%*s", w->header_pad, "");
    return b.s;
}

int ckw_write_safetensors(const ckw *w, const char *path) {
    char *h = ckw_header(w);
    FILE *f = fopen(path, "wb");
    if (!f) { free(h); return -1; }
    uint64_t n = strlen(h);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(h, 1, n, f);
    for (int i = 0; i < w->n; i++) fwrite(w->t[i].bytes, 1, w->t[i].nbytes, f);
    free(h);
    return fclose(f);
}

char *ckw_config_json(const vkb_config *c) {
    sbuf b = {0};
    sb(&b, "{\n  \"activation\": \"gelu\",\n  \"architectures\": [\"DistilBertForSequenceClassification\"],\n"
           "  \"attention_dropout\": 0.1,\n  \"dim\": %d,\n  \"dropout\": 0.1,\n  \"hidden_dim\": %d,\n",
       c->dim, c->hidden_dim);
    if (c->n_labels > 0) {
        sb(&b, "  \"id2label\": {");
        for (int i = 0; i < c->n_labels; i++) sb(&b, "%s\"%d\": \"L%d\"", i ? ", " : "", i, i);
        sb(&b, "},\n  \"label2id\": {");
        for (int i = 0; i < c->n_labels; i++) sb(&b, "%s\"L%d\": %d", i ? ", " : "", i, i);
        sb(&b, "},\n");
    }
    sb(&b, "  \"initializer_range\": 0.02,\n  \"max_position_embeddings\": %d,\n  \"model_type\": \"distilbert\",\n"
           "  \"n_heads\": %d,\n  \"n_layers\": %d,\n  \"pad_token_id\": %d,\n  \"qa_dropout\": 0.1,\n"
           "  \"seq_classif_dropout\": 0.2,\n  \"sinusoidal_pos_embds\": false,\n  \"tie_weights_\": true,\n"
           "  \"transformers_version\": \"4.30.0\",\n  \"vocab_size\": %d\n}\n",
       c->max_pos, c->n_heads, c->n_layers, c->pad_token_id, c->vocab_size);
    return b.s;
}

int ckw_write_file(const char *dir, const char *file, const void *buf, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(buf, 1, len, f);
    return fclose(f);
}

int ckw_write_vocab(const char *dir, int n) {
    static const char *special[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "good", "bad", "##s"};
    sbuf b = {0};
    for (int i = 0; i < n; i++) {
        if (i < 10) sb(&b, "%s\n", special[i]);
        else sb(&b, "w%d\n", i);
    }
    int rc = ckw_write_file(dir, "vocab.txt", b.s ? b.s : "", b.len);
    free(b.s);
    return rc;
}

int ckw_write_dir(const ckw *w, const char *dir) {
    char path[4096];
    char *cfg = ckw_config_json(&w->cfg);
    int rc = ckw_write_file(dir, "config.json", cfg, strlen(cfg));
    free(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = ckw_write_safetensors(w, path);
    if (!rc) rc = ckw_write_vocab(dir, w->cfg.vocab_size);
    return rc;
}

char *ckw_replace(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    if (!p) { fprintf(stderr, "ckpt_writer: '%s' not found\n", from); abort(); }
    size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
    char *r = xcalloc(sl - fl + tl + 1, 1);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, sl - a - fl + 1);
    return r;
}

void ckw_free(ckw *w) {
    for (int i = 0; i < w->n; i++) free_tensor(&w->t[i]);
    free(w->t);
    memset(w, 0, sizeof *w);
}

char *ckw_tmpdir(char *buf, size_t n, const char *tag) {
    const char *t = getenv("TMPDIR");
    snprintf(buf, n, "%s/vkb_%s_XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(buf)) { perror("mkdtemp"); abort(); }
    return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void ckw_rmtree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

int ckw_model_tensors(const vkb_model *m, int prefixed, ckw_named *out) {
    int n = vkb_model_n_tensors(m);
    for (int i = 0; i < n; i++) {
        int l;
        const vkb_tensor_spec *s = &vkb_tensor_table[vkb_model_tensor_role(m, i, &l)];
        vkb_tensor_spec_name(s, prefixed ? VKB_ENCODER_PREFIX : "", l, out[i].name, sizeof out[i].name);
        out[i].t = &m->w.t[i];
    }
    return n;
}
