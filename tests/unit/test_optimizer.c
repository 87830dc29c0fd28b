/*
 * test_optimizer.c - the multi-segment shard and its optimizers
 * (src/collection/optimizer.c) driven by hand, without the catalog's
 * optimizer thread: collections are opened directly from their directory
 * (collection_impl.h) and qv_collection_optimize is called when a test
 * wants an optimization, with the quiet period skipped by resetting
 * last_write_ms.  Every test keeps a model of what the collection must hold
 * (per point ID: live, vector as upserted, payload fields "g" and "e") and
 * checks retrieve, scroll, count and query against it:
 *   - indexing: an HNSW segment answers exact queries like a brute force and
 *     approximate ones with recall@10 >= 0.95, for every distance, with and
 *     without a filter;
 *   - copy on write: deletes, upserts, payload and vector edits after
 *     indexing keep every read exact;
 *   - writes racing optimizations (pthreads) are never lost;
 *   - persistence: a checkpointed reopen loads the indexed segment, a crash
 *     copy replays the WAL on top of the segments, stray segment
 *     directories are removed at open;
 *   - merge and vacuum;
 *   - corruption of a segment's or a checkpoint's files makes the open fail
 *     cleanly (a broken collection, no crash).
 * Sizes shrink when QV_UNDER_VALGRIND is set (make valgrind sets it) and
 * in the ThreadSanitizer build.  QV_TEST_FILTER=<glob> runs only the
 * matching tests; QV_TEST_VERBOSE=1 reports how much the race overlapped.
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/log.h"
#include "core/pool.h"
#include "index/filter.h"

#define DIM     16
#define K       10
#define MAX_HIT 64

/* ThreadSanitizer slows graph builds and scans down by an order of
 * magnitude: smaller sizes there too. */
#if defined(__SANITIZE_THREAD__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif

static char root[256];
static bool under_valgrind;
/* points of the indexing tests; queries per check */
static uint32_t npts, nq;

/* ---- random numbers ----------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return r->s >> 33;
}

static float frand(rng *r) {
    return (float)(rnext(r) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

/* ---- the model ------------------------------------------------------------------ */

typedef struct model {
    uint32_t maxid; /* point IDs are numbers in [0, maxid) */
    bool *live;
    float *vec; /* maxid x DIM, as upserted (before Cosine normalisation) */
    int *g, *e; /* payload fields; e = -1: absent */
} model;

static model *model_new(uint32_t maxid) {
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->maxid = maxid;
    m->live = calloc(maxid, sizeof(bool));
    m->vec = calloc((size_t)maxid * DIM, sizeof(float));
    m->g = calloc(maxid, sizeof(int));
    m->e = calloc(maxid, sizeof(int));
    assert_true(m->live && m->vec && m->g && m->e);
    return m;
}

static void model_free(model *m) {
    if (!m) return;
    free(m->live);
    free(m->vec);
    free(m->g);
    free(m->e);
    free(m);
}

static uint64_t model_live(const model *m) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->maxid; i++) n += m->live[i];
    return n;
}

/* Filters the tests use: none, g == 3 (a tenth), 2 <= g <= 6 (half). */
enum { F_NONE, F_G3, F_RANGE, F_COUNT };

static bool model_passes(const model *m, uint32_t id, int fk) {
    if (fk == F_G3) return m->g[id] == 3;
    if (fk == F_RANGE) return m->g[id] >= 2 && m->g[id] <= 6;
    return true;
}

typedef struct filters {
    qv_arena a;
    qv_filter *f[F_COUNT];
} filters;

static void filters_init(filters *fs) {
    qv_arena_init(&fs->a);
    qv_keypath *g;
    assert_int_equal(qv_keypath_parse(&fs->a, "g", 1, &g, NULL), QV_OK);
    fs->f[F_NONE] = NULL;
    fs->f[F_G3] = qv_filter_new(&fs->a);
    qv_filter_cond *c = qv_filter_list_push(&fs->a, &fs->f[F_G3]->must);
    c->kind = QV_FILTER_COND_MATCH;
    c->key = g;
    c->u.match.kind = QV_FILTER_MATCH_INTEGER;
    c->u.match.v.i = 3;
    fs->f[F_RANGE] = qv_filter_new(&fs->a);
    c = qv_filter_list_push(&fs->a, &fs->f[F_RANGE]->must);
    c->kind = QV_FILTER_COND_RANGE;
    c->key = g;
    c->u.range.set = QV_FILTER_GTE | QV_FILTER_LTE;
    c->u.range.gte = 2;
    c->u.range.lte = 6;
}

/* ---- collections ------------------------------------------------------------------- */

/* A config with indexing from 1 KB on (16 points of 16-d), graphs used
 * whatever the filter lets through, and the given distance. */
static void make_config(qv_collection_config *cfg, qv_distance d) {
    qv_collection_config_defaults(cfg);
    cfg->nvectors = 1;
    cfg->vectors = qv_arena_calloc(&cfg->arena, sizeof(qv_vector_params));
    cfg->vectors[0].name = qv_arena_strndup(&cfg->arena, "", 0);
    cfg->vectors[0].size = DIM;
    cfg->vectors[0].distance = d;
    cfg->optimizer.indexing_threshold = (qv_opt_u64){true, 1};
    cfg->hnsw.full_scan_threshold = 1;
    cfg->hnsw.max_indexing_threads = 2;
}

static void coll_path(const char *name, char *out, size_t n) {
    snprintf(out, n, "%s/%s", root, name);
}

static qv_collection *create(const char *name, qv_collection_config *cfg) {
    char dir[512];
    coll_path(name, dir, sizeof dir);
    qv_collection *c = NULL;
    qv_err err;
    qv_rc rc = qv_collection_create_at(dir, name, cfg, &c, &err);
    if (rc) fail_msg("create %s: %s", name, err.msg);
    qv_collection_config_free(cfg);
    return c;
}

static qv_collection *reopen(const char *name) {
    char dir[512];
    coll_path(name, dir, sizeof dir);
    qv_collection *c = NULL;
    qv_err err;
    qv_rc rc = qv_collection_open(dir, name, &c, &err);
    if (rc) fail_msg("open %s: %s", name, err.msg);
    return c;
}

/* Skips the optimizers' quiet period: writes "paused" long ago. */
static void quiet(qv_collection *c) {
    atomic_store(&c->last_write_ms, 0);
}

/* Runs one optimization; returns its optimizer's name ("" if none ran). */
static const char *optimize(qv_collection *c) {
    quiet(c);
    bool did = false;
    qv_err err;
    qv_rc rc = qv_collection_optimize(c, &did, &err);
    if (rc) fail_msg("optimize: %s", err.msg);
    if (!did) return "";
    qv_optimizations o;
    qv_collection_optimizations(c, &o);
    assert_false(o.has_running);
    assert_true(o.ncompleted > 0);
    assert_int_equal(o.completed[0].status, QV_OPTIM_DONE);
    return o.completed[0].optimizer;
}

static qv_collection_stats stats(qv_collection *c) {
    qv_collection_stats s;
    qv_collection_stats_get(c, &s);
    assert_false(s.broken);
    return s;
}

/* ---- writes (usable from any thread: they return instead of asserting) ------------ */

static qv_rc parse_obj(qv_arena *a, const char *text, jv *out) {
    qv_rc rc = jv_parse(a, text, strlen(text), out, NULL);
    if (!rc) jv_resolve_numbers(out);
    return rc;
}

static qv_rc w_update(qv_collection *c, qv_update_op *op, bool wait) {
    uint64_t opnum;
    qv_write_status st;
    qv_err err;
    return qv_collection_update(c, op, wait, &opnum, &st, &err);
}

/* Upserts ids[0..n) with random vectors and payload {"g": random 0..9}. */
static qv_rc w_upsert(qv_collection *c, model *m, rng *r, const uint32_t *ids, size_t n,
                      bool wait) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = (uint32_t)n};
    op.points = qv_arena_calloc(&a, sizeof(qv_point_in) * n);
    qv_vec_in *vins = qv_arena_calloc(&a, sizeof(qv_vec_in) * n);
    float *raw = qv_arena_alloc(&a, sizeof(float) * DIM * n);
    float *data = qv_arena_alloc(&a, sizeof(float) * DIM * n);
    int *gs = qv_arena_alloc(&a, sizeof(int) * n);
    qv_rc rc = QV_OK;
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        for (int k = 0; k < DIM; k++) raw[i * DIM + k] = frand(r);
        memcpy(data + i * DIM, raw + i * DIM, sizeof(float) * DIM);
        vins[i] = (qv_vec_in){"", DIM, data + i * DIM};
        gs[i] = (int)(rnext(r) % 10);
        qv_point_in *p = &op.points[i];
        *p = (qv_point_in){.id = qv_pointid_num(ids[i]), .nvec = 1, .vecs = &vins[i]};
        char text[32];
        snprintf(text, sizeof text, "{\"g\":%d}", gs[i]);
        p->has_payload = true;
        rc = parse_obj(&a, text, &p->payload);
    }
    if (!rc) rc = w_update(c, &op, wait);
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        uint32_t id = ids[i];
        m->live[id] = true;
        memcpy(m->vec + (size_t)id * DIM, raw + i * DIM, sizeof(float) * DIM);
        m->g[id] = gs[i];
        m->e[id] = -1;
    }
    qv_arena_free(&a);
    return rc;
}

static qv_rc w_delete(qv_collection *c, model *m, const uint32_t *ids, size_t n, bool wait) {
    qv_pointid *pids = malloc(sizeof(qv_pointid) * (n ? n : 1));
    if (!pids) return QV_ENOMEM;
    for (size_t i = 0; i < n; i++) pids[i] = qv_pointid_num(ids[i]);
    qv_update_op op = {.kind = QV_OP_DELETE, .nids = (uint32_t)n, .ids = pids};
    qv_rc rc = w_update(c, &op, wait);
    for (size_t i = 0; rc == QV_OK && i < n; i++) m->live[ids[i]] = false;
    free(pids);
    return rc;
}

/* set_payload {"g": g, "e": e} on live points. */
static qv_rc w_set_payload(qv_collection *c, model *m, const uint32_t *ids, size_t n, int g, int e,
                           bool wait) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_SET_PAYLOAD, .nids = (uint32_t)n};
    op.ids = qv_arena_alloc(&a, sizeof(qv_pointid) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) op.ids[i] = qv_pointid_num(ids[i]);
    char text[64];
    snprintf(text, sizeof text, "{\"g\":%d,\"e\":%d}", g, e);
    qv_rc rc = parse_obj(&a, text, &op.payload);
    if (!rc) rc = w_update(c, &op, wait);
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        m->g[ids[i]] = g;
        m->e[ids[i]] = e;
    }
    qv_arena_free(&a);
    return rc;
}

/* update_vectors with random vectors on live points (payload kept). */
static qv_rc w_update_vectors(qv_collection *c, model *m, rng *r, const uint32_t *ids, size_t n,
                              bool wait) {
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op op = {.kind = QV_OP_UPDATE_VECTORS, .npoints = (uint32_t)n};
    op.points = qv_arena_calloc(&a, sizeof(qv_point_in) * n);
    qv_vec_in *vins = qv_arena_calloc(&a, sizeof(qv_vec_in) * n);
    float *raw = qv_arena_alloc(&a, sizeof(float) * DIM * n);
    float *data = qv_arena_alloc(&a, sizeof(float) * DIM * n);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < DIM; k++) raw[i * DIM + k] = frand(r);
        memcpy(data + i * DIM, raw + i * DIM, sizeof(float) * DIM);
        vins[i] = (qv_vec_in){"", DIM, data + i * DIM};
        op.points[i] = (qv_point_in){.id = qv_pointid_num(ids[i]), .nvec = 1, .vecs = &vins[i]};
    }
    qv_rc rc = w_update(c, &op, wait);
    for (size_t i = 0; rc == QV_OK && i < n; i++)
        memcpy(m->vec + (size_t)ids[i] * DIM, raw + i * DIM, sizeof(float) * DIM);
    qv_arena_free(&a);
    return rc;
}

/* Upserts ids [lo, hi) in batches of 100 (the last one waited for). */
static void load_range(qv_collection *c, model *m, rng *r, uint32_t lo, uint32_t hi) {
    uint32_t ids[100];
    for (uint32_t b = lo; b < hi; b += 100) {
        uint32_t n = hi - b < 100 ? hi - b : 100;
        for (uint32_t i = 0; i < n; i++) ids[i] = b + i;
        assert_int_equal(w_upsert(c, m, r, ids, n, b + n >= hi), QV_OK);
    }
}

/* ---- reading back ---------------------------------------------------------------- */

static int payload_int(const jv *payload, const char *key) {
    const jv *v = payload ? jv_get(payload, key) : NULL;
    int64_t x;
    if (!v) return -1;
    if (!jv_to_i64(v, &x)) return -2;
    return (int)x;
}

/* Compares one point view with the model. */
typedef struct check_ctx {
    const model *m;
    qv_distance d;
    uint32_t n, bad;
    char msg[256];
    bool *seen;      /* scroll: IDs returned so far */
    bool has_last;   /* scroll: ID order */
    uint64_t last;   /* the last ID seen */
    int fk;          /* the filter every point must pass */
    uint32_t *order; /* scroll: the IDs in order (may be NULL) */
} check_ctx;

static void bad(check_ctx *x, const char *fmt, uint64_t id) {
    if (x->bad++ == 0) snprintf(x->msg, sizeof x->msg, fmt, id);
}

static bool vec_equal(const model *m, qv_distance d, uint32_t id, const float *got) {
    float want[DIM];
    memcpy(want, m->vec + (size_t)id * DIM, sizeof want);
    if (d == QV_DIST_COSINE) qv_normalize(want, DIM);
    for (int k = 0; k < DIM; k++)
        if (fabsf(want[k] - got[k]) > 1e-6f) return false;
    return true;
}

static bool check_point(void *ctx, const qv_point_view *p, float score) {
    check_ctx *x = ctx;
    uint64_t id = p->id.lo;
    x->n++;
    if (p->id.is_uuid || id >= x->m->maxid) {
        bad(x, "unexpected point %" PRIu64, id);
        return true;
    }
    if (x->seen) {
        if (x->seen[id]) bad(x, "point %" PRIu64 " returned twice", id);
        x->seen[id] = true;
    }
    if (x->has_last && id <= x->last) bad(x, "point %" PRIu64 " out of ID order", id);
    x->has_last = true;
    x->last = id;
    if (x->order) x->order[x->n - 1] = (uint32_t)id;
    const model *m = x->m;
    if (!m->live[id]) {
        bad(x, "deleted point %" PRIu64 " returned", id);
        return true;
    }
    if (!model_passes(m, (uint32_t)id, x->fk)) bad(x, "point %" PRIu64 " fails the filter", id);
    const float *v = qv_point_vector(p, 0);
    if (!v || !vec_equal(m, x->d, (uint32_t)id, v)) bad(x, "point %" PRIu64 ": wrong vector", id);
    if (payload_int(p->payload, "g") != m->g[id] || payload_int(p->payload, "e") != m->e[id])
        bad(x, "point %" PRIu64 ": wrong payload", id);
    return true;
}

/* retrieve, scroll (pages, with and without filters) and count == model. */
static void check_state(qv_collection *c, const model *m, qv_distance d, const filters *fs) {
    qv_err err;
    /* retrieve every ID, live or not, in batches */
    uint32_t want = (uint32_t)model_live(m);
    check_ctx x = {.m = m, .d = d};
    x.seen = calloc(m->maxid, sizeof(bool));
    assert_non_null(x.seen);
    qv_pointid ids[256];
    for (uint32_t b = 0; b < m->maxid; b += 256) {
        uint32_t n = m->maxid - b < 256 ? m->maxid - b : 256;
        for (uint32_t i = 0; i < n; i++) ids[i] = qv_pointid_num(b + i);
        assert_int_equal(qv_collection_retrieve(c, ids, n, NULL, check_point, &x, &err), QV_OK);
    }
    if (x.bad) fail_msg("retrieve: %u bad, first: %s", x.bad, x.msg);
    assert_int_equal(x.n, want);
    for (int fk = 0; fk < F_COUNT; fk++) {
        uint32_t fwant = 0;
        for (uint32_t i = 0; i < m->maxid; i++) fwant += m->live[i] && model_passes(m, i, fk);
        uint64_t cnt = 0;
        assert_int_equal(qv_collection_count(c, fs->f[fk], NULL, &cnt, &err), QV_OK);
        assert_int_equal(cnt, fwant);
        /* scroll in pages of 97 from each page's next offset */
        memset(x.seen, 0, m->maxid);
        check_ctx s = {.m = m, .d = d, .seen = x.seen, .fk = fk};
        qv_pointid next, *from = NULL;
        bool more = true;
        while (more) {
            uint32_t before = s.n;
            assert_int_equal(qv_collection_scroll(c, fs->f[fk], from, 97, NULL, check_point, &s,
                                                  &next, &more, &err),
                             QV_OK);
            assert_true(s.n - before <= 97);
            if (more) {
                assert_int_equal(s.n - before, 97);
                assert_true(next.lo > s.last);
                from = &next;
            }
        }
        if (s.bad) fail_msg("scroll (filter %d): %u bad, first: %s", fk, s.bad, s.msg);
        assert_int_equal(s.n, fwant);
    }
    free(x.seen);
}

/* ---- queries -------------------------------------------------------------------- */

typedef struct hits {
    uint64_t ids[MAX_HIT];
    float scores[MAX_HIT];
    size_t n;
} hits;

static bool collect(void *ctx, const qv_point_view *p, float score) {
    hits *h = ctx;
    if (h->n < MAX_HIT) {
        h->ids[h->n] = p->id.lo;
        h->scores[h->n] = score;
    }
    h->n++;
    return true;
}

/* The score Quiver defines for a stored vector (Cosine: both normalised). */
static double ref_score(qv_distance d, const float *q, const float *v) {
    double s = 0, nq2 = 0, nv2 = 0;
    for (int i = 0; i < DIM; i++) {
        double a = q[i], b = v[i];
        if (d == QV_DIST_EUCLID)
            s += (a - b) * (a - b);
        else if (d == QV_DIST_MANHATTAN)
            s += fabs(a - b);
        else {
            s += a * b;
            nq2 += a * a;
            nv2 += b * b;
        }
    }
    if (d == QV_DIST_EUCLID) return sqrt(s);
    if (d == QV_DIST_COSINE) return s / (sqrt(nq2) * sqrt(nv2));
    return s;
}

typedef struct ranked {
    double h; /* higher is better */
    uint32_t id;
} ranked;

static int by_h(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Brute force over the model: every live point passing fk, best first. */
static size_t brute(const model *m, qv_distance d, const float *q, int fk, ranked *out) {
    bool higher = qv_distance_higher_is_better(d);
    size_t n = 0;
    for (uint32_t i = 0; i < m->maxid; i++) {
        if (!m->live[i] || !model_passes(m, i, fk)) continue;
        double s = ref_score(d, q, m->vec + (size_t)i * DIM);
        out[n++] = (ranked){higher ? s : -s, i};
    }
    qsort(out, n, sizeof(ranked), by_h);
    return n;
}

static void run_query(qv_collection *c, const float *qv, const qv_filter *f, bool exact, size_t k,
                      hits *h) {
    float q[DIM];
    memcpy(q, qv, sizeof q); /* Cosine normalises in place */
    qv_query query = {.kind = QV_QUERY_NEAREST,
                      .using = "",
                      .vector = q,
                      .dim = DIM,
                      .filter = f,
                      .limit = k,
                      .exact = exact};
    h->n = 0;
    qv_err err;
    qv_rc rc = qv_collection_query(c, &query, 1, NULL, NULL, collect, h, &err);
    if (rc) fail_msg("query: %s", err.msg);
}

/* Every hit is a live point passing the filter, scored as the brute force
 * scores it, in order, without duplicates. */
static void check_hits(const model *m, qv_distance d, const float *q, int fk, const hits *h) {
    bool higher = qv_distance_higher_is_better(d);
    for (size_t r = 0; r < h->n; r++) {
        uint64_t id = h->ids[r];
        if (id >= m->maxid || !m->live[id])
            fail_msg("hit %zu: point %" PRIu64 " is not live", r, id);
        if (!model_passes(m, (uint32_t)id, fk))
            fail_msg("hit %zu: point %" PRIu64 " fails filter %d", r, id, fk);
        double own = ref_score(d, q, m->vec + id * DIM);
        if (fabs(own - h->scores[r]) > 1e-4 * fmax(1.0, fabs(own)))
            fail_msg("hit %zu: point %" PRIu64 " scored %.7g, brute force %.7g", r, id,
                     (double)h->scores[r], own);
        for (size_t k = 0; k < r; k++) assert_true(h->ids[k] != id);
        if (r > 0)
            assert_true(higher ? h->scores[r] <= h->scores[r - 1]
                               : h->scores[r] >= h->scores[r - 1]);
    }
}

/* Exact queries equal the brute force; approximate ones reach recall@10 >=
 * min_recall (on average over nq random queries), for each filter. */
static void check_queries(qv_collection *c, const model *m, qv_distance d, const filters *fs,
                          rng *r, double min_recall) {
    ranked *bf = malloc(sizeof(ranked) * m->maxid);
    assert_non_null(bf);
    for (int fk = 0; fk < F_COUNT; fk++) {
        double recall = 0;
        for (uint32_t j = 0; j < nq; j++) {
            float q[DIM];
            for (int k = 0; k < DIM; k++) q[k] = frand(r);
            size_t nb = brute(m, d, q, fk, bf);
            size_t want = nb < K ? nb : K;
            hits h;
            run_query(c, q, fs->f[fk], true, K, &h);
            assert_int_equal(h.n, want);
            check_hits(m, d, q, fk, &h);
            for (size_t i = 0; i < h.n; i++) {
                double got = qv_distance_higher_is_better(d) ? h.scores[i] : -h.scores[i];
                if (fabs(got - bf[i].h) > 1e-4 * fmax(1.0, fabs(bf[i].h)))
                    fail_msg("%s filter %d exact rank %zu: %.7g, brute force %.7g",
                             qv_distance_name(d), fk, i, got, bf[i].h);
            }
            run_query(c, q, fs->f[fk], false, K, &h);
            assert_int_equal(h.n, want);
            check_hits(m, d, q, fk, &h);
            size_t found = 0;
            for (size_t i = 0; i < h.n; i++)
                for (size_t k = 0; k < want; k++) found += h.ids[i] == bf[k].id;
            recall += want ? (double)found / (double)want : 1.0;
        }
        recall /= nq;
        if (recall < min_recall)
            fail_msg("%s filter %d: recall@10 %.3f < %.2f", qv_distance_name(d), fk, recall,
                     min_recall);
    }
    free(bf);
}

/* ---- files ------------------------------------------------------------------------ */

static char copy_src[512], copy_dst[512];

static int copy_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    char to[1024];
    snprintf(to, sizeof to, "%s%s", copy_dst, path + strlen(copy_src));
    if (flag == FTW_D) return mkdir(to, 0755) == 0 ? 0 : -1;
    if (flag != FTW_F) return 0;
    int in = open(path, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    char buf[65536];
    ssize_t k;
    while (rc == 0 && (k = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)k) != k) rc = -1;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
}

/* Copies collection directory `from` to `to` (which must not exist), as a
 * crash would leave it: whatever is on disk now. */
static void copy_coll(const char *from, const char *to) {
    coll_path(from, copy_src, sizeof copy_src);
    coll_path(to, copy_dst, sizeof copy_dst);
    qv_rmtree(copy_dst);
    assert_int_equal(nftw(copy_src, copy_cb, 16, FTW_PHYS), 0);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Finds dir's only entry starting with prefix (and not ending in .tmp). */
static void find_entry(const char *dir, const char *prefix, char *out, size_t n) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && !strstr(e->d_name, ".tmp")) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            found++;
        }
    closedir(d);
    if (found != 1) fail_msg("%d entries %s* in %s", found, prefix, dir);
}

static void flip_byte(const char *path, long pos) {
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (pos < 0) pos += st.st_size;
    if (pos >= st.st_size) pos = st.st_size / 2;
    assert_true(pos >= 0 && pos < st.st_size);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, pos), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, pos), 1);
    close(fd);
}

/* ---- (a) indexing, every distance --------------------------------------------------- */

static void test_indexing_every_distance(void **state) {
    static const qv_distance ds[] = {QV_DIST_COSINE, QV_DIST_DOT, QV_DIST_EUCLID,
                                     QV_DIST_MANHATTAN};
    filters fs;
    filters_init(&fs);
    for (int di = 0; di < 4; di++) {
        char name[32];
        snprintf(name, sizeof name, "idx-%d", di);
        qv_collection_config cfg;
        make_config(&cfg, ds[di]);
        qv_collection *c = create(name, &cfg);
        model *m = model_new(npts);
        rng r = {100 + (uint64_t)di};
        load_range(c, m, &r, 0, npts);
        qv_collection_stats s = stats(c);
        assert_int_equal(s.points_count, npts);
        assert_int_equal(s.indexed_vectors_count, 0);
        assert_int_equal(s.segments_count, 1);
        assert_true(s.optimizing); /* due, quiet period or not */
        assert_string_equal(optimize(c), "indexing");
        s = stats(c);
        assert_int_equal(s.points_count, npts);
        assert_int_equal(s.indexed_vectors_count, npts);
        assert_int_equal(s.segments_count, 2);
        assert_false(s.optimizing);
        assert_string_equal(optimize(c), ""); /* nothing more to do */
        check_state(c, m, ds[di], &fs);
        check_queries(c, m, ds[di], &fs, &r, 0.95);
        qv_collection_destroy(c);
        model_free(m);
    }
    qv_arena_free(&fs.a);
}

/* ---- (b) copy on write after indexing -------------------------------------------------- */

/* Deletes, upserts of existing points, payload and vector edits of points
 * in the indexed segment, and new points; ids chosen by i % 13. */
static void mutate(qv_collection *c, model *m, rng *r, uint32_t lo, uint32_t hi) {
    uint32_t *ids = malloc(sizeof(uint32_t) * (hi - lo + 1));
    assert_non_null(ids);
    for (int kind = 0; kind < 5; kind++) {
        size_t n = 0;
        for (uint32_t i = lo; i < hi; i++)
            if (i % 13 == (uint32_t)kind && m->live[i]) ids[n++] = i;
        if (!n) continue;
        switch (kind) {
        case 0:
            assert_int_equal(w_delete(c, m, ids, n, false), QV_OK);
            break;
        case 1:
            assert_int_equal(w_upsert(c, m, r, ids, n, false), QV_OK);
            break;
        case 2:
            assert_int_equal(w_set_payload(c, m, ids, n, 3, (int)kind, false), QV_OK);
            break;
        case 3:
            assert_int_equal(w_update_vectors(c, m, r, ids, n, false), QV_OK);
            break;
        default: /* each edited twice: the second edit finds it already moved */
            assert_int_equal(w_set_payload(c, m, ids, n, 7, 1, false), QV_OK);
            assert_int_equal(w_update_vectors(c, m, r, ids, n, false), QV_OK);
            assert_int_equal(w_delete(c, m, ids, n / 2, true), QV_OK);
            break;
        }
    }
    free(ids);
}

static void test_copy_on_write(void **state) {
    filters fs;
    filters_init(&fs);
    static const qv_distance ds[] = {QV_DIST_COSINE, QV_DIST_EUCLID};
    for (int di = 0; di < 2; di++) {
        char name[32];
        snprintf(name, sizeof name, "cow-%d", di);
        qv_collection_config cfg;
        make_config(&cfg, ds[di]);
        qv_collection *c = create(name, &cfg);
        model *m = model_new(npts + 200);
        rng r = {200 + (uint64_t)di};
        load_range(c, m, &r, 0, npts);
        assert_string_equal(optimize(c), "indexing");
        mutate(c, m, &r, 0, npts);
        load_range(c, m, &r, npts, npts + 200); /* new points */
        /* a deleted point comes back by upsert */
        uint32_t again[2] = {0, 13};
        assert_false(m->live[0] || m->live[13]);
        assert_int_equal(w_upsert(c, m, &r, again, 2, true), QV_OK);
        qv_collection_stats s = stats(c);
        assert_int_equal(s.points_count, model_live(m));
        assert_int_equal(s.segments_count, 2);
        check_state(c, m, ds[di], &fs);
        check_queries(c, m, ds[di], &fs, &r, 0.95);
        /* the appendable segment (new and moved points) gets indexed too */
        assert_string_equal(optimize(c), "indexing");
        s = stats(c);
        assert_int_equal(s.points_count, model_live(m));
        assert_int_equal(s.indexed_vectors_count, model_live(m));
        check_state(c, m, ds[di], &fs);
        check_queries(c, m, ds[di], &fs, &r, 0.95);
        qv_collection_destroy(c);
        model_free(m);
    }
    qv_arena_free(&fs.a);
}

/* ---- (c) writes racing optimizations ------------------------------------------------------ */

typedef struct race {
    qv_collection *c;
    model *m;
    atomic_int writers_left;
    atomic_int failures;
    atomic_int optimizations;
    atomic_int reads;
    char msg[256];
    pthread_mutex_t mu;
} race;

static void race_fail(race *x, const char *what, uint64_t v) {
    pthread_mutex_lock(&x->mu);
    if (atomic_fetch_add(&x->failures, 1) == 0)
        snprintf(x->msg, sizeof x->msg, "%s %" PRIu64, what, v);
    pthread_mutex_unlock(&x->mu);
}

typedef struct writer {
    race *x;
    uint32_t lo, hi; /* its IDs (disjoint from the other writer's) */
    uint64_t seed;
    int ops;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    race *x = w->x;
    model *m = x->m;
    rng r = {w->seed};
    uint32_t ids[8], span = w->hi - w->lo;
    /* at least ops writes, more until a few optimizations ran meanwhile */
    for (int i = 0; (i < w->ops || (atomic_load(&x->optimizations) < 4 && i < 20 * w->ops)) &&
                    atomic_load(&x->failures) == 0;
         i++) {
        uint32_t n = 1 + (uint32_t)(rnext(&r) % 8);
        for (uint32_t k = 0; k < n; k++) ids[k] = w->lo + (uint32_t)(rnext(&r) % span);
        uint32_t what = (uint32_t)(rnext(&r) % 10);
        bool wait = rnext(&r) % 32 == 0;
        qv_rc rc;
        if (what < 4) {
            rc = w_upsert(x->c, m, &r, ids, n, wait);
        } else if (what < 6) {
            rc = w_delete(x->c, m, ids, n, wait);
        } else {
            /* edits need live points: keep those */
            uint32_t k2 = 0;
            for (uint32_t k = 0; k < n; k++) {
                bool dup = false;
                for (uint32_t j = 0; j < k2; j++) dup |= ids[j] == ids[k];
                if (m->live[ids[k]] && !dup) ids[k2++] = ids[k];
            }
            if (!k2) continue;
            if (what < 8)
                rc = w_set_payload(x->c, m, ids, k2, (int)(rnext(&r) % 10), i, wait);
            else
                rc = w_update_vectors(x->c, m, &r, ids, k2, wait);
        }
        if (rc) race_fail(x, "write failed, rc", (uint64_t)rc);
    }
    atomic_fetch_sub(&x->writers_left, 1);
    return NULL;
}

static void *optimizer_main(void *arg) {
    race *x = arg;
    for (int it = 0; atomic_load(&x->writers_left) > 0 && atomic_load(&x->failures) == 0; it++) {
        /* now and then the writes "paused": the appendable segment is
         * indexed below max_segment_size */
        if (it % 4 == 0) quiet(x->c);
        bool did = false;
        qv_err err;
        if (qv_collection_optimize(x->c, &did, &err) != QV_OK) race_fail(x, err.msg, 0);
        if (did)
            atomic_fetch_add(&x->optimizations, 1);
        else
            usleep(500);
    }
    return NULL;
}

typedef struct scan_ctx {
    bool has_last;
    uint64_t last;
    uint32_t n, bad;
} scan_ctx;

static bool scan_cb(void *ctx, const qv_point_view *p, float score) {
    scan_ctx *s = ctx;
    if (s->has_last && p->id.lo <= s->last) s->bad++;
    s->has_last = true;
    s->last = p->id.lo;
    s->n++;
    if (!qv_point_vector(p, 0)) s->bad++;
    return true;
}

/* Reads while the others write and optimize: scroll order, query results
 * without duplicates, stats, the optimizations report, checkpoints. */
static void *reader_main(void *arg) {
    race *x = arg;
    rng r = {77};
    for (int it = 0; atomic_load(&x->writers_left) > 0 && atomic_load(&x->failures) == 0; it++) {
        qv_err err;
        scan_ctx s = {0};
        qv_pointid next;
        bool more;
        if (qv_collection_scroll(x->c, NULL, NULL, 100000, NULL, scan_cb, &s, &next, &more, &err) !=
                QV_OK ||
            s.bad)
            race_fail(x, "scroll: bad points", s.bad);
        float q[DIM];
        for (int k = 0; k < DIM; k++) q[k] = frand(&r);
        qv_query query = {
            .kind = QV_QUERY_NEAREST, .using = "", .vector = q, .dim = DIM, .limit = K};
        query.exact = it % 2;
        hits h = {.n = 0};
        if (qv_collection_query(x->c, &query, 1, NULL, NULL, collect, &h, &err) != QV_OK)
            race_fail(x, err.msg, 0);
        for (size_t i = 0; i < h.n && i < MAX_HIT; i++)
            for (size_t k = 0; k < i; k++)
                if (h.ids[k] == h.ids[i]) race_fail(x, "query: duplicate", h.ids[i]);
        uint64_t cnt;
        if (qv_collection_count(x->c, NULL, NULL, &cnt, &err) != QV_OK) race_fail(x, err.msg, 0);
        qv_collection_stats st;
        qv_collection_stats_get(x->c, &st);
        if (st.broken) race_fail(x, st.broken_msg, 0);
        qv_optimizations o;
        qv_collection_optimizations(x->c, &o);
        for (uint32_t i = 0; i < o.ncompleted; i++)
            if (o.completed[i].status != QV_OPTIM_DONE) race_fail(x, "optimization failed", i);
        if (it % 64 == 63 && qv_collection_flush(x->c, true, &err) != QV_OK)
            race_fail(x, err.msg, 0);
        atomic_fetch_add(&x->reads, 1);
    }
    return NULL;
}

static void test_writes_during_optimizations(void **state) {
    filters fs;
    filters_init(&fs);
    qv_collection_config cfg;
    make_config(&cfg, QV_DIST_DOT);
    /* the appendable segment is indexed from 64 points on when writes
     * pause, at 256 (max_segment_size) even while they go on; small
     * segments merge; 100 deletions of over 20% vacuum */
    cfg.optimizer.indexing_threshold = (qv_opt_u64){true, 4};
    cfg.optimizer.max_segment_size = (qv_opt_u64){true, 16};
    cfg.optimizer.default_segment_number = 2;
    cfg.optimizer.vacuum_min_vector_number = 100;
    cfg.optimizer.deleted_threshold = 0.2;
    qv_collection *c = create("race", &cfg);
    uint32_t span = under_valgrind || SLOW_BUILD ? 192 : 640;
    race x = {.c = c, .m = model_new(2 * span)};
    pthread_mutex_init(&x.mu, NULL);
    rng r = {300};
    load_range(c, x.m, &r, 0, 2 * span); /* start with everything indexed */
    assert_string_equal(optimize(c), "indexing");
    atomic_init(&x.writers_left, 2);
    writer ws[2] = {{&x, 0, span, 301, 0}, {&x, span, 2 * span, 302, 0}};
    ws[0].ops = ws[1].ops = under_valgrind || SLOW_BUILD ? 400 : 2000;
    pthread_t tw[2], to, tr;
    assert_int_equal(pthread_create(&tw[0], NULL, writer_main, &ws[0]), 0);
    assert_int_equal(pthread_create(&tw[1], NULL, writer_main, &ws[1]), 0);
    assert_int_equal(pthread_create(&to, NULL, optimizer_main, &x), 0);
    assert_int_equal(pthread_create(&tr, NULL, reader_main, &x), 0);
    for (int i = 0; i < 2; i++) pthread_join(tw[i], NULL);
    pthread_join(to, NULL);
    pthread_join(tr, NULL);
    if (atomic_load(&x.failures)) fail_msg("%d failures, first: %s", x.failures, x.msg);
    assert_true(atomic_load(&x.optimizations) >= 1);
    /* whatever is still due, then the final state */
    int more = 0;
    while (strcmp(optimize(c), "") != 0) assert_true(++more < 500);
    if (getenv("QV_TEST_VERBOSE"))
        fprintf(stderr, "race: %d optimizations during the writes, %d after, %d reads\n",
                atomic_load(&x.optimizations), more, atomic_load(&x.reads));
    qv_collection_stats s = stats(c);
    assert_int_equal(s.points_count, model_live(x.m));
    assert_false(s.optimizing);
    check_state(c, x.m, QV_DIST_DOT, &fs);
    check_queries(c, x.m, QV_DIST_DOT, &fs, &r, 0.9);
    /* and after a reopen */
    qv_collection_destroy(c);
    c = reopen("race");
    qv_collection_stats s2 = stats(c);
    assert_int_equal(s2.points_count, s.points_count);
    assert_int_equal(s2.indexed_vectors_count, s.indexed_vectors_count);
    assert_int_equal(s2.segments_count, s.segments_count);
    check_state(c, x.m, QV_DIST_DOT, &fs);
    qv_collection_destroy(c);
    pthread_mutex_destroy(&x.mu);
    model_free(x.m);
    qv_arena_free(&fs.a);
}

/* ---- (d) persistence -------------------------------------------------------------------- */

/* Approximate results of a few queries (compared bitwise across reopens). */
static void snapshot_queries(qv_collection *c, const filters *fs, hits *out, int n) {
    rng r = {999};
    for (int j = 0; j < n; j++) {
        float q[DIM];
        for (int k = 0; k < DIM; k++) q[k] = frand(&r);
        run_query(c, q, fs->f[j % F_COUNT], false, K, &out[j]);
    }
}

static void assert_same_hits(const hits *a, const hits *b, int n) {
    for (int j = 0; j < n; j++) {
        assert_int_equal(a[j].n, b[j].n);
        assert_memory_equal(a[j].ids, b[j].ids, sizeof(uint64_t) * a[j].n);
        assert_memory_equal(a[j].scores, b[j].scores, sizeof(float) * a[j].n);
    }
}

static void test_persistence(void **state) {
    filters fs;
    filters_init(&fs);
    const qv_distance d = QV_DIST_COSINE;
    qv_collection_config cfg;
    make_config(&cfg, d);
    qv_collection *c = create("persist", &cfg);
    model *m = model_new(npts + 400);
    rng r = {400};
    load_range(c, m, &r, 0, npts);
    assert_string_equal(optimize(c), "indexing");
    mutate(c, m, &r, 0, npts / 2);
    qv_collection_stats s1 = stats(c);
    assert_int_equal(s1.segments_count, 2);
    enum { NSNAP = 12 };
    static hits before[NSNAP], after[NSNAP];
    snapshot_queries(c, &fs, before, NSNAP);

    /* checkpoint and reopen: the indexed segment is loaded, not rebuilt */
    char dir[512], segdir[1024], path[1200];
    coll_path("persist", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/segments", dir);
    find_entry(path, "seg-", segdir, sizeof segdir);
    qv_collection_destroy(c);
    c = reopen("persist");
    qv_collection_stats s2 = stats(c);
    assert_int_equal(s2.points_count, s1.points_count);
    assert_int_equal(s2.indexed_vectors_count, s1.indexed_vectors_count);
    assert_int_equal(s2.segments_count, s1.segments_count);
    assert_int_equal(s2.optimizing, s1.optimizing); /* the moved points: not yet indexed */
    char segdir2[1024];
    find_entry(path, "seg-", segdir2, sizeof segdir2); /* the same segment, not a rebuild */
    assert_string_equal(segdir, segdir2);
    snprintf(path, sizeof path, "%s/hnsw-0.qvh", segdir);
    assert_true(exists(path));
    check_state(c, m, d, &fs);
    snapshot_queries(c, &fs, after, NSNAP);
    assert_same_hits(before, after, NSNAP);
    check_queries(c, m, d, &fs, &r, 0.95);

    /* a crash: more writes (the last one fsynced, then the WAL flushed
     * without a checkpoint), the directory copied while open */
    mutate(c, m, &r, npts / 2, npts);
    load_range(c, m, &r, npts, npts + 400);
    qv_err err;
    assert_int_equal(qv_collection_flush(c, false, &err), QV_OK);
    uint64_t cp_op = c->checkpoint_op;
    assert_true(c->applied_op > cp_op);
    qv_collection_stats s3 = stats(c);
    snapshot_queries(c, &fs, before, NSNAP);
    copy_coll("persist", "persist-crash");
    qv_collection *c2 = reopen("persist-crash");
    assert_int_equal(c2->checkpoint_op, cp_op); /* replayed the rest */
    assert_int_equal(c2->applied_op, c->applied_op);
    qv_collection_stats s4 = stats(c2);
    assert_int_equal(s4.points_count, s3.points_count);
    assert_int_equal(s4.indexed_vectors_count, s3.indexed_vectors_count);
    assert_int_equal(s4.segments_count, s3.segments_count);
    check_state(c2, m, d, &fs);
    snapshot_queries(c2, &fs, after, NSNAP);
    assert_same_hits(before, after, NSNAP);
    qv_collection_destroy(c2);

    /* a crash right after an optimization swapped its segment in and
     * checkpointed: the copy holds the new layout */
    assert_string_equal(optimize(c), "indexing");
    qv_collection_stats s5 = stats(c);
    copy_coll("persist", "persist-crash2");
    c2 = reopen("persist-crash2");
    qv_collection_stats s6 = stats(c2);
    assert_int_equal(s6.indexed_vectors_count, s5.indexed_vectors_count);
    assert_int_equal(s6.segments_count, s5.segments_count);
    check_state(c2, m, d, &fs);
    qv_collection_destroy(c2);
    qv_collection_destroy(c);

    /* strays: a segment directory and a .tmp one no checkpoint names, and
     * an unfinished checkpoint, are removed at open */
    char stray[1200], stray_tmp[1200], stray_cp[1200];
    snprintf(stray, sizeof stray, "%s/segments/seg-%020d", dir, 9999);
    snprintf(stray_tmp, sizeof stray_tmp, "%s/segments/seg-%020d.tmp", dir, 10000);
    snprintf(stray_cp, sizeof stray_cp, "%s/checkpoints/cp-%020d.tmp", dir, 123456);
    const char *strays[] = {stray, stray_tmp, stray_cp};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mkdir(strays[i], 0755), 0);
        snprintf(path, sizeof path, "%s/points.dat", strays[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("junk", f);
        fclose(f);
    }
    c = reopen("persist");
    for (int i = 0; i < 3; i++)
        if (exists(strays[i])) fail_msg("%s survived the open", strays[i]);
    qv_collection_stats s7 = stats(c);
    assert_int_equal(s7.indexed_vectors_count, s5.indexed_vectors_count);
    assert_int_equal(s7.segments_count, s5.segments_count);
    check_state(c, m, d, &fs);
    check_queries(c, m, d, &fs, &r, 0.95);
    /* the segments the checkpoint names are still there, and only they */
    uint32_t ndirs = 0;
    snprintf(path, sizeof path, "%s/segments", dir);
    DIR *dd = opendir(path);
    assert_non_null(dd);
    struct dirent *e;
    while ((e = readdir(dd))) ndirs += e->d_name[0] != '.';
    closedir(dd);
    assert_int_equal(ndirs, s7.segments_count - 1);
    qv_collection_destroy(c);
    model_free(m);
    qv_arena_free(&fs.a);
}

/* ---- (e) merge and vacuum ---------------------------------------------------------------- */

static uint32_t seg_size(qv_collection *c, uint32_t si) {
    return qv_segment_size(c->segs[si].seg);
}

static void test_merge_and_vacuum(void **state) {
    filters fs;
    filters_init(&fs);
    const qv_distance d = QV_DIST_EUCLID;
    qv_collection_config cfg;
    make_config(&cfg, d);
    cfg.optimizer.default_segment_number = 1;
    cfg.optimizer.vacuum_min_vector_number = 100; /* the least Qdrant accepts */
    cfg.optimizer.deleted_threshold = 0.2;
    qv_collection *c = create("mv", &cfg);
    uint32_t half = npts / 2;
    model *m = model_new(npts);
    rng r = {500};
    load_range(c, m, &r, 0, half);
    assert_string_equal(optimize(c), "indexing");
    load_range(c, m, &r, half, npts);
    assert_string_equal(optimize(c), "indexing");
    qv_collection_stats s = stats(c);
    assert_int_equal(s.segments_count, 3);
    assert_true(s.optimizing); /* a merge is due */
    qv_optimizations o;
    qv_collection_optimizations(c, &o);
    assert_true(o.has_queued);
    assert_string_equal(o.queued.optimizer, "merge");
    assert_int_equal(o.queued.nsegs, 2);

    assert_string_equal(optimize(c), "merge");
    s = stats(c);
    assert_int_equal(s.segments_count, 2);
    assert_int_equal(s.points_count, npts);
    assert_int_equal(s.indexed_vectors_count, npts);
    assert_false(s.optimizing);
    qv_collection_optimizations(c, &o);
    assert_int_equal(o.ncompleted, 3);
    assert_int_equal(o.completed[0].nsegs, 2);
    assert_int_equal(o.completed[0].segs[0].points + o.completed[0].segs[1].points, npts);
    assert_string_equal(o.completed[1].optimizer, "indexing");
    assert_int_equal(seg_size(c, 1), npts);
    check_state(c, m, d, &fs);
    check_queries(c, m, d, &fs, &r, 0.95);

    /* deletions: just at the threshold nothing happens, past it a vacuum */
    uint32_t *ids = malloc(sizeof(uint32_t) * npts);
    assert_non_null(ids);
    uint32_t n = 0;
    for (uint32_t i = 0; i < npts && n < npts / 5; i += 2) ids[n++] = i;
    assert_int_equal(w_delete(c, m, ids, n, true), QV_OK); /* exactly 20% */
    assert_string_equal(optimize(c), "");
    n = 0;
    for (uint32_t i = 1; i < npts && n < npts / 10; i += 4) ids[n++] = i;
    assert_int_equal(w_delete(c, m, ids, n, true), QV_OK); /* 30% */
    s = stats(c);
    assert_true(s.optimizing);
    assert_string_equal(optimize(c), "vacuum");
    free(ids);
    s = stats(c);
    assert_int_equal(s.segments_count, 2);
    assert_int_equal(s.points_count, model_live(m));
    assert_int_equal(s.indexed_vectors_count, model_live(m));
    assert_int_equal(seg_size(c, 1), model_live(m)); /* the dead are gone */
    assert_false(s.optimizing);
    assert_string_equal(optimize(c), "");
    check_state(c, m, d, &fs);
    check_queries(c, m, d, &fs, &r, 0.95);
    /* the vacuumed layout survives a reopen */
    qv_collection_destroy(c);
    c = reopen("mv");
    s = stats(c);
    assert_int_equal(s.segments_count, 2);
    assert_int_equal(s.indexed_vectors_count, model_live(m));
    check_state(c, m, d, &fs);
    qv_collection_destroy(c);
    model_free(m);
    qv_arena_free(&fs.a);
}

/* ---- (f) corruption ---------------------------------------------------------------------- */

/* Opens a copy of collection `name` whose file `rel` (relative to the
 * collection directory; "" = none) had a byte at pos flipped (or was
 * removed when pos == LONG_MIN): the open must fail with a broken
 * collection that refuses reads and writes and frees cleanly. */
static void open_corrupted(const char *name, const char *rel, long pos, bool expect_ok) {
    copy_coll(name, "corrupt");
    char dir[512], path[1200];
    coll_path("corrupt", dir, sizeof dir);
    if (rel[0]) {
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (pos == LONG_MIN)
            assert_int_equal(unlink(path), 0);
        else
            flip_byte(path, pos);
    }
    qv_collection *c = NULL;
    qv_err err;
    qv_rc rc = qv_collection_open(dir, "corrupt", &c, &err);
    assert_non_null(c);
    if (expect_ok) {
        if (rc) fail_msg("open failed: %s", err.msg);
        assert_false(stats(c).broken);
        qv_collection_destroy(c);
        return;
    }
    if (rc == QV_OK) fail_msg("%s with byte %ld flipped opened fine", rel, pos);
    qv_collection_stats s;
    qv_collection_stats_get(c, &s);
    assert_true(s.broken);
    assert_true(s.broken_msg[0] != '\0');
    uint64_t cnt;
    assert_int_equal(qv_collection_count(c, NULL, NULL, &cnt, &err), QV_EUNAVAILABLE);
    uint32_t id = 1;
    model *m = model_new(4);
    rng r = {1};
    assert_int_equal(w_upsert(c, m, &r, &id, 1, true), QV_EUNAVAILABLE);
    model_free(m);
    bool did = true;
    assert_int_equal(qv_collection_optimize(c, &did, &err), QV_OK);
    assert_false(did);
    qv_collection_destroy(c);
}

static void test_corruption(void **state) {
    qv_collection_config cfg;
    make_config(&cfg, QV_DIST_DOT);
    qv_collection *c = create("bad", &cfg);
    uint32_t n = npts / 4;
    model *m = model_new(n);
    rng r = {600};
    load_range(c, m, &r, 0, n);
    assert_string_equal(optimize(c), "indexing");
    uint32_t ids[3] = {1, 5, 9};
    assert_int_equal(w_delete(c, m, ids, 3, true), QV_OK);
    qv_collection_destroy(c);
    model_free(m);

    char dir[512], path[1200], seg[1200], cp[1200];
    coll_path("bad", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/segments", dir);
    find_entry(path, "seg-", seg, sizeof seg);
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    find_entry(path, "cp-", cp, sizeof cp);
    const char *segname = seg + strlen(dir) + 1, *cpname = cp + strlen(dir) + 1;
    char dead[1200];
    snprintf(path, sizeof path, "%s", cp);
    find_entry(path, "dead-", dead, sizeof dead);
    const char *deadname = dead + strlen(dir) + 1;

    open_corrupted("bad", "", 0, true); /* the copy itself is fine */
    static const char *const seg_files[] = {"points.dat", "vectors-0.dat", "hnsw-0.qvh",
                                            "segment.qvs"};
    static const long positions[] = {0, 9, 40, -1, LONG_MIN};
    char rel[1300];
    for (int f = 0; f < 4; f++)
        for (int p = 0; p < 5; p++) {
            snprintf(rel, sizeof rel, "%s/%s", segname, seg_files[f]);
            open_corrupted("bad", rel, positions[p], false);
        }
    for (int p = 0; p < 5; p++) {
        open_corrupted("bad", deadname, positions[p], false);
        /* removed too: a checkpoint without segments.qvm is one of the
         * single-segment format, which a segment directory beside it
         * contradicts */
        snprintf(rel, sizeof rel, "%s/segments.qvm", cpname);
        open_corrupted("bad", rel, positions[p], false);
    }
    /* the segment directory gone altogether */
    copy_coll("bad", "corrupt");
    coll_path("corrupt", path, sizeof path);
    snprintf(rel, sizeof rel, "%s/%s", path, segname);
    qv_rmtree(rel);
    qv_collection *c2 = NULL;
    qv_err err;
    assert_int_not_equal(qv_collection_open(path, "corrupt", &c2, &err), QV_OK);
    assert_non_null(c2);
    assert_true(c2->broken);
    qv_collection_destroy(c2);
    qv_rmtree(path);
}

int main(void) {
    qv_log_set_level(QV_LOG_OFF); /* the corrupt opens log their errors */
    under_valgrind = getenv("QV_UNDER_VALGRIND") != NULL;
    npts = under_valgrind ? 400 : SLOW_BUILD ? 800 : 2000;
    nq = under_valgrind ? 6 : SLOW_BUILD ? 10 : 20;
    snprintf(root, sizeof root, "/tmp/qv-test-optimizer-XXXXXX");
    if (!mkdtemp(root)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexing_every_distance),
        cmocka_unit_test(test_copy_on_write),
        cmocka_unit_test(test_writes_during_optimizations),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_merge_and_vacuum),
        cmocka_unit_test(test_corruption),
    };
    if (getenv("QV_TEST_FILTER")) cmocka_set_test_filter(getenv("QV_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    qv_pool_search_shutdown();
    qv_rmtree(root);
    return rc;
}
