/* test_checkpoint_malformed.c - hostile and broken checkpoint directories.
 * Each case starts from a valid synthetic checkpoint (tests/util/
 * ckpt_writer), breaks one thing, and requires vkb_model_load to fail with a
 * message naming the file and the tensor or field at fault. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "ckpt_writer.h"
#include <string.h>
#include <sys/stat.h>

static const vkb_config kShape = {.dim = 32, .n_layers = 2, .n_heads = 4, .hidden_dim = 64,
                                  .vocab_size = 64, .max_pos = 32, .pad_token_id = 0, .n_labels = 3};
static char g_root[512];
static int g_cases;

static const char *new_dir(char *buf, size_t n) {
    snprintf(buf, n, "%s/case%02d", g_root, g_cases);
    mkdir(buf, 0700);
    return buf;
}

/* Loads dir and requires a failure whose message contains every needle. */
static void expect_fail(const char *dir, const char *what, const char *n1, const char *n2) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    int rc = vkb_model_load(dir, &m, &err);
    g_cases++;
    CHECK(rc != 0 && m == NULL, "%s: loaded without error", what);
    CHECK(rc == 0 || err.code == VKB_ERR_INPUT, "%s: code %s, not input", what, vkb_errcode_name(err.code));
    CHECK(strstr(err.msg, n1) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, n1);
    if (n2) CHECK(strstr(err.msg, n2) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, n2);
    printf("  %-34s -> %s\n", what, err.msg);
    if (rc == 0) vkb_model_free(m);
}

/* A valid checkpoint directory; returns its path in buf. */
static const char *valid_dir(ckw *w, char *buf, size_t n) {
    ckw_model(w, &kShape, "F32", 7);
    new_dir(buf, n);
    REQUIRE(ckw_write_dir(w, buf) == 0, "cannot write %s", buf);
    return buf;
}

/* config.json with `from` replaced by `to` (all of it when from is NULL). */
static void bad_config(const char *what, const char *from, const char *to, const char *n2) {
    ckw w;
    char dir[600];
    valid_dir(&w, dir, sizeof dir);
    char *cfg = ckw_config_json(&w.cfg), *bad = from ? ckw_replace(cfg, from, to) : strdup(to);
    ckw_write_file(dir, "config.json", bad, strlen(bad));
    expect_fail(dir, what, "config.json", n2);
    free(cfg);
    free(bad);
    ckw_free(&w);
}

/* model.safetensors replaced by raw bytes. */
static void bad_file(const char *what, const void *buf, size_t len, const char *n2) {
    ckw w;
    char dir[600];
    valid_dir(&w, dir, sizeof dir);
    ckw_write_file(dir, "model.safetensors", buf, len);
    expect_fail(dir, what, "model.safetensors", n2);
    ckw_free(&w);
}

/* model.safetensors with a given header text and no data. */
static void bad_header(const char *what, const char *hdr, const char *n2) {
    size_t hl = strlen(hdr);
    unsigned char *buf = calloc(8 + hl, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    bad_file(what, buf, 8 + hl, n2);
    free(buf);
}

typedef void (*mutator)(ckw *w);
/* Writes the mutated checkpoint; the message must name `n1` (a tensor). */
static void bad_tensors(const char *what, mutator mut, const char *n1, const char *n2) {
    ckw w;
    char dir[600];
    ckw_model(&w, &kShape, "F32", 7);
    mut(&w);
    new_dir(dir, sizeof dir);
    REQUIRE(ckw_write_dir(&w, dir) == 0, "write");
    expect_fail(dir, what, n1, n2);
    ckw_free(&w);
}

#define LIN1 "distilbert.transformer.layer.1.ffn.lin1.weight"
#define KB0 "distilbert.transformer.layer.0.attention.k_lin.bias"
static void m_shape(ckw *w) { ckw_reshape(w, LIN1, 2, (int64_t[]){32, 32}); }
static void m_missing(ckw *w) { ckw_remove(w, KB0); }
static void m_missing_head(ckw *w) { ckw_remove(w, "classifier.bias"); }
static void m_dtype_i64(ckw *w) {
    ckw_tensor *t = ckw_find(w, KB0);
    strcpy(t->dtype, "I64");
    ckw_reshape(w, KB0, 1, (int64_t[]){32});
}
static void m_dtype_unknown(ckw *w) { strcpy(ckw_find(w, KB0)->dtype, "Q4_K"); }
static void m_ndim(ckw *w) { ckw_reshape(w, KB0, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 32}); }
static void m_2d_ln(ckw *w) { ckw_reshape(w, "distilbert.embeddings.LayerNorm.weight", 2, (int64_t[]){32, 1}); }
static void m_overflow(ckw *w) {
    ckw_tensor *t = ckw_add(w, "extra", "F32", 0, NULL);
    t->ndim = 3;
    t->shape[0] = t->shape[1] = t->shape[2] = (int64_t)1 << 30;
}
static void m_begin_gt_end(ckw *w) { ckw_tensor *t = ckw_find(w, KB0); t->fixed = 1; t->begin = 200; t->end = 72; }
static void m_size(ckw *w) { ckw_tensor *t = ckw_find(w, KB0); t->fixed = 1; t->begin = 0; t->end = 124; }
static void m_past_end(ckw *w) {
    ckw_tensor *t = ckw_find(w, KB0);
    t->fixed = 1;
    t->begin = (uint64_t)1 << 40;
    t->end = t->begin + 128;
}
static void m_overlap(ckw *w) { ckw_tensor *t = ckw_find(w, KB0); t->fixed = 1; t->begin = 64; t->end = 192; }
static void m_duplicate(ckw *w) { ckw_add(w, KB0, "F32", 1, (int64_t[]){32}); }
static void m_labels(ckw *w) {
    ckw_reshape(w, "classifier.weight", 2, (int64_t[]){5, 32});
    ckw_reshape(w, "classifier.bias", 1, (int64_t[]){5});
}
static void m_extra_bad(ckw *w) {
    ckw_tensor *t = ckw_add(w, "distilbert.embeddings.position_ids", "I64", 2, (int64_t[]){1, 32});
    t->fixed = 1; /* an ignored extra must still be in bounds */
    t->begin = 0;
    t->end = (uint64_t)1 << 33;
}

/* Header texts: each replaces the whole header of a valid file. */
static void header_cases(void) {
    bad_header("header is a JSON array", "[1, 2, 3]", "not a JSON object");
    bad_header("header is invalid JSON", "{\"a\": {\"dtype\": \"F32\",", "not valid JSON");
    bad_header("trailing bytes after header", "{}  x", "trailing");
    bad_header("entry is not an object", "{\"w\": 5}", "'w'");
    bad_header("shape entry not a number",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [\"a\"], \"data_offsets\": [0, 4]}}", "shape entry 0");
    bad_header("negative shape entry",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "shape entry 0");
    bad_header("fractional offset",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0.5, 4]}}", "data_offsets");
    bad_header("missing data_offsets", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", "data_offsets");
    bad_header("missing dtype", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "dtype");
    bad_header("__metadata__ not an object", "{\"__metadata__\": 3}", "__metadata__");
    bad_header("valid header, no tensors", "{}", "distilbert.embeddings.word_embeddings.weight");

    /* Issue 11 item 12: an escaped NUL would cut the C string, so
     * "classifier.bias\u0000evil" read as "classifier.bias". */
    bad_header("\\u0000 in a tensor name",
               "{\"classifier.bias\\u0000evil\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
               "\\u0000");
    bad_header("\\u0000 in a dtype",
               "{\"w\": {\"dtype\": \"F32\\u0000junk\", \"shape\": [0], \"data_offsets\": [0, 0]}}", "\\u0000");
    bad_header("\\u0000 in __metadata__",
               "{\"__metadata__\": {\"format\": \"pt\\u0000x\"}}", "\\u0000");
    bad_header("invalid UTF-8 in a tensor name",
               "{\"w\xff\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}", "UTF-8");
    /* Issue 11 item 11: integers must be JSON integers (serde refuses 2.0). */
    bad_header("shape entry 1.0",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}}", "shape entry 0");
    bad_header("shape entry 1e0",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1e0], \"data_offsets\": [0, 4]}}", "shape entry 0");
    bad_header("data_offsets 4.0",
               "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.0]}}", "data_offsets");
    /* Siblings: duplicate keys inside an entry or __metadata__ (cJSON sees
     * the first, serde the last); metadata values that are not strings. */
    bad_header("duplicate dtype key in an entry",
               "{\"w\": {\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
               "'dtype' appears twice");
    bad_header("duplicate __metadata__ key",
               "{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}}", "'a' appears twice");
    bad_header("__metadata__ value not a string", "{\"__metadata__\": {\"a\": 1}}", "not a string");
    /* A literal backslash-u0000 (an escaped backslash) is an ordinary name. */
    bad_header("escaped backslash then u0000 is a plain name",
               "{\"a\\\\u0000\": {\"dtype\": \"Q4\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
               "unknown dtype");
}

/* Issue 11 item 23: a tensor name quoted in a message must not carry
 * terminal controls: ESC (retitle/clear), C1 CSI, bidi overrides. */
static void escape_cases(void) {
    static const char *const hdrs[] = {
        "{\"\\u001b]0;pwned\\u0007\\u001b[2J\": {\"dtype\": \"Q4\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
        "{\"x\\u009b2J\\u202etxt.exe\\r\\n\": {\"dtype\": \"Q4\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
    };
    for (int i = 0; i < 2; i++) {
        ckw w;
        char dir[600];
        valid_dir(&w, dir, sizeof dir);
        size_t hl = strlen(hdrs[i]);
        unsigned char *buf = calloc(8 + hl, 1);
        for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hl >> (8 * k));
        memcpy(buf + 8, hdrs[i], hl);
        ckw_write_file(dir, "model.safetensors", buf, 8 + hl);
        free(buf);
        vkb_model *m = NULL;
        vkb_error err = {0};
        int rc = vkb_model_load(dir, &m, &err);
        g_cases++;
        CHECK(rc != 0 && !m, "escape case %d loaded", i);
        for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++) {
            CHECK(*p >= 0x20 && *p != 0x7F, "escape case %d: raw control 0x%02x in '%s'", i, *p, err.msg);
            CHECK(!(p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F), "escape case %d: raw C1 in message", i);
            CHECK(!(p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xAE), "escape case %d: raw U+202E in message", i);
        }
        CHECK(strstr(err.msg, i ? "x\\u009b2J\\u202etxt.exe\\x0d\\x0a" : "\\x1b]0;pwned\\x07\\x1b[2J"),
              "escape case %d: message '%s'", i, err.msg);
        printf("  %-34s -> %s\n", "escaped tensor name", err.msg);
        if (!rc) vkb_model_free(m);
        ckw_free(&w);
    }
}

static void file_cases(void) {
    bad_file("0-byte file", "", 0, "too short");
    bad_file("5-byte file", "\x10\0\0\0\0", 5, "too short");
    bad_file("absurd header length", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10, "header length");
    bad_file("NUL byte in header", "\x04\0\0\0\0\0\0\0{}\0 ", 12, "NUL");
    bad_file("header past end of file", "\x00\x10\x00\x00\x00\x00\x00\x00{}", 10, "truncated");

    /* A valid file cut short: the last tensors' offsets run past the end. */
    ckw w;
    char dir[600], path[700];
    valid_dir(&w, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len;
    char *buf = vkb_test_read_file(path, &len);
    REQUIRE(buf, "read %s", path);
    ckw_write_file(dir, "model.safetensors", buf, len - 100);
    expect_fail(dir, "truncated data section", "model.safetensors", "past the data section");
    free(buf);
    ckw_free(&w);

    valid_dir(&w, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    ckw_write_file(dir, "pytorch_model.bin", "PK", 2);
    expect_fail(dir, "only pytorch_model.bin", "tools/convert_pytorch_bin.py", "model.safetensors");
    remove(strcat(strcpy(path, dir), "/pytorch_model.bin"));
    expect_fail(dir, "no weights file", "model.safetensors", "No such file");
    mkdir(strcat(strcpy(path, dir), "/model.safetensors"), 0700);
    expect_fail(dir, "model.safetensors is a directory", "model.safetensors", "not a regular file");
    remove(strcat(strcpy(path, dir), "/config.json"));
    expect_fail(dir, "no config.json", "config.json", "No such file");
    ckw_free(&w);

    /* Vocabulary larger than the embedding table: ids would index past it. */
    valid_dir(&w, dir, sizeof dir);
    ckw_write_vocab(dir, kShape.vocab_size + 5);
    expect_fail(dir, "vocab larger than vocab_size", "vocab_size", NULL);
    ckw_free(&w);
}

int main(void) {
    ckw_tmpdir(g_root, sizeof g_root, "malformed");

    bad_config("config: invalid JSON", "\"dim\": 32,", "\"dim\": 32,,", "invalid JSON");
    bad_config("config: unbalanced brackets", "{", "[{", "invalid JSON");
    bad_config("config: missing dim", "\"dim\": 32,", "", "'dim'");
    bad_config("config: dim is a string", "\"dim\": 32,", "\"dim\": \"32\",", "'dim'");
    bad_config("config: dim fractional", "\"dim\": 32,", "\"dim\": 32.5,", "'dim'");
    bad_config("config: n_heads does not divide", "\"n_heads\": 4", "\"n_heads\": 5", "n_heads");
    bad_config("config: activation relu", "\"gelu\"", "\"relu\"", "activation");
    bad_config("config: absurd vocab_size", "\"vocab_size\": 64", "\"vocab_size\": 1000000000", "vocab_size");
    bad_config("config: n_layers 0", "\"n_layers\": 2", "\"n_layers\": 0", "n_layers");
    bad_config("config: absurd n_layers", "\"n_layers\": 2", "\"n_layers\": 100000", "n_layers");
    bad_config("config: negative max_pos", "\"max_position_embeddings\": 32",
               "\"max_position_embeddings\": -32", "max_position_embeddings");
    bad_config("config: pad_token_id >= vocab", "\"pad_token_id\": 0", "\"pad_token_id\": 64", "pad_token_id");
    bad_config("config: bad id2label key", "\"0\": \"L0\"", "\"x\": \"L0\"", "id2label");
    bad_config("config: label2id contradicts", "\"L1\": 1", "\"L1\": 2", "label2id");
    bad_config("config: model_type bert", "\"distilbert\"", "\"bert\"", "model_type");
    bad_config("config: top level array", NULL, "[{\"dim\": 32}]", "not a JSON object");
    bad_config("config: empty file", NULL, "", "invalid JSON");
    bad_config("config: huge hidden_dim", "\"hidden_dim\": 64", "\"hidden_dim\": 9999999999", "hidden_dim");

    bad_tensors("shape disagrees with config", m_shape,
                "tensor '" LIN1 "': shape [32, 32] but config.json implies [64, 32]", "model.safetensors");
    bad_tensors("missing tensor", m_missing, KB0, "missing");
    bad_tensors("missing head tensor", m_missing_head, "classifier.bias", "missing");
    bad_tensors("unsupported dtype I64", m_dtype_i64, KB0, "I64");
    bad_tensors("unknown dtype", m_dtype_unknown, KB0, "unknown dtype 'Q4_K'");
    bad_tensors("9 dimensions", m_ndim, KB0, "dimensions");
    bad_tensors("2-D LayerNorm weight", m_2d_ln, "embeddings.LayerNorm.weight", "shape [32, 1]");
    bad_tensors("numel overflow", m_overflow, "'extra'", "overflows");
    bad_tensors("begin > end", m_begin_gt_end, KB0, "begin > end");
    bad_tensors("size != numel * elem", m_size, KB0, "need 32 x 4");
    bad_tensors("offsets past the end", m_past_end, KB0, "past the data section");
    bad_tensors("overlapping tensors", m_overlap, "overlap", KB0);
    bad_tensors("duplicate tensor name", m_duplicate, "duplicate tensor name", KB0);
    bad_tensors("classifier vs id2label", m_labels, "classifier.weight", "id2label");
    bad_tensors("ignored extra out of bounds", m_extra_bad, "position_ids", "past the data section");

    header_cases();
    escape_cases();
    file_cases();

    printf("%d malformed checkpoints rejected\n", g_cases);
    CHECK(g_cases >= 25, "only %d cases", g_cases);
    ckw_rmtree(g_root);
    return vkb_test_done("test_checkpoint_malformed");
}
