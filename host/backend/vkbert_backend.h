/* vkbert_backend.h - the backends' part of the public API (host/vkbert.h
 * includes it): options, batches, outputs, and what a backend can say about
 * its speed and footprint.  Implemented by host/backend (the interface),
 * host/cpu, host/vulkan and host/scorer (opening one). */
#ifndef VKBERT_BACKEND_H
#define VKBERT_BACKEND_H

#include "vkbert_loader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- defaults -------------------------------------------------------------
 * The one statement of what a 0 in an options field means; the CLI's help
 * text and the Python binding (through ctypes) read them from here. */
typedef struct vkb_default_values {
    int max_len;      /* tokens per input before truncation: 512 (see vkb_model_max_len) */
    int batch_tokens; /* scorer token budget per forward, B*L: 8192 */
    int max_tokens;   /* backend activation budget, B*L: 16384 */
    int window;       /* scorer inputs sorted together: 2048 */
} vkb_default_values;
const vkb_default_values *vkb_defaults(void);
/* The input length a model runs with: min(max_len, max_pos) when max_len > 0,
 * else the default (vkb_defaults()->max_len) clipped to the tokenizer's
 * model_max_length and to max_pos.  What the scorer, the CLI and the Python
 * binding truncate to. */
int vkb_model_max_len(const vkb_model *m, int max_len);

/* ---- backends ------------------------------------------------------------- */
/* AUTO, FP32, FP16: storage on the GPU (the CPU backend computes AUTO and
 * FP16 in fp32).  BF16, INT8: the CPU backend's opt-in reduced precision
 * for the encoder's linear layers (oneDNN; host/cpu/cpu_lowp.h): bf16
 * weights and activations with f32 accumulation, or int8 dynamic
 * quantization (s8 weights per output channel, u8 activations per row);
 * embeddings, LayerNorm, attention, GELU and the classifier head stay fp32.
 * Where oneDNN's effective instruction set lacks them (bf16:
 * avx512_core_bf16; int8: VNNI), or oneDNN (libdnnl.so.2, loaded only for
 * these) is not installed, the CPU backend runs fp32 and says so in
 * vkb_backend_note().  The Vulkan backend refuses BF16 and INT8. */
typedef enum {
    VKB_PREC_AUTO = 0, VKB_PREC_FP32 = 1, VKB_PREC_FP16 = 2, VKB_PREC_BF16 = 3, VKB_PREC_INT8 = 4
} vkb_precision;
/* "auto", "fp32", "fp16", "bf16", "int8"; and the reverse (0 when s names
 * one, else -1). */
const char *vkb_precision_name(vkb_precision p);
int vkb_precision_parse(const char *s, vkb_precision *p);

/* Vulkan kernel variants.  AUTO (0) = what the device policy picks for the
 * device and precision (the same decision `vkbert devices` prints); any other
 * value forces that form, and opening the backend fails when the device
 * cannot run it.  SHARED = shared-memory workgroup reductions/tiles (what
 * GPUs run); SUBGROUP = subgroup arithmetic/shuffles (what CPU
 * implementations such as lavapipe run). */
/* GEMM: TILED and TILED_S are shaders/linear.comp's scalar form (64x64
 * tiles double-buffered; 32x32 tiles single-buffered), COOPMAT its
 * cooperative-matrix form (fp16, probed devices; 128x128 tiles where they
 * alone fill a big GPU, else 64x64), COOPMAT_S always its 64x64x32 tiles,
 * COOPMAT_L its 256x128x32 tiles (big GEMMs on big GPUs; devices whose
 * shared memory holds them), TILED_CS and TILED_CL the scalar twins of
 * COOPMAT_S and COOPMAT_L (the same tiles, stages and shared-memory layout
 * with a scalar inner product; fp16: what CI runs of those
 * configurations), TEXEL the texel-buffer GEMM for CPU implementations. */
typedef enum {
    VKB_GEMM_AUTO = 0, VKB_GEMM_TILED = 1, VKB_GEMM_TEXEL = 2, VKB_GEMM_COOPMAT = 3,
    VKB_GEMM_TILED_S = 4, VKB_GEMM_COOPMAT_S = 5, VKB_GEMM_COOPMAT_L = 6, VKB_GEMM_TILED_CS = 7,
    VKB_GEMM_TILED_CL = 8
} vkb_gemm_variant;
#define VKB_GEMM_NVARIANTS 9 /* AUTO included */
typedef enum { VKB_LN_AUTO = 0, VKB_LN_SHARED = 1, VKB_LN_SUBGROUP = 2 } vkb_ln_variant;
/* Attention FLASH = flash attention: a tile of queries per workgroup, K/V
 * tiles through shared memory, online softmax; its two inner products run as
 * cooperative-matrix fragments on fp16 devices that pass the coopmat probe,
 * as scalar register tiles elsewhere. */
typedef enum { VKB_ATTN_AUTO = 0, VKB_ATTN_SHARED = 1, VKB_ATTN_SUBGROUP = 2, VKB_ATTN_FLASH = 3 } vkb_attn_variant;

/* Which SPIR-V form of the cooperative-matrix kernels (GEMM, flash attention)
 * may run: AUTO = VK_NV_cooperative_matrix on NVIDIA where it passes its
 * probe, else VK_KHR_cooperative_matrix (AMD RDNA3, Intel Arc); NV / KHR =
 * only that form (coopmat is unavailable where the device lacks it); OFF =
 * no coopmat kernels at all. */
typedef enum { VKB_COOPMAT_AUTO = 0, VKB_COOPMAT_NV = 1, VKB_COOPMAT_KHR = 2,
               VKB_COOPMAT_OFF = 3 } vkb_coopmat_form;

typedef struct vkb_vulkan_opts {
    vkb_gemm_variant gemm;       /* tiled | texel | coopmat[_s|_l] (fp16, probed devices) | tiled_s |
                                    tiled_cs | tiled_cl (fp16) */
    vkb_ln_variant layernorm;    /* embedding + residual LayerNorm kernels */
    vkb_attn_variant attention;
    /* nonzero: weights go through the staging buffer into plain device-local
     * memory (what discrete GPUs do) even where the device could have them
     * converted straight into mapped memory (CPU implementations, integrated
     * GPUs); lets that path be tested anywhere */
    int staging_upload;
    /* The tuning cache directory (`vkbert tune`, vkb_tune; the CLI passes
     * $XDG_CACHE_HOME/vkbert): when set, the backend applies the cached
     * choices of the entry for its device, vkbert version, model shape
     * (token budget = max_tokens, or the default) and precision, if one
     * exists and parses; a variant forced above wins over it.  NULL = none. */
    const char *tune_dir;
    vkb_coopmat_form coopmat;    /* the coopmat kernels' extension (VKB_COOPMAT in the CLI) */
} vkb_vulkan_opts;

/* The library's version: part of every tuning-cache key. */
#define VKB_VERSION "0.1.0"

/* Names of the variants ("auto", "tiled", "texel", "coopmat", "tiled_s", "coopmat_s",
 * "coopmat_l", "tiled_cs", "tiled_cl"; "shared",
 * "subgroup"; attention also "flash"), and the reverse: 0 when s names one, else -1. */
const char *vkb_gemm_variant_name(vkb_gemm_variant v);
const char *vkb_ln_variant_name(vkb_ln_variant v);
const char *vkb_attn_variant_name(vkb_attn_variant v);
int vkb_gemm_variant_parse(const char *s, vkb_gemm_variant *v);
int vkb_ln_variant_parse(const char *s, vkb_ln_variant *v);
int vkb_attn_variant_parse(const char *s, vkb_attn_variant *v);
/* "auto", "nv", "khr", "off", and the reverse (0 when s names one, else -1). */
const char *vkb_coopmat_form_name(vkb_coopmat_form f);
int vkb_coopmat_form_parse(const char *s, vkb_coopmat_form *f);

typedef struct vkb_backend_opts {
    const char *device;      /* "cpu", "gpu" (best), "gpu:N", "auto"; NULL = "gpu" */
    vkb_precision precision; /* GPU storage (fp32/fp16); CPU linear layers (bf16/int8) */
    int threads;             /* CPU backend threads; 0 = all cores */
    int fp64_accum;          /* CPU backend: accumulate in double */
    int max_tokens;          /* largest B*L a forward will get (0 = vkb_defaults()->max_tokens) */
    int max_len;             /* largest L a forward will get (0 = max_pos) */
    int validation;          /* Vulkan: enable the Khronos validation layer */
    /* Vulkan: cap on the device-local bytes vkbert allocates (weights and
     * activations; not host-visible staging); an allocation past it fails like
     * VK_ERROR_OUT_OF_DEVICE_MEMORY.  0 = no cap.  Lets out-of-memory
     * handling be tested on any device (`vkbert score --max-device-mem`). */
    uint64_t max_device_mem;
    vkb_vulkan_opts vulkan;  /* Vulkan: kernel variants (zero = all AUTO) */
    /* CPU bf16/int8: the oneDNN library dlopen()ed for the linear layers
     * (NULL = "libdnnl.so.2", found as dlopen finds libraries).  Where it
     * cannot be loaded the backend runs fp32 and says so in
     * vkb_backend_note(), as where the CPU lacks the instructions; tests
     * name a missing file here to force that. */
    const char *dnnl_library;
} vkb_backend_opts;

typedef struct vkb_batch {
    int B, L;              /* sequences, padded length */
    const int32_t *ids;    /* [B*L] row-major, padded with pad_token_id */
    const int32_t *lens;   /* [B] real lengths; position p is valid iff p < lens[b] */
} vkb_batch;

/* How the last hidden state becomes one vector per sequence (sentence
 * embeddings): MEAN = mean over the real tokens (padding ignored, as
 * sentence-transformers does), CLS = the first token, MAX = the element-wise
 * max over the real tokens.  NONE (0) = no pooling. */
typedef enum { VKB_POOL_NONE = 0, VKB_POOL_MEAN = 1, VKB_POOL_CLS = 2, VKB_POOL_MAX = 3 } vkb_pooling;
/* "none", "mean", "cls", "max"; and the reverse (0 when s names a mode, else -1). */
const char *vkb_pooling_name(vkb_pooling p);
int vkb_pooling_parse(const char *s, vkb_pooling *p);

typedef struct vkb_outputs {
    float *logits;  /* [B*n_labels] or NULL */
    float *hidden;  /* [(n_layers+1)*B*L*dim]: embeddings then each layer's
                       output, or NULL; used by `vkbert check` */
    float *pooled;  /* [B*dim]: the last layer's output pooled per sequence
                       by `pooling` (not normalized), or NULL.  Works with
                       or without a classifier head. */
    vkb_pooling pooling; /* required (not NONE) when pooled is set */
} vkb_outputs;

typedef struct vkb_backend vkb_backend;

/* Whether the address space (ulimit -v) has room for OpenBLAS's per-thread
 * work buffers (128 MiB each in Debian's build).  OpenBLAS retries a failed
 * buffer allocation for ever, also in the threads it starts when it is
 * loaded, and exit() waits for them: a program can skip exit handlers
 * (_exit) when this fails.  (The CPU backend's forward passes no longer call
 * OpenBLAS; the fp32 operator vkb_cpu_linear, which the Vulkan checks use,
 * does.)  Returns 0, or -1 with err.  (host/cpu) */
int vkb_cpu_blas_room(vkb_error *err);

int vkb_backend_create(const vkb_model *m, const vkb_backend_opts *opts,
                       vkb_backend **out, vkb_error *err);
int vkb_forward(vkb_backend *be, const vkb_batch *batch, vkb_outputs *out,
                vkb_error *err);
void vkb_backend_free(vkb_backend *be);
/* Human-readable device description ("CPU reference (2 threads)", GPU name). */
const char *vkb_backend_device(const vkb_backend *be);
/* What the backend did differently from what the options asked, for the
 * caller to show ("" when nothing): e.g. the CPU backend's fallback to fp32
 * when --precision bf16/int8 lacks the instructions.  The library never
 * prints it. */
const char *vkb_backend_note(const vkb_backend *be);

/* ---- benchmarking (host/vk_profile.c) ---------------------------------------
 * Additive section owned by the performance work (`vkbert bench`): what a
 * backend can say about its speed and footprint beyond wall-clock time. */
#define VKB_BENCH_MAX_KERNELS 16
typedef struct vkb_bench_info {
    char device[256];        /* device name */
    char vendor[64];         /* vendor name (NVIDIA, AMD, Intel, Mesa, ...) or 0xID */
    char driver[256];        /* driver name and version */
    int gpu;                 /* 1: Vulkan backend; 0: CPU reference (no figures below) */
    int precision_bits;      /* storage precision on the device: 32 or 16; CPU linear
                                layers: 32, 16 (bf16) or 8 (int8) */
    char precision[8];       /* "fp32", "fp16", "bf16", "int8" */
    uint64_t peak_mem_bytes; /* highest sum of vkbert's device-local allocations so
                                far (weights, activations; host-visible staging and
                                readback buffers are not counted) */
    uint64_t mem_bytes;      /* the same sum now */
    uint64_t weight_bytes;   /* the weight buffer */
    uint64_t activation_bytes; /* the activation buffers (one token budget) */
    int token_budget;        /* tokens one device pass holds (B*L); a bigger batch
                                runs as several passes over whole sequences */
    int last_passes;         /* device passes the last forward took */
    int timestamps;          /* 1: per-kernel times below (profiling was on) */
    int forwards;            /* profiled forwards the times are averaged over */
    int n_kernels;
    const char *kernel[VKB_BENCH_MAX_KERNELS];  /* category names (static strings) */
    double kernel_ms[VKB_BENCH_MAX_KERNELS];    /* mean GPU ms per forward */
    int kernel_calls[VKB_BENCH_MAX_KERNELS];    /* dispatches per forward */
} vkb_bench_info;
/* Per-kernel GPU timestamps on (sums cleared) or off.  Fails on the CPU
 * backend and on devices whose queue has no timestamps (timestampValidBits
 * 0).  The batch command buffers are recorded again on their next use. */
int vkb_backend_profile(vkb_backend *be, int on, vkb_error *err);
int vkb_backend_bench_info(vkb_backend *be, vkb_bench_info *out, vkb_error *err);

#ifdef __cplusplus
}
#endif
#endif
