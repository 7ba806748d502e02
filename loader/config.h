/* config.h - reading config.json of a DistilBERT checkpoint (internal). */
#ifndef VKB_CONFIG_H
#define VKB_CONFIG_H
#include "vkbert_loader.h"

/* Parses config.json text (len bytes, need not be NUL-terminated) into cfg:
 * dim, n_layers, n_heads, hidden_dim, vocab_size, max_position_embeddings
 * (required), activation ("gelu", the default), pad_token_id (default 0),
 * model_type ("distilbert" when present), id2label (labels in id order; cfg
 * n_labels = its size, 0 when absent) and label2id (checked when present).
 * `fname` prefixes error messages.  On failure cfg holds no allocations. */
int vkb_config_parse(const char *text, size_t len, const char *fname,
                     vkb_config *cfg, vkb_error *err);
/* Checks the shape fields against ckpt_limits.h and n_heads | dim; `what` names
 * the source in messages (a file name, or "shape" for random models). */
int vkb_config_check(const vkb_config *c, const char *what, vkb_error *err);
/* Sets n labels "LABEL_0".."LABEL_{n-1}" (HF's defaults), replacing any. */
int vkb_config_default_labels(vkb_config *c, int n, vkb_error *err);
void vkb_config_free_labels(vkb_config *c);
#endif
