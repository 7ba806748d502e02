/* model.h - the in-memory checkpoint (internal).  Backends read weights from
 * here, through vkb_tensor_convert: checkpoint tensors are read from
 * model.safetensors with pread() when a backend asks for them (never mmapped:
 * a file truncated while it is read would raise SIGBUS; a short read is an
 * error instead), random models' tensors point into memory the model owns. */
#ifndef VKB_MODEL_H
#define VKB_MODEL_H
#include "vkbert_loader.h"

typedef enum { VKB_DT_F32 = 0, VKB_DT_F16 = 1, VKB_DT_BF16 = 2 } vkb_dtype;

/* The open model.safetensors that checkpoint tensors are read from. */
typedef struct vkb_tensor_file {
    int fd;
    const char *path;
} vkb_tensor_file;

typedef struct vkb_tensor {
    const void *data;   /* in memory: raw little-endian data, possibly unaligned */
    const vkb_tensor_file *file; /* or in this file, at byte `off` */
    uint64_t off;
    vkb_dtype dtype;
    int ndim;
    int64_t shape[4];
    int64_t numel;
} vkb_tensor;

/* 1 when t holds a tensor (in memory or in the file). */
static inline int vkb_tensor_present(const vkb_tensor *t) { return t->data || t->file; }
/* Converts numel elements to f32 (handles F16/BF16 and unaligned data).
 * 0, or -1 with err set (when non-NULL) if the file cannot be read, e.g.
 * because it was truncated after it was validated. */
int vkb_tensor_to_f32(const vkb_tensor *t, float *dst, vkb_error *err);
/* Converts elements [first, first + n) to f32, or to IEEE half (round to
 * nearest even) when to_half: what a device stores, without an f32 copy.
 * Thread-safe (pread); errors as vkb_tensor_to_f32 (err may be NULL). */
int vkb_tensor_convert(const vkb_tensor *t, int64_t first, int64_t n, void *dst, int to_half,
                       vkb_error *err);

typedef struct vkb_layer_weights {
    vkb_tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b; /* attention.{q,k,v,out}_lin */
    vkb_tensor sa_ln_w, sa_ln_b;                      /* sa_layer_norm */
    vkb_tensor ff1_w, ff1_b, ff2_w, ff2_b;            /* ffn.lin1, ffn.lin2 */
    vkb_tensor out_ln_w, out_ln_b;                    /* output_layer_norm */
} vkb_layer_weights;

typedef struct vkb_weights {
    vkb_tensor word_emb, pos_emb, emb_ln_w, emb_ln_b;
    vkb_layer_weights *layers; /* n_layers */
    int has_head;              /* pre_classifier + classifier present */
    vkb_tensor pre_w, pre_b, cls_w, cls_b;
} vkb_weights;

struct vkb_model {
    vkb_config cfg;
    vkb_weights w;
    vkb_tokenizer *tok;        /* NULL for random models without a vocab */
    vkb_tensor_file file;      /* model.safetensors (fd -1 for random models) */
    uint64_t file_size;        /* its size when it was validated */
    void *owned;               /* memory owned by random models */
    char *dir;
};

#endif
