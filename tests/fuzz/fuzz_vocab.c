/* fuzz_vocab.c - the vocabulary readers on arbitrary bytes.  The first byte
 * picks the entry point (mod 3) and flags; the rest is split at FUZZ_SEP:
 *   0: vkb_tokenizer_from_vocab(part0) (vocab.txt text in memory);
 *   1: vkb_tokenizer_load of a directory with tokenizer.json = part0 and,
 *      when part1 is non-empty, tokenizer_config.json = part1;
 *   2: the same with vocab.txt = part0.
 * A loaded tokenizer must then encode a few fixed strings and the input
 * itself consistently (fuzz_tok_check.h). */
#include "fuzz_common.h"
#include "fuzz_tok_check.h"
#include "tokenizer.h"
#include "ckpt_limits.h"

static const char *const kFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 3, flags = data[0] / 3;
    const uint8_t *p0, *p1;
    size_t n0, n1;
    fuzz_split(data + 1, size - 1, FUZZ_SEP, &p0, &n0, &p1, &n1);
    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    int rc;
    if (mode == 0) {
        rc = vkb_tokenizer_from_vocab((const char *)p0, n0, flags & 1, (flags >> 1) * 7, &t, &err);
    } else {
        const char *dir = fuzz_tmpdir(kFiles);
        const char *main_file = mode == 1 ? "tokenizer.json" : "vocab.txt";
        fuzz_remove_file(dir, mode == 1 ? "vocab.txt" : "tokenizer.json");
        FUZZ_ASSERT(fuzz_write_file(dir, main_file, p0, n0) == 0, "cannot write %s", main_file);
        if (n1) FUZZ_ASSERT(fuzz_write_file(dir, "tokenizer_config.json", p1, n1) == 0, "write");
        else fuzz_remove_file(dir, "tokenizer_config.json");
        rc = vkb_tokenizer_load(dir, &t, &err);
    }
    if (rc) {
        fuzz_check_error(&err);
        fuzz_note("error", err.msg);
        FUZZ_ASSERT(t == NULL, "failed load returned a tokenizer");
        return 0;
    }
    fuzz_note("ok", "accepted");
    int V = vkb_tokenizer_vocab_size(t), ml = vkb_tokenizer_max_len(t);
    FUZZ_ASSERT(V >= 1 && V <= VKB_MAX_VOCAB, "vocab size %d", V);
    FUZZ_ASSERT(ml >= 2, "max_len %d", ml);
    for (int id = 0; id < V; id++) FUZZ_ASSERT(vkb_token_str(t, id) != NULL, "id %d has no string", id);
    FUZZ_ASSERT(vkb_token_str(t, V) == NULL && vkb_token_str(t, -1) == NULL, "out-of-range id has a string");
    static const char *const kTexts[] = {
        "", "hello world", "[CLS] Hello, [SEP] WORLD! [MASK]", "caf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87",
        "unaffable running ##ing", "\xff\xfe\x80 bad utf8 \xe2\x82", "\xc4\xb0stanbul \xe1\xba\x9e",
    };
    for (size_t i = 0; i < sizeof kTexts / sizeof kTexts[0]; i++)
        fuzz_tok_check(t, kTexts[i], strlen(kTexts[i]), 2 + (int)(i * 5) % 40);
    fuzz_tok_check(t, (const char *)p0, n0 < 4096 ? n0 : 4096, ml < 600 ? ml : 600);
    vkb_tokenizer_free(t);
    return 0;
}
