/* cli.h - shared pieces of the `vkbert` command line (host/cli*.c).  The
 * CLI is a thin client of libvkbert: option parsing, model/backend set-up,
 * output writing and signal handling live here, the work in the library. */
#ifndef VKB_CLI_H
#define VKB_CLI_H
#include "vkbert.h"
#include "strbuf.h"
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* VKB_VERSION: vkbert_backend.h (the library's version) */

enum { CLI_NPY = 1, CLI_SAFETENSORS = 2 }; /* cli_opts.npy: a float32 matrix + FILE.ids.jsonl */

typedef struct cli_opts {
    const char *cmd;
    const char *model;        /* NULL: the built-in model */
    const char *device;       /* NULL: gpu, falling back to cpu */
    vkb_precision precision;
    int max_len, batch_tokens, threads, window, quiet;
    vkb_in_format format;
    const char *text_column, *label_column;
    int all_scores, logits, no_sort, resume;
    const char *output;       /* -o FILE */
    const char *json_file;    /* eval --json FILE ("-" = stdout) */
    int json;                 /* devices --json */
    int balanced;             /* eval --balanced N */
    uint64_t seed;
    int seed_set;             /* --seed given */
    const char *shape;        /* check --shape distilbert-base */
    int n_random;             /* check: random id sequences */
    int shard_i, shard_n;     /* score --shard I/N (shard_n 0 = off) */
    uint64_t max_device_mem;  /* --max-device-mem BYTES (0 = no cap) */
    int batch, seq, iters;    /* bench --batch B --seq L --iters N */
    int all_tokens;           /* bench --all-tokens: the last layer on every token */
    const char *input;        /* bench --input FILE (end-to-end mode) */
    int top_k;                /* --top-k: 0 = not given, -1 = all labels */
    int ops;                  /* check --ops: the op test matrix (cli_check_ops.c) */
    /* serve (cli_serve.c) */
    const char *host;         /* --host ADDR (default 127.0.0.1) */
    int port, port_set;       /* --port N (0: any free port, printed) */
    int allow_remote;         /* --allow-remote: a non-loopback --host is allowed */
    int max_concurrent;       /* --max-concurrent-requests N (0 = default) */
    int batch_cost;           /* serve --batch-cost-tokens N (-1 = default) */
    int max_body;             /* --max-body-bytes N (0 = default) */
    int timeout_s;            /* --timeout S: idle/slow client connections (0 = default) */
    int embed;                /* `vkbert embed`: embeddings instead of scores */
    vkb_pooling pooling;      /* embed --pooling (NONE: the model's default, else mean) */
    int normalize;            /* embed --normalize */
    int npy;                  /* embed --output-format: 0 jsonl, CLI_NPY, CLI_SAFETENSORS */
    int no_tune;              /* --no-tune: no automatic tuning on first GPU use */
    int retune;               /* tune --retune: time again even when cached */
    char tune_dir[1024];      /* the tuning cache (cli_tune_dir); "" = none */
    char **args;              /* positional arguments */
    int nargs;
} cli_opts;

/* Set by the SIGINT handler (cli.c); read by the scorer and input readers. */
extern volatile sig_atomic_t vkb_cli_interrupted;
const volatile int *cli_interrupt_flag(void);
/* SIGINT/SIGTERM: the first sets vkb_cli_interrupted (to the signal), a
 * second ends the process. */
void cli_install_signals(void);
/* VKB_FAULT_AFTER_BATCHES=N (tests): the scorer's fault injection, forwards
 * after the first N fail as a lost device. */
void cli_fault_injection(vkb_scorer_opts *so);
/* vkb_input_opts.on_source for score/eval: "vkbert: reading F as FORMAT (by
 * extension)" on stderr unless --quiet; user is the cli_opts. */
void cli_on_source(void *user, const char *source, vkb_in_format fmt, const char *how,
                   const char *compression);
/* Exit status after an interrupt: 128 + the signal (130 SIGINT, 143 SIGTERM). */
int cli_interrupt_status(void);

/* Loads --model (or the built-in model); prints the error and returns NULL. */
vkb_model *cli_load_model(const cli_opts *o);
/* Backend options from the command line (device, precision, threads, token
 * budget, memory cap) and VKB_VALIDATION from the environment. */
void cli_backend_opts(const cli_opts *o, int max_len, vkb_backend_opts *bo);
/* Creates the backend for --device (default auto: a hardware Vulkan GPU if
 * there is one, else the CPU reference, with a note saying why); no fallback
 * when the device chosen fails: prints the error and returns NULL. */
/* Prints the backend's note (vkb_backend_note: e.g. a fallback to fp32) on
 * stderr unless --quiet. */
void cli_backend_note(const cli_opts *o, const vkb_backend *be);
vkb_backend *cli_open_backend(const cli_opts *o, const vkb_model *m, int fp64_accum,
                              int max_len);
/* Effective max length for a model: vkb_model_max_len (--max-len, or the
 * library's default clipped to the model's limits), with a note when
 * --max-len exceeds max_position_embeddings. */
int cli_max_len(const cli_opts *o, const vkb_model *m);
int cli_batch_tokens(const cli_opts *o, int max_len);
/* --device as a list: "all" (every Vulkan device) or DEV[,DEV...].  Returns
 * the count and fills out[] (at most max entries, strings owned by the
 * caller via *storage, free it); prints the error and returns -1. */
int cli_device_list(const char *spec, char **out, int max, char **storage);

/* Writes all of buf to fd (looping over partial writes and EINTR).  Returns
 * 0, or -1 with errno (EPIPE when the reader went away). */
int cli_write_all(int fd, const char *buf, size_t n);

/* A growable output line. */
typedef vkb_strbuf cli_buf; /* strbuf.h; the cb_* functions exit on out of memory */
void cb_puts(cli_buf *b, const char *s);
void cb_put(cli_buf *b, const char *s, size_t n);
void cb_printf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A float the way Python's repr prints it (shortest round-trip). */
void cb_float(cli_buf *b, double v);
void cb_json_str(cli_buf *b, const char *s);

/* Label index of a gold label (int index, label name case-insensitively, or
 * pos/neg/positive/negative for binary models); -1 when unknown. */
int cli_label_index(const vkb_config *c, const char *label);

int cli_tokenize(cli_opts *o);
int cli_score(cli_opts *o);
int cli_classify(cli_opts *o);
int cli_eval(cli_opts *o);
int cli_check(cli_opts *o);
int cli_check_ops(cli_opts *o); /* host/cli_check_ops.c: `vkbert check --ops` */
int cli_devices(cli_opts *o);
int cli_tune(cli_opts *o);    /* host/cli/cli_tune.c: `vkbert tune` */
/* The tuning cache directory into o->tune_dir: $XDG_CACHE_HOME/vkbert, else
 * ~/.cache/vkbert. */
void cli_tune_dir(cli_opts *o);
/* Before a backend opens on a hardware GPU: tunes (briefly) when the cache
 * has no entry for the device and model shape, unless --no-tune; notes on
 * stderr.  Never fails the command. */
void cli_auto_tune(const cli_opts *o, const vkb_model *m, const vkb_backend_opts *bo);
int cli_bench(cli_opts *o);   /* host/cli_bench.c */
int cli_serve(cli_opts *o);   /* host/cli/cli_serve.c: `vkbert serve` */

/* Exit statuses */
#define CLI_OK 0
#define CLI_FAILED 1     /* some input failed, or a check beyond tolerance */
#define CLI_USAGE 2
#define CLI_INTERRUPTED 130
#endif
