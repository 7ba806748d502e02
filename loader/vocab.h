/* vocab.h - the tokenizer's in-memory vocabulary (internal to loader/).
 *
 * vocab.c builds it from vocab.txt, tokenizer.json and tokenizer_config.json;
 * tokenizer.c encodes text with it.  Lookups go through an open-addressing
 * hash table keyed by a 64-bit FNV-1a state of the token bytes, so WordPiece
 * can hash candidate pieces incrementally (prefix by prefix) without building
 * strings.
 *
 * Hash flooding: vocabularies come from strangers, and with a fixed hash a
 * file of tokens built to share one slot made loading quadratic (issue 11
 * item 18).  So each table draws a secret seed (the FNV start state) and a
 * secret key for the finalizer that turns a state into a slot, from
 * getrandom() (or, failing that, the table's address and the clocks; no
 * global state).  Colliding tokens can then not be precomputed; and as a
 * worst-case bound whatever the tokens, an insert that probes more than
 * VKB_VOCAB_MAX_PROBE slots makes the table be rebuilt with fresh secrets, and
 * after VKB_VOCAB_MAX_BUILDS builds loading fails with a message.  Lookups
 * stop after the longest probe of the table. */
#ifndef VKB_VOCAB_H
#define VKB_VOCAB_H
#include <stdint.h>
#include <stddef.h>
#include "vkbert_loader.h"

/* Upper bound for max_input_chars_per_word: words are buffered on the stack. */
#define VKB_MAX_WORD_CHARS 1000

#define VKB_FNV_OFFSET 0xcbf29ce484222325ull
#define VKB_FNV_PRIME 0x100000001b3ull
#ifndef VKB_VOCAB_MAX_PROBE /* (overridable for a test of the rebuild path) */
#define VKB_VOCAB_MAX_PROBE 256 /* slots one insert may probe (load <= 1/2) */
#endif
#define VKB_VOCAB_MAX_BUILDS 4  /* tables tried with fresh secrets */

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
    uint64_t *hash;       /* id -> vkb_fnv(seed, tok) */
    int32_t *slot;        /* open addressing: id or -1; capacity mask+1 */
    uint64_t mask;
    uint64_t seed;        /* secret FNV start state */
    uint64_t key;         /* secret key of the slot finalizer */
    uint32_t max_probe;   /* longest probe of any insert (lookups stop there) */
    uint64_t build_probes; /* slots probed by the last build (test hook) */
    int builds;           /* tables built (1 unless an insert probed too far) */
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

/* The home slot of FNV state h: a keyed bijective mix (murmur3's fmix64 of
 * h ^ key), so that states agreeing in their low bits do not share slots. */
static inline uint64_t vkb_vocab_home(const struct vkb_tokenizer *t, uint64_t h) {
    h ^= t->key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h & t->mask;
}

/* Looks up a token by bytes with a precomputed hash (vkb_fnv from t->seed);
 * -1 when absent. */
static inline int32_t vkb_vocab_find(const struct vkb_tokenizer *t, uint64_t h,
                                     const char *s, uint32_t n) {
    uint64_t i = vkb_vocab_home(t, h);
    for (uint32_t k = 0; k <= t->max_probe; k++, i = (i + 1) & t->mask) {
        int32_t id = t->slot[i];
        if (id < 0) return -1;
        if (t->hash[id] == h && t->len[id] == n &&
            (n == 0 || __builtin_memcmp(t->tok[id], s, n) == 0))
            return id;
    }
    return -1;
}
#endif
