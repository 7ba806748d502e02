/* vk_tune.c - `vkbert tune` (vkbert_vulkan.h documents the API): every
 * configuration the device can run of each tunable op, timed at the model's
 * real shapes and checked against the CPU reference op with the op matrix's
 * error measure and tolerances (vk_opcheck.c); the fastest one that passes
 * is chosen.  And the tuning cache: one JSON file per key, read back by the
 * backend (vkb_vk_tune_lookup) and the device report. */
#define _POSIX_C_SOURCE 200809L
#include "vk_internal.h"
#include "strbuf.h"
#include "clock.h"
#include "error.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TUNE_FORMAT 1

static const char *const op_names[VKB_TUNE_NOPS] = {"qkv", "out", "ffn1", "ffn2", "attention"};
const char *vkb_tune_op_name(vkb_tune_op op) {
    return (unsigned)op < VKB_TUNE_NOPS ? op_names[op] : "?";
}

void vkb_tune_shape_of(const vkb_model *m, int tokens, vkb_tune_shape *s) {
    const vkb_config *c = vkb_model_config(m);
    s->tokens = tokens > 0 ? tokens : vkb_defaults()->max_tokens;
    s->dim = c->dim;
    s->hidden = c->hidden_dim;
    s->heads = c->n_heads;
}

/* ---- the key and the file name ---- */

typedef struct tune_key {
    char device[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    unsigned vendor, devid, driver;
    int f16;
    vkb_tune_shape s;
} tune_key;

static void key_of(const vkb_vk_ctx *c, int f16, const vkb_tune_shape *s, tune_key *k) {
    memset(k, 0, sizeof *k);
    snprintf(k->device, sizeof k->device, "%s", c->props.deviceName);
    k->vendor = c->props.vendorID;
    k->devid = c->props.deviceID;
    k->driver = c->props.driverVersion;
    k->f16 = f16;
    k->s = *s;
    if (k->s.tokens <= 0) k->s.tokens = vkb_defaults()->max_tokens;
}

/* "<device>-<vendor>-<device id>-<driver>-" with the name reduced to
 * [A-Za-z0-9._] (the prefix `vkbert devices` lists a device's entries by) */
static void dev_prefix(const char *name, unsigned vendor, unsigned devid, unsigned driver,
                       char *out, size_t n) {
    char s[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < sizeof s && j < 48; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.';
        if (ok) s[j++] = ch;
        else if (j && s[j - 1] != '_') s[j++] = '_';
    }
    s[j] = 0;
    snprintf(out, n, "%.60s-%04x-%04x-%08x-", s, vendor, devid, driver);
}

static void key_path(const char *dir, const tune_key *k, char *out, size_t n) {
    char pre[160];
    dev_prefix(k->device, k->vendor, k->devid, k->driver, pre, sizeof pre);
    snprintf(out, n, "%s/%sv%s-t%d-d%d-h%d-n%d-%s.json", dir, pre, VKB_VERSION, k->s.tokens,
             k->s.dim, k->s.hidden, k->s.heads, k->f16 ? "fp16" : "fp32");
}

/* ---- the cache file: parse and check ---- */

static int gemm_parse(const char *s, vkb_gemm_variant *v) {
    return vkb_gemm_variant_parse(s, v) || *v == VKB_GEMM_AUTO ? -1 : 0;
}
static int attn_parse(const char *s, vkb_attn_variant *v) {
    return vkb_attn_variant_parse(s, v) || *v == VKB_ATTN_AUTO ? -1 : 0;
}

static int num_field(const cJSON *o, const char *name, double *v, char *why, size_t n) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(x)) { snprintf(why, n, "\"%s\" is not a number", name); return -1; }
    *v = x->valuedouble;
    return 0;
}
static int str_field(const cJSON *o, const char *name, const char **v, char *why, size_t n) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(x)) { snprintf(why, n, "\"%s\" is not a string", name); return -1; }
    *v = x->valuestring;
    return 0;
}

/* Parses and checks text against key k (k NULL: any key, which is then
 * returned in *got); fills r's ops.  0, or -1 with why. */
static int parse_entry(const char *text, const tune_key *k, tune_key *got, vkb_tune_result *r,
                       char *why, size_t n) {
    cJSON *root = cJSON_Parse(text);
    int rc = -1;
    if (n) why[0] = 0;
    if (!cJSON_IsObject(root)) { snprintf(why, n, "not a JSON object"); goto done; }
    double d, vend, devid, drv, tok, dim, hid, heads;
    const char *s, *dev, *ver, *prec;
    if (num_field(root, "format", &d, why, n)) goto done;
    if (d != TUNE_FORMAT) { snprintf(why, n, "format %g, expected %d", d, TUNE_FORMAT); goto done; }
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, "key");
    if (!cJSON_IsObject(key)) { snprintf(why, n, "\"key\" is not an object"); goto done; }
    if (str_field(key, "device", &dev, why, n) || num_field(key, "vendor_id", &vend, why, n) ||
        num_field(key, "device_id", &devid, why, n) || num_field(key, "driver_version", &drv, why, n) ||
        str_field(key, "vkbert_version", &ver, why, n) || num_field(key, "tokens", &tok, why, n) ||
        num_field(key, "dim", &dim, why, n) || num_field(key, "hidden", &hid, why, n) ||
        num_field(key, "heads", &heads, why, n) || str_field(key, "precision", &prec, why, n))
        goto done;
    tune_key g;
    memset(&g, 0, sizeof g);
    snprintf(g.device, sizeof g.device, "%s", dev);
    g.vendor = (unsigned)vend; g.devid = (unsigned)devid; g.driver = (unsigned)drv;
    g.f16 = strcmp(prec, "fp16") == 0;
    g.s = (vkb_tune_shape){(int)tok, (int)dim, (int)hid, (int)heads};
    if (strcmp(ver, VKB_VERSION) != 0) {
        snprintf(why, n, "written by vkbert %.20s, this is %s", ver, VKB_VERSION);
        goto done;
    }
    if (k && (strcmp(g.device, k->device) || g.vendor != k->vendor || g.devid != k->devid ||
              g.driver != k->driver || g.f16 != k->f16 || (!g.f16 && strcmp(prec, "fp32")) ||
              memcmp(&g.s, &k->s, sizeof g.s))) {
        snprintf(why, n, "its key (device, driver, shape, precision) is another one's");
        goto done;
    }
    if (got) *got = g;
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(root, "ops");
    if (!cJSON_IsObject(ops)) { snprintf(why, n, "\"ops\" is not an object"); goto done; }
    for (int i = 0; i < VKB_TUNE_NOPS; i++) {
        vkb_tune_op_result *o = &r->ops[i];
        memset(o, 0, sizeof *o);
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(ops, op_names[i]);
        if (!cJSON_IsObject(op)) { snprintf(why, n, "op \"%s\" missing or not an object", op_names[i]); goto done; }
        if (str_field(op, "shape", &s, why, n)) goto done;
        snprintf(o->shape, sizeof o->shape, "%s", s);
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(op, "chosen");
        if (!cJSON_IsNull(ch) && !cJSON_IsString(ch)) {
            snprintf(why, n, "%s: \"chosen\" is neither a string nor null", op_names[i]);
            goto done;
        }
        const cJSON *cands = cJSON_GetObjectItemCaseSensitive(op, "candidates");
        if (!cJSON_IsArray(cands)) { snprintf(why, n, "%s: \"candidates\" is not an array", op_names[i]); goto done; }
        const cJSON *c;
        int chosen_ok = cJSON_IsNull(ch);
        cJSON_ArrayForEach(c, cands) {
            if (o->ncand >= VKB_TUNE_MAX_CAND) { snprintf(why, n, "%s: too many candidates", op_names[i]); goto done; }
            vkb_tune_cand *t = &o->cand[o->ncand++];
            const cJSON *pass = cJSON_GetObjectItemCaseSensitive(c, "pass");
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(c, "error");
            if (!cJSON_IsObject(c) || str_field(c, "variant", &s, why, n) || num_field(c, "ms", &t->ms, why, n) ||
                num_field(c, "tolerance", &t->tolerance, why, n) || !cJSON_IsBool(pass) ||
                !(cJSON_IsNumber(err) || cJSON_IsNull(err))) {
                if (!why[0]) snprintf(why, n, "a candidate is not an object");
                size_t l = strlen(why);
                if (l + 1 < n) { /* name the op: "qkv: candidate: "ms" is not a number" */
                    char tmp[300];
                    snprintf(tmp, sizeof tmp, "%.200s", why);
                    snprintf(why, n, "%s: candidate: %s", op_names[i], tmp);
                }
                goto done;
            }
            vkb_gemm_variant gv;
            vkb_attn_variant av;
            if (i == VKB_TUNE_ATTENTION ? attn_parse(s, &av) : gemm_parse(s, &gv)) {
                snprintf(why, n, "%s: unknown variant \"%.20s\"", op_names[i], s);
                goto done;
            }
            snprintf(t->variant, sizeof t->variant, "%s", s);
            t->error = cJSON_IsNumber(err) ? err->valuedouble : INFINITY;
            t->pass = cJSON_IsTrue(pass) && t->error <= t->tolerance;
            const cJSON *note = cJSON_GetObjectItemCaseSensitive(c, "note");
            if (cJSON_IsString(note)) snprintf(t->note, sizeof t->note, "%s", note->valuestring);
            /* the choice must be a candidate that passed its check */
            if (cJSON_IsString(ch) && !strcmp(ch->valuestring, s) && t->pass) {
                chosen_ok = 1;
                snprintf(o->chosen, sizeof o->chosen, "%s", s);
                o->ms = t->ms;
            }
        }
        if (!chosen_ok) {
            snprintf(why, n, "%s: the chosen variant is not a candidate that passed its check", op_names[i]);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* Reads a whole (small) file; NULL with errno set. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t k = fread(b + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
        if (n + 1 >= cap) {
            if (cap > (1u << 20)) { free(b); b = NULL; errno = EFBIG; break; } /* no cache file is this big */
            char *nb = realloc(b, cap * 2);
            if (!nb) { free(b); b = NULL; break; }
            b = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (b && bad) { free(b); errno = EIO; return NULL; }
    if (b) b[n] = 0;
    return b;
}

/* Does entry key g serve key k: the same device, vendor and device id,
 * driver, precision and model dims (dim, hidden, heads), and a token budget
 * at least k's?  (The vkbert version was checked by parse_entry.) */
static int serves(const tune_key *g, const tune_key *k) {
    return !strcmp(g->device, k->device) && g->vendor == k->vendor && g->devid == k->devid &&
           g->driver == k->driver && g->f16 == k->f16 && g->s.dim == k->s.dim &&
           g->s.hidden == k->s.hidden && g->s.heads == k->s.heads && g->s.tokens >= k->s.tokens;
}

/* The entry of dir that serves key k other than its own file (the rule in
 * vkbert_vulkan.h): among the files of k's device prefix and precision that
 * parse and serve k, the one tuned at the smallest token budget.  0 with r
 * filled, *got its key and path its file; -1 when there is none. */
static int find_covering(const char *dir, const tune_key *k, vkb_tune_result *r, tune_key *got,
                         char *path, size_t n) {
    char pre[160], suf[32];
    dev_prefix(k->device, k->vendor, k->devid, k->driver, pre, sizeof pre);
    snprintf(suf, sizeof suf, "-%s.json", k->f16 ? "fp16" : "fp32");
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t pl = strlen(pre), sl = strlen(suf);
    int best = -1;
    char best_name[512] = "";
    struct dirent *de;
    vkb_tune_result *tmp = calloc(1, sizeof *tmp);
    while (tmp && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < pl + sl || l >= sizeof best_name || strncmp(de->d_name, pre, pl) ||
            strcmp(de->d_name + l - sl, suf))
            continue;
        char p[1400], why[300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        char *text = slurp(p);
        tune_key g;
        int ok = text && parse_entry(text, NULL, &g, tmp, why, sizeof why) == 0 && serves(&g, k);
        free(text);
        if (ok && (best < 0 || g.s.tokens < best)) {
            best = g.s.tokens;
            snprintf(best_name, sizeof best_name, "%s", de->d_name);
        }
    }
    closedir(d);
    free(tmp);
    if (best < 0) return -1;
    snprintf(path, n, "%s/%s", dir, best_name);
    char *text = slurp(path), why[300];
    int rc = text && parse_entry(text, NULL, got, r, why, sizeof why) == 0 && serves(got, k) ? 0 : -1;
    free(text);
    return rc;
}

/* ---- the result as JSON ---- */

static void fill_key(vkb_tune_result *r, const tune_key *k) {
    snprintf(r->device, sizeof r->device, "%s", k->device);
    r->vendor_id = k->vendor;
    r->device_id = k->devid;
    r->driver_version = k->driver;
    snprintf(r->version, sizeof r->version, "%s", VKB_VERSION);
    snprintf(r->precision, sizeof r->precision, "%s", k->f16 ? "fp16" : "fp32");
    r->shape = k->s;
}

int vkb_tune_json(const vkb_tune_result *r, char **out, vkb_error *err) {
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    cJSON_AddNumberToObject(root, "format", TUNE_FORMAT);
    cJSON *k = cJSON_AddObjectToObject(root, "key");
    cJSON_AddStringToObject(k, "device", r->device);
    cJSON_AddNumberToObject(k, "vendor_id", r->vendor_id);
    cJSON_AddNumberToObject(k, "device_id", r->device_id);
    cJSON_AddNumberToObject(k, "driver_version", r->driver_version);
    cJSON_AddStringToObject(k, "vkbert_version", r->version);
    cJSON_AddNumberToObject(k, "tokens", r->shape.tokens);
    cJSON_AddNumberToObject(k, "dim", r->shape.dim);
    cJSON_AddNumberToObject(k, "hidden", r->shape.hidden);
    cJSON_AddNumberToObject(k, "heads", r->shape.heads);
    cJSON_AddStringToObject(k, "precision", r->precision);
    cJSON_AddNumberToObject(root, "seconds", r->seconds);
    cJSON *ops = cJSON_AddObjectToObject(root, "ops");
    for (int i = 0; i < VKB_TUNE_NOPS; i++) {
        const vkb_tune_op_result *o = &r->ops[i];
        cJSON *op = cJSON_AddObjectToObject(ops, op_names[i]);
        cJSON_AddStringToObject(op, "shape", o->shape);
        if (o->chosen[0]) cJSON_AddStringToObject(op, "chosen", o->chosen);
        else cJSON_AddNullToObject(op, "chosen");
        cJSON_AddNumberToObject(op, "ms", o->chosen[0] ? o->ms : -1);
        cJSON *cands = cJSON_AddArrayToObject(op, "candidates");
        for (int j = 0; j < o->ncand; j++) {
            const vkb_tune_cand *t = &o->cand[j];
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "variant", t->variant);
            cJSON_AddNumberToObject(c, "ms", t->ms);
            if (isfinite(t->error)) cJSON_AddNumberToObject(c, "error", t->error);
            else cJSON_AddNullToObject(c, "error");
            cJSON_AddNumberToObject(c, "tolerance", t->tolerance);
            cJSON_AddBoolToObject(c, "pass", t->pass);
            if (t->note[0]) cJSON_AddStringToObject(c, "note", t->note);
            cJSON_AddItemToArray(cands, c);
        }
    }
    *out = cJSON_Print(root);
    cJSON_Delete(root);
    return *out ? 0 : vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
}

/* mkdir -p */
static int make_dirs(const char *dir) {
    char p[1024];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* Writes r to r->path through a temporary file and a rename. */
static int write_entry(const char *dir, vkb_tune_result *r, char *why, size_t n) {
    char *text = NULL;
    vkb_error e = {0};
    if (vkb_tune_json(r, &text, &e)) { snprintf(why, n, "%.300s", e.msg); return -1; }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", r->path, (long)getpid());
    int rc = -1;
    FILE *f = NULL;
    if (make_dirs(dir)) snprintf(why, n, "cannot create %.300s: %s", dir, strerror(errno));
    else if (!(f = fopen(tmp, "wb"))) snprintf(why, n, "cannot write %.300s: %s", tmp, strerror(errno));
    else {
        size_t len = strlen(text);
        int bad = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
        bad |= fclose(f) != 0;
        if (bad) snprintf(why, n, "cannot write %.300s: %s", tmp, strerror(errno));
        else if (rename(tmp, r->path)) snprintf(why, n, "cannot rename %.300s: %s", tmp, strerror(errno));
        else rc = 0;
        if (rc) remove(tmp);
    }
    free(text);
    return rc;
}

/* ---- timing and checking ---- */

typedef struct rng { uint64_t s; } rng;
static float *rnd(rng *r, size_t n, float scale, int f16) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++) {
        r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
        x[i] = scale * (float)((double)(r->s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        if (f16) x[i] = vkb_f16_to_f32(vkb_f32_to_f16(x[i]));
    }
    return x;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Is "op:variant" one of the test hook's targets (a comma-separated list)? */
static int poisoned(const vkb_tune_opts *o, int op, const char *variant) {
    char want[48];
    int n = snprintf(want, sizeof want, "%s:%s", op_names[op], variant);
    for (const char *p = o->test_fail; p && *p;) {
        const char *q = strchr(p, ',');
        int len = q ? (int)(q - p) : (int)strlen(p);
        if (len == n && !strncmp(p, want, (size_t)n)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

typedef struct tune_run {
    vkb_vk_ctx *c;
    const vkb_tune_opts *o;
    int f16, warmup, repeats;
    vkb_vk_kernels k;          /* every GEMM pipeline the device can run */
    int have_coop;
} tune_run;

/* rows checked: all when M <= 128, else the first and last 64 */
static int check_rows(int M, int i) { return M <= 128 ? i : i < 64 ? i : M - 128 + i; }

static int tune_gemm(tune_run *t, int op, int M, int N, int K, vkb_act act, int res,
                     vkb_tune_op_result *r, vkb_error *err) {
    int f16 = t->f16, nchk = M <= 128 ? M : 128, rounds = t->warmup + t->repeats;
    snprintf(r->shape, sizeof r->shape, "M=%d N=%d K=%d%s%s", M, N, K,
             act == VKB_ACT_GELU ? " gelu" : "", res ? " +res" : "");
    rng g = {0x9E3779B97F4A7C15ull ^ (uint64_t)(op + 1) * 0xD1B54A32D192ED03ull};
    float *X = rnd(&g, (size_t)M * K, 1.0f, f16), *W = rnd(&g, (size_t)N * K, 1.0f, f16);
    float *b = rnd(&g, (size_t)N, 1.0f, f16), *R = res ? rnd(&g, (size_t)M * N, 1.0f, f16) : NULL;
    float *Y = malloc((size_t)M * N * sizeof *Y), *Xs = malloc((size_t)nchk * K * sizeof *Xs);
    float *ref = malloc((size_t)nchk * N * sizeof *ref), *got = malloc((size_t)nchk * N * sizeof *got);
    double *ms = malloc((size_t)rounds * sizeof *ms);
    int rc = 0;
    if (!X || !W || !b || (res && !R) || !Y || !Xs || !ref || !got || !ms) {
        rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
        goto done;
    }
    /* the reference on the checked rows (fp64 accumulation), + residual */
    for (int i = 0; i < nchk; i++)
        memcpy(Xs + (size_t)i * K, X + (size_t)check_rows(M, i) * K, (size_t)K * sizeof *X);
    vkb_cpu_linear(Xs, W, b, ref, nchk, N, K, act, 1, 0);
    for (int i = 0; res && i < nchk; i++)
        for (int j = 0; j < N; j++) ref[(size_t)i * N + j] += R[(size_t)check_rows(M, i) * N + j];
    static const vkb_gemm_variant cands[] = {VKB_GEMM_TILED, VKB_GEMM_TILED_S, VKB_GEMM_TEXEL,
                                             VKB_GEMM_TILED_CS, VKB_GEMM_TILED_CL, VKB_GEMM_COOPMAT,
                                             VKB_GEMM_COOPMAT_S, VKB_GEMM_COOPMAT_L};
    double tol = vkb_vk_op_tolerance("linear", K, f16);
    for (size_t ci = 0; ci < sizeof cands / sizeof cands[0] && r->ncand < VKB_TUNE_MAX_CAND; ci++) {
        vkb_gemm_variant v = cands[ci];
        if (v == VKB_GEMM_TEXEL && !vkb_vk_texel_ok(K, K)) continue;
        /* only what the device can run: coopmat where its pipelines exist
         * (coopmat_l: where its tile fits the shared memory), the twins in fp16 */
        if (vkb_vk_gemm_is_coop(v) && !t->have_coop) continue;
        if (v != VKB_GEMM_TEXEL && !vkb_vk_gemm_pipe(&t->k, v, M, N)) continue;
        vkb_tune_cand *cd = &r->cand[r->ncand++];
        snprintf(cd->variant, sizeof cd->variant, "%s", vkb_gemm_variant_name(v));
        cd->tolerance = tol;
        cd->ms = -1;
        cd->error = INFINITY;
        vkb_vk_gemm_case gc = {M, N, K, K, act, 0, R};
        vkb_error e = {0};
        if (vkb_vk_gemm_time(t->c, &t->k, v, &gc, X, W, b, Y, rounds, ms, &e)) {
            snprintf(cd->note, sizeof cd->note, "%.150s", e.msg);
            continue;
        }
        cd->ms = median(ms + t->warmup, t->repeats);
        for (int i = 0; i < nchk; i++)
            memcpy(got + (size_t)i * N, Y + (size_t)check_rows(M, i) * N, (size_t)N * sizeof *Y);
        if (poisoned(t->o, op, cd->variant)) got[0] += 1.0f; /* TEST HOOK (vkb_tune_opts.test_fail) */
        cd->error = vkb_vk_norm_error(got, ref, (size_t)nchk * N, 0);
        cd->pass = cd->error <= tol;
    }
done:
    free(X); free(W); free(b); free(R); free(Y); free(Xs); free(ref); free(got); free(ms);
    return rc;
}

static int tune_attention(tune_run *t, int T, int D, int H, vkb_tune_op_result *r, vkb_error *err) {
    int f16 = t->f16, hd = D / H, L = T < 128 ? T : 128, B = T / L, rounds = t->warmup + t->repeats;
    int Bc = B < 4 ? B : 4; /* sequences checked */
    snprintf(r->shape, sizeof r->shape, "B=%d L=%d H=%d hd=%d", B, L, H, hd);
    size_t n = (size_t)B * L * D, nc = (size_t)Bc * L * D;
    rng g = {0x2545F4914F6CDD1Dull};
    float *q = rnd(&g, n, 2.0f, f16), *k = rnd(&g, n, 2.0f, f16), *v = rnd(&g, n, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(nc * sizeof *ref);
    int32_t *lens = malloc((size_t)B * sizeof *lens);
    double *ms = malloc((size_t)rounds * sizeof *ms);
    int rc = 0;
    if (!q || !k || !v || !y || !ref || !lens || !ms) { rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); goto done; }
    /* full, half and short sequences, as length-grouped batches have */
    for (int b = 0; b < B; b++) lens[b] = b % 3 == 0 ? L : b % 3 == 1 ? (L + 1) / 2 : (L + 3) / 4;
    if (vkb_cpu_attention(q, k, v, ref, Bc, L, H, hd, lens, 1, 0)) { rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); goto done; }
    static const vkb_attn_variant cands[] = {VKB_ATTN_SHARED, VKB_ATTN_SUBGROUP, VKB_ATTN_FLASH};
    double tol = vkb_vk_op_tolerance("attention", 0, f16);
    for (size_t ci = 0; ci < sizeof cands / sizeof cands[0]; ci++) {
        vkb_attn_variant a = cands[ci];
        if (a == VKB_ATTN_SUBGROUP && !t->c->caps.sg_shuffle) continue;
        vkb_tune_cand *cd = &r->cand[r->ncand++];
        snprintf(cd->variant, sizeof cd->variant, "%s", vkb_attn_variant_name(a));
        cd->tolerance = tol;
        cd->ms = -1;
        cd->error = INFINITY;
        vkb_error e = {0};
        if (vkb_vk_attention_time(t->c, f16, a, q, k, v, y, B, L, H, hd, lens, rounds, ms, &e)) {
            snprintf(cd->note, sizeof cd->note, "%.150s", e.msg);
            continue;
        }
        cd->ms = median(ms + t->warmup, t->repeats);
        if (poisoned(t->o, VKB_TUNE_ATTENTION, cd->variant)) y[0] += 1.0f; /* TEST HOOK */
        double er = 0;
        for (int b = 0; b < Bc; b++)
            for (int p = 0; p < lens[b]; p++) {
                size_t o = ((size_t)b * L + p) * D;
                er = vkb_vk_norm_error(y + o, ref + o, (size_t)D, er);
            }
        cd->error = er;
        cd->pass = er <= tol;
    }
done:
    free(q); free(k); free(v); free(y); free(ref); free(lens); free(ms);
    return rc;
}

static void choose(vkb_tune_op_result *r) {
    r->chosen[0] = 0;
    r->ms = -1;
    for (int j = 0; j < r->ncand; j++) {
        const vkb_tune_cand *c = &r->cand[j];
        if (c->pass && c->ms >= 0 && (!r->chosen[0] || c->ms < r->ms)) { /* never a failed one */
            snprintf(r->chosen, sizeof r->chosen, "%s", c->variant);
            r->ms = c->ms;
        }
    }
}

static int run_tuning(vkb_vk_ctx *c, const vkb_tune_opts *o, int f16, const tune_key *key,
                      vkb_tune_result *r, vkb_error *err) {
    tune_run t = {.c = c, .o = o, .f16 = f16};
    t.warmup = o->warmup > 0 ? o->warmup : 1;
    t.repeats = o->repeats > 0 ? o->repeats : 5;
    const vkb_tune_shape *s = &key->s;
    /* kernels with every GEMM pipeline the device can run: tiled, tiled_s,
     * texel; in fp16 the twins tiled_cs, tiled_cl (+ coopmat, coopmat_s,
     * coopmat_l) */
    vkb_vk_policy pol;
    vkb_vulkan_opts vo = {.gemm = VKB_GEMM_TILED_S, .attention = VKB_ATTN_SHARED};
    if (vkb_vk_policy_for_ctx(c, f16 ? VKB_PREC_FP16 : VKB_PREC_FP32, &vo, &pol, err)) return -1;
    if (vkb_vk_kernels_create(c, &pol, s->dim / s->heads, &t.k, err)) return -1;
    int rc = 0;
    /* the twins: on GPUs (on CPU implementations they are the op matrix's
     * check of the coopmat tiles, never faster than texel there, and their
     * cold compile would only lengthen tuning: llvmpipe ~10 s) */
    static const vkb_gemm_variant twins[2] = {VKB_GEMM_TILED_CS, VKB_GEMM_TILED_CL};
    for (int i = 0; f16 && !c->caps.is_cpu && i < 2; i++) {
        vkb_vulkan_opts to = {.gemm = twins[i]};
        vkb_vk_policy tp;
        vkb_error e = {0};
        if (vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, &to, &tp, &e) == 0 &&
            vkb_vk_gemm_pipe_ensure(c, &t.k, twins[i], &e) == 0)
            continue;
        size_t l = strlen(r->note);
        snprintf(r->note + l, sizeof r->note - l, "%s%s GEMM not a candidate: %.200s", l ? "; " : "",
                 vkb_gemm_variant_name(twins[i]), e.msg);
    }
    if (c->caps.coop_ok && f16) {
        vkb_error e = {0};
        t.have_coop = vkb_vk_coopmat_pipes_create(c, &t.k, &e) == 0;
        if (!t.have_coop)
        {
            size_t l = strlen(r->note);
            snprintf(r->note + l, sizeof r->note - l, "%scoopmat GEMM not a candidate: %.300s",
                     l ? "; " : "", e.msg);
        } else if (!t.k.gemm_coop_l.pipe) {
            size_t l = strlen(r->note);
            snprintf(r->note + l, sizeof r->note - l, "%scoopmat_l GEMM not a candidate: needs %u bytes "
                     "of shared memory, the device has %u", l ? "; " : "",
                     vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1), c->props.limits.maxComputeSharedMemorySize);
        }
    }
    double t0 = vkb_now_s();
    int T = s->tokens, D = s->dim, Hd = s->hidden;
    rc = rc || tune_gemm(&t, VKB_TUNE_QKV, T, 3 * D, D, VKB_ACT_NONE, 0, &r->ops[VKB_TUNE_QKV], err);
    rc = rc || tune_gemm(&t, VKB_TUNE_OUT, T, D, D, VKB_ACT_NONE, 1, &r->ops[VKB_TUNE_OUT], err);
    rc = rc || tune_gemm(&t, VKB_TUNE_FFN1, T, Hd, D, VKB_ACT_GELU, 0, &r->ops[VKB_TUNE_FFN1], err);
    rc = rc || tune_gemm(&t, VKB_TUNE_FFN2, T, D, Hd, VKB_ACT_NONE, 1, &r->ops[VKB_TUNE_FFN2], err);
    rc = rc || tune_attention(&t, T, D, s->heads, &r->ops[VKB_TUNE_ATTENTION], err);
    vkb_vk_kernels_destroy(c, &t.k);
    for (int i = 0; !rc && i < VKB_TUNE_NOPS; i++) choose(&r->ops[i]);
    r->seconds = vkb_now_s() - t0;
    return rc;
}

int vkb_tune(const vkb_tune_opts *o, vkb_tune_result *r, vkb_error *err) {
    memset(r, 0, sizeof *r);
    const vkb_tune_shape *s = &o->shape;
    if (s->dim < 1 || s->heads < 1 || s->hidden < 1 || s->dim % s->heads || s->tokens < 0 ||
        s->tokens > (1 << 24) || s->dim > 65536 || s->hidden > 262144)
        return vkb_fail(err, "tune: bad model shape (tokens %d, dim %d, hidden %d, heads %d)",
                        s->tokens, s->dim, s->hidden, s->heads);
    const char *dev = o->device ? o->device : "gpu";
    /* The key, the precision and the cache entry from the physical device
     * alone (no logical device: a cached or skipped run costs little). */
    vkb_vk_ctx q;
    memset(&q, 0, sizeof q);
    int rc = vkb_vk_instance_create(0, &q, err) || vkb_vk_pick_device(&q, dev, err);
    vkb_vk_policy pol;
    tune_key key;
    if (!rc) {
        uint32_t n_ext = 0;
        free(vkb_vk_query_features(q.pdev, &q.feat, &n_ext));
        vkb_vk_caps_query(q.inst, q.pdev, &q.feat, &q.caps);
        r->is_cpu = q.caps.is_cpu;
        rc = vkb_vk_policy_for_ctx(&q, o->precision, NULL, &pol, err);
    }
    if (q.inst) vkDestroyInstance(q.inst, NULL);
    if (rc) return -1;
    key_of(&q, pol.f16, s, &key);
    fill_key(r, &key);
    if (o->cache_dir) key_path(o->cache_dir, &key, r->path, sizeof r->path);
    if (o->auto_mode && r->is_cpu) {
        r->skipped = 1; /* lavapipe & co: only an explicit `vkbert tune` */
        return 0;
    }
    if (o->cache_dir && !o->retune) {
        errno = 0;
        char *text = slurp(r->path);
        char why[400] = "";
        if (!text && errno != ENOENT)
            snprintf(r->note, sizeof r->note, "ignoring cache file %.400s: %s; tuning again", r->path,
                     strerror(errno ? errno : EIO));
        else if (text && parse_entry(text, &key, NULL, r, why, sizeof why))
            snprintf(r->note, sizeof r->note, "ignoring cache file %.300s: %.250s; tuning again", r->path, why);
        else if (text) {
            r->from_cache = 1;
            free(text);
            return 0;
        }
        /* no file of this budget: an entry tuned at a larger one serves it */
        tune_key g;
        char cpath[sizeof r->path];
        if (!text && find_covering(o->cache_dir, &key, r, &g, cpath, sizeof cpath) == 0) {
            snprintf(r->path, sizeof r->path, "%s", cpath);
            r->shape = g.s;
            r->from_cache = 1;
            return 0;
        }
        free(text);
        memset(r->ops, 0, sizeof r->ops);
    }
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create(dev, o->validation, &c, err)) return -1;
    rc = run_tuning(c, o, pol.f16, &key, r, err);
    if (!rc) rc = vkb_vk_ctx_check_validation(c, err);
    if (!rc && o->cache_dir) {
        char why[400];
        if (write_entry(o->cache_dir, r, why, sizeof why) == 0) r->written = 1;
        else {
            size_t l = strlen(r->note);
            snprintf(r->note + l, sizeof r->note - l, "%scache not written: %s", l ? "; " : "", why);
        }
    }
    vkb_vk_ctx_release_device(c);
    vkb_error e = {0};
    int leak = vkb_vk_ctx_check_validation(c, &e);
    vkb_vk_ctx_destroy(c);
    if (!rc && leak) return vkb_fail(err, "after tuning: %s", e.msg);
    return rc ? -1 : 0;
}

/* ---- what the backend and the device report read ---- */

static void tuned_of(const vkb_tune_result *r, vkb_vk_tuned *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 4; i++)
        if (r->ops[i].chosen[0] && gemm_parse(r->ops[i].chosen, &t->gemm[i])) t->gemm[i] = VKB_GEMM_AUTO;
    const char *a = r->ops[VKB_TUNE_ATTENTION].chosen;
    if (a[0] && attn_parse(a, &t->attn)) t->attn = VKB_ATTN_AUTO;
}

int vkb_vk_tune_lookup(const char *dir, const vkb_vk_ctx *c, int f16, const vkb_tune_shape *s,
                       vkb_vk_tuned *t) {
    memset(t, 0, sizeof *t);
    tune_key key, g;
    key_of(c, f16, s, &key);
    char path[1400];
    vkb_tune_result *r = calloc(1, sizeof *r);
    /* this budget's own file, or the entry tuned at the nearest larger budget */
    int rc = r ? find_covering(dir, &key, r, &g, path, sizeof path) : -1;
    if (!rc) {
        tuned_of(r, t);
        t->tokens = g.s.tokens;
    }
    free(r);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int vkb_vk_tune_describe(const char *dir, const VkPhysicalDeviceProperties *p, vkb_strbuf *sb,
                         cJSON *arr) {
    char pre[128];
    dev_prefix(p->deviceName, p->vendorID, p->deviceID, p->driverVersion, pre, sizeof pre);
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[256];
    int nn = 0, count = 0;
    struct dirent *de;
    size_t pl = strlen(pre);
    while ((de = readdir(d)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, pre, pl) || l < 5 || strcmp(de->d_name + l - 5, ".json")) continue;
        if (!(names[nn] = strdup(de->d_name))) break;
        nn++;
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    vkb_tune_result *r = calloc(1, sizeof *r);
    for (int i = 0; r && i < nn; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = slurp(path), why[300];
        tune_key g;
        memset(r, 0, sizeof *r);
        int ok = text && parse_entry(text, NULL, &g, r, why, sizeof why) == 0 &&
                 !strcmp(g.device, p->deviceName) && g.vendor == p->vendorID &&
                 g.devid == p->deviceID && g.driver == p->driverVersion;
        free(text);
        if (!ok) continue;
        count++;
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "tokens", g.s.tokens);
            cJSON_AddNumberToObject(o, "dim", g.s.dim);
            cJSON_AddNumberToObject(o, "hidden", g.s.hidden);
            cJSON_AddNumberToObject(o, "heads", g.s.heads);
            cJSON_AddStringToObject(o, "precision", g.f16 ? "fp16" : "fp32");
            cJSON *ch = cJSON_AddObjectToObject(o, "chosen");
            for (int k = 0; k < VKB_TUNE_NOPS; k++) {
                if (r->ops[k].chosen[0]) cJSON_AddStringToObject(ch, op_names[k], r->ops[k].chosen);
                else cJSON_AddNullToObject(ch, op_names[k]);
            }
            cJSON_AddStringToObject(o, "file", path);
            cJSON_AddItemToArray(arr, o);
        } else {
            vkb_sb_printf(sb, "  tuned           dim %d, hidden %d, heads %d, %d tokens, %s:",
                          g.s.dim, g.s.hidden, g.s.heads, g.s.tokens, g.f16 ? "fp16" : "fp32");
            for (int k = 0; k < VKB_TUNE_NOPS; k++)
                vkb_sb_printf(sb, " %s %s", op_names[k], r->ops[k].chosen[0] ? r->ops[k].chosen : "(none)");
            vkb_sb_printf(sb, "\n");
        }
    }
    free(r);
    for (int i = 0; i < nn; i++) free(names[i]);
    return count;
}
