/* cpu_backend.c - the CPU reference forward pass of
 * DistilBertForSequenceClassification (HF, eval mode), composed from the
 * operators in cpu_ops.c:
 *
 *   x = LayerNorm(word_emb[ids] + pos_emb[p])                 (eps 1e-12)
 *   per layer:  q,k,v = x Wq^T + bq, ...
 *               a = softmax(q k^T / sqrt(hd), padded keys excluded) v
 *               h = sa_layer_norm(a Wo^T + bo + x)
 *               x = output_layer_norm(lin2(gelu(lin1(h))) + h)
 *   logits = classifier(relu(pre_classifier(x[first token])))
 *
 * Weights are converted to f32 once, at creation; activation buffers are
 * sized for opts->max_tokens and grow when a batch needs more. */
#include "cpu_backend.h"
#include "cpu_ops.h"
#include "error.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LN_EPS 1e-12f

typedef struct {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    float *sa_g, *sa_b, *f1_w, *f1_b, *f2_w, *f2_b, *out_g, *out_b;
} cpu_layer;

typedef struct {
    vkb_backend base;
    int threads, fp64;
    int blas_ready; /* a forward has run: OpenBLAS has its buffer */
    float *wmem; /* all weights, f32 */
    float *word, *pos, *emb_g, *emb_b;
    cpu_layer *layers;
    float *pre_w, *pre_b, *cls_w, *cls_b;
    /* activations, each sized for cap_tokens rows */
    size_t cap_tokens;
    float *x, *q, *k, *v, *ctx, *tmp, *ffn;
} cpu_backend;

/* ---- weights ----------------------------------------------------------------- */
typedef struct {
    float *next;
    vkb_error *err;
    int failed;
} wconv;

/* Checks that tensor `name` holds numel elements and converts it. */
static float *take(wconv *w, const vkb_tensor *t, int64_t numel, const char *name,
                   int layer) {
    if (w->failed) return NULL;
    if (!vkb_tensor_present(t) || t->numel != numel) {
        if (layer >= 0)
            vkb_fail(w->err, "CPU backend: layer %d tensor %s has %lld elements, expected %lld",
                     layer, name, (long long)t->numel, (long long)numel);
        else
            vkb_fail(w->err, "CPU backend: tensor %s has %lld elements, expected %lld", name,
                     (long long)t->numel, (long long)numel);
        w->failed = 1;
        return NULL;
    }
    float *dst = w->next;
    if (vkb_tensor_to_f32(t, dst, w->err)) { /* model.safetensors shrank since it was validated */
        w->failed = 1;
        return NULL;
    }
    w->next += numel;
    return dst;
}

static int64_t weight_floats(const vkb_config *c, int has_head) {
    int64_t d = c->dim, h = c->hidden_dim;
    int64_t per_layer = 4 * (d * d + d) + 2 * d + (h * d + h) + (d * h + d) + 2 * d;
    int64_t n = (int64_t)c->vocab_size * d + (int64_t)c->max_pos * d + 2 * d +
                c->n_layers * per_layer;
    if (has_head) n += d * d + d + (int64_t)c->n_labels * d + c->n_labels;
    return n;
}

static int convert_weights(cpu_backend *be, const vkb_model *m, vkb_error *err) {
    const vkb_config *c = &m->cfg;
    const vkb_weights *W = &m->w;
    int64_t d = c->dim, h = c->hidden_dim;
    be->wmem = malloc((size_t)weight_floats(c, W->has_head) * sizeof(float));
    be->layers = calloc((size_t)c->n_layers, sizeof *be->layers);
    if (!be->wmem || !be->layers)
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %lld f32 weights",
                        (long long)weight_floats(c, W->has_head));
    wconv w = {be->wmem, err, 0};
    be->word = take(&w, &W->word_emb, (int64_t)c->vocab_size * d,
                    "embeddings.word_embeddings.weight", -1);
    be->pos = take(&w, &W->pos_emb, (int64_t)c->max_pos * d,
                   "embeddings.position_embeddings.weight", -1);
    be->emb_g = take(&w, &W->emb_ln_w, d, "embeddings.LayerNorm.weight", -1);
    be->emb_b = take(&w, &W->emb_ln_b, d, "embeddings.LayerNorm.bias", -1);
    for (int i = 0; i < c->n_layers; i++) {
        const vkb_layer_weights *s = &W->layers[i];
        cpu_layer *l = &be->layers[i];
        l->q_w = take(&w, &s->q_w, d * d, "attention.q_lin.weight", i);
        l->q_b = take(&w, &s->q_b, d, "attention.q_lin.bias", i);
        l->k_w = take(&w, &s->k_w, d * d, "attention.k_lin.weight", i);
        l->k_b = take(&w, &s->k_b, d, "attention.k_lin.bias", i);
        l->v_w = take(&w, &s->v_w, d * d, "attention.v_lin.weight", i);
        l->v_b = take(&w, &s->v_b, d, "attention.v_lin.bias", i);
        l->o_w = take(&w, &s->o_w, d * d, "attention.out_lin.weight", i);
        l->o_b = take(&w, &s->o_b, d, "attention.out_lin.bias", i);
        l->sa_g = take(&w, &s->sa_ln_w, d, "sa_layer_norm.weight", i);
        l->sa_b = take(&w, &s->sa_ln_b, d, "sa_layer_norm.bias", i);
        l->f1_w = take(&w, &s->ff1_w, h * d, "ffn.lin1.weight", i);
        l->f1_b = take(&w, &s->ff1_b, h, "ffn.lin1.bias", i);
        l->f2_w = take(&w, &s->ff2_w, d * h, "ffn.lin2.weight", i);
        l->f2_b = take(&w, &s->ff2_b, d, "ffn.lin2.bias", i);
        l->out_g = take(&w, &s->out_ln_w, d, "output_layer_norm.weight", i);
        l->out_b = take(&w, &s->out_ln_b, d, "output_layer_norm.bias", i);
    }
    if (W->has_head) {
        be->pre_w = take(&w, &W->pre_w, d * d, "pre_classifier.weight", -1);
        be->pre_b = take(&w, &W->pre_b, d, "pre_classifier.bias", -1);
        be->cls_w = take(&w, &W->cls_w, (int64_t)c->n_labels * d, "classifier.weight", -1);
        be->cls_b = take(&w, &W->cls_b, c->n_labels, "classifier.bias", -1);
    }
    return w.failed ? -1 : 0;
}

/* ---- activations ------------------------------------------------------------- */
static void free_acts(cpu_backend *be) {
    float **bufs[] = {&be->x, &be->q, &be->k, &be->v, &be->ctx, &be->tmp, &be->ffn};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    be->cap_tokens = 0;
}

static int ensure_acts(cpu_backend *be, size_t tokens, vkb_error *err) {
    if (tokens <= be->cap_tokens) return 0;
    const vkb_config *c = &be->base.model->cfg;
    free_acts(be);
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    be->x = malloc(tokens * d * sizeof(float));
    be->q = malloc(tokens * d * sizeof(float));
    be->k = malloc(tokens * d * sizeof(float));
    be->v = malloc(tokens * d * sizeof(float));
    be->ctx = malloc(tokens * d * sizeof(float));
    be->tmp = malloc(tokens * d * sizeof(float));
    be->ffn = malloc(tokens * h * sizeof(float));
    if (!be->x || !be->q || !be->k || !be->v || !be->ctx || !be->tmp || !be->ffn) {
        free_acts(be);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for activations of %zu tokens",
                        tokens);
    }
    be->cap_tokens = tokens;
    return 0;
}

/* OpenBLAS gives each of its threads a work buffer (BUFFER_SIZE: 128 MiB in
 * Debian's x86-64 build, 32-64 MiB in others): its pool threads take theirs
 * when the library is loaded, the calling thread at its first GEMM.  When
 * that allocation fails OpenBLAS retries for ever - and exit() then waits
 * for the thread.  So check that the address space (ulimit -v) has room for
 * one more buffer: a failure is then an error message instead of a hang.
 * The reservation is PROT_NONE and NORESERVE: it costs no memory, only
 * address space, and is released at once. */
int vkb_cpu_blas_room(vkb_error *err) {
    size_t need = ((size_t)128 << 20) + ((size_t)1 << 20);
    void *p = mmap(NULL, need, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory: OpenBLAS needs a work buffer of "
                        "%zu MiB and the address space (ulimit -v) has no room for it; "
                        "raise the limit", need >> 20);
    munmap(p, need);
    return 0;
}

/* ---- forward ------------------------------------------------------------------- */
static int cpu_forward(vkb_backend *self, const vkb_batch *bt, vkb_outputs *out,
                       vkb_error *err) {
    cpu_backend *be = (cpu_backend *)self;
    const vkb_config *c = &self->model->cfg;
    int B = bt->B, L = bt->L, D = c->dim, H = c->n_heads, FF = c->hidden_dim;
    int T = be->threads, f64 = be->fp64;
    if (B <= 0 || L <= 0) return vkb_fail(err, "CPU backend: empty batch (B=%d, L=%d)", B, L);
    if (L > c->max_pos)
        return vkb_fail(err, "CPU backend: sequence length %d exceeds max_position_embeddings %d",
                        L, c->max_pos);
    if (out && out->logits && !self->model->w.has_head)
        return vkb_fail(err, "CPU backend: logits requested but the model has no classifier "
                             "head (a base DistilBertModel)");
    for (int b = 0; b < B; b++)
        if (bt->lens[b] < 1 || bt->lens[b] > L)
            return vkb_fail(err, "CPU backend: lens[%d] = %d is outside [1, %d]", b,
                            bt->lens[b], L);
    size_t M = (size_t)B * L;
    for (size_t i = 0; i < M; i++)
        if (bt->ids[i] < 0 || bt->ids[i] >= c->vocab_size)
            return vkb_fail(err, "CPU backend: token id %d at sequence %zu position %zu is "
                                 "outside the vocabulary [0, %d)",
                            bt->ids[i], i / L, i % L, c->vocab_size);
    if (ensure_acts(be, M, err)) return -1;
    /* checked in the thread that runs the GEMMs, just before the first one
     * (other threads' stacks and arenas have taken address space since the
     * backend was created) */
    if (!f64 && !be->blas_ready && vkb_cpu_blas_room(err)) return -1;
    float *hidden = out ? out->hidden : NULL;
    size_t stage = M * (size_t)D;

    vkb_cpu_embed(bt->ids, be->word, be->pos, be->emb_g, be->emb_b, be->x, B, L, D, LN_EPS,
                  f64);
    if (hidden) memcpy(hidden, be->x, stage * sizeof(float));

    for (int i = 0; i < c->n_layers; i++) {
        const cpu_layer *l = &be->layers[i];
        int m = (int)M;
        vkb_cpu_linear(be->x, l->q_w, l->q_b, be->q, m, D, D, VKB_ACT_NONE, f64, T);
        vkb_cpu_linear(be->x, l->k_w, l->k_b, be->k, m, D, D, VKB_ACT_NONE, f64, T);
        vkb_cpu_linear(be->x, l->v_w, l->v_b, be->v, m, D, D, VKB_ACT_NONE, f64, T);
        vkb_cpu_attention(be->q, be->k, be->v, be->ctx, B, L, H, D / H, bt->lens, f64, T);
        vkb_cpu_linear(be->ctx, l->o_w, l->o_b, be->tmp, m, D, D, VKB_ACT_NONE, f64, T);
        /* x = sa_layer_norm(attn_out + x) */
        vkb_cpu_add_layernorm(be->tmp, be->x, l->sa_g, l->sa_b, be->x, m, D, LN_EPS, f64);
        vkb_cpu_linear(be->x, l->f1_w, l->f1_b, be->ffn, m, FF, D, VKB_ACT_GELU, f64, T);
        vkb_cpu_linear(be->ffn, l->f2_w, l->f2_b, be->tmp, m, D, FF, VKB_ACT_NONE, f64, T);
        /* x = output_layer_norm(ffn_out + x) */
        vkb_cpu_add_layernorm(be->tmp, be->x, l->out_g, l->out_b, be->x, m, D, LN_EPS, f64);
        if (hidden) memcpy(hidden + (size_t)(i + 1) * stage, be->x, stage * sizeof(float));
    }

    if (out && out->logits) {
        /* The first token ([CLS]) of each sequence through the head; q and k
         * are free by now and hold B <= B*L rows. */
        float *head_in = be->q, *head_mid = be->k;
        for (int b = 0; b < B; b++)
            memcpy(head_in + (size_t)b * D, be->x + (size_t)b * L * D,
                   (size_t)D * sizeof(float));
        vkb_cpu_linear(head_in, be->pre_w, be->pre_b, head_mid, B, D, D, VKB_ACT_RELU,
                       f64, T);
        vkb_cpu_linear(head_mid, be->cls_w, be->cls_b, out->logits, B, c->n_labels, D,
                       VKB_ACT_NONE, f64, T);
    }
    be->blas_ready = 1;
    return 0;
}

static void cpu_destroy(vkb_backend *self) {
    cpu_backend *be = (cpu_backend *)self;
    free_acts(be);
    free(be->layers);
    free(be->wmem);
    free(be);
}

int vkb_cpu_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                           vkb_backend **out, vkb_error *err) {
    *out = NULL;
    if (!m) return vkb_fail(err, "CPU backend: no model");
    const vkb_config *c = &m->cfg;
    if (c->dim <= 0 || c->n_heads <= 0 || c->dim % c->n_heads != 0 || c->n_layers < 0 ||
        c->hidden_dim <= 0 || c->vocab_size <= 0 || c->max_pos <= 0)
        return vkb_fail(err, "CPU backend: invalid model shape (dim %d, n_heads %d, "
                             "hidden_dim %d, vocab %d, max_pos %d)",
                        c->dim, c->n_heads, c->hidden_dim, c->vocab_size, c->max_pos);
    if (m->w.has_head && c->n_labels <= 0)
        return vkb_fail(err, "CPU backend: model has a classifier head but %d labels",
                        c->n_labels);
    vkb_backend_opts def = {0};
    if (!o) o = &def;
    cpu_backend *be = calloc(1, sizeof *be);
    if (!be) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    be->base.forward = cpu_forward;
    be->base.destroy = cpu_destroy;
    be->base.model = m;
    be->fp64 = o->fp64_accum != 0;
    be->threads = o->threads;
    if (be->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        be->threads = n > 0 ? (int)n : 1;
    }
    if (convert_weights(be, m, err)) {
        cpu_destroy(&be->base);
        return -1;
    }
    int max_len = o->max_len > 0 && o->max_len < c->max_pos ? o->max_len : c->max_pos;
    size_t tokens = o->max_tokens > 0 ? (size_t)o->max_tokens : 16384;
    if (tokens < (size_t)max_len) tokens = (size_t)max_len;
    if (ensure_acts(be, tokens, err) || (!be->fp64 && vkb_cpu_blas_room(err))) {
        cpu_destroy(&be->base);
        return -1;
    }
    /* fp32 GEMMs run on OpenBLAS's own thread pool (sized by OpenBLAS from
     * OPENBLAS_NUM_THREADS or the core count); `threads` drives the rest. */
    if (be->fp64)
        snprintf(be->base.device, sizeof be->base.device,
                 "CPU reference (fp64 accumulation, %d thread%s)", be->threads,
                 be->threads == 1 ? "" : "s");
    else
        snprintf(be->base.device, sizeof be->base.device,
                 "CPU reference (fp32, %d thread%s, OpenBLAS %d thread%s)", be->threads,
                 be->threads == 1 ? "" : "s", openblas_get_num_threads(),
                 openblas_get_num_threads() == 1 ? "" : "s");
    *out = &be->base;
    return 0;
}
