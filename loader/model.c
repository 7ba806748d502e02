/* model.c - a checkpoint directory as HF writes it: config.json,
 * model.safetensors (its header read and validated at load, the tensors read
 * with pread when a backend converts them; see model.h) and
 * the tokenizer files; plus in-memory random models for benchmarks and
 * GPU-vs-CPU checks.  Only fixed file names inside `dir` are ever opened. */
#define _GNU_SOURCE /* O_CLOEXEC, strdup */
#include "model.h"
#include "config.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "error.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *buf, size_t n, const char *dir, const char *file, vkb_error *err) {
    int k = snprintf(buf, n, "%s/%s", dir, file);
    if (k < 0 || (size_t)k >= n) return vkb_fail(err, "%s: path too long", dir);
    return 0;
}

/* Opens a regular file read-only (a FIFO or device could block or be endless).
 * O_NONBLOCK: without it open() itself blocks on a FIFO until a writer
 * appears, before fstat can refuse it; it changes nothing for regular files. */
static int open_regular(const char *path, off_t *size, vkb_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return vkb_fail(err, "%s: cannot open: %s", path, strerror(errno)), -1;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return vkb_fail(err, "%s: not a regular file", path), -1;
    }
    *size = st.st_size;
    return fd;
}

/* Reads exactly n bytes at off (EINTR and short reads retried); -1 on an
 * error or end of file. */
static int pread_all(int fd, void *dst, size_t n, off_t off) {
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)dst + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static char *read_config(const char *path, size_t *len, vkb_error *err) {
    off_t sz;
    int fd = open_regular(path, &sz, err);
    if (fd < 0) return NULL;
    char *buf = NULL;
    if (sz > (off_t)VKB_MAX_CONFIG_BYTES)
        vkb_fail(err, "%s: %lld bytes, more than the limit of %u", path, (long long)sz, VKB_MAX_CONFIG_BYTES);
    else if (!(buf = malloc((size_t)sz + 1)))
        vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path);
    else if (read(fd, buf, (size_t)sz) != (ssize_t)sz) {
        vkb_fail(err, "%s: read failed", path);
        free(buf);
        buf = NULL;
    }
    close(fd);
    *len = (size_t)sz;
    return buf;
}

/* Binds one checkpoint tensor after checking dtype and shape against what
 * config.json implies (d1 < 0 for a 1-D tensor). */
typedef struct { const vkb_st_file *st; const vkb_tensor_file *file; const char *path, *prefix; } binder;

static int bind(const binder *b, const char *name, int64_t d0, int64_t d1, vkb_tensor *t,
                vkb_error *err) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", b->prefix, name);
    const vkb_st_entry *e = vkb_st_find(b->st, full);
    if (!e) return vkb_fail(err, "%s: tensor '%s' is missing", b->path, full);
    if (!e->known)
        return vkb_fail(err, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)", b->path, full, e->dtype);
    int nd = d1 < 0 ? 1 : 2;
    if (e->ndim != nd || e->shape[0] != d0 || (nd == 2 && e->shape[1] != d1)) {
        char got[160] = "[", want[64];
        for (int i = 0; i < e->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)e->shape[i]);
        strcat(got, "]");
        if (nd == 1) snprintf(want, sizeof want, "[%lld]", (long long)d0);
        else snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        return vkb_fail(err, "%s: tensor '%s': shape %s but config.json implies %s", b->path, full, got, want);
    }
    *t = (vkb_tensor){.file = b->file, .off = b->st->data_off + e->begin, .dtype = e->vdt, .ndim = nd,
                      .shape = {d0, nd == 2 ? d1 : 0}, .numel = e->numel};
    return 0;
}

static int bind_layer(const binder *b, int i, const vkb_config *c, vkb_layer_weights *l, vkb_error *err) {
    const int64_t D = c->dim, H = c->hidden_dim;
    struct { const char *n; int64_t d0, d1; vkb_tensor *t; } spec[] = {
        {"attention.q_lin.weight", D, D, &l->q_w}, {"attention.q_lin.bias", D, -1, &l->q_b},
        {"attention.k_lin.weight", D, D, &l->k_w}, {"attention.k_lin.bias", D, -1, &l->k_b},
        {"attention.v_lin.weight", D, D, &l->v_w}, {"attention.v_lin.bias", D, -1, &l->v_b},
        {"attention.out_lin.weight", D, D, &l->o_w}, {"attention.out_lin.bias", D, -1, &l->o_b},
        {"sa_layer_norm.weight", D, -1, &l->sa_ln_w}, {"sa_layer_norm.bias", D, -1, &l->sa_ln_b},
        {"ffn.lin1.weight", H, D, &l->ff1_w}, {"ffn.lin1.bias", H, -1, &l->ff1_b},
        {"ffn.lin2.weight", D, H, &l->ff2_w}, {"ffn.lin2.bias", D, -1, &l->ff2_b},
        {"output_layer_norm.weight", D, -1, &l->out_ln_w}, {"output_layer_norm.bias", D, -1, &l->out_ln_b},
    };
    for (size_t k = 0; k < sizeof spec / sizeof spec[0]; k++) {
        char name[128];
        snprintf(name, sizeof name, "transformer.layer.%d.%s", i, spec[k].n);
        if (bind(b, name, spec[k].d0, spec[k].d1, spec[k].t, err)) return -1;
    }
    return 0;
}

/* Classification checkpoints prefix the encoder with "distilbert."; a base
 * DistilBertModel (or a head we do not use, e.g. MaskedLM) has no
 * pre_classifier/classifier and loads with has_head = 0. */
static int bind_all(vkb_model *m, const vkb_st_file *st, const char *path, vkb_error *err) {
    vkb_config *c = &m->cfg;
    const char *prefix = vkb_st_find(st, "embeddings.word_embeddings.weight") &&
                         !vkb_st_find(st, "distilbert.embeddings.word_embeddings.weight") ? "" : "distilbert.";
    binder b = {st, &m->file, path, prefix}, top = {st, &m->file, path, ""};
    vkb_weights *w = &m->w;
    if (bind(&b, "embeddings.word_embeddings.weight", c->vocab_size, c->dim, &w->word_emb, err) ||
        bind(&b, "embeddings.position_embeddings.weight", c->max_pos, c->dim, &w->pos_emb, err) ||
        bind(&b, "embeddings.LayerNorm.weight", c->dim, -1, &w->emb_ln_w, err) ||
        bind(&b, "embeddings.LayerNorm.bias", c->dim, -1, &w->emb_ln_b, err))
        return -1;
    if (!(w->layers = calloc((size_t)c->n_layers, sizeof *w->layers))) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    for (int i = 0; i < c->n_layers; i++)
        if (bind_layer(&b, i, c, &w->layers[i], err)) return -1;

    w->has_head = vkb_st_find(st, "pre_classifier.weight") || vkb_st_find(st, "pre_classifier.bias") ||
                  vkb_st_find(st, "classifier.weight") || vkb_st_find(st, "classifier.bias");
    if (!w->has_head) return vkb_config_default_labels(c, 0, err); /* no head: no labels */
    /* The label count comes from classifier.weight [n_labels, dim]; id2label,
     * when present, must agree.  If the tensor is absent or not 2-D, bind()
     * below reports it against the count config.json implies. */
    const vkb_st_entry *ce = vkb_st_find(st, "classifier.weight");
    int64_t nl = c->n_labels ? c->n_labels : 2;
    if (ce && ce->ndim == 2) {
        nl = ce->shape[0];
        if (nl < 1 || nl > VKB_MAX_LABELS)
            return vkb_fail(err, "%s: tensor 'classifier.weight': %lld labels (allowed 1..%d)", path,
                            (long long)nl, VKB_MAX_LABELS);
        if (c->n_labels && nl != c->n_labels)
            return vkb_fail(err, "%s: tensor 'classifier.weight' has %lld labels but config.json id2label has %d",
                            path, (long long)nl, c->n_labels);
    }
    if (bind(&top, "pre_classifier.weight", c->dim, c->dim, &w->pre_w, err) ||
        bind(&top, "pre_classifier.bias", c->dim, -1, &w->pre_b, err) ||
        bind(&top, "classifier.weight", nl, c->dim, &w->cls_w, err) ||
        bind(&top, "classifier.bias", nl, -1, &w->cls_b, err))
        return -1;
    return c->n_labels ? 0 : vkb_config_default_labels(c, (int)nl, err);
}

static int load_weights(vkb_model *m, const char *dir, vkb_error *err) {
    char path[PATH_MAX], alt[PATH_MAX];
    if (join(path, sizeof path, dir, "model.safetensors", err)) return -1;
    if (access(path, F_OK) != 0) {
        if (join(alt, sizeof alt, dir, "pytorch_model.bin", err)) return -1;
        if (access(alt, F_OK) == 0)
            return vkb_fail(err, "%s: not found; only pytorch_model.bin is present: convert it with "
                                 "`/usr/bin/python3 tools/convert_pytorch_bin.py %s`", path, dir);
        if (join(alt, sizeof alt, dir, "model.safetensors.index.json", err)) return -1;
        if (access(alt, F_OK) == 0)
            return vkb_fail(err, "%s: not found; sharded checkpoints (model.safetensors.index.json) are not supported", path);
    }
    off_t sz;
    int fd = open_regular(path, &sz, err);
    if (fd < 0) return -1;
    if (sz < 8) {
        close(fd);
        return vkb_fail(err, "%s: file is %lld bytes, too short for a safetensors header (truncated?)", path, (long long)sz);
    }
    /* The fd stays open for the model's lifetime: backends pread tensors. */
    m->file.fd = fd;
    m->file_size = (uint64_t)sz;
    if (!(m->file.path = strdup(path))) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path);
    unsigned char pre[8];
    if (pread_all(fd, pre, 8, 0))
        return vkb_fail(err, "%s: cannot read the header length: %s", path, strerror(errno));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | pre[i];
    /* Bounds are checked again by the parser; here they bound the read. */
    if (hlen > VKB_MAX_HEADER_BYTES)
        return vkb_fail(err, "%s: header length %llu exceeds the limit of %u bytes", path,
                        (unsigned long long)hlen, VKB_MAX_HEADER_BYTES);
    if (hlen > (uint64_t)sz - 8)
        return vkb_fail(err, "%s: header length %llu but only %lld bytes follow (truncated file?)", path,
                        (unsigned long long)hlen, (long long)sz - 8);
    unsigned char *hdr = malloc(8 + (size_t)hlen);
    if (!hdr) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory for a header of %llu bytes", path, (unsigned long long)hlen);
    if (pread_all(fd, hdr, 8 + (size_t)hlen, 0)) {
        free(hdr);
        return vkb_fail(err, "%s: cannot read the header (file truncated while loading?)", path);
    }
    vkb_st_file st;
    int prc = vkb_st_parse_header(hdr, 8 + (size_t)hlen, (uint64_t)sz, path, &st, err);
    free(hdr);
    if (prc) return -1;
    int rc = bind_all(m, &st, path, err);
    vkb_st_free(&st);
    return rc;
}

int vkb_model_load(const char *dir, vkb_model **out, vkb_error *err) {
    *out = NULL;
    vkb_model *m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(dir))) {
        free(m);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", dir);
    }
    m->file.fd = -1;
    char path[PATH_MAX];
    size_t len = 0;
    char *text = NULL;
    int rc = join(path, sizeof path, dir, "config.json", err);
    if (!rc) rc = (text = read_config(path, &len, err)) ? 0 : -1;
    if (!rc) rc = vkb_config_parse(text, len, path, &m->cfg, err);
    free(text);
    if (!rc) rc = load_weights(m, dir, err);
    if (!rc) rc = vkb_tokenizer_load(dir, &m->tok, err);
    /* Token ids index the embedding table: the vocabulary must fit in it. */
    if (!rc && m->tok && vkb_tokenizer_vocab_size(m->tok) > m->cfg.vocab_size)
        rc = vkb_fail(err, "%s: the vocabulary has %d tokens but config.json vocab_size is %d", dir,
                      vkb_tokenizer_vocab_size(m->tok), m->cfg.vocab_size);
    if (rc) {
        /* what the loader refuses is the checkpoint: bad input, unless a
         * more precise kind (out of memory, I/O) was given */
        if (err && err->code == VKB_ERR_FAILED) err->code = VKB_ERR_INPUT;
        vkb_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void vkb_model_free(vkb_model *m) {
    if (!m) return;
    if (m->tok) vkb_tokenizer_free(m->tok);
    if (m->file.fd >= 0) close(m->file.fd);
    free((char *)m->file.path);
    vkb_config_free_labels(&m->cfg);
    free(m->w.layers);
    free(m->owned);
    free(m->dir);
    free(m);
}

const vkb_config *vkb_model_config(const vkb_model *m) { return &m->cfg; }
const vkb_tokenizer *vkb_model_tokenizer(const vkb_model *m) { return m->tok; }

/* ---- random models ------------------------------------------------------ */

/* splitmix64: fast, and good enough for weights. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Roughly N(mean, sd): sum of four 16-bit uniforms (Irwin-Hall), rescaled to
 * unit variance; bounded at +-3.46 sd, which is what weights want anyway. */
static void fill(float *x, int64_t n, float mean, float sd, uint64_t *s) {
    const float k = sd * 1.7320508f / 65536.0f; /* sqrt(12/4) */
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next_u64(s);
        float u = (float)(r & 0xffff) + (float)(r >> 16 & 0xffff) + (float)(r >> 32 & 0xffff) + (float)(r >> 48);
        x[i] = mean + k * (u - 131070.0f);
    }
}

typedef struct { float *cur; uint64_t *rng; } arena;

/* Like HF's init (weights N(0, 0.02)) but with small random biases and
 * LayerNorm parameters instead of 0/1, so tests exercise every parameter. */
static void rnd(arena *a, vkb_tensor *t, int64_t d0, int64_t d1, float mean, float sd) {
    int64_t n = d0 * (d1 > 0 ? d1 : 1);
    *t = (vkb_tensor){.data = a->cur, .dtype = VKB_DT_F32, .ndim = d1 > 0 ? 2 : 1,
                      .shape = {d0, d1 > 0 ? d1 : 0}, .numel = n};
    fill(a->cur, n, mean, sd, a->rng);
    a->cur += n;
}

int vkb_model_random(const vkb_config *shape, uint64_t seed, vkb_model **out, vkb_error *err) {
    *out = NULL;
    vkb_config c = *shape;
    c.labels = NULL;
    if (vkb_config_check(&c, "shape", err)) return -1;
    const int64_t D = c.dim, H = c.hidden_dim, L = c.n_labels;
    int64_t per_layer = 4 * (D * D + D) + 2 * H * D + H + D + 4 * D;
    int64_t total = ((int64_t)c.vocab_size + c.max_pos + 2) * D + c.n_layers * per_layer +
                    (L ? D * D + D + L * D + L : 0);
    if (total * 4 > VKB_MAX_RANDOM_BYTES)
        return vkb_fail(err, "shape: %lld parameters, more than the limit of %lld bytes", (long long)total,
                        (long long)VKB_MAX_RANDOM_BYTES);
    vkb_model *m = calloc(1, sizeof *m);
    if (!m) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    m->file.fd = -1;
    m->cfg = c;
    m->cfg.n_labels = 0;
    if (!(m->owned = malloc((size_t)total * sizeof(float))) ||
        !(m->w.layers = calloc((size_t)c.n_layers, sizeof *m->w.layers)) ||
        vkb_config_default_labels(&m->cfg, (int)L, err)) {
        vkb_model_free(m);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "shape: out of memory for %lld parameters", (long long)total);
    }
    uint64_t s = seed;
    arena a = {m->owned, &s};
    const float sd = 0.02f;
    vkb_weights *w = &m->w;
    rnd(&a, &w->word_emb, c.vocab_size, D, 0, sd);
    rnd(&a, &w->pos_emb, c.max_pos, D, 0, sd);
    rnd(&a, &w->emb_ln_w, D, 0, 1, 0.1f);
    rnd(&a, &w->emb_ln_b, D, 0, 0, sd);
    for (int i = 0; i < c.n_layers; i++) {
        vkb_layer_weights *l = &w->layers[i];
        rnd(&a, &l->q_w, D, D, 0, sd); rnd(&a, &l->q_b, D, 0, 0, sd);
        rnd(&a, &l->k_w, D, D, 0, sd); rnd(&a, &l->k_b, D, 0, 0, sd);
        rnd(&a, &l->v_w, D, D, 0, sd); rnd(&a, &l->v_b, D, 0, 0, sd);
        rnd(&a, &l->o_w, D, D, 0, sd); rnd(&a, &l->o_b, D, 0, 0, sd);
        rnd(&a, &l->sa_ln_w, D, 0, 1, 0.1f); rnd(&a, &l->sa_ln_b, D, 0, 0, sd);
        rnd(&a, &l->ff1_w, H, D, 0, sd); rnd(&a, &l->ff1_b, H, 0, 0, sd);
        rnd(&a, &l->ff2_w, D, H, 0, sd); rnd(&a, &l->ff2_b, D, 0, 0, sd);
        rnd(&a, &l->out_ln_w, D, 0, 1, 0.1f); rnd(&a, &l->out_ln_b, D, 0, 0, sd);
    }
    if ((w->has_head = L > 0)) {
        rnd(&a, &w->pre_w, D, D, 0, sd); rnd(&a, &w->pre_b, D, 0, 0, sd);
        rnd(&a, &w->cls_w, L, D, 0, sd); rnd(&a, &w->cls_b, L, 0, 0, sd);
    }
    *out = m;
    return 0;
}
