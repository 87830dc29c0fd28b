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
 *                          chunks, one per thread; also the mean µs a query,
 *                          major faults and kB read from storage a query over
 *                          the timed passes
 *   count EF               distance computations per query at EF (untimed:
 *                          the saved graph is reloaded over a counting store),
 *                          the same pass's recall@10, and queries_by_hits[h]:
 *                          how many queries found h of their 10 neighbours
 *                          (misses spread thin, or whole queries lost)
 *   codes KIND [PARAM]     (re)builds quantized codes of the base vectors
 *                          (index/qcodes.h): int8 [quantile, default 0.99],
 *                          binary, pq [dims per subspace]; seconds, bytes
 *   qsearch EF THREADS P OS  as search, over the codes, in the server's
 *                          sequence (collection/search.c graph_search_codes):
 *                          kk = ceil(10 * OS) candidates from
 *                          qv_hnsw_search_scored with ef = max(EF, kk), each
 *                          rescored with its float vector, the best 10 kept
 *   qcount EF OS           one single-thread pass of qsearch that counts and
 *                          times its parts: code distances per query, ns per
 *                          code distance (graph walk time / distances),
 *                          rescored vectors and ns per rescore
 *   save GRAPH CODES|-     writes the graph (qv_hnsw_save) and the codes
 *                          (qv_qcodes_save) for a search-only worker
 *   mem                    VmRSS, VmHWM, RssAnon, RssFile and the parts
 *   quit
 *
 * Search-only mode, for resident memory (a process that holds only what a
 * search needs, loaded from the files `save` wrote):
 *
 *   hnsw_bench --search-only ram|mmap GRAPH CODES|- BASE.f32 QUERIES.f32 GT.u32 DIM
 *
 * ram: the float vectors are read into memory (the f32 figure); mmap: they
 * are a read-only file mapping, not populated, MADV_RANDOM, with the file's
 * page cache dropped first (POSIX_FADV_DONTNEED), so the mapping's resident
 * pages are exactly those this process read to rescore (the int8 figure:
 * graph + codes in memory, floats touched only for rescoring).  It answers
 * search, qsearch, qcount and mem; `mem` also reports the mapping's own
 * resident kB (/proc/self/smaps) and the vectors and 4 KiB pages rescoring
 * touched.
 */
#include "index/hnsw.h"
#include "index/qcodes.h"

#include <fcntl.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
static int search_only(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--serve") == 0) return serve(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--search-only") == 0) return search_only(argc, argv);
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

/* What a worker holds: the data, the graph and, once built or loaded, the
 * quantized codes of the base vectors. */
typedef struct bench {
    size_t dim, n, nq;
    const float *base; /* the float vectors: malloc'd, or a file mapping (search-only mmap) */
    float *queries;
    uint32_t *gt;  /* K exact ids per query */
    uint32_t *ids; /* K results per query */
    qv_hnsw *h;
    qv_qcodes *qc;
    const char *kind; /* of qc: "int8", "binary", "pq" */
    uint8_t *touched; /* search-only: 1 for every vector read for rescoring */
} bench;

typedef struct {
    const bench *b;
    size_t lo, hi, ef;
    size_t kk;  /* candidates taken from the codes; 0: the float search */
    bool parts; /* time the graph walk and the rescoring separately, count */
    double t_graph, t_rescore;
    unsigned long long code_dists, rescored;
} search_job;

/* A scorer that counts the code distances it computes. */
typedef struct {
    qv_qquery *qq;
    unsigned long long n;
} counting_scorer;

static void counting_dist(void *ctx, const uint32_t *ids, size_t n, float *out) {
    counting_scorer *c = ctx;
    c->n += n;
    qv_qquery_dist_many(c->qq, ids, n, out);
}

/* One query over the codes, in the server's sequence (collection/search.c,
 * graph_search_codes): kk candidates from the scored graph walk with
 * ef >= kk, each rescored with its float vector, the best K kept (higher
 * dot first, ties by smaller id). */
static void qsearch_one(search_job *j, size_t qi, uint32_t *cand) {
    const bench *b = j->b;
    const float *q = b->queries + qi * b->dim;
    uint32_t *o = b->ids + qi * K;
    size_t found = 0, ef = j->ef < j->kk ? j->kk : j->ef;
    double t0 = j->parts ? now() : 0;
    qv_qquery qq;
    qv_err err;
    if (qv_qquery_init(&qq, b->qc, q, &err) == QV_OK) {
        counting_scorer cs = {&qq, 0};
        qv_hnsw_scorer sc = {qv_qquery_dist_many, &qq};
        if (j->parts) sc = (qv_hnsw_scorer){counting_dist, &cs};
        if (qv_hnsw_search_scored(b->h, &sc, j->kk, ef, NULL, NULL, cand, NULL, &found, &err))
            found = 0;
        qv_qquery_free(&qq);
        j->code_dists += cs.n;
    }
    double t1 = j->parts ? now() : 0;
    const qv_kernels *k = qv_kernels_best();
    float best[K];
    size_t nb = 0;
    for (size_t i = 0; i < found; i++) {
        uint32_t id = cand[i];
        float s = qv_score(k, QV_DIST_DOT, q, b->base + (size_t)id * b->dim, b->dim);
        if (b->touched) __atomic_store_n(&b->touched[id], 1, __ATOMIC_RELAXED);
        size_t pos = nb;
        while (pos > 0 && (best[pos - 1] < s || (best[pos - 1] == s && o[pos - 1] > id))) pos--;
        if (pos >= K) continue;
        for (size_t m = nb < K ? nb : K - 1; m > pos; m--) {
            best[m] = best[m - 1];
            o[m] = o[m - 1];
        }
        best[pos] = s;
        o[pos] = id;
        if (nb < K) nb++;
    }
    for (size_t r = nb; r < K; r++) o[r] = UINT32_MAX;
    if (j->parts) {
        double t2 = now();
        j->t_graph += t1 - t0;
        j->t_rescore += t2 - t1;
    }
    j->rescored += found;
}

static void *search_chunk(void *arg) {
    search_job *j = arg;
    const bench *b = j->b;
    qv_err err;
    uint32_t *cand = j->kk ? malloc(sizeof *cand * j->kk) : NULL;
    for (size_t i = j->lo; i < j->hi; i++) {
        if (j->kk) {
            qsearch_one(j, i, cand);
            continue;
        }
        size_t found = 0;
        uint32_t *o = b->ids + i * K;
        if (qv_hnsw_search(b->h, b->queries + i * b->dim, K, j->ef, NULL, NULL, o, NULL, &found,
                           &err))
            found = 0;
        for (size_t r = found; r < K; r++) o[r] = UINT32_MAX;
    }
    free(cand);
    return NULL;
}

/* Runs queries [0, nq) on nthreads threads (kk > 0: over the codes);
 * returns wall seconds; *sum (may be NULL) gets the summed counters. */
static double search_all(const bench *b, size_t nq, size_t ef, size_t kk, unsigned nthreads,
                         bool parts, search_job *sum) {
    search_job jobs[64];
    pthread_t tid[64];
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    for (unsigned t = 0; t < nthreads; t++)
        jobs[t] = (search_job){.b = b,
                               .lo = nq * t / nthreads,
                               .hi = nq * (t + 1) / nthreads,
                               .ef = ef,
                               .kk = kk,
                               .parts = parts};
    double t0 = now();
    for (unsigned t = 1; t < nthreads; t++) pthread_create(&tid[t], NULL, search_chunk, &jobs[t]);
    search_chunk(&jobs[0]);
    for (unsigned t = 1; t < nthreads; t++) pthread_join(tid[t], NULL);
    double el = now() - t0;
    if (sum) {
        *sum = (search_job){0};
        for (unsigned t = 0; t < nthreads; t++) {
            sum->t_graph += jobs[t].t_graph;
            sum->t_rescore += jobs[t].t_rescore;
            sum->code_dists += jobs[t].code_dists;
            sum->rescored += jobs[t].rescored;
        }
    }
    return el;
}

static size_t recall_hits(const bench *b) {
    size_t hits = 0;
    for (size_t q = 0; q < b->nq; q++)
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++) hits += b->ids[q * K + i] == b->gt[q * K + j];
    return hits;
}

/* Major page faults of this process so far (page faults that waited for IO). */
static long major_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_majflt;
}

/* Bytes this process caused to be fetched from storage (/proc/self/io
 * read_bytes), -1 if unavailable. */
static long io_read_bytes(void) {
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "read_bytes:", 11) == 0) v = atol(line + 11);
    if (f) fclose(f);
    return v;
}

/* The timed passes of `search` and `qsearch`: a warm-up over a tenth of
 * the queries, then at least P passes and 0.3 s of timed queries (at most
 * 20 passes); prints recall@10, the best pass's QPS, the mean time a query
 * over all timed passes and their major faults and storage reads a query
 * (a search-only process mapping its floats under a memory cap re-reads
 * evicted pages: hnsw_peers.py's capped run). */
static void timed_search(const bench *b, size_t ef, size_t kk, unsigned th, unsigned passes,
                         double os) {
    search_all(b, b->nq / 10, ef, kk, th, false, NULL);
    double best = 1e30, total = 0;
    unsigned r;
    long f0 = major_faults(), io0 = io_read_bytes();
    for (r = 0; r < passes || (total < 0.3 && r < 20); r++) {
        double s = search_all(b, b->nq, ef, kk, th, false, NULL);
        total += s;
        if (s < best) best = s;
    }
    /* over all timed passes (not the warm-up): page faults that had to
     * wait for IO, and bytes the process caused to be read from storage */
    double nqp = (double)b->nq * (double)r;
    long f1 = major_faults(), io1 = io_read_bytes();
    char extra[256];
    snprintf(extra, sizeof extra,
             ", \"timed_passes\": %u, \"mean_us_per_query\": %.2f, \"major_faults_per_query\": "
             "%.3f, \"read_kb_per_query\": %.3f",
             r, total / nqp * 1e6, (double)(f1 - f0) / nqp,
             io0 >= 0 && io1 >= 0 ? (double)(io1 - io0) / 1024.0 / nqp : -1.0);
    double rec = (double)recall_hits(b) / (double)(b->nq * K);
    if (kk)
        printf("{\"kind\": \"%s\", \"ef\": %zu, \"oversampling\": %g, \"candidates\": %zu, "
               "\"ef_used\": %zu, \"threads\": %u, \"recall_at_10\": %.5f, \"qps\": %.1f, "
               "\"us_per_query\": %.2f%s}\n",
               b->kind, ef, os, kk, ef < kk ? kk : ef, th, rec, (double)b->nq / best,
               best / (double)b->nq * 1e6, extra);
    else
        printf("{\"ef\": %zu, \"threads\": %u, \"recall_at_10\": %.5f, \"qps\": %.1f, "
               "\"us_per_query\": %.2f%s}\n",
               ef, th, rec, (double)b->nq / best, best / (double)b->nq * 1e6, extra);
}

/* Candidates taken from the codes for K results at oversampling os. */
static size_t candidates(const bench *b, double os) {
    double want = ceil((double)K * (os > 1 ? os : 1));
    return want > (double)b->n ? b->n : (size_t)want;
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

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A field of /proc/self/status in kB (-1 if absent). */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = atol(line + fl + 1);
    if (f) fclose(f);
    return v;
}

/* Resident kB of the mapping that starts at addr (/proc/self/smaps). */
static long mapping_rss_kb(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long v = -1;
    bool in = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) /* a mapping's header line */
            in = lo == (unsigned long)(uintptr_t)addr;
        else if (in && strncmp(line, "Rss:", 4) == 0)
            v = atol(line + 4);
    }
    if (f) fclose(f);
    return v;
}

static const char *kind_name(qv_qcodes_kind k) {
    return k == QV_QCODES_SCALAR ? "int8" : k == QV_QCODES_BINARY ? "binary" : "pq";
}

/* `mem`: what the process holds resident, and its parts. */
static void print_mem(const bench *b, bool mapped) {
    size_t touched = 0, pages = 0;
    if (b->touched) {
        size_t vb = b->dim * 4, last = SIZE_MAX;
        for (size_t i = 0; i < b->n; i++) {
            if (!b->touched[i]) continue;
            touched++;
            for (size_t pg = i * vb / 4096; pg <= (i * vb + vb - 1) / 4096; pg++)
                if (pg != last) pages++, last = pg;
        }
    }
    printf("{\"vm_rss_kb\": %ld, \"vm_hwm_kb\": %ld, \"rss_anon_kb\": %ld, \"rss_file_kb\": %ld, "
           "\"graph_bytes\": %zu, \"codes_bytes\": %zu, \"codes_kind\": \"%s\", \"vectors\": "
           "\"%s\", \"vectors_bytes\": %zu, \"vectors_mapped_rss_kb\": %ld, \"touched_vectors\": "
           "%zu, \"touched_vector_bytes\": %zu, \"touched_pages\": %zu}\n",
           status_kb("VmRSS"), status_kb("VmHWM"), status_kb("RssAnon"), status_kb("RssFile"),
           b->h ? qv_hnsw_memory(b->h) : 0, b->qc ? qv_qcodes_memory(b->qc) : 0,
           b->qc ? b->kind : "", mapped ? "mmap" : "ram", b->n * b->dim * 4,
           mapped ? mapping_rss_kb(b->base) : -1L, touched, touched * b->dim * 4, pages);
}

/* Commands shared by both worker modes; false if cmd is not one of them. */
static bool common_cmd(bench *b, bool mapped, char w[][1024], int nw) {
    if (strcmp(w[0], "search") == 0 && b->h) {
        timed_search(b, (size_t)atol(w[1]), 0, (unsigned)(nw > 2 ? atoi(w[2]) : 1),
                     (unsigned)(nw > 3 ? atoi(w[3]) : 1), 0);
    } else if (strcmp(w[0], "qsearch") == 0 && b->h && b->qc) {
        double os = nw > 4 ? atof(w[4]) : 1;
        timed_search(b, (size_t)atol(w[1]), candidates(b, os), (unsigned)(nw > 2 ? atoi(w[2]) : 1),
                     (unsigned)(nw > 3 ? atoi(w[3]) : 1), os);
    } else if (strcmp(w[0], "qcount") == 0 && b->h && b->qc) {
        size_t ef = (size_t)atol(w[1]);
        double os = nw > 2 ? atof(w[2]) : 1;
        search_job s;
        size_t kk = candidates(b, os);
        double el = search_all(b, b->nq, ef, kk, 1, true, &s);
        double nq = (double)b->nq;
        printf(
            "{\"kind\": \"%s\", \"ef\": %zu, \"oversampling\": %g, \"code_distances_per_query\": "
            "%.1f, \"rescored_per_query\": %.1f, \"us_per_query\": %.2f, \"us_graph\": %.2f, "
            "\"us_rescore\": %.2f, \"ns_per_code_distance\": %.1f, \"ns_per_rescore\": %.1f, "
            "\"recall_at_10\": %.5f}\n",
            b->kind, ef, os, (double)s.code_dists / nq, (double)s.rescored / nq, el / nq * 1e6,
            s.t_graph / nq * 1e6, s.t_rescore / nq * 1e6,
            s.code_dists ? s.t_graph / (double)s.code_dists * 1e9 : 0.0,
            s.rescored ? s.t_rescore / (double)s.rescored * 1e9 : 0.0,
            (double)recall_hits(b) / (nq * K));
    } else if (strcmp(w[0], "mem") == 0) {
        print_mem(b, mapped);
    } else {
        return false;
    }
    return true;
}

/* Reads one command line into up to 6 words; returns how many. */
static int read_cmd(char w[][1024]) {
    char line[4096];
    if (!fgets(line, sizeof line, stdin)) return -1;
    for (int i = 0; i < 6; i++) w[i][0] = 0;
    return sscanf(line, "%1023s %1023s %1023s %1023s %1023s %1023s", w[0], w[1], w[2], w[3], w[4],
                  w[5]);
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
    bench b = {.dim = dim, .n = n, .nq = nq, .base = base, .queries = queries, .gt = gt};
    b.ids = malloc(nq * K * sizeof *b.ids);
    qv_hnsw_store st = {.base = base, .stride = dim};
    qv_err err;
    printf(
        "{\"ready\": true, \"n\": %zu, \"nq\": %zu, \"dim\": %zu, \"kernels\": \"%s\", \"m\": %u, "
        "\"ef_construct\": %u, \"distance\": \"dot\", \"quant_kernels\": \"%s\"}\n",
        n, nq, dim, qv_kernels_best()->name, p.m, p.ef_construct, qv_quant_kernels_best()->name);
    fflush(stdout);
    char w[6][1024];
    int nw;
    while ((nw = read_cmd(w)) >= 0) {
        unsigned long a = nw > 1 ? strtoul(w[1], NULL, 10) : 0;
        if (nw < 1) {
            printf("{\"error\": \"bad command\"}\n");
        } else if (strcmp(w[0], "build") == 0) {
            qv_hnsw_free(b.h);
            b.h = NULL;
            if (qv_hnsw_new(dim, QV_DIST_DOT, &p, &st, &b.h, &err)) {
                printf("{\"error\": \"%s\"}\n", err.msg);
                fflush(stdout);
                continue;
            }
            double t0 = now(), c0 = cpu_now();
            qv_rc rc = qv_hnsw_build(b.h, (uint32_t)n, (unsigned)a, &err);
            double t1 = now(), c1 = cpu_now();
            qv_hnsw_report rep;
            qv_err cerr;
            qv_rc crc = rc ? rc : qv_hnsw_check(b.h, &rep, &cerr);
            printf("{\"build_s\": %.4f, \"build_cpu_s\": %.4f, \"threads\": %lu, \"graph_bytes\": "
                   "%zu, "
                   "\"graph_bytes_per_vector\": %.2f, \"level0_links_per_node\": %.2f, \"check\": "
                   "\"%s\"}\n",
                   t1 - t0, c1 - c0, a, qv_hnsw_memory(b.h),
                   (double)qv_hnsw_memory(b.h) / (double)n,
                   crc ? 0.0 : (double)rep.links_level0 / (double)n,
                   rc ? err.msg : (crc ? cerr.msg : "ok"));
        } else if (common_cmd(&b, false, w, nw)) {
        } else if (strcmp(w[0], "codes") == 0) {
            qv_qcodes_kind kind = strcmp(w[1], "binary") == 0 ? QV_QCODES_BINARY
                                  : strcmp(w[1], "pq") == 0   ? QV_QCODES_PRODUCT
                                                              : QV_QCODES_SCALAR;
            float param = nw > 2                      ? (float)atof(w[2])
                          : kind == QV_QCODES_SCALAR  ? QV_SQ_DEFAULT_QUANTILE
                          : kind == QV_QCODES_PRODUCT ? 2.0f
                                                      : 0.0f;
            qv_qcodes_free(b.qc);
            b.qc = NULL;
            double t0 = now(), c0 = cpu_now();
            /* what the server's optimizer builds for a Dot vector: per-dimension
             * int8 ranges, one-bit binary codes with a binary query */
            qv_qcodes_opts o = {.param = param, .sq_ranges = QV_QCODES_SQ_PER_DIM};
            qv_rc rc = qv_qcodes_build_opts(kind, QV_DIST_DOT, base, (uint32_t)n, (uint32_t)dim, &o,
                                            &b.qc, &err);
            double t1 = now(), c1 = cpu_now();
            if (rc) {
                printf("{\"error\": \"%s\"}\n", err.msg);
            } else {
                b.kind = kind_name(kind);
                printf("{\"kind\": \"%s\", \"param\": %g, \"build_s\": %.4f, \"build_cpu_s\": "
                       "%.4f, \"codes_bytes\": %zu, \"code_bytes_per_vector\": %zu, "
                       "\"quant_kernels\": \"%s\"}\n",
                       b.kind, param, t1 - t0, c1 - c0, qv_qcodes_memory(b.qc), b.qc->code_bytes,
                       b.qc->k->name);
            }
        } else if (strcmp(w[0], "save") == 0 && b.h && nw > 2) {
            /* save GRAPH_PATH CODES_PATH|- */
            qv_rc rc = qv_hnsw_save(b.h, w[1], &err);
            if (!rc && strcmp(w[2], "-") != 0 && b.qc) rc = qv_qcodes_save(b.qc, w[2], &err);
            if (rc)
                printf("{\"error\": \"%s\"}\n", err.msg);
            else
                printf("{\"graph_file_bytes\": %ld, \"codes_file_bytes\": %ld}\n", file_size(w[1]),
                       strcmp(w[2], "-") ? file_size(w[2]) : 0L);
        } else if (strcmp(w[0], "count") == 0 && b.h) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/qv-hnsw-bench-%ld.graph", (long)getpid());
            qv_hnsw *g = NULL;
            qv_hnsw_store cs = {.get = counting_get};
            count_base = base;
            count_stride = dim;
            if (qv_hnsw_save(b.h, path, &err) || qv_hnsw_load(path, &cs, &g, &err)) {
                printf("{\"error\": \"%s\"}\n", err.msg);
            } else {
                count_calls = 0;
                bench cb = b;
                cb.h = g;
                search_all(&cb, nq, a, 0, 1, false, NULL);
                /* queries by hits: how concentrated the misses are */
                size_t hist[K + 1] = {0};
                for (size_t q = 0; q < nq; q++) {
                    size_t hq = 0;
                    for (size_t i = 0; i < K; i++)
                        for (size_t j = 0; j < K; j++) hq += cb.ids[q * K + i] == gt[q * K + j];
                    hist[hq]++;
                }
                printf("{\"ef\": %lu, \"distances_per_query\": %.1f, \"recall_at_10\": %.5f, "
                       "\"queries_by_hits\": [",
                       a, (double)count_calls / 2.0 / (double)nq,
                       (double)recall_hits(&cb) / (double)(nq * K));
                for (size_t i = 0; i <= K; i++) printf("%s%zu", i ? ", " : "", hist[i]);
                printf("]}\n");
            }
            unlink(path);
            qv_hnsw_free(g);
        } else if (strcmp(w[0], "quit") == 0) {
            break;
        } else {
            printf("{\"error\": \"bad command\"}\n");
        }
        fflush(stdout);
    }
    qv_hnsw_free(b.h);
    qv_qcodes_free(b.qc);
    free(b.ids);
    free(base);
    free(queries);
    free(gt);
    return 0;
}

/* --search-only ram|mmap GRAPH CODES|- BASE.f32 QUERIES.f32 GT.u32 DIM: a
 * process that holds only what a search needs, for its resident memory:
 * the saved graph, the saved codes (if any) and the float vectors, either
 * read into memory (ram) or mapped from the file (mmap: not populated,
 * MADV_RANDOM, the file's page cache dropped first so that every resident
 * page of the mapping is one this process read). */
static int search_only(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: hnsw_bench --search-only ram|mmap GRAPH CODES|- BASE.f32 "
                        "QUERIES.f32 GT.u32 DIM\n");
        return 2;
    }
    bool mapped = strcmp(argv[2], "mmap") == 0;
    size_t dim = (size_t)atol(argv[8]), blen, qlen, glen;
    float *queries = read_path(argv[6], &qlen);
    uint32_t *gt = read_path(argv[7], &glen);
    size_t nq = qlen / (dim * 4);
    if (glen != nq * K * 4) {
        fprintf(stderr, "%s: expected %zu x %d ids\n", argv[7], nq, K);
        return 1;
    }
    void *map = NULL;
    float *own = NULL;
    double t0 = now();
    if (mapped) {
        int fd = open(argv[5], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(argv[5]);
            return 1;
        }
        blen = (size_t)st.st_size;
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        map = mmap(NULL, blen, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (map == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        madvise(map, blen, MADV_RANDOM);
    } else {
        own = read_path(argv[5], &blen);
    }
    bench b = {.dim = dim, .n = blen / (dim * 4), .nq = nq, .queries = queries, .gt = gt};
    b.base = mapped ? map : own;
    b.ids = malloc(nq * K * sizeof *b.ids);
    qv_hnsw_store st = {.base = b.base, .stride = dim};
    qv_err err;
    if (qv_hnsw_load(argv[3], &st, &b.h, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (strcmp(argv[4], "-") != 0) {
        if (qv_qcodes_load(argv[4], qv_hnsw_size(b.h), (uint32_t)dim, QV_DIST_DOT, &b.qc, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        b.kind = kind_name(b.qc->kind);
    }
    if (mapped) b.touched = calloc(b.n ? b.n : 1, 1);
    double t1 = now();
    printf("{\"ready\": true, \"n\": %zu, \"nq\": %zu, \"dim\": %zu, \"vectors\": \"%s\", "
           "\"codes\": \"%s\", \"load_s\": %.3f, \"vm_rss_kb\": %ld, \"vm_hwm_kb\": %ld}\n",
           b.n, nq, dim, mapped ? "mmap" : "ram", b.qc ? b.kind : "", t1 - t0, status_kb("VmRSS"),
           status_kb("VmHWM"));
    fflush(stdout);
    char w[6][1024];
    int nw;
    while ((nw = read_cmd(w)) >= 0) {
        if (nw >= 1 && common_cmd(&b, mapped, w, nw)) {
        } else if (nw >= 1 && strcmp(w[0], "quit") == 0) {
            break;
        } else {
            printf("{\"error\": \"bad command\"}\n");
        }
        fflush(stdout);
    }
    qv_hnsw_free(b.h);
    qv_qcodes_free(b.qc);
    if (map) munmap(map, blen);
    free(own);
    free(b.touched);
    free(b.ids);
    free(queries);
    free(gt);
    return 0;
}
