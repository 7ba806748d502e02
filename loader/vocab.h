/* vocab.h - the tokenizer's in-memory vocabulary (internal to loader/).
 *
 * vocab.c builds it from vocab.txt, tokenizer.json and tokenizer_config.json;
 * tokenizer.c encodes text with it.  Lookups go through an open-addressing
 * hash table keyed by a 64-bit FNV-1a hash of the token bytes, so WordPiece can
 * hash candidate pieces incrementally (prefix by prefix) without building
 * strings. */
#ifndef VKB_VOCAB_H
#define VKB_VOCAB_H
#include <stdint.h>
#include <stddef.h>
#include "vkbert.h"

/* Upper bound for max_input_chars_per_word: words are buffered on the stack. */
#define VKB_MAX_WORD_CHARS 1000

#define VKB_FNV_OFFSET 0xcbf29ce484222325ull
#define VKB_FNV_PRIME 0x100000001b3ull

static inline uint64_t vkb_fnv_step(uint64_t h, unsigned char c) {
    return (h ^ c) * VKB_FNV_PRIME;
}
static inline uint64_t vkb_fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = vkb_fnv_step(h, (unsigned char)s[i]);
    return h;
}

/* A token matched in the raw text before normalization, like HF's added
 * tokens with normalized=false ([CLS], [SEP], [PAD], [UNK], [MASK]). */
typedef struct vkb_added_token {
    const char *content; /* into the tokenizer's token strings */
    uint32_t len;
    int32_t id;
} vkb_added_token;

struct vkb_tokenizer {
    int32_t n;            /* ids are 0..n-1 */
    char **tok;           /* id -> NUL-terminated token */
    uint32_t *len;        /* id -> byte length */
    uint64_t *hash;       /* id -> vkb_fnv(VKB_FNV_OFFSET, tok) */
    int32_t *slot;        /* open addressing: id or -1; capacity mask+1 */
    uint64_t mask;
    uint32_t max_tok_bytes; /* longest token, bounds WordPiece candidates */
    uint64_t cont_seed;   /* FNV state after hashing the "##" prefix */
    int32_t unk, cls, sep, pad;
    int lowercase, strip_accents;
    int max_chars_per_word; /* HF WordPiece max_input_chars_per_word (100) */
    int max_len;            /* model_max_length */
    int n_added;
    vkb_added_token *added;
    uint8_t added_first[32]; /* bitmap of first bytes of added tokens */
};

/* Looks up a token by bytes with a precomputed hash; -1 when absent. */
static inline int32_t vkb_vocab_find(const struct vkb_tokenizer *t, uint64_t h,
                                     const char *s, uint32_t n) {
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        int32_t id = t->slot[i];
        if (id < 0) return -1;
        if (t->hash[id] == h && t->len[id] == n &&
            (n == 0 || __builtin_memcmp(t->tok[id], s, n) == 0))
            return id;
    }
}
#endif
