/*
 * json_filter.c - JSON filter -> qv_filter (see json_filter.h for the rules).
 *
 * How serde's untagged enums are reproduced.  Condition is tried as
 * FieldCondition, IsEmpty, IsNull, HasId, HasVector, Slice, Nested, Filter;
 * each of those structs requires its own distinguishing member ("key",
 * "is_empty", ...) and rejects every other member, so "the first variant that
 * decodes" is always "the variant named by the first distinguishing member
 * present" - we dispatch on it instead of trying each.  An object with none
 * of them can only be a Filter (all its members are optional, so {} is the
 * filter that matches everything).  Match and RangeInterface are handled the
 * same way.
 *
 * Errors.  Every decoder returns QV_EFORMAT with a serde-style message, but a
 * failure anywhere inside a condition is rewritten at the condition boundary
 * to serde's generic untagged-enum message, as serde itself does.  Rules that
 * Qdrant checks after decoding (validation, HTTP 422) are remembered in the
 * decoder and reported only if the whole filter decoded.
 */
#include "api/json_filter.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define QV_FILTER_UNTAGGED "data did not match any variant of untagged enum Condition"

typedef struct qv_fdec {
    qv_arena *a;
    qv_err *err;
    qv_err verr; /* first validation error (kind QV_OK while none) */
} qv_fdec;

static qv_rc qv_fdec_filter(qv_fdec *d, const jv *v, qv_filter **out);

/* ---- small helpers ------------------------------------------------------ */

static qv_rc qv_fdec_oom(qv_fdec *d) {
    return qv_fail(d->err, QV_ENOMEM, "out of memory");
}

static void qv_fdec_invalid(qv_fdec *d, const char *fmt, const char *arg) {
    if (d->verr.kind == QV_OK) qv_fail(&d->verr, QV_EVALIDATION, fmt, arg);
}

/* serde's description of an unexpected value: `string "a"`, `map`, ... */
static void qv_fdec_describe(const jv *v, char *buf, size_t cap) {
    switch (v->type) {
    case JV_NULL:
        snprintf(buf, cap, "null");
        break;
    case JV_BOOL:
        snprintf(buf, cap, "boolean `%s`", v->v.b ? "true" : "false");
        break;
    case JV_STR:
        snprintf(buf, cap, "string \"%.*s\"", (int)(v->len > 100 ? 100 : v->len), v->v.s);
        break;
    case JV_ARR:
        snprintf(buf, cap, "sequence");
        break;
    case JV_OBJ:
        snprintf(buf, cap, "map");
        break;
    case JV_INT:
        snprintf(buf, cap, "integer `%lld`", (long long)v->v.i);
        break;
    case JV_UINT:
        snprintf(buf, cap, "integer `%llu`", (unsigned long long)v->v.u);
        break;
    case JV_DBL:
        snprintf(buf, cap, "floating point `%g`", v->v.d);
        break;
    default: {
        bool frac = strpbrk(v->v.s, ".eE") != NULL;
        snprintf(buf, cap, "%s `%.*s`", frac ? "floating point" : "integer",
                 (int)(v->len > 60 ? 60 : v->len), v->v.s);
    }
    }
}

static qv_rc qv_fdec_type(qv_fdec *d, const jv *v, const char *expected) {
    char what[160];
    qv_fdec_describe(v, what, sizeof what);
    return qv_fail(d->err, QV_EFORMAT, "invalid type: %s, expected %s", what, expected);
}

/* serde's "unknown field" message lists the struct's fields like this. */
static qv_rc qv_fdec_unknown(qv_fdec *d, const char *key, const char *const *fields) {
    char list[256] = "";
    size_t n = 0, off = 0;
    while (fields[n]) n++;
    for (size_t k = 0; k < n && off < sizeof list; k++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s`%s`",
                                k == 0 ? "" : (n == 2 ? " or " : ", "), fields[k]);
    return qv_fail(d->err, QV_EFORMAT, "unknown field `%.100s`, expected %s%s", key,
                   n > 2 ? "one of " : "", list);
}

/* Checks that obj is an object whose members are all in fields, none twice. */
static qv_rc qv_fdec_struct(qv_fdec *d, const jv *obj, const char *name,
                            const char *const *fields) {
    if (obj->type != JV_OBJ) return qv_fdec_type(d, obj, name);
    for (uint32_t k = 0; k < obj->len; k++) {
        const jv_member *m = &obj->v.members[k];
        bool known = false;
        for (size_t f = 0; fields[f] && !known; f++)
            known = strlen(fields[f]) == m->klen && memcmp(fields[f], m->key, m->klen) == 0;
        if (!known) return qv_fdec_unknown(d, m->key, fields);
        for (uint32_t j = 0; j < k; j++)
            if (obj->v.members[j].klen == m->klen &&
                memcmp(obj->v.members[j].key, m->key, m->klen) == 0)
                return qv_fail(d->err, QV_EFORMAT, "duplicate field `%s`", m->key);
    }
    return QV_OK;
}

/* A member, with an explicit null reading as absent. */
static const jv *qv_fdec_get(const jv *obj, const char *key) {
    const jv *v = jv_get(obj, key);
    return v && v->type != JV_NULL ? v : NULL;
}

static qv_rc qv_fdec_missing(qv_fdec *d, const char *field) {
    return qv_fail(d->err, QV_EFORMAT, "missing field `%s`", field);
}

static qv_rc qv_fdec_f64(qv_fdec *d, const jv *v, double *out) {
    if (!jv_is_number(v)) return qv_fdec_type(d, v, "f64");
    if (!jv_to_f64(v, out)) return qv_fail(d->err, QV_EFORMAT, "number out of range");
    return QV_OK;
}

static qv_rc qv_fdec_u64(qv_fdec *d, const jv *v, const char *what, uint64_t *out) {
    if (jv_to_u64(v, out)) return QV_OK;
    char desc[160];
    qv_fdec_describe(v, desc, sizeof desc);
    if (jv_is_number(v) && !strstr(desc, "floating"))
        return qv_fail(d->err, QV_EFORMAT, "invalid value: %s, expected %s", desc, what);
    return qv_fdec_type(d, v, what);
}

static qv_rc qv_fdec_keypath(qv_fdec *d, const jv *v, const qv_keypath **out) {
    qv_keypath *p;
    if (!v) return qv_fdec_missing(d, "key");
    if (v->type != JV_STR) return qv_fdec_type(d, v, "a string");
    qv_rc rc = qv_keypath_parse(d->a, v->v.s, v->len, &p, d->err);
    *out = p;
    return rc;
}

static qv_rc qv_fdec_str(qv_fdec *d, const jv *v, qv_filter_str *out) {
    if (v->type != JV_STR) return qv_fdec_type(d, v, "a string");
    out->s = qv_arena_strndup(d->a, v->v.s, v->len);
    out->len = v->len;
    return out->s ? QV_OK : qv_fdec_oom(d);
}

/* ---- match ---------------------------------------------------------------- */

static qv_rc qv_fdec_match_value(qv_fdec *d, const jv *v, qv_filter_matcher *m) {
    if (v->type == JV_STR) {
        m->kind = QV_FILTER_MATCH_KEYWORD;
        return qv_fdec_str(d, v, &m->v.str);
    }
    if (v->type == JV_BOOL) {
        m->kind = QV_FILTER_MATCH_BOOL;
        m->v.b = v->v.b != 0;
        return QV_OK;
    }
    m->kind = QV_FILTER_MATCH_INTEGER;
    if (jv_to_i64(v, &m->v.i)) return QV_OK;
    return qv_fail(d->err, QV_EFORMAT,
                   "data did not match any variant of untagged enum ValueVariants");
}

/* any / except: a list of strings or a list of integers ([] is strings). */
static qv_rc qv_fdec_match_set(qv_fdec *d, const jv *v, bool except, qv_filter_matcher *m) {
    if (v->type != JV_ARR) return qv_fdec_type(d, v, "a sequence");
    bool strs = v->len == 0 || v->v.items[0].type == JV_STR;
    m->kind = strs ? (except ? QV_FILTER_MATCH_EXCEPT_STR : QV_FILTER_MATCH_ANY_STR)
                   : (except ? QV_FILTER_MATCH_EXCEPT_INT : QV_FILTER_MATCH_ANY_INT);
    m->v.set.n = v->len;
    size_t sz = (v->len ? v->len : 1) * (strs ? sizeof(qv_filter_str) : sizeof(int64_t));
    void *arr = qv_arena_alloc(d->a, sz);
    if (!arr) return qv_fdec_oom(d);
    if (strs)
        m->v.set.strs = arr;
    else
        m->v.set.ints = arr;
    for (uint32_t k = 0; k < v->len; k++) {
        const jv *it = &v->v.items[k];
        qv_rc rc = QV_OK;
        if (strs && it->type == JV_STR)
            rc = qv_fdec_str(d, it, &m->v.set.strs[k]);
        else if (strs || !jv_to_i64(it, &m->v.set.ints[k]))
            rc = qv_fail(d->err, QV_EFORMAT,
                         "data did not match any variant of untagged enum AnyVariants");
        if (rc) return rc;
    }
    return QV_OK;
}

static const char *const qv_fdec_match_fields[] = {
    "value", "text", "text_any", "phrase", "prefix", "substring", "any", "except", NULL};

static qv_rc qv_fdec_match(qv_fdec *d, const jv *v, qv_filter_matcher *m) {
    static const uint32_t kinds[] = {0,
                                     QV_FILTER_MATCH_TEXT,
                                     QV_FILTER_MATCH_TEXT_ANY,
                                     QV_FILTER_MATCH_PHRASE,
                                     QV_FILTER_MATCH_PREFIX,
                                     QV_FILTER_MATCH_SUBSTRING};
    qv_rc rc = qv_fdec_struct(d, v, "untagged enum Match", qv_fdec_match_fields);
    if (rc) return rc;
    if (v->len != 1)
        return qv_fail(d->err, QV_EFORMAT, "data did not match any variant of untagged enum Match");
    const jv_member *mem = &v->v.members[0];
    for (int k = 0; qv_fdec_match_fields[k]; k++) {
        if (strcmp(mem->key, qv_fdec_match_fields[k]) != 0) continue;
        if (k == 0) return qv_fdec_match_value(d, &mem->val, m);
        if (k >= 6) return qv_fdec_match_set(d, &mem->val, k == 7, m);
        m->kind = kinds[k];
        return qv_fdec_str(d, &mem->val, &m->v.str);
    }
    return qv_fail(d->err, QV_EFORMAT, "data did not match any variant of untagged enum Match");
}

/* ---- ranges and counts ---------------------------------------------------- */

static const char *const qv_fdec_bound_names[] = {"gt", "gte", "lt", "lte", NULL};
static const uint32_t qv_fdec_bound_bits[] = {QV_FILTER_GT, QV_FILTER_GTE, QV_FILTER_LT,
                                              QV_FILTER_LTE};

/* Numbers first (Range); if some bound is not a number, RFC 3339 strings
 * (DatetimeRange).  An empty object is a numeric range with no bounds. */
static qv_rc qv_fdec_range(qv_fdec *d, const jv *v, qv_filter_cond *c) {
    qv_rc rc = qv_fdec_struct(d, v, "untagged enum RangeInterface", qv_fdec_bound_names);
    if (rc) return rc;
    double num[4];
    qv_filter_time tm[4];
    uint32_t nset = 0, tset = 0, present = 0;
    for (int k = 0; k < 4; k++) {
        const jv *b = qv_fdec_get(v, qv_fdec_bound_names[k]);
        if (!b) continue;
        present |= qv_fdec_bound_bits[k];
        if (jv_is_number(b) && jv_to_f64(b, &num[k])) nset |= qv_fdec_bound_bits[k];
        if (b->type == JV_STR && qv_filter_parse_time(b->v.s, b->len, &tm[k]))
            tset |= qv_fdec_bound_bits[k];
    }
    bool numeric = nset == present, dated = !numeric && tset == present;
    if (!numeric && !dated)
        return qv_fail(d->err, QV_EFORMAT,
                       "data did not match any variant of untagged enum RangeInterface");
    c->kind = numeric ? QV_FILTER_COND_RANGE : QV_FILTER_COND_DATETIME;
    qv_filter_range *r = &c->u.range;
    qv_filter_dtrange *t = &c->u.dt;
    if (numeric)
        r->set = present;
    else
        t->set = present;
    double *nb[4] = {&r->gt, &r->gte, &r->lt, &r->lte};
    qv_filter_time *tb[4] = {&t->gt, &t->gte, &t->lt, &t->lte};
    for (int k = 0; k < 4; k++) {
        if (!(present & qv_fdec_bound_bits[k])) continue;
        if (numeric)
            *nb[k] = num[k];
        else
            *tb[k] = tm[k];
    }
    return QV_OK;
}

static qv_rc qv_fdec_values_count(qv_fdec *d, const jv *v, qv_filter_count *c) {
    qv_rc rc = qv_fdec_struct(d, v, "struct ValuesCount", qv_fdec_bound_names);
    uint64_t *dst[4] = {&c->gt, &c->gte, &c->lt, &c->lte};
    for (int k = 0; k < 4 && !rc; k++) {
        const jv *b = qv_fdec_get(v, qv_fdec_bound_names[k]);
        if (!b) continue;
        c->set |= qv_fdec_bound_bits[k];
        rc = qv_fdec_u64(d, b, "usize", dst[k]);
    }
    return rc;
}

/* ---- geo ---------------------------------------------------------------- */

static const char *const qv_fdec_point_fields[] = {"lon", "lat", NULL};

/* A GeoPoint; Qdrant rejects coordinates outside [-90;90] x [-180;180]. */
static qv_rc qv_fdec_geo_point(qv_fdec *d, const jv *v, qv_geo_point *p) {
    qv_rc rc = qv_fdec_struct(d, v, "struct GeoPoint", qv_fdec_point_fields);
    if (rc) return rc;
    const jv *lat = qv_fdec_get(v, "lat"), *lon = qv_fdec_get(v, "lon");
    if (!lon) return qv_fdec_missing(d, "lon");
    if (!lat) return qv_fdec_missing(d, "lat");
    if ((rc = qv_fdec_f64(d, lon, &p->lon)) || (rc = qv_fdec_f64(d, lat, &p->lat))) return rc;
    if (p->lat < -90 || p->lat > 90 || p->lon < -180 || p->lon > 180)
        return qv_fail(d->err, QV_EFORMAT,
                       "Wrong format of GeoPoint payload: expected `lat` = %g within [-90;90] "
                       "and `lon` = %g within [-180;180]",
                       p->lat, p->lon);
    return QV_OK;
}

static qv_rc qv_fdec_geo_box(qv_fdec *d, const jv *v, qv_filter_geo_box *b) {
    static const char *const fields[] = {"top_left", "bottom_right", NULL};
    qv_rc rc = qv_fdec_struct(d, v, "struct GeoBoundingBox", fields);
    if (rc) return rc;
    const jv *tl = qv_fdec_get(v, "top_left"), *br = qv_fdec_get(v, "bottom_right");
    if (!tl) return qv_fdec_missing(d, "top_left");
    if (!br) return qv_fdec_missing(d, "bottom_right");
    if ((rc = qv_fdec_geo_point(d, tl, &b->top_left))) return rc;
    return qv_fdec_geo_point(d, br, &b->bottom_right);
}

static qv_rc qv_fdec_geo_radius(qv_fdec *d, const jv *v, qv_filter_geo_radius *r) {
    static const char *const fields[] = {"center", "radius", NULL};
    qv_rc rc = qv_fdec_struct(d, v, "struct GeoRadius", fields);
    if (rc) return rc;
    const jv *c = qv_fdec_get(v, "center"), *rad = qv_fdec_get(v, "radius");
    if (!c) return qv_fdec_missing(d, "center");
    if (!rad) return qv_fdec_missing(d, "radius");
    if ((rc = qv_fdec_geo_point(d, c, &r->center))) return rc;
    return qv_fdec_f64(d, rad, &r->radius);
}

/* A ring must have at least 4 points and be closed, its ends differing by at
 * most f64::EPSILON in each coordinate (Qdrant's GeoPolygon checks this while
 * decoding, so it is a format error). */
static qv_rc qv_fdec_geo_ring(qv_fdec *d, const jv *v, qv_geo_ring *ring) {
    static const char *const fields[] = {"points", NULL};
    qv_rc rc = qv_fdec_struct(d, v, "struct GeoLineString", fields);
    if (rc) return rc;
    const jv *pts = qv_fdec_get(v, "points");
    if (!pts) return qv_fdec_missing(d, "points");
    if (pts->type != JV_ARR) return qv_fdec_type(d, pts, "a sequence");
    ring->n = pts->len;
    ring->pts = qv_arena_alloc(d->a, (pts->len ? pts->len : 1) * sizeof *ring->pts);
    if (!ring->pts) return qv_fdec_oom(d);
    for (uint32_t k = 0; k < pts->len; k++)
        if ((rc = qv_fdec_geo_point(d, &pts->v.items[k], &ring->pts[k]))) return rc;
    if (ring->n < 4)
        return qv_fail(d->err, QV_EFORMAT, "polygon invalid, the size must be at least 4, got %zu",
                       ring->n);
    const qv_geo_point *f = &ring->pts[0], *l = &ring->pts[ring->n - 1];
    if (fabs(f->lat - l->lat) > DBL_EPSILON || fabs(f->lon - l->lon) > DBL_EPSILON)
        return qv_fail(d->err, QV_EFORMAT,
                       "polygon invalid, the first and the last points should be the same to "
                       "form a closed line");
    return QV_OK;
}

static qv_rc qv_fdec_geo_polygon(qv_fdec *d, const jv *v, qv_filter_geo_polygon *g) {
    static const char *const fields[] = {"exterior", "interiors", NULL};
    qv_rc rc = qv_fdec_struct(d, v, "struct GeoPolygon", fields);
    if (rc) return rc;
    const jv *ext = qv_fdec_get(v, "exterior"), *ints = qv_fdec_get(v, "interiors");
    if (!ext) return qv_fdec_missing(d, "exterior");
    if ((rc = qv_fdec_geo_ring(d, ext, &g->exterior))) return rc;
    if (!ints) return QV_OK;
    if (ints->type != JV_ARR) return qv_fdec_type(d, ints, "a sequence");
    g->ninteriors = ints->len;
    g->interiors = qv_arena_calloc(d->a, (ints->len ? ints->len : 1) * sizeof *g->interiors);
    if (!g->interiors) return qv_fdec_oom(d);
    for (uint32_t k = 0; k < ints->len && !rc; k++)
        rc = qv_fdec_geo_ring(d, &ints->v.items[k], &g->interiors[k]);
    return rc;
}

/* ---- field condition ------------------------------------------------------ */

static const char *const qv_fdec_field_fields[] = {
    "key",         "match",        "range",    "geo_bounding_box", "geo_radius",
    "geo_polygon", "values_count", "is_empty", "is_null",          NULL};

/* Decodes the optional bool at name into c (IS_EMPTY / IS_NULL, negated for
 * false); *set tells whether it was present. */
static qv_rc qv_fdec_flag(qv_fdec *d, const jv *v, const char *name, uint32_t kind,
                          qv_filter_cond *c, bool *set) {
    const jv *b = qv_fdec_get(v, name);
    *set = b != NULL;
    if (!b) return QV_OK;
    if (b->type != JV_BOOL) return qv_fdec_type(d, b, "a boolean");
    c->kind = kind;
    c->negate = !b->v.b;
    return QV_OK;
}

/* Decodes every test present (serde decodes them all) and keeps the first in
 * local mode's order: values_count, is_empty, is_null, match, range, geo. */
static qv_rc qv_fdec_field(qv_fdec *d, const jv *v, qv_filter_cond *c) {
    qv_rc rc = qv_fdec_struct(d, v, "struct FieldCondition", qv_fdec_field_fields);
    if (rc || (rc = qv_fdec_keypath(d, jv_get(v, "key"), &c->key))) return rc;
    qv_filter_cond t[8];
    bool has[8];
    memset(t, 0, sizeof t);
    const jv *x;
    if ((has[0] = (x = qv_fdec_get(v, "values_count")) != NULL)) {
        t[0].kind = QV_FILTER_COND_VALUES_COUNT;
        if ((rc = qv_fdec_values_count(d, x, &t[0].u.count))) return rc;
    }
    if ((rc = qv_fdec_flag(d, v, "is_empty", QV_FILTER_COND_IS_EMPTY, &t[1], &has[1])) ||
        (rc = qv_fdec_flag(d, v, "is_null", QV_FILTER_COND_IS_NULL, &t[2], &has[2])))
        return rc;
    if ((has[3] = (x = qv_fdec_get(v, "match")) != NULL)) {
        t[3].kind = QV_FILTER_COND_MATCH;
        if ((rc = qv_fdec_match(d, x, &t[3].u.match))) return rc;
    }
    if ((has[4] = (x = qv_fdec_get(v, "range")) != NULL) && (rc = qv_fdec_range(d, x, &t[4])))
        return rc;
    if ((has[5] = (x = qv_fdec_get(v, "geo_bounding_box")) != NULL)) {
        t[5].kind = QV_FILTER_COND_GEO_BOX;
        if ((rc = qv_fdec_geo_box(d, x, &t[5].u.box))) return rc;
    }
    if ((has[6] = (x = qv_fdec_get(v, "geo_radius")) != NULL)) {
        t[6].kind = QV_FILTER_COND_GEO_RADIUS;
        if ((rc = qv_fdec_geo_radius(d, x, &t[6].u.radius))) return rc;
    }
    if ((has[7] = (x = qv_fdec_get(v, "geo_polygon")) != NULL)) {
        t[7].kind = QV_FILTER_COND_GEO_POLYGON;
        if ((rc = qv_fdec_geo_polygon(d, x, &t[7].u.polygon))) return rc;
    }
    for (int k = 0; k < 8; k++) {
        if (!has[k]) continue;
        const qv_keypath *key = c->key;
        *c = t[k];
        c->key = key;
        return QV_OK;
    }
    qv_fdec_invalid(d, "%s", "At least one field condition must be specified");
    c->kind = QV_FILTER_COND_HAS_ID; /* an empty has_id: matches nothing if ever evaluated */
    return QV_OK;
}

/* ---- other conditions ----------------------------------------------------- */

static qv_rc qv_fdec_payload_field(qv_fdec *d, const jv *outer, const char *name, uint32_t kind,
                                   qv_filter_cond *c) {
    static const char *const fields[] = {"key", NULL};
    const char *const self[] = {name, NULL};
    qv_rc rc = qv_fdec_struct(d, outer, "a condition", self);
    const jv *v = rc ? NULL : jv_get(outer, name);
    if (rc || (rc = qv_fdec_struct(d, v, "struct PayloadField", fields))) return rc;
    c->kind = kind;
    return qv_fdec_keypath(d, jv_get(v, "key"), &c->key);
}

static qv_rc qv_fdec_point_id(qv_fdec *d, const jv *v, qv_pointid *id) {
    if (v->type == JV_STR) {
        if (qv_pointid_parse_uuid(v->v.s, v->len, id)) return QV_OK;
    } else if (jv_to_u64(v, &id->lo)) {
        id->hi = 0;
        id->is_uuid = 0;
        return QV_OK;
    }
    return qv_fail(d->err, QV_EFORMAT,
                   "data did not match any variant of untagged enum ExtendedPointId");
}

static qv_rc qv_fdec_has_id(qv_fdec *d, const jv *outer, qv_filter_cond *c) {
    static const char *const fields[] = {"has_id", NULL};
    qv_rc rc = qv_fdec_struct(d, outer, "struct HasIdCondition", fields);
    if (rc) return rc;
    const jv *v = jv_get(outer, "has_id");
    if (v->type != JV_ARR) return qv_fdec_type(d, v, "a sequence");
    qv_pointid *ids = qv_arena_alloc(d->a, (v->len ? v->len : 1) * sizeof *ids);
    if (!ids) return qv_fdec_oom(d);
    for (uint32_t k = 0; k < v->len; k++)
        if ((rc = qv_fdec_point_id(d, &v->v.items[k], &ids[k]))) return rc;
    return qv_filter_set_ids(d->a, c, ids, v->len) ? QV_OK : qv_fdec_oom(d);
}

static qv_rc qv_fdec_has_vector(qv_fdec *d, const jv *outer, qv_filter_cond *c) {
    static const char *const fields[] = {"has_vector", NULL};
    qv_rc rc = qv_fdec_struct(d, outer, "struct HasVectorCondition", fields);
    qv_filter_str s;
    if (rc || (rc = qv_fdec_str(d, jv_get(outer, "has_vector"), &s))) return rc;
    c->kind = QV_FILTER_COND_HAS_VECTOR;
    c->u.vector = s.s;
    return QV_OK;
}

static qv_rc qv_fdec_slice(qv_fdec *d, const jv *outer, qv_filter_cond *c) {
    static const char *const outer_fields[] = {"slice", NULL};
    static const char *const fields[] = {"total", "index", NULL};
    qv_rc rc = qv_fdec_struct(d, outer, "struct SliceCondition", outer_fields);
    const jv *v = rc ? NULL : jv_get(outer, "slice");
    if (rc || (rc = qv_fdec_struct(d, v, "struct Slice", fields))) return rc;
    const jv *total = qv_fdec_get(v, "total"), *index = qv_fdec_get(v, "index");
    uint64_t t, i;
    if (!total) return qv_fdec_missing(d, "total");
    if (!index) return qv_fdec_missing(d, "index");
    if ((rc = qv_fdec_u64(d, total, "u32", &t)) || (rc = qv_fdec_u64(d, index, "u32", &i)))
        return rc;
    if (t > UINT32_MAX || i > UINT32_MAX)
        return qv_fail(d->err, QV_EFORMAT, "invalid value: integer, expected u32");
    c->kind = QV_FILTER_COND_SLICE;
    c->u.slice.total = (uint32_t)t;
    c->u.slice.index = (uint32_t)i;
    if (t < 1)
        qv_fdec_invalid(d, "%s", "slice.total: value 0 invalid, must be 1 or larger");
    else if (i >= t)
        qv_fdec_invalid(d, "%s", "slice.index: must be less than slice.total");
    return QV_OK;
}

/* nested {key, filter}: a trailing "[]" on key is optional and dropped. */
static qv_rc qv_fdec_nested(qv_fdec *d, const jv *outer, qv_filter_cond *c) {
    static const char *const outer_fields[] = {"nested", NULL};
    static const char *const fields[] = {"key", "filter", NULL};
    qv_rc rc = qv_fdec_struct(d, outer, "struct NestedCondition", outer_fields);
    const jv *v = rc ? NULL : jv_get(outer, "nested");
    if (rc || (rc = qv_fdec_struct(d, v, "struct Nested", fields))) return rc;
    const jv *f = qv_fdec_get(v, "filter");
    if (!f) return qv_fdec_missing(d, "filter");
    qv_filter *sub;
    if ((rc = qv_fdec_keypath(d, jv_get(v, "key"), &c->key)) || (rc = qv_fdec_filter(d, f, &sub)))
        return rc;
    qv_keypath *key = (qv_keypath *)c->key;
    if (key->nseg > 1 && key->segs[key->nseg - 1].kind == QV_KEYPATH_ALL) key->nseg--;
    c->kind = QV_FILTER_COND_NESTED;
    c->u.filter = sub;
    return QV_OK;
}

static qv_rc qv_fdec_subfilter(qv_fdec *d, const jv *v, qv_filter_cond *c) {
    qv_filter *sub;
    qv_rc rc = qv_fdec_filter(d, v, &sub);
    if (rc) return rc;
    c->kind = QV_FILTER_COND_FILTER;
    c->u.filter = sub;
    return QV_OK;
}

/* Dispatches on the first distinguishing member (see the top of the file) and
 * rewrites any format error to serde's untagged-enum message. */
static qv_rc qv_fdec_condition(qv_fdec *d, const jv *v, qv_filter_cond *c) {
    qv_rc rc;
    if (v->type != JV_OBJ)
        rc = QV_EFORMAT;
    else if (jv_get(v, "key"))
        rc = qv_fdec_field(d, v, c);
    else if (jv_get(v, "is_empty"))
        rc = qv_fdec_payload_field(d, v, "is_empty", QV_FILTER_COND_IS_EMPTY, c);
    else if (jv_get(v, "is_null"))
        rc = qv_fdec_payload_field(d, v, "is_null", QV_FILTER_COND_IS_NULL, c);
    else if (jv_get(v, "has_id"))
        rc = qv_fdec_has_id(d, v, c);
    else if (jv_get(v, "has_vector"))
        rc = qv_fdec_has_vector(d, v, c);
    else if (jv_get(v, "slice"))
        rc = qv_fdec_slice(d, v, c);
    else if (jv_get(v, "nested"))
        rc = qv_fdec_nested(d, v, c);
    else
        rc = qv_fdec_subfilter(d, v, c);
    if (rc == QV_EFORMAT) qv_fail(d->err, QV_EFORMAT, QV_FILTER_UNTAGGED);
    return rc;
}

/* ---- filter ---------------------------------------------------------------- */

/* must / should / must_not: one condition or a list of them. */
static qv_rc qv_fdec_clause(qv_fdec *d, const jv *v, bool list_only, qv_filter_list *l) {
    if (!v) return QV_OK;
    if (v->type != JV_ARR && (list_only || v->type != JV_OBJ)) {
        if (list_only) return qv_fdec_type(d, v, "a sequence");
        return qv_fail(d->err, QV_EFORMAT, QV_FILTER_UNTAGGED);
    }
    size_t n = v->type == JV_ARR ? v->len : 1;
    l->conds = qv_arena_calloc(d->a, (n ? n : 1) * sizeof *l->conds);
    if (!l->conds) return qv_fdec_oom(d);
    l->n = n;
    for (size_t k = 0; k < n; k++) {
        qv_rc rc = qv_fdec_condition(d, v->type == JV_ARR ? &v->v.items[k] : v, &l->conds[k]);
        if (rc) return rc;
    }
    return QV_OK;
}

static qv_rc qv_fdec_min_should(qv_fdec *d, const jv *v, qv_filter *f) {
    static const char *const fields[] = {"conditions", "min_count", NULL};
    qv_rc rc = qv_fdec_struct(d, v, "struct MinShould", fields);
    if (rc) return rc;
    const jv *conds = qv_fdec_get(v, "conditions"), *cnt = qv_fdec_get(v, "min_count");
    if (!conds) return qv_fdec_missing(d, "conditions");
    if (!cnt) return qv_fdec_missing(d, "min_count");
    uint64_t n;
    if ((rc = qv_fdec_clause(d, conds, true, &f->min_should)) ||
        (rc = qv_fdec_u64(d, cnt, "usize", &n)))
        return rc;
    f->min_count = (size_t)n;
    if (n == 0)
        qv_fdec_invalid(d, "%s", "min_should.min_count: value 0 invalid, must be 1 or larger");
    return QV_OK;
}

static const char *const qv_fdec_filter_fields[] = {"should", "min_should", "must", "must_not",
                                                    NULL};

static qv_rc qv_fdec_filter(qv_fdec *d, const jv *v, qv_filter **out) {
    qv_rc rc = qv_fdec_struct(d, v, "struct Filter", qv_fdec_filter_fields);
    if (rc) return rc;
    qv_filter *f = qv_filter_new(d->a);
    if (!f) return qv_fdec_oom(d);
    const jv *ms;
    if ((rc = qv_fdec_clause(d, qv_fdec_get(v, "must"), false, &f->must)) ||
        (rc = qv_fdec_clause(d, qv_fdec_get(v, "should"), false, &f->should)) ||
        (rc = qv_fdec_clause(d, qv_fdec_get(v, "must_not"), false, &f->must_not)))
        return rc;
    if ((ms = qv_fdec_get(v, "min_should")) && (rc = qv_fdec_min_should(d, ms, f))) return rc;
    *out = f;
    return QV_OK;
}

qv_rc qv_filter_from_json(qv_arena *a, const jv *json, qv_filter **out, qv_err *err) {
    qv_fdec d = {a, err, {QV_OK, "", 0}};
    *out = NULL;
    if (!json || json->type == JV_NULL) return QV_OK;
    qv_filter *f = NULL;
    qv_rc rc = qv_fdec_filter(&d, json, &f);
    if (rc) return rc;
    if (d.verr.kind != QV_OK) return qv_fail(err, d.verr.kind, "%s", d.verr.msg);
    *out = f;
    return QV_OK;
}
