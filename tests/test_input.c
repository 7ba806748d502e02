/* test_input.c - the batch-scoring input readers (host/input.c): JSON lines,
 * CSV/TSV, plain text and IMDB directories, with the malformed inputs that
 * must become per-record errors (or be skipped) rather than failures. */
#define _GNU_SOURCE
#include "testutil.h"
#include "input.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/vkb_test_input_XXXXXX";

static const char *write_tmp(const char *name, const char *data, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "cannot write %s", path);
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

#define MAXR 16
typedef struct { int n; vkb_record r[MAXR]; int rc; vkb_error err; } recs;

static void read_all(const char *path, vkb_input_opts *o, recs *out) {
    memset(out, 0, sizeof *out);
    vkb_input *in;
    const char *p[1] = {path};
    out->rc = vkb_input_open(p, 1, o, &in, &out->err);
    if (out->rc) return;
    vkb_record r;
    int rc;
    while ((rc = vkb_input_next(in, &r, &out->err)) == 1) {
        if (out->n < MAXR) out->r[out->n++] = r; else vkb_record_clear(&r);
    }
    out->rc = rc;
    vkb_input_close(in);
}
static void clear(recs *x) { for (int i = 0; i < x->n; i++) vkb_record_clear(&x->r[i]); }

static int has(const char *s, const char *sub) { return s && strstr(s, sub); }

int main(void) {
    REQUIRE(mkdtemp(tmpdir), "mkdtemp");
    recs x;
    vkb_input_opts o = {0};

    /* ---- JSON lines: good, passthrough, every kind of bad line ---- */
    const char jl[] =
        "{\"id\": 1, \"text\": \"good one\", \"lang\": \"en\", \"label\": 1}\r\n"
        "\n"
        "   \r\n"
        "{\"text\": \"bad \xff\xfe utf8\", \"score\": 3}\n"
        "not json\n"
        "[1, 2]\n"
        "{\"id\": \"x7\", \"txt\": \"no text field\"}\n"
        "{\"id\": 9, \"text\": 42}\n"
        "{\"text\": \"nul\0byte\"}\n"
        "{\"text\": \"a\"} trailing\n"
        "{\"text\": \"last, no newline\", \"label\": \"POSITIVE\"}";
    read_all(write_tmp("a.jsonl", jl, sizeof jl - 1), &o, &x);
    REQUIRE(x.rc == 0 && x.n == 9, "jsonl: rc %d n %d (%s)", x.rc, x.n, x.err.msg);
    CHECK(!x.r[0].error && strcmp(x.r[0].text, "good one") == 0, "r0 text");
    CHECK(x.r[0].extra && strcmp(x.r[0].extra, "\"id\":1,\"lang\":\"en\",\"input_label\":1") == 0,
          "r0 extra %s", x.r[0].extra);
    CHECK(x.r[0].label && strcmp(x.r[0].label, "1") == 0 && x.r[0].line == 1, "r0 label/line");
    CHECK(x.r[0].id_json && strcmp(x.r[0].id_json, "1") == 0, "r0 id");
    CHECK(!x.r[1].error && strcmp(x.r[1].text, "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8") == 0,
          "invalid UTF-8 replaced: %s", x.r[1].text);
    CHECK(has(x.r[1].extra, "\"input_score\":3") && x.r[1].line == 4, "r1 extra/line");
    CHECK(has(x.r[2].error, "invalid JSON") && x.r[2].line == 5, "r2 %s", x.r[2].error);
    CHECK(has(x.r[3].error, "not a JSON object"), "r3 %s", x.r[3].error);
    CHECK(has(x.r[4].error, "missing \"text\"") && strcmp(x.r[4].id_json, "\"x7\"") == 0, "r4");
    CHECK(has(x.r[5].error, "not a string") && strcmp(x.r[5].id_json, "9") == 0, "r5");
    CHECK(has(x.r[6].error, "NUL"), "r6 %s", x.r[6].error);
    CHECK(has(x.r[7].error, "trailing"), "r7 %s", x.r[7].error);
    CHECK(!x.r[8].error && strcmp(x.r[8].text, "last, no newline") == 0 &&
          strcmp(x.r[8].label, "POSITIVE") == 0 && x.r[8].line == 11, "r8");
    CHECK(x.r[8].progress == (double)(sizeof jl - 1), "progress %f", x.r[8].progress);
    clear(&x);

    /* ---- 0-byte input, a 10 MB line, the record size limit ---- */
    read_all(write_tmp("empty.jsonl", "", 0), &o, &x);
    CHECK(x.rc == 0 && x.n == 0, "empty file: rc %d n %d", x.rc, x.n);
    size_t big = 10u << 20;
    char *b = malloc(big + 32);
    memcpy(b, "{\"text\": \"", 10);
    for (size_t i = 10; i < big; i++) b[i] = "abcd efgh "[i % 10];
    memcpy(b + big, "\"}\n{\"text\":\"x\"}\n", 16);
    read_all(write_tmp("big.jsonl", b, big + 16), &o, &x);
    CHECK(x.rc == 0 && x.n == 2 && !x.r[0].error && x.r[0].text_len == big - 10 && !x.r[1].error,
          "10 MB line: n %d len %zu", x.n, x.n ? x.r[0].text_len : 0);
    clear(&x);
    o.max_record = 1000;
    read_all(write_tmp("big.jsonl", b, big + 16), &o, &x);
    CHECK(x.n == 2 && has(x.r[0].error, "longer than 1000") && !x.r[1].error, "limit");
    clear(&x);
    o.max_record = 0;
    free(b);

    /* ---- plain text: CRLF, blank lines, NUL bytes are text ---- */
    const char tx[] = "first line\r\n\r\nsecond\0line\nthird";
    read_all(write_tmp("a.txt", tx, sizeof tx - 1), &o, &x);
    CHECK(x.rc == 0 && x.n == 3, "text n %d", x.n);
    CHECK(x.n == 3 && strcmp(x.r[0].text, "first line") == 0 && x.r[1].text_len == 11 &&
          strcmp(x.r[2].text, "third") == 0 && x.r[2].line == 4 && !x.r[2].extra, "text records");
    clear(&x);

    /* auto-detection without an extension: '{' -> JSON lines, else text */
    read_all(write_tmp("noext1", "  {\"text\":\"j\"}\n", 15), &o, &x);
    CHECK(x.n == 1 && !x.r[0].error && strcmp(x.r[0].text, "j") == 0, "sniff jsonl");
    clear(&x);
    read_all(write_tmp("noext2", "plain {x}\n", 10), &o, &x);
    CHECK(x.n == 1 && strcmp(x.r[0].text, "plain {x}") == 0, "sniff text");
    clear(&x);

    /* ---- CSV: quotes, "" escapes, multi-line fields, CRLF, bad rows ---- */
    const char csv[] =
        "\xEF\xBB\xBFid,text,label\r\n"
        "1,\"hello, \"\"world\"\"\",pos\r\n"
        "\r\n"
        "2,\"multi\nline\r\nfield\",neg\r\n"
        "3,plain \"quoted\" inside,1\n"
        "4,too,many,fields\n"
        "5,short\n"
        "6,\"unterminated,neg\n";
    read_all(write_tmp("a.csv", csv, sizeof csv - 1), &o, &x);
    REQUIRE(x.rc == 0 && x.n == 6, "csv rc %d n %d %s", x.rc, x.n, x.err.msg);
    CHECK(!x.r[0].error && strcmp(x.r[0].text, "hello, \"world\"") == 0, "csv r0 %s", x.r[0].text);
    CHECK(strcmp(x.r[0].extra, "\"id\":\"1\",\"input_label\":\"pos\"") == 0, "csv extra %s", x.r[0].extra);
    CHECK(strcmp(x.r[0].label, "pos") == 0 && strcmp(x.r[0].id_json, "\"1\"") == 0, "csv label/id");
    CHECK(!x.r[1].error && strcmp(x.r[1].text, "multi\nline\r\nfield") == 0 && x.r[1].line == 4,
          "csv multiline: %s line %ld", x.r[1].text, x.r[1].line);
    CHECK(!x.r[2].error && strcmp(x.r[2].text, "plain \"quoted\" inside") == 0 && x.r[2].line == 7,
          "csv stray quotes %s %ld", x.r[2].text, x.r[2].line);
    CHECK(has(x.r[3].error, "4 fields, the header has 3"), "csv r3 %s", x.r[3].error);
    CHECK(has(x.r[4].error, "2 fields"), "csv r4 %s", x.r[4].error);
    CHECK(has(x.r[5].error, "unterminated"), "csv r5 %s", x.r[5].error);
    clear(&x);
    o.text_column = "review";
    read_all(write_tmp("b.csv", "a,b\n1,2\n", 8), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "no column named 'review'") && has(x.err.msg, "a, b"),
          "missing column: %s", x.err.msg);
    o.text_column = NULL;

    /* ---- TSV ---- */
    const char tsv[] = "text\tid\nsays \"hi\" there\t7\n";
    read_all(write_tmp("a.tsv", tsv, sizeof tsv - 1), &o, &x);
    CHECK(x.n == 1 && !x.r[0].error && strcmp(x.r[0].text, "says \"hi\" there") == 0 &&
          strcmp(x.r[0].extra, "\"id\":\"7\"") == 0, "tsv");
    clear(&x);

    /* ---- IMDB directory ---- */
    char d[600], p[700];
    snprintf(d, sizeof d, "%s/imdb", tmpdir);
    mkdir(d, 0700);
    snprintf(p, sizeof p, "%s/pos", d); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/neg", d); mkdir(p, 0700);
    write_tmp("imdb/pos/10_9.txt", "great\n", 6);
    write_tmp("imdb/pos/9_7.txt", "good", 4);
    write_tmp("imdb/neg/0_1.txt", "awful", 5);
    read_all(d, &o, &x);
    REQUIRE(x.rc == 0 && x.n == 3, "dir rc %d n %d %s", x.rc, x.n, x.err.msg);
    CHECK(strcmp(x.r[0].text, "awful") == 0 && strcmp(x.r[0].label, "neg") == 0, "dir r0");
    CHECK(strcmp(x.r[1].text, "good") == 0 && strcmp(x.r[2].text, "great") == 0, "natural order");
    CHECK(strcmp(x.r[2].extra, "\"file\":\"pos/10_9.txt\",\"input_label\":\"pos\"") == 0,
          "dir extra %s", x.r[2].extra);
    clear(&x);
    snprintf(p, sizeof p, "%s/pos", d);
    read_all(p, &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "pos/ and/or neg/"), "not imdb: %s", x.err.msg);
    read_all("/nonexistent/file.jsonl", &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "/nonexistent/file.jsonl"), "missing file: %s", x.err.msg);

    /* ---- helpers ---- */
    size_t l;
    char *s = vkb_utf8_sanitize("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xED\xA0\x80\xC3", 15, &l);
    CHECK(strcmp(s, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0,
          "sanitize: surrogates and a truncated sequence become U+FFFD");
    free(s);
    char *q = NULL;
    size_t ql = 0, qc = 0;
    vkb_json_quote(&q, &ql, &qc, "a\"b\\c\n\x01", 7);
    CHECK(strcmp(q, "\"a\\\"b\\\\c\\n\\u0001\"") == 0, "quote %s", q);
    free(q);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return vkb_test_done("test_input");
}
