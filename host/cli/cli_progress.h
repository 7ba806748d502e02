/* cli_progress.h - the progress bar of `vkbert score` and `eval`: a thread
 * redraws it on stderr every 200 ms from the work actually done (items
 * scored, asked of done_fn), so it moves while the scorer works on a window
 * and never shows more than was done.  The total is estimated from how much
 * of the input has been read (bytes of regular files). */
#ifndef VKB_CLI_PROGRESS_H
#define VKB_CLI_PROGRESS_H
#include <stdint.h>

typedef struct cli_progress cli_progress;

/* total_units: input size in progress units (0: unknown, no bar, counts
 * only).  done_fn(ctx): items done so far.  Returns NULL when stderr is not
 * a terminal or quiet (then the other calls do nothing). */
cli_progress *cli_progress_start(int quiet, double total_units, uint64_t (*done_fn)(void *ctx),
                                 void *ctx);
/* The reader: `items` taken so far (each will count in done_fn once done)
 * came from `units` of the `total` units they come from; eof: all read. */
void cli_progress_read(cli_progress *p, uint64_t items, double units, double total, int eof);
/* Stops the thread and draws the last state (what was done, not 100%). */
void cli_progress_stop(cli_progress *p);
#endif
