/* model.h - the in-memory checkpoint (internal).  Backends read weights from
 * here, through vkb_tensor_convert: checkpoint tensors are read from
 * model.safetensors with pread() when a backend asks for them (never mmapped:
 * a file truncated while it is read would raise SIGBUS; a short read is an
 * error instead), random models' tensors point into memory the model owns. */
#ifndef VKB_MODEL_H
#define VKB_MODEL_H
#include "vkbert_loader.h"
#include "distilbert_tensors.h"

/* The epsilon of every DistilBERT LayerNorm (HF's DistilBertConfig has no
 * field for it: nn.LayerNorm(dim, eps=1e-12) throughout). */
#define VKB_LN_EPS 1e-12f

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

/* The checkpoint's tensors, one per row of distilbert_tensors.h's table in
 * table order: the model-wide ones, each layer's, then the head's (only when
 * has_head).  The loader has checked every one against the table (present,
 * dtype, shape from config.json), so backends need not check them again. */
typedef struct vkb_weights {
    vkb_tensor *t;             /* vkb_model_n_tensors() entries */
    int has_head;              /* pre_classifier + classifier present */
} vkb_weights;

struct vkb_model {
    vkb_config cfg;
    vkb_weights w;
    vkb_tokenizer *tok;        /* NULL for random models without a vocab */
    vkb_tensor_file file;      /* model.safetensors (fd -1 for random models) */
    uint64_t file_size;        /* its size when it was validated */
    void *owned;               /* memory owned by random models */
    const char *prefix;        /* encoder tensor names: VKB_ENCODER_PREFIX or "" */
    vkb_st_pooling st;         /* sentence-transformers pooling files (present = 0: none) */
    char *dir;
};

/* The model's tensors, iterated in table order: i in [0, vkb_model_n_tensors). */
int vkb_model_n_tensors(const vkb_model *m);
/* Index of tensor `r` (of layer `layer` for per-layer roles; ignored for the
 * others), or -1 when the model has no such tensor (a head tensor of a base
 * model, a layer out of range). */
int vkb_model_tensor_index(const vkb_model *m, vkb_tensor_role r, int layer);
/* The tensor itself, or NULL as above. */
const vkb_tensor *vkb_model_tensor(const vkb_model *m, vkb_tensor_role r, int layer);
/* Role and layer (-1 for tensors that are not per layer) of tensor i. */
vkb_tensor_role vkb_model_tensor_role(const vkb_model *m, int i, int *layer);
/* Its checkpoint name, e.g. "distilbert.transformer.layer.3.ffn.lin1.weight". */
int vkb_model_tensor_name(const vkb_model *m, int i, char *buf, size_t n);

#endif
