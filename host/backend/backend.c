/* backend.c - the calls every backend answers, through its vtable (backend.h). */
#include "backend.h"
#include "error.h"
#include <string.h>

/* The one check of a batch against its model, before any backend sees it:
 * backends may assume B, L >= 1, L <= max_pos, every length in [1, L],
 * every id in the vocabulary, and logits only from a model with a head. */
static int check_batch(const vkb_model *m, const vkb_batch *b, const vkb_outputs *out,
                       vkb_error *err) {
    const vkb_config *c = &m->cfg;
    int B = b->B, L = b->L;
    if (B <= 0 || L <= 0) return vkb_fail(err, "empty batch (B=%d, L=%d)", B, L);
    if (L > c->max_pos)
        return vkb_fail(err, "sequence length %d exceeds max_position_embeddings %d", L,
                        c->max_pos);
    if (out && out->logits && !m->w.has_head)
        return vkb_fail(err, "logits requested but the model has no classifier head "
                             "(a base DistilBertModel)");
    if (out && out->pooled && (out->pooling < VKB_POOL_MEAN || out->pooling > VKB_POOL_MAX))
        return vkb_fail(err, "pooled outputs requested with pooling mode %d (expected mean, cls "
                             "or max)", (int)out->pooling);
    for (int i = 0; i < B; i++)
        if (b->lens[i] < 1 || b->lens[i] > L)
            return vkb_fail(err, "lens[%d] = %d: sequence length outside [1, %d]", i,
                            b->lens[i], L);
    for (size_t i = 0; i < (size_t)B * (size_t)L; i++)
        if (b->ids[i] < 0 || b->ids[i] >= c->vocab_size)
            return vkb_fail(err, "token id %d at sequence %zu position %zu is outside the "
                                 "vocabulary [0, %d)",
                            b->ids[i], i / (size_t)L, i % (size_t)L, c->vocab_size);
    return 0;
}

int vkb_forward(vkb_backend *be, const vkb_batch *b, vkb_outputs *out, vkb_error *err) {
    if (check_batch(be->model, b, out, err)) return -1;
    return be->forward(be, b, out, err);
}

const vkb_default_values *vkb_defaults(void) {
    static const vkb_default_values d = {.max_len = 512, .batch_tokens = 8192,
                                         .max_tokens = 16384, .window = 2048};
    return &d;
}

int vkb_model_max_len(const vkb_model *m, int max_len) {
    int ml = max_len;
    if (ml <= 0) {
        ml = vkb_defaults()->max_len;
        int t = m->tok ? vkb_tokenizer_max_len(m->tok) : 0;
        if (t > 0 && t < ml) ml = t;
    }
    return ml > m->cfg.max_pos ? m->cfg.max_pos : ml;
}

void vkb_backend_free(vkb_backend *be) {
    if (be) be->destroy(be);
}

const char *vkb_backend_device(const vkb_backend *be) { return be->device; }

const char *vkb_backend_note(const vkb_backend *be) { return be->note; }

static const char *const prec_names[] = {"auto", "fp32", "fp16", "bf16", "int8"};

const char *vkb_precision_name(vkb_precision p) {
    return p >= VKB_PREC_AUTO && p <= VKB_PREC_INT8 ? prec_names[p] : "?";
}

int vkb_precision_parse(const char *s, vkb_precision *p) {
    for (int i = 0; s && i <= VKB_PREC_INT8; i++)
        if (!strcmp(s, prec_names[i])) { *p = (vkb_precision)i; return 0; }
    return -1;
}

static const char *const pool_names[] = {"none", "mean", "cls", "max"};

const char *vkb_pooling_name(vkb_pooling p) {
    return p >= VKB_POOL_NONE && p <= VKB_POOL_MAX ? pool_names[p] : "?";
}

int vkb_pooling_parse(const char *s, vkb_pooling *p) {
    for (int i = 0; s && i <= VKB_POOL_MAX; i++)
        if (!strcmp(s, pool_names[i])) { *p = (vkb_pooling)i; return 0; }
    return -1;
}
