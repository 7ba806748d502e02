/* vkbert.h - the one public header of libvkbert.
 *
 * Data flows one way: text -> tokenizer -> batch of ids -> backend (CPU
 * reference or Vulkan) -> logits.  Every function that can fail takes a
 * vkb_error* and returns 0 on success, non-zero on failure with a message
 * that names the file, field or tensor at fault.  The library has no global
 * mutable state and never prints. */
#ifndef VKBERT_H
#define VKBERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKB_ERR_MAX 1024
typedef struct vkb_error {
    char msg[VKB_ERR_MAX];
} vkb_error;

/* ---- model configuration (config.json) ---------------------------------- */
typedef struct vkb_config {
    int dim;          /* hidden size (768 in distilbert-base) */
    int n_layers;     /* transformer blocks */
    int n_heads;      /* attention heads; dim % n_heads == 0 */
    int hidden_dim;   /* FFN inner size */
    int vocab_size;
    int max_pos;      /* max_position_embeddings */
    int pad_token_id;
    int n_labels;     /* 0 for a base DistilBertModel (no classifier head) */
    char **labels;    /* id2label, n_labels entries */
} vkb_config;

/* ---- tokenizer ------------------------------------------------------------ */
typedef struct vkb_tokenizer vkb_tokenizer;

/* Encodes `len` bytes of UTF-8 (invalid bytes are tolerated) exactly like
 * HF's BertTokenizerFast: [CLS] wordpieces [SEP], truncated to max_len ids
 * keeping the final [SEP].  ids must hold max_len entries.  Returns the
 * number of ids written (>= 2 when max_len >= 2).  Thread-safe on a const
 * tokenizer. */
int vkb_tokenize(const vkb_tokenizer *tok, const char *text, size_t len,
                 int max_len, int32_t *ids);
/* Token string for an id, or NULL when out of range. */
const char *vkb_token_str(const vkb_tokenizer *tok, int32_t id);
int vkb_tokenizer_vocab_size(const vkb_tokenizer *tok);
int vkb_tokenizer_max_len(const vkb_tokenizer *tok); /* model_max_length */

/* ---- model (checkpoint directory) ---------------------------------------- */
typedef struct vkb_model vkb_model;

/* Loads config.json, model.safetensors (mmapped), vocab.txt or tokenizer.json
 * and tokenizer_config.json from a directory as HF writes it. */
int vkb_model_load(const char *dir, vkb_model **out, vkb_error *err);
void vkb_model_free(vkb_model *m);
const vkb_config *vkb_model_config(const vkb_model *m);
const vkb_tokenizer *vkb_model_tokenizer(const vkb_model *m);
/* The input length a model runs with: min(max_len, max_pos) when max_len > 0,
 * else the default (vkb_defaults()->max_len) clipped to the tokenizer's
 * model_max_length and to max_pos.  What the scorer, the CLI and the Python
 * binding truncate to. */
int vkb_model_max_len(const vkb_model *m, int max_len);
/* The shape of a known architecture, by name, for vkb_model_random:
 * "distilbert-base" (dim 768, 6 layers, 12 heads, hidden 3072, vocab 30522,
 * 512 positions, 2 labels).  0, or -1 with err naming the known names. */
int vkb_config_named(const char *name, vkb_config *out, vkb_error *err);
/* Builds a model with the given shape and deterministic random weights in
 * memory (no files): used by `vkbert bench --shape` and `check` tests. */
int vkb_model_random(const vkb_config *shape, uint64_t seed, vkb_model **out,
                     vkb_error *err);

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

/* ---- backends ------------------------------------------------------------- */
typedef enum { VKB_PREC_AUTO = 0, VKB_PREC_FP32 = 1, VKB_PREC_FP16 = 2 } vkb_precision;

typedef struct vkb_backend_opts {
    const char *device;      /* "cpu", "gpu" (best), "gpu:N", "auto"; NULL = "gpu" */
    vkb_precision precision; /* weight/activation storage on the GPU */
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
} vkb_backend_opts;

typedef struct vkb_batch {
    int B, L;              /* sequences, padded length */
    const int32_t *ids;    /* [B*L] row-major, padded with pad_token_id */
    const int32_t *lens;   /* [B] real lengths; position p is valid iff p < lens[b] */
} vkb_batch;

typedef struct vkb_outputs {
    float *logits;  /* [B*n_labels] or NULL */
    float *hidden;  /* [(n_layers+1)*B*L*dim]: embeddings then each layer's
                       output, or NULL; used by `vkbert check` */
} vkb_outputs;

typedef struct vkb_backend vkb_backend;

int vkb_backend_create(const vkb_model *m, const vkb_backend_opts *opts,
                       vkb_backend **out, vkb_error *err);
int vkb_forward(vkb_backend *be, const vkb_batch *batch, vkb_outputs *out,
                vkb_error *err);
void vkb_backend_free(vkb_backend *be);
/* Human-readable device description ("CPU reference (2 threads)", GPU name). */
const char *vkb_backend_device(const vkb_backend *be);

/* ---- batch scorer (host/scorer.c) ----------------------------------------
 * Additive section owned by the CLI/scoring work.  A scorer turns a stream of
 * texts into logits at full speed: tokenizer threads work on the next window
 * of inputs while one thread runs the backend; inputs of a window (default
 * 2048) are sorted by token length so that a batch holds similar lengths,
 * and a batch takes as many sequences as fit the token budget (B*L).
 * Results are delivered through the callback strictly in submission order,
 * from one scorer thread at a time.  Used by `vkbert score/eval/classify`
 * and meant for language bindings.
 *
 * Several backends (vkb_scorer_create_multi; e.g. one per GPU, or the same
 * GPU twice) get one worker thread each; batches are cut from the input the
 * same way whatever their number and handed to whichever worker is free, so
 * backends of the same kind give results identical to one backend.
 *
 * Out of device memory in a forward halves the token budget and retries
 * (with a note); any other forward error stops the scorer.  Test hook: when
 * the environment variable VKB_FAULT_AFTER_BATCHES=N is set (read at
 * creation), every forward after the first N fails with a "device lost"
 * error, as a crashed GPU would; unset, it has no effect. */
typedef struct vkb_scorer vkb_scorer;

typedef struct vkb_scorer_opts {
    int max_len;       /* truncate to this many ids; 0 = vkb_model_max_len(model, 0) */
    int batch_tokens;  /* token budget per forward (B*L); 0 = vkb_defaults()->batch_tokens */
    int window;        /* inputs sorted together; 0 = vkb_defaults()->window */
    int no_sort;       /* nonzero: keep input order inside batches (no grouping) */
    int threads;       /* tokenizer threads; 0 = 1 */
    int pad_multiple;  /* round a batch's L up to a multiple of this; 0 = 1 */
    /* Optional: informational messages (e.g. "out of device memory: retrying
     * with a token budget of 4096"); called from a scorer thread. */
    void (*note)(void *ctx, const char *msg);
    /* Optional: when *interrupt becomes nonzero the scorer stops as if
     * vkb_scorer_cancel() had been called (set from a signal handler). */
    const volatile int *interrupt;
    /* Optional: called with the user pointer of every item that will not be
     * delivered (the run was stopped or failed), so callers can free it. */
    void (*drop_user)(void *user);
} vkb_scorer_opts;

typedef struct vkb_score {
    uint64_t index;        /* 0-based submission index */
    void *user;            /* as passed when submitted */
    const float *logits;   /* [n_labels]; NULL for an item added with _add_skip */
    int n_labels;
    int n_tokens;          /* ids after truncation (incl. [CLS], [SEP]) */
    int truncated;         /* nonzero when the text had more than max_len ids */
} vkb_score;

/* Receives each result in submission order; return nonzero to stop the
 * scorer (e.g. the output pipe closed). */
typedef int (*vkb_score_fn)(void *ctx, const vkb_score *s);

typedef struct vkb_scorer_stats {
    uint64_t items;          /* scored (not skipped) items delivered */
    uint64_t real_tokens;    /* sum of item lengths */
    uint64_t padded_tokens;  /* sum of B*L over forwards */
    uint64_t batches;
    int batch_tokens;        /* budget in use (halved on out-of-memory) */
    double forward_seconds;  /* time inside vkb_forward */
} vkb_scorer_stats;

/* The backend must outlive the scorer; it is used by one thread only. */
int vkb_scorer_create(vkb_backend *be, const vkb_scorer_opts *opts,
                      vkb_score_fn fn, void *ctx, vkb_scorer **out, vkb_error *err);
/* One worker per backend (1..256), all created from the same vkb_model; the
 * array is copied, the backends must outlive the scorer, and each is used by
 * its worker thread only.  opts->batch_tokens must not exceed the smallest
 * max_tokens the backends were created with. */
int vkb_scorer_create_multi(vkb_backend *const *backends, int n_backends,
                            const vkb_scorer_opts *opts, vkb_score_fn fn, void *ctx,
                            vkb_scorer **out, vkb_error *err);
/* vkb_backend_create for a scorer: when the device runs out of memory for
 * the activations of opts->max_tokens, retries with half the token budget,
 * down to one sequence of max_len, telling note() each time.  *max_tokens
 * gets the budget that fit (use it as the scorer's batch_tokens).  Fails
 * like vkb_backend_create when even the weights do not fit. */
int vkb_backend_create_fit(const vkb_model *m, const vkb_backend_opts *opts,
                           void (*note)(void *ctx, const char *msg), void *ctx,
                           vkb_backend **out, int *max_tokens, vkb_error *err);
/* Queue a text (copied) / ids (copied, truncated to max_len) / a placeholder
 * that is delivered in order with logits == NULL (a line that failed to
 * parse).  May block while the pipeline is full.  On failure (the scorer
 * stopped or failed) the item was not taken and `user` stays the caller's;
 * on success it comes back through the callback or drop_user. */
int vkb_scorer_add_text(vkb_scorer *s, const char *text, size_t len, void *user,
                        vkb_error *err);
int vkb_scorer_add_ids(vkb_scorer *s, const int32_t *ids, int n, void *user,
                       vkb_error *err);
int vkb_scorer_add_skip(vkb_scorer *s, void *user, vkb_error *err);
/* Scores everything queued, delivers the remaining results and stops the
 * threads.  Returns non-zero when a forward failed (err says why). */
int vkb_scorer_finish(vkb_scorer *s, vkb_error *err);
/* Stops early: nothing more is delivered after the result in progress. */
void vkb_scorer_cancel(vkb_scorer *s);
int vkb_scorer_max_len(const vkb_scorer *s);
void vkb_scorer_get_stats(vkb_scorer *s, vkb_scorer_stats *st);
void vkb_scorer_free(vkb_scorer *s); /* cancels and joins if still running */

/* ---- Vulkan devices (host/vk_devices.c) -------------------------------------
 * Additive section owned by the Vulkan backend work.  Lists every Vulkan
 * device the loader reports (the index N is what --device gpu:N selects):
 * name, vendor id, driver name/version, API version, type, memory heaps,
 * subgroup size, max shared memory and the optional features vkbert uses
 * (16-bit storage, float16 arithmetic, integer dot product, cooperative
 * matrix).  `json` nonzero gives {"devices":[{...}]}, else readable text.
 * *out is malloc'd (free() it).  Fails when there is no Vulkan loader. */
int vkb_devices_report(int json, char **out, vkb_error *err);
/* What device "auto" (the CLI's default) resolves to: "gpu" when a hardware
 * Vulkan device (discrete, integrated or virtual GPU) exists, else "cpu" -
 * the CPU reference, faster on the CPU than a CPU Vulkan implementation such
 * as lavapipe.  When it picks "cpu", why (may be NULL) gets the reason. */
const char *vkb_auto_device(char *why, size_t n);

/* ---- benchmarking (host/vk_profile.c) ---------------------------------------
 * Additive section owned by the performance work (`vkbert bench`): what a
 * backend can say about its speed and footprint beyond wall-clock time. */
#define VKB_BENCH_MAX_KERNELS 16
typedef struct vkb_bench_info {
    char device[256];        /* device name */
    char vendor[64];         /* vendor name (NVIDIA, AMD, Intel, Mesa, ...) or 0xID */
    char driver[256];        /* driver name and version */
    int gpu;                 /* 1: Vulkan backend; 0: CPU reference (no figures below) */
    int precision_bits;      /* storage precision on the device: 32 or 16 */
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

/* ---- helpers -------------------------------------------------------------- */
/* In-place softmax over n values. */
void vkb_softmax(float *x, int n);

/* ---- the output line: one contract for every front end ------------------- */
/* `vkbert score`, the Python binding and its Dask recipe all write a record's
 * result with these, so that the same input gives the same bytes.  Strings
 * returned through char** are malloc'ed: release them with vkb_free. */
#define VKB_OUT_ALL_SCORES 1u /* "scores": {label: probability, ...} in label order */
#define VKB_OUT_LOGITS 2u     /* "logits": [...] */
/* One scored record as a JSON line, newline included:
 * {<extra>,"label":L,"score":P[,"scores":{...}][,"top_k":[{"label":L,"score":P},...]][,"logits":[...]]}
 * extra: the record's pass-through members without braces (as
 * vkb_record_parse_json gives them), or NULL.  label = the arg-max of the
 * logits, score = its softmax probability; floats are written as Python's
 * repr of a float32 (shortest round trip).  top_k: 0 = no "top_k", K = the K
 * best labels by probability, best first, -1 = all of them. */
int vkb_result_json(const vkb_config *cfg, const char *extra, const float *logits, int n_labels,
                    unsigned flags, int top_k, char **out, size_t *out_len, vkb_error *err);
/* A record that could not be read or scored: {"line":N,"error":E[,"id":ID][,"file":F]}\n.
 * id_json: the record's id as JSON, or NULL; source: the file name, given
 * when several inputs are read, else NULL. */
int vkb_error_json(long line, const char *error, const char *id_json, const char *source,
                   char **out, size_t *out_len, vkb_error *err);
/* Parses one JSON line exactly as the JSON-lines input reader does (a final
 * "\n" or "\r\n" is ignored).  Returns 1 for a blank line (not a record),
 * 0 for a record: then either *error is set (invalid JSON, no text string,
 * ...; *id_json may be set too) or *text (valid UTF-8, NUL-terminated) and
 * *extra (pass-through members, or NULL) are.  -1: out of memory. */
int vkb_record_parse_json(const char *line, size_t n, const char *text_column, char **text,
                          size_t *text_len, char **extra, char **id_json, char **error);
/* A float32 as the output line writes it (at least 32 bytes; non-finite: null). */
int vkb_float_repr(float f, char *buf, size_t n);
void vkb_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
