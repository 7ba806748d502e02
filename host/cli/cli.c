/* cli.c - `vkbert` entry point: command dispatch, options, help, the
 * built-in model lookup, backend set-up and small output helpers shared by
 * the commands (host/cli_*.c). */
#define _GNU_SOURCE
#include "cli.h"
#include "vkb_git.h" /* VKB_GIT_COMMIT, generated at build time */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one piece of global mutable state in vkbert: a signal handler can only
 * talk to the program through a sig_atomic_t. */
volatile sig_atomic_t vkb_cli_interrupted = 0;
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t is an int");
const volatile int *cli_interrupt_flag(void) {
    return (const volatile int *)&vkb_cli_interrupted;
}

void cli_on_source(void *user, const char *source, vkb_in_format fmt, const char *how,
                   const char *compression) {
    const cli_opts *o = user;
    if (o->quiet) return;
    fprintf(stderr, "vkbert: reading %s as %s%s%s (by %s)\n", strcmp(source, "-") ? source : "stdin",
            compression ? compression : "", compression ? "-compressed " : "",
            vkb_in_format_name(fmt), how);
}

/* The first SIGINT or SIGTERM asks the running command to stop cleanly
 * (vkb_cli_interrupted = the signal); a second one of either ends the
 * process the default way at once, even when it is stuck somewhere that
 * never looks at the flag (a BLAS library retrying an allocation). */
static void on_signal(int sig) {
    if (vkb_cli_interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    vkb_cli_interrupted = sig;
}

void cli_fault_injection(vkb_scorer_opts *so) {
    const char *fa = getenv("VKB_FAULT_AFTER_BATCHES");
    if (!fa || !*fa) return;
    char *end;
    errno = 0;
    long long v = strtoll(fa, &end, 10);
    if (*end || v < 0 || errno) {
        fprintf(stderr, "vkbert: ignoring VKB_FAULT_AFTER_BATCHES='%s' (not a count)\n", fa);
        return;
    }
    so->fault_inject = 1;
    so->fault_after_batches = v;
}

void cli_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a closed output pipe is seen as EPIPE from write() and handled */
    signal(SIGPIPE, SIG_IGN);
}

int cli_interrupt_status(void) {
    return vkb_cli_interrupted > 0 && vkb_cli_interrupted < 64 ? 128 + vkb_cli_interrupted
                                                                : CLI_INTERRUPTED;
}

/* ---- output helpers ------------------------------------------------------- */

int cli_write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t k = write(fd, buf, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

static void cb_oom(void) {
    fprintf(stderr, "vkbert: out of memory\n");
    exit(1);
}
void cb_put(cli_buf *b, const char *s, size_t n) {
    if (vkb_sb_put(b, s, n)) cb_oom();
}
void cb_puts(cli_buf *b, const char *s) { cb_put(b, s, strlen(s)); }
void cb_printf(cli_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vkb_sb_vprintf(b, fmt, ap);
    va_end(ap);
    if (rc) cb_oom();
}

void cb_float(cli_buf *b, double v) {
    char tmp[40];
    vkb_float_repr((float)v, tmp, sizeof tmp); /* the output line's float format */
    cb_puts(b, tmp);
}

void cb_json_str(cli_buf *b, const char *s) {
    char *q = NULL;
    size_t ql = 0, qc = 0;
    if (vkb_json_quote(&q, &ql, &qc, s, strlen(s))) cb_oom();
    cb_put(b, q, ql);
    free(q);
}

int cli_label_index(const vkb_config *c, const char *label) {
    if (!label || !*label) return -1;
    char *end;
    long v = strtol(label, &end, 10);
    if (*end == 0 && end != label) return v >= 0 && v < c->n_labels ? (int)v : -1;
    for (int i = 0; i < c->n_labels; i++)
        if (c->labels && c->labels[i] && strcasecmp(c->labels[i], label) == 0) return i;
    if (c->n_labels == 2) {
        if (!strcasecmp(label, "pos") || !strcasecmp(label, "positive")) return 1;
        if (!strcasecmp(label, "neg") || !strcasecmp(label, "negative")) return 0;
    }
    return -1;
}

/* ---- model and backend ------------------------------------------------------ */

static int is_model_dir(const char *d) {
    char p[PATH_MAX + 32];
    if (snprintf(p, sizeof p, "%s/config.json", d) >= (int)sizeof p) return 0;
    return access(p, R_OK) == 0;
}

/* The built-in model: models/default next to the executable's real location
 * (build/vkbert -> ../models/default; an install's bin/ -> ../share/vkbert),
 * then the source tree it was built from. */
static const char *default_model_dir(char *buf, size_t n) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"../models/default", "models/default",
                                          "../share/vkbert/models/default"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, n, "%s/%s", exe, rel[i]);
            if (is_model_dir(buf)) return buf;
        }
    }
#ifdef VKB_DEFAULT_MODEL_DIR
    snprintf(buf, n, "%s", VKB_DEFAULT_MODEL_DIR);
    if (is_model_dir(buf)) return buf;
#endif
    return NULL;
}

vkb_model *cli_load_model(const cli_opts *o) {
    char buf[PATH_MAX + 64];
    const char *dir = o->model;
    if (!dir) {
        dir = default_model_dir(buf, sizeof buf);
        if (!dir) {
            fprintf(stderr, "vkbert: no --model given and the built-in model (models/default "
                            "next to the executable or in the source tree) was not found\n");
            return NULL;
        }
    }
    vkb_model *m = NULL;
    vkb_error e = {0};
    if (vkb_model_load(dir, &m, &e)) {
        fprintf(stderr, "vkbert: cannot load model %s: %s\n", dir, e.msg);
        return NULL;
    }
    return m;
}

int cli_max_len(const cli_opts *o, const vkb_model *m) {
    const vkb_config *c = vkb_model_config(m);
    int ml = vkb_model_max_len(m, o->max_len);
    if (o->max_len > ml && !o->quiet)
        fprintf(stderr, "vkbert: note: --max-len %d exceeds the model's %d positions; using %d\n",
                o->max_len, c->max_pos, c->max_pos);
    return ml;
}

int cli_batch_tokens(const cli_opts *o, int max_len) {
    int bt = o->batch_tokens > 0 ? o->batch_tokens : vkb_defaults()->batch_tokens;
    return bt < max_len ? max_len : bt;
}

/* No --device: a hardware Vulkan device if there is one, else the CPU
 * reference (vkb_auto_device), with a note saying why when a CPU-only
 * Vulkan device such as lavapipe was passed over or Vulkan is missing. */
static const char *auto_device(const cli_opts *o) {
    char why[300];
    const char *d = vkb_auto_device(why, sizeof why);
    if (!strcmp(d, "cpu") && !o->quiet)
        fprintf(stderr, "vkbert: note: using the CPU reference: %s\n", why);
    return d;
}

void cli_backend_opts(const cli_opts *o, int max_len, vkb_backend_opts *bo) {
    memset(bo, 0, sizeof *bo);
    bo->device = o->device && strcmp(o->device, "auto") ? o->device : auto_device(o);
    /* bf16 / int8 on a GPU: refused by the Vulkan backend when it opens */
    if (!strcmp(bo->device, "cpu") && o->precision == VKB_PREC_FP16 && !o->quiet)
        fprintf(stderr, "vkbert: note: --precision fp16 is for GPU storage; the CPU reference "
                        "computes in fp32\n");
    bo->precision = o->precision;
    bo->threads = o->threads;
    bo->max_len = max_len;
    bo->max_tokens = cli_batch_tokens(o, max_len);
    bo->max_device_mem = o->max_device_mem;
    /* the tuning cache: the backend applies its entry for the device and
     * model shape (a variant forced below wins) */
    bo->vulkan.tune_dir = o->tune_dir[0] ? o->tune_dir : NULL;
    /* The test suite sets VKB_VALIDATION=1: the Khronos validation layer
     * then checks every Vulkan call, and any message is an error. */
    const char *val = getenv("VKB_VALIDATION");
    bo->validation = val && *val && strcmp(val, "0") != 0;
    /* Vulkan kernel variants (default: the device policy), e.g. VKB_GEMM=tiled;
     * a bad name is reported and makes opening the backend fail. */
    const char *g = getenv("VKB_GEMM"), *l = getenv("VKB_LAYERNORM"), *a = getenv("VKB_ATTENTION");
    if (g && *g && vkb_gemm_variant_parse(g, &bo->vulkan.gemm)) {
        fprintf(stderr, "vkbert: VKB_GEMM=%s: expected auto, tiled, tiled_s, texel, coopmat, coopmat_s, "
                        "coopmat_l, tiled_cs or tiled_cl\n", g);
        bo->vulkan.gemm = (vkb_gemm_variant)-1;
    }
    if (l && *l && vkb_ln_variant_parse(l, &bo->vulkan.layernorm)) {
        fprintf(stderr, "vkbert: VKB_LAYERNORM=%s: expected auto, shared or subgroup\n", l);
        bo->vulkan.layernorm = (vkb_ln_variant)-1;
    }
    if (a && *a && vkb_attn_variant_parse(a, &bo->vulkan.attention)) {
        fprintf(stderr, "vkbert: VKB_ATTENTION=%s: expected auto, shared, subgroup or flash\n", a);
        bo->vulkan.attention = (vkb_attn_variant)-1;
    }
    /* VKB_DNNL_LIBRARY=path: the oneDNN library bf16/int8 dlopen() (default
     * libdnnl.so.2); tests name a missing file to force the fp32 fallback */
    const char *dl = getenv("VKB_DNNL_LIBRARY");
    bo->dnnl_library = dl && *dl ? dl : NULL;
    /* VKB_COOPMAT=nv|khr|off: which extension the coopmat kernels use
     * (bench/gpu-run.sh runs the KHR form on NVIDIA with it) */
    const char *cm = getenv("VKB_COOPMAT");
    if (cm && *cm && vkb_coopmat_form_parse(cm, &bo->vulkan.coopmat)) {
        fprintf(stderr, "vkbert: VKB_COOPMAT=%s: expected auto, nv, khr or off\n", cm);
        bo->vulkan.coopmat = (vkb_coopmat_form)-1;
    }
}

vkb_backend *cli_open_backend(const cli_opts *o, const vkb_model *m, int fp64_accum,
                              int max_len) {
    vkb_backend_opts bo;
    cli_backend_opts(o, max_len, &bo);
    bo.fp64_accum = fp64_accum;
    cli_auto_tune(o, m, &bo);
    vkb_backend *be = NULL;
    vkb_error e = {0};
    if (vkb_backend_create(m, &bo, &be, &e) == 0) {
        cli_backend_note(o, be);
        return be;
    }
    fprintf(stderr, "vkbert: cannot open device %s: %s\n", bo.device, e.msg);
    return NULL;
}

void cli_backend_note(const cli_opts *o, const vkb_backend *be) {
    const char *n = vkb_backend_note(be);
    if (n && *n && !o->quiet) fprintf(stderr, "vkbert: note: %s\n", n);
}

/* ---- options ------------------------------------------------------------------ */

enum {
    O_MODEL = 'm', O_DEVICE = 'd', O_OUTPUT = 'o', O_QUIET = 'q', O_HELP = 'h',
    O_PRECISION = 256, O_MAXLEN, O_BATCHTOK, O_THREADS, O_FORMAT, O_TEXTCOL, O_LABELCOL,
    O_ALLSCORES, O_LOGITS, O_NOSORT, O_RESUME, O_JSON, O_BALANCED, O_SEED, O_SHAPE,
    O_WINDOW, O_RANDOM, O_SHARD, O_MAXDEVMEM, O_BATCH, O_SEQ, O_ITERS, O_ALLTOKENS, O_INPUT, O_TOPK, O_OPS,
    O_HOST, O_PORT, O_ALLOWREMOTE, O_MAXCONC, O_BATCHCOST, O_MAXBODY, O_TIMEOUT,
    O_POOLING, O_NORMALIZE, O_NONORMALIZE, O_OUTFMT, O_NOTUNE, O_RETUNE,
};

static const struct option long_opts[] = {
    {"model", required_argument, 0, O_MODEL},
    {"device", required_argument, 0, O_DEVICE},
    {"precision", required_argument, 0, O_PRECISION},
    {"max-len", required_argument, 0, O_MAXLEN},
    {"batch-tokens", required_argument, 0, O_BATCHTOK},
    {"threads", required_argument, 0, O_THREADS},
    {"quiet", no_argument, 0, O_QUIET},
    {"help", no_argument, 0, O_HELP},
    {"format", required_argument, 0, O_FORMAT},
    {"text-column", required_argument, 0, O_TEXTCOL},
    {"label-column", required_argument, 0, O_LABELCOL},
    {"all-scores", no_argument, 0, O_ALLSCORES},
    {"logits", no_argument, 0, O_LOGITS},
    {"no-sort", no_argument, 0, O_NOSORT},
    {"resume", no_argument, 0, O_RESUME},
    {"output", required_argument, 0, O_OUTPUT},
    {"json", optional_argument, 0, O_JSON},
    {"balanced", required_argument, 0, O_BALANCED},
    {"seed", required_argument, 0, O_SEED},
    {"shape", required_argument, 0, O_SHAPE},
    {"window", required_argument, 0, O_WINDOW},
    {"random", required_argument, 0, O_RANDOM},
    {"shard", required_argument, 0, O_SHARD},
    {"max-device-mem", required_argument, 0, O_MAXDEVMEM},
    {"batch", required_argument, 0, O_BATCH},
    {"seq", required_argument, 0, O_SEQ},
    {"iters", required_argument, 0, O_ITERS},
    {"all-tokens", no_argument, 0, O_ALLTOKENS},
    {"input", required_argument, 0, O_INPUT},
    {"top-k", required_argument, 0, O_TOPK},
    {"ops", no_argument, 0, O_OPS},
    {"host", required_argument, 0, O_HOST},
    {"port", required_argument, 0, O_PORT},
    {"allow-remote", no_argument, 0, O_ALLOWREMOTE},
    {"max-concurrent-requests", required_argument, 0, O_MAXCONC},
    {"batch-cost-tokens", required_argument, 0, O_BATCHCOST},
    {"max-body-bytes", required_argument, 0, O_MAXBODY},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"pooling", required_argument, 0, O_POOLING},
    {"normalize", no_argument, 0, O_NORMALIZE},
    {"no-normalize", no_argument, 0, O_NONORMALIZE},
    {"output-format", required_argument, 0, O_OUTFMT},
    {"no-tune", no_argument, 0, O_NOTUNE},
    {"retune", no_argument, 0, O_RETUNE},
    {0, 0, 0, 0},
};

typedef struct command {
    const char *name;
    int (*run)(cli_opts *o);
    const char *allowed; /* option names, space separated */
    int max_args;        /* positional arguments taken (-1: any number) */
    const char *usage;
} command;

#define COMMON "model device precision max-len batch-tokens threads quiet help no-tune"
#define NO_BATCH "model device precision max-len threads quiet help no-tune"
static const struct { const char *name, *help; } common_help[] = {
    {"model", "  -m, --model DIR        checkpoint directory (default: the built-in model)\n"},
    {"device", "  -d, --device DEV       cpu, gpu (best Vulkan device), gpu:N or auto (default:\n"
               "                         a hardware GPU if any, else cpu, faster than lavapipe)\n"},
    {"precision", "      --precision P      fp32 or fp16 storage on the GPU (default: device's best);\n"
                  "                         bf16 or int8 linear layers on the CPU (default: fp32)\n"},
    {"max-len", "      --max-len N        truncate texts to N tokens (default min({max_len}, model max))\n"},
    {"batch-tokens", "      --batch-tokens N   token budget per batch, B*L (default {batch_tokens})\n"},
    {"threads", "      --threads N        CPU threads (tokenizers; CPU backend)\n"},
    {"quiet", "  -q, --quiet            no progress bar, notes or summary\n"},
    {"no-tune", "      --no-tune          no automatic tuning on a hardware GPU's first use\n"
                "                         (see vkbert tune)\n"},
};

/* Prints help text with the library's defaults (vkb_defaults) in place of
 * "{max_len}", "{batch_tokens}" and "{window}", so the help cannot drift. */
static void print_help(FILE *f, const char *s) {
    const vkb_default_values *d = vkb_defaults();
    const struct { const char *key; int value; } keys[] = {
        {"{max_len}", d->max_len}, {"{batch_tokens}", d->batch_tokens}, {"{window}", d->window}};
    while (*s) {
        size_t k = 0, n = sizeof keys / sizeof keys[0];
        while (k < n && strncmp(s, keys[k].key, strlen(keys[k].key))) k++;
        if (k < n) {
            fprintf(f, "%d", keys[k].value);
            s += strlen(keys[k].key);
        } else {
            fputc(*s++, f);
        }
    }
}

static const command commands[] = {
    {"embed", cli_score,
     COMMON " format text-column no-sort resume output window shard max-device-mem pooling"
     " normalize no-normalize output-format", -1,
     "usage: vkbert embed [options] [FILE|DIR ...]   (stdin when none)\n"
     "Sentence embeddings: the last hidden state of the encoder (a base\n"
     "DistilBertModel, or the encoder of a classifier) pooled per input; one JSON\n"
     "object per input, in input order: pass-through fields and \"embedding\".\n"
     "Input as for `vkbert score` (JSON lines, CSV/TSV, text, IMDB directories,\n"
     "gzip/zstd); a record that cannot be read gives {\"line\": N, \"error\": ...}\n"
     "(exit status 1).  Same length-grouped token-budget batches as score.\n"
     "      --pooling P        mean (over the real tokens, padding ignored, as\n"
     "                         sentence-transformers), cls (first token) or max;\n"
     "                         default: the model's sentence-transformers files\n"
     "                         (modules.json, 1_Pooling/config.json), else mean\n"
     "      --normalize        L2-normalize every vector (default: on when the\n"
     "                         model's modules.json has a Normalize module)\n"
     "      --no-normalize     the pooled vectors as they are, also for a model\n"
     "                         whose modules.json has a Normalize module\n"
     "      --output-format F  jsonl (default), npy or safetensors: -o FILE.npy\n"
     "                         (or FILE.safetensors: one F32 tensor \"embeddings\")\n"
     "                         gets one float32 matrix [records, dim] (a record\n"
     "                         that could not be read: a row of NaN) and\n"
     "                         FILE.ids.jsonl one line per row: its pass-through\n"
     "                         fields, or its error object\n"
     "      --format F, --text-column C, --window N, --no-sort, --shard I/N,\n"
     "      --max-device-mem B  as for score\n"
     "  -o, --output FILE      write to FILE (locked; never one of the inputs)\n"
     "      --resume           continue an interrupted -o FILE (jsonl only)\n"},
    {"tokenize", cli_tokenize, "model max-len quiet help text-column", -1,
     "usage: vkbert tokenize [options] [TEXT...]   (stdin lines when none, or -)\n"
     "Prints one JSON array of token ids ([CLS] ... [SEP]) per TEXT argument, or\n"
     "per stdin line (a JSON object with a \"text\" field, or plain text).\n"
     "      --text-column C    JSON field with the text on stdin (default text)\n"},
    {"score", cli_score,
     COMMON " format text-column all-scores logits no-sort resume output window"
     " shard max-device-mem top-k", -1,
     "usage: vkbert score [options] [FILE|DIR ...]   (stdin when none)\n"
     "Scores texts and writes one JSON object per input, in input order:\n"
     "pass-through fields, \"label\" and \"score\" (probability of that label).\n"
     "Input: JSON lines (\"text\" field), CSV/TSV (header row; --text-column),\n"
     "plain text lines, or an IMDB-style directory with pos/ and neg/; gzip and\n"
     "zstd input is decompressed.  The format chosen is said on stderr.\n"
     "An input that cannot be parsed yields {\"line\": N, \"error\": ...} in its\n"
     "place (exit status 1).  Empty lines are skipped.\n"
     "      --format F         jsonl, csv, tsv, text or auto (default: by extension,\n"
     "                         else by content: JSON lines when the first line is a\n"
     "                         JSON object, CSV/TSV when it is a header naming the\n"
     "                         text column, else text lines)\n"
     "      --text-column C    field/column with the text (default text)\n"
     "      --all-scores       add \"scores\": probability per label\n"
     "      --top-k K          add \"top_k\": the K best labels with their\n"
     "                         probabilities, best first (K = all: every label)\n"
     "      --logits           add \"logits\": array\n"
     "      --no-sort          do not group inputs of similar length\n"
     "      --window N         inputs sorted together (default {window})\n"
     "  -o, --output FILE      write to FILE instead of stdout (locked while vkbert\n"
     "                         runs; never one of the inputs), with a run record\n"
     "                         FILE.vkbert.json beside it\n"
     "      --resume           with -o: skip the inputs FILE already has complete\n"
     "                         lines for and append the rest (after a crash, a lost\n"
     "                         device or Ctrl-C; no line is scored twice); refused\n"
     "                         when the input or options differ from FILE's run\n"
     "                         record\n"
     "  -d, --device LIST      also: all (one worker per Vulkan device) or a list,\n"
     "                         e.g. gpu:0,gpu:1 (cpu too); each worker has its own\n"
     "                         copy of the weights; output stays in input order\n"
     "      --shard I/N        score only records k with k mod N == I (k counts\n"
     "                         parsed records from 0, error lines included), in\n"
     "                         input order.  Write each shard with -o FILE and merge\n"
     "                         them with tools/merge_shards.py FILE... (it checks\n"
     "                         the run records FILE.vkbert.json; docs/scaling.md)\n"
     "      --max-device-mem B cap vkbert's Vulkan allocations at B bytes (or NK,\n"
     "                         NM, NG); out of memory then shrinks the batches\n"},
    {"classify", cli_classify, COMMON " top-k", -1,
     "usage: vkbert classify [options] [TEXT...]   (stdin lines when none, or -)\n"
     "Prints what HF's text-classification pipeline prints, e.g.\n"
     "[{'label': 'POSITIVE', 'score': 0.9998}] as JSON: one entry per text, or per\n"
     "line of stdin (one text per line; empty lines are skipped).\n"
     "      --top-k K          as the pipeline's top_k: 1 (default) = the best label\n"
     "                         only; K > 1 or all (top_k=None) = a list of the K best\n"
     "                         labels per text, best first\n"},
    {"eval", cli_eval, COMMON " format text-column label-column json balanced seed no-sort window", -1,
     "usage: vkbert eval [options] [FILE|DIR]   (stdin when none)\n"
     "Scores labeled data (JSON lines with \"label\" as index or name, CSV with a\n"
     "label column, or an IMDB directory) and prints the model card table as\n"
     "Markdown: Accuracy, F1, Precision, Recall (positive class = label 1 for\n"
     "binary models, macro averages otherwise), inference time (ms/example,\n"
     "wall time of tokenizing + scoring), examples and device.\n"
     "      --label-column C   field/column with the gold label (default label)\n"
     "      --json FILE        also write the table as JSON to FILE ('-': stdout,\n"
     "                         instead of Markdown)\n"
     "      --balanced N       N/2 examples of label 1 and N/2 of label 0, drawn\n"
     "                         with a fixed seed (--seed, default 42)\n"},
    {"check", cli_check, NO_BATCH " shape seed random json format text-column ops", -1,
     "usage: vkbert check [options] [FILE]\n"
     "       vkbert check --ops [OP|VARIANT|PRECISION...]\n"
     "Runs the CPU reference (fp64 accumulation) and the GPU on the same padded\n"
     "mixed-length batches and prints per layer the max abs/rel error and cosine\n"
     "similarity of the hidden states, then the logit error and label agreement.\n"
     "Exits 1 beyond tolerance (logits 1e-3 fp32 / 2e-2 fp16, identical labels).\n"
     "Inputs: built-in sentences plus random id sequences, or the texts of FILE.\n"
     "      --shape distilbert-base  random weights of that shape instead of --model\n"
     "      --random N         random id sequences (default 8)\n"
     "      --seed S           seed for random weights/ids (default 42)\n"
     "      --format F, --text-column C  how to read FILE (as for score); a record\n"
     "                         that cannot be read (e.g. no text field) fails\n"
     "      --json             one JSON object (for CI) instead of the table\n"
     "      --ops              the op test matrix instead: every kernel variant of\n"
     "                         each op (linear, add_layernorm, embed, attention) at\n"
     "                         odd sizes in fp32 and fp16 against the fp64 CPU op;\n"
     "                         arguments filter (e.g. attention shared fp16)\n"},
    {"bench", cli_bench, COMMON " shape seed json batch seq iters all-tokens input format text-column window", 0,
     "usage: vkbert bench [options]\n"
     "Measures the forward pass on one batch shape (random ids, every token real):\n"
     "sequences/s, ms per batch (median), GFLOP/s, peak device memory, model load\n"
     "time and per-kernel GPU times (Vulkan timestamps), with the device and driver.\n"
     "      --shape distilbert-base  random weights of that shape instead of --model\n"
     "      --batch B          sequences per batch (default 8)\n"
     "      --seq L            tokens per sequence (default 128)\n"
     "      --iters N          timed batches after warm-up (default 10; CPU 3)\n"
     "      --all-tokens       run the last layer on every token, as for embeddings\n"
     "                         (default: logits, for which both backends run the\n"
     "                         last layer's out_lin and FFN on the first token only,\n"
     "                         the CPU its attention too; GFLOP/s counts the full\n"
     "                         model either way)\n"
     "      --input FILE       end to end instead: score FILE (JSON lines, CSV, text)\n"
     "                         like `vkbert score`, reading and tokenizing included,\n"
     "                         and report reviews/s (--format, --text-column,\n"
     "                         --window, --max-len as for score)\n"
     "      --json             one JSON object instead of text (one per device), with\n"
     "                         vkbert's version and git commit, host CPU, OS, a UTC\n"
     "                         timestamp and the model's dimensions, for tables\n"
     "                         across machines\n"
     "  -d, --device LIST      also: all (every Vulkan device) or a list such as\n"
     "                         gpu:0,gpu:1,cpu: the same run on each in turn, then\n"
     "                         a side-by-side table\n"},
    {"serve", cli_serve,
     COMMON " host port allow-remote max-concurrent-requests batch-cost-tokens max-body-bytes timeout", 0,
     "usage: vkbert serve [options]\n"
     "An HTTP server on one loaded model, with the routes of Hugging Face's\n"
     "text-embeddings-inference: POST /predict ({\"inputs\": \"text\" or [texts],\n"
     "\"raw_scores\": bool, \"truncate\": bool}), POST /embed ({\"inputs\": ...,\n"
     "\"normalize\": bool, \"truncate\": bool}: one vector per text, pooled as\n"
     "vkbert embed; a base model serves /embed only), GET /health, /info, /metrics\n"
     "(Prometheus).  Requests of all clients are queued and scored together in\n"
     "length-grouped token-budget batches; SIGTERM/SIGINT finish the requests in\n"
     "flight and exit 0.  Prints \"listening on http://HOST:PORT\" on stderr.\n"
     "--device all or a list (gpu:0,gpu:1 or gpu,cpu): one /predict worker per\n"
     "device, each with its own token budget, taking batches from one queue\n"
     "(/embed runs on the first device).\n"
     "      --host ADDR        address to listen on (default 127.0.0.1)\n"
     "      --port N           TCP port (default 8080; 0: any free port)\n"
     "      --allow-remote     allow a --host that is not a loopback address (the\n"
     "                         server has no authentication and no TLS: put it\n"
     "                         behind a proxy, README \"Security\")\n"
     "      --max-concurrent-requests N  requests in flight before 429 (default 512)\n"
     "      --batch-cost-tokens N  cut the queued texts into the batches that\n"
     "                         minimise padded tokens + N per batch (default 256;\n"
     "                         0: as large as the token budget allows, as score)\n"
     "      --max-body-bytes N request bodies larger than N bytes get 413 (default\n"
     "                         4 MiB)\n"
     "      --timeout S        close connections idle or stalled for S seconds\n"
     "                         (default 30)\n"},
    {"devices", cli_devices, "json help quiet", 0,
     "usage: vkbert devices [--json]\n"
     "Lists the Vulkan devices, the features vkbert uses and what `vkbert tune`\n"
     "chose for each (per model shape and precision), or \"not tuned\".\n"},
    {"tune", cli_tune, "model device precision max-len batch-tokens quiet help shape seed json retune", 0,
     "usage: vkbert tune [options]\n"
     "Times every kernel configuration the Vulkan device can run at the model's\n"
     "shapes (the GEMMs QKV, attention output, FFN1 + GELU, FFN2 over tiled,\n"
     "tiled_s, texel; in fp16 on GPUs also tiled_cs, tiled_cl and, with tensor cores,\n"
     "coopmat, coopmat_s, coopmat_l; attention shared, subgroup, flash) with Vulkan\n"
     "timestamps (warm-up, then the median of 5), checks each against the CPU\n"
     "reference op (the tolerances of `vkbert check --ops`) and caches the\n"
     "fastest one that passes; a failing one is never chosen.  The cache is one\n"
     "JSON file per device, driver, vkbert version, model shape (token budget =\n"
     "--batch-tokens) and precision in $XDG_CACHE_HOME/vkbert (~/.cache/vkbert);\n"
     "an entry also serves smaller token budgets (one shrunk after out of memory);\n"
     "score, embed, eval, classify, bench and serve use it, and tune a hardware\n"
     "GPU briefly on first use (--no-tune: not).  VKB_GEMM / VKB_ATTENTION win\n"
     "over the cache.  Works on lavapipe when asked for (never automatically).\n"
     "Exits 1 when an op has no candidate that passes.\n"
     "      --shape distilbert-base  that model's shape instead of --model\n"
     "      --retune           time again even when the cache has the entry\n"
     "      --json             the result (the cache file's JSON) instead of the table\n"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void main_usage(FILE *f) {
    fprintf(f,
            "usage: vkbert COMMAND [options]\n"
            "DistilBERT text classification on any Vulkan GPU (or the CPU reference).\n\n"
            "commands:\n"
            "  score      score JSON lines / CSV / text / IMDB directories -> JSON lines\n"
            "  embed      sentence embeddings of the same inputs -> JSON lines, .npy or\n"
            "             .safetensors\n"
            "  classify   classify texts given as arguments (HF pipeline output)\n"
            "  eval       accuracy, F1, precision, recall and speed on labeled data\n"
            "  tokenize   print token ids of stdin lines\n"
            "  check      compare the GPU with the CPU reference, layer by layer\n"
            "  bench      speed, memory and per-kernel times of the forward pass\n"
            "  serve      HTTP server (text-embeddings-inference's /predict, /embed,\n"
            "             /health, /info, /metrics) with dynamic batching\n"
            "  devices    list Vulkan devices (and what tuning chose)\n"
            "  tune       time and check the kernel variants on a device; cache the best\n\n"
            "vkbert COMMAND --help for a command's options; vkbert --version.\n");
}

static int allowed(const command *c, const char *name) {
    size_t n = strlen(name);
    for (const char *p = c->allowed; (p = strstr(p, name)); p += n)
        if ((p == c->allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

/* ---- suggestions for unknown options --------------------------------------- */

static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64];
    for (size_t j = 0; j <= lb; j++) d[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = d[0];
        d[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = d[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
            d[j] = best;
            diag = up;
        }
    }
    return d[lb];
}

/* What Hugging Face (transformers pipelines, tokenizers) and ONNX Runtime
 * call vkbert's options (README: "Coming from Hugging Face or ONNX Runtime"). */
static const struct { const char *theirs, *ours, *note; } aliases[] = {
    {"batch-size", "batch-tokens", "a batch is a budget of padded tokens (B*L), not a count of texts"},
    {"per-device-eval-batch-size", "batch-tokens", "a batch is a budget of padded tokens (B*L)"},
    {"max-length", "max-len", NULL},
    {"max-seq-length", "max-len", NULL},
    {"model-max-length", "max-len", NULL},
    {"truncation", "max-len", "texts are always truncated to --max-len tokens, as truncation=True"},
    {"providers", "device", "cpu, gpu, gpu:N or auto"},
    {"provider", "device", "cpu, gpu, gpu:N or auto"},
    {"execution-provider", "device", "cpu, gpu, gpu:N or auto"},
    {"device-id", "device", "gpu:N"},
    {"return-all-scores", "top-k", "--top-k all"},
    {"function-to-apply", "all-scores", "scores are always the softmax"},
    {"model-name-or-path", "model", NULL},
    {"num-threads", "threads", NULL},
    {"intra-op-num-threads", "threads", NULL},
    {"torch-dtype", "precision", "fp32 or fp16"},
    {"dtype", "precision", "fp32 or fp16"},
    {"fp16", "precision", "--precision fp16"},
    {"half", "precision", "--precision fp16"},
    {"out", "output", NULL},
    {"output-file", "output", NULL},
    {"column", "text-column", NULL},
    {"text-field", "text-column", NULL},
    {"label-field", "label-column", NULL},
};

/* "unknown option" plus the closest option this command takes. */
static void unknown_option(const command *c, const char *arg) {
    char name[64];
    const char *p = arg;
    while (*p == '-') p++;
    size_t n = strcspn(p, "=");
    if (n >= sizeof name) n = sizeof name - 1;
    for (size_t i = 0; i < n; i++) name[i] = p[i] == '_' ? '-' : (char)tolower((unsigned char)p[i]);
    name[n] = 0;
    fprintf(stderr, "vkbert %s: unknown option '%s'", c->name, arg);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(name, aliases[i].theirs) && allowed(c, aliases[i].ours)) {
            fprintf(stderr, "; did you mean --%s?%s%s%s\n", aliases[i].ours,
                    aliases[i].note ? " (" : "", aliases[i].note ? aliases[i].note : "",
                    aliases[i].note ? ")" : "");
            return;
        }
    const char *best = NULL;
    int bd = 99;
    for (const struct option *lo = long_opts; lo->name; lo++) {
        if (!allowed(c, lo->name)) continue;
        int d = edit_distance(name, lo->name);
        /* also a misspelt prefix: --batch-token for --batch-tokens */
        if (strlen(name) >= 4 && !strncmp(lo->name, name, strlen(name)) && d > 1) d = 1;
        if (d < bd) { bd = d; best = lo->name; }
    }
    int limit = (int)strlen(name) / 3 > 2 ? (int)strlen(name) / 3 : 2;
    if (best && *name && bd <= limit) fprintf(stderr, "; did you mean --%s?\n", best);
    else fprintf(stderr, "\n");
}

static int valid_device(const char *d) {
    if (!strcmp(d, "cpu") || !strcmp(d, "gpu") || !strcmp(d, "auto")) return 1;
    if (strncmp(d, "gpu:", 4) || !d[4] || strlen(d + 4) > 6) return 0;
    return strspn(d + 4, "0123456789") == strlen(d + 4);
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "vkbert: --%s: expected an integer in [%d, %d], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { main_usage(stderr); return CLI_USAGE; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        main_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("vkbert %s (%s)\n", VKB_VERSION, VKB_GIT_COMMIT);
        return CLI_OK;
    }
    const command *c = NULL;
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) c = &commands[i];
    if (!c) {
        fprintf(stderr, "vkbert: unknown command '%s'\n", cmd);
        main_usage(stderr);
        return CLI_USAGE;
    }
    cli_opts o;
    memset(&o, 0, sizeof o);
    o.cmd = c->name;
    o.seed = 42;
    o.n_random = 8;
    o.batch_cost = -1;
    int idx = 0, ch;
    optind = 2;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "m:d:o:qh", long_opts, &idx)) != -1) {
        const char *name = NULL;
        for (const struct option *lo = long_opts; lo->name; lo++)
            if (lo->val == ch) name = lo->name;
        if (ch == '?' || ch == ':' || !name || !allowed(c, name)) {
            const char *arg = argv[optind - 1];
            const char *missing = NULL; /* a known option given without its argument */
            for (const struct option *lo = long_opts; lo->name && optopt; lo++)
                if (lo->val == optopt && lo->has_arg == required_argument) missing = lo->name;
            if ((ch == '?' || ch == ':') && missing && allowed(c, missing))
                fprintf(stderr, "vkbert %s: option --%s needs an argument\n", c->name, missing);
            else if ((ch == '?' || ch == ':') && missing)
                fprintf(stderr, "vkbert %s: option --%s does not apply to this command\n", c->name,
                        missing);
            else if ((ch == '?' || ch == ':') && optopt > 0 && optopt < 128 && !strchr("mdoqh", optopt))
                fprintf(stderr, "vkbert %s: unknown option '-%c'\n", c->name, optopt);
            else if (ch == '?' || !name)
                unknown_option(c, arg);
            else
                fprintf(stderr, "vkbert %s: option --%s does not apply to this command\n",
                        c->name, name);
            fprintf(stderr, "(vkbert %s --help lists its options)\n", c->name);
            return CLI_USAGE;
        }
        int bad = 0;
        switch (ch) {
        case O_MODEL: o.model = optarg; break;
        case O_DEVICE:
            o.device = optarg;
            if ((!strcmp(c->name, "score") || !strcmp(c->name, "embed") || !strcmp(c->name, "bench") ||
                 !strcmp(c->name, "serve")) &&
                (strchr(optarg, ',') || !strcmp(optarg, "all")))
                break; /* a device list: checked by cli_device_list */
            if (!valid_device(optarg)) {
                fprintf(stderr, "vkbert: --device: expected cpu, gpu, gpu:N or auto%s, got '%s'\n",
                        !strcmp(c->name, "score") || !strcmp(c->name, "bench") ||
                                !strcmp(c->name, "serve")
                            ? " (or all, or a list such as gpu:0,gpu:1)" : "", optarg);
                bad = 1;
            }
            break;
        case O_PRECISION:
            if (vkb_precision_parse(optarg, &o.precision)) {
                fprintf(stderr, "vkbert: --precision %s: expected auto, fp32, fp16 (GPU), bf16 or int8 (CPU)\n",
                        optarg);
                bad = 1;
            }
            break;
        case O_MAXLEN: bad = parse_int("max-len", optarg, 2, 1 << 20, &o.max_len); break;
        case O_BATCHTOK: bad = parse_int("batch-tokens", optarg, 2, 1 << 26, &o.batch_tokens); break;
        case O_THREADS: bad = parse_int("threads", optarg, 1, 1024, &o.threads); break;
        case O_WINDOW: bad = parse_int("window", optarg, 1, 1 << 24, &o.window); break;
        case O_RANDOM: bad = parse_int("random", optarg, 0, 100000, &o.n_random); break;
        case O_BALANCED: bad = parse_int("balanced", optarg, 2, INT_MAX, &o.balanced); break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-') {
                fprintf(stderr, "vkbert: --seed: expected a non-negative integer, got '%s'\n", optarg);
                bad = 1;
            }
            o.seed = v;
            o.seed_set = 1;
            break;
        }
        case O_TOPK:
            if (!strcmp(optarg, "all") || !strcasecmp(optarg, "none")) o.top_k = -1;
            else bad = parse_int("top-k", optarg, 1, 65536, &o.top_k);
            break;
        case O_SHARD: {
            int used = 0;
            if (sscanf(optarg, "%d/%d%n", &o.shard_i, &o.shard_n, &used) != 2 ||
                optarg[used] || o.shard_n < 1 || o.shard_i < 0 || o.shard_i >= o.shard_n) {
                fprintf(stderr, "vkbert: --shard: expected I/N with 0 <= I < N, got '%s'\n", optarg);
                bad = 1;
            }
            break;
        }
        case O_MAXDEVMEM: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            double mul = 1;
            if (*end == 'K' || *end == 'k') { mul = 1024.0; end++; }
            else if (*end == 'M' || *end == 'm') { mul = 1048576.0; end++; }
            else if (*end == 'G' || *end == 'g') { mul = 1073741824.0; end++; }
            if (errno || *end || end == optarg || !(v * mul >= 1) || v * mul > 1e18) {
                fprintf(stderr, "vkbert: --max-device-mem: expected BYTES or NK/NM/NG, got '%s'\n",
                        optarg);
                bad = 1;
            } else {
                o.max_device_mem = (uint64_t)(v * mul);
            }
            break;
        }
        case O_BATCH: bad = parse_int("batch", optarg, 1, 1 << 20, &o.batch); break;
        case O_SEQ: bad = parse_int("seq", optarg, 1, 1 << 20, &o.seq); break;
        case O_ITERS: bad = parse_int("iters", optarg, 1, 1 << 20, &o.iters); break;
        case O_ALLTOKENS: o.all_tokens = 1; break;
        case O_INPUT: o.input = optarg; break;
        case O_OPS: o.ops = 1; break;
        case O_HOST: o.host = optarg; break;
        case O_PORT: bad = parse_int("port", optarg, 0, 65535, &o.port); o.port_set = 1; break;
        case O_ALLOWREMOTE: o.allow_remote = 1; break;
        case O_MAXCONC: bad = parse_int("max-concurrent-requests", optarg, 1, 1 << 20, &o.max_concurrent); break;
        case O_BATCHCOST: bad = parse_int("batch-cost-tokens", optarg, 0, 1 << 24, &o.batch_cost); break;
        case O_MAXBODY: bad = parse_int("max-body-bytes", optarg, 64, 1 << 30, &o.max_body); break;
        case O_TIMEOUT: bad = parse_int("timeout", optarg, 1, 86400, &o.timeout_s); break;
        case O_POOLING:
            if (vkb_pooling_parse(optarg, &o.pooling) || o.pooling == VKB_POOL_NONE) {
                fprintf(stderr, "vkbert: --pooling: expected mean, cls or max, got '%s'\n", optarg);
                bad = 1;
            }
            break;
        case O_NORMALIZE: o.normalize = 1; break;
        case O_NONORMALIZE: o.normalize = -1; break;
        case O_NOTUNE: o.no_tune = 1; break;
        case O_RETUNE: o.retune = 1; break;
        case O_OUTFMT:
            if (!strcmp(optarg, "npy")) o.npy = CLI_NPY;
            else if (!strcmp(optarg, "safetensors")) o.npy = CLI_SAFETENSORS;
            else if (!strcmp(optarg, "jsonl")) o.npy = 0;
            else {
                fprintf(stderr, "vkbert: --output-format: expected jsonl, npy or safetensors, got '%s'\n", optarg);
                bad = 1;
            }
            break;
        case O_QUIET: o.quiet = 1; break;
        case O_HELP:
            print_help(stdout, c->usage);
            if (allowed(c, "model")) {
                printf("common options:\n");
                for (size_t i = 0; i < sizeof common_help / sizeof common_help[0]; i++)
                    if (allowed(c, common_help[i].name)) print_help(stdout, common_help[i].help);
            }
            return CLI_OK;
        case O_FORMAT:
            if (!strcmp(optarg, "jsonl")) o.format = VKB_FMT_JSONL;
            else if (!strcmp(optarg, "csv")) o.format = VKB_FMT_CSV;
            else if (!strcmp(optarg, "tsv")) o.format = VKB_FMT_TSV;
            else if (!strcmp(optarg, "text")) o.format = VKB_FMT_TEXT;
            else if (!strcmp(optarg, "auto")) o.format = VKB_FMT_AUTO;
            else { fprintf(stderr, "vkbert: --format: expected jsonl, csv, tsv, text or auto\n"); bad = 1; }
            break;
        case O_TEXTCOL: o.text_column = optarg; break;
        case O_LABELCOL: o.label_column = optarg; break;
        case O_ALLSCORES: o.all_scores = 1; break;
        case O_LOGITS: o.logits = 1; break;
        case O_NOSORT: o.no_sort = 1; break;
        case O_RESUME: o.resume = 1; break;
        case O_OUTPUT: o.output = optarg; break;
        case O_JSON:
            o.json = 1;
            o.json_file = optarg;
            if (optarg && strcmp(c->name, "eval")) {
                fprintf(stderr, "vkbert %s: --json takes no argument (got '%s')\n", c->name, optarg);
                bad = 1;
            }
            /* eval takes `--json FILE` (getopt only binds `--json=FILE`) */
            if (!optarg && !strcmp(c->name, "eval")) {
                if (optind >= argc) {
                    fprintf(stderr, "vkbert eval: --json needs a FILE ('-' for stdout)\n");
                    bad = 1;
                } else {
                    o.json_file = argv[optind++];
                }
            }
            break;
        case O_SHAPE:
            o.shape = optarg;
            {
                vkb_config shape;
                vkb_error se = {0};
                if (vkb_config_named(optarg, &shape, &se)) {
                    fprintf(stderr, "vkbert: --shape: %s\n", se.msg);
                    bad = 1;
                }
            }
            break;
        }
        if (bad) return CLI_USAGE;
    }
    o.args = argv + optind;
    o.nargs = argc - optind;
    if (c->max_args >= 0 && o.nargs > c->max_args) {
        fprintf(stderr, "vkbert %s: unexpected argument '%s'%s\n", c->name, o.args[c->max_args],
                !strcmp(c->name, "bench") ? " (bench --input FILE measures scoring a file)" : "");
        print_help(stderr, c->usage);
        return CLI_USAGE;
    }
    if (o.device && !strcmp(o.device, "cpu") && o.precision == VKB_PREC_FP16) {
        fprintf(stderr, "vkbert %s: --precision fp16 is GPU storage; --device cpu (the C reference) "
                        "computes in fp32\n", c->name);
        return CLI_USAGE;
    }
    if (o.resume && !o.output) {
        fprintf(stderr, "vkbert %s: --resume needs -o FILE\n", c->name);
        return CLI_USAGE;
    }
    o.embed = !strcmp(c->name, "embed");
    const char *fmt = o.npy == CLI_SAFETENSORS ? "safetensors" : "npy";
    if (o.npy && !o.output) {
        fprintf(stderr, "vkbert embed: --output-format %s needs -o FILE.%s (a matrix is not written to "
                        "stdout; the ids go to FILE.ids.jsonl beside it)\n", fmt, fmt);
        return CLI_USAGE;
    }
    if (o.npy && o.resume) {
        fprintf(stderr, "vkbert embed: --resume continues JSON lines output; an interrupted "
                        "--output-format %s run starts again without it\n", fmt);
        return CLI_USAGE;
    }
    cli_tune_dir(&o);
    int rc = c->run(&o);
    /* Under a low ulimit -v, OpenBLAS's threads retry their buffer
     * allocation for ever and exit() would wait for them: leave without the
     * exit handlers then (everything is written and flushed). */
    vkb_error be = {0};
    if (vkb_cpu_blas_room(&be)) {
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}
