/* vkbert_loader.h - the loader's part of the public API (host/vkbert.h
 * includes it): errors, the model configuration, the tokenizer and the
 * checkpoint directory.  The lowest layer: it includes nothing of host/. */
#ifndef VKBERT_LOADER_H
#define VKBERT_LOADER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKB_ERR_MAX 1024
/* What kind of failure an error is, for callers that must act on it (the
 * scorer halves its token budget on VKB_ERR_DEVICE_OOM, a server answers 413
 * or 503): nothing in vkbert branches on the text of a message. */
typedef enum vkb_errcode {
    VKB_ERR_NONE = 0,
    VKB_ERR_FAILED,       /* anything not below */
    VKB_ERR_INPUT,        /* bad input: a file, field, tensor, line or argument */
    VKB_ERR_IO,           /* reading or writing a file failed */
    VKB_ERR_HOST_OOM,     /* host memory */
    VKB_ERR_DEVICE_OOM,   /* device memory (activations: smaller batches may fit) */
    VKB_ERR_WEIGHTS_OOM,  /* device memory for the weights themselves */
    VKB_ERR_DEVICE_LOST,  /* device lost or hung: the backend must be reopened */
    VKB_ERR_UNSUPPORTED,  /* the device or build cannot do what was asked */
    VKB_ERR_INTERRUPTED,  /* stopped by the caller (a signal, cancel) */
} vkb_errcode;
typedef struct vkb_error {
    char msg[VKB_ERR_MAX];  /* names the file, field, tensor or line at fault */
    vkb_errcode code;
} vkb_error;
/* "input", "host_oom", ... (stable names, e.g. for metrics). */
const char *vkb_errcode_name(vkb_errcode code);

/* ---- model configuration (config.json) ---------------------------------- */
typedef struct vkb_config {
    int dim;          /* hidden size (768 in distilbert-base) */
    int n_layers;     /* transformer blocks */
    int n_heads;      /* attention heads; dim % n_heads == 0 */
    int hidden_dim;   /* FFN inner size */
    int vocab_size;
    int max_pos;      /* max_position_embeddings */
    int pad_token_id;
    int n_labels;     /* 0 for a base DistilBertModel (no classifier head) */
    char **labels;    /* id2label, n_labels entries */
} vkb_config;

/* ---- tokenizer ------------------------------------------------------------ */
typedef struct vkb_tokenizer vkb_tokenizer;

/* Encodes `len` bytes of UTF-8 (invalid bytes are tolerated) exactly like
 * HF's BertTokenizerFast: [CLS] wordpieces [SEP], truncated to max_len ids
 * keeping the final [SEP].  ids must hold max_len entries.  Returns the
 * number of ids written (>= 2 when max_len >= 2).  Thread-safe on a const
 * tokenizer. */
int vkb_tokenize(const vkb_tokenizer *tok, const char *text, size_t len,
                 int max_len, int32_t *ids);
/* Token string for an id, or NULL when out of range. */
const char *vkb_token_str(const vkb_tokenizer *tok, int32_t id);
int vkb_tokenizer_vocab_size(const vkb_tokenizer *tok);
int vkb_tokenizer_max_len(const vkb_tokenizer *tok); /* model_max_length */

/* ---- model (checkpoint directory) ---------------------------------------- */
typedef struct vkb_model vkb_model;

/* Loads config.json, model.safetensors (its header; tensors are read with pread when a backend converts them), vocab.txt or tokenizer.json
 * and tokenizer_config.json from a directory as HF writes it. */
int vkb_model_load(const char *dir, vkb_model **out, vkb_error *err);
void vkb_model_free(vkb_model *m);
const vkb_config *vkb_model_config(const vkb_model *m);
const vkb_tokenizer *vkb_model_tokenizer(const vkb_model *m);
/* sentence-transformers files in the model directory (modules.json and the
 * Pooling module's config.json, e.g. 1_Pooling/config.json): their pooling
 * and normalization, the defaults of `vkbert embed`.  present = 0 when the
 * directory has no modules.json; malformed or unsupported files fail
 * vkb_model_load with a message naming the file and field. */
typedef struct vkb_st_pooling {
    int present;
    int pooling;   /* 1 mean, 2 cls, 3 max (vkb_pooling's values) */
    int normalize; /* a Normalize module follows the Pooling module */
} vkb_st_pooling;
const vkb_st_pooling *vkb_model_st_pooling(const vkb_model *m);
/* The shape of a known architecture, by name, for vkb_model_random:
 * "distilbert-base" (dim 768, 6 layers, 12 heads, hidden 3072, vocab 30522,
 * 512 positions, 2 labels).  0, or -1 with err naming the known names. */
int vkb_config_named(const char *name, vkb_config *out, vkb_error *err);
/* Builds a model with the given shape and deterministic random weights in
 * memory (no files): used by `vkbert bench --shape` and `check` tests. */
int vkb_model_random(const vkb_config *shape, uint64_t seed, vkb_model **out,
                     vkb_error *err);

#ifdef __cplusplus
}
#endif
#endif
