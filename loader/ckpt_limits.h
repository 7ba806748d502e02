/* ckpt_limits.h - what a checkpoint may ask for (internal).
 *
 * Checkpoints come from strangers, so every size a file states is checked
 * against these bounds before anything is allocated from it.  They are far
 * above any real DistilBERT (distilbert-base: dim 768, 6 layers, hidden 3072,
 * vocab 30522, 512 positions, ~105 tensors) yet small enough that products
 * of them cannot overflow 64-bit arithmetic. */
#ifndef VKB_CKPT_LIMITS_H
#define VKB_CKPT_LIMITS_H

/* model.safetensors */
#define VKB_MAX_HEADER_BYTES  (100u * 1000u * 1000u) /* JSON header (also <= file size - 8) */
#define VKB_MAX_TENSORS       100000                 /* entries in the header */
#define VKB_MAX_NDIM          8                      /* dims per tensor */
#define VKB_MAX_TENSOR_NAME   1024                   /* bytes in a tensor name */
#define VKB_MAX_DIM_VALUE     ((int64_t)1 << 40)     /* one dimension */
/* JSON values in the header (json_guard.h): an entry has at most 14, so
 * this allows every tensor plus as much again for __metadata__; it bounds
 * cJSON's memory at ~0.3 GB where the byte limit alone allows ~4 GB. */
#define VKB_MAX_HEADER_VALUES (30 * VKB_MAX_TENSORS)

/* config.json (and the read-size limit of the small JSON files) */
#define VKB_MAX_CONFIG_BYTES  (16u * 1000u * 1000u)
#define VKB_MAX_MODEL_DIM     16384   /* dim */
#define VKB_MAX_HIDDEN_DIM    65536   /* hidden_dim (FFN) */
#define VKB_MAX_LAYERS        256     /* n_layers */
#define VKB_MAX_VOCAB         (1 << 22) /* vocab_size, 4M */
#define VKB_MAX_POSITIONS     65536   /* max_position_embeddings */
#define VKB_MAX_LABELS        65536   /* classifier outputs (id2label entries) */
#define VKB_MAX_LABEL_BYTES   1024    /* one label string */
#define VKB_MAX_CONFIG_VALUES (4 * VKB_MAX_LABELS + 100000) /* JSON values */

/* vocab.txt, tokenizer.json, tokenizer_config.json: bytes read (a plain
 * literal so that messages can show it); bert-base-multilingual's
 * tokenizer.json is under 3 MB.  Their token count is bounded by
 * VKB_MAX_VOCAB. */
#define VKB_MAX_TOKENIZER_BYTES 64000000
#define VKB_MAX_TOKENIZER_VALUES (2 * VKB_MAX_VOCAB + 1000000) /* JSON values */

/* in-memory random models: total weight bytes */
#define VKB_MAX_RANDOM_BYTES  ((int64_t)16 << 30)

#endif
