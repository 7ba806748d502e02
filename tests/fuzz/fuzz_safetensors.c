/* fuzz_safetensors.c - vkb_st_parse on arbitrary bytes (a whole
 * model.safetensors file in memory).  On success every entry must be
 * consistent with the buffer: offsets inside the data section, byte size =
 * numel x element size, findable by name; the data of small known-dtype
 * tensors is converted to f32 (reads every byte, so ASan sees any
 * out-of-bounds range). */
#include "fuzz_common.h"
#include "safetensors.h"

static int esize(const char *dt) {
    static const struct { const char *n; int s; } k[] = {
        {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4},
        {"U32", 4}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1},
        {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(dt, k[i].n)) return k[i].s;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkb_st_file f;
    vkb_error err = {0};
    if (vkb_st_parse(data, size, "fuzz.safetensors", &f, &err)) {
        fuzz_check_error(&err);
        fuzz_note("error", err.msg);
        FUZZ_ASSERT(f.n == 0 && f.e == NULL, "failed parse left entries");
        return 0;
    }
    fuzz_note("ok", "accepted");
    FUZZ_ASSERT(f.data >= data + 8 && f.data + f.data_len == data + size, "data section outside the buffer");
    FUZZ_ASSERT(f.n >= 0 && f.n <= VKB_MAX_TENSORS, "n = %d", f.n);
    for (int i = 0; i < f.n; i++) {
        const vkb_st_entry *e = &f.e[i];
        int es = esize(e->dtype);
        FUZZ_ASSERT(es > 0, "unknown dtype '%s' accepted", e->dtype);
        FUZZ_ASSERT(e->ndim >= 0 && e->ndim <= VKB_MAX_NDIM, "ndim %d", e->ndim);
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            FUZZ_ASSERT(e->shape[d] >= 0 && e->shape[d] <= VKB_MAX_DIM_VALUE, "dim %lld", (long long)e->shape[d]);
            numel *= e->shape[d];
        }
        FUZZ_ASSERT(numel == e->numel, "numel %lld vs %lld", (long long)numel, (long long)e->numel);
        FUZZ_ASSERT(e->begin <= e->end && e->end <= f.data_len, "range [%llu, %llu) of %llu",
                    (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)f.data_len);
        FUZZ_ASSERT((uint64_t)e->numel * (uint64_t)es == e->end - e->begin, "size mismatch");
        FUZZ_ASSERT(vkb_st_find(&f, e->name) == e, "entry '%s' not findable", e->name);
        if (i > 0) FUZZ_ASSERT(strcmp(f.e[i - 1].name, e->name) < 0, "not sorted/unique");
        if (e->known && e->numel > 0 && e->numel <= (1 << 16)) {
            vkb_tensor t = {.data = f.data + e->begin, .dtype = e->vdt, .ndim = 1,
                            .shape = {e->numel}, .numel = e->numel};
            float *out = malloc((size_t)e->numel * sizeof *out);
            FUZZ_ASSERT(out != NULL, "malloc");
            vkb_tensor_to_f32(&t, out, NULL);
            free(out);
        }
    }
    vkb_st_free(&f);
    return 0;
}
