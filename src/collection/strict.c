/*
 * strict.c - strict mode: the field table, the persisted JSON form, the
 * checks and the rate limiters (see strict.h for what and why).
 *
 * Messages copy Qdrant's verification code: CollectionError::strict_mode
 * joins "<error>" and "<solution>" as "<error>. Help: <solution>", which
 * is why "Exact search disabled!. Help: Set exact=false." has its odd
 * punctuation; the API layer adds "Bad request: ".
 */
#include "collection/strict.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ======================================================================
 * The field table
 * ====================================================================== */

#define QV_SF(name, kind, min, max, inner)                                                         \
    { #name, kind, offsetof(qv_strict_config, name), min, max, inner }

const qv_strict_field qv_strict_fields[] = {
    QV_SF(enabled, QV_STRICT_BOOL, 0, 0, NULL),
    QV_SF(max_query_limit, QV_STRICT_U64, 1, UINT64_MAX, NULL),
    QV_SF(max_timeout, QV_STRICT_U64, 1, UINT64_MAX, NULL),
    QV_SF(unindexed_filtering_retrieve, QV_STRICT_BOOL, 0, 0, NULL),
    QV_SF(unindexed_filtering_update, QV_STRICT_BOOL, 0, 0, NULL),
    QV_SF(search_max_hnsw_ef, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(search_allow_exact, QV_STRICT_BOOL, 0, 0, NULL),
    QV_SF(search_max_oversampling, QV_STRICT_F64, 0, 0, NULL),
    QV_SF(upsert_max_batchsize, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(search_max_batchsize, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(max_collection_vector_size_bytes, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(read_rate_limit, QV_STRICT_U64, 1, UINT64_MAX, NULL),
    QV_SF(write_rate_limit, QV_STRICT_U64, 1, UINT64_MAX, NULL),
    QV_SF(max_collection_payload_size_bytes, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(max_points_count, QV_STRICT_U64, 1, UINT64_MAX, NULL),
    QV_SF(filter_max_conditions, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(condition_max_size, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(multivector_config, QV_STRICT_MAP, 1, UINT64_MAX, "max_vectors"),
    QV_SF(sparse_config, QV_STRICT_MAP, 1, UINT64_MAX, "max_length"),
    QV_SF(max_payload_index_count, QV_STRICT_U64, 0, UINT64_MAX, NULL),
    QV_SF(max_resident_memory_percent, QV_STRICT_U64, 1, 100, NULL),
};
const size_t qv_strict_nfields = sizeof qv_strict_fields / sizeof qv_strict_fields[0];

void qv_strict_config_defaults(qv_strict_config *c) {
    memset(c, 0, sizeof *c);
    c->enabled = (qv_opt_bool){true, false};
}

void qv_strict_config_write_json(jw *w, const qv_strict_config *c) {
    jw_obj_begin(w);
    for (size_t i = 0; i < qv_strict_nfields; i++) {
        const qv_strict_field *f = &qv_strict_fields[i];
        const void *p = qv_strict_cslot(c, f);
        switch (f->kind) {
        case QV_STRICT_BOOL:
            if (!((const qv_opt_bool *)p)->has) break;
            jw_key(w, f->name);
            jw_bool(w, ((const qv_opt_bool *)p)->v);
            break;
        case QV_STRICT_U64:
            if (!((const qv_opt_u64 *)p)->has) break;
            jw_key(w, f->name);
            jw_u64(w, ((const qv_opt_u64 *)p)->v);
            break;
        case QV_STRICT_F64:
            if (!((const qv_opt_f64 *)p)->has) break;
            jw_key(w, f->name);
            jw_f64(w, ((const qv_opt_f64 *)p)->v);
            break;
        default:
            if (((const jv *)p)->type != JV_OBJ) break;
            jw_key(w, f->name);
            jw_value(w, (const jv *)p);
        }
    }
    jw_obj_end(w);
}

qv_rc qv_strict_config_read_json(qv_arena *a, const jv *j, qv_strict_config *out, qv_err *err) {
    qv_strict_config_defaults(out);
    out->enabled.has = false; /* as persisted: absent stays absent */
    if (!j || j->type != JV_OBJ) {
        qv_strict_config_defaults(out);
        return QV_OK;
    }
    for (size_t i = 0; i < qv_strict_nfields; i++) {
        const qv_strict_field *f = &qv_strict_fields[i];
        const jv *x = jv_get(j, f->name);
        void *p = qv_strict_slot(out, f);
        if (!x) continue;
        if (f->kind == QV_STRICT_BOOL && x->type == JV_BOOL) {
            *(qv_opt_bool *)p = (qv_opt_bool){true, x->v.b != 0};
        } else if (f->kind == QV_STRICT_U64) {
            qv_opt_u64 *o = p;
            o->has = jv_to_u64(x, &o->v);
        } else if (f->kind == QV_STRICT_F64) {
            qv_opt_f64 *o = p;
            o->has = jv_to_f64(x, &o->v) && isfinite(o->v);
        } else if (f->kind == QV_STRICT_MAP && x->type == JV_OBJ) {
            if (!jv_copy(a, x, p)) return qv_fail(err, QV_ENOMEM, "out of memory");
            jv_resolve_numbers(p);
        }
    }
    return QV_OK;
}

/* ======================================================================
 * Filters: size, cost and indexes
 * ====================================================================== */

static uint64_t filter_conditions(const qv_filter *f);

/* Qdrant's total_conditions_count: leaves count 1, a sub-filter or a
 * nested filter counts its own conditions. */
static uint64_t cond_conditions(const qv_filter_cond *c) {
    if (c->kind == QV_FILTER_COND_FILTER || c->kind == QV_FILTER_COND_NESTED)
        return filter_conditions(c->u.filter);
    return 1;
}

static uint64_t list_conditions(const qv_filter_list *l) {
    uint64_t n = 0;
    for (size_t i = 0; i < l->n; i++) n += cond_conditions(&l->conds[i]);
    return n;
}

static uint64_t filter_conditions(const qv_filter *f) {
    if (!f) return 0;
    return list_conditions(&f->must) + list_conditions(&f->should) + list_conditions(&f->must_not) +
           list_conditions(&f->min_should);
}

uint64_t qv_strict_filter_cost(const qv_filter *f) {
    return filter_conditions(f);
}

static uint64_t filter_max_size(const qv_filter *f);

/* Qdrant's input size of one condition: the values of match any/except,
 * the ids of has_id, the vertices of a polygon; 1 otherwise. */
static uint64_t cond_size(const qv_filter_cond *c) {
    switch (c->kind) {
    case QV_FILTER_COND_FILTER:
    case QV_FILTER_COND_NESTED:
        return filter_max_size(c->u.filter);
    case QV_FILTER_COND_MATCH:
        switch (c->u.match.kind) {
        case QV_FILTER_MATCH_ANY_STR:
        case QV_FILTER_MATCH_ANY_INT:
        case QV_FILTER_MATCH_EXCEPT_STR:
        case QV_FILTER_MATCH_EXCEPT_INT:
            return c->u.match.v.set.n;
        default:
            return 1;
        }
    case QV_FILTER_COND_HAS_ID:
        return c->u.ids.n;
    case QV_FILTER_COND_GEO_POLYGON: {
        uint64_t n = c->u.polygon.exterior.n;
        for (size_t i = 0; i < c->u.polygon.ninteriors; i++) n += c->u.polygon.interiors[i].n;
        return n;
    }
    default:
        return 1;
    }
}

static uint64_t list_max_size(const qv_filter_list *l) {
    uint64_t m = 0;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t s = cond_size(&l->conds[i]);
        if (s > m) m = s;
    }
    return m;
}

static uint64_t filter_max_size(const qv_filter *f) {
    if (!f) return 0;
    uint64_t m = list_max_size(&f->must), s;
    if ((s = list_max_size(&f->should)) > m) m = s;
    if ((s = list_max_size(&f->must_not)) > m) m = s;
    if ((s = list_max_size(&f->min_should)) > m) m = s;
    return m;
}

/* The index types that can serve a payload condition (bit i = type i);
 * 0 when the condition needs none (is_empty, is_null, values_count, and
 * the point conditions). */
static uint32_t cond_index_types(const qv_filter_cond *c) {
#define T(x) (1u << (x))
    switch (c->kind) {
    case QV_FILTER_COND_MATCH:
        switch (c->u.match.kind) {
        case QV_FILTER_MATCH_KEYWORD:
        case QV_FILTER_MATCH_ANY_STR:
        case QV_FILTER_MATCH_EXCEPT_STR:
            return T(QV_PT_KEYWORD) | T(QV_PT_UUID);
        case QV_FILTER_MATCH_INTEGER:
        case QV_FILTER_MATCH_ANY_INT:
        case QV_FILTER_MATCH_EXCEPT_INT:
            return T(QV_PT_INTEGER);
        case QV_FILTER_MATCH_BOOL:
            return T(QV_PT_BOOL);
        case QV_FILTER_MATCH_PREFIX:
        case QV_FILTER_MATCH_SUBSTRING:
            return T(QV_PT_KEYWORD) | T(QV_PT_TEXT);
        default:
            return T(QV_PT_TEXT);
        }
    case QV_FILTER_COND_RANGE:
        return T(QV_PT_INTEGER) | T(QV_PT_FLOAT);
    case QV_FILTER_COND_DATETIME:
        return T(QV_PT_DATETIME);
    case QV_FILTER_COND_GEO_BOX:
    case QV_FILTER_COND_GEO_RADIUS:
    case QV_FILTER_COND_GEO_POLYGON:
        return T(QV_PT_GEO);
    default:
        return 0;
    }
#undef T
}

static bool index_serves(const qv_index_set *ix, const char *key, uint32_t types) {
    for (size_t i = 0; ix && i < ix->n; i++)
        if (strcmp(ix->items[i].field, key) == 0 && (types & (1u << ix->items[i].type)))
            return true;
    return false;
}

/* "[float, integer]": the type names of the mask, sorted by name. */
static void types_text(uint32_t types, char *buf, size_t n) {
    const char *names[QV_PT_MAX];
    size_t k = 0;
    for (uint32_t t = 1; t <= QV_PT_MAX; t++)
        if (types & (1u << t)) names[k++] = qv_payload_type_name(t);
    for (size_t i = 1; i < k; i++) /* insertion sort: a handful of names */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *x = names[j];
            names[j] = names[j - 1], names[j - 1] = x;
        }
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", names[i]);
}

static qv_rc unindexed_in(const qv_index_set *ix, const qv_filter *f, const char *prefix,
                          qv_err *err);

/* One condition; prefix is the path of the enclosing nested conditions
 * ("" at the top, "a[]." inside nested {key: "a"}). */
static qv_rc unindexed_cond(const qv_index_set *ix, const qv_filter_cond *c, const char *prefix,
                            qv_err *err) {
    char key[512] = "";
    if (c->key) snprintf(key, sizeof key, "%s%s", prefix, c->key->text);
    if (c->kind == QV_FILTER_COND_FILTER) return unindexed_in(ix, c->u.filter, prefix, err);
    if (c->kind == QV_FILTER_COND_NESTED) {
        char inner[520];
        snprintf(inner, sizeof inner, "%s[].", key);
        return unindexed_in(ix, c->u.filter, inner, err);
    }
    uint32_t types = cond_index_types(c);
    if (!types || !c->key || index_serves(ix, key, types)) return QV_OK;
    char names[160];
    types_text(types, names, sizeof names);
    return qv_fail(err, QV_EBADREQUEST,
                   "Index required but not found for \"%.300s\" of one of the following types: "
                   "[%s]. Help: Create an index for this key or use a different filter.",
                   key, names);
}

static qv_rc unindexed_list(const qv_index_set *ix, const qv_filter_list *l, const char *prefix,
                            qv_err *err) {
    for (size_t i = 0; i < l->n; i++) {
        qv_rc rc = unindexed_cond(ix, &l->conds[i], prefix, err);
        if (rc) return rc;
    }
    return QV_OK;
}

static qv_rc unindexed_in(const qv_index_set *ix, const qv_filter *f, const char *prefix,
                          qv_err *err) {
    qv_rc rc = QV_OK;
    if (!f) return rc;
    if (!rc) rc = unindexed_list(ix, &f->must, prefix, err);
    if (!rc) rc = unindexed_list(ix, &f->should, prefix, err);
    if (!rc) rc = unindexed_list(ix, &f->must_not, prefix, err);
    if (!rc) rc = unindexed_list(ix, &f->min_should, prefix, err);
    return rc;
}

/* Qdrant's check_request_filter: the filter's own limits first (an index
 * would not make an oversized filter acceptable), then its indexes when
 * unindexed filtering is forbidden for this kind of request. */
static qv_rc check_filter(const qv_strict_config *c, const qv_index_set *ix, const qv_filter *f,
                          qv_opt_bool allow_unindexed, qv_err *err) {
    if (!f) return QV_OK;
    if (c->filter_max_conditions.has) {
        uint64_t n = filter_conditions(f), max = c->filter_max_conditions.v;
        if (n > max)
            return qv_fail(err, QV_EBADREQUEST,
                           "Filter condition limit reached (%" PRIu64 " > %" PRIu64
                           "). Help: Reduce the amount of conditions of your filter.",
                           n, max);
    }
    if (c->condition_max_size.has) {
        uint64_t n = filter_max_size(f), max = c->condition_max_size.v;
        if (n > max)
            return qv_fail(err, QV_EBADREQUEST,
                           "Condition size limit reached (%" PRIu64 " > %" PRIu64
                           "). Help: Reduce the size of your condition.",
                           n, max);
    }
    if (allow_unindexed.has && !allow_unindexed.v) return unindexed_in(ix, f, "", err);
    return QV_OK;
}

/* ======================================================================
 * Request checks
 * ====================================================================== */

/* Qdrant's check_limit_opt. */
static qv_rc check_limit(uint64_t value, qv_opt_u64 limit, const char *name, qv_err *err) {
    if (!limit.has || value <= limit.v) return QV_OK;
    return qv_fail(err, QV_EBADREQUEST,
                   "Limit exceeded %" PRIu64 " > %" PRIu64 " for \"%s\". Help: Reduce the \"%s\" "
                   "parameter to or below %" PRIu64 ".",
                   value, limit.v, name, name, limit.v);
}

static qv_rc check_opts(const qv_strict_config *c, const qv_read_opts *opts, size_t nq,
                        qv_err *err) {
    if (!opts) return QV_OK;
    qv_rc rc = QV_OK;
    if (opts->batch) rc = check_limit(nq, c->search_max_batchsize, "search batch size", err);
    if (!rc && opts->has_timeout) rc = check_limit(opts->timeout, c->max_timeout, "timeout", err);
    return rc;
}

static qv_rc check_query(const qv_strict_config *c, const qv_index_set *ix, const qv_query *q,
                         qv_err *err) {
    qv_rc rc = check_limit(q->limit, c->max_query_limit, "limit", err);
    if (!rc) rc = check_filter(c, ix, q->filter, c->unindexed_filtering_retrieve, err);
    if (!rc && q->exact && c->search_allow_exact.has && !c->search_allow_exact.v)
        rc = qv_fail(err, QV_EBADREQUEST, "Exact search disabled!. Help: Set exact=false.");
    if (!rc && q->oversampling.has && c->search_max_oversampling.has &&
        q->oversampling.v > c->search_max_oversampling.v) {
        char v[32], m[32];
        fmt_f64(v, q->oversampling.v);
        fmt_f64(m, c->search_max_oversampling.v);
        rc = qv_fail(err, QV_EBADREQUEST,
                     "Limit exceeded %s > %s for \"oversampling\". Help: Reduce the "
                     "\"oversampling\" parameter to or below %s.",
                     v, m, m);
    }
    if (!rc && q->hnsw_ef.has)
        rc = check_limit(q->hnsw_ef.v, c->search_max_hnsw_ef, "hnsw_ef", err);
    return rc;
}

qv_rc qv_strict_check_queries(const qv_strict_config *c, const qv_index_set *ix, const qv_query *qs,
                              size_t nq, const qv_read_opts *opts, qv_err *err) {
    if (!qv_strict_enabled(c)) return QV_OK;
    for (size_t i = 0; i < nq; i++) {
        qv_rc rc = check_query(c, ix, &qs[i], err);
        if (rc) return rc;
    }
    return check_opts(c, opts, nq, err);
}

qv_rc qv_strict_check_read(const qv_strict_config *c, const qv_index_set *ix,
                           const qv_filter *filter, size_t limit, const qv_read_opts *opts,
                           qv_err *err) {
    if (!qv_strict_enabled(c)) return QV_OK;
    qv_rc rc = limit ? check_limit(limit, c->max_query_limit, "limit", err) : QV_OK;
    if (!rc) rc = check_filter(c, ix, filter, c->unindexed_filtering_retrieve, err);
    return rc ? rc : check_opts(c, opts, 0, err);
}

/* Rust's `{}` for an f32: the shortest round-trip digits, never an
 * exponent, no ".0" on integers ("0.00022888184", "20"). */
static void rust_f32(char *buf, size_t n, float x) {
    char s[32];
    fmt_f32(s, x);
    char *e = strpbrk(s, "eE");
    if (!e) {
        size_t len = strlen(s);
        if (len > 2 && strcmp(s + len - 2, ".0") == 0) s[len - 2] = '\0';
        snprintf(buf, n, "%s", s);
        return;
    }
    int exp = atoi(e + 1);
    *e = '\0';
    char digits[32];
    size_t k = 0, intlen = 0;
    for (char *p = s; *p; p++) {
        if (*p == '.')
            intlen = k;
        else if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    }
    if (!strchr(s, '.')) intlen = k;
    digits[k] = '\0';
    long point = (long)intlen + exp; /* digits before the decimal point */
    if (point <= 0) {
        size_t len = (size_t)snprintf(buf, n, "0.");
        for (long i = 0; i < -point && len + 1 < n; i++) buf[len++] = '0';
        buf[len] = '\0';
        snprintf(buf + len, n - len, "%s", digits);
    } else if ((size_t)point >= k) {
        size_t len = (size_t)snprintf(buf, n, "%s", digits);
        for (size_t i = k; i < (size_t)point && len + 1 < n; i++) buf[len++] = '0';
        buf[len] = '\0';
    } else {
        snprintf(buf, n, "%.*s.%s", (int)point, digits, digits + point);
    }
}

qv_rc qv_strict_check_update(const qv_strict_config *c, const qv_index_set *ix,
                             const qv_update_op *op, uint64_t points, uint64_t vector_bytes,
                             qv_err *err) {
    if (!qv_strict_enabled(c)) return QV_OK;
    qv_rc rc = QV_OK;
    bool inserts = op->kind == QV_OP_UPSERT || op->kind == QV_OP_UPDATE_VECTORS;
    if (op->kind == QV_OP_UPSERT)
        rc = check_limit(op->npoints, c->upsert_max_batchsize, "upsert limit", err);
    else if (op->kind == QV_OP_UPDATE_VECTORS)
        rc = check_limit(op->npoints, c->upsert_max_batchsize, "update limit", err);
    if (!rc && op->filter) rc = check_filter(c, ix, op->filter, c->unindexed_filtering_update, err);
    if (!rc && inserts && c->max_collection_vector_size_bytes.has &&
        vector_bytes >= c->max_collection_vector_size_bytes.v) {
        char mb[64];
        rust_f32(mb, sizeof mb, (float)c->max_collection_vector_size_bytes.v / (1024.0f * 1024.0f));
        rc = qv_fail(err, QV_EBADREQUEST, "Max vector storage size limit of %sMB reached!", mb);
    }
    if (!rc && op->kind == QV_OP_UPSERT && c->max_points_count.has &&
        points >= c->max_points_count.v)
        rc = qv_fail(err, QV_EBADREQUEST, "Max points count limit of %" PRIu64 " reached!",
                     c->max_points_count.v);
    return rc;
}

/* ======================================================================
 * Rate limits
 * ====================================================================== */

static double now_sec(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void limiter_set(qv_strict_limiter *l, const qv_strict_config *c) {
    bool on = qv_strict_enabled(c);
    double t = now_sec();
    l->read_on = on && c->read_rate_limit.has;
    l->write_on = on && c->write_rate_limit.has;
    if (l->read_on) qv_ratelimit_init(&l->read, c->read_rate_limit.v, t);
    if (l->write_on) qv_ratelimit_init(&l->write, c->write_rate_limit.v, t);
}

void qv_strict_limiter_init(qv_strict_limiter *l, const qv_strict_config *c) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    limiter_set(l, c);
}

void qv_strict_limiter_reset(qv_strict_limiter *l, const qv_strict_config *c) {
    pthread_mutex_lock(&l->mu);
    limiter_set(l, c);
    pthread_mutex_unlock(&l->mu);
}

void qv_strict_limiter_destroy(qv_strict_limiter *l) {
    pthread_mutex_destroy(&l->mu);
}

qv_rc qv_strict_charge(qv_strict_limiter *l, bool write, uint64_t cost, qv_err *err) {
    if (cost == 0) cost = 1;
    pthread_mutex_lock(&l->mu);
    bool on = write ? l->write_on : l->read_on;
    double avail = 0, wait = 0;
    qv_ratelimit_rc r =
        on ? qv_ratelimit_take(write ? &l->write : &l->read, (double)cost, now_sec(), &avail, &wait)
           : QV_RATELIMIT_OK;
    pthread_mutex_unlock(&l->mu);
    const char *what = write ? "Write" : "Read";
    if (r == QV_RATELIMIT_NEVER)
        return qv_fail_retry(err, 0,
                             "%s rate limit exceeded, request larger than than rate limiter "
                             "capacity, please try to split your request",
                             what);
    if (r == QV_RATELIMIT_WAIT) {
        double secs = ceil(wait);
        unsigned s = secs < 1 ? 1 : secs > 86400 ? 86400 : (unsigned)secs;
        return qv_fail_retry(err, s,
                             "%s rate limit exceeded: Operation requires %" PRIu64
                             " tokens but only %.1f were available. Retry after %us",
                             what, cost, avail, s);
    }
    return QV_OK;
}
