/* safetensors.h - parsing and checking a safetensors file in memory (internal).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON object
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {...}}, then the data section the offsets refer to.
 * The parser works on a buffer (the header read from the file, or fuzzer input) and checks
 * everything a hostile file could get wrong; see ckpt_limits.h. */
#ifndef VKB_SAFETENSORS_H
#define VKB_SAFETENSORS_H
#include "model.h"
#include "ckpt_limits.h"

typedef struct vkb_st_entry {
    char *name;
    char dtype[8];         /* as written: "F32", "I64", "BOOL", ... */
    int known;             /* 1 when dtype is F32/F16/BF16 (then vdt is set) */
    vkb_dtype vdt;
    int ndim;
    int64_t shape[VKB_MAX_NDIM];
    int64_t numel;
    uint64_t begin, end;   /* byte offsets into the data section */
} vkb_st_entry;

typedef struct vkb_st_file {
    const unsigned char *data; /* the data section (inside the caller's buffer), or
                                  NULL when the buffer held only the header */
    uint64_t data_off;         /* its offset in the file: 8 + header length */
    uint64_t data_len;
    int n;
    vkb_st_entry *e;           /* sorted by name */
} vkb_st_file;

/* Parses buf[0..len) and validates every entry: known dtype string, ndim and
 * dims within limits, numel overflow-free, offsets inside the data section,
 * begin <= end, size == numel * element size, no duplicate names, no overlap.
 * `fname` prefixes error messages.  On failure *out is left empty. */
int vkb_st_parse(const void *buf, size_t len, const char *fname,
                 vkb_st_file *out, vkb_error *err);
/* The same when buf[0..avail) holds only the start of a file of file_len
 * bytes (at least the length prefix and the header; else an error): the
 * data section is then checked against file_len and data is NULL. */
int vkb_st_parse_header(const void *buf, size_t avail, uint64_t file_len, const char *fname,
                        vkb_st_file *out, vkb_error *err);
/* Entry by exact name, or NULL. */
const vkb_st_entry *vkb_st_find(const vkb_st_file *f, const char *name);
void vkb_st_free(vkb_st_file *f);
#endif
