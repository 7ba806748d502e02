/* fuzz_tok_check.h - what any loaded tokenizer must do with any text: ids in
 * [0, vocab), [CLS] first and [SEP] last, a count in [2, max_len], the same
 * result twice, and truncation that keeps a prefix of the untruncated ids. */
#ifndef VKB_FUZZ_TOK_CHECK_H
#define VKB_FUZZ_TOK_CHECK_H
#include "fuzz_common.h"
#include "vocab.h"

static inline void fuzz_tok_check(const vkb_tokenizer *t, const char *text, size_t len, int max_len) {
    /* A byte gives at most a few ids (NFD of one code point, U+0130 -> 2);
     * 4 per byte bounds it, so `full` is never truncated in practice. */
    int full_cap = (int)(len < 1000000 ? 4 * len + 8 : 4000008);
    int32_t *full = malloc((size_t)full_cap * sizeof *full);
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    int32_t *again = malloc((size_t)max_len * sizeof *again);
    FUZZ_ASSERT(full && ids && again, "malloc");
    int nf = vkb_tokenize(t, text, len, full_cap, full);
    int n = vkb_tokenize(t, text, len, max_len, ids);
    int n2 = vkb_tokenize(t, text, len, max_len, again);
    int V = vkb_tokenizer_vocab_size(t);
    FUZZ_ASSERT(nf >= 2 && nf <= full_cap, "nf = %d", nf);
    FUZZ_ASSERT(n >= 2 && n <= max_len, "n = %d, max_len %d", n, max_len);
    FUZZ_ASSERT(n2 == n && memcmp(ids, again, (size_t)n * sizeof *ids) == 0, "not deterministic");
    FUZZ_ASSERT(ids[0] == t->cls && ids[n - 1] == t->sep, "no [CLS]/[SEP]");
    for (int i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < V, "id %d at %d", ids[i], i);
    for (int i = 0; i < nf; i++) FUZZ_ASSERT(full[i] >= 0 && full[i] < V, "id %d at %d", full[i], i);
    FUZZ_ASSERT(nf < full_cap, "4 ids per byte exceeded (%d ids from %zu bytes)", nf, len);
    if (nf <= max_len) FUZZ_ASSERT(n == nf && !memcmp(ids, full, (size_t)n * sizeof *ids), "differs from untruncated");
    else FUZZ_ASSERT(n == max_len && !memcmp(ids, full, (size_t)(n - 1) * sizeof *ids), "truncation is not a prefix");
    for (int i = 0; i < n; i++) FUZZ_ASSERT(vkb_token_str(t, ids[i]) != NULL, "no string for id %d", ids[i]);
    free(full);
    free(ids);
    free(again);
}
#endif
