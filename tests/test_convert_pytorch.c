/* test_convert_pytorch.c - tools/convert_pytorch_bin.py end to end (skips
 * without Debian's PyTorch): a pytorch_model.bin-only directory is refused
 * with a pointer to the tool; after conversion it loads with mixed dtypes,
 * non-contiguous and tied tensors intact; a malicious pickle is refused
 * without running its code. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "ckpt_writer.h"
#include "model.h"
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PY "/usr/bin/python3"

static int run(const char *fmt, const char *dir, const char *extra) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, dir, extra);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    if (system(PY " -c 'import torch' 2>/dev/null") != 0) {
        printf("test_convert_pytorch: skipped (no %s with torch)\n", PY);
        return VKB_SKIP;
    }
    char dir[512], path[700];
    ckw_tmpdir(dir, sizeof dir, "convert");
    const vkb_config s = {.dim = 16, .n_layers = 2, .n_heads = 2, .hidden_dim = 24, .vocab_size = 40,
                          .max_pos = 12, .pad_token_id = 0, .n_labels = 2};
    char *cfg = ckw_config_json(&s);
    ckw_write_file(dir, "config.json", cfg, strlen(cfg));
    free(cfg);
    ckw_write_vocab(dir, s.vocab_size);
    REQUIRE(run(PY " make_pytorch_bin.py %s%s", dir, "") == 0, "make_pytorch_bin.py failed");

    vkb_model *m = NULL;
    vkb_error err = {0};
    CHECK(vkb_model_load(dir, &m, &err) != 0 && strstr(err.msg, "tools/convert_pytorch_bin.py"), "%s", err.msg);
    REQUIRE(run(PY " ../tools/convert_pytorch_bin.py %s%s", dir, "") == 0, "converter failed");
    CHECK(run(PY " ../tools/convert_pytorch_bin.py %s%s 2>/dev/null", dir, "") != 0, "overwrote without --force");
    REQUIRE(vkb_model_load(dir, &m, &err) == 0, "converted checkpoint: %s", err.msg);

    CHECK(vkb_model_tensor(m, VKB_T_WORD_EMB, 0)->dtype == VKB_DT_BF16 &&
          vkb_model_tensor(m, VKB_T_FFN1_W, 1)->dtype == VKB_DT_F16 &&
          vkb_model_tensor(m, VKB_T_FFN2_W, 1)->dtype == VKB_DT_F32, "dtypes kept");
    ckw_named nt[8 + 16 * 2];
    int n = ckw_model_tensors(m, 1, nt);
    CHECK(n == 4 + 32 + 4, "tensor count %d", n);
    for (int k = 0; k < n; k++) {
        float *f = malloc((size_t)nt[k].t->numel * sizeof(float));
        vkb_tensor_to_f32(nt[k].t, f, NULL);
        int bad = 0;
        for (int64_t i = 0; i < nt[k].t->numel; i++)
            bad += f[i] != (float)((7 * i + (int64_t)strlen(nt[k].name)) % 101 - 50) / 128.0f;
        CHECK(bad == 0, "%s: %d values differ", nt[k].name, bad);
        free(f);
    }
    vkb_model_free(m);

    /* A pickle that runs os.system when loaded the unsafe way. */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    REQUIRE(run(PY " make_pytorch_bin.py %s%s", dir, " evil") == 0, "evil pickle");
    CHECK(run(PY " ../tools/convert_pytorch_bin.py %s%s 2>/dev/null", dir, "") != 0, "evil pickle converted");
    snprintf(path, sizeof path, "%s/pwned", dir);
    CHECK(access(path, F_OK) != 0, "the pickle's code ran");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(access(path, F_OK) != 0, "output written for an evil pickle");
    ckw_rmtree(dir);
    return vkb_test_done("test_convert_pytorch");
}
