/* distilbert_tensors.h - DistilBERT's weight inventory, stated once (internal).
 *
 * One row per tensor, in the order of HF's state dict (llm.c's
 * fill_in_parameter_sizes, as a table): its role, its checkpoint name (a
 * printf pattern; "%d" is the layer index), whether it is model-wide, per
 * layer or part of the optional classifier head, and its shape as fields of
 * config.json.  The loader validates a checkpoint against this table, random
 * models are filled from it, both backends iterate it, and the converter
 * tools' list (tools/distilbert_tensors.py) is tested equal to it
 * (`vkbert_tensor_table` prints it; tests/tensor_table.cmake compares). */
#ifndef VKB_DISTILBERT_TENSORS_H
#define VKB_DISTILBERT_TENSORS_H
#include <stddef.h>
#include <stdint.h>

/* Roles, in table order: model-wide, per layer, then the head. */
typedef enum {
    VKB_T_WORD_EMB, VKB_T_POS_EMB, VKB_T_EMB_LN_W, VKB_T_EMB_LN_B,
    VKB_T_Q_W, VKB_T_Q_B, VKB_T_K_W, VKB_T_K_B, VKB_T_V_W, VKB_T_V_B, VKB_T_O_W, VKB_T_O_B,
    VKB_T_SA_LN_W, VKB_T_SA_LN_B,
    VKB_T_FFN1_W, VKB_T_FFN1_B, VKB_T_FFN2_W, VKB_T_FFN2_B,
    VKB_T_OUT_LN_W, VKB_T_OUT_LN_B,
    VKB_T_PRE_W, VKB_T_PRE_B, VKB_T_CLS_W, VKB_T_CLS_B,
    VKB_T_COUNT
} vkb_tensor_role;

enum {
    VKB_T_FIRST_LAYER = VKB_T_Q_W,   /* roles [FIRST_LAYER, FIRST_HEAD) repeat per layer */
    VKB_T_FIRST_HEAD = VKB_T_PRE_W,
    VKB_T_N_MODEL = VKB_T_FIRST_LAYER,
    VKB_T_N_LAYER = VKB_T_FIRST_HEAD - VKB_T_FIRST_LAYER,
    VKB_T_N_HEAD = VKB_T_COUNT - VKB_T_FIRST_HEAD,
};

/* Where a tensor lives: model-wide and per-layer tensors are the encoder's
 * (named with "distilbert." in front in classification checkpoints); head
 * tensors are top-level and present only in classification checkpoints. */
typedef enum { VKB_TS_MODEL, VKB_TS_LAYER, VKB_TS_HEAD } vkb_tensor_scope;

/* A dimension, as the config.json field it comes from (NONE: 1-D tensor). */
typedef enum { VKB_TD_NONE, VKB_TD_DIM, VKB_TD_HIDDEN, VKB_TD_VOCAB, VKB_TD_MAX_POS,
               VKB_TD_LABELS } vkb_tensor_dim;

/* What the tensor is (random models draw LayerNorm weights around 1). */
typedef enum { VKB_TK_EMBEDDING, VKB_TK_WEIGHT, VKB_TK_BIAS, VKB_TK_LN_WEIGHT,
               VKB_TK_LN_BIAS } vkb_tensor_kind;

typedef struct vkb_tensor_spec {
    vkb_tensor_role role;
    const char *name; /* checkpoint name without the encoder prefix; "%d": layer */
    vkb_tensor_scope scope;
    vkb_tensor_dim d0, d1; /* d1 = VKB_TD_NONE: 1-D */
    vkb_tensor_kind kind;
} vkb_tensor_spec;

/* The table, indexed by role. */
extern const vkb_tensor_spec vkb_tensor_table[VKB_T_COUNT];

/* The prefix of encoder tensors in classification checkpoints. */
#define VKB_ENCODER_PREFIX "distilbert."

/* Shape of a tensor for these config.json sizes; returns ndim (1 or 2). */
int vkb_tensor_spec_shape(const vkb_tensor_spec *s, int dim, int hidden_dim, int vocab_size,
                          int max_pos, int n_labels, int64_t shape[2]);
/* Its checkpoint name: encoder prefix (scope model/layer only) + name with
 * the layer index filled in.  0, or -1 if it does not fit. */
int vkb_tensor_spec_name(const vkb_tensor_spec *s, const char *encoder_prefix, int layer,
                         char *buf, size_t n);
/* Names used when printing the table ("model", "dim", "ln_weight", ...). */
const char *vkb_tensor_role_name(vkb_tensor_role r);
const char *vkb_tensor_scope_name(vkb_tensor_scope s);
const char *vkb_tensor_dim_name(vkb_tensor_dim d);
const char *vkb_tensor_kind_name(vkb_tensor_kind k);
#endif
