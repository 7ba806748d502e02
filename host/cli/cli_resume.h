/* cli_resume.h - the run record beside `vkbert score -o FILE`:
 * FILE.vkbert.json names the options that shape FILE's lines, the shard,
 * fingerprints of the input (hashes of its first 2^k decoded records) and,
 * once the run has finished, the input's record count and FILE's line count.
 * --resume checks it before appending (item 15 of issue 11) and
 * tools/merge_shards.py checks shards with it (docs/scaling.md). */
#ifndef VKB_CLI_RESUME_H
#define VKB_CLI_RESUME_H
#include "cli.h"

#define RUN_MAX_CK 64

typedef struct cli_run {
    char *path, *tmp;          /* FILE.vkbert.json and its temporary */
    cli_buf opts;              /* JSON members: the options that shape the lines */
    uint64_t h, n;             /* running hash over the records read, records */
    uint64_t ck[RUN_MAX_CK];   /* ck[k]: hash of the first 2^k records */
    int n_ck;
    uint64_t old_ck[RUN_MAX_CK]; /* from the record being resumed */
    int old_n_ck;
    char *last_line;           /* --resume: FILE's last complete line */
    size_t last_len;
} cli_run;

/* Sets up the record for o->output (max_len: the effective --max-len). */
int cli_run_init(cli_run *r, const cli_opts *o, int max_len);
/* --resume of a FILE with `lines` complete lines: checks the record beside
 * it (it must exist and name the same options).  Prints and returns -1. */
int cli_run_check(cli_run *r, const cli_opts *o, uint64_t lines);
/* Counts one input record (every parsed record, all shards); checks it
 * against the resumed run's fingerprints and writes the record when a new
 * fingerprint is complete.  Prints and returns -1 on a mismatch. */
int cli_run_add(cli_run *r, const cli_opts *o, const vkb_record *rec);
/* Checks that FILE's last line was written for rec (the last record done). */
int cli_run_check_last(const cli_run *r, const cli_opts *o, const vkb_record *rec);
/* Writes the record (atomically); complete: with the counts. */
int cli_run_write(cli_run *r, const cli_opts *o, int complete, uint64_t records, uint64_t lines);
void cli_run_free(cli_run *r);
#endif
