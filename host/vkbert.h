/* vkbert.h - the one public header of libvkbert.
 *
 * Data flows one way: text -> tokenizer -> batch of ids -> backend (CPU
 * reference or Vulkan) -> logits.  Every function that can fail takes a
 * vkb_error* and returns 0 on success, non-zero on failure with a message
 * that names the file, field or tensor at fault.  The library has no global
 * mutable state and never prints. */
#ifndef VKBERT_H
#define VKBERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKB_ERR_MAX 1024
typedef struct vkb_error {
    char msg[VKB_ERR_MAX];
} vkb_error;

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

/* Loads config.json, model.safetensors (mmapped), vocab.txt or tokenizer.json
 * and tokenizer_config.json from a directory as HF writes it. */
int vkb_model_load(const char *dir, vkb_model **out, vkb_error *err);
void vkb_model_free(vkb_model *m);
const vkb_config *vkb_model_config(const vkb_model *m);
const vkb_tokenizer *vkb_model_tokenizer(const vkb_model *m);
/* Builds a model with the given shape and deterministic random weights in
 * memory (no files): used by `vkbert bench --shape` and `check` tests. */
int vkb_model_random(const vkb_config *shape, uint64_t seed, vkb_model **out,
                     vkb_error *err);

/* ---- backends ------------------------------------------------------------- */
typedef enum { VKB_PREC_AUTO = 0, VKB_PREC_FP32 = 1, VKB_PREC_FP16 = 2 } vkb_precision;

typedef struct vkb_backend_opts {
    const char *device;      /* "cpu", "gpu" (best), "gpu:N"; NULL = "gpu" */
    vkb_precision precision; /* weight/activation storage on the GPU */
    int threads;             /* CPU backend threads; 0 = all cores */
    int fp64_accum;          /* CPU backend: accumulate in double */
    int max_tokens;          /* largest B*L a forward will get (0 = 16384) */
    int max_len;             /* largest L a forward will get (0 = max_pos) */
    int validation;          /* Vulkan: enable the Khronos validation layer */
} vkb_backend_opts;

typedef struct vkb_batch {
    int B, L;              /* sequences, padded length */
    const int32_t *ids;    /* [B*L] row-major, padded with pad_token_id */
    const int32_t *lens;   /* [B] real lengths; position p is valid iff p < lens[b] */
} vkb_batch;

typedef struct vkb_outputs {
    float *logits;  /* [B*n_labels] or NULL */
    float *hidden;  /* [(n_layers+1)*B*L*dim]: embeddings then each layer's
                       output, or NULL; used by `vkbert check` */
} vkb_outputs;

typedef struct vkb_backend vkb_backend;

int vkb_backend_create(const vkb_model *m, const vkb_backend_opts *opts,
                       vkb_backend **out, vkb_error *err);
int vkb_forward(vkb_backend *be, const vkb_batch *batch, vkb_outputs *out,
                vkb_error *err);
void vkb_backend_free(vkb_backend *be);
/* Human-readable device description ("CPU reference (2 threads)", GPU name). */
const char *vkb_backend_device(const vkb_backend *be);

/* ---- helpers -------------------------------------------------------------- */
/* In-place softmax over n values. */
void vkb_softmax(float *x, int n);

#ifdef __cplusplus
}
#endif
#endif
