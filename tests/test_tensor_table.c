/* test_tensor_table.c - the table of DistilBERT's tensors
 * (loader/distilbert_tensors.c) and the model's view of it.
 *
 * `test_tensor_table --print` prints the table as tools/distilbert_tensors.py
 * does; tests/tensor_table.cmake compares the two print-outs, so the Python
 * tools and the C loader share one inventory.  Without arguments: rows
 * indexed by role, names and shapes resolved, the model's index order. */
#include "testutil.h"
#include "model.h"
#include <stdio.h>
#include <string.h>

static void print_table(void) {
    for (int r = 0; r < VKB_T_COUNT; r++) {
        const vkb_tensor_spec *s = &vkb_tensor_table[r];
        printf("%s\t%s\t%s\t%s\t%s\t%s\n", vkb_tensor_role_name(s->role), vkb_tensor_scope_name(s->scope),
               s->name, vkb_tensor_dim_name(s->d0), vkb_tensor_dim_name(s->d1), vkb_tensor_kind_name(s->kind));
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--print")) {
        print_table();
        return 0;
    }
    for (int r = 0; r < VKB_T_COUNT; r++) {
        const vkb_tensor_spec *s = &vkb_tensor_table[r];
        CHECK((int)s->role == r, "row %d holds role %d", r, (int)s->role);
        vkb_tensor_scope want = r < VKB_T_FIRST_LAYER ? VKB_TS_MODEL : r < VKB_T_FIRST_HEAD ? VKB_TS_LAYER : VKB_TS_HEAD;
        CHECK(s->scope == want, "row %d (%s): scope", r, s->name);
        CHECK((strstr(s->name, "%d") != NULL) == (s->scope == VKB_TS_LAYER), "row %d (%s): layer placeholder", r, s->name);
    }
    char buf[160];
    CHECK(vkb_tensor_spec_name(&vkb_tensor_table[VKB_T_FFN1_W], VKB_ENCODER_PREFIX, 5, buf, sizeof buf) == 0 &&
          !strcmp(buf, "distilbert.transformer.layer.5.ffn.lin1.weight"), "name %s", buf);
    CHECK(vkb_tensor_spec_name(&vkb_tensor_table[VKB_T_CLS_B], VKB_ENCODER_PREFIX, -1, buf, sizeof buf) == 0 &&
          !strcmp(buf, "classifier.bias"), "head names have no prefix: %s", buf);
    CHECK(vkb_tensor_spec_name(&vkb_tensor_table[VKB_T_FFN1_W], VKB_ENCODER_PREFIX, 5, buf, 20) == -1, "too long");
    int64_t sh[2];
    CHECK(vkb_tensor_spec_shape(&vkb_tensor_table[VKB_T_FFN2_W], 768, 3072, 30522, 512, 2, sh) == 2 &&
          sh[0] == 768 && sh[1] == 3072, "ffn2 shape");
    CHECK(vkb_tensor_spec_shape(&vkb_tensor_table[VKB_T_CLS_B], 768, 3072, 30522, 512, 3, sh) == 1 && sh[0] == 3,
          "classifier bias shape");

    /* A random model: index <-> (role, layer) round trip, shapes, names. */
    vkb_config shape = {.dim = 16, .n_layers = 3, .n_heads = 2, .hidden_dim = 40, .vocab_size = 50,
                        .max_pos = 12, .n_labels = 3};
    vkb_model *m = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_model_random(&shape, 7, &m, &err) == 0, "random model: %s", err.msg);
    int n = vkb_model_n_tensors(m);
    CHECK(n == 4 + 16 * 3 + 4, "%d tensors", n);
    for (int i = 0; i < n; i++) {
        int layer;
        vkb_tensor_role r = vkb_model_tensor_role(m, i, &layer);
        CHECK(vkb_model_tensor_index(m, r, layer) == i, "tensor %d: role %d layer %d", i, (int)r, layer);
        int64_t want[2];
        int nd = vkb_tensor_spec_shape(&vkb_tensor_table[r], 16, 40, 50, 12, 3, want);
        const vkb_tensor *t = vkb_model_tensor(m, r, layer);
        CHECK(t && t->ndim == nd && t->shape[0] == want[0] && (nd == 1 || t->shape[1] == want[1]),
              "tensor %d: shape", i);
    }
    CHECK(vkb_model_tensor_name(m, vkb_model_tensor_index(m, VKB_T_SA_LN_B, 2), buf, sizeof buf) == 0 &&
          !strcmp(buf, "distilbert.transformer.layer.2.sa_layer_norm.bias"), "name %s", buf);
    CHECK(vkb_model_tensor(m, VKB_T_Q_W, 3) == NULL && vkb_model_tensor(m, VKB_T_Q_W, -1) == NULL, "layer range");
    vkb_model_free(m);
    shape.n_labels = 0; /* base model: no head */
    REQUIRE(vkb_model_random(&shape, 7, &m, &err) == 0, "random base model: %s", err.msg);
    CHECK(vkb_model_n_tensors(m) == 4 + 16 * 3 && vkb_model_tensor(m, VKB_T_PRE_W, 0) == NULL &&
          vkb_model_tensor_index(m, VKB_T_CLS_B, 0) == -1, "base model: no head tensors");
    CHECK(vkb_model_tensor_name(m, 0, buf, sizeof buf) == 0 && !strcmp(buf, "embeddings.word_embeddings.weight"),
          "base model names have no prefix: %s", buf);
    vkb_model_free(m);
    return vkb_test_done("test_tensor_table");
}
