/* distilbert_tensors.c - the table of DistilBERT's tensors (see the header). */
#include "distilbert_tensors.h"
#include <stdio.h>

#define M VKB_TS_MODEL
#define L VKB_TS_LAYER
#define H VKB_TS_HEAD
#define N VKB_TD_NONE
#define D VKB_TD_DIM
#define F VKB_TD_HIDDEN
const vkb_tensor_spec vkb_tensor_table[VKB_T_COUNT] = {
    {VKB_T_WORD_EMB, "embeddings.word_embeddings.weight", M, VKB_TD_VOCAB, D, VKB_TK_EMBEDDING},
    {VKB_T_POS_EMB, "embeddings.position_embeddings.weight", M, VKB_TD_MAX_POS, D, VKB_TK_EMBEDDING},
    {VKB_T_EMB_LN_W, "embeddings.LayerNorm.weight", M, D, N, VKB_TK_LN_WEIGHT},
    {VKB_T_EMB_LN_B, "embeddings.LayerNorm.bias", M, D, N, VKB_TK_LN_BIAS},
    {VKB_T_Q_W, "transformer.layer.%d.attention.q_lin.weight", L, D, D, VKB_TK_WEIGHT},
    {VKB_T_Q_B, "transformer.layer.%d.attention.q_lin.bias", L, D, N, VKB_TK_BIAS},
    {VKB_T_K_W, "transformer.layer.%d.attention.k_lin.weight", L, D, D, VKB_TK_WEIGHT},
    {VKB_T_K_B, "transformer.layer.%d.attention.k_lin.bias", L, D, N, VKB_TK_BIAS},
    {VKB_T_V_W, "transformer.layer.%d.attention.v_lin.weight", L, D, D, VKB_TK_WEIGHT},
    {VKB_T_V_B, "transformer.layer.%d.attention.v_lin.bias", L, D, N, VKB_TK_BIAS},
    {VKB_T_O_W, "transformer.layer.%d.attention.out_lin.weight", L, D, D, VKB_TK_WEIGHT},
    {VKB_T_O_B, "transformer.layer.%d.attention.out_lin.bias", L, D, N, VKB_TK_BIAS},
    {VKB_T_SA_LN_W, "transformer.layer.%d.sa_layer_norm.weight", L, D, N, VKB_TK_LN_WEIGHT},
    {VKB_T_SA_LN_B, "transformer.layer.%d.sa_layer_norm.bias", L, D, N, VKB_TK_LN_BIAS},
    {VKB_T_FFN1_W, "transformer.layer.%d.ffn.lin1.weight", L, F, D, VKB_TK_WEIGHT},
    {VKB_T_FFN1_B, "transformer.layer.%d.ffn.lin1.bias", L, F, N, VKB_TK_BIAS},
    {VKB_T_FFN2_W, "transformer.layer.%d.ffn.lin2.weight", L, D, F, VKB_TK_WEIGHT},
    {VKB_T_FFN2_B, "transformer.layer.%d.ffn.lin2.bias", L, D, N, VKB_TK_BIAS},
    {VKB_T_OUT_LN_W, "transformer.layer.%d.output_layer_norm.weight", L, D, N, VKB_TK_LN_WEIGHT},
    {VKB_T_OUT_LN_B, "transformer.layer.%d.output_layer_norm.bias", L, D, N, VKB_TK_LN_BIAS},
    {VKB_T_PRE_W, "pre_classifier.weight", H, D, D, VKB_TK_WEIGHT},
    {VKB_T_PRE_B, "pre_classifier.bias", H, D, N, VKB_TK_BIAS},
    {VKB_T_CLS_W, "classifier.weight", H, VKB_TD_LABELS, D, VKB_TK_WEIGHT},
    {VKB_T_CLS_B, "classifier.bias", H, VKB_TD_LABELS, N, VKB_TK_BIAS},
};
#undef M
#undef L
#undef H
#undef N
#undef D
#undef F

static int64_t dim_of(vkb_tensor_dim d, int dim, int hidden, int vocab, int max_pos, int labels) {
    switch (d) {
    case VKB_TD_NONE: return 0;
    case VKB_TD_DIM: return dim;
    case VKB_TD_HIDDEN: return hidden;
    case VKB_TD_VOCAB: return vocab;
    case VKB_TD_MAX_POS: return max_pos;
    case VKB_TD_LABELS: return labels;
    }
    return 0;
}

int vkb_tensor_spec_shape(const vkb_tensor_spec *s, int dim, int hidden_dim, int vocab_size,
                          int max_pos, int n_labels, int64_t shape[2]) {
    shape[0] = dim_of(s->d0, dim, hidden_dim, vocab_size, max_pos, n_labels);
    shape[1] = dim_of(s->d1, dim, hidden_dim, vocab_size, max_pos, n_labels);
    return s->d1 == VKB_TD_NONE ? 1 : 2;
}

int vkb_tensor_spec_name(const vkb_tensor_spec *s, const char *encoder_prefix, int layer,
                         char *buf, size_t n) {
    const char *p = s->scope == VKB_TS_HEAD || !encoder_prefix ? "" : encoder_prefix;
    int k = snprintf(buf, n, "%s", p);
    if (k < 0 || (size_t)k >= n) return -1;
    int j = s->scope == VKB_TS_LAYER ? snprintf(buf + k, n - (size_t)k, s->name, layer)
                                     : snprintf(buf + k, n - (size_t)k, "%s", s->name);
    return j < 0 || (size_t)j >= n - (size_t)k ? -1 : 0;
}

const char *vkb_tensor_role_name(vkb_tensor_role r) {
    static const char *const names[VKB_T_COUNT] = {
        "WORD_EMB", "POS_EMB", "EMB_LN_W", "EMB_LN_B", "Q_W", "Q_B", "K_W", "K_B", "V_W", "V_B",
        "O_W", "O_B", "SA_LN_W", "SA_LN_B", "FFN1_W", "FFN1_B", "FFN2_W", "FFN2_B", "OUT_LN_W",
        "OUT_LN_B", "PRE_W", "PRE_B", "CLS_W", "CLS_B"};
    return (unsigned)r < VKB_T_COUNT ? names[r] : "?";
}

const char *vkb_tensor_scope_name(vkb_tensor_scope s) {
    return s == VKB_TS_MODEL ? "model" : s == VKB_TS_LAYER ? "layer" : "head";
}

const char *vkb_tensor_dim_name(vkb_tensor_dim d) {
    switch (d) {
    case VKB_TD_NONE: return "-";
    case VKB_TD_DIM: return "dim";
    case VKB_TD_HIDDEN: return "hidden_dim";
    case VKB_TD_VOCAB: return "vocab_size";
    case VKB_TD_MAX_POS: return "max_position_embeddings";
    case VKB_TD_LABELS: return "num_labels";
    }
    return "?";
}

const char *vkb_tensor_kind_name(vkb_tensor_kind k) {
    switch (k) {
    case VKB_TK_EMBEDDING: return "embedding";
    case VKB_TK_WEIGHT: return "weight";
    case VKB_TK_BIAS: return "bias";
    case VKB_TK_LN_WEIGHT: return "ln_weight";
    case VKB_TK_LN_BIAS: return "ln_bias";
    }
    return "?";
}
