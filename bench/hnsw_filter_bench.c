/*
 * hnsw_filter_bench.c - filtered HNSW search on man-lsa-384 and its natural
 * payloads (issue 5): payload-block links (qv_hnsw_add_subgraph, Qdrant's
 * payload_m), no_main tenant graphs, and the three filtered walks
 * (qv_hnsw_walk: all, restricted, ACORN).  A report, never a test: nothing
 * here asserts a time or a recall.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc bench/hnsw_filter_bench.c \
 *      src/index/hnsw*.c src/core/arena.c src/core/crc32c.c src/core/elem.c \
 *      src/core/distance*.c src/core/err.c -lm -o build/release/hnsw_filter_bench
 *   build/release/hnsw_filter_bench [DATASET_DIR] [QUERIES] [GRAPH_CACHE]
 *
 * DATASET_DIR defaults to ../shared/datasets/man-lsa-384 (base.f16,
 * queries.f16, payloads.jsonl).  The main graph (M 16, ef_construct 100,
 * 2 threads) is built, or loaded from GRAPH_CACHE when that file exists
 * (and saved there otherwise).  Filters, each against exact filtered
 * ground truth (brute force over the accepted points):
 *   source=python (~2%), section=3 (~3.5%), package=git (~5%) keywords,
 *   words>=90 (~30%) a range, and random 1%, 5%, 30% sets independent of
 *   the vectors.
 * For each, recall@10, queries/s (one thread, per thread CPU second, so a
 * busy shared machine skews it less than wall time) and distances per
 * query of every walk at ef 64..256; then the same keyword filters once
 * their blocks have payload_m = 16 links (build time and memory of the 9
 * `section` blocks, and of the python and git blocks), and section=1 (17%)
 * for comparison with its tenant graph; the cost of 10 random blocks of 10%
 * (with GRAPH_CACHE: on a fresh copy of the main graph); then a no_main
 * graph with one graph per section value (Qdrant's tenants) searched from 4
 * entry points of the tenant.  FB_ONLY_COST=1 runs only the last two parts.
 * About 8 minutes on the 2-core machine with the main graph cached.
 */
#include "core/distance.h"
#include "core/elem.h"
#include "index/hnsw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIM 384
#define K   10

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* n x DIM float16 rows of path, widened and normalised (as the ground
 * truth of the dataset is computed). */
static float *load_f16(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = (size_t)bytes / 2 / DIM;
    uint16_t *raw = malloc((size_t)bytes);
    float *out = malloc(*n * DIM * sizeof *out);
    if (!raw || !out || fread(raw, 1, (size_t)bytes, f) != (size_t)bytes) exit(1);
    fclose(f);
    qv_elem_decode(QV_ELEM_F16, raw, out, *n * DIM);
    free(raw);
    for (size_t i = 0; i < *n; i++) qv_normalize(out + i * DIM, DIM);
    return out;
}

/* The four payload fields of each base row (payloads.jsonl). */
typedef struct payload {
    char source[8];
    int section;
    char package[40];
    int words;
} payload;

static payload *load_payloads(const char *path, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    payload *p = calloc(n, sizeof *p);
    char line[512];
    for (size_t i = 0; i < n && fgets(line, sizeof line, f); i++) {
        const char *s = strstr(line, "\"source\": \""), *c = strstr(line, "\"section\": ");
        const char *k = strstr(line, "\"package\": \""), *w = strstr(line, "\"words\": ");
        if (s) sscanf(s + 11, "%7[^\"]", p[i].source);
        if (c) p[i].section = atoi(c + 11);
        if (k) sscanf(k + 12, "%39[^\"]", p[i].package);
        if (w) p[i].words = atoi(w + 9);
    }
    fclose(f);
    return p;
}

typedef struct filter {
    const char *name;
    uint8_t *ok; /* n flags */
    uint32_t *ids, nids;
    uint32_t *gt; /* nq x K exact filtered top-K */
    size_t *ngt;
} filter;

static bool accept_ok(void *ctx, uint32_t id) {
    return ((const filter *)ctx)->ok[id];
}

typedef struct bench {
    size_t n, nq;
    const float *base, *queries;
    const qv_kernels *kern;
} bench;

/* Exact filtered top-K of every query (dot product, unit vectors). */
static void filter_truth(const bench *b, filter *f) {
    f->gt = malloc(b->nq * K * sizeof *f->gt);
    f->ngt = calloc(b->nq, sizeof *f->ngt);
    for (size_t q = 0; q < b->nq; q++) {
        float best[K];
        uint32_t *ids = f->gt + q * K;
        size_t m = 0;
        for (uint32_t t = 0; t < f->nids; t++) {
            uint32_t i = f->ids[t];
            float s = qv_score(b->kern, QV_DIST_DOT, b->queries + q * DIM,
                               b->base + (size_t)i * DIM, DIM);
            if (m == K && s <= best[K - 1]) continue;
            size_t at = m < K ? m++ : K - 1;
            while (at > 0 && s > best[at - 1]) {
                best[at] = best[at - 1];
                ids[at] = ids[at - 1];
                at--;
            }
            best[at] = s;
            ids[at] = i;
        }
        f->ngt[q] = m;
    }
}

static void filter_finish(const bench *b, filter *f) {
    f->ids = malloc((b->n + 1) * sizeof *f->ids);
    f->nids = 0;
    for (size_t i = 0; i < b->n; i++)
        if (f->ok[i]) f->ids[f->nids++] = (uint32_t)i;
    filter_truth(b, f);
}

/* A distance counter through the scored path. */
typedef struct counter {
    const bench *b;
    const float *q;
    size_t calls;
} counter;

static void count_dist(void *ctx, const uint32_t *ids, size_t n, float *out) {
    counter *c = ctx;
    c->calls += n;
    for (size_t i = 0; i < n; i++)
        out[i] = -qv_score(c->b->kern, QV_DIST_DOT, c->q, c->b->base + (size_t)ids[i] * DIM, DIM);
}

typedef struct result {
    double recall, qps, dists;
} result;

/* Recall, queries per thread-CPU second and distances per query of one
 * search configuration. */
static result run(const bench *b, const qv_hnsw *h, const filter *f, size_t ef,
                  const qv_hnsw_search_opts *o) {
    result r = {0};
    qv_err err;
    size_t hit = 0, want = 0;
    double c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (size_t q = 0; q < b->nq; q++) {
        uint32_t ids[K];
        size_t found;
        if (qv_hnsw_search_with(h, b->queries + q * DIM, K, ef, o, ids, NULL, &found, &err)) {
            fprintf(stderr, "search: %s\n", err.msg);
            exit(1);
        }
        for (size_t i = 0; i < found; i++)
            for (size_t j = 0; j < f->ngt[q]; j++) hit += ids[i] == f->gt[q * K + j];
        want += f->ngt[q];
    }
    double dt = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    size_t calls = 0;
    for (size_t q = 0; q < b->nq; q++) {
        counter c = {b, b->queries + q * DIM, 0};
        qv_hnsw_scorer sc = {count_dist, &c};
        uint32_t ids[K];
        size_t found;
        qv_hnsw_search_scored_with(h, &sc, K, ef, o, ids, NULL, &found, &err);
        calls += c.calls;
    }
    r.recall = want ? (double)hit / (double)want : 1.0;
    r.qps = (double)b->nq / dt;
    r.dists = (double)calls / (double)b->nq;
    return r;
}

static const char *walk_name[] = {"all", "restricted", "acorn"};

static void table_head(void) {
    printf("| filter | accepted | walk | ef | recall@10 | QPS (1 thread) | distances/query |\n");
    printf("|---|---:|---|---:|---:|---:|---:|\n");
}

static void table_row(const bench *b, const filter *f, const char *walk, size_t ef, result r) {
    printf("| %s | %.1f%% | %s | %zu | %.4f | %.0f | %.0f |\n", f->name,
           100.0 * f->nids / (double)b->n, walk, ef, r.recall, r.qps, r.dists);
    fflush(stdout);
}

static void walks(const bench *b, const qv_hnsw *h, filter *fs, size_t nf, bool all_walks) {
    static const size_t efs[] = {64, 128, 256};
    table_head();
    for (size_t i = 0; i < nf; i++)
        for (int w = 0; w < 3; w++) {
            if (!all_walks && w == QV_HNSW_WALK_ACORN) continue;
            for (size_t e = 0; e < 3; e++) {
                qv_hnsw_search_opts o = {accept_ok, &fs[i], .walk = (qv_hnsw_walk)w};
                table_row(b, &fs[i], walk_name[w], efs[e], run(b, h, &fs[i], efs[e], &o));
            }
        }
}

/* Builds the blocks of filters fs[0..nf) and reports their cost. */
static void add_blocks(qv_hnsw *h, filter *fs, size_t nf, uint32_t pm, unsigned threads) {
    qv_err err;
    size_t mem0 = qv_hnsw_memory(h);
    uint32_t lim = qv_hnsw_subgraph_max_block(h);
    double w0 = wall_s(), c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    size_t over = 0, pts = 0;
    for (size_t i = 0; i < nf; i++) {
        double t = wall_s();
        if (qv_hnsw_add_subgraph(h, fs[i].ids, fs[i].nids, pm, threads, NULL, &err)) {
            fprintf(stderr, "add_subgraph: %s\n", err.msg);
            exit(1);
        }
        over += fs[i].nids > lim;
        pts += fs[i].nids;
        printf("  block %-16s %6u points%s: %.2f s\n", fs[i].name, fs[i].nids,
               fs[i].nids > lim ? " (above max_block)" : "", wall_s() - t);
    }
    double w1 = wall_s(), c1 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    qv_hnsw_report rep;
    qv_hnsw_check(h, &rep, &err);
    printf("%zu blocks (%zu points, %zu above qv_hnsw_subgraph_max_block = %u), payload_m %u, "
           "%u threads: %.1f s wall, %.1f s CPU; memory %.1f -> %.1f MB (+%.1f MB, %.1f B per "
           "block point); %llu extra links on %llu nodes\n",
           nf, pts, over, lim, pm, threads, w1 - w0, c1 - c0, mem0 / 1e6, qv_hnsw_memory(h) / 1e6,
           (qv_hnsw_memory(h) - mem0) / 1e6, (double)(qv_hnsw_memory(h) - mem0) / (double)pts,
           (unsigned long long)rep.links_extra, (unsigned long long)rep.nodes_extra);
}

static uint8_t *random_flags(size_t n, unsigned per_mille, uint64_t seed) {
    uint8_t *ok = malloc(n);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ok[i] = (s >> 33) % 1000 < per_mille;
    }
    return ok;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/datasets/man-lsa-384";
    size_t nq_max = argc > 2 ? (size_t)atoi(argv[2]) : 300;
    const char *cache = argc > 3 ? argv[3] : NULL;
    char path[1024];
    bench b = {.kern = qv_kernels_best()};
    snprintf(path, sizeof path, "%s/base.f16", dir);
    float *base = load_f16(path, &b.n);
    snprintf(path, sizeof path, "%s/queries.f16", dir);
    float *queries = load_f16(path, &b.nq);
    if (b.nq > nq_max) b.nq = nq_max;
    b.base = base;
    b.queries = queries;
    snprintf(path, sizeof path, "%s/payloads.jsonl", dir);
    payload *pl = load_payloads(path, b.n);

    /* the main graph */
    qv_hnsw_store st = {.base = base, .stride = DIM};
    qv_hnsw_params pr = {.m = 16, .ef_construct = 100, .seed = 1};
    qv_hnsw *h = NULL;
    qv_err err;
    if (!cache || access(cache, R_OK) != 0 || qv_hnsw_load(cache, &st, &h, &err) != QV_OK) {
        qv_hnsw_new(DIM, QV_DIST_DOT, &pr, &st, &h, &err);
        double w0 = wall_s(), c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
        qv_hnsw_build(h, (uint32_t)b.n, 2, &err);
        printf("main graph: %zu points, M 16, ef_construct 100, 2 threads: %.1f s wall, %.1f s "
               "CPU\n",
               b.n, wall_s() - w0, cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
        if (cache) qv_hnsw_save(h, cache, &err);
    }
    printf("main graph memory %.1f MB; %zu queries; %s\n\n", qv_hnsw_memory(h) / 1e6, b.nq,
           qv_kernels_best()->name);

    /* filters */
    enum { F_PY, F_S3, F_GIT, F_W90, F_R1, F_R5, F_R30, NF };
    static const char *names[NF] = {"source=python", "section=3", "package=git", "words>=90",
                                    "random 1%",     "random 5%", "random 30%"};
    filter fs[NF];
    for (int i = 0; i < NF; i++) fs[i] = (filter){.name = names[i]};
    for (int i = 0; i < F_R1; i++) fs[i].ok = calloc(b.n, 1);
    for (size_t i = 0; i < b.n; i++) {
        fs[F_PY].ok[i] = !strcmp(pl[i].source, "python");
        fs[F_S3].ok[i] = pl[i].section == 3;
        fs[F_GIT].ok[i] = !strcmp(pl[i].package, "git");
        fs[F_W90].ok[i] = pl[i].words >= 90;
    }
    fs[F_R1].ok = random_flags(b.n, 10, 1);
    fs[F_R5].ok = random_flags(b.n, 50, 2);
    fs[F_R30].ok = random_flags(b.n, 300, 3);
    for (int i = 0; i < NF; i++) filter_finish(&b, &fs[i]);

    bool only_cost = getenv("FB_ONLY_COST") != NULL; /* the last two parts only */
    if (!only_cost) {
        printf("## Filtered search without extra links\n\n");
        walks(&b, h, fs, NF, true);
    }

    /* blocks: the 10 section values, then python and git */
    if (!only_cost) printf("\n## Payload blocks (payload_m 16)\n\n");
    filter sec[12];
    int nsec = 0;
    for (int v = 1; v <= 11; v++) {
        uint8_t *ok = calloc(b.n, 1);
        size_t c = 0;
        for (size_t i = 0; i < b.n; i++) c += ok[i] = pl[i].section == v;
        if (!c) {
            free(ok);
            continue;
        }
        char *name = malloc(16);
        snprintf(name, 16, "section=%d", v);
        sec[nsec] = (filter){.name = name, .ok = ok};
        sec[nsec].ids = malloc((b.n + 1) * sizeof *sec[nsec].ids);
        for (size_t i = 0; i < b.n; i++)
            if (ok[i]) sec[nsec].ids[sec[nsec].nids++] = (uint32_t)i;
        nsec++;
    }
    if (only_cost) goto cost;
    add_blocks(h, sec, (size_t)nsec, 16, 2);
    filter extra[2] = {fs[F_PY], fs[F_GIT]};
    add_blocks(h, extra, 2, 16, 2);
    printf("\n");
    /* the keyword filters, and section=1 (17%) to compare with its tenant graph below */
    filter bf[4] = {fs[F_PY], fs[F_S3], fs[F_GIT], sec[0]};
    filter_truth(&b, &bf[3]);
    walks(&b, h, bf, 4, false);
    table_head();
    for (int i = 0; i < 4; i++)
        for (size_t ef = 64; ef <= 256; ef *= 2) {
            qv_hnsw_search_opts o = {accept_ok, &bf[i], bf[i].ids, 4, QV_HNSW_WALK_ACCEPTED};
            table_row(&b, &bf[i], "restricted, 4 entries", ef, run(&b, h, &bf[i], ef, &o));
        }

    /* 10 blocks partitioning the points at random (10% each), on a fresh
     * copy of the main graph */
cost:
    if (cache) {
        qv_hnsw *h2 = NULL;
        if (qv_hnsw_load(cache, &st, &h2, &err) == QV_OK) {
            printf("\n## 10 random blocks of 10%% (independent of the vectors), payload_m 16\n\n");
            filter rb[10];
            uint64_t x = 77;
            for (int v = 0; v < 10; v++) {
                rb[v] = (filter){.name = "random 10%"};
                rb[v].ids = malloc((b.n + 1) * sizeof *rb[v].ids);
            }
            for (size_t i = 0; i < b.n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                filter *f = &rb[(x >> 33) % 10];
                f->ids[f->nids++] = (uint32_t)i;
            }
            add_blocks(h2, rb, 10, 16, 2);
            qv_hnsw_free(h2);
        }
    }

    /* tenants: no global graph, one graph per section value */
    printf("\n## No main graph (m 0), one graph per section value (payload_m 16)\n\n");
    qv_hnsw *t = NULL;
    qv_hnsw_params pt = {.ef_construct = 100, .seed = 1, .no_main = true};
    qv_hnsw_new(DIM, QV_DIST_DOT, &pt, &st, &t, &err);
    qv_hnsw_build(t, (uint32_t)b.n, 1, &err);
    add_blocks(t, sec, (size_t)nsec, 16, 2);
    printf("\n");
    table_head();
    for (int i = 0; i < nsec; i++) {
        if (sec[i].nids < 1000) continue;
        if (!sec[i].gt) filter_truth(&b, &sec[i]);
        for (size_t ef = 64; ef <= 256; ef *= 2) {
            qv_hnsw_search_opts o = {accept_ok, &sec[i], sec[i].ids, 4, QV_HNSW_WALK_ACCEPTED};
            table_row(&b, &sec[i], "restricted, 4 entries", ef, run(&b, t, &sec[i], ef, &o));
        }
    }
    qv_hnsw_free(t);
    qv_hnsw_free(h);
    return 0;
}
