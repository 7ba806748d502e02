/* fuzz_model_dir.c - vkb_model_load on a whole checkpoint directory made
 * from arbitrary bytes: config.json FUZZ_SEP model.safetensors FUZZ_SEP
 * vocab.txt (a fixed 8-token vocab.txt when the third part is empty).  This
 * reaches what the single-file targets cannot: binding tensors to the shapes
 * config.json implies, the label count from classifier.weight, and the
 * vocab-vs-embedding check.  An accepted model must have every bound tensor
 * inside the mapped file (each one is converted to f32, reading every byte)
 * and, when small, run a CPU forward pass without error. */
#include "fuzz_common.h"
#include "model.h"
#include "config.h"

void openblas_set_num_threads(int);

static const char *const kFiles[] = {"config.json", "model.safetensors", "vocab.txt", NULL};
static const char kVocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ngood\nbad\n";

static void check_tensor(const vkb_model *m, const vkb_tensor *t, int64_t numel) {
    size_t es = t->dtype == VKB_DT_F32 ? 4 : 2;
    FUZZ_ASSERT(t->numel == numel, "numel %lld, want %lld", (long long)t->numel, (long long)numel);
    FUZZ_ASSERT(t->file == &m->file && t->off + (uint64_t)numel * es <= m->file_size, "tensor outside the file");
    float *f = malloc((size_t)(numel ? numel : 1) * sizeof *f);
    FUZZ_ASSERT(f != NULL, "malloc");
    vkb_error err = {0};
    FUZZ_ASSERT(vkb_tensor_to_f32(t, f, &err) == 0, "reading a validated tensor: %s", err.msg);
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *cfg, *rest, *st, *voc;
    size_t ncfg, nrest, nst, nvoc;
    fuzz_split(data, size, FUZZ_SEP, &cfg, &ncfg, &rest, &nrest);
    fuzz_split(rest, nrest, FUZZ_SEP, &st, &nst, &voc, &nvoc);
    const char *dir = fuzz_tmpdir(kFiles);
    FUZZ_ASSERT(fuzz_write_file(dir, "config.json", cfg, ncfg) == 0, "write");
    FUZZ_ASSERT(fuzz_write_file(dir, "model.safetensors", st, nst) == 0, "write");
    if (!nvoc) { voc = (const uint8_t *)kVocab; nvoc = sizeof kVocab - 1; }
    FUZZ_ASSERT(fuzz_write_file(dir, "vocab.txt", voc, nvoc) == 0, "write");

    vkb_model *m = NULL;
    vkb_error err = {0};
    if (vkb_model_load(dir, &m, &err)) {
        fuzz_check_error(&err);
        fuzz_note("error", err.msg);
        FUZZ_ASSERT(m == NULL, "failed load returned a model");
        return 0;
    }
    fuzz_note("ok", "accepted");
    const vkb_config *c = vkb_model_config(m);
    vkb_error e2 = {0};
    FUZZ_ASSERT(vkb_config_check(c, "loaded", &e2) == 0, "%s", e2.msg);
    const vkb_tokenizer *tok = vkb_model_tokenizer(m);
    FUZZ_ASSERT(tok && vkb_tokenizer_vocab_size(tok) <= c->vocab_size, "vocab larger than the embedding");
    const int64_t D = c->dim, H = c->hidden_dim;
    /* An oracle of its own (not the loader's table): the sizes HF implies. */
#define T(role, layer) vkb_model_tensor(m, VKB_T_##role, layer)
    FUZZ_ASSERT(T(WORD_EMB, 0) && T(POS_EMB, 0) && T(EMB_LN_W, 0) && T(EMB_LN_B, 0), "embeddings");
    check_tensor(m, T(WORD_EMB, 0), c->vocab_size * D);
    check_tensor(m, T(POS_EMB, 0), c->max_pos * D);
    check_tensor(m, T(EMB_LN_W, 0), D);
    check_tensor(m, T(EMB_LN_B, 0), D);
    FUZZ_ASSERT(T(Q_W, c->n_layers) == NULL, "a layer too many");
    for (int i = 0; i < c->n_layers; i++) {
        const vkb_tensor *dd[] = {T(Q_W, i), T(K_W, i), T(V_W, i), T(O_W, i)};
        const vkb_tensor *d1[] = {T(Q_B, i), T(K_B, i), T(V_B, i), T(O_B, i), T(SA_LN_W, i), T(SA_LN_B, i),
                                  T(FFN2_B, i), T(OUT_LN_W, i), T(OUT_LN_B, i)};
        for (int k = 0; k < 4; k++) {
            FUZZ_ASSERT(dd[k], "layer %d", i);
            check_tensor(m, dd[k], D * D);
        }
        for (int k = 0; k < 9; k++) {
            FUZZ_ASSERT(d1[k], "layer %d", i);
            check_tensor(m, d1[k], D);
        }
        FUZZ_ASSERT(T(FFN1_W, i) && T(FFN1_B, i) && T(FFN2_W, i), "layer %d", i);
        check_tensor(m, T(FFN1_W, i), H * D);
        check_tensor(m, T(FFN1_B, i), H);
        check_tensor(m, T(FFN2_W, i), D * H);
    }
    FUZZ_ASSERT(m->w.has_head == (c->n_labels > 0), "head %d, %d labels", m->w.has_head, c->n_labels);
    FUZZ_ASSERT((T(CLS_W, 0) != NULL) == m->w.has_head, "head tensors");
    if (m->w.has_head) {
        check_tensor(m, T(PRE_W, 0), D * D);
        check_tensor(m, T(PRE_B, 0), D);
        check_tensor(m, T(CLS_W, 0), c->n_labels * D);
        check_tensor(m, T(CLS_B, 0), c->n_labels);
        for (int i = 0; i < c->n_labels; i++) FUZZ_ASSERT(c->labels[i] != NULL, "label %d", i);
    }
#undef T
    /* A forward pass on small models: the CPU backend trusts the loader's shapes. */
    int64_t params = (c->vocab_size + c->max_pos) * D + c->n_layers * (4 * D * D + 2 * H * D);
    if (params <= (1 << 16)) {
        openblas_set_num_threads(1);
        vkb_backend_opts o = {.device = "cpu", .threads = 1, .max_tokens = 64};
        vkb_backend *be = NULL;
        vkb_error e3 = {0};
        FUZZ_ASSERT(vkb_backend_create(m, &o, &be, &e3) == 0, "backend: %s", e3.msg);
        int L = c->max_pos < 6 ? c->max_pos : 6;
        int32_t ids[12], lens[2] = {L, L > 2 ? 2 : L};
        for (int i = 0; i < 2 * L; i++) ids[i] = (i * 7 + 1) % c->vocab_size;
        float logits[2 * 8];
        float *lp = c->n_labels <= 8 ? logits : malloc(2 * (size_t)c->n_labels * sizeof *lp);
        vkb_batch b = {.B = 2, .L = L, .ids = ids, .lens = lens};
        vkb_outputs out = {.logits = c->n_labels ? lp : NULL, .hidden = NULL};
        FUZZ_ASSERT(vkb_forward(be, &b, &out, &e3) == 0, "forward: %s", e3.msg);
        if (lp != logits) free(lp);
        vkb_backend_free(be);
    }
    vkb_model_free(m);
    return 0;
}
