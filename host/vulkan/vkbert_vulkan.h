/* vkbert_vulkan.h - the Vulkan layer's part of the public API (host/vkbert.h
 * includes it): the device report and policy, the op test matrix. */
#ifndef VKBERT_VULKAN_H
#define VKBERT_VULKAN_H

#include "vkbert_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Vulkan devices (host/vk_devices.c) -------------------------------------
 * Additive section owned by the Vulkan backend work.  Lists every Vulkan
 * device the loader reports (the index N is what --device gpu:N selects):
 * name, vendor id, driver name/version, API version, type, memory heaps,
 * subgroup size, max shared memory and the optional features vkbert uses
 * (16-bit storage, float16 arithmetic, integer dot product, cooperative
 * matrix), and what a backend opened there with default options runs: the
 * device policy's storage precision, weight memory and GEMM / layernorm /
 * attention variants (text: "vkbert uses ..."; JSON: "kernels").  `json` nonzero gives {"devices":[{...}]}, else readable text.
 * *out is malloc'd (free() it).  Fails when there is no Vulkan loader. */
int vkb_devices_report(int json, char **out, vkb_error *err);
/* What device "auto" (the CLI's default) resolves to: "gpu" when a hardware
 * Vulkan device (discrete, integrated or virtual GPU) exists, else "cpu" -
 * the CPU reference, faster on the CPU than a CPU Vulkan implementation such
 * as lavapipe.  When it picks "cpu", why (may be NULL) gets the reason. */
const char *vkb_auto_device(char *why, size_t n);

/* ---- op test matrix (host/vk_opcheck.c): `vkbert check --ops` -------------
 * Additive section owned by the Vulkan backend work.  In the style of ggml's
 * test-backend-ops: a table of cases (op x kernel variant x precision x odd
 * sizes that are not multiples of any tile), each run on a Vulkan device
 * through the op's shader with that variant forced, and compared with the
 * CPU reference op (fp64 accumulation) on the same operands (rounded to fp16
 * first for fp16 storage) by a normalized error, max |gpu - ref| / (1 +
 * |ref|), against a per-op, per-precision tolerance.  Ops are named as the
 * CPU reference functions: linear, add_layernorm, embed, attention. */
typedef enum { VKB_OP_PASS = 0, VKB_OP_FAIL = 1, VKB_OP_SKIP = 2 } vkb_op_status;
typedef struct vkb_op_result {
    const char *op;         /* "linear", "add_layernorm", "embed", "attention" */
    const char *variant;    /* "tiled", "texel", "coopmat" / "shared", "subgroup" */
    const char *precision;  /* "fp32" or "fp16" (storage) */
    char shape[64];         /* e.g. "M=77 N=130 K=100 gelu" */
    double error;           /* normalized max error (NaN anywhere: inf) */
    double tolerance;
    vkb_op_status status;   /* SKIP: the device cannot run the variant */
    char note[256];         /* why it was skipped or failed to run */
} vkb_op_result;
typedef struct vkb_op_check_opts {
    const char *device;     /* "gpu" (NULL) or "gpu:N" */
    int validation;         /* Khronos validation layer; a message fails the case */
    /* filters, NULL = all; comma-separated names, e.g. op = "attention,linear" */
    const char *op, *variant, *precision;
    vkb_coopmat_form coopmat; /* the coopmat cases' SPIR-V form (AUTO: the policy's) */
} vkb_op_check_opts;
/* Receives each case's result as it completes; return nonzero to stop. */
typedef int (*vkb_op_result_fn)(void *ctx, const vkb_op_result *r);
/* Runs the matrix; *counts (may be NULL) gets passed/failed/skipped.
 * Returns 0 when every case ran (whatever their results), nonzero with err
 * when the device could not be opened. */
int vkb_op_check(const vkb_op_check_opts *opts, vkb_op_result_fn fn, void *ctx,
                 int counts[3], vkb_error *err);


/* ---- tuning (host/vk_tune.c): `vkbert tune` ---------------------------------
 * For one device and one model shape, every configuration the device can run
 * of each tunable op is timed at the model's real shapes (Vulkan timestamps
 * of the dispatch; warm-up runs, then the median of `repeats`) and checked
 * against the CPU reference op on the same operands with the op matrix's
 * normalized error and tolerance (vkb_op_check); the fastest candidate that
 * passes is chosen, one that fails is never chosen.  Tunable ops: the four
 * GEMM classes of a layer, each with its real epilogue (qkv: T x 3D x D;
 * out: T x D x D + residual; ffn1: T x hidden x D + GELU; ffn2: T x D x
 * hidden + residual; T = the token budget) over the GEMM variants tiled,
 * tiled_s, texel; in fp16 also tiled_cs, tiled_cl (shaderFloat16; GPUs only:
 * on CPU implementations they serve the op matrix alone) and, where
 * the coopmat probe passes, coopmat, coopmat_s and coopmat_l (where the
 * device's shared memory holds its 256x128 tile); and attention (shared, subgroup, flash) at L =
 * 128 (the token budget when smaller), B = T / L sequences of mixed lengths.
 * The GEMM check compares the first and last 64 rows (all rows when M <=
 * 128: every tile column and the partial last row tile), attention the
 * first 4 sequences.
 *
 * The cache: one readable JSON file per key (device name, vendor and device
 * id, driver version, vkbert version, model shape, precision) in a
 * directory the caller names (the CLI: $XDG_CACHE_HOME/vkbert, else
 * ~/.cache/vkbert; the library reads no environment).  A file that cannot
 * be read, does not parse, has wrong types or another key is ignored with a
 * note and tuned again; files are written to a temporary name and renamed.
 *
 * The token budget T in the key is the shape the timings were taken at, and
 * an entry serves every budget up to its own: a run (the backend, and
 * vkb_tune without retune) with budget T uses the entry of T itself, else
 * the entry of the same device, driver, vkbert version, model dims and
 * precision tuned at the smallest budget larger than T.  So an entry tuned
 * at 8192 tokens still applies when a run's budget shrinks to 4096 after an
 * out-of-memory fit (vkb_backend_create_fit), and is neither re-tuned nor
 * run untuned; a budget larger than every entry's is tuned anew (its GEMMs
 * are bigger than any that were timed).  Every candidate handles any M, and
 * each was checked, so an entry of a larger budget costs speed at most. */
typedef enum { VKB_TUNE_QKV, VKB_TUNE_OUT, VKB_TUNE_FFN1, VKB_TUNE_FFN2, VKB_TUNE_ATTENTION,
               VKB_TUNE_NOPS } vkb_tune_op;
/* "qkv", "out", "ffn1", "ffn2", "attention" */
const char *vkb_tune_op_name(vkb_tune_op op);
typedef struct vkb_tune_shape {
    int tokens;     /* token budget (B*L of the largest forward; 0 = vkb_defaults()->max_tokens) */
    int dim, hidden, heads; /* model dim, FFN hidden size, attention heads (head dim = dim / heads) */
} vkb_tune_shape;
/* The shape of a model with a token budget (0 = the default). */
void vkb_tune_shape_of(const vkb_model *m, int tokens, vkb_tune_shape *s);
typedef struct vkb_tune_opts {
    const char *device;        /* "gpu" (NULL) or "gpu:N" */
    int validation;            /* Khronos validation layer; a message fails the run */
    vkb_precision precision;   /* AUTO: the device policy's */
    vkb_tune_shape shape;
    const char *cache_dir;     /* NULL: no cache (tune, write nothing) */
    int retune;                /* nonzero: tune even when a valid entry exists */
    int auto_mode;             /* nonzero (automatic tuning on first use): a CPU
                                  implementation (VK_PHYSICAL_DEVICE_TYPE_CPU,
                                  lavapipe) is not tuned (result.skipped) */
    int warmup, repeats;       /* 0: 1 and 5 */
    /* TEST HOOK: "op:variant[,op:variant...]" (e.g. "qkv:texel,attention:subgroup"): each
     * such candidate's GPU output is corrupted (+1 on one value) before it is
     * compared with the reference, so its check fails as a wrong kernel's
     * would; the tests use it to show a failing candidate is never chosen.
     * NULL in normal use. */
    const char *test_fail;
} vkb_tune_opts;
#define VKB_TUNE_MAX_CAND 8
typedef struct vkb_tune_cand {
    char variant[16];
    double ms;                 /* median GPU time of one dispatch; -1 = not timed */
    double error, tolerance;   /* normalized max error vs the CPU reference */
    int pass;
    char note[160];            /* why it failed to run */
} vkb_tune_cand;
typedef struct vkb_tune_op_result {
    char shape[64];            /* e.g. "M=8192 N=2304 K=768" */
    char chosen[16];           /* "" when no candidate passed (the policy's default runs) */
    double ms;                 /* the chosen one's time */
    int ncand;
    vkb_tune_cand cand[VKB_TUNE_MAX_CAND];
} vkb_tune_op_result;
typedef struct vkb_tune_result {
    char device[256];          /* device name */
    unsigned vendor_id, device_id, driver_version;
    char version[32];          /* vkbert version */
    char precision[8];         /* "fp32" / "fp16" */
    vkb_tune_shape shape;      /* the key's; from_cache: the entry's (tokens >= opts' tokens) */
    int is_cpu;                /* a CPU implementation of Vulkan */
    int skipped;               /* auto_mode on a CPU implementation: nothing done */
    int from_cache;            /* the result was read from the cache, nothing timed */
    int written;               /* the cache file was written */
    char path[1024];           /* the cache file ("" without cache_dir) */
    char note[600];            /* a cache file that was ignored, and why; or "" */
    double seconds;            /* wall time of the tuning (0 from the cache) */
    vkb_tune_op_result ops[VKB_TUNE_NOPS];
} vkb_tune_result;
/* Reads the cache entry (unless retune) or tunes and writes it.  Returns 0
 * (also when a cache file was ignored: see note, or the cache could not be
 * written: see note), -1 with err when the device cannot be opened or a
 * Vulkan call fails. */
int vkb_tune(const vkb_tune_opts *opts, vkb_tune_result *out, vkb_error *err);
/* The result as JSON (the cache file's format); *out malloc'd. */
int vkb_tune_json(const vkb_tune_result *r, char **out, vkb_error *err);
/* The device report of vkb_devices_report with, per device, what tuning
 * chose for it: every entry of tune_dir for that device (per model shape
 * and precision, the chosen variants), or "not tuned".  tune_dir NULL: as
 * vkb_devices_report. */
int vkb_devices_report_tuned(int json, const char *tune_dir, char **out, vkb_error *err);

#ifdef __cplusplus
}
#endif
#endif
