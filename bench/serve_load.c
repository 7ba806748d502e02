/* serve_load.c - a light HTTP load generator for `vkbert serve`
 * (bench/serve_bench.py runs it): N clients, each a thread with one
 * keep-alive connection, send the request bodies of BODIES (one JSON body a
 * line; client c sends lines c, c+N, c+2N, ...) as POST PATH and wait for
 * each answer.  Blocking sockets, no parsing beyond the status line and
 * Content-Length, so the generator takes little CPU from a server on the same
 * cores (it reports its own CPU time so that the share can be stated).
 *
 * usage: serve_load PORT CLIENTS BODIES [PATH]
 * prints one line: requests=R errors=E seconds=S rps=X p50_ms=A p99_ms=B
 *                  cpu_s=C (user+system CPU of this process) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int port, id, nclients, nbodies;
    char **bodies;
    size_t *lens;
    const char *path;
    double *lat; /* [nbodies], by body index */
    int errors;
} client;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One response: its status, or -1; the body is read and dropped. */
static int read_response(int fd, char *buf, size_t cap) {
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= cap) return -1;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0) return -1;
        n += (size_t)k;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
    long clen = -1;
    for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
        if (!strncasecmp(h + 2, "content-length:", 15)) clen = strtol(h + 17, NULL, 10);
    if (clen < 0) return -1;
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < (size_t)clen) {
        ssize_t k = recv(fd, buf, cap - 1, 0);
        if (k <= 0) return -1;
        have += (size_t)k;
    }
    return have == (size_t)clen ? status : -1;
}

static void *client_main(void *arg) {
    client *c = arg;
    int fd = connect_to(c->port);
    size_t cap = 1 << 16;
    char *buf = malloc(cap), *req = NULL;
    size_t reqcap = 0;
    for (int i = c->id; i < c->nbodies; i += c->nclients) {
        size_t need = c->lens[i] + 256 + strlen(c->path);
        if (need > reqcap) {
            free(req);
            reqcap = need;
            req = malloc(reqcap);
        }
        int h = snprintf(req, reqcap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "application/json\r\nContent-Length: %zu\r\n\r\n", c->path, c->lens[i]);
        memcpy(req + h, c->bodies[i], c->lens[i]);
        double t0 = now_s();
        int st = -1;
        if (fd >= 0 && buf && !send_all(fd, req, (size_t)h + c->lens[i])) st = read_response(fd, buf, cap);
        c->lat[i] = now_s() - t0;
        if (st != 200) {
            c->errors++;
            if (st < 0) { /* reconnect */
                if (fd >= 0) close(fd);
                fd = connect_to(c->port);
            }
        }
    }
    if (fd >= 0) close(fd);
    free(buf);
    free(req);
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: serve_load PORT CLIENTS BODIES [PATH]\n");
        return 2;
    }
    int port = atoi(argv[1]), nc = atoi(argv[2]);
    const char *path = argc > 4 ? argv[4] : "/predict";
    FILE *f = fopen(argv[3], "r");
    if (!f || nc < 1) { perror(argv[3]); return 2; }
    char **bodies = NULL;
    size_t *lens = NULL;
    int nb = 0, capb = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t k;
    while ((k = getline(&line, &lcap, f)) > 0) {
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r')) k--;
        if (!k) continue;
        if (nb == capb) {
            capb = capb ? 2 * capb : 256;
            bodies = realloc(bodies, sizeof *bodies * (size_t)capb);
            lens = realloc(lens, sizeof *lens * (size_t)capb);
            if (!bodies || !lens) return 2;
        }
        bodies[nb] = strndup(line, (size_t)k);
        lens[nb++] = (size_t)k;
    }
    fclose(f);
    free(line);
    if (!nb) { fprintf(stderr, "serve_load: %s has no bodies\n", argv[3]); return 2; }
    double *lat = calloc((size_t)nb, sizeof *lat);
    client *cs = calloc((size_t)nc, sizeof *cs);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    if (!lat || !cs || !th) return 2;
    double t0 = now_s();
    for (int i = 0; i < nc; i++) {
        cs[i] = (client){port, i, nc, nb, bodies, lens, path, lat, 0};
        if (pthread_create(&th[i], NULL, client_main, &cs[i])) { perror("pthread_create"); return 2; }
    }
    int errors = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        errors += cs[i].errors;
    }
    double dt = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    qsort(lat, (size_t)nb, sizeof *lat, cmp_d);
    int i99 = (int)(nb * 0.99);
    if (i99 >= nb) i99 = nb - 1;
    printf("requests=%d errors=%d seconds=%.3f rps=%.3f p50_ms=%.1f p99_ms=%.1f cpu_s=%.3f\n", nb, errors, dt,
           nb / dt, lat[nb / 2] * 1e3, lat[i99] * 1e3, cpu);
    for (int i = 0; i < nb; i++) free(bodies[i]);
    free(bodies);
    free(lens);
    free(lat);
    free(cs);
    free(th);
    return errors ? 1 : 0;
}
