/* test_checkpoint_valid.c - checkpoints that must load: classification
 * checkpoints in F32/F16/BF16 with unaligned data and ignored extra tensors,
 * a base DistilBertModel, a head-less "distilbert."-prefixed one (MaskedLM),
 * configs relying on HF defaults; and in-memory random models. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "ckpt_writer.h"
#include "model.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const vkb_config kShape = {.dim = 24, .n_layers = 2, .n_heads = 3, .hidden_dim = 40,
                                  .vocab_size = 50, .max_pos = 16, .pad_token_id = 0, .n_labels = 3};

/* Every tensor the loader binds must equal what the writer wrote, exactly,
 * and refer to its bytes inside the file (read when converted, not copied at
 * load time). */
static void compare(const vkb_model *m, ckw *w, const char *prefix, const char *what) {
    ckw_named *nt = calloc(8 + 16 * (size_t)m->cfg.n_layers, sizeof *nt);
    int n = ckw_model_tensors(m, *prefix != 0, nt);
    CHECK(n == 4 + 16 * m->cfg.n_layers + (m->w.has_head ? 4 : 0), "%s: count %d", what, n);
    for (int k = 0; k < n; k++) {
        const vkb_tensor *t = nt[k].t;
        const char *nm = nt[k].name;
        ckw_tensor *ct = ckw_find(w, nm);
        CHECK(t->file == &m->file && !t->data && t->off + (uint64_t)t->numel * 2 <= m->file_size,
              "%s: %s not inside the file", what, nm);
        CHECK(t->ndim == ct->ndim && t->shape[0] == ct->shape[0] && (t->ndim == 1 || t->shape[1] == ct->shape[1]),
              "%s: %s shape", what, nm);
        float *f = malloc((size_t)t->numel * sizeof(float));
        vkb_error err = {0};
        CHECK(vkb_tensor_to_f32(t, f, &err) == 0, "%s: %s: %s", what, nm, err.msg);
        int diff = 0;
        for (int64_t i = 0; i < t->numel; i++) diff += f[i] != ct->vals[i];
        CHECK(diff == 0, "%s: %s has %d wrong values", what, nm, diff);
        free(f);
    }
    free(nt);
}

static vkb_model *load(const char *dir, const char *what) {
    vkb_model *m = NULL;
    vkb_error err = {0};
    int rc = vkb_model_load(dir, &m, &err);
    CHECK(rc == 0 && m, "%s: %s", what, err.msg);
    return rc ? NULL : m;
}

static void classification(const char *root, const char *dt, int pad) {
    char dir[600], what[64];
    snprintf(dir, sizeof dir, "%s/cls_%s", root, dt);
    snprintf(what, sizeof what, "classification %s", dt);
    mkdir(dir, 0700);
    ckw w;
    ckw_model(&w, &kShape, dt, 11);
    /* Extras HF or other tools may store: all ignored, but bounds-checked. */
    ckw_add(&w, "distilbert.embeddings.position_ids", "I64", 2, (int64_t[]){1, kShape.max_pos});
    ckw_add(&w, "some.empty", "F32", 2, (int64_t[]){0, 7});
    ckw_add(&w, "some.flags", "BOOL", 1, (int64_t[]){3});
    w.header_pad = pad;
    REQUIRE(ckw_write_dir(&w, dir) == 0, "write %s", dir);
    vkb_model *m = load(dir, what);
    if (m) {
        const vkb_config *c = vkb_model_config(m);
        CHECK(c->dim == 24 && c->n_layers == 2 && c->n_heads == 3 && c->hidden_dim == 40 &&
              c->vocab_size == 50 && c->max_pos == 16 && c->pad_token_id == 0, "%s: config", what);
        CHECK(m->w.has_head && c->n_labels == 3 && !strcmp(c->labels[0], "L0") && !strcmp(c->labels[2], "L2"),
              "%s: head/labels", what);
        CHECK(vkb_model_tokenizer(m) != NULL, "%s: tokenizer", what);
        CHECK(vkb_model_tensor(m, VKB_T_WORD_EMB, 0)->dtype == (!strcmp(dt, "F32") ? VKB_DT_F32 : !strcmp(dt, "F16") ? VKB_DT_F16 : VKB_DT_BF16),
              "%s: dtype", what);
        if (pad == 1) CHECK((vkb_model_tensor(m, VKB_T_WORD_EMB, 0)->off & 1) != 0, "%s: expected unaligned data", what);
        compare(m, &w, "distilbert.", what);
        vkb_model_free(m);
    }
    ckw_free(&w);
}

/* A base model (no prefix, no head), and a prefixed head-less checkpoint. */
static void headless(const char *root) {
    vkb_config s = kShape;
    s.n_labels = 0;
    char dir[600];
    ckw w;
    snprintf(dir, sizeof dir, "%s/base", root);
    mkdir(dir, 0700);
    ckw_model(&w, &s, "F16", 3);
    REQUIRE(ckw_write_dir(&w, dir) == 0, "write");
    vkb_model *m = load(dir, "base model");
    if (m) {
        CHECK(!m->w.has_head && m->cfg.n_labels == 0 && m->cfg.labels == NULL, "base: no head expected");
        compare(m, &w, "", "base model");
        vkb_model_free(m);
    }
    /* Same tensors renamed "distilbert.*" plus MaskedLM's extras. */
    for (int i = 0; i < w.n; i++) {
        char tmp[160];
        snprintf(tmp, sizeof tmp, "distilbert.%s", w.t[i].name);
        snprintf(w.t[i].name, sizeof w.t[i].name, "%.120s", tmp);
    }
    ckw_add(&w, "vocab_transform.weight", "F16", 2, (int64_t[]){24, 24});
    ckw_add(&w, "vocab_projector.bias", "F16", 1, (int64_t[]){50});
    snprintf(dir, sizeof dir, "%s/mlm", root);
    mkdir(dir, 0700);
    REQUIRE(ckw_write_dir(&w, dir) == 0, "write");
    if ((m = load(dir, "masked-LM checkpoint"))) {
        CHECK(!m->w.has_head && m->cfg.n_labels == 0, "mlm: no head expected");
        compare(m, &w, "distilbert.", "masked-LM checkpoint");
        vkb_model_free(m);
    }
    ckw_free(&w);
}

/* HF omits id2label when it is the default 2-label one; activation and
 * pad_token_id fall back to HF's defaults. */
static void defaults(const char *root) {
    vkb_config s = kShape;
    s.n_labels = 2;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/defaults", root);
    mkdir(dir, 0700);
    ckw w;
    ckw_model(&w, &s, "F32", 5);
    REQUIRE(ckw_write_dir(&w, dir) == 0, "write");
    const char *cfg = "{\"dim\": 24, \"n_layers\": 2, \"n_heads\": 3, \"hidden_dim\": 40, "
                      "\"vocab_size\": 50, \"max_position_embeddings\": 16}";
    ckw_write_file(dir, "config.json", cfg, strlen(cfg));
    vkb_model *m = load(dir, "defaults");
    if (m) {
        CHECK(m->cfg.n_labels == 2 && !strcmp(m->cfg.labels[0], "LABEL_0") && !strcmp(m->cfg.labels[1], "LABEL_1"),
              "default labels");
        CHECK(m->cfg.pad_token_id == 0, "default pad_token_id");
        vkb_model_free(m);
    }
    ckw_free(&w);
}

static void random_models(void) {
    vkb_config base = {.dim = 768, .n_layers = 6, .n_heads = 12, .hidden_dim = 3072, .vocab_size = 30522,
                       .max_pos = 512, .pad_token_id = 0, .n_labels = 2};
    vkb_model *a = NULL, *b = NULL, *c = NULL;
    vkb_error err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(vkb_model_random(&base, 42, &a, &err) == 0, "%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("random distilbert-base model: %.3f s\n", s);
    CHECK(s < 10.0, "random model took %.1f s", s);
    CHECK(a->w.has_head && a->cfg.n_labels == 2 && !strcmp(a->cfg.labels[1], "LABEL_1") && !a->tok, "head/labels");
    CHECK(vkb_model_tensor(a, VKB_T_CLS_W, 0)->shape[0] == 2 && vkb_model_tensor(a, VKB_T_CLS_W, 0)->shape[1] == 768 &&
          vkb_model_tensor(a, VKB_T_FFN2_W, 5)->shape[1] == 3072, "shapes");
    /* Weights ~ N(0, 0.02); LayerNorm weights ~ 1 with spread. */
    const float *we = vkb_model_tensor(a, VKB_T_WORD_EMB, 0)->data;
    double sum = 0, sq = 0;
    int64_t n = vkb_model_tensor(a, VKB_T_WORD_EMB, 0)->numel;
    for (int64_t i = 0; i < n; i++) { sum += we[i]; sq += (double)we[i] * we[i]; }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    CHECK(fabs(mean) < 1e-3 && fabs(sd - 0.02) < 1e-3, "word_emb mean %g sd %g", mean, sd);
    const float *lw = vkb_model_tensor(a, VKB_T_SA_LN_W, 0)->data;
    CHECK(fabsf(lw[0] - 1) < 0.4f && lw[0] != lw[1], "LayerNorm weights %g %g", lw[0], lw[1]);

    vkb_config small = kShape;
    REQUIRE(vkb_model_random(&small, 1, &b, &err) == 0, "%s", err.msg);
    REQUIRE(vkb_model_random(&small, 1, &c, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(vkb_model_tensor(b, VKB_T_FFN1_W, 1)->data, vkb_model_tensor(c, VKB_T_FFN1_W, 1)->data, 40 * 24 * 4),
          "same seed, same weights");
    vkb_model_free(c);
    REQUIRE(vkb_model_random(&small, 2, &c, &err) == 0, "%s", err.msg);
    CHECK(memcmp(vkb_model_tensor(b, VKB_T_FFN1_W, 1)->data, vkb_model_tensor(c, VKB_T_FFN1_W, 1)->data, 40 * 24 * 4),
          "other seed, other weights");
    vkb_model_free(c);
    small.n_labels = 0;
    REQUIRE(vkb_model_random(&small, 1, &c, &err) == 0, "%s", err.msg);
    CHECK(!c->w.has_head && c->cfg.n_labels == 0, "random base model");
    vkb_model_free(c);
    small.n_heads = 5;
    c = (vkb_model *)&small;
    CHECK(vkb_model_random(&small, 1, &c, &err) != 0 && !c && strstr(err.msg, "n_heads"), "bad shape: %s", err.msg);
    vkb_model_free(a);
    vkb_model_free(b);
}

int main(void) {
    char root[512];
    ckw_tmpdir(root, sizeof root, "valid");
    /* pad 1 makes the data section start at an odd address. */
    classification(root, "F32", 1);
    classification(root, "F16", 1);
    classification(root, "BF16", 0);
    headless(root);
    defaults(root);
    random_models();
    ckw_rmtree(root);
    return vkb_test_done("test_checkpoint_valid");
}
