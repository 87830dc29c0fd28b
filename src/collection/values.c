/*
 * values.c - reads that look at the values of one payload key rather than
 * at vectors: facet counts (POST /facet, gRPC Facet) and ordering points by
 * a payload key (scroll's order_by and the universal query's order_by
 * variant).
 *
 * Semantics (Qdrant 1.19's, checked against its segment code and the Python
 * client's local mode; the tests compare with local mode where it agrees):
 *  - Both need a declared payload index on the key (c->indexes) of a type
 *    that can serve them, exactly as Qdrant needs the index itself: facets
 *    a keyword, integer (unless declared with lookup: false), bool or uuid
 *    index; order_by an integer (unless range: false), float or datetime
 *    index.  Without one the read is QV_EBADINPUT with Qdrant's text.  The
 *    index type also decides which values count, as the index would hold
 *    them: strings for keyword, int64 integers for integer, any number for
 *    float, RFC 3339 strings for datetime (as microseconds since the epoch),
 *    UUID strings for uuid (the same UUID in any spelling is one value,
 *    reported lowercase hyphenated), booleans for bool.  Local mode takes
 *    every value of a fitting JSON type; it has no indexes.
 *  - Facets: a point counts once per distinct value; hits sort by count
 *    descending, then value ascending (bytewise for strings); `exact` makes
 *    no difference because these counts are always exact.  A collection
 *    without points answers no hits even without an index (Qdrant's
 *    segments return early when empty).
 *  - Order: one result per distinct (value, point): a point holding several
 *    values appears once per value, as on Qdrant's server (its issue #9192)
 *    and in local mode; points without a value do not appear.  start_from
 *    is inclusive.  Ties go by point ID in the direction of the order (the
 *    server merges segments by (value, id); local mode keeps insertion
 *    order instead).
 *
 * How: each segment plans the filter (plan.h).  Facets on a keyword,
 * integer or bool key read the segment's index: each value's posting list,
 * counted within the filter's points (a bit test per point when the plan is
 * exact); uuid facets (every spelling of a UUID is one value, the index
 * keeps spellings) and segments without a usable index read the payloads
 * of the points the plan lets through.  order_by reads the values of those
 * points from their payloads.  The value collection (facet_collect /
 * order_collect) is kept apart from the counting and ordering (facet_rank /
 * order_emit).
 *
 * Threading: every read holds the collection's read lock (collection_impl.h)
 * from the strict-mode checks to the last callback; the point views and
 * the payload values the scans borrow are valid only under it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "collection/plan.h"
#include "core/bitset.h"
#include "index/filter.h"

/* ======================================================================
 * Which declared index serves the key
 * ====================================================================== */

/* The declaration for the key (matched by its text, as strict mode does). */
static const qv_field_index *index_of(const qv_collection *c, const qv_keypath *key) {
    for (size_t i = 0; i < c->indexes.n; i++)
        if (strcmp(c->indexes.items[i].field, key->text) == 0) return &c->indexes.items[i];
    return NULL;
}

/* Whether the declaration's parameters set flag (integer `lookup` or
 * `range`) to false; both default to true. */
static bool flag_off(const qv_field_index *fi, const char *flag) {
    if (!fi->params) return false;
    qv_arena a;
    qv_arena_init(&a);
    jv p;
    qv_err err;
    bool off = false;
    if (jv_parse(&a, fi->params, strlen(fi->params), &p, &err) == QV_OK) {
        const jv *f = jv_get(&p, flag);
        off = f && f->type == JV_BOOL && !f->v.b;
    }
    qv_arena_free(&a);
    return off;
}

/* The index type a facet on key reads (0 = none can serve it). */
static uint32_t facet_type(const qv_collection *c, const qv_keypath *key) {
    const qv_field_index *fi = index_of(c, key);
    if (!fi) return 0;
    switch (fi->type) {
    case QV_PT_KEYWORD:
    case QV_PT_BOOL:
    case QV_PT_UUID:
        return fi->type;
    case QV_PT_INTEGER:
        return flag_off(fi, "lookup") ? 0 : fi->type;
    default:
        return 0;
    }
}

/* The index type an order_by on key reads (0 = none can serve it). */
static uint32_t order_type(const qv_collection *c, const qv_keypath *key) {
    const qv_field_index *fi = index_of(c, key);
    if (!fi) return 0;
    switch (fi->type) {
    case QV_PT_FLOAT:
    case QV_PT_DATETIME:
        return fi->type;
    case QV_PT_INTEGER:
        return flag_off(fi, "range") ? 0 : fi->type;
    default:
        return 0;
    }
}

/* ======================================================================
 * Facets: value collection
 *
 * A hash table of distinct values with their counts.  String values borrow
 * the stored payload (valid under the read lock); UUIDs are keyed by their
 * 128 bits so that every spelling of one UUID is one value.  Each entry
 * remembers the last point that counted it, which makes "once per point"
 * free.
 * ====================================================================== */

typedef struct fentry {
    uint32_t kind; /* qv_facet_kind; 0 = empty slot */
    bool uuid;     /* STR from a uuid index: the value is (hi, lo) */
    bool b;
    const char *s;
    uint32_t len;
    int64_t i;
    uint64_t hi, lo;
    uint64_t count;
    uint64_t last; /* number of the point that counted it last */
    uint64_t hash;
} fentry;

typedef struct ftable {
    fentry *e;
    size_t cap, n; /* cap: a power of two */
    uint32_t type; /* the index type: which values count */
    uint64_t point;
    bool oom;
} ftable;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t fentry_hash(const fentry *k) {
    uint64_t h = 1469598103934665603ULL ^ k->kind;
    if (k->kind == QV_FACET_STR && !k->uuid)
        for (uint32_t j = 0; j < k->len; j++) h = (h ^ (unsigned char)k->s[j]) * 1099511628211ULL;
    else if (k->kind == QV_FACET_STR)
        h ^= mix64(k->hi) ^ mix64(k->lo + 0x9e3779b97f4a7c15ULL);
    else if (k->kind == QV_FACET_INT)
        h ^= mix64((uint64_t)k->i);
    else
        h ^= mix64(k->b ? 2 : 1);
    return mix64(h);
}

static bool fentry_eq(const fentry *a, const fentry *b) {
    if (a->kind != b->kind || a->hash != b->hash) return false;
    switch (a->kind) {
    case QV_FACET_STR:
        if (a->uuid) return a->hi == b->hi && a->lo == b->lo;
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    case QV_FACET_INT:
        return a->i == b->i;
    default:
        return a->b == b->b;
    }
}

static bool ftable_grow(ftable *t) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    fentry *e = calloc(cap, sizeof *e);
    if (!e) return false;
    for (size_t k = 0; k < t->cap; k++) {
        if (!t->e[k].kind) continue;
        size_t j = t->e[k].hash & (cap - 1);
        while (e[j].kind) j = (j + 1) & (cap - 1);
        e[j] = t->e[k];
    }
    free(t->e);
    t->e = e;
    t->cap = cap;
    return true;
}

/* The entry for key, inserted (count 0) when new; NULL without memory. */
static fentry *ftable_slot(ftable *t, fentry *key) {
    if ((t->n + 1) * 2 > t->cap && !ftable_grow(t)) {
        t->oom = true;
        return NULL;
    }
    key->hash = fentry_hash(key);
    size_t j = key->hash & (t->cap - 1);
    while (t->e[j].kind && !fentry_eq(&t->e[j], key)) j = (j + 1) & (t->cap - 1);
    fentry *e = &t->e[j];
    if (!e->kind) {
        *e = *key;
        e->count = 0;
        e->last = 0;
        t->n++;
    }
    return e;
}

/* Counts key for the current point (once, however often it holds it). */
static void ftable_add(ftable *t, fentry *key) {
    fentry *e = ftable_slot(t, key);
    if (!e || e->last == t->point) return;
    e->count++;
    e->last = t->point;
}

/* One value at the key: counted when the index type holds it. */
static void facet_value(void *ctx, const jv *v) {
    ftable *t = ctx;
    fentry k;
    memset(&k, 0, sizeof k);
    qv_pointid id;
    switch (t->type) {
    case QV_PT_KEYWORD:
        if (v->type != JV_STR) return;
        k.kind = QV_FACET_STR, k.s = v->v.s, k.len = v->len;
        break;
    case QV_PT_INTEGER: /* stored payloads are resolved: an int64 is JV_INT */
        if (v->type != JV_INT) return;
        k.kind = QV_FACET_INT, k.i = v->v.i;
        break;
    case QV_PT_BOOL:
        if (v->type != JV_BOOL) return;
        k.kind = QV_FACET_BOOL, k.b = v->v.b != 0;
        break;
    case QV_PT_UUID:
        if (v->type != JV_STR || !qv_pointid_parse_uuid(v->v.s, v->len, &id)) return;
        k.kind = QV_FACET_STR, k.uuid = true, k.hi = id.hi, k.lo = id.lo;
        break;
    default:
        return;
    }
    ftable_add(t, &k);
}

/* Adds n to the count of value key (no "once per point": an index posting
 * lists each point once per value already). */
static void ftable_add_n(ftable *t, fentry *key, uint64_t n) {
    fentry *e = ftable_slot(t, key);
    if (e) e->count += n;
}

typedef struct facet_ix {
    ftable *t;
    const qv_fplan *p;
} facet_ix;

/* One distinct value of the segment's index: its points within the plan. */
static void facet_posting(void *ctx, const qv_pi_value *v, const uint32_t *offs, uint32_t n) {
    facet_ix *x = ctx;
    uint64_t k = 0;
    if (!x->p->filter) {
        k = n; /* postings hold live points only */
    } else if (x->p->exact && x->p->cand) {
        for (uint32_t i = 0; i < n; i++) k += qv_bits_test(x->p->cand, offs[i]);
    } else {
        for (uint32_t i = 0; i < n; i++) k += qv_fplan_check(x->p, offs[i]);
    }
    if (!k) return;
    fentry e;
    memset(&e, 0, sizeof e);
    if (v->type == QV_PT_INTEGER)
        e.kind = QV_FACET_INT, e.i = v->i;
    else if (v->type == QV_PT_BOOL)
        e.kind = QV_FACET_BOOL, e.b = v->b;
    else
        e.kind = QV_FACET_STR, e.s = v->s, e.len = (uint32_t)v->len;
    ftable_add_n(x->t, &e, k);
}

/* Counts the values of every live point the filter lets through: from the
 * segment's index where it has one of the facet's type, else from the
 * payloads. */
static void facet_collect(const qv_collection *c, const qv_facet_req *req, ftable *t) {
    for (uint32_t si = 0; si < c->nsegs && !t->oom; si++) {
        const qv_segment *seg = c->segs[si].seg;
        qv_fplan p;
        qv_fplan_build(&p, c, seg, req->filter);
        const qv_pindex *pi = qv_segment_pindex(seg, req->key->text, req->key->text_len);
        facet_ix x = {t, &p};
        if (!(t->type != QV_PT_UUID && pi && qv_pindex_opts_of(pi)->type == t->type &&
              qv_pindex_foreach_value(pi, facet_posting, &x))) {
            uint32_t size = qv_segment_size(seg);
            for (uint32_t off = 0; off < size && !t->oom; off++) {
                if (!qv_fplan_check(&p, off)) continue;
                t->point++;
                qv_keypath_values(req->key, qv_segment_payload(seg, off), facet_value, t);
            }
        }
        qv_fplan_free(&p);
    }
}

/* ======================================================================
 * Facets: ranking
 * ====================================================================== */

/* Value order: bytewise strings (shorter first on a common prefix), UUIDs
 * by their 128 bits, integers, false before true. */
static int fvalue_cmp(const fentry *a, const fentry *b) {
    switch (a->kind) {
    case QV_FACET_STR:
        if (a->uuid) {
            if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
            return a->lo < b->lo ? -1 : a->lo > b->lo;
        } else {
            uint32_t m = a->len < b->len ? a->len : b->len;
            int r = memcmp(a->s, b->s, m);
            if (r) return r;
            return a->len < b->len ? -1 : a->len > b->len;
        }
    case QV_FACET_INT:
        return a->i < b->i ? -1 : a->i > b->i;
    default:
        return (int)a->b - (int)b->b;
    }
}

/* Count descending, then value ascending. */
static int fhit_cmp(const void *x, const void *y) {
    const fentry *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return fvalue_cmp(a, b);
}

/* The limit best entries of t, copied into a (strings included). */
static qv_rc facet_rank(ftable *t, size_t limit, qv_arena *a, qv_facet_hit **hits, size_t *n,
                        qv_err *err) {
    size_t k = 0;
    for (size_t j = 0; j < t->cap; j++)
        if (t->e[j].kind) t->e[k++] = t->e[j]; /* compact in place */
    if (k > 1) qsort(t->e, k, sizeof *t->e, fhit_cmp);
    if (k > limit) k = limit;
    qv_facet_hit *out = qv_arena_calloc(a, sizeof *out * (k ? k : 1));
    if (!out) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t j = 0; j < k; j++) {
        const fentry *e = &t->e[j];
        out[j].kind = e->kind, out[j].i = e->i, out[j].b = e->b, out[j].count = e->count;
        if (e->kind != QV_FACET_STR) continue;
        char buf[48];
        const char *s = e->s;
        size_t len = e->len;
        if (e->uuid) {
            qv_pointid id = {e->hi, e->lo, 1};
            len = (size_t)qv_pointid_format(&id, buf);
            s = buf;
        }
        out[j].s = qv_arena_strndup(a, s, len);
        out[j].len = len;
        if (!out[j].s) return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    *hits = out;
    *n = k;
    return QV_OK;
}

qv_rc qv_collection_facet(qv_collection *c, const qv_facet_req *req, const qv_read_opts *opts,
                          qv_arena *a, qv_facet_hit **hits, size_t *n, qv_err *err) {
    *hits = NULL;
    *n = 0;
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, req->filter, req->limit, opts, err);
    if ((rc = qv_read_admit(c, rc, 1 + qv_strict_filter_cost(req->filter), err))) return rc;
    ftable t;
    memset(&t, 0, sizeof t);
    t.type = facet_type(c, req->key);
    if (qv_shard_live(c) == 0) { /* Qdrant skips empty segments before it looks for the index */
        pthread_rwlock_unlock(&c->lock);
        return QV_OK;
    }
    if (!t.type)
        rc = qv_fail(err, QV_EBADINPUT,
                     "No appropriate index for faceting: `%.300s`. Please create one to facet on "
                     "this field. Check https://qdrant.tech/documentation/concepts/indexing/"
                     "#payload-index to see which payload schemas support Match conditions",
                     req->key->text);
    if (!rc) {
        facet_collect(c, req, &t);
        rc = t.oom ? qv_fail(err, QV_ENOMEM, "out of memory")
                   : facet_rank(&t, req->limit, a, hits, n, err);
    }
    pthread_rwlock_unlock(&c->lock);
    free(t.e);
    return rc;
}

/* ======================================================================
 * Order by a payload key: value collection
 * ====================================================================== */

/* One result: a value and the point holding it. */
typedef struct oentry {
    qv_order_value v;
    uint32_t si, off;
} oentry;

typedef struct olist {
    oentry *e;
    size_t n, cap;
    bool oom;
    /* the point being collected */
    uint32_t type; /* the index type: which values count */
    const qv_order_by *ob;
    uint32_t si, off;
    size_t first; /* its first entry (for per-point duplicates) */
} olist;

/* Exact comparison of an integer with a double (a NaN is greater). */
static int int_dbl_cmp(int64_t i, double f) {
    if (isnan(f) || f >= 9223372036854775808.0) return -1;
    if (f < -9223372036854775808.0) return 1;
    double fl = floor(f);
    int64_t fi = (int64_t)fl;
    if (i != fi) return i < fi ? -1 : 1;
    return f > fl ? -1 : 0;
}

/* Qdrant's OrderValue order: numeric, integers and floats compared
 * exactly. */
static int ov_cmp(const qv_order_value *a, const qv_order_value *b) {
    if (!a->is_float && !b->is_float) return a->i < b->i ? -1 : a->i > b->i;
    if (a->is_float && b->is_float) return a->f < b->f ? -1 : a->f > b->f;
    if (!a->is_float) return int_dbl_cmp(a->i, b->f);
    return -int_dbl_cmp(b->i, a->f);
}

/* The value v as the index type holds it; false when it holds none. */
static bool order_value_of(uint32_t type, const jv *v, qv_order_value *out) {
    qv_filter_time t;
    memset(out, 0, sizeof *out);
    switch (type) {
    case QV_PT_INTEGER:
        if (v->type != JV_INT) return false;
        out->i = v->v.i;
        return true;
    case QV_PT_FLOAT:
        out->is_float = true;
        return jv_is_number(v) && jv_to_f64(v, &out->f);
    case QV_PT_DATETIME: /* microseconds, as Qdrant's datetime index keeps them */
        if (v->type != JV_STR || !qv_filter_parse_time(v->v.s, v->len, &t)) return false;
        out->i = t.sec * 1000000 + t.nsec / 1000;
        return true;
    default:
        return false;
    }
}

static void order_value(void *ctx, const jv *v) {
    olist *l = ctx;
    oentry x = {.si = l->si, .off = l->off};
    if (l->oom || !order_value_of(l->type, v, &x.v)) return;
    if (l->ob->has_start) {
        int r = ov_cmp(&x.v, &l->ob->start);
        if (l->ob->desc ? r > 0 : r < 0) return;
    }
    for (size_t k = l->first; k < l->n; k++) /* once per distinct value of a point */
        if (ov_cmp(&l->e[k].v, &x.v) == 0) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        oentry *e = realloc(l->e, cap * sizeof *e);
        if (!e) {
            l->oom = true;
            return;
        }
        l->e = e, l->cap = cap;
    }
    l->e[l->n++] = x;
}

/* Every (value, point) of the live points the filter lets through. */
static void order_collect(const qv_collection *c, const qv_filter *filter, olist *l) {
    for (uint32_t si = 0; si < c->nsegs && !l->oom; si++) {
        const qv_segment *seg = c->segs[si].seg;
        qv_fplan p;
        qv_fplan_build(&p, c, seg, filter);
        uint32_t size = qv_segment_size(seg);
        for (uint32_t off = 0; off < size && !l->oom; off++) {
            if (p.cand && (off = (uint32_t)qv_bits_next(p.cand, off, size)) >= size) break;
            if (!qv_fplan_check(&p, off)) continue;
            l->si = si, l->off = off, l->first = l->n;
            qv_keypath_values(l->ob->key, qv_segment_payload(seg, off), order_value, l);
        }
        qv_fplan_free(&p);
    }
}

/* ======================================================================
 * Order by a payload key: ordering
 * ====================================================================== */

typedef struct osort {
    const qv_collection *c;
    bool desc;
} osort;

/* (value, point ID), both in the direction of the order. */
static int oentry_cmp(const void *x, const void *y, void *ctx) {
    const osort *o = ctx;
    const oentry *a = x, *b = y;
    int r = ov_cmp(&a->v, &b->v);
    if (!r)
        r = qv_pointid_cmp(qv_segment_id(o->c->segs[a->si].seg, a->off),
                           qv_segment_id(o->c->segs[b->si].seg, b->off));
    return o->desc ? -r : r;
}

/* Sorts the entries and reports results skip .. skip+limit. */
static void order_emit(const qv_collection *c, olist *l, bool desc, size_t skip, size_t limit,
                       qv_ordered_cb cb, void *ctx) {
    osort o = {c, desc};
    if (l->n > 1) qsort_r(l->e, l->n, sizeof *l->e, oentry_cmp, &o);
    for (size_t k = skip; k < l->n && k - skip < limit; k++) {
        qv_point_view v;
        qv_view_of(c->segs[l->e[k].si].seg, l->e[k].off, &v);
        if (!cb(ctx, &v, &l->e[k].v)) return;
    }
}

qv_rc qv_collection_scroll_ordered(qv_collection *c, const qv_filter *filter, const qv_order_by *ob,
                                   size_t skip, size_t limit, const qv_read_opts *opts,
                                   qv_ordered_cb cb, void *ctx, qv_err *err) {
    qv_rc rc = qv_read_begin(c, err);
    if (rc) return rc;
    rc = qv_strict_check_read(&c->cfg.strict, &c->indexes, filter, limit, opts, err);
    if ((rc = qv_read_admit(c, rc, 1 + qv_strict_filter_cost(filter), err))) return rc;
    olist l;
    memset(&l, 0, sizeof l);
    l.ob = ob;
    l.type = order_type(c, ob->key);
    if (!l.type)
        rc = qv_fail(err, QV_EBADINPUT,
                     "No range index for `order_by` key: `%.300s`. Please create one to use "
                     "`order_by`. Check https://qdrant.tech/documentation/concepts/indexing/"
                     "#payload-index to see which payload schemas support Range conditions",
                     ob->key->text);
    if (!rc) order_collect(c, filter, &l);
    if (!rc && l.oom) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    if (!rc) order_emit(c, &l, ob->desc, skip, limit, cb, ctx);
    pthread_rwlock_unlock(&c->lock);
    free(l.e);
    return rc;
}

/* ======================================================================
 * Universal query batches with order_by queries
 * ====================================================================== */

/* Passes a run's begin(i) on as begin(base + i). */
typedef struct qrun {
    qv_query_begin_cb begin;
    qv_point_cb cb;
    void *ctx;
    size_t base;
} qrun;

static void qrun_begin(void *ctx, size_t i) {
    qrun *r = ctx;
    if (r->begin) r->begin(r->ctx, r->base + i);
}

static bool qrun_point(void *ctx, const qv_point_view *p, float score) {
    qrun *r = ctx;
    return r->cb(r->ctx, p, score);
}

qv_rc qv_collection_query_ordered(qv_collection *c, qv_query *queries,
                                  const qv_order_by *const *order_by, size_t n,
                                  const qv_read_opts *opts, qv_query_begin_cb begin, qv_point_cb cb,
                                  qv_ordered_cb ocb, void *ctx, qv_err *err) {
    qv_rc rc = QV_OK;
    for (size_t i = 0; i < n && !rc;) {
        if (order_by[i]) {
            if (begin) begin(ctx, i);
            rc = qv_collection_scroll_ordered(c, queries[i].filter, order_by[i], queries[i].offset,
                                              queries[i].limit, opts, ocb, ctx, err);
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !order_by[j]) j++;
        qrun r = {begin, cb, ctx, i};
        rc = qv_collection_query(c, queries + i, j - i, opts, qrun_begin, qrun_point, &r, err);
        i = j;
    }
    return rc;
}
