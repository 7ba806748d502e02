/* fuzz_st_config.c - sentence-transformers files on arbitrary bytes:
 * modules.json FUZZ_SEP 1_Pooling/config.json through vkb_st_parse_modules
 * and vkb_st_parse_pooling (dim 24).  A failure must carry a message; an
 * accepted modules.json names a plain "<digits>_Pooling" folder (never a
 * path); an accepted Pooling config gives mean, cls or max. */
#include "fuzz_common.h"
#include "st_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *mod, *pool;
    size_t nmod, npool;
    fuzz_split(data, size, FUZZ_SEP, &mod, &nmod, &pool, &npool);
    char dir[32];
    int normalize = -1, pooling = -1;
    vkb_error err = {0};
    if (vkb_st_parse_modules((const char *)mod, nmod, "modules.json", dir, sizeof dir, &normalize, &err)) {
        fuzz_check_error(&err);
        fuzz_note("modules error", err.msg);
    } else {
        fuzz_note("modules ok", dir);
        size_t n = strlen(dir);
        FUZZ_ASSERT(n > 8 && !strcmp(dir + n - 8, "_Pooling") && !strchr(dir, '/') && !strchr(dir, '.'),
                    "pooling folder '%s'", dir);
        FUZZ_ASSERT(normalize == 0 || normalize == 1, "normalize %d", normalize);
    }
    vkb_error e2 = {0};
    if (vkb_st_parse_pooling((const char *)pool, npool, "1_Pooling/config.json", 24, &pooling, &e2)) {
        fuzz_check_error(&e2);
        fuzz_note("pooling error", e2.msg);
        FUZZ_ASSERT(pooling == 0, "failed parse left pooling %d", pooling);
    } else {
        FUZZ_ASSERT(pooling >= 1 && pooling <= 3, "pooling %d", pooling);
    }
    return 0;
}
