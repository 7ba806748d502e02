/* tokenizer.h - loading the vocabulary (internal; encoding is in vkbert.h). */
#ifndef VKB_TOKENIZER_H
#define VKB_TOKENIZER_H
#include "vkbert_loader.h"

/* Loads dir/vocab.txt, or when absent the WordPiece vocab of dir/tokenizer.json,
 * and dir/tokenizer_config.json (do_lower_case, model_max_length) when present. */
int vkb_tokenizer_load(const char *dir, vkb_tokenizer **out, vkb_error *err);
/* Builds a tokenizer from vocab.txt content in memory (tests, fuzzers). */
int vkb_tokenizer_from_vocab(const char *vocab, size_t len, int do_lower_case,
                             int model_max_length, vkb_tokenizer **out, vkb_error *err);
void vkb_tokenizer_free(vkb_tokenizer *t);
int32_t vkb_token_id(const vkb_tokenizer *t, const char *token); /* -1 if absent */
#endif
