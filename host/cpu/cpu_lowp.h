/* cpu_lowp.h - the CPU backend's linear layers on oneDNN (internal;
 * host/cpu/cpu_lowp.c): fp32, bf16 and dynamically quantized int8 GEMMs with
 * a per-row epilogue (scale, bias, activation, residual).
 *
 *   bf16: weights converted once to bf16 (round to nearest even), the
 *         activations converted per call; bf16 x bf16 products accumulated
 *         in f32.
 *   int8: weights quantized once, symmetric per output channel
 *         (s8 in [-127, 127], scale max|w_n| / 127); activations quantized
 *         per call, asymmetric per row (u8 with a zero point, the row's
 *         range including 0 mapped onto [0, 255]); u8 x s8 products
 *         accumulated in s32 (exact), then
 *         y[m,n] = sa[m] sw[n] (acc[m,n] - zp[m] sum_k wq[n,k]) + b[n].
 *         The dynamic quantization of ONNX Runtime's and PyTorch's
 *         quantize_dynamic, with a scale per row instead of per tensor.
 *
 * oneDNN picks the instruction set at run time; vkb_lp_supported() says
 * whether the effective one (the CPU's, capped by oneDNN's own
 * ONEDNN_MAX_CPU_ISA) runs a kind natively: bf16 needs avx512_core_bf16
 * (or later), int8 VNNI (avx512_core_vnni or avx2_vnni; without it
 * oneDNN's u8 x s8 pairs saturate in 16 bits).  Primitives are created per
 * (layer shape, M) once and kept (a bounded cache per weight). */
#ifndef VKB_CPU_LOWP_H
#define VKB_CPU_LOWP_H
#include "cpu_ops.h"
#include "error.h"
#include "parallel.h"
#include <stddef.h>

typedef enum { VKB_LP_F32 = 0, VKB_LP_BF16 = 1, VKB_LP_INT8 = 2 } vkb_lp_kind;

/* oneDNN is not linked: it is dlopen()ed (RTLD_LOCAL) when bf16 / int8 is
 * asked for, and every function used is resolved into a vkb_dnnl (a table of
 * function pointers with the library's handle; each vkb_lp holds its own), so
 * the fp32 and Vulkan paths never map it and run where it is not installed.
 * `path` NULL = VKB_DNNL_LIB.  Fails with VKB_ERR_UNSUPPORTED when the
 * library cannot be loaded or lacks a function; the message is then just
 * the reason, naming the file (dlerror()'s text, or "<path> lacks <name>"). */
#define VKB_DNNL_LIB "libdnnl.so.2"
typedef struct vkb_dnnl vkb_dnnl;
int vkb_dnnl_open(const char *path, vkb_dnnl **out, vkb_error *err);
void vkb_dnnl_close(vkb_dnnl *d);

/* 1 when the effective ISA runs `kind` natively (F32: always). */
int vkb_lp_supported(const vkb_dnnl *d, vkb_lp_kind kind);
/* oneDNN's effective ISA ("avx512_core_bf16", ...; a static string). */
const char *vkb_lp_isa_name(const vkb_dnnl *d);
/* "fp32", "bf16", "int8". */
const char *vkb_lp_kind_name(vkb_lp_kind kind);

typedef struct vkb_lp vkb_lp;
typedef struct vkb_lp_weight vkb_lp_weight;

/* An engine and stream running `kind` GEMMs on `threads` OpenMP threads
 * (the calling thread's OpenMP thread count is set for the duration of each
 * vkb_lp_linear and restored), on oneDNN loaded from `dnnl_path` (NULL:
 * VKB_DNNL_LIB).  Fails (code VKB_ERR_UNSUPPORTED) when the library cannot
 * be loaded or the kind is not supported: open it and check
 * vkb_lp_supported first for the reason. */
int vkb_lp_create(const char *dnnl_path, vkb_lp_kind kind, int threads, vkb_lp **out, vkb_error *err);
void vkb_lp_free(vkb_lp *lp);
vkb_lp_kind vkb_lp_get_kind(const vkb_lp *lp);
/* the oneDNN functions lp runs on */
const vkb_dnnl *vkb_lp_dnnl(const vkb_lp *lp);

/* A vkb_team_runner (rctx: the vkb_lp): the tasks on oneDNN's OpenMP
 * threads, claimed one at a time, slot = the OpenMP thread number. */
void vkb_lp_run(void *lp, int slots, int n_tasks, vkb_task_fn fn, void *ctx);

/* W [N,K] (row-major, f32) converted or quantized for lp's kind.  `name`
 * names it in error messages (copied). */
int vkb_lp_weight_create(vkb_lp *lp, const float *W, int N, int K, const char *name,
                         vkb_lp_weight **out, vkb_error *err);
void vkb_lp_weight_free(vkb_lp_weight *w);
/* bytes the converted weight holds */
size_t vkb_lp_weight_bytes(const vkb_lp_weight *w);

/* Y[M,N] = act(X[M,K] W^T + b) + R: X rows ldx floats apart, R (may be
 * NULL) rows ldr apart, Y contiguous; b may be NULL.  Y must not alias X or
 * R.  0, or -1 with err (out of memory, oneDNN failure). */
int vkb_lp_linear(vkb_lp *lp, vkb_lp_weight *w, const float *X, size_t ldx, const float *b,
                  const float *R, size_t ldr, float *Y, int M, vkb_act act, vkb_error *err);
/* Y = LayerNorm(X W^T + b + R) * g + beta (the residual blocks' output):
 * the LayerNorm in the epilogue's pass over each row, the same bits as
 * vkb_lp_linear then vkb_cpu_add_layernorm (fp32) on Y. */
int vkb_lp_linear_ln(vkb_lp *lp, vkb_lp_weight *w, const float *X, size_t ldx, const float *b,
                     const float *R, size_t ldr, const float *g, const float *beta, float eps,
                     float *Y, int M, vkb_error *err);
#endif
