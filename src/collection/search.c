/*
 * search.c - the read side of a collection: retrieve, scroll, count, and
 * exact nearest-neighbour queries, all under the shard's read lock.
 *
 * Exact search: queries of one request are grouped by the vector they use;
 * each group scans the vector matrix once, scoring every live point that
 * has the vector against up to QV_KERNEL_MAX_BATCH queries at a time with
 * the block kernels, a few stored vectors per call (the scan is
 * memory-bound, so sharing it is what makes batches cheap; blocking stored
 * vectors keeps a big batch from being bound by loads of query chunks).
 * Large segments are split over the search thread pool.  Scores are
 * buffered per round of points, and a point is offered to a query's heap
 * (exclusion, threshold, filter, push) only when its score could enter it,
 * so filters are evaluated for few points.  Each query keeps a bounded
 * heap of its best offset+limit hits; ties in score are broken by point ID
 * (smaller first), so results are deterministic and match Qdrant's order.
 *
 * What it does not do: HNSW and payload indexes come with later issues; the
 * planner that chooses between them and this scan will live beside it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "core/pool.h"
#include "index/filter.h"

/* ---- point views -------------------------------------------------------------- */

const float *qv_point_vector(const qv_point_view *p, uint32_t vec_index) {
    return qv_segment_vector(p->seg, vec_index, p->offset);
}

static void view_of(const qv_segment *s, uint32_t off, qv_point_view *v) {
    v->id = *qv_segment_id(s, off);
    v->payload = qv_segment_payload(s, off);
    v->version = qv_segment_version(s, off);
    v->seg = s;
    v->offset = off;
}

typedef struct vec_ctx {
    const qv_collection *c;
    uint32_t off;
} vec_ctx;

static bool has_vector_cb(void *ctx, const char *name) {
    vec_ctx *v = ctx;
    int vi = qv_collection_config_vector(&v->c->cfg, name);
    return vi >= 0 && qv_segment_vector(v->c->seg, (uint32_t)vi, v->off) != NULL;
}

static bool matches(const qv_collection *c, const qv_filter *f, uint32_t off) {
    if (!f) return true;
    vec_ctx vc = {c, off};
    qv_filter_point fp = {qv_segment_id(c->seg, off), qv_segment_payload(c->seg, off),
                          has_vector_cb, &vc};
    return qv_filter_match(f, &fp);
}

static qv_rc read_begin(qv_collection *c, qv_err *err) {
    if (c->broken)
        return qv_fail(err, QV_EUNAVAILABLE, "collection %s is broken: %s", c->name, c->broken_msg);
    pthread_rwlock_rdlock(&c->lock);
    return QV_OK;
}

/* Strict mode's verdict on a read (rc from its checks, the lock held),
 * then its read rate limit charged with cost.  On refusal the lock is
 * released: the caller returns rc at once. */
static qv_rc read_admit(qv_collection *c, qv_rc rc, uint64_t cost, qv_err *err) {
    if (rc == QV_OK && qv_strict_enabled(&c->cfg.strict))
        rc = qv_strict_charge(&c->limiter, false, cost, err);
    if (rc) pthread_rwlock_unlock(&c->lock);
    return rc;
}

/* The ID order of the segment; computing it needs the write lock, so a
 * reader that finds it stale upgrades briefly. */
static const uint32_t *id_order(qv_collection *c, uint32_t *n) {
    if (!qv_segment_order_ready(c->seg)) {
        pthread_rwlock_unlock(&c->lock);
        pthread_rwlock_wrlock(&c->lock);
        qv_segment_id_order(c->seg, n);
        pthread_rwlock_unlock(&c->lock);
        pthread_rwlock_rdlock(&c->lock);
    }
    /* A writer may have slipped in between; then sort again under a write
     * lock is not possible here, so fall back to a private sorted copy. */
    if (!qv_segment_order_ready(c->seg)) return NULL;
    return qv_segment_id_order(c->seg, n);
}

/* ---- retrieve / scroll / count ------------------------------------------------ */

qv_rc qv_collection_retrieve(qv_collection *c, const qv_pointid *ids, size_t n,
                             const qv_read_opts *opts, qv_point_cb cb, void *ctx, qv_err *err) {
    qv_rc rc = read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, NULL, 0, opts, err);
    if ((rc = read_admit(c, rc, n, err))) return rc;
    for (size_t i = 0; i < n; i++) {
        uint32_t off;
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = qv_pointid_eq(&ids[k], &ids[i]);
        if (dup || !qv_segment_find(c->seg, &ids[i], &off)) continue;
        qv_point_view v;
        view_of(c->seg, off, &v);
        if (!cb(ctx, &v, 0)) break;
    }
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

static int cmp_off_by_id(const void *a, const void *b, void *ctx) {
    const qv_segment *s = ctx;
    return qv_pointid_cmp(qv_segment_id(s, *(const uint32_t *)a),
                          qv_segment_id(s, *(const uint32_t *)b));
}

/* Live offsets in ID order: the segment's cached order, or a private copy
 * (malloc'd into *owned) when a writer invalidated it meanwhile. */
static const uint32_t *ordered(qv_collection *c, uint32_t *n, uint32_t **owned) {
    *owned = NULL;
    const uint32_t *o = id_order(c, n);
    if (o) return o;
    uint32_t size = qv_segment_size(c->seg), k = 0;
    uint32_t *mine = malloc(sizeof(uint32_t) * (size ? size : 1));
    if (!mine) return NULL;
    for (uint32_t i = 0; i < size; i++)
        if (qv_segment_is_live(c->seg, i)) mine[k++] = i;
    qsort_r(mine, k, sizeof(uint32_t), cmp_off_by_id, c->seg);
    *n = k;
    *owned = mine;
    return mine;
}

/* First index in order whose ID is >= id (binary search). */
static uint32_t lower_bound(const qv_segment *s, const uint32_t *order, uint32_t n,
                            const qv_pointid *id) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (qv_pointid_cmp(qv_segment_id(s, order[mid]), id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

qv_rc qv_collection_scroll(qv_collection *c, const qv_filter *filter, const qv_pointid *offset,
                           size_t limit, const qv_read_opts *opts, qv_point_cb cb, void *ctx,
                           qv_pointid *next, bool *has_next, qv_err *err) {
    *has_next = false;
    qv_rc rc = read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, limit, opts, err);
    if ((rc = read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    uint32_t n, *owned;
    const uint32_t *order = ordered(c, &n, &owned);
    *has_next = false;
    if (!order) {
        pthread_rwlock_unlock(&c->lock);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    size_t got = 0;
    for (uint32_t i = offset ? lower_bound(c->seg, order, n, offset) : 0; i < n; i++) {
        if (!matches(c, filter, order[i])) continue;
        if (got == limit) {
            *next = *qv_segment_id(c->seg, order[i]);
            *has_next = true;
            break;
        }
        qv_point_view v;
        view_of(c->seg, order[i], &v);
        got++;
        if (!cb(ctx, &v, 0)) break;
    }
    free(owned);
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

qv_rc qv_collection_count(qv_collection *c, const qv_filter *filter, const qv_read_opts *opts,
                          uint64_t *count, qv_err *err) {
    qv_rc rc = read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, 0, opts, err);
    if ((rc = read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    uint64_t k = 0;
    if (!filter) {
        k = qv_segment_live_count(c->seg);
    } else {
        uint32_t size = qv_segment_size(c->seg);
        for (uint32_t i = 0; i < size; i++)
            if (qv_segment_is_live(c->seg, i) && matches(c, filter, i)) k++;
    }
    pthread_rwlock_unlock(&c->lock);
    *count = k;
    return QV_OK;
}

qv_rc qv_collection_select_ids(qv_collection *c, const qv_filter *filter, qv_arena *a,
                               qv_pointid **ids, uint32_t *n, qv_err *err) {
    uint32_t size = qv_segment_size(c->seg), k = 0;
    qv_pointid *out = qv_arena_alloc(a, sizeof(qv_pointid) * (size ? size : 1));
    if (!out) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < size; i++)
        if (qv_segment_is_live(c->seg, i) && matches(c, filter, i))
            out[k++] = *qv_segment_id(c->seg, i);
    *ids = out;
    *n = k;
    return QV_OK;
}

void qv_collection_stats_get(qv_collection *c, qv_collection_stats *out) {
    memset(out, 0, sizeof *out);
    if (c->broken) {
        out->broken = true;
        snprintf(out->broken_msg, sizeof out->broken_msg, "%s", c->broken_msg);
        return;
    }
    pthread_rwlock_rdlock(&c->lock);
    out->points_count = qv_segment_live_count(c->seg);
    out->segments_count = 1;
    pthread_rwlock_unlock(&c->lock);
}

/* ---- exact nearest-neighbour search ----------------------------------------- */

typedef struct hit {
    float score; /* normalised so that larger is better */
    uint32_t off;
} hit;

/* A bounded heap keeping the k best hits; its root is the worst kept. */
typedef struct topk {
    hit *h;
    size_t n, k;
    const qv_segment *seg;
} topk;

/* a is worse than b: lower score, or equal score and larger point ID. */
static bool worse(const topk *t, const hit *a, const hit *b) {
    if (a->score != b->score) return a->score < b->score;
    return qv_pointid_cmp(qv_segment_id(t->seg, a->off), qv_segment_id(t->seg, b->off)) > 0;
}

static void sift_down(topk *t, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && worse(t, &t->h[l], &t->h[m])) m = l;
        if (r < t->n && worse(t, &t->h[r], &t->h[m])) m = r;
        if (m == i) return;
        hit tmp = t->h[i];
        t->h[i] = t->h[m];
        t->h[m] = tmp;
        i = m;
    }
}

static void topk_push(topk *t, hit x) {
    if (t->k == 0) return;
    if (t->n < t->k) {
        size_t i = t->n++;
        t->h[i] = x;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(t, &t->h[i], &t->h[p])) break;
            hit tmp = t->h[i];
            t->h[i] = t->h[p];
            t->h[p] = tmp;
            i = p;
        }
        return;
    }
    if (!worse(t, &t->h[0], &x)) return;
    t->h[0] = x;
    sift_down(t, 0);
}

static int cmp_best_first(const void *a, const void *b, void *ctx) {
    const topk *t = ctx;
    if (worse(t, a, b)) return 1;
    if (worse(t, b, a)) return -1;
    return 0;
}

typedef struct qstate {
    qv_query *q;
    int vi;
    qv_distance dist;
    bool higher; /* higher raw score is better */
    topk top;
    uint32_t exclude_off; /* NEAREST_ID: the query point itself */
    bool has_exclude;
} qstate;

/* Validates query i and prepares its state (query vector ready). */
static qv_rc prepare(qv_collection *c, qstate *s, qv_err *err) {
    qv_query *q = s->q;
    const char *using = q->using ? q->using : "";
    s->vi = qv_collection_config_vector(&c->cfg, using);
    if (q->kind == QV_QUERY_NONE) return QV_OK;
    if (s->vi < 0) return qv_fail(err, QV_EBADINPUT, "Not existing vector name error: %s", using);
    const qv_vector_params *vp = &c->cfg.vectors[s->vi];
    s->dist = vp->distance;
    s->higher = qv_distance_higher_is_better(s->dist);
    if (q->kind == QV_QUERY_NEAREST_ID) {
        uint32_t off;
        const float *v = NULL;
        if (!qv_segment_find(c->seg, &q->id, &off)) {
            char buf[48];
            qv_pointid_format(&q->id, buf);
            return qv_fail(err, QV_ENOTFOUND, "No point with id %s found", buf);
        }
        v = qv_segment_vector(c->seg, (uint32_t)s->vi, off);
        if (!v) return qv_fail(err, QV_EBADINPUT, "Point has no vector %s", using);
        q->vector = (float *)v; /* borrowed from the segment under our lock */
        q->dim = vp->size;
        s->exclude_off = off;
        s->has_exclude = true;
        return QV_OK;
    }
    if (q->dim != vp->size)
        return qv_fail(err, QV_EBADINPUT, "Vector dimension error: expected dim: %u, got %u",
                       vp->size, q->dim);
    for (uint32_t k = 0; k < q->dim; k++)
        if (!isfinite(q->vector[k]))
            return qv_fail(err, QV_EBADINPUT, "query vector contains a non-finite value");
    if (s->dist == QV_DIST_COSINE) qv_normalize(q->vector, q->dim);
    return QV_OK;
}

static bool passes_threshold(const qstate *s, float score) {
    if (!s->q->has_threshold) return true;
    return s->higher ? score > s->q->score_threshold : score < s->q->score_threshold;
}

typedef void (*block_fn)(const float *const *queries, size_t nq, const float *const *vs, size_t nv,
                         size_t dim, float *out, size_t ldo, const float *const *pf, size_t npf);

/* Stored vectors a scan scores per round (a multiple of QV_KERNEL_BLOCK_NV):
 * their scores for every query go to a buffer first, and only then to the
 * heaps, so the kernels run back to back and the heaps see few scores. */
#define SCAN_CHUNK 64

/* A round covers about this many bytes of stored vectors (within 4 and
 * SCAN_CHUNK vectors); it is also how far ahead the scan prefetches, since
 * the kernels fetch the next round (into L2) while scoring this one.
 * Measured on 100k x 384 (AVX-512, 2 cores): 32 KiB beat 8 and 16 KiB
 * and matched 64 KiB; prefetching also helps a single query a little. */
#define SCAN_AHEAD_BYTES 32768

/* One round: up to SCAN_CHUNK live points with the vector, in offset order. */
typedef struct chunk {
    const float *v[SCAN_CHUNK];
    uint32_t off[SCAN_CHUNK];
    size_t n;
} chunk;

/* Fills ch with the next up to max live offsets in [*pos, hi) that have
 * vector vi; advances *pos past them. */
static void gather(const qv_segment *seg, uint32_t vi, uint32_t *pos, uint32_t hi, size_t max,
                   chunk *ch) {
    size_t n = 0;
    uint32_t off = *pos;
    for (; off < hi && n < max; off++) {
        const float *v = qv_segment_vector(seg, vi, off);
        if (!v || !qv_segment_is_live(seg, off)) continue;
        ch->v[n] = v;
        ch->off[n++] = off;
    }
    *pos = off;
    ch->n = n;
}

/* Scores normalised so that larger is better ("h"): the heap's order. */
static inline float h_of(const qstate *s, float score) {
    return s->higher ? score : -score;
}

/* The smallest h that may still enter query s's results: below the
 * threshold or the worst kept hit of a full heap, a score cannot.  Points at
 * the bar itself go to offer_one, which decides ties exactly. */
static float bar_of(const qstate *s, const topk *t) {
    float bar = -INFINITY;
    if (s->q->has_threshold) bar = h_of(s, s->q->score_threshold);
    if (t->n == t->k && t->h[0].score > bar) bar = t->h[0].score;
    return bar;
}

/* Offers point off with score (final, unnormalised) to one query's heap:
 * exclusion, threshold and filter are checked here. */
static void offer_one(qv_collection *c, qstate *s, topk *t, uint32_t off, float score) {
    if (s->has_exclude && s->exclude_off == off) return;
    if (!passes_threshold(s, score) || !matches(c, s->q->filter, off)) return;
    hit h = {h_of(s, score), off};
    topk_push(t, h);
}

/* Turns a row of raw kernel results into h values (see h_of) in place. */
static void to_h(qv_distance d, float *r, size_t n) {
    switch (d) {
    case QV_DIST_EUCLID:
        for (size_t j = 0; j < n; j++) r[j] = -sqrtf(r[j]);
        break;
    case QV_DIST_MANHATTAN:
        for (size_t j = 0; j < n; j++) r[j] = -r[j];
        break;
    default: /* Cosine, Dot: the dot product itself */
        break;
    }
}

/* Scores a batch of queries (same vector) against offsets [lo, hi),
 * keeping each query's best hits in tops[i].  The scan goes in rounds of a
 * few live points: the block kernels score QV_KERNEL_BLOCK_NV stored
 * vectors against all queries per call (each stored vector is read from
 * memory once while the queries stay in cache), and the next round is
 * prefetched while this one is scored.  Then each query's row of
 * scores is compared with its bar (bar_of) and only what passes is offered
 * to its heap: the same result as offering every point.  A score does not
 * depend on the batch (see distance.h), so a query gets the same hits
 * alone or in any batch. */
static void scan_range(qv_collection *c, qstate **qs, size_t nq, uint32_t lo, uint32_t hi,
                       topk *tops) {
    const qv_kernels *k = qv_kernels_best();
    const float *qv[QV_KERNEL_MAX_BATCH];
    float bar[QV_KERNEL_MAX_BATCH];
    float sc[QV_KERNEL_MAX_BATCH * SCAN_CHUNK]; /* sc[i * SCAN_CHUNK + j] */
    chunk ch[2];
    uint32_t vi = (uint32_t)qs[0]->vi, dim = c->cfg.vectors[vi].size;
    qv_distance d = qs[0]->dist;
    block_fn block = d == QV_DIST_EUCLID      ? k->l2sq_block
                     : d == QV_DIST_MANHATTAN ? k->l1_block
                                              : k->dot_block;
    size_t per = SCAN_AHEAD_BYTES / ((size_t)dim * sizeof(float));
    per = (per + QV_KERNEL_BLOCK_NV - 1) / QV_KERNEL_BLOCK_NV * QV_KERNEL_BLOCK_NV;
    if (per < QV_KERNEL_BLOCK_NV) per = QV_KERNEL_BLOCK_NV;
    if (per > SCAN_CHUNK) per = SCAN_CHUNK;
    for (size_t i = 0; i < nq; i++) {
        qv[i] = qs[i]->q->vector;
        bar[i] = bar_of(qs[i], &tops[i]);
    }
    uint32_t pos = lo;
    int cur = 0;
    gather(c->seg, vi, &pos, hi, per, &ch[cur]);
    while (ch[cur].n > 0) {
        const chunk *now = &ch[cur], *next = &ch[cur ^ 1];
        gather(c->seg, vi, &pos, hi, per, &ch[cur ^ 1]);
        for (size_t j = 0; j < now->n; j += QV_KERNEL_BLOCK_NV) {
            size_t nv = now->n - j < QV_KERNEL_BLOCK_NV ? now->n - j : QV_KERNEL_BLOCK_NV;
            size_t npf = 0; /* the same slot of the next round */
            if (j < next->n)
                npf = next->n - j < QV_KERNEL_BLOCK_NV ? next->n - j : QV_KERNEL_BLOCK_NV;
            block(qv, nq, now->v + j, nv, dim, sc + j, SCAN_CHUNK, next->v + j, npf);
        }
        for (size_t i = 0; i < nq; i++) {
            float *r = sc + i * SCAN_CHUNK;
            to_h(d, r, now->n);
            for (size_t j = 0; j < now->n; j++) {
                if (r[j] < bar[i]) continue;
                offer_one(c, qs[i], &tops[i], now->off[j], qs[i]->higher ? r[j] : -r[j]);
                bar[i] = bar_of(qs[i], &tops[i]);
            }
        }
        cur ^= 1;
    }
}

/* Below this many points a scan is not worth splitting over threads. */
#define PAR_MIN_POINTS 16384
#define PAR_MIN_PART   4096

typedef struct scan_par {
    qv_collection *c;
    qstate **qs;
    size_t nq;
    uint32_t size, parts;
    topk *tops; /* parts x nq heaps */
} scan_par;

static void scan_part(void *ctx, size_t part) {
    scan_par *sp = ctx;
    uint32_t lo = (uint32_t)((uint64_t)sp->size * part / sp->parts);
    uint32_t hi = (uint32_t)((uint64_t)sp->size * (part + 1) / sp->parts);
    scan_range(sp->c, sp->qs, sp->nq, lo, hi, sp->tops + part * sp->nq);
}

/* Splits the scan of a large segment over the search pool: each part keeps
 * its own heaps (no sharing while scanning), merged at the end.  The
 * caller's read lock covers the workers, which wait for nothing else. */
static bool scan_parallel(qv_collection *c, qstate **qs, size_t nq, uint32_t size) {
    qv_pool *pool = qv_pool_search();
    uint32_t parts = qv_pool_width(pool) * 2;
    if (parts > size / PAR_MIN_PART) parts = size / PAR_MIN_PART;
    topk *tops = calloc((size_t)parts * nq, sizeof(topk));
    bool ok = tops != NULL;
    for (size_t t = 0; ok && t < (size_t)parts * nq; t++) {
        tops[t] = (topk){malloc(sizeof(hit) * qs[t % nq]->top.k), 0, qs[t % nq]->top.k, c->seg};
        ok = tops[t].h != NULL;
    }
    if (ok) {
        scan_par sp = {c, qs, nq, size, parts, tops};
        qv_pool_run(pool, parts, scan_part, &sp);
        for (size_t t = 0; t < (size_t)parts * nq; t++)
            for (size_t h = 0; h < tops[t].n; h++) topk_push(&qs[t % nq]->top, tops[t].h[h]);
    }
    for (size_t t = 0; tops && t < (size_t)parts * nq; t++) free(tops[t].h);
    free(tops);
    return ok;
}

/* Scores one batch of queries (same vector index) against every point. */
static void scan_batch(qv_collection *c, qstate **qs, size_t nq) {
    uint32_t size = qv_segment_size(c->seg);
    if (size >= PAR_MIN_POINTS && qv_pool_width(qv_pool_search()) > 1 &&
        scan_parallel(c, qs, nq, size))
        return;
    topk local[QV_KERNEL_MAX_BATCH];
    for (size_t i = 0; i < nq; i++) local[i] = qs[i]->top;
    scan_range(c, qs, nq, 0, size, local);
    for (size_t i = 0; i < nq; i++) qs[i]->top = local[i];
}

/* Groups the nearest queries by vector, QV_KERNEL_MAX_BATCH at a time, so
 * each group shares one pass over the matrix. */
static qv_rc scan_all(qv_collection *c, qstate *st, size_t n) {
    qstate *batch[QV_KERNEL_MAX_BATCH];
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!done) return QV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (done[i] || st[i].q->kind == QV_QUERY_NONE || st[i].top.k == 0) continue;
        size_t nb = 0;
        for (size_t j = i; j < n && nb < QV_KERNEL_MAX_BATCH; j++) {
            if (done[j] || st[j].q->kind == QV_QUERY_NONE || st[j].top.k == 0 ||
                st[j].vi != st[i].vi)
                continue;
            batch[nb++] = &st[j];
            done[j] = true;
        }
        scan_batch(c, batch, nb);
    }
    free(done);
    return QV_OK;
}

/* Emits a query's results (best first, offset skipped). */
static void emit(qv_collection *c, qstate *s, qv_point_cb cb, void *ctx) {
    if (s->top.n > 1) qsort_r(s->top.h, s->top.n, sizeof(hit), cmp_best_first, &s->top);
    for (size_t i = s->q->offset; i < s->top.n; i++) {
        qv_point_view v;
        view_of(c->seg, s->top.h[i].off, &v);
        float score = s->higher ? s->top.h[i].score : -s->top.h[i].score;
        if (!cb(ctx, &v, score)) return;
    }
}

/* No query: points in ID order (offset and limit as counts). */
static void emit_by_id(qv_collection *c, qstate *s, qv_point_cb cb, void *ctx) {
    uint32_t n, *owned;
    const uint32_t *order = ordered(c, &n, &owned);
    size_t skipped = 0, got = 0;
    for (uint32_t i = 0; order && i < n && got < s->q->limit; i++) {
        if (!matches(c, s->q->filter, order[i])) continue;
        if (skipped++ < s->q->offset) continue;
        qv_point_view v;
        view_of(c->seg, order[i], &v);
        got++;
        if (!cb(ctx, &v, 0)) break;
    }
    free(owned);
}

qv_rc qv_collection_query(qv_collection *c, qv_query *queries, size_t n, const qv_read_opts *opts,
                          qv_query_begin_cb begin, qv_point_cb cb, void *ctx, qv_err *err) {
    qv_rc rc = read_begin(c, err);
    if (rc) return rc;
    uint64_t cost = 0; /* the read rate limit's charge, only wanted in strict mode */
    if (qv_strict_enabled(&c->cfg.strict))
        for (size_t i = 0; i < n; i++) cost += 1 + qv_strict_filter_cost(queries[i].filter);
    rc = qv_strict_check_queries(&c->cfg.strict, &c->indexes, queries, n, opts, err);
    if ((rc = read_admit(c, rc, cost, err))) return rc;
    qstate *st = calloc(n ? n : 1, sizeof(qstate));
    if (!st) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        st[i].q = &queries[i];
        rc = prepare(c, &st[i], err);
        size_t k = queries[i].limit + queries[i].offset;
        if (k < queries[i].limit) k = SIZE_MAX / sizeof(hit); /* overflow */
        uint32_t live = qv_segment_live_count(c->seg);
        if (k > live) k = live;
        st[i].top = (topk){NULL, 0, k, c->seg};
        if (rc == QV_OK && k) {
            st[i].top.h = malloc(sizeof(hit) * k);
            if (!st[i].top.h) rc = qv_fail(err, QV_ENOMEM, "out of memory");
        }
    }
    if (rc == QV_OK && scan_all(c, st, n) != QV_OK) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    if (rc == QV_OK) {
        for (size_t i = 0; i < n; i++) {
            if (begin) begin(ctx, i);
            if (queries[i].kind == QV_QUERY_NONE)
                emit_by_id(c, &st[i], cb, ctx);
            else
                emit(c, &st[i], cb, ctx);
        }
    }
    for (size_t i = 0; st && i < n; i++) free(st[i].top.h);
    free(st);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}
