/* test_input.c - the batch-scoring input readers (host/input.c): JSON lines,
 * CSV/TSV, plain text and IMDB directories, with the malformed inputs that
 * must become per-record errors (or be skipped) rather than failures. */
#define _GNU_SOURCE
#include "testutil.h"
#include "vkbert_io.h"
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <zlib.h>
#include <zstd.h>

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

#define WLIT(name, lit) write_tmp(name, lit, sizeof(lit) - 1)
#define MAXR 16
#define N_BIG 5000
typedef struct { int n, total; vkb_record r[MAXR]; int rc; vkb_error err; } recs;

static void read_all(const char *path, vkb_input_opts *o, recs *out) {
    memset(out, 0, sizeof *out);
    vkb_input *in;
    const char *p[1] = {path};
    out->rc = vkb_input_open(p, 1, o, &in, &out->err);
    if (out->rc) return;
    vkb_record r;
    int rc;
    while ((rc = vkb_input_next(in, &r, &out->err)) == 1) {
        out->total++;
        if (out->n < MAXR) out->r[out->n++] = r; else vkb_record_clear(&r);
    }
    out->rc = rc;
    vkb_input_close(in);
}
static void clear(recs *x) { for (int i = 0; i < x->n; i++) vkb_record_clear(&x->r[i]); }

/* What on_source was told. */
typedef struct { int calls; vkb_in_format fmt; char how[32], comp[16]; } seen_src;
static void on_src(void *u, const char *source, vkb_in_format fmt, const char *how, const char *comp) {
    seen_src *s = u;
    (void)source;
    s->calls++;
    s->fmt = fmt;
    snprintf(s->how, sizeof s->how, "%s", how);
    snprintf(s->comp, sizeof s->comp, "%s", comp ? comp : "");
}

/* gzip of data (one member), malloc'ed. */
static unsigned char *gz(const char *data, size_t n, size_t *out) {
    z_stream z = {0};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *o = malloc(cap);
    z.next_in = (Bytef *)data; z.avail_in = (uInt)n;
    z.next_out = o; z.avail_out = (uInt)cap;
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}
static unsigned char *zst(const char *data, size_t n, size_t *out) {
    size_t cap = ZSTD_compressBound(n);
    unsigned char *o = malloc(cap);
    *out = ZSTD_compress(o, cap, data, n, 3);
    REQUIRE(!ZSTD_isError(*out), "ZSTD_compress");
    return o;
}

/* Reads buf as stdin ("-"), written by a child process into a pipe. */
static void read_stdin(const void *buf, size_t n, vkb_input_opts *o, recs *out) {
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        const char *p = buf;
        while (n) { ssize_t k = write(pfd[1], p, n > 1000 ? 1000 : n); if (k <= 0) _exit(1); p += k; n -= (size_t)k; }
        _exit(0);
    }
    close(pfd[1]);
    int saved = dup(0);
    dup2(pfd[0], 0);
    close(pfd[0]);
    read_all("-", o, out);
    dup2(saved, 0);
    close(saved);
    int st;
    waitpid(pid, &st, 0);
}

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
    /* sibling: compressed and binary files in a directory */
    {
        size_t gn;
        unsigned char *g = gz("fine film\n", 10, &gn);
        write_tmp("imdb/pos/11_8.txt.gz", (char *)g, gn);
        write_tmp("imdb/neg/1_2.txt", (char *)g, gn - 5);
        write_tmp("imdb/neg/2_2.txt", "BZh91AY&SY\1\2", 12);
        write_tmp("imdb/neg/3_\xff\x1b]0;x\a.txt", "BZh91AY&SY\1\2", 12);
        free(g);
        read_all(d, &o, &x);
        REQUIRE(x.rc == 0 && x.n == 7, "dir2 rc %d n %d %s", x.rc, x.n, x.err.msg);
        /* a hostile file name: valid UTF-8 in the output, no control bytes in the message */
        CHECK(x.r[3].error && !strchr(x.r[3].error, 0x1b) && has(x.r[3].error, "\\x1b") &&
              !strcmp(x.r[3].id_json, "\"neg/3_\xEF\xBF\xBD\\u001b]0;x\\u0007.txt\""),
              "hostile name: %s / %s", x.r[3].error, x.r[3].id_json);
        CHECK(has(x.r[1].error, "neg/1_2.txt: truncated gzip"), "truncated gzip in a dir: %s", x.r[1].error);
        CHECK(has(x.r[2].error, "neg/2_2.txt: refused: bzip2"), "bzip2 in a dir: %s", x.r[2].error);
        CHECK(!x.r[6].error && !strcmp(x.r[6].text, "fine film"), "gzip in a dir: %s", x.r[6].error);
        clear(&x);
    }
    snprintf(p, sizeof p, "%s/pos", d);
    read_all(p, &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "pos/ and/or neg/"), "not imdb: %s", x.err.msg);
    read_all("/nonexistent/file.jsonl", &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "/nonexistent/file.jsonl"), "missing file: %s", x.err.msg);

    /* ---- issue 11 item 1: gzip and zstd input, by magic bytes, files and pipes ---- */
    {
        const char src[] = "{\"id\": 1, \"text\": \"one\"}\n{\"id\": 2, \"text\": \"two\"}\n";
        size_t gn, zn;
        unsigned char *g = gz(src, sizeof src - 1, &gn);
        seen_src ss = {0};
        o.on_source = on_src;
        o.user = &ss;
        read_all(write_tmp("c.jsonl.gz", (char *)g, gn), &o, &x);
        CHECK(x.rc == 0 && x.n == 2 && strcmp(x.r[1].text, "two") == 0 && strcmp(x.r[1].id_json, "2") == 0,
              "gzip file: rc %d n %d %s", x.rc, x.n, x.err.msg);
        CHECK(ss.calls == 1 && ss.fmt == VKB_FMT_JSONL && !strcmp(ss.how, "extension") && !strcmp(ss.comp, "gzip"),
              "gzip: on_source %d %d %s %s", ss.calls, ss.fmt, ss.how, ss.comp);
        CHECK(x.n == 2 && x.r[1].progress == (double)gn, "progress in compressed bytes: %f of %zu",
              x.n == 2 ? x.r[1].progress : -1, gn);
        clear(&x);
        /* two members back to back (cat a.gz b.gz) */
        unsigned char *g2 = malloc(2 * gn);
        memcpy(g2, g, gn); memcpy(g2 + gn, g, gn);
        read_all(write_tmp("cat.jsonl.gz", (char *)g2, 2 * gn), &o, &x);
        CHECK(x.rc == 0 && x.n == 4, "two gzip members: rc %d n %d %s", x.rc, x.n, x.err.msg);
        clear(&x);
        /* truncated and corrupt gzip: errors naming the file */
        read_all(write_tmp("trunc.jsonl.gz", (char *)g, gn - 6), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "trunc.jsonl.gz") && has(x.err.msg, "gzip"), "truncated gzip: rc %d %s", x.rc, x.err.msg);
        clear(&x);
        g2[gn / 2] ^= 0x55; g2[gn / 2 + 1] ^= 0x55;
        read_all(write_tmp("bad.jsonl.gz", (char *)g2, gn), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "bad.jsonl.gz") && has(x.err.msg, "corrupt gzip"), "corrupt gzip: rc %d %s", x.rc, x.err.msg);
        clear(&x);
        memcpy(g2, g, gn); memcpy(g2 + gn, "junk", 4);
        read_all(write_tmp("junk.jsonl.gz", (char *)g2, gn + 4), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "trailing"), "gzip + junk: rc %d %s", x.rc, x.err.msg);
        clear(&x);
        free(g2);
        free(g);
        /* zstd on a pipe, more than one buffer of it: N_BIG lines, no name to go by */
        size_t bn = 0;
        char *big = malloc(N_BIG * 64);
        for (int i = 0; i < N_BIG; i++) bn += (size_t)sprintf(big + bn, "{\"id\": %d, \"text\": \"line %d of many\"}\n", i, i);
        unsigned char *z = zst(big, bn, &zn);
        ss.calls = 0;
        read_stdin(z, zn, &o, &x);
        CHECK(x.rc == 0 && x.total == N_BIG && !x.r[3].error && strcmp(x.r[3].text, "line 3 of many") == 0,
              "zstd pipe: rc %d total %d %s", x.rc, x.total, x.err.msg);
        CHECK(ss.fmt == VKB_FMT_JSONL && !strcmp(ss.how, "content") && !strcmp(ss.comp, "zstd"),
              "zstd: %d %s %s", ss.fmt, ss.how, ss.comp);
        clear(&x);
        read_all(write_tmp("t.zst", (char *)z, zn - 3), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "t.zst") && has(x.err.msg, "zstd"), "truncated zstd: %s", x.err.msg);
        clear(&x);
        /* gzip on a pipe too */
        g = gz(big, bn, &gn);
        read_stdin(g, gn, &o, &x);
        CHECK(x.rc == 0 && x.total == N_BIG, "gzip pipe: rc %d total %d %s", x.rc, x.total, x.err.msg);
        clear(&x);
        free(g); free(z); free(big);
        o.on_source = NULL;
        o.user = NULL;
    }
    /* other binary input is refused with a message naming the file */
    read_all(WLIT("r.jsonl.bz2", "BZh91AY&SY\x12\x34\0\0"), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "r.jsonl.bz2") && has(x.err.msg, "bzip2"), "bzip2: %s", x.err.msg);
    read_all(WLIT("r.xz", "\xFD" "7zXZ\0\0\4"), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "xz"), "xz: %s", x.err.msg);
    read_all(WLIT("r.zip", "PK\3\4\x14\0\0\0"), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "zip"), "zip: %s", x.err.msg);
    read_all(WLIT("u16.txt", "\xFF\xFEh\0i\0\n\0"), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "UTF-16"), "utf16: %s", x.err.msg);
    {
        unsigned char bin[600];
        for (int i = 0; i < 600; i++) bin[i] = (unsigned char)(i * 37 + (i >> 3));
        read_all(write_tmp("data.bin", (char *)bin, sizeof bin), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "data.bin") && has(x.err.msg, "UTF-8"), "binary: %s", x.err.msg);
        read_all(WLIT("nuls.txt", "abc\0\0\0\0\0\0\0\0\0\0\0\0x\n"), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "nuls.txt"), "NULs: %s", x.err.msg);
    }

    /* sibling: an endless device is refused at once instead of read forever */
    read_all("/dev/zero", &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "/dev/zero") && has(x.err.msg, "UTF-8"), "/dev/zero: %s", x.err.msg);

    /* ---- item 10: explicit format detection, reported ---- */
    {
        seen_src ss = {0};
        o.on_source = on_src;
        o.user = &ss;
        /* a .txt file whose first line starts with { stays text */
        read_all(WLIT("j.txt", "{\"text\": \"x\"}\nplain\n"), &o, &x);
        CHECK(x.rc == 0 && x.n == 2 && strcmp(x.r[0].text, "{\"text\": \"x\"}") == 0 && ss.fmt == VKB_FMT_TEXT &&
              !strcmp(ss.how, "extension"), "txt with {: n %d fmt %d", x.n, ss.fmt);
        clear(&x);
        /* no extension: a first line that merely starts with { is text */
        read_all(WLIT("noext3", "{x} is not json\n{\"text\": \"y\"}\n"), &o, &x);
        CHECK(x.rc == 0 && x.n == 2 && ss.fmt == VKB_FMT_TEXT && !strcmp(ss.how, "content") &&
              strcmp(x.r[1].text, "{\"text\": \"y\"}") == 0, "noext {x}: fmt %d n %d", ss.fmt, x.n);
        clear(&x);
        /* --format overrides the extension */
        o.format = VKB_FMT_TEXT;
        read_all(WLIT("f.jsonl", "{\"text\": \"z\"}\n"), &o, &x);
        CHECK(x.n == 1 && strcmp(x.r[0].text, "{\"text\": \"z\"}") == 0 && !strcmp(ss.how, "--format"), "--format text");
        clear(&x);
        o.format = VKB_FMT_AUTO;
        /* item 2: CSV on stdin with --text-column is CSV; a TSV header is TSV; plain text fails */
        o.text_column = "review";
        const char rc_csv[] = "id,review\n1,\"good, very\"\n2,bad\n";
        read_stdin(rc_csv, sizeof rc_csv - 1, &o, &x);
        CHECK(x.rc == 0 && x.n == 2 && ss.fmt == VKB_FMT_CSV && strcmp(x.r[0].text, "good, very") == 0 &&
              strcmp(x.r[1].id_json, "\"2\"") == 0, "csv on stdin: rc %d n %d fmt %d %s", x.rc, x.n, ss.fmt, x.err.msg);
        clear(&x);
        read_stdin("review\tid\n\"a\t1\n", sizeof("review\tid\n\"a\t1\n") - 1, &o, &x);
        CHECK(x.rc == 0 && x.n == 1 && ss.fmt == VKB_FMT_TSV && strcmp(x.r[0].text, "\"a") == 0, "tsv on stdin %d", ss.fmt);
        clear(&x);
        read_stdin("just some text\nmore\n", sizeof("just some text\nmore\n") - 1, &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "--text-column review") && x.n == 0, "text + --text-column: %s", x.err.msg);
        clear(&x);
        /* with JSON lines --text-column names the field */
        read_stdin("{\"review\": \"r\"}\n", sizeof("{\"review\": \"r\"}\n") - 1, &o, &x);
        CHECK(x.rc == 0 && x.n == 1 && ss.fmt == VKB_FMT_JSONL && strcmp(x.r[0].text, "r") == 0, "jsonl review");
        clear(&x);
        read_all(WLIT("c.txt", "review\nx\n"), &o, &x);
        CHECK(x.rc == -1 && has(x.err.msg, "c.txt") && has(x.err.msg, "text lines"), "txt + --text-column: %s", x.err.msg);
        o.text_column = NULL;
        /* a first JSON line longer than the sniffing buffer (1 MiB) is still JSON lines */
        {
            size_t ln = (3u << 19) + 32;
            char *lj = malloc(ln);
            memcpy(lj, "{\"text\": \"", 10);
            memset(lj + 10, 'w', ln - 10);
            memcpy(lj + ln - 17, "\"}\n{\"text\": \"b\"}\n", 17);
            read_stdin(lj, ln, &o, &x);
            CHECK(x.rc == 0 && x.n == 2 && ss.fmt == VKB_FMT_JSONL && !x.r[0].error && x.r[0].text_len == ln - 27,
                  "long first JSON line: rc %d n %d fmt %d %s", x.rc, x.n, ss.fmt, x.err.msg);
            clear(&x);
            free(lj);
        }
        /* a header with a text column makes stdin CSV even without --text-column */
        read_stdin("id,text\n1,hi\n", sizeof("id,text\n1,hi\n") - 1, &o, &x);
        CHECK(x.rc == 0 && x.n == 1 && ss.fmt == VKB_FMT_CSV && strcmp(x.r[0].text, "hi") == 0, "sniffed csv header");
        clear(&x);
        o.on_source = NULL;
        o.user = NULL;
    }

    /* ---- item 5: TSV has no quoting ---- */
    {
        const char t5[] = "id\ttext\n1\t\"quoted\" start\n2\t\"unmatched\n3\tmid \"q\" x\n4\t\"\"\n5\tlast\n";
        read_all(write_tmp("q.tsv", t5, sizeof t5 - 1), &o, &x);
        CHECK(x.rc == 0 && x.n == 5, "tsv 5 records: n %d", x.n);
        CHECK(x.n == 5 && !strcmp(x.r[0].text, "\"quoted\" start") && !strcmp(x.r[1].text, "\"unmatched") &&
              !strcmp(x.r[3].text, "\"\"") && !strcmp(x.r[4].text, "last") && x.r[4].line == 6, "tsv quotes are data");
        clear(&x);
    }

    /* ---- item 6: CR-only and CRLF line ends in every format ---- */
    read_all(WLIT("cr.csv", "id,text\r1,good\r2,\"multi\rline\"\r3,bad\r"), &o, &x);
    CHECK(x.rc == 0 && x.n == 3 && !strcmp(x.r[0].text, "good") && !strcmp(x.r[1].text, "multi\rline") &&
          !strcmp(x.r[2].text, "bad") && !strcmp(x.r[2].id_json, "\"3\""), "CR-only csv: n %d", x.n);
    clear(&x);
    read_all(WLIT("cr.tsv", "id\ttext\r1\tgood\r\n2\tbad\r"), &o, &x);
    CHECK(x.rc == 0 && x.n == 2 && !strcmp(x.r[1].text, "bad") && x.r[1].line == 3, "CR tsv: n %d", x.n);
    clear(&x);
    read_all(WLIT("cr.txt", "one\rtwo\r\nthree\r\rfour"), &o, &x);
    CHECK(x.rc == 0 && x.n == 4 && !strcmp(x.r[1].text, "two") && !strcmp(x.r[3].text, "four") && x.r[3].line == 5,
          "CR text: n %d", x.n);
    clear(&x);
    read_all(WLIT("cr.jsonl", "{\"text\":\"a\"}\r{\"text\":\"b\"}\r"), &o, &x);
    CHECK(x.rc == 0 && x.n == 2 && !x.r[1].error && !strcmp(x.r[1].text, "b"), "CR jsonl: n %d", x.n);
    clear(&x);

    /* ---- item 8: pass-through values byte for byte ---- */
    {
        const char j8[] =
            "{\"id\": 1234567890123456789, \"text\": \"t\", \"a\": 9007199254740993, \"b\": 1e400, "
            "\"c\": 0.30000000000000004, \"d\": {\"x\": [1, 2.50, -0.0, \"\\u00e9\"]}, \"e\": \"\\u00e9\\n\", "
            "\"label\": 1e300, \"input_label\": \"kept\"}\n"
            "{\"id\": 9007199254740993, \"text\": \"dup\", \"k\": 1, \"k\": 2}\n"
            "{\"text\": \"n\\u0000ul\", \"f\": 01}\n"
            "{\"text\": \"n\\u0000ul\", \"tab\": \"a\tb\", \"label\": 3.0}\n";
        read_all(write_tmp("p.jsonl", j8, sizeof j8 - 1), &o, &x);
        REQUIRE(x.rc == 0 && x.n == 4, "pass-through: rc %d n %d %s", x.rc, x.n, x.err.msg);
        CHECK(x.r[0].extra && !strcmp(x.r[0].extra,
              "\"id\":1234567890123456789,\"a\":9007199254740993,\"b\":1e400,\"c\":0.30000000000000004,"
              "\"d\":{\"x\": [1, 2.50, -0.0, \"\\u00e9\"]},\"e\":\"\\u00e9\\n\",\"input_input_label\":1e300,"
              "\"input_label\":\"kept\""), "extra bytes: %s", x.r[0].extra);
        CHECK(!strcmp(x.r[0].id_json, "1234567890123456789") && !x.r[0].label, "id bytes %s; 1e300 is no label",
              x.r[0].id_json);
        CHECK(has(x.r[1].error, "duplicate key \"k\"") && !strcmp(x.r[1].id_json, "9007199254740993"),
              "duplicate: %s", x.r[1].error);
        CHECK(has(x.r[2].error, "invalid JSON"), "01 is not JSON: %s", x.r[2].error);
        CHECK(!x.r[3].error && x.r[3].text_len == 4 && !memcmp(x.r[3].text, "n\0ul", 5) &&
              !strcmp(x.r[3].extra, "\"tab\":\"a\\u0009b\",\"input_label\":3.0") && !strcmp(x.r[3].label, "3"),
              "\\u0000 kept, raw tab escaped: len %zu %s", x.r[3].text_len, x.r[3].extra);
        clear(&x);
    }

    /* ---- item 22: huge and odd numeric labels (UBSan catches a bad cast) ---- */
    read_all(WLIT("l.jsonl", "{\"text\":\"a\",\"label\":1e300}\n{\"text\":\"a\",\"label\":-1e300}\n"
                       "{\"text\":\"a\",\"label\":9.3e18}\n{\"text\":\"a\",\"label\":-7}\n{\"text\":\"a\",\"label\":0.5}\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 5 && !x.r[0].label && !x.r[1].label && !x.r[2].label && !strcmp(x.r[3].label, "-7") &&
          !x.r[4].label, "numeric labels (n %d)", x.n);
    clear(&x);

    /* ---- missing text field: one error for the file, naming what is there ---- */
    read_all(WLIT("m.jsonl", "{\"id\":1,\"review\":\"a\"}\n{\"id\":2,\"review\":\"b\"}\n"), &o, &x);
    CHECK(x.rc == -1 && x.n == 0 && has(x.err.msg, "m.jsonl") && has(x.err.msg, "\"text\"") &&
          has(x.err.msg, "id, review") && has(x.err.msg, "--text-column"), "missing field: %s", x.err.msg);
    /* ...but one bad line at the start does not lose the others */
    read_all(WLIT("m2.jsonl", "not json\n{\"id\":1,\"txt\":\"a\"}\n{\"id\":2,\"text\":\"b\"}\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 3 && has(x.r[1].error, "missing") && !strcmp(x.r[2].text, "b") && x.r[2].line == 3 &&
          x.r[2].progress == 48.0, "first line missing, second has it: rc %d n %d %s", x.rc, x.n, x.err.msg);
    clear(&x);

    /* sibling: a pretty-printed JSON array is not JSON lines: one error, not one per line */
    read_all(WLIT("arr.json", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n]\n"), &o, &x);
    CHECK(x.rc == -1 && x.n == 0 && has(x.err.msg, "arr.json: not JSON lines") && has(x.err.msg, "jq -c"),
          "JSON array: %s", x.err.msg);
    read_all(WLIT("nojson.jsonl", "a\nb\nc\nd\ne\nf\ng\nh\n{\"text\": \"late\"}\n"), &o, &x);
    CHECK(x.rc == -1 && x.n == 0 && has(x.err.msg, "no line among the first 8 is a JSON object"), "no object: %s", x.err.msg);
    read_all(WLIT("arr2.jsonl", "garbage\n{\"text\": \"ok\"}\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 2 && x.r[0].error && !x.r[1].error, "bad first line, good second: rc %d", x.rc);
    clear(&x);

    /* ---- siblings: BOM, header-only CSV, duplicate columns, reserved column clash ---- */
    read_all(WLIT("bom.jsonl", "\xEF\xBB\xBF{\"text\":\"b\"}\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 1 && !x.r[0].error, "BOM before JSON lines: %s", x.n ? x.r[0].error : x.err.msg);
    clear(&x);
    read_all(WLIT("bom.txt", "\xEF\xBB\xBFhello\n"), &o, &x);
    CHECK(x.n == 1 && !strcmp(x.r[0].text, "hello"), "BOM before text");
    clear(&x);
    read_all(WLIT("h.csv", "id,text\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 0, "header-only csv: rc %d n %d", x.rc, x.n);
    read_all(WLIT("esc.csv", "a\x1b[2J,b\xc2\x9b\n1,2\n"), &o, &x);
    CHECK(x.rc == -1 && !strchr(x.err.msg, 0x1b) && !strstr(x.err.msg, "\xc2\x9b") && has(x.err.msg, "a\\x1b[2J"),
          "control bytes in column names are escaped: %s", x.err.msg);
    read_all(WLIT("esc.jsonl", "{\"\\u001b]0;t\\u0007\": 1}\n"), &o, &x);
    CHECK(x.rc == -1 && !strchr(x.err.msg, 0x1b) && !strchr(x.err.msg, 0x07) && has(x.err.msg, "\\x1b]0;t\\x07"),
          "control bytes in JSON keys are escaped: %s", x.err.msg);
    read_all(WLIT("d.csv", "id,text,id\n1,a,2\n"), &o, &x);
    CHECK(x.rc == -1 && has(x.err.msg, "'id' twice"), "duplicate column: %s", x.err.msg);
    read_all(WLIT("r.csv", "text,label,input_label\na,1,2\n"), &o, &x);
    CHECK(x.rc == 0 && x.n == 1 && !strcmp(x.r[0].extra, "\"input_input_label\":\"1\",\"input_label\":\"2\"") &&
          !strcmp(x.r[0].label, "1"), "csv reserved clash: %s", x.n ? x.r[0].extra : x.err.msg);
    clear(&x);

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
