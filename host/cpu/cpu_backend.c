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
 *   pooled = mean / first / max of x over each sequence's real tokens
 *
 * Two paths:
 *  - fp64 accumulation (the verification mode, forward_ref): the plain
 *    operators of cpu_ops.c, one after the other, exactly as above;
 *  - fp32 (the default, forward_fast): the same math with fewer passes over
 *    the activations - one GEMM for q|k|v (their weights lie contiguous),
 *    bias, residual, activation and the residual blocks' LayerNorm in one
 *    pass per row after each GEMM, GELU vectorized, attention reading the
 *    fused q|k|v rows, the head
 *    reading the first tokens in place - and all of it, the GEMMs included
 *    (cpu_gemm.c, on weights packed once at creation), on one persistent
 *    thread team;
 *  - --precision bf16 / int8: forward_fast with the encoder's linear layers
 *    (q|k|v, out_lin, ffn.lin1, ffn.lin2) on oneDNN (cpu_lowp.c: GEMM,
 *    activation conversion and epilogue on oneDNN's OpenMP threads); the
 *    head stays fp32.
 * Weights are converted to f32 once, at creation (those of the fp32 GEMMs
 * packed for them: convert_weights; in bf16 / int8 the encoder's linear
 * weights live on oneDNN only); activation buffers are
 * sized for opts->max_tokens and grow when a batch needs more. */
#include "cpu_backend.h"
#include "bigmem.h"
#include "cpu_lowp.h"
#include "cpu_ops.h"
#include "cpu_pool.h"
#include "error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    vkb_backend base;
    int threads, fp64;
    vkb_team *team; /* fp32: the persistent team for all the work */
    float *wmem;  /* all weights, f32 (some packed: convert_weights) */
    float **w;    /* w[i]: the model's tensor i (vkb_model_tensor_index), in wmem */
    /* activations, each sized for cap_tokens rows */
    size_t cap_tokens;
    float *x, *q, *k, *v, *ctx, *tmp, *ffn;
    float *qkv; /* fp32: [tokens, 3*dim], the fused projection */
    /* --precision bf16 / int8: the encoder's linear layers on oneDNN
     * (cpu_lowp.c), lw[layer * LW_N + slot]; NULL = fp32 */
    vkb_lp *lp;
    vkb_lp_weight **lw;
} cpu_backend;

/* the linear layers of a layer, in lw */
enum { LW_QKV, LW_O, LW_FFN1, LW_FFN2, LW_N };

/* ---- weights ----------------------------------------------------------------- */
/* The f32 copy of tensor `r` (of layer `layer`). */
static const float *wt(const cpu_backend *be, vkb_tensor_role r, int layer) {
    return be->w[vkb_model_tensor_index(be->base.model, r, layer)];
}

/* Converts every tensor of the table to f32 (the loader has checked their
 * shapes against config.json).  Each layer's q, k and v biases are placed
 * one after the other: [3*dim] for the fused projection of the fp32 path.
 * The weights the fp32 path multiplies by (vkb_cpu_linear_fast) are stored
 * packed (vkb_cpu_pack_weights) instead of plain: the head's, and with
 * `pack_encoder` the encoder's - q|k|v as one [3*dim, dim] weight (at the
 * q weight's index; the k and v weights have no copy of their own), out_lin,
 * ffn.lin1, ffn.lin2.  The fp64 reference and the oneDNN path (which
 * builds its own from the checkpoint) pass pack_encoder = 0; fp64 packs
 * nothing.  With `drop_encoder` (bf16 / int8 running on oneDNN) the
 * encoder's linear weights get no f32 copy at all. */
typedef struct {
    int n, k;  /* packed as [n, k]; n = 0: plain */
    int parts; /* how many tensors, part[] (3: q, k and v, as one [3*dim, dim]) */
    int part[3];
    int skip;  /* the k or v weight of a fused q|k|v: no copy of its own */
} pack_plan;

/* tensor (role, layer), if the model has it, packed as [N, K] */
static void plan_one(pack_plan *plan, const vkb_model *m, vkb_tensor_role role, int layer, int N,
                     int K) {
    int i = vkb_model_tensor_index(m, role, layer);
    if (i >= 0) plan[i] = (pack_plan){N, K, 1, {i, i, i}, 0};
}

static const vkb_tensor_role linear_roles[] = {VKB_T_Q_W, VKB_T_K_W, VKB_T_V_W, VKB_T_O_W,
                                               VKB_T_FFN1_W, VKB_T_FFN2_W};

static int convert_weights(cpu_backend *be, const vkb_model *m, int pack_head, int pack_encoder,
                           int drop_encoder, vkb_error *err) {
    int n = vkb_model_n_tensors(m);
    const vkb_config *c = &m->cfg;
    pack_plan *plan = calloc(n > 0 ? (size_t)n : 1, sizeof *plan);
    be->w = calloc(n > 0 ? (size_t)n : 1, sizeof *be->w);
    if (!plan || !be->w) {
        free(plan);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    }
    if (pack_head) {
        plan_one(plan, m, VKB_T_PRE_W, 0, c->dim, c->dim);
        plan_one(plan, m, VKB_T_CLS_W, 0, c->n_labels, c->dim);
    }
    for (int l = 0; pack_encoder && l < c->n_layers; l++) {
        int q = vkb_model_tensor_index(m, VKB_T_Q_W, l), k = vkb_model_tensor_index(m, VKB_T_K_W, l),
            v = vkb_model_tensor_index(m, VKB_T_V_W, l);
        plan[q] = (pack_plan){3 * c->dim, c->dim, 3, {q, k, v}, 0};
        plan[k].skip = plan[v].skip = 1;
        plan_one(plan, m, VKB_T_O_W, l, c->dim, c->dim);
        plan_one(plan, m, VKB_T_FFN1_W, l, c->hidden_dim, c->dim);
        plan_one(plan, m, VKB_T_FFN2_W, l, c->dim, c->hidden_dim);
    }
    for (int l = 0; drop_encoder && l < c->n_layers; l++)
        for (size_t r = 0; r < sizeof linear_roles / sizeof *linear_roles; r++)
            plan[vkb_model_tensor_index(m, linear_roles[r], l)].skip = 1;
    size_t total = 0, tmp_n = 0;
    for (int i = 0; i < n; i++) {
        size_t plain = (size_t)plan[i].n * plan[i].k;
        if (plan[i].skip) continue;
        total += plan[i].n ? vkb_cpu_pack_size(plan[i].n, plan[i].k) : (size_t)m->w.t[i].numel;
        if (plan[i].n && plain > tmp_n) tmp_n = plain;
    }
    be->wmem = vkb_big_alloc((total ? total : 1) * sizeof(float));
    float *tmp = tmp_n ? malloc(tmp_n * sizeof(float)) : NULL;
    if (!be->wmem || (tmp_n && !tmp)) {
        free(plan);
        free(tmp);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %zu f32 weights", total);
    }
    float *next = be->wmem;
    static const vkb_tensor_role fused_b[] = {VKB_T_Q_B, VKB_T_K_B, VKB_T_V_B};
    for (int l = 0; l < c->n_layers; l++)
        for (size_t f = 0; f < sizeof fused_b / sizeof *fused_b; f++) {
            int i = vkb_model_tensor_index(m, fused_b[f], l);
            be->w[i] = next;
            next += m->w.t[i].numel;
        }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (plan[i].skip) continue;
        if (!be->w[i]) {
            be->w[i] = next;
            next += plan[i].n ? vkb_cpu_pack_size(plan[i].n, plan[i].k) : (size_t)m->w.t[i].numel;
        }
        /* fails if model.safetensors shrank since it was validated */
        if (!plan[i].n) {
            rc = vkb_tensor_to_f32(&m->w.t[i], be->w[i], err);
            continue;
        }
        /* the plain weight (q|k|v: the three, one after the other), then packed */
        float *t = tmp;
        for (int part = 0; part < plan[i].parts && !rc; part++) {
            rc = vkb_tensor_to_f32(&m->w.t[plan[i].part[part]], t, err);
            t += m->w.t[plan[i].part[part]].numel;
        }
        if (!rc) vkb_cpu_pack_weights(tmp, plan[i].n, plan[i].k, be->w[i]);
    }
    free(tmp);
    free(plan);
    return rc ? -1 : 0;
}

/* ---- activations ------------------------------------------------------------- */
static void free_acts(cpu_backend *be) {
    float **bufs[] = {&be->x, &be->q, &be->k, &be->v, &be->ctx, &be->tmp, &be->ffn, &be->qkv};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        vkb_big_free(*bufs[i]);
        *bufs[i] = NULL;
    }
    be->cap_tokens = 0;
}

/* The fp32 path keeps the FFN's hidden rows (3072 floats: 12 KB) FFN_PAD
 * floats further apart: rows a multiple of 4 KB apart share the same L1
 * sets, which the GEMM reading them would otherwise avoid by a copy. */
#define FFN_PAD 16

static int ensure_acts(cpu_backend *be, size_t tokens, vkb_error *err) {
    if (tokens <= be->cap_tokens) return 0;
    const vkb_config *c = &be->base.model->cfg;
    free_acts(be);
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    be->x = vkb_big_alloc(tokens * d * sizeof(float));
    be->ctx = vkb_big_alloc(tokens * d * sizeof(float));
    be->tmp = vkb_big_alloc(tokens * d * sizeof(float));
    be->ffn = vkb_big_alloc(tokens * (h + FFN_PAD) * sizeof(float)); /* rows h + FFN_PAD apart in fp32 */
    int ok = be->x && be->ctx && be->tmp && be->ffn;
    if (be->fp64) { /* separate q, k, v */
        be->q = vkb_big_alloc(tokens * d * sizeof(float));
        be->k = vkb_big_alloc(tokens * d * sizeof(float));
        be->v = vkb_big_alloc(tokens * d * sizeof(float));
        ok = ok && be->q && be->k && be->v;
    } else {
        be->qkv = vkb_big_alloc(tokens * 3 * d * sizeof(float));
        ok = ok && be->qkv;
    }
    if (!ok) {
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
/* fp64 accumulation: the reference operators, one after the other. */
static int forward_ref(cpu_backend *be, const vkb_batch *bt, vkb_outputs *out, vkb_error *err) {
    const vkb_config *c = &be->base.model->cfg;
    int B = bt->B, L = bt->L, D = c->dim, H = c->n_heads, FF = c->hidden_dim;
    int T = be->threads, f64 = be->fp64;
    size_t M = (size_t)B * L;
    float *hidden = out ? out->hidden : NULL;
    size_t stage = M * (size_t)D;

    vkb_cpu_embed(bt->ids, wt(be, VKB_T_WORD_EMB, 0), wt(be, VKB_T_POS_EMB, 0),
                  wt(be, VKB_T_EMB_LN_W, 0), wt(be, VKB_T_EMB_LN_B, 0), be->x, B, L, D, VKB_LN_EPS,
                  f64);
    if (hidden) memcpy(hidden, be->x, stage * sizeof(float));

    for (int i = 0; i < c->n_layers; i++) {
#define W(role) wt(be, VKB_T_##role, i)
        int m = (int)M;
        vkb_cpu_linear(be->x, W(Q_W), W(Q_B), be->q, m, D, D, VKB_ACT_NONE, f64, T);
        vkb_cpu_linear(be->x, W(K_W), W(K_B), be->k, m, D, D, VKB_ACT_NONE, f64, T);
        vkb_cpu_linear(be->x, W(V_W), W(V_B), be->v, m, D, D, VKB_ACT_NONE, f64, T);
        if (vkb_cpu_attention(be->q, be->k, be->v, be->ctx, B, L, H, D / H, bt->lens, f64, T))
            return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: layer %d: out of memory for the attention scratch "
                                 "(sequence length %d, head size %d)", i, L, D / H);
        vkb_cpu_linear(be->ctx, W(O_W), W(O_B), be->tmp, m, D, D, VKB_ACT_NONE, f64, T);
        /* x = sa_layer_norm(attn_out + x) */
        vkb_cpu_add_layernorm(be->tmp, be->x, W(SA_LN_W), W(SA_LN_B), be->x, m, D, VKB_LN_EPS, f64);
        vkb_cpu_linear(be->x, W(FFN1_W), W(FFN1_B), be->ffn, m, FF, D, VKB_ACT_GELU, f64, T);
        vkb_cpu_linear(be->ffn, W(FFN2_W), W(FFN2_B), be->tmp, m, D, FF, VKB_ACT_NONE, f64, T);
        /* x = output_layer_norm(ffn_out + x) */
        vkb_cpu_add_layernorm(be->tmp, be->x, W(OUT_LN_W), W(OUT_LN_B), be->x, m, D, VKB_LN_EPS, f64);
        if (hidden) memcpy(hidden + (size_t)(i + 1) * stage, be->x, stage * sizeof(float));
#undef W
    }

    if (out && out->logits) {
        /* The first token ([CLS]) of each sequence through the head; q and k
         * are free by now and hold B <= B*L rows. */
        float *head_in = be->q, *head_mid = be->k;
        for (int b = 0; b < B; b++)
            memcpy(head_in + (size_t)b * D, be->x + (size_t)b * L * D,
                   (size_t)D * sizeof(float));
        vkb_cpu_linear(head_in, wt(be, VKB_T_PRE_W, 0), wt(be, VKB_T_PRE_B, 0), head_mid, B,
                       D, D, VKB_ACT_RELU, f64, T);
        vkb_cpu_linear(head_mid, wt(be, VKB_T_CLS_W, 0), wt(be, VKB_T_CLS_B, 0), out->logits,
                       B, c->n_labels, D, VKB_ACT_NONE, f64, T);
    }
    if (out && out->pooled) vkb_cpu_pool(be->x, bt->lens, out->pooled, B, L, D, (int)out->pooling);
    return 0;
}

/* Y = act(X W^T + b + R) for a linear layer: on oneDNN in bf16 /
 * int8 when the backend runs them (lw), else the fp32 operator (W packed). */
static int lin(cpu_backend *be, vkb_lp_weight *lw, const float *X, size_t ldx,
               const float *W, const float *b, const float *R, size_t ldr, float *Y, size_t ldy,
               int M, int N, int K, vkb_act act, vkb_error *err) {
    if (lw) return vkb_lp_linear(be->lp, lw, X, ldx, b, R, ldr, Y, M, act, err); /* ldy = N */
    vkb_cpu_linear_fast(X, ldx, W, b, R, ldr, Y, ldy, M, N, K, act, be->team);
    return 0;
}

/* Y = LayerNorm(X W^T + b + R) * g + beta: the same, with the residual
 * block's LayerNorm fused into the epilogue (either path). */
static int lin_ln(cpu_backend *be, vkb_lp_weight *lw, const float *X, size_t ldx,
                  const float *W, const float *b, const float *R, size_t ldr, const float *g,
                  const float *beta, float *Y, int M, int N, int K, vkb_error *err) {
    if (lw) return vkb_lp_linear_ln(be->lp, lw, X, ldx, b, R, ldr, g, beta, VKB_LN_EPS, Y, M, err);
    vkb_cpu_linear_ln_fast(X, ldx, W, b, R, ldr, g, beta, VKB_LN_EPS, Y, M, N, K, be->team);
    return 0;
}

/* Whether only the first token's ([CLS]) output of the last layer is asked
 * for: logits, CLS pooling, nothing layer by layer.  Then the last layer
 * runs its attention for that query and its out_lin, FFN and LayerNorms on
 * those B rows only (its keys and values still come from every token): one
 * layer's work less by about 0.75 of it (distilbert: 6 layers, 12%), each
 * output to the same bits as the full layer would give it (every row of a
 * GEMM or a LayerNorm on its own; attention per query, attn_head). */
static int cls_only(const vkb_outputs *out) {
    return out && !out->hidden && (out->logits || out->pooled) &&
           (!out->pooled || out->pooling == VKB_POOL_CLS);
}

/* fp32: the same forward pass in fewer passes (see the top of the file). */
static int forward_fast(cpu_backend *be, const vkb_batch *bt, vkb_outputs *out, vkb_error *err) {
    const vkb_config *c = &be->base.model->cfg;
    int B = bt->B, L = bt->L, D = c->dim, H = c->n_heads, FF = c->hidden_dim;
    vkb_team *team = be->team;
    int m = B * L;
    size_t stage = (size_t)m * D, d = (size_t)D;
    size_t ldf = (size_t)FF + (be->lw ? 0 : FFN_PAD); /* oneDNN's Y is dense */
    float *hidden = out ? out->hidden : NULL;
    int cls = cls_only(out) && c->n_layers > 0;
    /* the row stride of x's first tokens at the end: dense after a
     * [CLS]-only last layer, else L*D apart in the full activations */
    size_t ldo = cls ? d : (size_t)L * d;

    vkb_cpu_embed_fast(bt->ids, wt(be, VKB_T_WORD_EMB, 0), wt(be, VKB_T_POS_EMB, 0),
                       wt(be, VKB_T_EMB_LN_W, 0), wt(be, VKB_T_EMB_LN_B, 0), be->x, B, L, D,
                       VKB_LN_EPS, team);
    if (hidden) memcpy(hidden, be->x, stage * sizeof(float));
    for (int i = 0; i < c->n_layers; i++) {
#define W(role) wt(be, VKB_T_##role, i)
        /* the last layer of a [CLS]-only pass: after q|k|v and attention
         * (first query) only the first token of each sequence, rows L*D
         * apart in ctx and x, B rows dense from then on (x's first B rows) */
        int last_cls = cls && i == c->n_layers - 1;
        int rows = last_cls ? B : m;
        size_t ldin = last_cls ? (size_t)L * d : d;
        /* q|k|v = x [Wq;Wk;Wv]^T + [bq;bk;bv] (contiguous, convert_weights) */
#define LW(slot) (be->lw ? be->lw[i * LW_N + (slot)] : NULL)
        if (lin(be, LW(LW_QKV), be->x, d, W(Q_W), W(Q_B), NULL, 0, be->qkv, 3 * d, m, 3 * D, D,
                VKB_ACT_NONE, err))
            return -1;
        if (vkb_cpu_attention_fast(be->qkv, 3 * d, be->ctx, B, L, last_cls ? 1 : L, H, D / H, bt->lens,
                                   team))
            return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: layer %d: out of memory for the attention scratch "
                                 "(sequence length %d, head size %d)", i, L, D / H);
        /* x = sa_layer_norm(ctx Wo^T + bo + x) */
        if (lin_ln(be, LW(LW_O), be->ctx, ldin, W(O_W), W(O_B), be->x, ldin, W(SA_LN_W), W(SA_LN_B),
                   be->tmp, rows, D, D, err))
            return -1;
        if (lin(be, LW(LW_FFN1), be->tmp, d, W(FFN1_W), W(FFN1_B), NULL, 0, be->ffn, ldf, rows, FF, D,
                VKB_ACT_GELU, err))
            return -1;
        /* x = output_layer_norm(ffn Wout^T + bout + h) */
        if (lin_ln(be, LW(LW_FFN2), be->ffn, ldf, W(FFN2_W), W(FFN2_B), be->tmp, d,
                   W(OUT_LN_W), W(OUT_LN_B), be->x, rows, D, FF, err))
            return -1;
#undef LW
        if (hidden) memcpy(hidden + (size_t)(i + 1) * stage, be->x, stage * sizeof(float));
#undef W
    }
    if (out && out->logits) {
        /* the first token ([CLS]) of each sequence: rows ldo apart in x */
        float *mid = be->tmp;
        vkb_cpu_linear_fast(be->x, ldo, wt(be, VKB_T_PRE_W, 0), wt(be, VKB_T_PRE_B, 0), NULL,
                            0, mid, d, B, D, D, VKB_ACT_RELU, team);
        vkb_cpu_linear_fast(mid, d, wt(be, VKB_T_CLS_W, 0), wt(be, VKB_T_CLS_B, 0), NULL, 0,
                            out->logits, (size_t)c->n_labels, B, c->n_labels, D, VKB_ACT_NONE, team);
    }
    if (out && out->pooled) {
        if (cls) /* the first tokens, dense */
            memcpy(out->pooled, be->x, (size_t)B * d * sizeof(float));
        else
            vkb_cpu_pool(be->x, bt->lens, out->pooled, B, L, D, (int)out->pooling);
    }
    return 0;
}

static int cpu_forward(vkb_backend *self, const vkb_batch *bt, vkb_outputs *out,
                       vkb_error *err) {
    cpu_backend *be = (cpu_backend *)self;
    /* the batch was checked by vkb_forward (backend.c) */
    if (ensure_acts(be, (size_t)bt->B * bt->L, err)) return -1;
    if (be->fp64) return forward_ref(be, bt, out, err);
    return forward_fast(be, bt, out, err);
}

/* The encoder's linear weights, which bf16 / int8 hold on oneDNN only. */
/* bf16 / int8: the encoder's linear layers converted for oneDNN, when its
 * effective ISA runs them natively; else fp32 with a note (be->base.note)
 * and nothing done.  Runs before the weights are converted to f32: each
 * linear weight is read from the checkpoint into one f32 scratch (q|k|v
 * together, [3*dim, dim]) and converted, one at a time. */
static int setup_lowp(cpu_backend *be, vkb_precision prec, const char *dnnl_library, vkb_error *err) {
    vkb_lp_kind kind = prec == VKB_PREC_BF16 ? VKB_LP_BF16 : VKB_LP_INT8;
    vkb_dnnl *dn = NULL;
    vkb_error why = {0};
    if (vkb_dnnl_open(dnnl_library, &dn, &why)) {
        if (why.code != VKB_ERR_UNSUPPORTED) return vkb_failc(err, why.code, "%s", why.msg);
        snprintf(be->base.note, sizeof be->base.note, "--precision %s needs oneDNN, which could not be "
                 "loaded (%.160s); running fp32", vkb_lp_kind_name(kind), why.msg);
        return 0;
    }
    int native = vkb_lp_supported(dn, kind);
    if (!native)
        snprintf(be->base.note, sizeof be->base.note,
                 "--precision %s needs %s, which this CPU lacks (oneDNN's effective instruction set: "
                 "%s); running fp32", vkb_lp_kind_name(kind),
                 kind == VKB_LP_BF16 ? "AVX512-BF16" : "VNNI (AVX512-VNNI or AVX-VNNI)", vkb_lp_isa_name(dn));
    vkb_dnnl_close(dn);
    if (!native) return 0;
    const vkb_model *m = be->base.model;
    const vkb_config *c = &m->cfg;
    int n = c->n_layers * LW_N;
    be->lw = calloc((size_t)n, sizeof *be->lw);
    if (!be->lw) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    if (vkb_lp_create(dnnl_library, kind, be->threads, &be->lp, err)) return -1;
    be->base.prec = prec;
    /* the team's work (attention, LayerNorm, embeddings) on oneDNN's OpenMP
     * threads too: a second pool would spin against them (3x slower at
     * 32x128 on a dim-64 model, with libgomp's default spin-wait) */
    vkb_team *team = vkb_team_create_runner(be->threads, vkb_lp_run, be->lp);
    if (!team) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    vkb_team_free(be->team);
    be->team = team;
    /* q|k|v: one [3*dim, dim] weight */
    static const struct { vkb_tensor_role w[3]; int n_w, out_ffn, in_ffn; const char *name; } roles[LW_N] = {
        {{VKB_T_Q_W, VKB_T_K_W, VKB_T_V_W}, 3, 0, 0, "q|k|v_lin"}, {{VKB_T_O_W}, 1, 0, 0, "out_lin"},
        {{VKB_T_FFN1_W}, 1, 1, 0, "ffn.lin1"}, {{VKB_T_FFN2_W}, 1, 0, 1, "ffn.lin2"}};
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    size_t most = 3 * d * d > h * d ? 3 * d * d : h * d;
    float *f32 = malloc(most * sizeof(float));
    if (!f32) return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory for %zu f32 weights", most);
    int rc = 0;
    for (int i = 0; i < c->n_layers && !rc; i++)
        for (int s = 0; s < LW_N && !rc; s++) {
            char name[64];
            snprintf(name, sizeof name, "layer %d %s", i, roles[s].name);
            int N = roles[s].n_w * (roles[s].out_ffn ? c->hidden_dim : c->dim);
            int K = roles[s].in_ffn ? c->hidden_dim : c->dim;
            float *next = f32;
            for (int j = 0; j < roles[s].n_w && !rc; j++) {
                const vkb_tensor *t = &m->w.t[vkb_model_tensor_index(m, roles[s].w[j], i)];
                /* fails if model.safetensors shrank since it was validated */
                rc = vkb_tensor_to_f32(t, next, err);
                next += t->numel;
            }
            if (!rc) rc = vkb_lp_weight_create(be->lp, f32, N, K, name, &be->lw[i * LW_N + s], err);
        }
    free(f32);
    return rc;
}

static void cpu_destroy(vkb_backend *self) {
    cpu_backend *be = (cpu_backend *)self;
    if (be->lw)
        for (int i = 0; i < be->base.model->cfg.n_layers * LW_N; i++) vkb_lp_weight_free(be->lw[i]);
    free(be->lw);
    vkb_lp_free(be->lp);
    vkb_team_free(be->team);
    free_acts(be);
    free(be->w);
    vkb_big_free(be->wmem);
    free(be);
}

int vkb_cpu_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                           vkb_backend **out, vkb_error *err) {
    *out = NULL;
    if (!m) return vkb_fail(err, "CPU backend: no model");
    /* The loader has checked the shape (vkb_config_check: n_heads | dim, ...)
     * and that a head comes with its labels. */
    const vkb_config *c = &m->cfg;
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
    if (!be->fp64 && !(be->team = vkb_team_create(be->threads))) {
        cpu_destroy(&be->base);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "CPU backend: out of memory");
    }
    if (be->fp64 && (o->precision == VKB_PREC_BF16 || o->precision == VKB_PREC_INT8)) {
        vkb_failc(err, VKB_ERR_INPUT, "CPU backend: fp64 accumulation (the reference) cannot run in %s; "
                  "drop one of them", vkb_precision_name(o->precision));
        cpu_destroy(&be->base);
        return -1;
    }
    be->base.prec = VKB_PREC_FP32;
    /* bf16 / int8: the linear layers onto oneDNN first (unless it falls
     * back to fp32), then f32 copies of the rest only */
    if (((o->precision == VKB_PREC_BF16 || o->precision == VKB_PREC_INT8) &&
         setup_lowp(be, o->precision, o->dnnl_library, err)) ||
        convert_weights(be, m, !be->fp64, !be->fp64 && !be->lp, be->lp != NULL, err)) {
        cpu_destroy(&be->base);
        return -1;
    }
    int max_len = o->max_len > 0 && o->max_len < c->max_pos ? o->max_len : c->max_pos;
    size_t tokens = (size_t)(o->max_tokens > 0 ? o->max_tokens : vkb_defaults()->max_tokens);
    if (tokens < (size_t)max_len) tokens = (size_t)max_len;
    if (ensure_acts(be, tokens, err)) {
        cpu_destroy(&be->base);
        return -1;
    }
    if (be->fp64)
        snprintf(be->base.device, sizeof be->base.device,
                 "CPU reference (fp64 accumulation, %d thread%s)", be->threads,
                 be->threads == 1 ? "" : "s");
    else if (be->lp)
        snprintf(be->base.device, sizeof be->base.device,
                 "CPU (%s linear layers on oneDNN %s, %d thread%s)", vkb_lp_kind_name(vkb_lp_get_kind(be->lp)),
                 vkb_lp_isa_name(vkb_lp_dnnl(be->lp)), be->threads, be->threads == 1 ? "" : "s");
    else
        snprintf(be->base.device, sizeof be->base.device,
                 "CPU reference (fp32, %d thread%s)", be->threads, be->threads == 1 ? "" : "s");
    *out = &be->base;
    return 0;
}
