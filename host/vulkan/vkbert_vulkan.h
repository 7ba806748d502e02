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

#ifdef __cplusplus
}
#endif
#endif
