/* test_vocab_rebuild.c - the worst-case bound of the vocabulary hash table
 * (loader/vocab.h, issue 11 item 18), exercised for real: loader/vocab.c is
 * compiled into this test with VKB_VOCAB_MAX_PROBE = 3, so ordinary
 * vocabularies hit the bound.  A table whose inserts probe too far must be
 * rebuilt with fresh secrets (and then work), and when every build fails,
 * loading must end in a message, never loop.  (Its functions replace the
 * library's vocab.c ones in this program; lookups and tokenization are the
 * library's own, which read the table's recorded max_probe.) */
#define VKB_VOCAB_MAX_PROBE 3
#include "../loader/vocab.c"
#include "testutil.h"

static char *numbered_vocab(int n, size_t *len) {
    char *buf = malloc(64 + (size_t)n * 16);
    REQUIRE(buf, "malloc");
    size_t k = (size_t)sprintf(buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    for (int i = 0; i < n; i++) k += (size_t)sprintf(buf + k, "t%d\n", i);
    *len = k;
    return buf;
}

int main(void) {
    /* 300 tokens at load <= 1/2: some insert probes more than 3 slots in
     * most builds, so the table is rebuilt (max_probe stays <= 3). */
    int rebuilt = 0;
    for (int round = 0; round < 20; round++) {
        size_t len;
        char *buf = numbered_vocab(300, &len);
        vkb_tokenizer *t = NULL;
        vkb_error err = {0};
        int rc = vkb_tokenizer_from_vocab(buf, len, 1, 0, &t, &err);
        free(buf);
        if (rc) { /* all 4 builds failed: allowed, with the message */
            CHECK(strstr(err.msg, "too many hash collisions") != NULL, "message '%s'", err.msg);
            continue;
        }
        CHECK(t->max_probe <= 3 && t->builds >= 1 && t->builds <= VKB_VOCAB_MAX_BUILDS, "max_probe %u builds %d",
              t->max_probe, t->builds);
        rebuilt += t->builds > 1;
        for (int i = 0; i < 300; i++) {
            char tok[16];
            snprintf(tok, sizeof tok, "t%d", i);
            CHECK(vkb_token_id(t, tok) == 4 + i, "after %d builds: %s not found", t->builds, tok);
        }
        CHECK(vkb_token_id(t, "t300") == -1 && vkb_token_id(t, "x") == -1, "absent tokens found");
        int32_t ids[8];
        CHECK(vkb_tokenize(t, "t7 t299", 7, 8, ids) == 4 && ids[1] == 11 && ids[2] == 303, "tokenize after rebuild");
        vkb_tokenizer_free(t);
    }
    CHECK(rebuilt > 0, "no table was rebuilt in 20 loads (the bound is not exercised)");
    /* 5000 tokens: every build exceeds 3 probes somewhere: an error, fast. */
    size_t len;
    char *buf = numbered_vocab(5000, &len);
    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    CHECK(vkb_tokenizer_from_vocab(buf, len, 1, 0, &t, &err) != 0 && !t &&
          strstr(err.msg, "too many hash collisions among the tokens (4 tables tried)"), "5000 tokens: '%s'", err.msg);
    printf("  %d of 20 loads rebuilt; 5000 tokens -> %s\n", rebuilt, err.msg);
    free(buf);
    return vkb_test_done("test_vocab_rebuild");
}
