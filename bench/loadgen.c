/*
 * loadgen.c - a small HTTP/1.1 load generator for the Quiver benchmarks.
 *
 * N keep-alive connections, each driven by its own pthread, send request
 * bodies that are prepared in memory before the clock starts.  Bodies are
 * taken round-robin from a shared counter, so request i carries body
 * i % nbodies.  For every request the status line and Content-Length (or a
 * chunked body) are parsed and the latency is recorded; the result is one
 * JSON line: requests/s, items/s (points for upserts, queries for search),
 * p50/p95/p99 latency, errors.
 *
 * Bodies come from one of:
 *   --bodies FILE              newline-separated bodies (one per line), each
 *                              optionally prefixed by "<items>\t"
 *   --save-bodies FILE         with the f32 sources: write the bodies in that
 *                              format and exit (saves rebuilding big ones)
 *   --upsert-f32 FILE --dim D  upsert bodies of --batch points (ids from
 *                              --id-offset, a small payload) built from a raw
 *                              little-endian float32 matrix; --count limits rows;
 *                              --payloads FILE: row r's payload is line r of
 *                              FILE (one JSON object a line) instead
 *   --query-f32 FILE --dim D   query bodies: --batch 0 is the single form of
 *                              /points/query, --batch B >= 1 the /query/batch
 *                              form with B searches; --limit (10)
 * Floats are printed with %.9g (round-trips a float32).
 *
 * How long: --requests R (default: one pass over the bodies), or
 * --duration S with --min-requests M (stops after S seconds once at least M
 * requests are done; --requests then caps it).  --warmup W sends W requests
 * first that are not counted.  --dump FILE writes one response per body, one
 * per line in body order, from the body's first timed use (recall checks).
 *
 * Plain POSIX sockets, no external libraries:
 *   cc -O2 -pthread bench/loadgen.c -o bench/out/loadgen
 * Only for targets on this machine (loopback).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *data;
    size_t len;
    unsigned items; /* points or queries carried */
} body_t;

static const char *g_host = "127.0.0.1";
static int g_port = 6333;
static const char *g_method = "POST";
static const char *g_path = "/";
static int g_conns = 1;
static body_t *g_bodies;
static size_t g_nbodies;
static long g_requests = -1, g_min_requests = 0, g_warmup = 0;
static double g_duration = 0;
static const char *g_dump;
static char **g_dumped; /* per body: first response, length-prefixed */

static atomic_long g_next;   /* next request number */
static atomic_long g_errors; /* non-2xx or I/O failures */
static atomic_long g_done;   /* completed timed requests */
static atomic_long g_items;  /* items in completed timed requests */
static atomic_llong g_bytes; /* request bytes sent */
static atomic_int g_stop;
static double g_deadline;
static int g_first_status_err = 0;
static char g_err_sample[512];
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *m) {
    fprintf(stderr, "loadgen: %s\n", m);
    exit(2);
}

/* ---- growable string -------------------------------------------------------- */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("out of memory");
    b->cap = cap;
}
static void sb_add(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}
static void sb_float(sbuf *b, float f) {
    char t[32];
    int n = snprintf(t, sizeof t, "%.9g", (double)f);
    sb_add(b, t, (size_t)n);
}
static void sb_vec(sbuf *b, const float *v, size_t dim) {
    sb_add(b, "[", 1);
    for (size_t k = 0; k < dim; k++) {
        if (k) sb_add(b, ",", 1);
        sb_float(b, v[k]);
    }
    sb_add(b, "]", 1);
}

/* ---- body sources ------------------------------------------------------------- */
static float *read_f32(const char *path, size_t dim, size_t *rows) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open float32 file");
    struct stat st;
    fstat(fileno(f), &st);
    size_t n = (size_t)st.st_size / (dim * 4);
    float *m = malloc(n * dim * 4 + 1);
    if (!m || fread(m, 4, n * dim, f) != n * dim) die("cannot read float32 file");
    fclose(f);
    *rows = n;
    return m;
}

static void load_bodies_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open bodies file");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t bcap = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue;
        if (g_nbodies == bcap) {
            bcap = bcap ? bcap * 2 : 64;
            g_bodies = realloc(g_bodies, bcap * sizeof *g_bodies);
        }
        body_t *b = &g_bodies[g_nbodies++];
        char *p = line;
        b->items = 1;
        if (*p >= '0' && *p <= '9') { /* "<items>\t<body>" */
            char *tab = memchr(p, '\t', (size_t)n);
            if (tab) {
                b->items = (unsigned)strtoul(p, NULL, 10);
                n -= tab + 1 - p;
                p = tab + 1;
            }
        }
        b->data = malloc((size_t)n);
        memcpy(b->data, p, (size_t)n);
        b->len = (size_t)n;
    }
    free(line);
    fclose(f);
}

/* Lines of a JSON-lines file (the newline stripped), NULL-terminated. */
static char **read_lines(const char *path, size_t *nlines) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open payloads file");
    char **v = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
            if (!v) die("out of memory");
        }
        v[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (v) v[n] = NULL;
    *nlines = n;
    return v;
}

static void build_upserts(const char *path, size_t dim, size_t batch, size_t count, long id0,
                          const char *payloads) {
    size_t rows, npl = 0;
    float *m = read_f32(path, dim, &rows);
    if (count && count < rows) rows = count;
    char **pl = payloads ? read_lines(payloads, &npl) : NULL;
    if (pl && npl < rows) die("fewer payload lines than rows");
    static const char *tags[] = {"red", "green", "blue", "amber", "violet"};
    g_nbodies = (rows + batch - 1) / batch;
    g_bodies = calloc(g_nbodies, sizeof *g_bodies);
    for (size_t bi = 0; bi < g_nbodies; bi++) {
        sbuf b = {0};
        sb_str(&b, "{\"points\":[");
        size_t lo = bi * batch, hi = lo + batch < rows ? lo + batch : rows;
        for (size_t r = lo; r < hi; r++) {
            char t[160];
            long id = id0 + (long)r;
            if (pl) {
                snprintf(t, sizeof t, "%s{\"id\":%ld,\"payload\":", r > lo ? "," : "", id);
                sb_str(&b, t);
                sb_str(&b, pl[r]);
                sb_str(&b, ",\"vector\":");
            } else {
                snprintf(t, sizeof t,
                         "%s{\"id\":%ld,\"payload\":{\"tag\":\"%s\",\"group\":%ld,\"n\":%ld},"
                         "\"vector\":",
                         r > lo ? "," : "", id, tags[id % 5], id % 100, id);
                sb_str(&b, t);
            }
            sb_vec(&b, m + r * dim, dim);
            sb_str(&b, "}");
        }
        sb_str(&b, "]}");
        g_bodies[bi].data = b.p;
        g_bodies[bi].len = b.n;
        g_bodies[bi].items = (unsigned)(hi - lo);
    }
    free(m);
    for (size_t i = 0; i < npl; i++) free(pl[i]);
    free(pl);
}

static void build_queries(const char *path, size_t dim, size_t batch, size_t count, int limit) {
    size_t rows;
    float *m = read_f32(path, dim, &rows);
    if (count && count < rows) rows = count;
    size_t per = batch ? batch : 1;
    g_nbodies = (rows + per - 1) / per;
    g_bodies = calloc(g_nbodies, sizeof *g_bodies);
    char t[64];
    for (size_t bi = 0; bi < g_nbodies; bi++) {
        sbuf b = {0};
        size_t lo = bi * per, hi = lo + per < rows ? lo + per : rows;
        if (!batch) {
            sb_str(&b, "{\"query\":");
            sb_vec(&b, m + lo * dim, dim);
            snprintf(t, sizeof t, ",\"limit\":%d}", limit);
            sb_str(&b, t);
        } else {
            sb_str(&b, "{\"searches\":[");
            for (size_t r = lo; r < hi; r++) {
                sb_str(&b, r > lo ? ",{\"query\":" : "{\"query\":");
                sb_vec(&b, m + r * dim, dim);
                snprintf(t, sizeof t, ",\"limit\":%d}", limit);
                sb_str(&b, t);
            }
            sb_str(&b, "]}");
        }
        g_bodies[bi].data = b.p;
        g_bodies[bi].len = b.n;
        g_bodies[bi].items = (unsigned)(hi - lo);
    }
    free(m);
}

/* ---- connections ---------------------------------------------------------------- */
static int connect_to(void) {
    struct addrinfo hints = {0}, *ai;
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(g_host, port, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

typedef struct {
    int fd;
    char *buf; /* response buffer */
    size_t len, cap;
    double *lat;
    size_t nlat, latcap;
} conn_t;

static int send_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Reads more into c->buf; returns bytes read, 0 on EOF, -1 on error. */
static ssize_t fill(conn_t *c) {
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 1 << 20;
        c->buf = realloc(c->buf, c->cap);
        if (!c->buf) die("out of memory");
    }
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) c->len += (size_t)r;
        return r;
    }
}

static const char *find_hdr(const char *h, size_t hlen, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = h; p + nl < h + hlen; p++) {
        if ((p == h || p[-1] == '\n') && strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return p + nl + 1;
    }
    return NULL;
}

/* Reads one response; sets *status, *body and *blen (pointing into c->buf), and
 * *close_after.  Returns the bytes to consume from c->buf, or 0 on failure. */
static size_t read_response(conn_t *c, int *status, const char **body, size_t *blen,
                            int *close_after) {
    size_t hend = 0;
    for (;;) {
        char *e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e) {
            hend = (size_t)(e - c->buf) + 4;
            break;
        }
        if (fill(c) <= 0) return 0;
    }
    if (hend < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) return 0;
    *status = atoi(c->buf + 9);
    const char *cl = find_hdr(c->buf, hend, "Content-Length");
    const char *te = find_hdr(c->buf, hend, "Transfer-Encoding");
    const char *cn = find_hdr(c->buf, hend, "Connection");
    *close_after = cn && strncasecmp(cn + strspn(cn, " "), "close", 5) == 0;
    if (cl) {
        size_t n = (size_t)strtoull(cl, NULL, 10);
        while (c->len < hend + n)
            if (fill(c) <= 0) return 0;
        *body = c->buf + hend;
        *blen = n;
        return hend + n;
    }
    if (te && strcasestr(te, "chunked")) {
        /* de-chunk in place after the headers */
        size_t rd = hend, wr = hend;
        for (;;) {
            char *e;
            while (!(e = memmem(c->buf + rd, c->len - rd, "\r\n", 2)))
                if (fill(c) <= 0) return 0;
            size_t sz = (size_t)strtoull(c->buf + rd, NULL, 16);
            rd = (size_t)(e - c->buf) + 2;
            if (sz == 0) {
                while (!memmem(c->buf + rd, c->len - rd, "\r\n", 2))
                    if (fill(c) <= 0) return 0;
                rd = (size_t)((char *)memmem(c->buf + rd, c->len - rd, "\r\n", 2) - c->buf) + 2;
                break;
            }
            while (c->len < rd + sz + 2)
                if (fill(c) <= 0) return 0;
            memmove(c->buf + wr, c->buf + rd, sz);
            wr += sz;
            rd += sz + 2;
        }
        /* keep any pipelined leftovers (none: we do not pipeline) */
        *body = c->buf + hend;
        *blen = wr - hend;
        size_t left = c->len - rd;
        memmove(c->buf + wr, c->buf + rd, left);
        c->len = wr + left;
        return wr;
    }
    /* no length: body until close */
    while (fill(c) > 0) {
    }
    *body = c->buf + hend;
    *blen = c->len - hend;
    *close_after = 1;
    return c->len;
}

static void *worker(void *arg) {
    conn_t *c = arg;
    char hdr[512];
    for (;;) {
        if (atomic_load(&g_stop)) break;
        long i = atomic_fetch_add(&g_next, 1);
        long timed = i - g_warmup;
        if (g_requests >= 0 && timed >= g_requests) break;
        if (timed >= 0 && g_duration > 0 && now() > g_deadline && timed >= g_min_requests) {
            atomic_store(&g_stop, 1);
            break;
        }
        body_t *b = &g_bodies[(size_t)i % g_nbodies];
        int hl = snprintf(hdr, sizeof hdr,
                          "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                          g_method, g_path, g_host, g_port, b->len);
        double t0 = now();
        int ok = 0, status = 0, close_after = 0;
        const char *rb = NULL;
        size_t rlen = 0;
        for (int attempt = 0; attempt < 2 && !ok; attempt++) {
            if (c->fd < 0) c->fd = connect_to();
            if (c->fd < 0) break;
            struct iovec iov[2] = {{hdr, (size_t)hl}, {b->data, b->len}};
            c->len = 0;
            size_t used = 0;
            if (send_all(c->fd, iov, 2) == 0 &&
                (used = read_response(c, &status, &rb, &rlen, &close_after)) > 0) {
                ok = 1;
            } else {
                close(c->fd);
                c->fd = -1;
                if (attempt == 0 && c->len == 0) continue; /* stale keep-alive: retry once */
                break;
            }
            (void)used;
        }
        double dt = now() - t0;
        if (!ok || status < 200 || status >= 300) {
            atomic_fetch_add(&g_errors, 1);
            pthread_mutex_lock(&g_err_mu);
            if (!g_first_status_err) {
                g_first_status_err = ok ? status : -1;
                snprintf(g_err_sample, sizeof g_err_sample, "%.*s", (int)(rlen < 400 ? rlen : 400),
                         rb ? rb : "(no response)");
            }
            pthread_mutex_unlock(&g_err_mu);
        }
        if (timed >= 0) {
            if (c->nlat == c->latcap) {
                c->latcap = c->latcap ? c->latcap * 2 : 4096;
                c->lat = realloc(c->lat, c->latcap * sizeof(double));
            }
            c->lat[c->nlat++] = dt;
            atomic_fetch_add(&g_done, 1);
            if (ok && status >= 200 && status < 300) atomic_fetch_add(&g_items, b->items);
            atomic_fetch_add(&g_bytes, (long long)(b->len + (size_t)hl));
            size_t bi = (size_t)i % g_nbodies;
            if (g_dump && ok && !__atomic_load_n(&g_dumped[bi], __ATOMIC_ACQUIRE)) {
                /* length-prefixed copy, so the winner's length goes with its bytes */
                char *copy = malloc(sizeof(size_t) + rlen), *expect = NULL;
                memcpy(copy, &rlen, sizeof(size_t));
                memcpy(copy + sizeof(size_t), rb, rlen);
                if (!__atomic_compare_exchange_n(&g_dumped[bi], &expect, copy, 0, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
                    free(copy);
            }
        }
        if (close_after && c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    return NULL;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    fprintf(
        stderr,
        "usage: loadgen --port P [--host H] [--method M] --path PATH [--conns N]\n"
        "  (--bodies FILE | --upsert-f32 FILE --dim D [--batch 256] [--count N] [--id-offset K]\n"
        "   [--payloads FILE.jsonl]\n"
        "   | --query-f32 FILE --dim D [--batch B] [--count N] [--limit 10])\n"
        "  [--requests R] [--duration S --min-requests M] [--warmup W] [--dump FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *bodies = NULL, *upsert = NULL, *query = NULL, *save = NULL, *payloads = NULL;
    size_t dim = 0, batch = 256, count = 0;
    long id0 = 0;
    int limit = 10, batch_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--host"))
            g_host = v;
        else if (ARG("--port"))
            g_port = atoi(v);
        else if (ARG("--method"))
            g_method = v;
        else if (ARG("--path"))
            g_path = v;
        else if (ARG("--conns"))
            g_conns = atoi(v);
        else if (ARG("--bodies"))
            bodies = v;
        else if (ARG("--upsert-f32"))
            upsert = v;
        else if (ARG("--query-f32"))
            query = v;
        else if (ARG("--dim"))
            dim = (size_t)atol(v);
        else if (ARG("--batch"))
            batch = (size_t)atol(v), batch_set = 1;
        else if (ARG("--count"))
            count = (size_t)atol(v);
        else if (ARG("--id-offset"))
            id0 = atol(v);
        else if (ARG("--limit"))
            limit = atoi(v);
        else if (ARG("--requests"))
            g_requests = atol(v);
        else if (ARG("--min-requests"))
            g_min_requests = atol(v);
        else if (ARG("--duration"))
            g_duration = atof(v);
        else if (ARG("--warmup"))
            g_warmup = atol(v);
        else if (ARG("--dump"))
            g_dump = v;
        else if (ARG("--payloads"))
            payloads = v;
        else if (ARG("--save-bodies"))
            save = v;
        else
            usage();
#undef ARG
    }
    if (g_conns < 1) usage();
    if (bodies)
        load_bodies_file(bodies);
    else if (upsert && dim)
        build_upserts(upsert, dim, batch, count, id0, payloads);
    else if (query && dim)
        build_queries(query, dim, batch_set ? batch : 0, count, limit);
    else
        usage();
    if (!g_nbodies) die("no bodies");
    if (save) {
        FILE *f = fopen(save, "wb");
        if (!f) die("cannot write bodies");
        for (size_t i = 0; i < g_nbodies; i++) {
            fprintf(f, "%u\t", g_bodies[i].items);
            fwrite(g_bodies[i].data, 1, g_bodies[i].len, f);
            fputc('\n', f);
        }
        if (fclose(f) != 0) die("cannot write bodies");
        return 0;
    }
    if (g_requests < 0 && g_duration <= 0) g_requests = (long)g_nbodies;
    size_t body_bytes = 0;
    for (size_t i = 0; i < g_nbodies; i++) body_bytes += g_bodies[i].len;
    if (g_dump) {
        g_dumped = calloc(g_nbodies, sizeof *g_dumped);
    }

    conn_t *cs = calloc((size_t)g_conns, sizeof *cs);
    pthread_t *th = calloc((size_t)g_conns, sizeof *th);
    for (int i = 0; i < g_conns; i++) cs[i].fd = connect_to();
    for (int i = 0; i < g_conns; i++)
        if (cs[i].fd < 0) die("cannot connect");

    /* warm-up pass (not timed), then the timed run */
    if (g_warmup > 0) {
        long keep_req = g_requests;
        double keep_dur = g_duration;
        long w = g_warmup;
        g_requests = 0; /* every warm-up request has timed < 0 */
        g_duration = 0;
        for (int i = 0; i < g_conns; i++) pthread_create(&th[i], NULL, worker, &cs[i]);
        for (int i = 0; i < g_conns; i++) pthread_join(th[i], NULL);
        g_requests = keep_req;
        g_duration = keep_dur;
        atomic_store(&g_next, w);
        atomic_store(&g_errors, 0);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now();
    g_deadline = t0 + g_duration;
    for (int i = 0; i < g_conns; i++) pthread_create(&th[i], NULL, worker, &cs[i]);
    for (int i = 0; i < g_conns; i++) pthread_join(th[i], NULL);
    double el = now() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 1e-6 * (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
                                 ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);

    size_t n = 0;
    for (int i = 0; i < g_conns; i++) n += cs[i].nlat;
    double *all = malloc((n ? n : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < g_conns; i++) {
        memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof(double));
        k += cs[i].nlat;
    }
    qsort(all, n, sizeof(double), cmpd);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += all[i];
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] * 1e3 : 0.0)
    long items = atomic_load(&g_items), errs = atomic_load(&g_errors);
    printf("{\"conns\":%d,\"requests\":%zu,\"errors\":%ld,\"seconds\":%.4f,\"rps\":%.2f,"
           "\"items\":%ld,\"items_per_s\":%.2f,\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"body_bytes_avg\":%.0f,\"sent_MB_per_s\":%.2f,"
           "\"client_cpu_s\":%.3f",
           g_conns, n, errs, el, (double)n / el, items, (double)items / el,
           n ? sum / (double)n * 1e3 : 0, PCT(0.50), PCT(0.95), PCT(0.99), n ? all[n - 1] * 1e3 : 0,
           (double)body_bytes / (double)g_nbodies, (double)atomic_load(&g_bytes) / el / 1e6, cpu);
    if (errs) {
        printf(",\"first_error_status\":%d,\"first_error_body\":\"", g_first_status_err);
        for (const char *p = g_err_sample; *p; p++)
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p >= 0x20)
                putchar(*p);
        printf("\"");
    }
    printf("}\n");
    if (g_dump) {
        FILE *f = fopen(g_dump, "wb");
        if (!f) die("cannot write dump");
        for (size_t i = 0; i < g_nbodies; i++) {
            if (g_dumped[i]) {
                size_t len;
                memcpy(&len, g_dumped[i], sizeof len);
                fwrite(g_dumped[i] + sizeof(size_t), 1, len, f);
            }
            fputc('\n', f);
        }
        fclose(f);
    }
    return 0;
}
