/* test_tokenizer.c - the tokenizer on a small in-memory vocab, and the
 * vocab.txt / tokenizer.json / tokenizer_config.json loaders on good and
 * malformed files.  Agreement with HF on real text is checked separately by
 * tests/tokenizer/compare.mjs (ctest tokenizer_hf_*). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tokenizer.h"
#include "vocab.h" /* internals: the table's probe counters */
#include "vkbert.h"

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"                   /* 0-4 */
    "hello\nworld\n,\n!\n.\n"                                /* 5-9 */
    "un\n##aff\n##able\na\n##a\n"                            /* 10-14 */
    "ab\ncd\n\xe4\xb8\xad\n\xe6\x96\x87\nabc\n"              /* 15-19: ab cd 中 文 abc */
    "$\n\xe2\x80\x94\nx\ny\n(\n"                              /* 20-24: $ — x y ( */
    "cafe\n\xc3\xa0\x62\xc3\xa7\n##b\nb\n";                  /* 25-28: cafe àbç ##b b */

enum { PAD, UNK, CLS, SEP, MASK, HELLO, WORLD, COMMA, BANG, DOT, UN, AFF, ABLE, A, HA,
       AB, CD, ZHONG, WEN, ABC, DOLLAR, EMDASH, X, Y, LPAREN, CAFE, ABC_ACC, HB, B };

static vkb_tokenizer *mk(int lower) {
    vkb_tokenizer *t;
    vkb_error err;
    REQUIRE(vkb_tokenizer_from_vocab(VOCAB, sizeof VOCAB - 1, lower, 512, &t, &err) == 0, "%s", err.msg);
    return t;
}

/* Encodes s (length n, or strlen when n < 0) and compares with the ids
 * between [CLS] and [SEP] given as a -1-terminated list. */
static void expect(const vkb_tokenizer *t, const char *what, const char *s, long n, int max_len, ...) {
    int32_t want[1100], got[1100];
    int nw = 0;
    va_list ap;
    va_start(ap, max_len);
    want[nw++] = CLS;
    for (int v; (v = va_arg(ap, int)) != -1;) want[nw++] = v;
    want[nw++] = SEP;
    va_end(ap);
    int ng = vkb_tokenize(t, s, n < 0 ? strlen(s) : (size_t)n, max_len, got);
    int ok = ng == nw && memcmp(want, got, (size_t)nw * sizeof *got) == 0;
    CHECK(ok, "%s: got %d ids, want %d", what, ng, nw);
    if (!ok)
        for (int i = 0; i < (ng > nw ? ng : nw); i++)
            fprintf(stderr, "  [%d] got %d want %d\n", i, i < ng ? got[i] : -9, i < nw ? want[i] : -9);
}

static void test_basic(void) {
    vkb_tokenizer *t = mk(1);
    expect(t, "words and punctuation", "Hello, world!", -1, 512, HELLO, COMMA, WORLD, BANG, -1);
    expect(t, "wordpiece", "unaffable", -1, 512, UN, AFF, ABLE, -1);
    expect(t, "no piece matches", "unaffablez", -1, 512, UNK, -1);
    expect(t, "empty", "", 0, 512, -1);
    expect(t, "NULL text, len 0", NULL, 0, 512, -1);
    expect(t, "whitespace only", " \t\r\n ", -1, 512, -1);
    expect(t, "ASCII controls dropped, not split", "hel\x01lo\x7f", -1, 512, HELLO, -1);
    expect(t, "NUL inside the text", "hel\0lo", 6, 512, HELLO, -1);
    expect(t, "ASCII symbols are punctuation", "a$b", -1, 512, A, DOLLAR, B, -1);
    expect(t, "Unicode punctuation (em dash)", "x\xe2\x80\x94y", -1, 512, X, EMDASH, Y, -1);
    expect(t, "symbol (copyright) is not punctuation", "a\xc2\xa9" "b", -1, 512, UNK, -1);
    expect(t, "CJK ideographs are split out", "ab\xe4\xb8\xad\xe6\x96\x87" "cd", -1, 512, AB, ZHONG, WEN, CD, -1);
    expect(t, "accents stripped, lowercased", "CAF\xc3\x89", -1, 512, CAFE, -1);
    expect(t, "combining accent dropped", "cafe\xcc\x81", -1, 512, CAFE, -1);
    expect(t, "zero-width space dropped", "ab\xe2\x80\x8b" "c", -1, 512, ABC, -1);
    expect(t, "no-break space splits", "ab\xc2\xa0" "cd", -1, 512, AB, CD, -1);
    expect(t, "special tokens typed in text", "[CLS]x[SEP] [MASK][PAD]", -1, 512, CLS, X, SEP, MASK, PAD, -1);
    expect(t, "lowercase [cls] is not special", "[cls]", -1, 512, UNK, UNK, UNK, -1);
    vkb_tokenizer_free(t);

    t = mk(0); /* do_lower_case false: neither lowercase nor strip accents */
    expect(t, "cased keeps accents", "\xc3\xa0\x62\xc3\xa7", -1, 512, ABC_ACC, -1);
    expect(t, "cased keeps case", "Hello", -1, 512, UNK, -1);
    vkb_tokenizer_free(t);
}

static void test_invalid_utf8(void) {
    vkb_tokenizer *t = mk(1);
    /* U+FFFD is dropped without splitting the word, as HF does after
     * Python decodes with errors="replace". */
    expect(t, "lone continuation bytes", "\x80\xbf" "ab", -1, 512, AB, -1);
    expect(t, "bad lead byte keeps the next char", "a\xc3(b", -1, 512, A, LPAREN, B, -1);
    expect(t, "truncated sequence at the end", "ab\xe2\x82", -1, 512, AB, -1);
    expect(t, "overlong encoding", "a\xc0\xaf" "b", -1, 512, AB, -1);
    expect(t, "UTF-16 surrogate", "a\xed\xa0\x80" "b", -1, 512, AB, -1);
    expect(t, "above U+10FFFF", "a\xf4\x90\x80\x80" "b", -1, 512, AB, -1);
    expect(t, "0xff 0xfe", "\xff\xfe", -1, 512, -1);
    vkb_tokenizer_free(t);
}

static void test_long_words(void) {
    vkb_tokenizer *t = mk(1);
    char w[512];
    int32_t ids[200];
    memset(w, 'a', 101);
    int n = vkb_tokenize(t, w, 100, 512, ids); /* 100 chars: a ##a x99 */
    CHECK(n == 102 && ids[1] == A && ids[2] == HA && ids[100] == HA && ids[101] == SEP,
          "100-char word: %d ids", n);
    expect(t, "101 chars -> [UNK]", w, 101, 512, UNK, -1);
    /* 101 accented chars are 101 chars after normalization (202 bytes). */
    for (int i = 0; i < 101; i++) memcpy(w + 2 * i, "\xc3\xa1", 2);
    expect(t, "101 accented chars -> [UNK]", w, 202, 512, UNK, -1);
    n = vkb_tokenize(t, w, 200, 512, ids);
    CHECK(n == 102 && ids[1] == A, "100 accented chars: %d ids", n);
    vkb_tokenizer_free(t);
}

static void test_truncation(void) {
    vkb_tokenizer *t = mk(1);
    int32_t ids[8];
    expect(t, "max_len 4", "hello world hello world", -1, 4, HELLO, WORLD, -1);
    expect(t, "max_len 2", "hello world", -1, 2, -1);
    expect(t, "truncation inside a word", "hello unaffable", -1, 4, HELLO, UN, -1);
    expect(t, "unknown word at the edge", "hello unaffablez", -1, 3, HELLO, -1);
    expect(t, "unknown word straddling", "hello unaffablez", -1, 4, HELLO, UNK, -1);
    expect(t, "exactly fits", "hello world", -1, 4, HELLO, WORLD, -1);
    CHECK(vkb_tokenize(t, "hello", 5, 1, ids) < 0, "max_len 1 must fail");
    CHECK(vkb_tokenize(t, "hello", 5, 0, ids) < 0, "max_len 0 must fail");
    vkb_tokenizer_free(t);
}

/* Random bytes (mostly invalid UTF-8, NULs, ASCII): never a crash, ids in
 * range, [CLS] first and [SEP] last.  Run under ASan/UBSan in CI. */
static void test_fuzz(void) {
    vkb_tokenizer *t = mk(1);
    uint64_t s = 12345;
    char buf[2048];
    int32_t ids[64];
    for (int it = 0; it < 3000; it++) {
        size_t n = (size_t)(s % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            unsigned v = (unsigned)(s >> 33);
            buf[i] = v % 3 == 0 ? "ab [CLS]\xc3\xe4\xb8\xad."[v % 13] : (char)(v & 0xff);
        }
        int ml = 2 + (int)(s % 62);
        int k = vkb_tokenize(t, buf, n, ml, ids);
        int ok = k >= 2 && k <= ml && ids[0] == CLS && ids[k - 1] == SEP;
        for (int i = 0; i < k && ok; i++) ok = ids[i] >= 0 && ids[i] < vkb_tokenizer_vocab_size(t);
        CHECK(ok, "fuzz iteration %d: %d ids", it, k);
        if (!ok) break;
    }
    vkb_tokenizer_free(t);
}

/* ---- loaders ---------------------------------------------------------------- */
static void expect_vocab_error(const char *what, const char *v, size_t n, const char *needle) {
    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    int rc = vkb_tokenizer_from_vocab(v, n, 1, 512, &t, &err);
    CHECK(rc != 0 && t == NULL, "%s: accepted", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
    vkb_tokenizer_free(t);
}

static void test_vocab_txt(void) {
    vkb_tokenizer *t;
    vkb_error err;
    static const char crlf[] = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello";
    REQUIRE(vkb_tokenizer_from_vocab(crlf, sizeof crlf - 1, 1, 0, &t, &err) == 0, "%s", err.msg);
    CHECK(vkb_tokenizer_vocab_size(t) == 5, "CRLF + no final newline: %d tokens", vkb_tokenizer_vocab_size(t));
    CHECK(vkb_token_id(t, "hello") == 4, "last line without newline");
    CHECK(vkb_token_id(t, "[SEP]") == 3, "CRLF stripped");
    CHECK(vkb_token_str(t, 4) && !strcmp(vkb_token_str(t, 4), "hello"), "token_str");
    CHECK(vkb_token_str(t, 5) == NULL && vkb_token_str(t, -1) == NULL, "token_str out of range");
    CHECK(vkb_tokenizer_max_len(t) == 512, "default max_len %d", vkb_tokenizer_max_len(t));
    vkb_tokenizer_free(t);

    static const char blank[] = "[PAD]\n\n[UNK]\n[CLS]\n[SEP]\n\nx\n";
    REQUIRE(vkb_tokenizer_from_vocab(blank, sizeof blank - 1, 1, 0, &t, &err) == 0, "%s", err.msg);
    CHECK(vkb_token_id(t, "x") == 6, "blank lines keep their ids (x at %d)", vkb_token_id(t, "x"));
    vkb_tokenizer_free(t);

    static const char dup[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nfoo\nbar\nfoo\n";
    expect_vocab_error("duplicate", dup, sizeof dup - 1, "line 7: duplicate token \"foo\" (first on line 5)");
    static const char nounk[] = "[PAD]\n[CLS]\n[SEP]\n";
    expect_vocab_error("no [UNK]", nounk, sizeof nounk - 1, "unk_token \"[UNK]\" is not in the vocabulary");
    static const char nocls[] = "[PAD]\n[UNK]\n[SEP]\n";
    expect_vocab_error("no [CLS]", nocls, sizeof nocls - 1, "cls_token \"[CLS]\"");
    static const char nopad[] = "[UNK]\n[CLS]\n[SEP]\n";
    expect_vocab_error("no [PAD]", nopad, sizeof nopad - 1, "pad_token");
    expect_vocab_error("empty", "", 0, "empty vocabulary");
    static const char nul[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nfo\0o\n";
    expect_vocab_error("NUL", nul, sizeof nul - 1, "line 5: NUL byte");
    static const char bad[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nok\nfo\xffo\n";
    expect_vocab_error("invalid UTF-8", bad, sizeof bad - 1, "line 6: token is not valid UTF-8");
    /* Issue 11 item 23: a token quoted in a message is escaped (ESC, C1). */
    static const char esc[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\x1b]0;x\x07\xc2\x9b\n\x1b]0;x\x07\xc2\x9b\n";
    expect_vocab_error("escaped duplicate", esc, sizeof esc - 1,
                       "line 6: duplicate token \"\\x1b]0;x\\x07\\u009b\" (first on line 5)");
}

static char tmpdir[256];

static void put_file(const char *name, const char *content) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    if (!content) { unlink(p); return; }
    FILE *f = fopen(p, "wb");
    REQUIRE(f, "cannot write %s", p);
    fputs(content, f);
    fclose(f);
}

/* Loads tmpdir; when needle is NULL expects success and returns the
 * tokenizer, else expects an error containing needle and the file name. */
static vkb_tokenizer *load(const char *what, const char *needle, const char *file) {
    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    int rc = vkb_tokenizer_load(tmpdir, &t, &err);
    if (!needle) {
        CHECK(rc == 0 && t, "%s: %s", what, err.msg);
        return rc == 0 ? t : NULL;
    }
    CHECK(rc != 0 && !t, "%s: accepted", what);
    CHECK(strstr(err.msg, needle) && strstr(err.msg, file), "%s: message \"%s\" lacks \"%s\" or \"%s\"",
          what, err.msg, needle, file);
    vkb_tokenizer_free(t);
    return NULL;
}

static void test_dir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vkb_test_tok_%d", (int)getpid());
    REQUIRE(mkdir(tmpdir, 0700) == 0, "mkdir %s", tmpdir);
    vkb_tokenizer *t;

    load("empty directory", "no vocab.txt or tokenizer.json", tmpdir);

    put_file("vocab.txt", VOCAB);
    if ((t = load("vocab.txt only", NULL, NULL))) {
        CHECK(vkb_tokenizer_max_len(t) == 512, "max_len %d", vkb_tokenizer_max_len(t));
        expect(t, "dir: lowercase by default", "HELLO", -1, 512, HELLO, -1);
        vkb_tokenizer_free(t);
    }
    put_file("tokenizer_config.json", "{\"do_lower_case\": false, \"model_max_length\": 128}");
    if ((t = load("config: cased, 128", NULL, NULL))) {
        CHECK(vkb_tokenizer_max_len(t) == 128, "max_len %d", vkb_tokenizer_max_len(t));
        expect(t, "dir: do_lower_case false", "HELLO", -1, 512, UNK, -1);
        vkb_tokenizer_free(t);
    }
    put_file("tokenizer_config.json", "{\"do_lower_case\": true, \"model_max_length\": 1e30}");
    if ((t = load("config: 1e30", NULL, NULL))) {
        CHECK(vkb_tokenizer_max_len(t) == 512, "1e30 -> %d", vkb_tokenizer_max_len(t));
        vkb_tokenizer_free(t);
    }
    put_file("tokenizer_config.json", "{\"model_max_length\": \"big\"}");
    load("model_max_length string", "\"model_max_length\" must be an integer", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"model_max_length\": 1}");
    load("model_max_length 1", "\"model_max_length\" is 1", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    load("do_lower_case string", "\"do_lower_case\" must be true or false", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"do_lower_case\": true,\n \"x\": [1, 2}");
    load("invalid JSON", "invalid JSON near line 2", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"tokenize_chinese_chars\": false}");
    load("tokenize_chinese_chars false", "\"tokenize_chinese_chars\" = false is not supported", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"model_max_length\": 128.0}");
    load("model_max_length 128.0", "\"model_max_length\" must be an integer", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"model_max_length\": 1.28e2}");
    load("model_max_length 1.28e2", "\"model_max_length\" must be an integer", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"do_lower_case\": true, \"do_lower_case\": false}");
    load("duplicate do_lower_case", "'do_lower_case' appears twice", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"unk_token\": \"[UNK]\\u0000x\"}");
    load("\\u0000 in unk_token", "\\u0000", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"unk_token\": \"[UNK]\xc3\"}");
    load("invalid UTF-8 in unk_token", "invalid UTF-8", "tokenizer_config.json");
    put_file("tokenizer_config.json", "[1]");
    load("not an object", "expected a JSON object", "tokenizer_config.json");
    put_file("tokenizer_config.json", "{\"unk_token\": \"<unk>\"}");
    load("unk_token not in vocab", "unk_token \"<unk>\" is not in the vocabulary", "vocab.txt");
    put_file("tokenizer_config.json", "{\"cls_token\": {\"content\": \"[CLS]\"}, \"model_max_length\": 64}");
    if ((t = load("AddedToken object", NULL, NULL))) vkb_tokenizer_free(t);
    put_file("tokenizer_config.json", NULL);
    put_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\nx\n");
    load("duplicate in vocab.txt", "line 6: duplicate token", "vocab.txt");
    put_file("vocab.txt", NULL);

    /* tokenizer.json (only when vocab.txt is absent) */
    const char *head = "{\"added_tokens\": [{\"id\": 2, \"content\": \"[CLS]\", \"normalized\": false}],"
                       " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"
                       " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": ";
    char js[1024];
    snprintf(js, sizeof js, "%s{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"hello\": 4}}}", head);
    put_file("tokenizer.json", js);
    if ((t = load("tokenizer.json", NULL, NULL))) {
        int32_t ids[8];
        int n = vkb_tokenize(t, "Hello[CLS] [SEP]", 16, 8, ids);
        /* [SEP] is not an added token in this file: it is split as text */
        CHECK(n == 7 && ids[1] == 4 && ids[2] == 2 && ids[3] == 1 && ids[4] == 1 && ids[5] == 1 && ids[6] == 3,
              "tokenizer.json encode: %d ids", n);
        CHECK(vkb_tokenizer_vocab_size(t) == 5, "tokenizer.json vocab size");
        vkb_tokenizer_free(t);
    }
    static const struct { const char *what, *vocab, *needle; } bad[] = {
        {"id out of range", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 9}}}", "model.vocab[\"[SEP]\"]: id must be"},
        {"shared id", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 2}}}", "id 2 given to both"},
        {"id not a number", "{\"[PAD]\": 0, \"[UNK]\": \"1\", \"[CLS]\": 2, \"[SEP]\": 3}}}", "model.vocab[\"[UNK]\"]"},
        {"vocab not an object", "[1, 2]}}", "missing object \"model.vocab\""},
        {"no [SEP]", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2}}}", "sep_token"},
        {"added token id mismatch", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[SEP]\": 2, \"[CLS]\": 3}}}", "added_tokens[0]"},
        /* Issue 11 items 11/12 and siblings: ids written as floats, NULs
         * hidden by escapes, invalid UTF-8, a duplicate token key. */
        {"vocab id 3.0", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3.0}}}", "model.vocab[\"[SEP]\"]: id must be"},
        {"vocab id 3e0", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3e0}}}", "model.vocab[\"[SEP]\"]: id must be"},
        {"\\u0000 in a token", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"a\\u0000b\": 4}}}", "\\u0000"},
        {"invalid UTF-8 token", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"a\xfe\": 4}}}", "invalid UTF-8"},
        {"duplicate token key", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"[SEP]\": 4}}}", "'[SEP]' appears twice"},
        {"max_input_chars_per_word 1.5", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3}, "
         "\"max_input_chars_per_word\": 1.5}}", "max_input_chars_per_word must be an integer"},
        {"max_input_chars_per_word 100.0", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3}, "
         "\"max_input_chars_per_word\": 100.0}}", "max_input_chars_per_word must be an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(js, sizeof js, "%s%s", head, bad[i].vocab);
        put_file("tokenizer.json", js);
        load(bad[i].what, bad[i].needle, "tokenizer.json");
    }
    put_file("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}");
    load("BPE model", "only WordPiece", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"added_tokens\": [{\"id\": 0, \"content\": \"[UNK]\", \"lstrip\": true}]}");
    load("lstrip added token", "lstrip=true is not supported", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"normalizer\": {\"type\": \"NFC\"}}");
    load("other normalizer", "normalizer.type must be \"BertNormalizer\"", "tokenizer.json");
    /* Siblings (issue 11): settings we do not implement must not be ignored. */
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"normalizer\": {\"type\": \"BertNormalizer\", \"handle_chinese_chars\": false}}");
    load("handle_chinese_chars false", "handle_chinese_chars=false is not supported", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": \"no\"}}");
    load("clean_text a string", "\"clean_text\" must be true or false", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
    load("other pre_tokenizer", "pre_tokenizer.type must be", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": 5, \"vocab\": {\"[UNK]\": 0}}}");
    load("model.type a number", "model.type must be a string", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, \"normalizer\": true}");
    load("normalizer not an object", "\"normalizer\" must be an object", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": ");
    load("truncated tokenizer.json", "invalid JSON", "tokenizer.json");
    put_file("tokenizer.json", "{}");
    load("no model", "missing object \"model\"", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, "
                               "\"added_tokens\": [{\"id\": 0.0, \"content\": \"[UNK]\"}]}");
    load("added token id 0.0", "added_tokens[0]", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\\u0000x\", \"vocab\": {\"[UNK]\": 0}}}");
    load("\\u0000 in model.type", "\\u0000", "tokenizer.json");
    put_file("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}, \"type\": \"BPE\"}}");
    load("duplicate model.type", "'type' appears twice", "tokenizer.json");
    put_file("tokenizer.json", NULL);
    rmdir(tmpdir);
}

/* Issue 11 item 18: a vocab.txt of tokens that all share one home slot
 * under the old hash (unseeded FNV-1a, slot = hash & mask) made loading
 * quadratic.  The tokens below are found by brute force; the old table's
 * probe count is computed here (~n^2/2), the loader's own counter
 * (build_probes) must stay linear.  Counts, not time: nothing flakes. */
static void test_hash_flood(void) {
    enum { N = 2000 };
    const int32_t total = N + 5; /* the specials come first */
    uint64_t cap = 16;
    while (cap < (uint64_t)total * 2 + 16) cap <<= 1;
    const uint64_t mask = cap - 1;
    size_t bufcap = 64 + (size_t)N * 12, len = 0;
    char *buf = malloc(bufcap);
    REQUIRE(buf, "malloc");
    len += (size_t)sprintf(buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    int found = 0;
    char first[16] = "", last[16] = "";
    /* Tokens "w" + 4 letters/digits, hashed incrementally: one FNV step per
     * candidate (about cap * N steps in all). */
    static const char cs[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const int m = (int)sizeof cs - 1;
    uint64_t h0 = vkb_fnv(VKB_FNV_OFFSET, "w", 1);
    for (int a = 0; a < m && found < N; a++) {
        uint64_t h1 = vkb_fnv_step(h0, (unsigned char)cs[a]);
        for (int b = 0; b < m && found < N; b++) {
            uint64_t h2 = vkb_fnv_step(h1, (unsigned char)cs[b]);
            for (int c = 0; c < m && found < N; c++) {
                uint64_t h3 = vkb_fnv_step(h2, (unsigned char)cs[c]);
                for (int d = 0; d < m && found < N; d++) {
                    if ((vkb_fnv_step(h3, (unsigned char)cs[d]) & mask) != 0) continue;
                    char tok[8] = {'w', cs[a], cs[b], cs[c], cs[d], 0};
                    memcpy(buf + len, tok, 5);
                    len += 5;
                    buf[len++] = '\n';
                    if (!found) strcpy(first, tok);
                    strcpy(last, tok);
                    found++;
                }
            }
        }
    }
    REQUIRE(found == N, "only %d colliding tokens", found);
    /* The old table: linear probing from slot 0 for every flooding token. */
    uint64_t old_probes = 0;
    for (int i = 0; i < N; i++) old_probes += (uint64_t)i + 1;

    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    CHECK(vkb_tokenizer_from_vocab(buf, len, 0, 0, &t, &err) == 0, "flooding vocab: %s", err.msg);
    if (t) {
        printf("  hash flood: %d colliding tokens: old table %llu probes, new %llu (max probe %u, %d build(s))\n",
               N, (unsigned long long)old_probes, (unsigned long long)t->build_probes, t->max_probe, t->builds);
        CHECK(old_probes > (uint64_t)N * N / 3, "the tokens do not flood the old hash");
        CHECK(t->build_probes <= (uint64_t)total * 8, "new table: %llu probes for %d tokens (not linear)",
              (unsigned long long)t->build_probes, total);
        CHECK(t->max_probe <= VKB_VOCAB_MAX_PROBE, "max probe %u", t->max_probe);
        /* Every token is still found, and unknown ones are not. */
        CHECK(vkb_token_id(t, first) == 5 && vkb_token_id(t, last) == total - 1, "lookups after flooding");
        CHECK(vkb_token_id(t, "w") == -1 && vkb_token_id(t, "zz") == -1, "absent tokens");
        int32_t ids[8];
        int n = vkb_tokenize(t, last, strlen(last), 8, ids);
        CHECK(n == 3 && ids[1] == total - 1, "tokenize a flooding token: %d ids", n);
        vkb_tokenizer_free(t);
    }
    /* Two tables of the same vocabulary draw different secrets. */
    vkb_tokenizer *t2 = NULL, *t3 = NULL;
    if (vkb_tokenizer_from_vocab(VOCAB, sizeof VOCAB - 1, 1, 0, &t2, &err) == 0 &&
        vkb_tokenizer_from_vocab(VOCAB, sizeof VOCAB - 1, 1, 0, &t3, &err) == 0)
        CHECK(t2->seed != t3->seed || t2->key != t3->key, "hash secrets repeat across tables");
    vkb_tokenizer_free(t2);
    vkb_tokenizer_free(t3);
    free(buf);
}

int main(void) {
    test_hash_flood();
    test_basic();
    test_invalid_utf8();
    test_long_words();
    test_truncation();
    test_fuzz();
    test_vocab_txt();
    test_dir();
    return vkb_test_done("test_tokenizer");
}
