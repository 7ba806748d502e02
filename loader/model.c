/* model.c - a checkpoint directory as HF writes it: config.json,
 * model.safetensors (its header read and validated at load, the tensors read
 * with pread when a backend converts them; see model.h) and
 * the tokenizer files; plus in-memory random models for benchmarks and
 * GPU-vs-CPU checks.  Only fixed file names inside `dir` are ever opened. */
#define _GNU_SOURCE /* O_CLOEXEC, strdup */
#include "model.h"
#include "st_config.h"
#include "distilbert_tensors.h"
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

/* ---- the tensors, by the table ------------------------------------------- */

int vkb_model_n_tensors(const vkb_model *m) {
    return VKB_T_N_MODEL + m->cfg.n_layers * VKB_T_N_LAYER + (m->w.has_head ? VKB_T_N_HEAD : 0);
}

int vkb_model_tensor_index(const vkb_model *m, vkb_tensor_role r, int layer) {
    if ((int)r < VKB_T_FIRST_LAYER) return (int)r;
    if ((int)r < VKB_T_FIRST_HEAD)
        return layer >= 0 && layer < m->cfg.n_layers
                   ? VKB_T_N_MODEL + layer * VKB_T_N_LAYER + (int)(r - VKB_T_FIRST_LAYER) : -1;
    if (r < VKB_T_COUNT && m->w.has_head)
        return VKB_T_N_MODEL + m->cfg.n_layers * VKB_T_N_LAYER + (int)(r - VKB_T_FIRST_HEAD);
    return -1;
}

const vkb_tensor *vkb_model_tensor(const vkb_model *m, vkb_tensor_role r, int layer) {
    int i = vkb_model_tensor_index(m, r, layer);
    return i < 0 ? NULL : &m->w.t[i];
}

vkb_tensor_role vkb_model_tensor_role(const vkb_model *m, int i, int *layer) {
    int enc = VKB_T_N_MODEL + m->cfg.n_layers * VKB_T_N_LAYER;
    *layer = -1;
    if (i < VKB_T_N_MODEL) return (vkb_tensor_role)i;
    if (i >= enc) return (vkb_tensor_role)(VKB_T_FIRST_HEAD + (i - enc));
    *layer = (i - VKB_T_N_MODEL) / VKB_T_N_LAYER;
    return (vkb_tensor_role)(VKB_T_FIRST_LAYER + (i - VKB_T_N_MODEL) % VKB_T_N_LAYER);
}

int vkb_model_tensor_name(const vkb_model *m, int i, char *buf, size_t n) {
    int layer;
    vkb_tensor_role r = vkb_model_tensor_role(m, i, &layer);
    return vkb_tensor_spec_name(&vkb_tensor_table[r], m->prefix, layer, buf, n);
}

/* Shape of row s in model m (n_labels: the head's label count). */
static int spec_shape(const vkb_tensor_spec *s, const vkb_config *c, int64_t n_labels, int64_t shape[2]) {
    return vkb_tensor_spec_shape(s, c->dim, c->hidden_dim, c->vocab_size, c->max_pos, (int)n_labels, shape);
}

/* Allocates the tensor array for m (cfg.n_layers and w.has_head set). */
static int alloc_tensors(vkb_model *m) {
    m->w.t = calloc((size_t)vkb_model_n_tensors(m), sizeof *m->w.t);
    return m->w.t ? 0 : -1;
}

/* Binds checkpoint tensor i after checking its dtype and shape against what
 * config.json implies. */
static int bind(vkb_model *m, const vkb_st_file *st, const char *path, int i, int64_t n_labels,
                vkb_error *err) {
    int layer;
    const vkb_tensor_spec *s = &vkb_tensor_table[vkb_model_tensor_role(m, i, &layer)];
    char full[160];
    if (vkb_model_tensor_name(m, i, full, sizeof full)) return vkb_fail(err, "%s: tensor name too long", path);
    int64_t want[2];
    int nd = spec_shape(s, &m->cfg, n_labels, want);
    const vkb_st_entry *e = vkb_st_find(st, full);
    if (!e) return vkb_fail(err, "%s: tensor '%s' is missing", path, full);
    if (!e->known)
        return vkb_fail(err, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)", path, full, e->dtype);
    if (e->ndim != nd || e->shape[0] != want[0] || (nd == 2 && e->shape[1] != want[1])) {
        char got[160] = "[", wants[64];
        for (int k = 0; k < e->ndim; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? ", " : "", (long long)e->shape[k]);
        strcat(got, "]");
        if (nd == 1) snprintf(wants, sizeof wants, "[%lld]", (long long)want[0]);
        else snprintf(wants, sizeof wants, "[%lld, %lld]", (long long)want[0], (long long)want[1]);
        return vkb_fail(err, "%s: tensor '%s': shape %s but config.json implies %s", path, full, got, wants);
    }
    m->w.t[i] = (vkb_tensor){.file = &m->file, .off = st->data_off + e->begin, .dtype = e->vdt, .ndim = nd,
                             .shape = {want[0], nd == 2 ? want[1] : 0}, .numel = e->numel};
    return 0;
}

/* Classification checkpoints prefix the encoder with "distilbert."; a base
 * DistilBertModel (or a head we do not use, e.g. MaskedLM) has no
 * pre_classifier/classifier and loads with has_head = 0. */
static int bind_all(vkb_model *m, const vkb_st_file *st, const char *path, vkb_error *err) {
    vkb_config *c = &m->cfg;
    m->prefix = vkb_st_find(st, "embeddings.word_embeddings.weight") &&
                !vkb_st_find(st, VKB_ENCODER_PREFIX "embeddings.word_embeddings.weight") ? "" : VKB_ENCODER_PREFIX;
    vkb_weights *w = &m->w;
    w->has_head = 0;
    for (int r = VKB_T_FIRST_HEAD; r < VKB_T_COUNT; r++)
        w->has_head |= vkb_st_find(st, vkb_tensor_table[r].name) != NULL;
    if (alloc_tensors(m)) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    int enc = VKB_T_N_MODEL + c->n_layers * VKB_T_N_LAYER;
    for (int i = 0; i < enc; i++)
        if (bind(m, st, path, i, 0, err)) return -1;

    if (!w->has_head) return vkb_config_default_labels(c, 0, err); /* no head: no labels */
    /* The label count comes from classifier.weight [n_labels, dim]; id2label,
     * when present, must agree.  If the tensor is absent or not 2-D, bind()
     * below reports it against the count config.json implies. */
    const vkb_st_entry *ce = vkb_st_find(st, vkb_tensor_table[VKB_T_CLS_W].name);
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
    for (int i = enc; i < vkb_model_n_tensors(m); i++)
        if (bind(m, st, path, i, nl, err)) return -1;
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

/* sentence-transformers: modules.json, when there is one, and the Pooling
 * module's config.json it names (a fixed family of folder names, see
 * st_config.h). */
static int load_st(vkb_model *m, const char *dir, vkb_error *err) {
    char path[PATH_MAX], pdir[32], rel[64];
    struct stat sb;
    if (join(path, sizeof path, dir, "modules.json", err)) return -1;
    if (lstat(path, &sb) && errno == ENOENT) return 0;
    size_t len = 0;
    char *text = read_config(path, &len, err);
    if (!text) return -1;
    int normalize = 0, pooling = 0;
    int rc = vkb_st_parse_modules(text, len, path, pdir, sizeof pdir, &normalize, err);
    free(text);
    if (rc) return -1;
    snprintf(rel, sizeof rel, "%s/config.json", pdir);
    if (join(path, sizeof path, dir, rel, err)) return -1;
    if (!(text = read_config(path, &len, err))) return -1;
    rc = vkb_st_parse_pooling(text, len, path, m->cfg.dim, &pooling, err);
    free(text);
    if (rc) return -1;
    m->st.present = 1;
    m->st.pooling = pooling;
    m->st.normalize = normalize;
    return 0;
}

const vkb_st_pooling *vkb_model_st_pooling(const vkb_model *m) { return &m->st; }

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
    if (!rc) rc = load_st(m, dir, err);
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
    free(m->w.t);
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
static void rnd(arena *a, vkb_tensor *t, int ndim, const int64_t shape[2], vkb_tensor_kind kind) {
    int64_t n = shape[0] * (ndim == 2 ? shape[1] : 1);
    *t = (vkb_tensor){.data = a->cur, .dtype = VKB_DT_F32, .ndim = ndim,
                      .shape = {shape[0], ndim == 2 ? shape[1] : 0}, .numel = n};
    if (kind == VKB_TK_LN_WEIGHT) fill(a->cur, n, 1, 0.1f, a->rng);
    else fill(a->cur, n, 0, 0.02f, a->rng);
    a->cur += n;
}

int vkb_model_random(const vkb_config *shape, uint64_t seed, vkb_model **out, vkb_error *err) {
    *out = NULL;
    vkb_config c = *shape;
    c.labels = NULL;
    if (vkb_config_check(&c, "shape", err)) return -1;
    const int64_t L = c.n_labels;
    int64_t total = 0, sh[2];
    for (int r = 0; r < VKB_T_COUNT; r++) {
        const vkb_tensor_spec *s = &vkb_tensor_table[r];
        if (s->scope == VKB_TS_HEAD && !L) continue;
        int nd = spec_shape(s, &c, L, sh);
        total += (s->scope == VKB_TS_LAYER ? c.n_layers : 1) * sh[0] * (nd == 2 ? sh[1] : 1);
    }
    if (total * 4 > VKB_MAX_RANDOM_BYTES)
        return vkb_fail(err, "shape: %lld parameters, more than the limit of %lld bytes", (long long)total,
                        (long long)VKB_MAX_RANDOM_BYTES);
    vkb_model *m = calloc(1, sizeof *m);
    if (!m) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    m->file.fd = -1;
    m->cfg = c;
    m->cfg.n_labels = 0;
    m->w.has_head = L > 0;
    m->prefix = L > 0 ? VKB_ENCODER_PREFIX : "";
    if (!(m->owned = malloc((size_t)total * sizeof(float))) || alloc_tensors(m) ||
        vkb_config_default_labels(&m->cfg, (int)L, err)) {
        vkb_model_free(m);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "shape: out of memory for %lld parameters", (long long)total);
    }
    uint64_t s = seed;
    arena a = {m->owned, &s};
    for (int i = 0; i < vkb_model_n_tensors(m); i++) {
        int layer;
        const vkb_tensor_spec *sp = &vkb_tensor_table[vkb_model_tensor_role(m, i, &layer)];
        int nd = spec_shape(sp, &c, L, sh);
        rnd(&a, &m->w.t[i], nd, sh, sp->kind);
    }
    *out = m;
    return 0;
}
