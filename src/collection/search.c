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
 * Segments: a query runs over every segment of the shard into the same
 * heaps (a hit names its segment).  A segment with an HNSW graph for the
 * query's vector is searched through it (ef = params.hnsw_ef, else the
 * graph's ef_construct; rejected points are traversed, never returned),
 * unless the query asks for exact search or the points its filter lets
 * through, as the plan estimates them, hold fewer vector bytes than
 * full_scan_threshold: then the segment is scanned as above.
 * A segment with quantized codes for the query's vector is searched over
 * the codes, through its graph or by a scan: the best limit x oversampling
 * estimates are kept and, unless params.quantization says rescore: false,
 * rescored with the float vectors; params.exact and quantization.ignore use
 * the float vectors instead.
 * Scroll and ID-ordered queries merge the segments' ID orders.
 *
 * Filters: every reader plans a filter per segment (plan.h) from the
 * segment's payload indexes: a set of candidates and, where the indexes
 * answer exactly, a one-bit check per point; the plan's estimate decides
 * graph or scan, and a scanned query with candidates scores only those
 * (pre-filtered exact search), alone rather than in a shared batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "collection/plan.h"
#include "core/bitset.h"
#include "core/pool.h"
#include "index/filter.h"
#include "index/hnsw.h"
#include "index/qcodes.h"

/* ---- point views -------------------------------------------------------------- */

/* A per-thread float buffer of at least n floats (NULL when it cannot
 * grow), for rows that are decoded right before use: float16/uint8 rows
 * read back to a client, or rescored.  Freed when the thread exits. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

typedef struct scratch {
    size_t cap;
    float f[];
} scratch;

static void scratch_init(void) {
    (void)pthread_key_create(&scratch_key, free);
}

static float *thread_scratch(size_t n) {
    pthread_once(&scratch_once, scratch_init);
    scratch *b = pthread_getspecific(scratch_key);
    if (b && b->cap >= n) return b->f;
    scratch *nb = realloc(b, sizeof *nb + n * sizeof(float));
    if (!nb) return NULL;
    nb->cap = n;
    (void)pthread_setspecific(scratch_key, nb);
    return nb->f;
}

const float *qv_point_vector(const qv_point_view *p, uint32_t vec_index) {
    if (qv_segment_elem(p->seg, vec_index) == QV_ELEM_F32)
        return qv_segment_vector(p->seg, vec_index, p->offset, NULL);
    if (!qv_segment_has_vector(p->seg, vec_index, p->offset)) return NULL;
    float *buf = thread_scratch(qv_segment_dim(p->seg, vec_index));
    return buf ? qv_segment_vector(p->seg, vec_index, p->offset, buf) : NULL;
}

void qv_view_of(const qv_segment *s, uint32_t off, qv_point_view *v) {
    v->id = *qv_segment_id(s, off);
    v->payload = qv_segment_payload(s, off);
    v->version = qv_segment_version(s, off);
    v->seg = s;
    v->offset = off;
}

/* One filter plan per segment of the shard (plan.h); NULL on OOM.  With
 * no filter, NULL too: callers treat "no plans" as every live point. */
static qv_fplan *plans_new(qv_collection *c, const qv_filter *f, bool *oom) {
    *oom = false;
    if (!f) return NULL;
    qv_fplan *p = calloc(c->nsegs ? c->nsegs : 1, sizeof *p);
    if (!p) {
        *oom = true;
        return NULL;
    }
    for (uint32_t si = 0; si < c->nsegs; si++) qv_fplan_build(&p[si], c, c->segs[si].seg, f);
    return p;
}

static void plans_free(qv_fplan *p, uint32_t n) {
    for (uint32_t si = 0; p && si < n; si++) qv_fplan_free(&p[si]);
    free(p);
}

/* Whether the point at off of segment si passes (plans may be NULL). */
static inline bool passes(const qv_fplan *plans, uint32_t si, uint32_t off) {
    return !plans || qv_fplan_check(&plans[si], off);
}

qv_rc qv_read_begin(qv_collection *c, qv_err *err) {
    if (c->broken)
        return qv_fail(err, QV_EUNAVAILABLE, "collection %s is broken: %s", c->name, c->broken_msg);
    pthread_rwlock_rdlock(&c->lock);
    return QV_OK;
}

/* Strict mode's verdict on a read (rc from its checks, the lock held),
 * then its read rate limit charged with cost.  On refusal the lock is
 * released: the caller returns rc at once. */
qv_rc qv_read_admit(qv_collection *c, qv_rc rc, uint64_t cost, qv_err *err) {
    if (rc == QV_OK && qv_strict_enabled(&c->cfg.strict))
        rc = qv_strict_charge(&c->limiter, false, cost, err);
    if (rc) pthread_rwlock_unlock(&c->lock);
    return rc;
}

/* A segment's live offsets in ID order.  Computing it changes the segment,
 * so readers take order_mu for it; once computed it stays valid until the
 * next write, which cannot come while the caller holds the read lock. */
static const uint32_t *id_order(qv_collection *c, qv_segment *s, uint32_t *n) {
    pthread_mutex_lock(&c->order_mu);
    const uint32_t *o = qv_segment_id_order(s, n);
    pthread_mutex_unlock(&c->order_mu);
    return o;
}

/* ---- retrieve / scroll / count ------------------------------------------------ */

qv_rc qv_collection_retrieve(qv_collection *c, const qv_pointid *ids, size_t n,
                             const qv_read_opts *opts, qv_point_cb cb, void *ctx, qv_err *err) {
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, NULL, 0, opts, err);
    if ((rc = qv_read_admit(c, rc, n, err))) return rc;
    for (size_t i = 0; i < n; i++) {
        uint32_t si, off;
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = qv_pointid_eq(&ids[k], &ids[i]);
        if (dup || !qv_shard_find(c, &ids[i], &si, &off)) continue;
        qv_point_view v;
        qv_view_of(c->segs[si].seg, off, &v);
        if (!cb(ctx, &v, 0)) break;
    }
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
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

/* Walks the live points of every segment in ID order (a merge of the
 * segments' orders; a point lives in one segment only). */
typedef struct id_walk {
    uint32_t nsegs;
    struct {
        const qv_segment *seg;
        const uint32_t *order;
        uint32_t n, pos;
    } s[];
} id_walk;

static id_walk *walk_begin(qv_collection *c, const qv_pointid *from) {
    id_walk *w = calloc(1, sizeof *w + sizeof w->s[0] * c->nsegs);
    if (!w) return NULL;
    w->nsegs = c->nsegs;
    for (uint32_t i = 0; i < c->nsegs; i++) {
        w->s[i].seg = c->segs[i].seg;
        w->s[i].order = id_order(c, c->segs[i].seg, &w->s[i].n);
        if (!w->s[i].order) w->s[i].n = 0;
        w->s[i].pos = from ? lower_bound(w->s[i].seg, w->s[i].order, w->s[i].n, from) : 0;
    }
    return w;
}

/* The next point in ID order (in segment *si); false at the end. */
static bool walk_next(id_walk *w, const qv_segment **seg, uint32_t *si, uint32_t *off) {
    int best = -1;
    const qv_pointid *bid = NULL;
    for (uint32_t i = 0; i < w->nsegs; i++) {
        if (w->s[i].pos >= w->s[i].n) continue;
        const qv_pointid *id = qv_segment_id(w->s[i].seg, w->s[i].order[w->s[i].pos]);
        if (best < 0 || qv_pointid_cmp(id, bid) < 0) {
            best = (int)i;
            bid = id;
        }
    }
    if (best < 0) return false;
    *seg = w->s[best].seg;
    *si = (uint32_t)best;
    *off = w->s[best].order[w->s[best].pos++];
    return true;
}

qv_rc qv_collection_scroll(qv_collection *c, const qv_filter *filter, const qv_pointid *offset,
                           size_t limit, const qv_read_opts *opts, qv_point_cb cb, void *ctx,
                           qv_pointid *next, bool *has_next, qv_err *err) {
    *has_next = false;
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, limit, opts, err);
    if ((rc = qv_read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    bool oom;
    qv_fplan *plans = plans_new(c, filter, &oom);
    id_walk *w = oom ? NULL : walk_begin(c, offset);
    if (!w) {
        plans_free(plans, c->nsegs);
        pthread_rwlock_unlock(&c->lock);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    size_t got = 0;
    const qv_segment *seg;
    uint32_t si, off;
    while (walk_next(w, &seg, &si, &off)) {
        if (!passes(plans, si, off)) continue;
        if (got == limit) {
            *next = *qv_segment_id(seg, off);
            *has_next = true;
            break;
        }
        qv_point_view v;
        qv_view_of(seg, off, &v);
        got++;
        if (!cb(ctx, &v, 0)) break;
    }
    free(w);
    plans_free(plans, c->nsegs);
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

/* Calls fn for every live point of plan p's segment that passes, in
 * offset order, visiting only the plan's candidates. */
static void plan_each(const qv_fplan *p, void (*fn)(void *ctx, uint32_t off), void *ctx) {
    if (p->cand) {
        for (size_t i = qv_bits_next(p->cand, 0, p->n); i < p->n;
             i = qv_bits_next(p->cand, i + 1, p->n))
            if (p->exact || qv_fplan_check(p, (uint32_t)i)) fn(ctx, (uint32_t)i);
        return;
    }
    for (uint32_t off = 0; off < p->n; off++)
        if (qv_fplan_check(p, off)) fn(ctx, off);
}

static void count_one(void *ctx, uint32_t off) {
    (void)off;
    (*(uint64_t *)ctx)++;
}

qv_rc qv_collection_count(qv_collection *c, const qv_filter *filter, const qv_read_opts *opts,
                          uint64_t *count, qv_err *err) {
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, 0, opts, err);
    if ((rc = qv_read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    uint64_t k = 0;
    if (!filter) {
        k = qv_shard_live(c);
    } else {
        for (uint32_t si = 0; si < c->nsegs; si++) {
            qv_fplan p;
            qv_fplan_build(&p, c, c->segs[si].seg, filter);
            if (p.exact)
                k += p.ncand;
            else
                plan_each(&p, count_one, &k);
            qv_fplan_free(&p);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    *count = k;
    return QV_OK;
}

typedef struct select_ctx {
    qv_pointid *out;
    uint32_t k;
    const qv_segment *seg;
} select_ctx;

static void select_one(void *ctx, uint32_t off) {
    select_ctx *x = ctx;
    x->out[x->k++] = *qv_segment_id(x->seg, off);
}

qv_rc qv_collection_count_approx(qv_collection *c, const qv_filter *filter,
                                 const qv_read_opts *opts, uint64_t *count, qv_err *err) {
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, 0, opts, err);
    if ((rc = qv_read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    uint64_t k = 0;
    for (uint32_t si = 0; si < c->nsegs; si++) {
        qv_fplan p;
        qv_fplan_build(&p, c, c->segs[si].seg, filter);
        k += qv_fplan_estimate(&p);
        qv_fplan_free(&p);
    }
    pthread_rwlock_unlock(&c->lock);
    *count = k;
    return QV_OK;
}

qv_rc qv_collection_select_ids(qv_collection *c, const qv_filter *filter, qv_arena *a,
                               qv_pointid **ids, uint32_t *n, qv_err *err) {
    uint64_t total = qv_shard_live(c);
    qv_pointid *out = qv_arena_alloc(a, sizeof(qv_pointid) * (total ? total : 1));
    if (!out) return qv_fail(err, QV_ENOMEM, "out of memory");
    select_ctx x = {out, 0, NULL};
    for (uint32_t si = 0; si < c->nsegs; si++) {
        qv_fplan p;
        qv_fplan_build(&p, c, c->segs[si].seg, filter);
        x.seg = c->segs[si].seg;
        plan_each(&p, select_one, &x);
        qv_fplan_free(&p);
    }
    *ids = out;
    *n = x.k;
    return QV_OK;
}

void qv_collection_stats_get(qv_collection *c, qv_collection_stats *out) {
    memset(out, 0, sizeof *out);
    if (c->broken) {
        out->broken = true;
        snprintf(out->broken_msg, sizeof out->broken_msg, "%s", c->broken_msg);
        return;
    }
    out->optimizing = qv_collection_optimization_pending(c);
    pthread_rwlock_rdlock(&c->lock);
    out->points_count = qv_shard_live(c);
    out->segments_count = c->nsegs;
    /* vectors in segments that have a graph for them (Qdrant's count) */
    for (uint32_t si = 0; si < c->nsegs; si++) {
        const qv_shard_seg *e = &c->segs[si];
        for (uint32_t vi = 0; e->hnsw && vi < c->cfg.nvectors; vi++) {
            if (!e->hnsw[vi]) continue;
            uint32_t size = qv_segment_size(e->seg);
            for (uint32_t off = 0; off < size; off++)
                if (qv_segment_is_live(e->seg, off) && qv_segment_has_vector(e->seg, vi, off))
                    out->indexed_vectors_count++;
        }
    }
    pthread_rwlock_unlock(&c->lock);
}

/* ---- exact nearest-neighbour search ----------------------------------------- */

typedef struct hit {
    float score; /* normalised so that larger is better */
    uint32_t si; /* segment */
    uint32_t off;
} hit;

/* A bounded heap keeping the k best hits; its root is the worst kept. */
typedef struct topk {
    hit *h;
    size_t n, k;
    const qv_shard_seg *segs;
} topk;

/* a is worse than b: lower score, or equal score and larger point ID. */
static bool worse(const topk *t, const hit *a, const hit *b) {
    if (a->score != b->score) return a->score < b->score;
    return qv_pointid_cmp(qv_segment_id(t->segs[a->si].seg, a->off),
                          qv_segment_id(t->segs[b->si].seg, b->off)) > 0;
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
    uint32_t exclude_si, exclude_off; /* NEAREST_ID: the query point itself */
    bool has_exclude;
    float *own;      /* NEAREST_ID: the point's vector decoded, when not stored as float32 */
    qv_fplan *plans; /* the filter's plan per segment (plan.h); NULL without a filter */
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
        uint32_t si, off;
        const float *v = NULL;
        if (!qv_shard_find(c, &q->id, &si, &off)) {
            char buf[48];
            qv_pointid_format(&q->id, buf);
            return qv_fail(err, QV_ENOTFOUND, "No point with id %s found", buf);
        }
        const qv_segment *seg = c->segs[si].seg;
        if (!qv_segment_has_vector(seg, (uint32_t)s->vi, off))
            return qv_fail(err, QV_EBADINPUT, "Point has no vector %s", using);
        if (qv_segment_elem(seg, (uint32_t)s->vi) != QV_ELEM_F32 &&
            !(s->own = malloc(sizeof(float) * vp->size)))
            return qv_fail(err, QV_ENOMEM, "out of memory");
        v = qv_segment_vector(seg, (uint32_t)s->vi, off, s->own);
        q->vector = (float *)v; /* borrowed from the segment under our lock, or own */
        q->dim = vp->size;
        s->exclude_si = si;
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
    qv_vector_preprocess(vp, q->vector, q->dim);
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

/* One round: up to SCAN_CHUNK live points with the vector, in offset
 * order.  Rows not stored as float32 are decoded into buf (max x dim
 * floats) as they are gathered, which also fetches them ahead of scoring. */
typedef struct chunk {
    const float *v[SCAN_CHUNK];
    uint32_t off[SCAN_CHUNK];
    size_t n;
    float *buf; /* NULL for float32 rows */
} chunk;

/* Fills ch with the next up to max live offsets in [*pos, hi) that have
 * vector vi (and, when only is not NULL, are in it); advances *pos past
 * them. */
static void gather(const qv_segment *seg, uint32_t vi, const uint64_t *only, uint32_t *pos,
                   uint32_t hi, size_t max, chunk *ch) {
    size_t n = 0, dim = qv_segment_dim(seg, vi);
    uint32_t off = *pos;
    for (; n < max; off++) {
        if (only) off = (uint32_t)qv_bits_next(only, off, hi);
        if (off >= hi) break;
        if (!qv_segment_is_live(seg, off)) continue;
        const float *v = qv_segment_vector(seg, vi, off, ch->buf ? ch->buf + n * dim : NULL);
        if (!v) continue;
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
static void offer_one(qv_collection *c, uint32_t si, qstate *s, topk *t, uint32_t off,
                      float score) {
    if (s->has_exclude && s->exclude_off == off && s->exclude_si == si) return;
    if (!passes_threshold(s, score) || !passes(s->plans, si, off)) return;
    (void)c;
    hit h = {h_of(s, score), si, off};
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
static bool scan_range(qv_collection *c, uint32_t si, qstate **qs, size_t nq, const uint64_t *only,
                       uint32_t lo, uint32_t hi, topk *tops) {
    const qv_segment *seg = c->segs[si].seg;
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
    ch[0].buf = ch[1].buf = NULL;
    if (qv_segment_elem(seg, vi) != QV_ELEM_F32) { /* rows to decode (see chunk) */
        float *b = thread_scratch(2 * per * dim);
        if (!b) return false;
        ch[0].buf = b;
        ch[1].buf = b + per * dim;
    }
    uint32_t pos = lo;
    int cur = 0;
    gather(seg, vi, only, &pos, hi, per, &ch[cur]);
    while (ch[cur].n > 0) {
        const chunk *now = &ch[cur], *next = &ch[cur ^ 1];
        gather(seg, vi, only, &pos, hi, per, &ch[cur ^ 1]);
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
                offer_one(c, si, qs[i], &tops[i], now->off[j], qs[i]->higher ? r[j] : -r[j]);
                bar[i] = bar_of(qs[i], &tops[i]);
            }
        }
        cur ^= 1;
    }
    return true;
}

/* Below this many points a scan is not worth splitting over threads. */
#define PAR_MIN_POINTS 16384
#define PAR_MIN_PART   4096

typedef struct scan_par {
    qv_collection *c;
    uint32_t si;
    qstate **qs;
    size_t nq;
    const uint64_t *only;
    uint32_t size, parts;
    topk *tops;  /* parts x nq heaps */
    bool failed; /* a part had no memory (written atomically) */
} scan_par;

static void scan_part(void *ctx, size_t part) {
    scan_par *sp = ctx;
    uint32_t lo = (uint32_t)((uint64_t)sp->size * part / sp->parts);
    uint32_t hi = (uint32_t)((uint64_t)sp->size * (part + 1) / sp->parts);
    if (!scan_range(sp->c, sp->si, sp->qs, sp->nq, sp->only, lo, hi, sp->tops + part * sp->nq))
        __atomic_store_n(&sp->failed, true, __ATOMIC_RELAXED);
}

/* Splits the scan of a large segment over the search pool: each part keeps
 * its own heaps (no sharing while scanning), merged at the end.  The
 * caller's read lock covers the workers, which wait for nothing else.
 * False when memory ran out (*oom: during the scan, which cannot be
 * retried; else before it started). */
static bool scan_parallel(qv_collection *c, uint32_t si, qstate **qs, size_t nq,
                          const uint64_t *only, uint32_t size, bool *oom) {
    qv_pool *pool = qv_pool_search();
    uint32_t parts = qv_pool_width(pool) * 2;
    if (parts > size / PAR_MIN_PART) parts = size / PAR_MIN_PART;
    topk *tops = calloc((size_t)parts * nq, sizeof(topk));
    bool ok = tops != NULL;
    for (size_t t = 0; ok && t < (size_t)parts * nq; t++) {
        tops[t] = (topk){malloc(sizeof(hit) * qs[t % nq]->top.k), 0, qs[t % nq]->top.k, c->segs};
        ok = tops[t].h != NULL;
    }
    if (ok) {
        scan_par sp = {c, si, qs, nq, only, size, parts, tops, false};
        qv_pool_run(pool, parts, scan_part, &sp);
        ok = !sp.failed;
        *oom = sp.failed;
        for (size_t t = 0; t < (size_t)parts * nq; t++)
            for (size_t h = 0; h < tops[t].n; h++) topk_push(&qs[t % nq]->top, tops[t].h[h]);
    }
    for (size_t t = 0; tops && t < (size_t)parts * nq; t++) free(tops[t].h);
    free(tops);
    return ok;
}

/* Scores one batch of queries (same vector index) against every point of
 * segment si, or only the offsets in only (pre-filtered: npts of them).
 * False when memory ran out. */
static bool scan_batch(qv_collection *c, uint32_t si, qstate **qs, size_t nq, const uint64_t *only,
                       uint64_t npts) {
    uint32_t size = qv_segment_size(c->segs[si].seg);
    bool oom = false;
    if (npts >= PAR_MIN_POINTS && qv_pool_width(qv_pool_search()) > 1 &&
        scan_parallel(c, si, qs, nq, only, size, &oom))
        return true;
    if (oom) return false;
    topk local[QV_KERNEL_MAX_BATCH];
    for (size_t i = 0; i < nq; i++) local[i] = qs[i]->top;
    bool ok = scan_range(c, si, qs, nq, only, 0, size, local);
    for (size_t i = 0; i < nq; i++) qs[i]->top = local[i];
    return ok;
}

/* ---- through the graph -------------------------------------------------------- */

/* Whether query s searches segment si through its graph rather than a
 * scan: not when asked for exact search, and not when the points its
 * filter is estimated to let through (plan.h) hold fewer vector bytes than
 * full_scan_threshold (KB): scanning those is cheaper and exact. */
static bool use_graph(qv_collection *c, uint32_t si, const qstate *s) {
    const qv_shard_seg *e = &c->segs[si];
    if (s->q->exact || !e->hnsw || !e->hnsw[s->vi]) return false;
    /* a graph without global links is only searched from a filter's points */
    if (qv_hnsw_get_params(e->hnsw[s->vi]).no_main && !(s->plans && s->plans[si].cand))
        return false;
    uint64_t est = s->plans ? qv_fplan_estimate(&s->plans[si]) : qv_segment_live_count(e->seg);
    uint64_t bytes = est * c->cfg.vectors[s->vi].size * sizeof(float);
    return bytes >= c->cfg.hnsw.full_scan_threshold * 1024;
}

typedef struct accept_ctx {
    qv_collection *c;
    const qv_segment *seg;
    uint32_t si;
    const qstate *s;
} accept_ctx;

/* What the graph may return: live points with the vector that pass the
 * filter (and are not the query's own point). */
static bool accept_cb(void *ctx, uint32_t off) {
    const accept_ctx *a = ctx;
    const qstate *s = a->s;
    if (!qv_segment_is_live(a->seg, off) || !qv_segment_has_vector(a->seg, (uint32_t)s->vi, off))
        return false;
    if (s->has_exclude && s->exclude_si == a->si && s->exclude_off == off) return false;
    return passes(s->plans, a->si, off);
}

/* Entry points handed to a filtered graph search: candidates of the plan,
 * spread over the segment. */
#define GRAPH_ENTRIES 16

/* The search options for query s in segment si (hnsw.h): the accept
 * callback, and with a filter where the walk starts and how it treats
 * rejected points:
 *   - ACORN (two hops through rejected points) when params.acorn asks for
 *     it and the filter's estimated selectivity is below max_selectivity
 *     (default 0.4), as Qdrant;
 *   - the walk restricted to accepted points when the filter is exactly one
 *     payload value whose points have links of their own (a payload block
 *     no larger than the segment's blockmax, optimizer.c), or in a graph
 *     with no global links (m = 0): it stays inside the block's graph, so
 *     it costs about what a search of a graph of the block's size does
 *     (man-lsa-384, keyword at 10%: recall 0.997 at 2,560 QPS against
 *     0.995 at 500 QPS walking every point);
 *   - else every point is walked, rejected ones only not returned: the
 *     robust default, whose recall does not depend on connectivity (on the
 *     same data a range at 10%: 0.98 at ef 16, where ACORN gives 0.92 and
 *     the restricted walk 0.38).
 * Entries: up to GRAPH_ENTRIES of the plan's candidates (with the vector),
 * so the walk also starts where accepted points are. */

static void graph_opts(const qv_collection *c, uint32_t si, const qstate *s, accept_ctx *ac,
                       qv_hnsw_search_opts *o, uint32_t *entries) {
    memset(o, 0, sizeof *o);
    o->accept = accept_cb;
    o->accept_ctx = ac;
    qv_fplan *p = s->plans ? &s->plans[si] : NULL;
    const qv_hnsw *h = c->segs[si].hnsw[s->vi];
    bool no_main = qv_hnsw_get_params(h).no_main;
    if (!p || !p->filter) return;
    uint64_t live = qv_segment_live_count(p->seg), est = qv_fplan_estimate(p);
    double sel = live ? (double)est / (double)live : 1;
    double max_sel = s->q->acorn_max_sel.has ? s->q->acorn_max_sel.v : 0.4;
    if (s->q->acorn && sel < max_sel)
        o->walk = QV_HNSW_WALK_ACORN;
    else if (no_main || (p->block && est <= c->segs[si].blockmax[s->vi]))
        o->walk = QV_HNSW_WALK_ACCEPTED;
    if (p->cand && p->ncand) {
        uint64_t step = p->ncand / GRAPH_ENTRIES + 1, k = 0;
        for (size_t i = qv_bits_next(p->cand, 0, p->n); i < p->n && o->nentries < GRAPH_ENTRIES;
             i = qv_bits_next(p->cand, i + 1, p->n), k++)
            if (k % step == 0 && qv_segment_has_vector(p->seg, (uint32_t)s->vi, (uint32_t)i))
                entries[o->nentries++] = (uint32_t)i;
        o->entries = entries;
    }
}

/* How many candidates a search over codes keeps for query s: limit x
 * oversampling (at least limit), at most avail. */
static size_t quant_candidates(const qstate *s, size_t avail) {
    double os = s->q->oversampling.has && s->q->oversampling.v > 1 ? s->q->oversampling.v : 1;
    double want = ceil((double)s->top.k * os);
    return want > (double)avail ? avail : (size_t)want;
}

/* Offers a candidate found over the codes to query s's heap: with its
 * float score (rescored, the default) or with the estimate. */
static void offer_candidate(const qv_collection *c, uint32_t si, qstate *s, uint32_t off,
                            float estimate) {
    bool rescore = !s->q->quant_rescore.has || s->q->quant_rescore.v;
    const qv_segment *seg = c->segs[si].seg;
    uint32_t vi = (uint32_t)s->vi, dim = qv_segment_dim(seg, vi);
    float score = estimate;
    if (rescore) {
        float *buf = NULL;
        if (qv_segment_elem(seg, vi) != QV_ELEM_F32 && !(buf = thread_scratch(dim)))
            return; /* no memory to decode the row into: the candidate is lost */
        const float *v = qv_segment_vector(seg, vi, off, buf);
        if (!v) return;
        score = qv_score(qv_kernels_best(), s->dist, s->q->vector, v, dim);
    }
    if (!passes_threshold(s, score)) return;
    hit x = {h_of(s, score), si, off};
    topk_push(&s->top, x);
}

/* A graph search over the segment's quantized codes: the best
 * limit x oversampling points by the codes' distances, then (unless
 * rescore: false) their float scores, as quant_scan does. */
static qv_rc graph_search_codes(qv_collection *c, uint32_t si, qstate *s, size_t ef) {
    const qv_shard_seg *e = &c->segs[si];
    const qv_qcodes *qc = e->qcodes[s->vi];
    size_t kk = quant_candidates(s, qv_segment_size(e->seg));
    if (ef < kk) ef = kk;
    uint32_t *ids = malloc(sizeof(uint32_t) * (kk ? kk : 1));
    qv_qquery qq;
    qv_err err;
    if (!ids || qv_qquery_init(&qq, qc, s->q->vector, &err) != QV_OK) {
        free(ids);
        return QV_ENOMEM;
    }
    qv_hnsw_scorer scorer = {qv_qquery_dist_many, &qq};
    accept_ctx ac = {c, e->seg, si, s};
    size_t found = 0;
    qv_hnsw_search_opts o;
    uint32_t entries[GRAPH_ENTRIES];
    graph_opts(c, si, s, &ac, &o, entries);
    qv_rc rc =
        qv_hnsw_search_scored_with(e->hnsw[s->vi], &scorer, kk, ef, &o, ids, NULL, &found, &err);
    for (size_t i = 0; rc == QV_OK && i < found; i++)
        offer_candidate(c, si, s, ids[i], qv_qquery_score(&qq, ids[i]));
    qv_qquery_free(&qq);
    free(ids);
    return rc;
}

static qv_rc graph_search(qv_collection *c, uint32_t si, qstate *s) {
    const qv_shard_seg *e = &c->segs[si];
    const qv_hnsw *h = e->hnsw[s->vi];
    size_t k = s->top.k;
    size_t ef = s->q->hnsw_ef.has ? (size_t)s->q->hnsw_ef.v : qv_hnsw_get_params(h).ef_construct;
    if (e->qcodes && e->qcodes[s->vi] && !(s->q->quant_ignore.has && s->q->quant_ignore.v))
        return graph_search_codes(c, si, s, ef);
    uint32_t *ids = malloc(sizeof(uint32_t) * k);
    float *scores = malloc(sizeof(float) * k);
    qv_rc rc = ids && scores ? QV_OK : QV_ENOMEM;
    size_t found = 0;
    accept_ctx ac = {c, e->seg, si, s};
    qv_err err;
    qv_hnsw_search_opts o;
    uint32_t entries[GRAPH_ENTRIES];
    graph_opts(c, si, s, &ac, &o, entries);
    if (!rc) rc = qv_hnsw_search_with(h, s->q->vector, k, ef, &o, ids, scores, &found, &err);
    for (size_t i = 0; rc == QV_OK && i < found; i++) {
        if (!passes_threshold(s, scores[i])) continue;
        hit x = {h_of(s, scores[i]), si, ids[i]};
        topk_push(&s->top, x);
    }
    free(ids);
    free(scores);
    return rc;
}

/* Whether query s scans segment si over its quantized codes. */
static bool use_codes(const qv_collection *c, uint32_t si, const qstate *s) {
    const qv_shard_seg *e = &c->segs[si];
    return e->qcodes && e->qcodes[s->vi] && !s->q->exact &&
           !(s->q->quant_ignore.has && s->q->quant_ignore.v);
}

/* Scans segment si for query s over the codes (see the top of the file). */
static qv_rc quant_scan(qv_collection *c, uint32_t si, qstate *s) {
    const qv_shard_seg *e = &c->segs[si];
    const qv_qcodes *qc = e->qcodes[s->vi];
    size_t kk = quant_candidates(s, qv_segment_live_count(e->seg));
    if (kk == 0) return QV_OK;
    qv_qquery qq;
    qv_err err;
    topk cand = {malloc(sizeof(hit) * kk), 0, kk, c->segs};
    if (!cand.h || qv_qquery_init(&qq, qc, s->q->vector, &err) != QV_OK) {
        free(cand.h);
        return QV_ENOMEM;
    }
    uint32_t size = qv_segment_size(e->seg), vi = (uint32_t)s->vi;
    const uint64_t *only = s->plans ? s->plans[si].cand : NULL;
    for (uint32_t off = 0; off < size; off++) {
        if (only && (off = (uint32_t)qv_bits_next(only, off, size)) >= size) break;
        if (!qv_segment_is_live(e->seg, off) || !qv_segment_has_vector(e->seg, vi, off)) continue;
        if (s->has_exclude && s->exclude_si == si && s->exclude_off == off) continue;
        hit x = {h_of(s, qv_qquery_score(&qq, off)), si, off};
        if (cand.n == cand.k && x.score < cand.h[0].score) continue;
        if (!passes(s->plans, si, off)) continue;
        topk_push(&cand, x);
    }
    qv_qquery_free(&qq);
    for (size_t i = 0; i < cand.n; i++)
        offer_candidate(c, si, s, cand.h[i].off, s->higher ? cand.h[i].score : -cand.h[i].score);
    free(cand.h);
    return QV_OK;
}

/* Runs every nearest query over every segment: through a graph where
 * use_graph says so, else by scans that group the queries by vector,
 * QV_KERNEL_MAX_BATCH at a time, so each group shares one pass over the
 * matrix. */
static qv_rc search_all(qv_collection *c, qstate *st, size_t n) {
    qstate *batch[QV_KERNEL_MAX_BATCH];
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!done) return QV_ENOMEM;
    qv_rc rc = QV_OK;
    for (uint32_t si = 0; rc == QV_OK && si < c->nsegs; si++) {
        for (size_t i = 0; i < n; i++) {
            const qv_fplan *pl = st[i].plans ? &st[i].plans[si] : NULL;
            done[i] = st[i].q->kind == QV_QUERY_NONE || st[i].top.k == 0 ||
                      (pl && pl->ncand == 0); /* no candidate at all here */
            if (!done[i] && use_graph(c, si, &st[i])) {
                done[i] = true;
                if (rc == QV_OK) rc = graph_search(c, si, &st[i]);
            } else if (!done[i] && use_codes(c, si, &st[i])) {
                done[i] = true;
                if (rc == QV_OK) rc = quant_scan(c, si, &st[i]);
            } else if (!done[i] && pl && pl->cand) {
                /* pre-filtered: score only the index's candidates, alone */
                qstate *one = &st[i];
                done[i] = true;
                if (!scan_batch(c, si, &one, 1, pl->cand, pl->ncand) && rc == QV_OK) rc = QV_ENOMEM;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            size_t nb = 0;
            for (size_t j = i; j < n && nb < QV_KERNEL_MAX_BATCH; j++) {
                if (done[j] || st[j].vi != st[i].vi) continue;
                batch[nb++] = &st[j];
                done[j] = true;
            }
            if (!scan_batch(c, si, batch, nb, NULL, qv_segment_size(c->segs[si].seg)) &&
                rc == QV_OK)
                rc = QV_ENOMEM;
        }
    }
    free(done);
    return rc;
}

/* Emits a query's results (best first, offset skipped). */
static void emit(qv_collection *c, qstate *s, qv_point_cb cb, void *ctx) {
    if (s->top.n > 1) qsort_r(s->top.h, s->top.n, sizeof(hit), cmp_best_first, &s->top);
    for (size_t i = s->q->offset; i < s->top.n; i++) {
        qv_point_view v;
        qv_view_of(c->segs[s->top.h[i].si].seg, s->top.h[i].off, &v);
        float score = s->higher ? s->top.h[i].score : -s->top.h[i].score;
        if (!cb(ctx, &v, score)) return;
    }
}

/* No query: points in ID order (offset and limit as counts). */
static qv_rc emit_by_id(qv_collection *c, qstate *s, qv_point_cb cb, void *ctx) {
    id_walk *w = walk_begin(c, NULL);
    if (!w) return QV_ENOMEM;
    size_t skipped = 0, got = 0;
    const qv_segment *seg;
    uint32_t si, off;
    while (got < s->q->limit && walk_next(w, &seg, &si, &off)) {
        if (!passes(s->plans, si, off)) continue;
        if (skipped++ < s->q->offset) continue;
        qv_point_view v;
        qv_view_of(seg, off, &v);
        got++;
        if (!cb(ctx, &v, 0)) break;
    }
    free(w);
    return QV_OK;
}

qv_rc qv_collection_query(qv_collection *c, qv_query *queries, size_t n, const qv_read_opts *opts,
                          qv_query_begin_cb begin, qv_point_cb cb, void *ctx, qv_err *err) {
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    uint64_t cost = 0; /* the read rate limit's charge, only wanted in strict mode */
    if (qv_strict_enabled(&c->cfg.strict))
        for (size_t i = 0; i < n; i++) cost += 1 + qv_strict_filter_cost(queries[i].filter);
    rc = qv_strict_check_queries(&c->cfg.strict, &c->indexes, queries, n, opts, err);
    if ((rc = qv_read_admit(c, rc, cost, err))) return rc;
    qstate *st = calloc(n ? n : 1, sizeof(qstate));
    if (!st) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        st[i].q = &queries[i];
        rc = prepare(c, &st[i], err);
        size_t k = queries[i].limit + queries[i].offset;
        if (k < queries[i].limit) k = SIZE_MAX / sizeof(hit); /* overflow */
        uint64_t live = qv_shard_live(c);
        if (k > live) k = live;
        st[i].top = (topk){NULL, 0, k, c->segs};
        if (rc == QV_OK && k) {
            st[i].top.h = malloc(sizeof(hit) * k);
            if (!st[i].top.h) rc = qv_fail(err, QV_ENOMEM, "out of memory");
        }
        bool oom = false;
        if (rc == QV_OK && (k || queries[i].kind == QV_QUERY_NONE))
            st[i].plans = plans_new(c, queries[i].filter, &oom);
        if (oom) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (rc == QV_OK && search_all(c, st, n) != QV_OK) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; rc == QV_OK && i < n; i++) {
        if (begin) begin(ctx, i);
        if (queries[i].kind != QV_QUERY_NONE)
            emit(c, &st[i], cb, ctx);
        else if (emit_by_id(c, &st[i], cb, ctx) != QV_OK)
            rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    for (size_t i = 0; st && i < n; i++) {
        free(st[i].top.h);
        free(st[i].own);
        plans_free(st[i].plans, c->nsegs);
    }
    free(st);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}
