/* cli_progress.c - see cli_progress.h. */
#define _GNU_SOURCE
#include "cli_progress.h"
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cli_progress {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double total, units, t0;
    uint64_t items;
    int eof;
    uint64_t (*done_fn)(void *ctx);
    void *ctx;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_dur(char *b, size_t n, double s) {
    if (s < 0 || !isfinite(s)) { snprintf(b, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(b, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(b, n, "%lds", t);
}

/* Caller holds mu. */
static void draw(cli_progress *p, int final) {
    uint64_t done = p->done_fn(p->ctx);
    double el = now_s() - p->t0, rate = el > 0 ? (double)done / el : 0;
    char line[200];
    /* expected items: all read at EOF, else extrapolated from the bytes read */
    double expect = p->eof ? (double)p->items
                  : (p->total > 0 && p->units > 0 ? (double)p->items * p->total / p->units : 0);
    if (expect > 0) {
        double frac = (double)done / expect;
        if (frac > 1) frac = 1;
        char eta[32];
        fmt_dur(eta, sizeof eta, frac > 0 && !final ? el * (1 - frac) / frac : -1);
        char bar[26];
        int fill = (int)(frac * 24);
        for (int i = 0; i < 24; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[24] = 0;
        snprintf(line, sizeof line, "\r[%s] %3.0f%%  %llu items  %.1f items/s  ETA %s   ", bar,
                 frac * 100, (unsigned long long)done, rate, final ? "-" : eta);
    } else {
        snprintf(line, sizeof line, "\r%llu items  %.1f items/s   ", (unsigned long long)done, rate);
    }
    fputs(line, stderr);
    if (final) fputs("\n", stderr);
    fflush(stderr);
}

static void *run(void *arg) {
    cli_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stop) draw(p, 0);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cli_progress *cli_progress_start(int quiet, double total_units, uint64_t (*done_fn)(void *ctx),
                                 void *ctx) {
    if (quiet || !isatty(2)) return NULL;
    cli_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->total = total_units;
    p->done_fn = done_fn;
    p->ctx = ctx;
    p->t0 = now_s();
    /* the drawing thread takes no signals: the main thread handles them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&p->th, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

void cli_progress_read(cli_progress *p, uint64_t items, double units, double total, int eof) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->total = total;
    p->items = items;
    p->units = units;
    p->eof = eof;
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_stop(cli_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_mutex_lock(&p->mu);
    draw(p, 1);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
