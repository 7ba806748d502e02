/* vk_backend.c - the DistilBERT forward pass on Vulkan.
 *
 * At creation: weights are uploaded once (fp32 or fp16) into one
 * device-local buffer, activations get a few buffers sized for max_tokens,
 * and every descriptor set of the whole pass is written (they depend only on
 * buffers, never on the batch shape, which travels in push constants).
 * Per batch shape (B, L) the pass is recorded once into a command buffer and
 * replayed; a forward is: copy ids/lens into mapped memory, one submit, one
 * fence wait, read the results.
 *
 * Per layer (activations [T = B*L, .] row-major, QKV fused into one GEMM):
 *   QKV = X Wqkv^T + b          (gemm)      CTX = attention(QKV, lens)
 *   F   = CTX Wo^T + b + X      (gemm)      X1  = LN(F)
 *   H   = gelu(X1 W1^T + b)     (gemm)      F   = H W2^T + b + X1
 *   X   = LN(F)
 * (bias, GELU and the residual are applied in the GEMM epilogue, so each
 * LayerNorm reads one buffer)
 * Head: P = relu(X[first tokens] Wpre^T + b) (gemm, lda = L*dim), LOG = P Wc^T + b.
 * Only logits asked for (no hidden-state copies), the last layer's out_lin
 * and FFN run on the first token of each sequence (M = B, rows L*dim apart
 * in CTX, F, X1 and X; H dense): the head reads nothing else.  Its q|k|v
 * and attention still cover every token (the keys and values), and its
 * LayerNorms every row (the others' results are never read).  About 0.75
 * of one layer's GEMM work less (12% of distilbert's).
 *
 * Memory: X, X1 and F have buffers of their own; QKV, CTX, H, P and LOG are
 * regions of one scratch buffer S.  H (the FFN hidden layer) is written only
 * after attention and its output projection are done with QKV and CTX, and
 * P/LOG only after the last FFN, so QKV and CTX sit side by side where H
 * goes and P/LOG overlay it too: activations take T*(3*dim + max(hidden,
 * 4*dim)) values instead of T*(8*dim + hidden), 42% less for distilbert.
 * Every kernel is followed by a full barrier, which also orders the reuse. */
#include "vk_backend.h"
#include "error.h"
#include "vk_internal.h"
#include "cpu_pool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SHAPES 4

typedef struct wslice { VkDeviceSize off, bytes; VkBufferView view; } wslice;
typedef struct layer_w {
    wslice qkv_w, qkv_b, o_w, o_b, ln1_g, ln1_b, ff1_w, ff1_b, ff2_w, ff2_b, ln2_g, ln2_b;
} layer_w;
typedef struct gemm_op { VkDescriptorSet set; vkb_gemm_variant variant; } gemm_op;
/* An activation: a buffer region, with a texel view where a texel GEMM reads it. */
typedef struct act { VkBuffer buf; VkDeviceSize off, bytes; VkBufferView view; } act;
typedef struct layer_ops { gemm_op qkv, o, ff1, ff2; VkDescriptorSet attn, ln1, ln2; } layer_ops;
/* shape_cmd.hidden: copy every layer's output (`vkbert check`) / the last
 * layer's (pooled embeddings, pooled on the host from the read-back) */
enum { HID_ALL = 1, HID_LAST = 2 };
typedef struct shape_cmd {
    int B, L, hidden; /* HID_ALL | HID_LAST: hidden-state copies recorded */
    VkCommandBuffer cmd; uint64_t used;
    int prof; vkb_vk_marks marks; /* recorded with timestamps (vkbert bench) */
} shape_cmd;

typedef struct vk_backend {
    vkb_backend base;
    vkb_vk_ctx *c;
    vkb_vk_kernels k;
    int f16;
    vkb_gemm_variant variant;     /* the GEMM that runs (policy, after the coopmat self-test) */
    vkb_gemm_variant gcls[4];     /* per layer GEMM class (qkv, out, ffn1, ffn2): the
                                     policy's, tuned or = variant */
    int tuned;                    /* choices from the tuning cache applied */
    int tuned_tokens;             /* the entry's token budget when larger than T (else 0) */
    char gemm_note[160];          /* coopmat: why it is not used (vk_coopmat.c) */
    size_t es;                    /* bytes per stored value */
    int T, max_len;               /* token budget, longest sequence */
    int last_passes;              /* device passes of the last forward */
    int D, NL, nh, hd, hid, vocab, nlab, has_head;
    vkb_vk_buffer w;              /* all weights */
    wslice word, pos, eln_g, eln_b, pre_w, pre_b, cls_w, cls_b;
    layer_w *lw;
    vkb_vk_buffer X, X1, F, S;    /* activation buffers (S: scratch, see top) */
    act aX, aX1, aF, aQKV, aCTX, aH, aP, aLOG;
    vkb_vk_buffer ids, lens, out_logits, out_hidden, out_last; /* host-visible */
    VkDescriptorPool pool;
    VkDescriptorSet s_embed;
    gemm_op pre, cls;
    layer_ops *ops;
    shape_cmd shapes[N_SHAPES];
    uint64_t tick;
    vkb_vk_prof prof;             /* per-kernel timestamps (vk_profile.c) */
} vk_backend;

/* ---------------------------------------------------------------- weights */

/* Where tensor `r` (of layer l) goes in the weight buffer laid out by
 * upload_weights: q, k and v side by side in the fused QKV slices. */
static VkDeviceSize tensor_offset(const vk_backend *be, vkb_tensor_role r, int l) {
    const layer_w *L = l >= 0 ? &be->lw[l] : NULL;
    VkDeviceSize D = (VkDeviceSize)be->D * be->es;
    switch (r) {
    case VKB_T_WORD_EMB: return be->word.off;
    case VKB_T_POS_EMB: return be->pos.off;
    case VKB_T_EMB_LN_W: return be->eln_g.off;
    case VKB_T_EMB_LN_B: return be->eln_b.off;
    case VKB_T_Q_W: return L->qkv_w.off;
    case VKB_T_K_W: return L->qkv_w.off + D * (VkDeviceSize)be->D;
    case VKB_T_V_W: return L->qkv_w.off + 2 * D * (VkDeviceSize)be->D;
    case VKB_T_Q_B: return L->qkv_b.off;
    case VKB_T_K_B: return L->qkv_b.off + D;
    case VKB_T_V_B: return L->qkv_b.off + 2 * D;
    case VKB_T_O_W: return L->o_w.off;
    case VKB_T_O_B: return L->o_b.off;
    case VKB_T_SA_LN_W: return L->ln1_g.off;
    case VKB_T_SA_LN_B: return L->ln1_b.off;
    case VKB_T_FFN1_W: return L->ff1_w.off;
    case VKB_T_FFN1_B: return L->ff1_b.off;
    case VKB_T_FFN2_W: return L->ff2_w.off;
    case VKB_T_FFN2_B: return L->ff2_b.off;
    case VKB_T_OUT_LN_W: return L->ln2_g.off;
    case VKB_T_OUT_LN_B: return L->ln2_b.off;
    case VKB_T_PRE_W: return be->pre_w.off;
    case VKB_T_PRE_B: return be->pre_b.off;
    case VKB_T_CLS_W: return be->cls_w.off;
    case VKB_T_CLS_B: return be->cls_b.off;
    case VKB_T_COUNT: break;
    }
    return 0;
}

/* Lays out the weight buffer: every tensor at an offset aligned for storage
 * and texel-buffer descriptors.  QKV weights/biases are stored concatenated
 * ([3*dim, dim]) so one GEMM computes all three projections. */
static VkDeviceSize place(vk_backend *be, VkDeviceSize *at, wslice *s, int64_t n) {
    VkDeviceSize a = be->c->props.limits.minStorageBufferOffsetAlignment;
    VkDeviceSize t = be->c->props.limits.minTexelBufferOffsetAlignment;
    if (t > a) a = t;
    if (a < 64) a = 64;
    *at = (*at + a - 1) / a * a;
    s->off = *at;
    s->bytes = (VkDeviceSize)n * be->es;
    *at += s->bytes;
    return *at;
}

static int upload_weights(vk_backend *be, const vkb_model *m, int threads, int staged,
                          vkb_error *err) {
    /* sizes from the loader's tensors (distilbert_tensors.h); q, k, v fused */
#define N(role, l) vkb_model_tensor(m, VKB_T_##role, l)->numel
    VkDeviceSize at = 0;
    place(be, &at, &be->word, N(WORD_EMB, 0));
    place(be, &at, &be->pos, N(POS_EMB, 0));
    place(be, &at, &be->eln_g, N(EMB_LN_W, 0));
    place(be, &at, &be->eln_b, N(EMB_LN_B, 0));
    for (int l = 0; l < be->NL; l++) {
        layer_w *L = &be->lw[l];
        place(be, &at, &L->qkv_w, N(Q_W, l) + N(K_W, l) + N(V_W, l));
        place(be, &at, &L->qkv_b, N(Q_B, l) + N(K_B, l) + N(V_B, l));
        place(be, &at, &L->o_w, N(O_W, l));       place(be, &at, &L->o_b, N(O_B, l));
        place(be, &at, &L->ln1_g, N(SA_LN_W, l)); place(be, &at, &L->ln1_b, N(SA_LN_B, l));
        place(be, &at, &L->ff1_w, N(FFN1_W, l));  place(be, &at, &L->ff1_b, N(FFN1_B, l));
        place(be, &at, &L->ff2_w, N(FFN2_W, l));  place(be, &at, &L->ff2_b, N(FFN2_B, l));
        place(be, &at, &L->ln2_g, N(OUT_LN_W, l)); place(be, &at, &L->ln2_b, N(OUT_LN_B, l));
    }
    if (be->has_head) {
        place(be, &at, &be->pre_w, N(PRE_W, 0)); place(be, &at, &be->pre_b, N(PRE_B, 0));
        place(be, &at, &be->cls_w, N(CLS_W, 0)); place(be, &at, &be->cls_b, N(CLS_B, 0));
    }
#undef N
    if (vkb_vk_buffer_create(be->c, at, staged ? VKB_MEM_DEVICE : VKB_MEM_DEVICE_MAPPED, "weights",
                             &be->w, err)) {
        /* smaller batches cannot help when the weights alone do not fit */
        if (err && err->code == VKB_ERR_DEVICE_OOM) err->code = VKB_ERR_WEIGHTS_OOM;
        return -1;
    }
    if ((VkDeviceSize)be->word.bytes > be->c->props.limits.maxStorageBufferRange)
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "tensor %sembeddings.word_embeddings.weight (%.0f MiB) "
                        "exceeds the device's maxStorageBufferRange (%u bytes)", m->prefix,
                        (double)be->word.bytes / 1048576.0, be->c->props.limits.maxStorageBufferRange);
    /* Every tensor of the table, as the loader checked it. */
    int rc = 0;
    vkb_vk_uploader up_, *up = &up_;
    vkb_vk_uploader_init(up, be->c, &be->w, be->f16, threads);
    for (int i = 0; i < vkb_model_n_tensors(m) && !rc; i++) {
        int l;
        vkb_tensor_role r = vkb_model_tensor_role(m, i, &l);
        if (vkb_vk_uploader_put(up, &m->w.t[i], tensor_offset(be, r, l), err)) {
            char name[160];
            vkb_model_tensor_name(m, i, name, sizeof name);
            rc = vkb_fail(err, "uploading %s: %s", name, err->msg);
        }
    }
    rc = rc || vkb_vk_uploader_flush(up, err); /* the last staging fill */
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------ activations */

static VkDeviceSize act_align(const vk_backend *be, VkDeviceSize n) {
    VkDeviceSize a = be->c->props.limits.minStorageBufferOffsetAlignment;
    VkDeviceSize t = be->c->props.limits.minTexelBufferOffsetAlignment;
    if (t > a) a = t;
    if (a < 64) a = 64;
    return (n + a - 1) / a * a;
}

/* A region of n values at byte offset off of buffer b (sizes rounded up to
 * whole 16-byte texels, so texel views cover them exactly). */
static act region(const vkb_vk_buffer *b, VkDeviceSize off, size_t n, size_t es) {
    return (act){.buf = b->buf, .off = off, .bytes = ((VkDeviceSize)n * es + 15) / 16 * 16};
}

static int make_acts(vk_backend *be, vkb_error *err) {
    vkb_vk_ctx *c = be->c;
    size_t T = (size_t)be->T, D = (size_t)be->D, es = be->es, nl = be->nlab ? (size_t)be->nlab : 1;
    VkDeviceSize row = act_align(be, T * D * es + 16);   /* one [T, dim] region */
    VkDeviceSize ctx_off = act_align(be, T * 3 * D * es + 16);
    VkDeviceSize s_bytes = T * (size_t)be->hid * es + 16;  /* H */
    if (ctx_off + row > s_bytes) s_bytes = ctx_off + row; /* QKV + CTX */
    if (row + T * nl * es + 16 > s_bytes) s_bytes = row + T * nl * es + 16; /* P + LOG */
    if (vkb_vk_buffer_create(c, row, VKB_MEM_DEVICE, "X", &be->X, err) ||
        vkb_vk_buffer_create(c, row, VKB_MEM_DEVICE, "X1", &be->X1, err) ||
        vkb_vk_buffer_create(c, row, VKB_MEM_DEVICE, "F", &be->F, err) ||
        vkb_vk_buffer_create(c, s_bytes, VKB_MEM_DEVICE, "scratch (QKV, CTX, FFN hidden, head)", &be->S, err))
        return -1;
    be->aX = region(&be->X, 0, T * D, es);
    be->aX1 = region(&be->X1, 0, T * D, es);
    be->aF = region(&be->F, 0, T * D, es);
    be->aQKV = region(&be->S, 0, T * 3 * D, es);
    be->aCTX = region(&be->S, ctx_off, T * D, es);
    be->aH = region(&be->S, 0, T * (size_t)be->hid, es);
    be->aP = region(&be->S, 0, T * D, es);
    be->aLOG = region(&be->S, row, T * nl, es);
    return 0;
}

/* ------------------------------------------------------- descriptor sets */

static vkb_vk_bind bw(vk_backend *be, const wslice *s) {
    return (vkb_vk_bind){.buf = be->w.buf, .off = s->off, .range = s->bytes, .view = s->view};
}
static vkb_vk_bind bb(const vkb_vk_buffer *b) {
    return (vkb_vk_bind){.buf = b->buf, .off = 0, .range = VK_WHOLE_SIZE};
}
static vkb_vk_bind ba(const act *a) {
    return (vkb_vk_bind){.buf = a->buf, .off = a->off, .range = a->bytes, .view = a->view};
}

/* A GEMM op reading A (with view va for the texel variant), weights W, bias
 * b, writing Y, adding the residual R after the activation (R NULL: none).
 * The texel variant needs K and lda multiples of 4 (else tiled runs). */
static int make_gemm(vk_backend *be, gemm_op *g, vkb_gemm_variant want, const act *A, wslice *W,
                     const wslice *b, const act *Y, const act *R, int K, int lda, vkb_error *err) {
    g->variant = want == VKB_GEMM_TEXEL && vkb_vk_texel_ok(K, lda) && A->view
                 ? VKB_GEMM_TEXEL : VKB_GEMM_TILED;
    if (want != VKB_GEMM_TEXEL)
        g->variant = want; /* linear.comp's configurations: any K, lda */
    if (g->variant == VKB_GEMM_TEXEL && !W->view &&
        vkb_vk_view_create(be->c, be->w.buf, W->off, W->bytes, be->f16, &W->view, err))
        return -1;
    /* no residual: the bias takes binding 4, which the shader then never reads */
    vkb_vk_bind bind[5] = {ba(A), bw(be, W), bw(be, b), ba(Y), R ? ba(R) : bw(be, b)};
    /* all GEMM pipelines share one set layout (5 buffers; texel: 2 views) */
    return vkb_vk_set_create(be->c, be->pool,
                             g->variant == VKB_GEMM_TEXEL ? &be->k.gemm_texel : &be->k.gemm_tiled,
                             bind, &g->set, err);
}

/* LayerNorm of x (which holds F + residual, added by the GEMM before it) into y. */
static int make_ln(vk_backend *be, VkDescriptorSet *set, const act *x, const wslice *g,
                   const wslice *b, const act *y, vkb_error *err) {
    vkb_vk_bind bind[4] = {ba(x), bw(be, g), bw(be, b), ba(y)};
    return vkb_vk_set_create(be->c, be->pool, &be->k.ln, bind, set, err);
}

static int uses_texel(const vk_backend *be) {
    int t = be->variant == VKB_GEMM_TEXEL;
    for (int i = 0; i < 4; i++) t |= be->gcls[i] == VKB_GEMM_TEXEL;
    return t;
}

static int make_sets(vk_backend *be, vkb_error *err) {
    uint32_t nsets = 7u * (uint32_t)be->NL + 3u;
    if (vkb_vk_pool_create(be->c, nsets, 6 * nsets, 2 * nsets, &be->pool, err)) return -1;
    if (uses_texel(be)) {
        act *in[5] = {&be->aX, &be->aX1, &be->aCTX, &be->aH, &be->aP}; /* what GEMMs read */
        for (int i = 0; i < 5; i++)
            if (vkb_vk_view_create(be->c, in[i]->buf, in[i]->off, in[i]->bytes, be->f16, &in[i]->view, err))
                return -1;
    }
    vkb_vk_bind eb[6] = {bb(&be->ids), bw(be, &be->word), bw(be, &be->pos),
                         bw(be, &be->eln_g), bw(be, &be->eln_b), ba(&be->aX)};
    if (vkb_vk_set_create(be->c, be->pool, &be->k.embed, eb, &be->s_embed, err)) return -1;
    for (int l = 0; l < be->NL; l++) {
        layer_w *L = &be->lw[l];
        layer_ops *o = &be->ops[l];
        vkb_vk_bind ab[3] = {ba(&be->aQKV), bb(&be->lens), ba(&be->aCTX)};
        /* the output projections add the residual in their epilogue:
         * F = CTX Wo^T + bo + X, X1 = LN1(F); F = H W2^T + b2 + X1, X = LN2(F) */
        if (make_gemm(be, &o->qkv, be->gcls[0], &be->aX, &L->qkv_w, &L->qkv_b, &be->aQKV, NULL, be->D, be->D, err) ||
            vkb_vk_set_create(be->c, be->pool, &be->k.attn, ab, &o->attn, err) ||
            make_gemm(be, &o->o, be->gcls[1], &be->aCTX, &L->o_w, &L->o_b, &be->aF, &be->aX, be->D, be->D, err) ||
            make_ln(be, &o->ln1, &be->aF, &L->ln1_g, &L->ln1_b, &be->aX1, err) ||
            make_gemm(be, &o->ff1, be->gcls[2], &be->aX1, &L->ff1_w, &L->ff1_b, &be->aH, NULL, be->D, be->D, err) ||
            make_gemm(be, &o->ff2, be->gcls[3], &be->aH, &L->ff2_w, &L->ff2_b, &be->aF, &be->aX1, be->hid, be->hid, err) ||
            make_ln(be, &o->ln2, &be->aF, &L->ln2_g, &L->ln2_b, &be->aX, err))
            return -1;
    }
    if (be->has_head &&
        (make_gemm(be, &be->pre, be->variant, &be->aX, &be->pre_w, &be->pre_b, &be->aP, NULL, be->D, be->D, err) ||
         make_gemm(be, &be->cls, be->variant, &be->aP, &be->cls_w, &be->cls_b, &be->aLOG, NULL, be->D, be->D, err)))
        return -1;
    return 0;
}

/* ------------------------------------------------------------- recording */

static void rec_gemm(vk_backend *be, VkCommandBuffer cmd, const gemm_op *g, int M, int N,
                     int K, int lda, int ldy, vkb_act act, int res) {
    vkb_vk_gemm_pc pc = {(uint32_t)M, (uint32_t)N, (uint32_t)K, (uint32_t)lda, (uint32_t)ldy,
                         (uint32_t)act, (uint32_t)res};
    uint32_t gr[3];
    vkb_vk_gemm_groups(g->variant, M, N, gr);
    const vkb_vk_pipe *p = vkb_vk_gemm_pipe(&be->k, g->variant, M, N); /* made at creation */
    vkb_vk_dispatch(be->c, cmd, p, g->set, &pc, gr[0], gr[1], gr[2]);
    vkb_vk_barrier(be->c, cmd);
}

static void rec_copy(vk_backend *be, VkCommandBuffer cmd, const act *src, VkBuffer dst,
                     VkDeviceSize dst_off, VkDeviceSize n) {
    VkBufferCopy r = {.srcOffset = src->off, .dstOffset = dst_off, .size = n};
    be->c->d.vkCmdCopyBuffer(cmd, src->buf, dst, 1, &r);
    vkb_vk_barrier(be->c, cmd);
}

static int record(vk_backend *be, shape_cmd *s, vkb_error *err) {
    vkb_vk_ctx *c = be->c;
    VkCommandBuffer cmd = s->cmd;
    int B = s->B, L = s->L, T = B * L, D = be->D;
    VkResult r = c->d.vkResetCommandBuffer(cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (r == VK_SUCCESS) r = c->d.vkBeginCommandBuffer(cmd, &bi);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording the forward pass", err);
    uint32_t g[3];
    VkDeviceSize layer_bytes = (VkDeviceSize)T * D * be->es;
    /* with profiling on, a timestamp closes every kernel (and its barrier) */
    s->prof = be->prof.on;
    s->marks.n = 0;
    if (s->prof) vkb_vk_prof_begin(c, &be->prof, cmd, &s->marks);
#define MARK(cat) do { if (s->prof) vkb_vk_prof_mark(c, &be->prof, cmd, &s->marks, (cat)); } while (0)

    vkb_vk_ln_pc lpc = {(uint32_t)T, (uint32_t)D, (uint32_t)L, VKB_LN_EPS};
    vkb_vk_rows_groups(T, g);
    vkb_vk_dispatch(c, cmd, &be->k.embed, be->s_embed, &lpc, g[0], g[1], g[2]);
    vkb_vk_barrier(c, cmd);
    MARK(VKB_K_EMBED);
    if (s->hidden & HID_ALL) { rec_copy(be, cmd, &be->aX, be->out_hidden.buf, 0, layer_bytes); MARK(VKB_K_OTHER); }

    vkb_vk_attn_pc apc = {(uint32_t)L, (uint32_t)(3 * D), 0, (uint32_t)D, (uint32_t)(2 * D),
                          (uint32_t)D, 1.0f / sqrtf((float)be->hd)};
    int cls = be->has_head && !s->hidden; /* logits only: see the top of the file */
    for (int l = 0; l < be->NL; l++) {
        layer_ops *o = &be->ops[l];
        int last_cls = cls && l == be->NL - 1;
        int Mr = last_cls ? B : T, ld = last_cls ? L * D : D; /* rows, and their stride */
        rec_gemm(be, cmd, &o->qkv, T, 3 * D, D, D, 3 * D, VKB_ACT_NONE, 0);
        MARK(VKB_K_QKV);
        vkb_vk_attn_groups(&be->k, B, L, be->nh, g);
        vkb_vk_dispatch(c, cmd, &be->k.attn, o->attn, &apc, g[0], g[1], g[2]);
        vkb_vk_barrier(c, cmd);
        MARK(VKB_K_ATTN);
        rec_gemm(be, cmd, &o->o, Mr, D, D, ld, ld, VKB_ACT_NONE, 1); /* + X */
        MARK(VKB_K_ATTN_OUT);
        vkb_vk_rows_groups(T, g);
        vkb_vk_dispatch(c, cmd, &be->k.ln, o->ln1, &lpc, g[0], g[1], g[2]);
        vkb_vk_barrier(c, cmd);
        MARK(VKB_K_LN);
        rec_gemm(be, cmd, &o->ff1, Mr, be->hid, D, ld, be->hid, VKB_ACT_GELU, 0);
        MARK(VKB_K_FFN1);
        rec_gemm(be, cmd, &o->ff2, Mr, D, be->hid, be->hid, ld, VKB_ACT_NONE, 1); /* + X1 */
        MARK(VKB_K_FFN2);
        vkb_vk_dispatch(c, cmd, &be->k.ln, o->ln2, &lpc, g[0], g[1], g[2]);
        vkb_vk_barrier(c, cmd);
        MARK(VKB_K_LN);
        if (s->hidden & HID_ALL) {
            rec_copy(be, cmd, &be->aX, be->out_hidden.buf, (VkDeviceSize)(l + 1) * layer_bytes, layer_bytes);
            MARK(VKB_K_OTHER);
        }
    }
    if (s->hidden & HID_LAST) {
        rec_copy(be, cmd, &be->aX, be->out_last.buf, 0, layer_bytes);
        MARK(VKB_K_OTHER);
    }
    if (be->has_head) {
        /* first token of each sequence: rows b*L of X, i.e. lda = L*dim */
        rec_gemm(be, cmd, &be->pre, B, D, D, L * D, D, VKB_ACT_RELU, 0);
        rec_gemm(be, cmd, &be->cls, B, be->nlab, D, D, be->nlab, VKB_ACT_NONE, 0);
        MARK(VKB_K_HEAD);
        rec_copy(be, cmd, &be->aLOG, be->out_logits.buf, 0, (VkDeviceSize)B * be->nlab * be->es);
        MARK(VKB_K_OTHER);
    }
#undef MARK
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    c->d.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                              0, 1, &mb, 0, NULL, 0, NULL);
    r = c->d.vkEndCommandBuffer(cmd);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording the forward pass", err);
    return 0;
}

/* The recorded command buffer for (B, L, hidden): cached, LRU-replaced. */
static shape_cmd *get_shape(vk_backend *be, int B, int L, int hidden, vkb_error *err) {
    shape_cmd *victim = NULL;
    for (int i = 0; i < N_SHAPES; i++) {
        shape_cmd *s = &be->shapes[i];
        if (s->cmd && s->B == B && s->L == L && s->hidden == hidden && s->prof == be->prof.on) {
            s->used = ++be->tick;
            return s;
        }
        if (!victim || !s->cmd || (victim->cmd && s->used < victim->used)) victim = s;
    }
    if (!victim->cmd) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                          .commandPool = be->c->pool,
                                          .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                          .commandBufferCount = 1};
        VkResult r = be->c->d.vkAllocateCommandBuffers(be->c->dev, &ai, &victim->cmd);
        if (r != VK_SUCCESS) { vkb_vk_fail(be->c, r, "allocating a command buffer", err); return NULL; }
    }
    victim->B = B; victim->L = L; victim->hidden = hidden; victim->used = ++be->tick;
    if (record(be, victim, err)) { victim->B = 0; return NULL; }
    return victim;
}

/* ---------------------------------------------------------------- forward */

/* One device pass: a batch within the token budget. */
static int forward_pass(vk_backend *be, const vkb_batch *b, vkb_outputs *out, vkb_error *err) {
    vkb_vk_ctx *c = be->c;
    int B = b->B, L = b->L, T = B * L;
    int hidden = (out->hidden ? HID_ALL : 0) | (out->pooled ? HID_LAST : 0);
    VkDeviceSize hbytes = (VkDeviceSize)(be->NL + 1) * T * be->D * be->es;
    VkDeviceSize lbytes = (VkDeviceSize)T * be->D * be->es;
    if (out->pooled && be->out_last.size < lbytes) {
        /* pooled embeddings: the last layer's read-back, sized for the token
         * budget on first use; commands that used a smaller one are dropped */
        c->d.vkDeviceWaitIdle(c->dev);
        for (int i = 0; i < N_SHAPES; i++)
            if (be->shapes[i].cmd && (be->shapes[i].hidden & HID_LAST)) be->shapes[i].B = 0;
        vkb_vk_buffer_destroy(c, &be->out_last);
        VkDeviceSize want = (VkDeviceSize)be->T * be->D * be->es;
        if (vkb_vk_buffer_create(c, want > lbytes ? want : lbytes, VKB_MEM_HOST, "last-layer readback",
                                 &be->out_last, err)) return -1;
    }
    if ((hidden & HID_ALL) && be->out_hidden.size < hbytes) {
        /* check mode only: grow the readback buffer, drop commands that used the old one */
        c->d.vkDeviceWaitIdle(c->dev);
        for (int i = 0; i < N_SHAPES; i++)
            if (be->shapes[i].cmd && (be->shapes[i].hidden & HID_ALL)) be->shapes[i].B = 0;
        vkb_vk_buffer_destroy(c, &be->out_hidden);
        if (vkb_vk_buffer_create(c, hbytes, VKB_MEM_HOST, "hidden-state readback", &be->out_hidden, err)) return -1;
    }
    memcpy(be->ids.map, b->ids, (size_t)T * sizeof(int32_t));
    memcpy(be->lens.map, b->lens, (size_t)B * sizeof(int32_t));
    shape_cmd *s = get_shape(be, B, L, hidden, err);
    if (!s) return -1;
    /* generous limit: 30 s plus the pass at 0.1 GFLOP/s, so a slow CPU
     * implementation finishes but a hung device is reported */
    double flops = 2.0 * T * (4.0 * be->D * be->D + 2.0 * be->D * be->hid) * be->NL +
                   4.0 * B * (double)L * L * be->D * be->NL;
    uint64_t timeout = (uint64_t)(30e9 + flops / 0.1);
    if (vkb_vk_submit_wait(c, s->cmd, timeout, "running the forward pass", err)) return -1;
    if (s->prof && vkb_vk_prof_collect(c, &be->prof, &s->marks, err)) return -1;
    if (vkb_vk_ctx_check_validation(c, err)) return -1;
    if (out->logits) vkb_vk_unpack(be->out_logits.map, out->logits, (size_t)B * be->nlab, be->f16);
    if (out->hidden) vkb_vk_unpack(be->out_hidden.map, out->hidden, (size_t)(be->NL + 1) * T * be->D, be->f16);
    if (out->pooled) {
        float *x = malloc((size_t)T * be->D * sizeof *x);
        if (!x) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory for the last hidden state (%d tokens)", T);
        vkb_vk_unpack(be->out_last.map, x, (size_t)T * be->D, be->f16);
        vkb_cpu_pool(x, b->lens, out->pooled, B, L, be->D, (int)out->pooling);
        free(x);
    }
    return 0;
}

/* How a batch of B sequences of L tokens is cut into device passes: the
 * fewest passes whose activations fit the token budget, with the sequences
 * spread evenly so every pass but the last has the same shape (one recorded
 * command buffer serves them all). */
static int passes_for(const vk_backend *be, int B, int L, int *per_pass) {
    int fit = be->T / L; /* >= 1: max_len <= T is checked at creation */
    int n = (B + fit - 1) / fit;
    *per_pass = (B + n - 1) / n;
    return n;
}

static void vk_destroy(vkb_backend *self);
/* The Vulkan backend behind a vkb_backend, or NULL for any other kind: its
 * destroy function is the type tag (the forward/destroy callbacks are only
 * ever called on their own kind). */
static vk_backend *as_vk(const vkb_backend *self) {
    return self && self->destroy == vk_destroy ? (vk_backend *)(uintptr_t)self : NULL;
}

void vkb_vk_backend_passes(const vkb_backend *self, int *token_budget, int *last_passes) {
    const vk_backend *be = as_vk(self);
    *token_budget = be ? be->T : 0;
    *last_passes = be ? be->last_passes : 0;
}

/* A batch larger than the token budget (which sizes the activation buffers,
 * and on some devices is capped by maxStorageBufferRange: 10,922 tokens of
 * distilbert-base on lavapipe) runs as several passes over whole sequences;
 * each sequence's result does not depend on its batch-mates. */
static int vk_forward(vkb_backend *self, const vkb_batch *b, vkb_outputs *out, vkb_error *err) {
    vk_backend *be = (vk_backend *)self;
    if (vkb_vk_ctx_check_validation(be->c, err)) return -1;
    int B = b->B, L = b->L;
    /* the batch was checked by vkb_forward (backend.c); L may still exceed
     * what this backend was created for */
    if (L > be->max_len)
        return vkb_fail(err, "sequence length %d exceeds this backend's max_len %d", L, be->max_len);
    int per, n = passes_for(be, B, L, &per);
    be->last_passes = n;
    if (n == 1) {
        if (forward_pass(be, b, out, err)) return -1;
        if (be->prof.on) be->prof.forwards++;
        return 0;
    }
    /* hidden states are [layer][token][dim] per pass: gather them per pass */
    size_t row = (size_t)be->D, per_layer = (size_t)per * L * row;
    float *hs = out->hidden ? malloc((be->NL + 1) * per_layer * sizeof *hs) : NULL;
    if (out->hidden && !hs) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory for hidden states");
    int rc = 0;
    for (int i0 = 0; i0 < B && !rc; i0 += per) {
        int bs = B - i0 < per ? B - i0 : per;
        vkb_batch sub = {bs, L, b->ids + (size_t)i0 * L, b->lens + i0};
        vkb_outputs so = {out->logits ? out->logits + (size_t)i0 * be->nlab : NULL, hs,
                          out->pooled ? out->pooled + (size_t)i0 * row : NULL, out->pooling};
        rc = forward_pass(be, &sub, &so, err);
        for (int l = 0; hs && !rc && l <= be->NL; l++)
            memcpy(out->hidden + ((size_t)l * B + i0) * L * row, hs + (size_t)l * bs * L * row,
                   (size_t)bs * L * row * sizeof *hs);
    }
    free(hs);
    if (!rc && be->prof.on) be->prof.forwards++;
    return rc;
}

/* ----------------------------------------------------------- create/free */

static void free_resources(vk_backend *be) {
    vkb_vk_ctx *c = be->c;
    if (!c || !c->dev) return;
    c->d.vkDeviceWaitIdle(c->dev);
    for (int i = 0; i < N_SHAPES; i++)
        if (be->shapes[i].cmd) c->d.vkFreeCommandBuffers(c->dev, c->pool, 1, &be->shapes[i].cmd);
    if (be->pool) c->d.vkDestroyDescriptorPool(c->dev, be->pool, NULL);
    VkBufferView views[] = {be->aX.view, be->aX1.view, be->aCTX.view, be->aH.view, be->aP.view};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        if (views[i]) c->d.vkDestroyBufferView(c->dev, views[i], NULL);
    wslice *ws[] = {&be->pre_w, &be->cls_w};
    for (size_t i = 0; i < 2; i++) if (ws[i]->view) c->d.vkDestroyBufferView(c->dev, ws[i]->view, NULL);
    if (be->lw)
        for (int l = 0; l < be->NL; l++) {
            wslice *lv[] = {&be->lw[l].qkv_w, &be->lw[l].o_w, &be->lw[l].ff1_w, &be->lw[l].ff2_w};
            for (int i = 0; i < 4; i++) if (lv[i]->view) c->d.vkDestroyBufferView(c->dev, lv[i]->view, NULL);
        }
    vkb_vk_buffer *bufs[] = {&be->w, &be->X, &be->X1, &be->F, &be->S,
                             &be->ids, &be->lens, &be->out_logits, &be->out_hidden, &be->out_last};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vkb_vk_buffer_destroy(c, bufs[i]);
    vkb_vk_kernels_destroy(c, &be->k);
    vkb_vk_prof_destroy(c, &be->prof);
}

static void vk_destroy(vkb_backend *self) {
    vk_backend *be = (vk_backend *)self;
    free_resources(be);
    vkb_vk_ctx_destroy(be->c);
    free(be->lw);
    free(be->ops);
    free(be);
}

int vkb_vk_backend_close(vkb_backend *self, vkb_error *err) {
    vk_backend *be = as_vk(self);
    if (!be) { vkb_backend_free(self); return 0; }
    free_resources(be);
    vkb_vk_ctx_release_device(be->c); /* leaked-object messages arrive here */
    int rc = vkb_vk_ctx_check_validation(be->c, err);
    vk_destroy(self);
    return rc;
}

vkb_vk_ctx *vkb_vk_backend_ctx(vkb_backend *self) {
    vk_backend *be = as_vk(self);
    return be ? be->c : NULL;
}
/* -1 / AUTO for a backend that is not a Vulkan one */
int vkb_vk_backend_f16(const vkb_backend *self) {
    const vk_backend *be = as_vk(self);
    return be ? be->f16 : -1;
}
vkb_gemm_variant vkb_vk_backend_gemm_variant(const vkb_backend *self) {
    const vk_backend *be = as_vk(self);
    return be ? be->variant : VKB_GEMM_AUTO;
}
vkb_ln_variant vkb_vk_backend_ln_variant(const vkb_backend *self) {
    const vk_backend *be = as_vk(self);
    return be ? be->k.ln_form : VKB_LN_AUTO;
}
vkb_attn_variant vkb_vk_backend_attn_variant(const vkb_backend *self) {
    const vk_backend *be = as_vk(self);
    return be ? be->k.attn_form : VKB_ATTN_AUTO;
}

vkb_vk_prof *vkb_vk_backend_prof(vkb_backend *self) {
    vk_backend *be = as_vk(self);
    return be ? &be->prof : NULL;
}

/* Drops the recorded passes (they are recorded again on next use), e.g.
 * after profiling was turned on or off. */
void vkb_vk_backend_rerecord(vkb_backend *self) {
    vk_backend *be = as_vk(self);
    if (!be) return;
    be->c->d.vkDeviceWaitIdle(be->c->dev);
    for (int i = 0; i < N_SHAPES; i++) be->shapes[i].B = 0;
}

void vkb_vk_backend_bytes(const vkb_backend *self, uint64_t *weights, uint64_t *activations) {
    const vk_backend *be = as_vk(self);
    *weights = *activations = 0;
    if (!be) return;
    *weights = be->w.mem_bytes;
    const vkb_vk_buffer *a[] = {&be->X, &be->X1, &be->F, &be->S};
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) n += a[i]->mem_bytes;
    *activations = n;
}


int vkb_vk_backend_weights_mapped(const vkb_backend *self) {
    const vk_backend *be = as_vk(self);
    return be && be->w.map != NULL;
}

int vkb_vk_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                          vkb_backend **out, vkb_error *err) {
    *out = NULL;
    const vkb_config *cfg = &m->cfg; /* checked by the loader (n_heads | dim, ...) */
    vk_backend *be = calloc(1, sizeof *be);
    if (!be) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    be->base.forward = vk_forward;
    be->base.destroy = vk_destroy;
    be->base.model = m;
    be->D = cfg->dim; be->NL = cfg->n_layers; be->nh = cfg->n_heads; be->hd = cfg->dim / cfg->n_heads;
    be->hid = cfg->hidden_dim; be->vocab = cfg->vocab_size;
    be->has_head = m->w.has_head && cfg->n_labels > 0;
    be->nlab = be->has_head ? cfg->n_labels : 0;
    be->lw = calloc((size_t)(be->NL ? be->NL : 1), sizeof *be->lw);
    be->ops = calloc((size_t)(be->NL ? be->NL : 1), sizeof *be->ops);
    if (!be->lw || !be->ops) { vk_destroy(&be->base); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
    if (vkb_vk_ctx_create(o->device, o->validation, &be->c, err)) { vk_destroy(&be->base); return -1; }
    vkb_vk_ctx *c = be->c;
    c->mem_cap = (VkDeviceSize)o->max_device_mem;

    /* precision and kernels: the device policy (vk_policy.c), with the
     * variants o->vulkan forces */
    vkb_vk_policy pol;
    if (vkb_vk_policy_for_ctx(c, o->precision, &o->vulkan, &pol, err)) { vk_destroy(&be->base); return -1; }
    /* the tuning cache's choices for this device, precision and shape (a
     * forced variant wins; vk_tune.c) */
    be->T = o->max_tokens > 0 ? o->max_tokens : vkb_defaults()->max_tokens;
    if (o->vulkan.tune_dir) {
        vkb_tune_shape ts;
        vkb_tune_shape_of(m, be->T, &ts);
        vkb_vk_tuned tuned;
        if (vkb_vk_tune_lookup(o->vulkan.tune_dir, c, pol.f16, &ts, &tuned) == 0)
            vkb_vk_policy_tuned(&c->caps, &o->vulkan, &tuned, &pol);
        if (pol.tuned && tuned.tokens != be->T) be->tuned_tokens = tuned.tokens;
    }
    be->f16 = pol.f16;
    be->es = be->f16 ? 2 : 4;
    be->variant = pol.gemm;
    for (int i = 0; i < 4; i++) be->gcls[i] = pol.gemm_cls[i];
    be->tuned = pol.tuned;

    /* Token budget: the widest activation ([T, max(hidden, 3*dim)]) must fit
     * one storage-buffer descriptor (and a texel view). */
    be->max_len = o->max_len > 0 && o->max_len < cfg->max_pos ? o->max_len : cfg->max_pos;
    int widest = be->hid > 3 * be->D ? be->hid : 3 * be->D;
    uint64_t lim = c->props.limits.maxStorageBufferRange / ((uint64_t)widest * be->es);
    if (uses_texel(be)) {
        uint64_t tl = (uint64_t)c->props.limits.maxTexelBufferElements * 4 / (uint64_t)widest;
        if (tl < lim) lim = tl;
    }
    if ((uint64_t)be->T > lim) be->T = (int)lim;
    if (be->T < be->max_len) {
        vkb_fail(err, "device %s cannot hold one sequence of %d tokens of this model "
                 "(maxStorageBufferRange %u bytes)", c->props.deviceName, be->max_len,
                 c->props.limits.maxStorageBufferRange);
        vk_destroy(&be->base);
        return -1;
    }
    size_t T = (size_t)be->T, es = be->es;
    int rc = vkb_vk_kernels_create(c, &pol, be->hd, &be->k, err);
    if (!rc) { /* coopmat variants: their self-test (tiled, or coopmat for coopmat_l, where it fails) */
        vkb_gemm_variant vars[5] = {be->variant, be->gcls[0], be->gcls[1], be->gcls[2], be->gcls[3]};
        rc = vkb_vk_gemm_confirm(c, &be->k, pol.gemm_forced, vars, 5, be->gemm_note,
                                 sizeof be->gemm_note, err);
        be->variant = vars[0];
        for (int i = 0; i < 4; i++) be->gcls[i] = vars[i + 1];
    }
    rc = rc || upload_weights(be, m, o->threads, !pol.mapped_weights, err);
    rc = rc || make_acts(be, err);
    rc = rc || vkb_vk_buffer_create(c, T * 4, VKB_MEM_HOST, "ids", &be->ids, err);
    rc = rc || vkb_vk_buffer_create(c, T * 4, VKB_MEM_HOST, "lens", &be->lens, err);
    rc = rc || vkb_vk_buffer_create(c, T * (size_t)(be->nlab ? be->nlab : 1) * es, VKB_MEM_HOST, "logits", &be->out_logits, err);
    rc = rc || make_sets(be, err);
    rc = rc || vkb_vk_ctx_check_validation(c, err);
    if (rc) { vk_destroy(&be->base); return -1; }
    char gemm_s[64];
    if (be->gcls[0] == be->variant && be->gcls[1] == be->variant && be->gcls[2] == be->variant &&
        be->gcls[3] == be->variant)
        snprintf(gemm_s, sizeof gemm_s, "%s", vkb_gemm_variant_name(be->variant));
    else
        snprintf(gemm_s, sizeof gemm_s, "%s/%s/%s/%s", vkb_gemm_variant_name(be->gcls[0]),
                 vkb_gemm_variant_name(be->gcls[1]), vkb_gemm_variant_name(be->gcls[2]),
                 vkb_gemm_variant_name(be->gcls[3]));
    char tuned_s[48] = "";
    if (be->tuned && be->tuned_tokens) /* an entry tuned at a larger token budget */
        snprintf(tuned_s, sizeof tuned_s, ", tuned at %d tokens", be->tuned_tokens);
    else if (be->tuned)
        snprintf(tuned_s, sizeof tuned_s, ", tuned");
    snprintf(be->base.device, sizeof be->base.device,
             "%.60s (Vulkan, %s%s, %.40s GEMM, %s layernorm, %s attention%s%s%.80s)", c->props.deviceName,
             be->f16 ? "fp16" : "fp32", tuned_s, gemm_s,
             vkb_ln_variant_name(be->k.ln_form), vkb_attn_variant_name(be->k.attn_form),
             be->k.attn_coop ? " (coopmat)" : "", be->gemm_note[0] ? "; " : "", be->gemm_note);
    *out = &be->base;
    return 0;
}
