/* ckpt_writer.h - writes synthetic HF-format DistilBERT checkpoint directories
 * (config.json, model.safetensors, vocab.txt) for tests, with hooks to break
 * them in every way a hostile file could.  Values are multiples of 1/256 of
 * magnitude <= 0.25 (LayerNorm weights 1 +- k/128), exactly representable in
 * F32, F16 and BF16, so loaded weights can be compared for equality. */
#ifndef VKB_CKPT_WRITER_H
#define VKB_CKPT_WRITER_H
#include <stddef.h>
#include <stdint.h>
#include "vkbert.h"

typedef struct ckw_tensor {
    char name[128];
    char dtype[16];           /* written as-is */
    int ndim;
    int64_t shape[10];        /* written as-is (up to 10 dims, to test the limit) */
    unsigned char *bytes;     /* the tensor's data */
    size_t nbytes;
    float *vals;              /* the f32 values the bytes encode, or NULL */
    int fixed;                /* 1: write begin/end below instead of the layout's */
    uint64_t begin, end;
} ckw_tensor;

typedef struct ckw {
    vkb_config cfg;           /* n_labels > 0: classification checkpoint */
    ckw_tensor *t;
    int n;
    int header_pad;           /* trailing spaces after the JSON (allowed by the format) */
} ckw;

/* All tensors of a checkpoint for cfg in dtype "F32"/"F16"/"BF16": with
 * "distilbert." names and a head when cfg->n_labels > 0, base names otherwise. */
void ckw_model(ckw *w, const vkb_config *cfg, const char *dtype, uint64_t seed);
ckw_tensor *ckw_find(ckw *w, const char *name);        /* aborts when absent */
void ckw_remove(ckw *w, const char *name);
/* Appends a tensor with zero bytes sized for dtype (1 byte/elem if unknown). */
ckw_tensor *ckw_add(ckw *w, const char *name, const char *dtype, int ndim, const int64_t *shape);
/* Changes a tensor's shape and resizes its (zeroed) data to match. */
void ckw_reshape(ckw *w, const char *name, int ndim, const int64_t *shape);
/* The JSON header, tensors laid out back to back (malloc'd). */
char *ckw_header(const ckw *w);
/* Writes header (length prefix = strlen) and the tensors' data to path. */
int ckw_write_safetensors(const ckw *w, const char *path);
/* config.json text for cfg (HF's field names; id2label when n_labels > 0). */
char *ckw_config_json(const vkb_config *cfg);
/* vocab.txt with [PAD] [UNK] [CLS] [SEP] [MASK] and filler words: n lines. */
int ckw_write_vocab(const char *dir, int n);
/* config.json + model.safetensors + vocab.txt (vocab_size lines). */
int ckw_write_dir(const ckw *w, const char *dir);
int ckw_write_file(const char *dir, const char *file, const void *buf, size_t len);
/* s with the first occurrence of `from` replaced by `to` (malloc'd; aborts if absent). */
char *ckw_replace(const char *s, const char *from, const char *to);
void ckw_free(ckw *w);
/* The tensors a loaded model binds, with their checkpoint names ("distilbert."
 * prefix for the encoder when `prefixed`); out must hold 8 + 16 * n_layers. */
struct vkb_model;
struct vkb_tensor;
typedef struct ckw_named { char name[128]; const struct vkb_tensor *t; } ckw_named;
int ckw_model_tensors(const struct vkb_model *m, int prefixed, ckw_named *out);
/* A fresh directory under $TMPDIR (or /tmp), into buf; aborts on failure. */
char *ckw_tmpdir(char *buf, size_t n, const char *tag);
/* Removes a directory tree created by the tests (no symlinks followed). */
void ckw_rmtree(const char *dir);
#endif
