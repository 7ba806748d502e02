/* fuzz_tokenizer.c - vkb_tokenize on arbitrary bytes with a small fixed
 * vocabulary that has special tokens, "##" continuations, non-ASCII and long
 * tokens.  Byte 0 picks lowercase/strip-accents and max_len (2..257); the
 * rest is the text.  See fuzz_tok_check.h for what is checked. */
#include "fuzz_common.h"
#include "fuzz_tok_check.h"
#include "tokenizer.h"

static const char kVocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    "a\nb\nc\nd\ne\nh\ni\nl\no\nr\nw\nx\n##a\n##b\n##e\n##l\n##o\n##s\n##ing\n"
    "hello\nworld\nun\n##aff\n##able\nrun\n##n\n.\n,\n!\n?\n'\n-\n#\n##\n###\n"
    "caf\xc3\xa9\ncafe\n\xc3\xa9\n##\xc3\xa9\n\xe4\xb8\xad\n\xe6\x96\x87\n\xce\xb1\n##\xce\xb2\n"
    "\xcc\x87\n##\xcc\x87\nstanbul\n##stanbul\n"
    "supercalifragilisticexpialidocious\n##supercalifragilisticexpialidocious\n"
    "[unused0]\n<s>\n";

/* Built once per process and never modified: the harness's fixture. */
static vkb_tokenizer *g_tok[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int lower = data[0] & 1;
    if (!g_tok[lower]) {
        vkb_error err = {0};
        if (vkb_tokenizer_from_vocab(kVocab, sizeof kVocab - 1, lower, 0, &g_tok[lower], &err)) {
            fprintf(stderr, "fuzz_tokenizer: fixture vocab rejected: %s\n", err.msg);
            abort();
        }
    }
    int max_len = 2 + (data[0] >> 1) * 2;
    fuzz_tok_check(g_tok[lower], (const char *)data + 1, size - 1, max_len);
    return 0;
}
