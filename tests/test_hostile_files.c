/* test_hostile_files.c - model directories that attack the reader rather
 * than the format: FIFOs and devices in place of files (which would block or
 * never end), files over the size limits, symlinks out of the directory, and
 * path-like fields in tokenizer_config.json; plus regressions for bugs the
 * fuzzers found (tests/fuzz/).  Every case must fail fast with a message
 * naming the file, or (symlink, path fields) behave as documented in
 * docs/security.md.  An alarm turns a hang into a failure. */
#define _GNU_SOURCE
#include "testutil.h"
#include "ckpt_writer.h"
#include "ckpt_limits.h"
#include "tokenizer.h"
#include "model.h"
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const vkb_config kShape = {.dim = 8, .n_layers = 1, .n_heads = 2, .hidden_dim = 16,
                                  .vocab_size = 16, .max_pos = 8, .pad_token_id = 0, .n_labels = 2};
static char g_root[512];
static int g_n;

/* A fresh valid checkpoint directory. */
static const char *valid_dir(char *buf, size_t n) {
    snprintf(buf, n, "%s/case%02d", g_root, g_n++);
    mkdir(buf, 0700);
    ckw w;
    ckw_model(&w, &kShape, "F32", 3);
    REQUIRE(ckw_write_dir(&w, buf) == 0, "cannot write %s", buf);
    ckw_free(&w);
    return buf;
}

static void replace_with(const char *dir, const char *file, const char *kind, const char *target) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    unlink(p);
    if (!strcmp(kind, "fifo")) REQUIRE(mkfifo(p, 0600) == 0, "mkfifo %s", p);
    else REQUIRE(symlink(target, p) == 0, "symlink %s", p);
}

static void expect_load_fail(const char *dir, const char *what, const char *n1, const char *n2) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    alarm(20); /* a blocking open/read would hang here */
    int rc = vkb_model_load(dir, &m, &err);
    alarm(0);
    CHECK(rc != 0 && !m, "%s: loaded", what);
    CHECK(strstr(err.msg, n1) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, n1);
    if (n2) CHECK(strstr(err.msg, n2) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, n2);
    printf("  %-44s -> %s\n", what, err.msg);
    if (!rc) vkb_model_free(m);
}

static void write_sparse(const char *dir, const char *file, off_t size) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0 && ftruncate(fd, size) == 0, "sparse %s", p);
    close(fd);
}

static const char kTokJsonHead[] =
    "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":"
    "{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"a\":5}},"
    "\"added_tokens\":[{\"id\":";

/* tokenizer.json (no vocab.txt) whose first added token has id `id`. */
static void tokjson_added_id(const char *id, const char *what) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/case%02d", g_root, g_n++);
    mkdir(dir, 0700);
    char buf[600];
    snprintf(buf, sizeof buf, "%s%s,\"content\":\"[UNK]\"}]}", kTokJsonHead, id);
    ckw_write_file(dir, "tokenizer.json", buf, strlen(buf));
    vkb_tokenizer *t = NULL;
    vkb_error err = {0};
    int rc = vkb_tokenizer_load(dir, &t, &err);
    CHECK(rc != 0 && !t, "%s: loaded", what);
    CHECK(strstr(err.msg, "tokenizer.json") && strstr(err.msg, "added_tokens[0]"), "%s: message '%s'", what, err.msg);
    printf("  %-44s -> %s\n", what, err.msg);
    if (!rc) vkb_tokenizer_free(t);
}

/* Issue 11 item 21: model.safetensors truncated after it was validated (a
 * download or copy still under way) gave SIGBUS when the tensors were copied
 * out of the mmap.  Now they are read with pread: a shrunken file is an
 * error naming it, from the loader and from the CPU and Vulkan backends. */
static volatile sig_atomic_t g_signal;
static void on_bus(int sig) { g_signal = sig; _exit(99); }

static void truncated_while_loading(void) {
    char d[600], p[700];
    valid_dir(d, sizeof d);
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_load(d, &m, &err) == 0, "load: %s", err.msg);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    /* Keep the header and a few bytes of data: every tensor but the first
     * lies past the new end. */
    REQUIRE(truncate(p, (off_t)(vkb_model_tensor(m, VKB_T_WORD_EMB, 0)->off + 8)) == 0, "truncate %s", p);
    struct sigaction sa = {0}, old_bus, old_segv;
    sa.sa_handler = on_bus;
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGSEGV, &sa, &old_segv);
    float *f = malloc((size_t)vkb_model_tensor(m, VKB_T_WORD_EMB, 0)->numel * sizeof *f);
    REQUIRE(f, "malloc");
    int rc = vkb_tensor_to_f32(vkb_model_tensor(m, VKB_T_WORD_EMB, 0), f, &err);
    CHECK(rc != 0 && strstr(err.msg, "model.safetensors") && strstr(err.msg, "truncated"),
          "tensor of a truncated file: rc %d '%s'", rc, err.msg);
    printf("  %-44s -> %s\n", "model.safetensors truncated: tensor", err.msg);
    rc = vkb_tensor_convert(vkb_model_tensor(m, VKB_T_FFN1_W, 0), 3, 5, f, 1, &err);
    CHECK(rc != 0 && strstr(err.msg, "model.safetensors"), "f16 convert of a truncated file: rc %d", rc);
    vkb_backend *be = NULL;
    vkb_backend_opts o = {.device = "cpu", .threads = 1};
    memset(&err, 0, sizeof err);
    rc = vkb_backend_create(m, &o, &be, &err);
    CHECK(rc != 0 && !be && strstr(err.msg, "model.safetensors"), "CPU backend on a truncated file: rc %d '%s'",
          rc, err.msg);
    printf("  %-44s -> %s\n", "model.safetensors truncated: CPU backend", err.msg);
    if (be) vkb_backend_free(be);
    /* The Vulkan upload reads the same way (vk_upload.c); without a device
     * this fails earlier, for that reason, but never with a signal. */
    vkb_backend_opts g = {.device = "gpu", .threads = 1};
    be = NULL;
    memset(&err, 0, sizeof err);
    rc = vkb_backend_create(m, &g, &be, &err);
    CHECK(rc != 0 && !be, "Vulkan backend on a truncated file: loaded");
    if (strstr(err.msg, "uploading"))
        CHECK(strstr(err.msg, "model.safetensors") != NULL, "Vulkan upload error: '%s'", err.msg);
    printf("  %-44s -> %s\n", "model.safetensors truncated: Vulkan backend", err.msg);
    if (be) vkb_backend_free(be);
    free(f);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    vkb_model_free(m);
    /* Truncated before loading: refused by the size checks, as before. */
    expect_load_fail(d, "model.safetensors truncated before load", "model.safetensors", "truncated");
}

int main(void) {
    ckw_tmpdir(g_root, sizeof g_root, "hostile");
    truncated_while_loading();
    char d[600];

    /* Not regular files: must be refused without blocking or reading forever. */
    replace_with(valid_dir(d, sizeof d), "config.json", "fifo", NULL);
    expect_load_fail(d, "config.json is a FIFO", "config.json", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "model.safetensors", "fifo", NULL);
    expect_load_fail(d, "model.safetensors is a FIFO", "model.safetensors", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "vocab.txt", "fifo", NULL);
    expect_load_fail(d, "vocab.txt is a FIFO", "vocab.txt", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "vocab.txt", "symlink", "/dev/zero");
    expect_load_fail(d, "vocab.txt -> /dev/zero", "vocab.txt", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "tokenizer_config.json", "symlink", "/dev/zero");
    expect_load_fail(d, "tokenizer_config.json -> /dev/zero", "tokenizer_config.json", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "config.json", "symlink", "/dev/urandom");
    expect_load_fail(d, "config.json -> /dev/urandom", "config.json", "not a regular file");
    replace_with(valid_dir(d, sizeof d), "vocab.txt", "symlink", ".");
    expect_load_fail(d, "vocab.txt is a directory", "vocab.txt", "not a regular file");

    /* Over the size limits: refused from the file size, before reading. */
    write_sparse(valid_dir(d, sizeof d), "vocab.txt", (off_t)VKB_MAX_TOKENIZER_BYTES + 1);
    expect_load_fail(d, "vocab.txt over the byte limit (sparse)", "vocab.txt", "limit");
    write_sparse(valid_dir(d, sizeof d), "config.json", (off_t)VKB_MAX_CONFIG_BYTES + 1);
    expect_load_fail(d, "config.json over the byte limit (sparse)", "config.json", "limit");
    {   /* More lines than VKB_MAX_VOCAB tokens, within the byte limit. */
        size_t n = (size_t)VKB_MAX_VOCAB + 10;
        char *nl = malloc(n);
        REQUIRE(nl, "malloc");
        memset(nl, '\n', n);
        valid_dir(d, sizeof d);
        ckw_write_file(d, "vocab.txt", nl, n);
        free(nl);
        expect_load_fail(d, "vocab.txt with 4M+10 lines", "vocab.txt", "limit");
    }

    /* Small files that would make cJSON allocate ~40x their size (one node
     * per value): refused by counting values before parsing. */
    {
        size_t nv = (size_t)VKB_MAX_HEADER_VALUES + 10, hl = 24 + 2 * nv;
        char *buf = malloc(8 + hl + 8);
        REQUIRE(buf, "malloc");
        char *h = buf + 8;
        size_t k = (size_t)sprintf(h, "{\"__metadata__\":{\"a\":[");
        for (size_t i = 0; i < nv; i++) { h[k++] = '0'; h[k++] = ','; }
        h[k - 1] = ']';
        h[k++] = '}';
        h[k++] = '}';
        for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)k >> (8 * i));
        valid_dir(d, sizeof d);
        ckw_write_file(d, "model.safetensors", buf, 8 + k);
        expect_load_fail(d, "safetensors header of 3M JSON values", "model.safetensors", "JSON values");

        /* config.json and tokenizer_config.json: the same list. */
        size_t nc = (size_t)VKB_MAX_CONFIG_VALUES + 10;
        k = (size_t)sprintf(buf, "{\"x\":[");
        for (size_t i = 0; i < nc; i++) { buf[k++] = '0'; buf[k++] = ','; }
        buf[k - 1] = ']';
        buf[k++] = '}';
        valid_dir(d, sizeof d);
        ckw_write_file(d, "config.json", buf, k);
        expect_load_fail(d, "config.json of 360k JSON values", "config.json", "JSON values");
        free(buf);

        size_t nt = (size_t)VKB_MAX_TOKENIZER_VALUES + 10;
        buf = malloc(16 + 2 * nt);
        REQUIRE(buf, "malloc");
        k = (size_t)sprintf(buf, "{\"x\":[");
        for (size_t i = 0; i < nt; i++) { buf[k++] = '0'; buf[k++] = ','; }
        buf[k - 1] = ']';
        buf[k++] = '}';
        valid_dir(d, sizeof d);
        ckw_write_file(d, "tokenizer_config.json", buf, k);
        expect_load_fail(d, "tokenizer_config.json of 9.4M JSON values", "tokenizer_config.json", "JSON values");
        free(buf);
    }

    /* A symlink out of the directory is followed for reading only (the user
     * chose the directory); /etc/passwd is simply not a safetensors file. */
    replace_with(valid_dir(d, sizeof d), "model.safetensors", "symlink", "/etc/passwd");
    expect_load_fail(d, "model.safetensors -> /etc/passwd", "model.safetensors", NULL);

    /* Path-like fields are never followed: only fixed names inside dir. */
    valid_dir(d, sizeof d);
    static const char cfg[] = "{\"do_lower_case\": true, \"vocab_file\": \"/nonexistent/vocab.txt\","
                              " \"tokenizer_file\": \"../../etc/passwd\", \"name_or_path\": \"/\"}";
    ckw_write_file(d, "tokenizer_config.json", cfg, sizeof cfg - 1);
    vkb_model *m = NULL;
    vkb_error err = {0};
    CHECK(vkb_model_load(d, &m, &err) == 0, "path fields in tokenizer_config.json broke loading: %s", err.msg);
    if (m) {
        CHECK(vkb_tokenizer_vocab_size(vkb_model_tokenizer(m)) == kShape.vocab_size, "vocab not from dir");
        vkb_model_free(m);
    }
    printf("  %-44s -> loaded from the directory\n", "tokenizer_config.json path fields");

    /* Regression (fuzz_vocab): an added-token id far outside int was cast
     * before the range check (UBSan: float-cast-overflow). */
    tokjson_added_id("1e300", "added_tokens id 1e300");
    tokjson_added_id("-1e300", "added_tokens id -1e300");
    tokjson_added_id("1.5", "added_tokens id 1.5");
    tokjson_added_id("6", "added_tokens id = vocab size");

    ckw_rmtree(g_root);
    return vkb_test_done("test_hostile_files");
}
