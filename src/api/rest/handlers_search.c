/*
 * handlers_search.c - nearest-neighbour reads: the universal
 * /points/query (single and batch) and the legacy /points/search (single
 * and batch), which Qdrant itself translates into the same query model.
 *
 * Every endpoint makes ONE qv_collection_query call with all its queries,
 * so a batch shares one pass over the data.  The collection calls
 * begin(i) before the hits of query i; the shapes differ only in how the
 * groups are wrapped:
 *   query        {"points": [ScoredPoint]}
 *   query batch  [{"points": [...]}, ...]
 *   search       [ScoredPoint]
 *   search batch [[...], ...]
 * Each query of a batch keeps its own with_payload / with_vector.
 *
 * The query's order_by variant is a scroll by a payload key: a batch with
 * such queries goes through qv_collection_query_ordered (values.c), which
 * runs them apart and the others as before.
 *
 * Not here: prefetch, fusion, recommend/discover/context queries, groups
 * (decode.c refuses them with 501).
 */
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "api/rest/encode.h"
#include "api/rest/rest_internal.h"

typedef enum qv_rest_shape {
    QV_REST_SHAPE_QUERY,
    QV_REST_SHAPE_QUERY_BATCH,
    QV_REST_SHAPE_SEARCH,
    QV_REST_SHAPE_SEARCH_BATCH,
} qv_rest_shape;

typedef struct qv_rest_search_ctx {
    jw *w;
    qv_rest_shape shape;
    qv_rest_point_fmt *fmts; /* one per query */
    size_t cur;              /* query whose hits are being written */
    size_t opened;           /* groups opened so far */
} qv_rest_search_ctx;

static bool qv_rest_is_batch(qv_rest_shape s) {
    return s == QV_REST_SHAPE_QUERY_BATCH || s == QV_REST_SHAPE_SEARCH_BATCH;
}

/* Opens the result group of the next query (closing the previous one). */
static void qv_rest_group_open(qv_rest_search_ctx *x) {
    bool query = x->shape == QV_REST_SHAPE_QUERY || x->shape == QV_REST_SHAPE_QUERY_BATCH;
    if (x->opened > 0) {
        jw_arr_end(x->w);
        if (query) jw_obj_end(x->w);
    }
    if (query) {
        jw_obj_begin(x->w);
        jw_key(x->w, "points");
    }
    jw_arr_begin(x->w);
    x->opened++;
}

static void qv_rest_group_close(qv_rest_search_ctx *x) {
    if (x->opened == 0) return;
    jw_arr_end(x->w);
    if (x->shape == QV_REST_SHAPE_QUERY || x->shape == QV_REST_SHAPE_QUERY_BATCH) jw_obj_end(x->w);
}

/* begin(i): opens groups up to i, so a query without hits still gets its
 * (empty) group even if the engine skipped its begin. */
static void qv_rest_on_begin(void *ctx, size_t i) {
    qv_rest_search_ctx *x = ctx;
    while (x->opened <= i) qv_rest_group_open(x);
    x->cur = i;
}

static bool qv_rest_on_hit(void *ctx, const qv_point_view *p, float score) {
    qv_rest_search_ctx *x = ctx;
    if (x->opened == 0) qv_rest_on_begin(x, 0);
    qv_rest_encode_scored(x->w, &x->fmts[x->cur], p, score);
    return true;
}

/* A result of a query's order_by variant (with its order_value). */
static bool qv_rest_on_ordered(void *ctx, const qv_point_view *p, const qv_order_value *v) {
    qv_rest_search_ctx *x = ctx;
    if (x->opened == 0) qv_rest_on_begin(x, 0);
    qv_rest_encode_scored_ordered(x->w, &x->fmts[x->cur], p, v);
    return true;
}

/* Runs n decoded queries against the collection of the request and replies
 * in the given shape. */
static void qv_rest_run_queries(qv_rest_req *rq, qv_rest_resp *rs, qv_rest_query *qs, size_t n,
                                qv_rest_shape shape) {
    qv_err err;
    qv_err_clear(&err);
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    const qv_collection_config *cfg = qv_collection_config_get(c);
    qv_rest_point_fmt *fmts = qv_arena_calloc(&rq->arena, sizeof *fmts * (n ? n : 1));
    qv_query *plain = qv_arena_calloc(&rq->arena, sizeof *plain * (n ? n : 1));
    const qv_order_by **obs = qv_arena_calloc(&rq->arena, sizeof *obs * (n ? n : 1));
    bool ordered = false; /* some query is an order_by query (values.c runs those) */
    qv_rc rc = fmts && plain && obs ? QV_OK : qv_fail(&err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        plain[i] = qs[i].q;
        obs[i] = qs[i].has_order_by ? &qs[i].order_by : NULL;
        ordered |= qs[i].has_order_by;
        rc = qv_rest_point_fmt_init(&fmts[i], cfg, &qs[i].with_payload, &qs[i].with_vector,
                                    &rq->arena, &err);
    }
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    if (qv_rest_is_batch(shape)) jw_arr_begin(&w);
    qv_rest_search_ctx x = {&w, shape, fmts, 0, 0};
    qv_read_opts opts = {qv_rest_is_batch(shape), rq->has_timeout, rq->timeout_sec};
    if (!rc && n > 0 && ordered)
        rc = qv_collection_query_ordered(c, plain, obs, n, &opts, qv_rest_on_begin, qv_rest_on_hit,
                                         qv_rest_on_ordered, &x, &err);
    else if (!rc && n > 0)
        rc = qv_collection_query(c, plain, n, &opts, qv_rest_on_begin, qv_rest_on_hit, &x, &err);
    qv_collection_release(c);
    while (!rc && x.opened < n) qv_rest_group_open(&x);
    qv_rest_group_close(&x);
    if (qv_rest_is_batch(shape)) jw_arr_end(&w);
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

typedef qv_rc (*qv_rest_one_decoder)(qv_arena *, const jv *, qv_rest_query *, qv_err *);
typedef qv_rc (*qv_rest_many_decoder)(qv_arena *, const jv *, qv_rest_query **, size_t *, qv_err *);

static void qv_rest_single(qv_rest_req *rq, qv_rest_resp *rs, qv_rest_one_decoder dec,
                           qv_rest_shape shape) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_rest_query q;
    if (qv_rest_body_json(rq, shape == QV_REST_SHAPE_QUERY, &body, &err) ||
        dec(&rq->arena, &body, &q, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_run_queries(rq, rs, &q, 1, shape);
}

static void qv_rest_many(qv_rest_req *rq, qv_rest_resp *rs, qv_rest_many_decoder dec,
                         qv_rest_shape shape) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_rest_query *qs = NULL;
    size_t n = 0;
    if (qv_rest_body_json(rq, false, &body, &err) || dec(&rq->arena, &body, &qs, &n, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rest_run_queries(rq, rs, qs, n, shape);
}

void qv_rest_h_query(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_single(rq, rs, qv_rest_decode_query, QV_REST_SHAPE_QUERY);
}

void qv_rest_h_query_batch(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_many(rq, rs, qv_rest_decode_query_batch, QV_REST_SHAPE_QUERY_BATCH);
}

void qv_rest_h_search(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_single(rq, rs, qv_rest_decode_search, QV_REST_SHAPE_SEARCH);
}

void qv_rest_h_search_batch(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_many(rq, rs, qv_rest_decode_search_batch, QV_REST_SHAPE_SEARCH_BATCH);
}
