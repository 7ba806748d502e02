/* fuzz_config.c - vkb_config_parse on arbitrary bytes (config.json).  An
 * accepted config must pass vkb_config_check (every size within
 * ckpt_limits.h) and carry n_labels non-NULL, bounded label strings. */
#include "fuzz_common.h"
#include "config.h"
#include "ckpt_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkb_config c;
    vkb_error err = {0};
    if (vkb_config_parse((const char *)data, size, "config.json", &c, &err)) {
        fuzz_check_error(&err);
        fuzz_note("error", err.msg);
        FUZZ_ASSERT(c.labels == NULL && c.n_labels == 0, "failed parse left labels");
        return 0;
    }
    fuzz_note("ok", "accepted");
    vkb_error e2 = {0};
    FUZZ_ASSERT(vkb_config_check(&c, "config.json", &e2) == 0, "accepted config fails the check: %s", e2.msg);
    FUZZ_ASSERT((c.n_labels == 0) == (c.labels == NULL), "n_labels %d, labels %p", c.n_labels, (void *)c.labels);
    for (int i = 0; i < c.n_labels; i++) {
        FUZZ_ASSERT(c.labels[i] != NULL, "label %d missing", i);
        FUZZ_ASSERT(strlen(c.labels[i]) <= VKB_MAX_LABEL_BYTES, "label %d too long", i);
    }
    vkb_config_free_labels(&c);
    return 0;
}
