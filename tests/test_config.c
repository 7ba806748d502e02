/* test_config.c - config.json parsing edge cases beyond the checkpoint tests:
 * label ordering, HF defaults and nulls, strict id keys, oversized fields. */
#include "testutil.h"
#include "config.h"
#include "error.h"
#include <string.h>

#define SHAPE "\"dim\": 8, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, " \
              "\"vocab_size\": 10, \"max_position_embeddings\": 4"

static int parse(const char *json, vkb_config *c, vkb_error *err) {
    return vkb_config_parse(json, strlen(json), "config.json", c, err);
}

static void ok(const char *json, const char *what, vkb_config *c) {
    vkb_error err = {0};
    CHECK(parse(json, c, &err) == 0, "%s: %s", what, err.msg);
}

static void bad(const char *json, const char *needle) {
    vkb_config c;
    vkb_error err = {0};
    int rc = parse(json, &c, &err);
    CHECK(rc != 0 && strstr(err.msg, needle) && strstr(err.msg, "config.json"), "'%s': got rc %d msg '%s'",
          json, rc, err.msg);
    CHECK(c.labels == NULL, "labels left allocated for '%s'", json);
    if (!rc) vkb_config_free_labels(&c);
}

int main(void) {
    vkb_config c;
    ok("{" SHAPE ", \"id2label\": {\"1\": \"POSITIVE\", \"0\": \"NEGATIVE\"}, "
       "\"label2id\": {\"NEGATIVE\": 0, \"POSITIVE\": 1}, \"pad_token_id\": 3}", "labels out of order", &c);
    CHECK(c.n_labels == 2 && !strcmp(c.labels[0], "NEGATIVE") && !strcmp(c.labels[1], "POSITIVE"), "label order");
    CHECK(c.dim == 8 && c.n_heads == 2 && c.max_pos == 4 && c.pad_token_id == 3, "fields");
    vkb_config_free_labels(&c);
    ok("{" SHAPE ", \"pad_token_id\": null, \"activation\": \"gelu\", \"id2label\": {}}  \n", "nulls", &c);
    CHECK(c.pad_token_id == 0 && c.n_labels == 0 && !c.labels, "defaults");

    bad("{" SHAPE ", \"id2label\": {\"01\": \"A\", \"1\": \"B\"}}", "'01'");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\", \"0\": \"B\"}}", "twice");
    bad("{" SHAPE ", \"id2label\": {\"0\": 5}}", "id2label");
    bad("{" SHAPE ", \"id2label\": {\"-1\": \"A\"}}", "'-1'");
    bad("{" SHAPE ", \"id2label\": [\"A\"]}", "id2label");
    bad("{" SHAPE ", \"label2id\": {\"A\": 0}, \"id2label\": {\"0\": \"B\"}}", "label2id");
    bad("{" SHAPE ", \"label2id\": 3}", "label2id");
    bad("{" SHAPE ", \"activation\": 1}", "activation");
    bad("{\"dim\": true, \"n_layers\": 1}", "'dim'");
    bad("{" SHAPE ", \"dim\": 16}", "'dim' appears twice");
    bad("{" SHAPE "} x", "trailing");
    bad("{\"dim\": 8, \"n_layers\": 1, \"n_heads\": 0, \"hidden_dim\": 16, \"vocab_size\": 10, "
        "\"max_position_embeddings\": 4}", "n_heads");
    bad("{\"dim\": 8, \"n_layers\": 1, \"n_heads\": 16, \"hidden_dim\": 16, \"vocab_size\": 10, "
        "\"max_position_embeddings\": 4}", "n_heads");
    bad("{\"dim\": 8, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, \"vocab_size\": 10}",
        "max_position_embeddings");
    bad("{\"dim\": 1e300, \"n_layers\": 1}", "'dim'");

    /* A label longer than the limit, and an id2label with too many ids. */
    char *big = malloc(4000);
    snprintf(big, 4000, "{" SHAPE ", \"id2label\": {\"0\": \"%02000d\"}}", 7);
    bad(big, "id2label");
    free(big);
    /* Issue 11 item 11: duplicate label names or label2id keys would give
     * each output line duplicate keys in "scores". */
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\", \"1\": \"A\"}}", "label 'A' is given to two ids");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\", \"1\": \"B\"}, \"label2id\": {\"A\": 0, \"A\": 0}}",
        "'A' appears twice");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\"}, \"label2id\": {\"A\": 0.0}}", "label2id");
    /* Integers must be written as JSON integers: 8.0 and 8e0 are floats to
     * Python (and would be truncated by a cast). */
    bad("{\"dim\": 8.0, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, \"vocab_size\": 10, "
        "\"max_position_embeddings\": 4}", "'dim' must be an integer");
    bad("{\"dim\": 8e0, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, \"vocab_size\": 10, "
        "\"max_position_embeddings\": 4}", "'dim' must be an integer");
    bad("{" SHAPE ", \"pad_token_id\": 1.0}", "'pad_token_id' must be an integer");
    bad("{" SHAPE ", \"pad_token_id\": 1.5}", "'pad_token_id' must be an integer");
    ok("{" SHAPE ", \"pad_token_id\": -0, \"initializer_range\": 0.02, \"x\": [1e5, 2.5]}", "floats elsewhere", &c);
    vkb_config_free_labels(&c);
    /* Duplicate keys at any depth, not only the top level. */
    bad("{" SHAPE ", \"task_specific_params\": {\"a\": 1, \"a\": 2}}", "'a' appears twice");
    /* Item 12: an escaped NUL cuts cJSON's C string. */
    bad("{" SHAPE ", \"model_type\": \"distilbert\\u0000bert\"}", "\\u0000");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\\u0000B\"}}", "\\u0000");
    bad("{" SHAPE ", \"id2label\": {\"0\\u0000\": \"A\"}}", "\\u0000");
    ok("{" SHAPE ", \"id2label\": {\"0\": \"A\\\\u0000B\"}}", "escaped backslash before u0000", &c);
    CHECK(c.n_labels == 1 && !strcmp(c.labels[0], "A\\u0000B"), "literal backslash label: %s", c.labels ? c.labels[0] : "");
    vkb_config_free_labels(&c);
    /* Item 13: labels are written into every output line: valid UTF-8 and no
     * control characters (C0, DEL, C1). */
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\xff\"}}", "UTF-8");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\xc0\xaf\"}}", "UTF-8");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\\u001b[2J\"}}", "control character");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\\nB\"}}", "control character");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\\u0085\"}}", "control character");
    bad("{" SHAPE ", \"id2label\": {\"0\": \"A\\ud800\"}}", "invalid JSON");
    ok("{" SHAPE ", \"id2label\": {\"0\": \"caf\xc3\xa9 \\u00e9\\ud83d\\ude00\"}}", "UTF-8 label", &c);
    vkb_config_free_labels(&c);
    /* Item 23: vkb_fail escapes what a terminal would act on, once. */
    {
        vkb_error e;
        vkb_fail(&e, "x '%s'", "a\x1b[31mb\x9b\xc2\x85" "c\xe2\x80\xae" "d\x7f\t\xf0\x9f\x98\x80\xc3\xa9");
        CHECK(!strcmp(e.msg, "x 'a\\x1b[31mb\\x9b\\u0085c\\u202ed\\x7f\\x09\xf0\x9f\x98\x80\xc3\xa9'"), "escaped: %s", e.msg);
        vkb_error f;
        vkb_fail(&f, "%s", e.msg);
        CHECK(!strcmp(e.msg, f.msg), "escaping twice changed '%s' to '%s'", e.msg, f.msg);
        char small[7];
        vkb_escape_msg(small, sizeof small, "\x1b\x1b");
        CHECK(!strcmp(small, "\\x1b"), "cut at a whole escape: '%s'", small);
        vkb_escape_msg(small, 6, "abcd\xc3\xa9");
        CHECK(!strcmp(small, "abcd"), "cut at a whole character: '%s'", small);
    }
    /* NUL bytes inside the text are refused rather than silently cut. */
    vkb_error err;
    CHECK(vkb_config_parse("{}\0{}", 5, "config.json", &c, &err) != 0 && strstr(err.msg, "NUL"), "NUL: %s", err.msg);
    /* Named shapes for random models (vkbert check/bench --shape). */
    vkb_config nc;
    CHECK(vkb_config_named("distilbert-base", &nc, &err) == 0 && nc.dim == 768 && nc.n_layers == 6 &&
          nc.n_heads == 12 && nc.hidden_dim == 3072 && nc.vocab_size == 30522 && nc.max_pos == 512 &&
          nc.n_labels == 2 && nc.labels == NULL && vkb_config_check(&nc, "shape", &err) == 0, "distilbert-base");
    CHECK(vkb_config_named("distilbert-huge", &nc, &err) != 0 && strstr(err.msg, "distilbert-huge") &&
          strstr(err.msg, "known: distilbert-base"), "unknown shape: %s", err.msg);
    return vkb_test_done("test_config");
}
