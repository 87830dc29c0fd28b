/*
 * hnsw_bench.c - in-process timer for the HNSW index (index/hnsw) on
 * man-lsa-384: build time, graph save/load time, and recall@10 against the
 * dataset's exact ground truth vs single-thread queries per second, over
 * hnsw_ef 16..512.  A report, never a test: nothing here asserts a time.
 *
 *   make B=build/release build/release/libquiver.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc bench/hnsw_bench.c \
 *      build/release/libquiver.a -lm -o build/release/hnsw_bench
 *   build/release/hnsw_bench [dataset dir] [build threads] [m] [ef_construct]
 *
 * The dataset dir defaults to ../shared/datasets/man-lsa-384 (base.f16,
 * queries.f16, groundtruth.u32: see its README).  Vectors are widened to
 * float32 and re-normalised, as the ground truth was computed (Cosine).
 *
 * Worker mode, driven by bench/hnsw_peers.py (bench/hnsw_run.sh), which
 * speaks the same line protocol to its Python peers (hnswlib, faiss, usearch):
 *
 *   build/release/hnsw_bench --serve BASE.f32 QUERIES.f32 GT.u32 DIM [M] [EFC]
 *
 * BASE/QUERIES: row-major little-endian float32, already normalised (the
 * index uses QV_DIST_DOT); GT.u32: 10 exact neighbour ids per query.  It
 * prints one JSON line {"ready":...} after loading, then answers one JSON
 * line per command read from stdin:
 *   build THREADS          (re)builds the graph: wall and CPU seconds, bytes
 *   search EF THREADS P    best of P (or more, up to 0.3 s) timed passes over all queries (after a
 *                          warm-up over a tenth), recall@10 and QPS; with
 *                          THREADS > 1 the queries are split in contiguous
 *                          chunks, one per thread
 *   count EF               distance computations per query at EF (untimed:
 *                          the saved graph is reloaded over a counting store)
 *   quit
 */
#include "index/hnsw.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define DIM 384
#define GT  100 /* ground-truth ids per query */
#define K   10

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* IEEE binary16 to binary32. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void *read_file(const char *dir, const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)n);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* rows x DIM float16 file -> normalised float32 rows. */
static float *load_f16(const char *dir, const char *name, size_t *rows) {
    size_t len;
    uint16_t *h = read_file(dir, name, &len);
    *rows = len / (2 * DIM);
    float *v = malloc(*rows * DIM * sizeof *v);
    for (size_t i = 0; i < *rows * DIM; i++) v[i] = half_to_float(h[i]);
    for (size_t r = 0; r < *rows; r++) qv_normalize(v + r * DIM, DIM);
    free(h);
    return v;
}

static long rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int serve(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--serve") == 0) return serve(argc, argv);
    const char *dir = argc > 1 ? argv[1] : "../shared/datasets/man-lsa-384";
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    qv_hnsw_params p = {.m = argc > 3 ? (uint32_t)atoi(argv[3]) : 16,
                        .ef_construct = argc > 4 ? (uint32_t)atoi(argv[4]) : 100,
                        .seed = 1};
    size_t n, nq, gtlen;
    float *base = load_f16(dir, "base.f16", &n);
    float *queries = load_f16(dir, "queries.f16", &nq);
    uint32_t *gt = read_file(dir, "groundtruth.u32", &gtlen);
    if (gtlen != nq * GT * 4) {
        fprintf(stderr, "groundtruth.u32: unexpected size\n");
        return 1;
    }
    printf("dataset %s: %zu x %d, %zu queries; kernels %s; m=%u ef_construct=%u\n", dir, n, DIM, nq,
           qv_kernels_best()->name, p.m, p.ef_construct);

    qv_hnsw_store st = {.base = base, .stride = DIM};
    qv_hnsw *h = NULL;
    qv_err err;
    if (qv_hnsw_new(DIM, QV_DIST_COSINE, &p, &st, &h, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = now(), c0 = cpu_now();
    if (qv_hnsw_build(h, (uint32_t)n, threads, &err)) {
        fprintf(stderr, "build: %s\n", err.msg);
        return 1;
    }
    double t1 = now(), c1 = cpu_now();
    qv_hnsw_report rep;
    qv_rc crc = qv_hnsw_check(h, &rep, &err);
    printf("build: %.2f s wall, %.2f s CPU on %u threads; graph %.1f MB (%.1f B/vector), "
           "%.1f level-0 links/node, check %s\n",
           t1 - t0, c1 - c0, threads, (double)qv_hnsw_memory(h) / 1e6,
           (double)qv_hnsw_memory(h) / (double)n, (double)rep.links_level0 / (double)n,
           crc ? err.msg : "ok");

    char path[] = "/tmp/qv-hnsw-bench.graph";
    t0 = now();
    if (qv_hnsw_save(h, path, &err)) fprintf(stderr, "save: %s\n", err.msg);
    t1 = now();
    qv_hnsw *g = NULL;
    double t2 = now();
    if (qv_hnsw_load(path, &st, &g, &err)) fprintf(stderr, "load: %s\n", err.msg);
    double t3 = now();
    printf("save %.3f s, load %.3f s (page cache warm)\n", t1 - t0, t3 - t2);
    unlink(path);
    if (g) {
        qv_hnsw_free(h);
        h = g; /* measure the loaded graph */
    }

    printf("%6s %8s %10s %10s\n", "ef", "recall", "QPS", "us/query");
    size_t efs[] = {16, 32, 64, 128, 256, 512};
    for (size_t e = 0; e < sizeof efs / sizeof efs[0]; e++) {
        uint32_t ids[K];
        size_t found, hits = 0;
        /* one warm-up pass over a few queries, then the timed pass */
        for (size_t q = 0; q < nq / 10; q++)
            qv_hnsw_search(h, queries + q * DIM, K, efs[e], NULL, NULL, ids, NULL, &found, &err);
        double s0 = now();
        for (size_t q = 0; q < nq; q++) {
            qv_hnsw_search(h, queries + q * DIM, K, efs[e], NULL, NULL, ids, NULL, &found, &err);
            for (size_t i = 0; i < found; i++)
                for (size_t j = 0; j < K; j++) hits += ids[i] == gt[q * GT + j];
        }
        double s1 = now();
        printf("%6zu %8.4f %10.0f %10.1f\n", efs[e], (double)hits / (double)(nq * K),
               (double)nq / (s1 - s0), (s1 - s0) / (double)nq * 1e6);
    }
    printf("max RSS %.1f MB\n", (double)rss_kb() / 1024.0);
    qv_hnsw_free(h);
    free(base);
    free(queries);
    free(gt);
    return 0;
}

/* ---- worker mode ---------------------------------------------------------- */

typedef struct {
    const qv_hnsw *h;
    const float *q;
    size_t dim, lo, hi, ef;
    uint32_t *ids; /* K per query */
} search_job;

static void *search_chunk(void *arg) {
    search_job *j = arg;
    qv_err err;
    for (size_t i = j->lo; i < j->hi; i++) {
        size_t found = 0;
        uint32_t *o = j->ids + i * K;
        if (qv_hnsw_search(j->h, j->q + i * j->dim, K, j->ef, NULL, NULL, o, NULL, &found, &err))
            found = 0;
        for (size_t r = found; r < K; r++) o[r] = UINT32_MAX;
    }
    return NULL;
}

/* Runs queries [0, nq) on nthreads threads; returns wall seconds. */
static double search_all(const qv_hnsw *h, const float *q, size_t dim, size_t nq, size_t ef,
                         unsigned nthreads, uint32_t *ids) {
    search_job jobs[64];
    pthread_t tid[64];
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    for (unsigned t = 0; t < nthreads; t++)
        jobs[t] = (search_job){h, q, dim, nq * t / nthreads, nq * (t + 1) / nthreads, ef, ids};
    double t0 = now();
    for (unsigned t = 1; t < nthreads; t++) pthread_create(&tid[t], NULL, search_chunk, &jobs[t]);
    search_chunk(&jobs[0]);
    for (unsigned t = 1; t < nthreads; t++) pthread_join(tid[t], NULL);
    return now() - t0;
}

static const float *count_base;
static size_t count_stride;
static unsigned long long count_calls;

/* A store that counts lookups.  The search looks each scored vector up twice
 * (once to prefetch it, once to score it), single vectors (entry points)
 * once, so distances ~= lookups / 2. */
static const float *counting_get(void *ctx, uint32_t id) {
    (void)ctx;
    count_calls++;
    return count_base + (size_t)id * count_stride;
}

static void *read_path(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int serve(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: hnsw_bench --serve BASE.f32 QUERIES.f32 GT.u32 DIM [M] [EFC]\n");
        return 2;
    }
    size_t dim = (size_t)atol(argv[5]), blen, qlen, glen;
    qv_hnsw_params p = {.m = argc > 6 ? (uint32_t)atoi(argv[6]) : 16,
                        .ef_construct = argc > 7 ? (uint32_t)atoi(argv[7]) : 100,
                        .seed = 1};
    float *base = read_path(argv[2], &blen), *queries = read_path(argv[3], &qlen);
    uint32_t *gt = read_path(argv[4], &glen);
    size_t n = blen / (dim * 4), nq = qlen / (dim * 4);
    if (glen != nq * K * 4) {
        fprintf(stderr, "%s: expected %zu x %d ids\n", argv[4], nq, K);
        return 1;
    }
    uint32_t *ids = malloc(nq * K * sizeof *ids);
    qv_hnsw_store st = {.base = base, .stride = dim};
    qv_hnsw *h = NULL;
    qv_err err;
    printf(
        "{\"ready\": true, \"n\": %zu, \"nq\": %zu, \"dim\": %zu, \"kernels\": \"%s\", \"m\": %u, "
        "\"ef_construct\": %u, \"distance\": \"dot\"}\n",
        n, nq, dim, qv_kernels_best()->name, p.m, p.ef_construct);
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "";
        unsigned long a = 0, b = 0, c = 0;
        sscanf(line, "%31s %lu %lu %lu", cmd, &a, &b, &c);
        if (strcmp(cmd, "build") == 0) {
            qv_hnsw_free(h);
            h = NULL;
            if (qv_hnsw_new(dim, QV_DIST_DOT, &p, &st, &h, &err)) {
                printf("{\"error\": \"%s\"}\n", err.msg);
                fflush(stdout);
                continue;
            }
            double t0 = now(), c0 = cpu_now();
            qv_rc rc = qv_hnsw_build(h, (uint32_t)n, (unsigned)a, &err);
            double t1 = now(), c1 = cpu_now();
            qv_hnsw_report rep;
            qv_err cerr;
            qv_rc crc = rc ? rc : qv_hnsw_check(h, &rep, &cerr);
            printf("{\"build_s\": %.4f, \"build_cpu_s\": %.4f, \"threads\": %lu, \"graph_bytes\": "
                   "%zu, "
                   "\"graph_bytes_per_vector\": %.2f, \"level0_links_per_node\": %.2f, \"check\": "
                   "\"%s\"}\n",
                   t1 - t0, c1 - c0, a, qv_hnsw_memory(h), (double)qv_hnsw_memory(h) / (double)n,
                   crc ? 0.0 : (double)rep.links_level0 / (double)n,
                   rc ? err.msg : (crc ? cerr.msg : "ok"));
        } else if (strcmp(cmd, "search") == 0 && h) {
            size_t ef = a;
            unsigned th = (unsigned)(b ? b : 1);
            unsigned passes = (unsigned)(c ? c : 1);
            search_all(h, queries, dim, nq / 10, ef, th, ids); /* warm-up */
            double best = 1e30;
            double total = 0; /* at least P passes and 0.3 s of timed queries (at most 20 passes) */
            for (unsigned r = 0; r < passes || (total < 0.3 && r < 20); r++) {
                double s = search_all(h, queries, dim, nq, ef, th, ids);
                total += s;
                if (s < best) best = s;
            }
            size_t hits = 0;
            for (size_t q = 0; q < nq; q++)
                for (size_t i = 0; i < K; i++)
                    for (size_t j = 0; j < K; j++) hits += ids[q * K + i] == gt[q * K + j];
            printf("{\"ef\": %zu, \"threads\": %u, \"recall_at_10\": %.5f, \"qps\": %.1f, "
                   "\"us_per_query\": %.2f}\n",
                   ef, th, (double)hits / (double)(nq * K), (double)nq / best,
                   best / (double)nq * 1e6);
        } else if (strcmp(cmd, "count") == 0 && h) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/qv-hnsw-bench-%ld.graph", (long)getpid());
            qv_hnsw *g = NULL;
            qv_hnsw_store cs = {.get = counting_get};
            count_base = base;
            count_stride = dim;
            if (qv_hnsw_save(h, path, &err) || qv_hnsw_load(path, &cs, &g, &err)) {
                printf("{\"error\": \"%s\"}\n", err.msg);
            } else {
                count_calls = 0;
                search_all(g, queries, dim, nq, a, 1, ids);
                printf("{\"ef\": %lu, \"distances_per_query\": %.1f}\n", a,
                       (double)count_calls / 2.0 / (double)nq);
            }
            unlink(path);
            qv_hnsw_free(g);
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("{\"error\": \"bad command\"}\n");
        }
        fflush(stdout);
    }
    qv_hnsw_free(h);
    free(ids);
    free(base);
    free(queries);
    free(gt);
    return 0;
}
