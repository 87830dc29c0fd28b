/*
 * grpc_convert.c - protobuf messages <-> the engine's structs, shared by
 * the gRPC handlers: point IDs, payload values (Value/Struct <-> jv), the
 * Filter tree (-> qv_filter through filter.h's public constructors) and the
 * update result.
 *
 * How: every output is allocated in the request arena (qv_grpc_req), so
 * nothing is freed individually.  Payload maps of different messages
 * (PointStruct.payload, Struct.fields, ScoredPoint.payload...) are distinct
 * generated types with one layout {base, key, value}; qv_grpc_kv names that
 * layout, and outputs are initialised with the right entry descriptor so
 * protobuf-c packs them correctly.
 *
 * Strings that carry user data (Value.string_value, every map<string,
 * Value> key, Match's strings) are generated as ProtobufCBinaryData with
 * their length (proto/json_with_int.proto explains the option), so a NUL
 * inside travels both ways; grpc_server.c has already checked them as
 * UTF-8.  They are copied NUL-terminated into the arena on the way in (the
 * engine keeps lengths, but a terminator keeps any C-string reader safe).
 *
 * Semantics follow the REST decoder (api/json_filter.c): a FieldCondition
 * with several tests keeps the first in local mode's order (values_count,
 * is_empty, is_null, match, range, geo box, radius, polygon); nested keys
 * drop a trailing "[]".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/grpc/grpc_internal.h"

/* The common layout of every generated map<string, Value> entry (all are
 * spelled out in proto/ with a length-carrying key). */
typedef struct qv_grpc_kv {
    ProtobufCMessage base;
    ProtobufCBinaryData key;
    Qdrant__Value *value;
} qv_grpc_kv;

/* A length-carrying string field -> a NUL-terminated arena copy. */
static const char *qv_grpc_str_in(qv_grpc_req *rq, const ProtobufCBinaryData *b, size_t *len) {
    *len = b->data ? b->len : 0;
    return qv_grpc_strdup(rq, b->data ? (const char *)b->data : "", *len);
}

/* Bytes -> a length-carrying string field (copied into the arena). */
static ProtobufCBinaryData qv_grpc_str_out(qv_grpc_req *rq, const char *s, size_t len) {
    ProtobufCBinaryData b = {len, (uint8_t *)qv_grpc_strdup(rq, s, len)};
    return b;
}

/* Nesting limit for payload values (as JSON's). */
#define QV_GRPC_MAX_DEPTH JV_MAX_DEPTH

/* ======================================================================
 * Point IDs
 * ====================================================================== */

qv_rc qv_grpc_pointid_in(const Qdrant__PointId *p, qv_pointid *out, qv_err *err) {
    if (!p || p->point_id_options_case == QDRANT__POINT_ID__POINT_ID_OPTIONS__NOT_SET)
        return qv_fail(err, QV_EBADINPUT, "Unable to parse point id: no id given");
    if (p->point_id_options_case == QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM) {
        *out = qv_pointid_num(p->num);
        return QV_OK;
    }
    const char *s = p->uuid ? p->uuid : "";
    if (!qv_pointid_parse_uuid(s, strlen(s), out))
        return qv_fail(err, QV_EBADINPUT, "Unable to parse UUID: %.100s", s);
    return QV_OK;
}

Qdrant__PointId *qv_grpc_pointid_out(qv_grpc_req *rq, const qv_pointid *id) {
    Qdrant__PointId *p = QV_GRPC_NEW(rq, Qdrant__PointId, qdrant__point_id__init);
    if (id->is_uuid) {
        char buf[48];
        int n = qv_pointid_format(id, buf);
        p->point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_UUID;
        p->uuid = qv_grpc_strdup(rq, buf, (size_t)n);
    } else {
        p->point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM;
        p->num = id->lo;
    }
    return p;
}

/* ======================================================================
 * Values
 * ====================================================================== */

static qv_rc qv_grpc_depth(int depth, qv_err *err) {
    if (depth > QV_GRPC_MAX_DEPTH)
        return qv_fail(err, QV_EBADINPUT, "payload nested deeper than %d levels",
                       QV_GRPC_MAX_DEPTH);
    return QV_OK;
}

/* Map entries (any of the generated entry types) -> jv object. */
static qv_rc qv_grpc_kvs_in(qv_grpc_req *rq, size_t n, void **entries, jv *out, int depth,
                            qv_err *err) {
    qv_rc rc = qv_grpc_depth(depth, err);
    if (rc) return rc;
    out->type = JV_OBJ;
    out->len = (uint32_t)n;
    out->v.members = qv_grpc_alloc(rq, n * sizeof(jv_member));
    for (size_t i = 0; i < n; i++) {
        const qv_grpc_kv *kv = entries[i];
        jv_member *m = &out->v.members[i];
        size_t klen;
        m->key = qv_grpc_str_in(rq, &kv->key, &klen);
        m->klen = (uint32_t)klen;
        if ((rc = qv_grpc_value_in(rq, kv->value, &m->val, depth + 1, err))) return rc;
    }
    return QV_OK;
}

qv_rc qv_grpc_value_in(qv_grpc_req *rq, const Qdrant__Value *v, jv *out, int depth, qv_err *err) {
    memset(out, 0, sizeof *out);
    if (!v) return QV_OK; /* an unset value is null */
    switch (v->kind_case) {
    case QDRANT__VALUE__KIND_DOUBLE_VALUE:
        /* JSON has no NaN or infinities: refused as Qdrant refuses them */
        if (!isfinite(v->double_value))
            return qv_fail(err, QV_EBADINPUT, "cannot convert to json number");
        out->type = JV_DBL, out->v.d = v->double_value;
        return QV_OK;
    case QDRANT__VALUE__KIND_INTEGER_VALUE:
        out->type = JV_INT, out->v.i = v->integer_value;
        return QV_OK;
    case QDRANT__VALUE__KIND_STRING_VALUE: {
        size_t len;
        out->type = JV_STR;
        out->v.s = qv_grpc_str_in(rq, &v->string_value, &len);
        out->len = (uint32_t)len;
        return QV_OK;
    }
    case QDRANT__VALUE__KIND_BOOL_VALUE:
        out->type = JV_BOOL, out->v.b = v->bool_value ? 1 : 0;
        return QV_OK;
    case QDRANT__VALUE__KIND_STRUCT_VALUE:
        if (!v->struct_value) return qv_grpc_kvs_in(rq, 0, NULL, out, depth, err);
        return qv_grpc_kvs_in(rq, v->struct_value->n_fields, (void **)v->struct_value->fields, out,
                              depth, err);
    case QDRANT__VALUE__KIND_LIST_VALUE: {
        qv_rc rc = qv_grpc_depth(depth, err);
        if (rc) return rc;
        size_t n = v->list_value ? v->list_value->n_values : 0;
        out->type = JV_ARR;
        out->len = (uint32_t)n;
        out->v.items = qv_grpc_alloc(rq, n * sizeof(jv));
        for (size_t i = 0; i < n; i++)
            if ((rc = qv_grpc_value_in(rq, v->list_value->values[i], &out->v.items[i], depth + 1,
                                       err)))
                return rc;
        return QV_OK;
    }
    default:
        return QV_OK; /* null_value or nothing set */
    }
}

qv_rc qv_grpc_payload_in(qv_grpc_req *rq, size_t n, Qdrant__PointStruct__PayloadEntry **entries,
                         jv *out, qv_err *err) {
    return qv_grpc_kvs_in(rq, n, (void **)entries, out, 0, err);
}

void **qv_grpc_kvs_out(qv_grpc_req *rq, const jv *obj, const ProtobufCMessageDescriptor *d,
                       size_t *n) {
    *n = obj && obj->type == JV_OBJ ? obj->len : 0;
    void **out = qv_grpc_alloc(rq, *n * sizeof(void *));
    for (size_t i = 0; i < *n; i++) {
        const jv_member *m = &obj->v.members[i];
        qv_grpc_kv *kv = qv_grpc_alloc(rq, d->sizeof_message);
        protobuf_c_message_init(d, kv);
        kv->key = qv_grpc_str_out(rq, m->key, m->klen);
        kv->value = qv_grpc_value_out(rq, &m->val);
        out[i] = kv;
    }
    return out;
}

Qdrant__Value *qv_grpc_value_out(qv_grpc_req *rq, const jv *v) {
    Qdrant__Value *o = QV_GRPC_NEW(rq, Qdrant__Value, qdrant__value__init);
    jv tmp;
    if (v->type == JV_NUM) { /* stored payloads are resolved; be safe */
        tmp = *v;
        jv_resolve_numbers(&tmp);
        v = &tmp;
    }
    switch (v->type) {
    case JV_BOOL:
        o->kind_case = QDRANT__VALUE__KIND_BOOL_VALUE, o->bool_value = v->v.b != 0;
        break;
    case JV_INT:
        o->kind_case = QDRANT__VALUE__KIND_INTEGER_VALUE, o->integer_value = v->v.i;
        break;
    case JV_UINT: /* above int64: Qdrant's conversion makes it a double */
        o->kind_case = QDRANT__VALUE__KIND_DOUBLE_VALUE, o->double_value = (double)v->v.u;
        break;
    case JV_DBL:
        o->kind_case = QDRANT__VALUE__KIND_DOUBLE_VALUE, o->double_value = v->v.d;
        break;
    case JV_STR:
        o->kind_case = QDRANT__VALUE__KIND_STRING_VALUE;
        o->string_value = qv_grpc_str_out(rq, v->v.s, v->len);
        break;
    case JV_ARR: {
        Qdrant__ListValue *l = QV_GRPC_NEW(rq, Qdrant__ListValue, qdrant__list_value__init);
        l->n_values = v->len;
        l->values = qv_grpc_alloc(rq, v->len * sizeof *l->values);
        for (uint32_t i = 0; i < v->len; i++) l->values[i] = qv_grpc_value_out(rq, &v->v.items[i]);
        o->kind_case = QDRANT__VALUE__KIND_LIST_VALUE, o->list_value = l;
        break;
    }
    case JV_OBJ: {
        Qdrant__Struct *s = QV_GRPC_NEW(rq, Qdrant__Struct, qdrant__struct__init);
        s->fields = (Qdrant__Struct__FieldsEntry **)qv_grpc_kvs_out(
            rq, v, &qdrant__struct__fields_entry__descriptor, &s->n_fields);
        o->kind_case = QDRANT__VALUE__KIND_STRUCT_VALUE, o->struct_value = s;
        break;
    }
    default:
        o->kind_case = QDRANT__VALUE__KIND_NULL_VALUE;
        o->null_value = QDRANT__NULL_VALUE__NULL_VALUE;
        break;
    }
    return o;
}

/* ======================================================================
 * Filters
 * ====================================================================== */

static qv_rc qv_grpc_filter_build(qv_grpc_req *rq, const Qdrant__Filter *f, qv_filter **out,
                                  int depth, qv_err *err);

static qv_rc qv_grpc_oom(qv_err *err) {
    return qv_fail(err, QV_ENOMEM, "out of memory");
}

static qv_rc qv_grpc_unsupported(qv_err *err, const char *what) {
    return qv_fail(err, QV_EBADINPUT, "%s is not supported yet", what);
}

static qv_rc qv_grpc_key(qv_grpc_req *rq, const char *key, const qv_keypath **out, qv_err *err) {
    qv_keypath *p = NULL;
    const char *k = key ? key : "";
    qv_rc rc = qv_keypath_parse(&rq->arena, k, strlen(k), &p, err);
    *out = p;
    return rc;
}

static qv_rc qv_grpc_strs(qv_grpc_req *rq, const Qdrant__RepeatedStrings *r, qv_filter_matcher *m) {
    size_t n = r ? r->n_strings : 0;
    m->v.set.n = n;
    m->v.set.strs = qv_grpc_alloc(rq, n * sizeof(qv_filter_str));
    for (size_t i = 0; i < n; i++)
        m->v.set.strs[i].s = qv_grpc_str_in(rq, &r->strings[i], &m->v.set.strs[i].len);
    return QV_OK;
}

static qv_rc qv_grpc_ints(qv_grpc_req *rq, const Qdrant__RepeatedIntegers *r,
                          qv_filter_matcher *m) {
    size_t n = r ? r->n_integers : 0;
    m->v.set.n = n;
    m->v.set.ints = qv_grpc_alloc(rq, n * sizeof(int64_t));
    if (n) memcpy(m->v.set.ints, r->integers, n * sizeof(int64_t));
    return QV_OK;
}

static qv_rc qv_grpc_match_str(qv_grpc_req *rq, qv_filter_matcher *m, uint32_t kind,
                               const ProtobufCBinaryData *s) {
    m->kind = kind;
    m->v.str.s = qv_grpc_str_in(rq, s, &m->v.str.len);
    return QV_OK;
}

static qv_rc qv_grpc_match(qv_grpc_req *rq, const Qdrant__Match *mt, qv_filter_matcher *m,
                           qv_err *err) {
    switch (mt->match_value_case) {
    case QDRANT__MATCH__MATCH_VALUE_KEYWORD:
        return qv_grpc_match_str(rq, m, QV_FILTER_MATCH_KEYWORD, &mt->keyword);
    case QDRANT__MATCH__MATCH_VALUE_INTEGER:
        m->kind = QV_FILTER_MATCH_INTEGER, m->v.i = mt->integer;
        return QV_OK;
    case QDRANT__MATCH__MATCH_VALUE_BOOLEAN:
        m->kind = QV_FILTER_MATCH_BOOL, m->v.b = mt->boolean != 0;
        return QV_OK;
    case QDRANT__MATCH__MATCH_VALUE_KEYWORDS:
        m->kind = QV_FILTER_MATCH_ANY_STR;
        return qv_grpc_strs(rq, mt->keywords, m);
    case QDRANT__MATCH__MATCH_VALUE_INTEGERS:
        m->kind = QV_FILTER_MATCH_ANY_INT;
        return qv_grpc_ints(rq, mt->integers, m);
    case QDRANT__MATCH__MATCH_VALUE_EXCEPT_KEYWORDS:
        m->kind = QV_FILTER_MATCH_EXCEPT_STR;
        return qv_grpc_strs(rq, mt->except_keywords, m);
    case QDRANT__MATCH__MATCH_VALUE_EXCEPT_INTEGERS:
        m->kind = QV_FILTER_MATCH_EXCEPT_INT;
        return qv_grpc_ints(rq, mt->except_integers, m);
    case QDRANT__MATCH__MATCH_VALUE_TEXT:
        return qv_grpc_match_str(rq, m, QV_FILTER_MATCH_TEXT, &mt->text);
    case QDRANT__MATCH__MATCH_VALUE_TEXT_ANY:
        return qv_grpc_match_str(rq, m, QV_FILTER_MATCH_TEXT_ANY, &mt->text_any);
    case QDRANT__MATCH__MATCH_VALUE_PHRASE:
        return qv_grpc_match_str(rq, m, QV_FILTER_MATCH_PHRASE, &mt->phrase);
    case QDRANT__MATCH__MATCH_VALUE_PREFIX:
        return qv_grpc_match_str(rq, m, QV_FILTER_MATCH_PREFIX, &mt->prefix);
    case QDRANT__MATCH__MATCH_VALUE__NOT_SET:
        return qv_fail(err, QV_EBADINPUT, "Match: no match value given");
    default:
        return qv_grpc_unsupported(err, "This match kind");
    }
}

static void qv_grpc_range(const Qdrant__Range *r, qv_filter_range *out) {
    memset(out, 0, sizeof *out);
    if (r->_gt_case) out->set |= QV_FILTER_GT, out->gt = r->gt;
    if (r->_gte_case) out->set |= QV_FILTER_GTE, out->gte = r->gte;
    if (r->_lt_case) out->set |= QV_FILTER_LT, out->lt = r->lt;
    if (r->_lte_case) out->set |= QV_FILTER_LTE, out->lte = r->lte;
}

static void qv_grpc_count(const Qdrant__ValuesCount *r, qv_filter_count *out) {
    memset(out, 0, sizeof *out);
    if (r->_gt_case) out->set |= QV_FILTER_GT, out->gt = r->gt;
    if (r->_gte_case) out->set |= QV_FILTER_GTE, out->gte = r->gte;
    if (r->_lt_case) out->set |= QV_FILTER_LT, out->lt = r->lt;
    if (r->_lte_case) out->set |= QV_FILTER_LTE, out->lte = r->lte;
}

static void qv_grpc_ts(const Google__Protobuf__Timestamp *t, qv_filter_time *out) {
    out->sec = t ? t->seconds : 0;
    out->nsec = t ? t->nanos : 0;
}

static void qv_grpc_dtrange(const Qdrant__DatetimeRange *r, qv_filter_dtrange *out) {
    memset(out, 0, sizeof *out);
    if (r->_gt_case) out->set |= QV_FILTER_GT, qv_grpc_ts(r->gt, &out->gt);
    if (r->_gte_case) out->set |= QV_FILTER_GTE, qv_grpc_ts(r->gte, &out->gte);
    if (r->_lt_case) out->set |= QV_FILTER_LT, qv_grpc_ts(r->lt, &out->lt);
    if (r->_lte_case) out->set |= QV_FILTER_LTE, qv_grpc_ts(r->lte, &out->lte);
}

static qv_rc qv_grpc_slice(const Qdrant__SliceCondition *sl, qv_filter_cond *c, qv_err *err) {
    if (sl->total < 1)
        return qv_fail(err, QV_EBADINPUT, "slice.total: value 0 invalid, must be 1 or larger");
    if (sl->index >= sl->total)
        return qv_fail(err, QV_EBADINPUT, "slice.index: must be less than slice.total");
    c->kind = QV_FILTER_COND_SLICE;
    c->u.slice.total = sl->total;
    c->u.slice.index = sl->index;
    return QV_OK;
}

/* ---- geo ----------------------------------------------------------------
 * Qdrant's conversions answer a missing corner, centre or exterior with
 * "Malformed GeoBoundingBox type" etc., and its request validation checks
 * each ring (at least 4 points, closed).  Coordinates are checked as the
 * REST decoder does (api/json_filter.c: lat in [-90, 90], lon in
 * [-180, 180]; a NaN is outside), so both transports refuse the same
 * filters. */

static qv_rc qv_grpc_geo_point(const Qdrant__GeoPoint *in, qv_geo_point *out, qv_err *err) {
    out->lat = in->lat;
    out->lon = in->lon;
    if (!(out->lat >= -90 && out->lat <= 90 && out->lon >= -180 && out->lon <= 180))
        return qv_fail(err, QV_EBADINPUT,
                       "Wrong format of GeoPoint payload: expected `lat` = %g within [-90;90] "
                       "and `lon` = %g within [-180;180]",
                       out->lat, out->lon);
    return QV_OK;
}

static qv_rc qv_grpc_geo_box(const Qdrant__GeoBoundingBox *in, qv_filter_geo_box *out,
                             qv_err *err) {
    if (!in->top_left || !in->bottom_right)
        return qv_fail(err, QV_EBADINPUT, "Malformed GeoBoundingBox type");
    qv_rc rc = qv_grpc_geo_point(in->top_left, &out->top_left, err);
    return rc ? rc : qv_grpc_geo_point(in->bottom_right, &out->bottom_right, err);
}

static qv_rc qv_grpc_geo_radius(const Qdrant__GeoRadius *in, qv_filter_geo_radius *out,
                                qv_err *err) {
    if (!in->center) return qv_fail(err, QV_EBADINPUT, "Malformed GeoRadius type");
    out->radius = in->radius; /* float on the wire, as Qdrant's proto has it */
    return qv_grpc_geo_point(in->center, &out->center, err);
}

/* One ring of a polygon; what names it in messages ("exterior",
 * "interiors"). */
static qv_rc qv_grpc_geo_ring(qv_grpc_req *rq, const Qdrant__GeoLineString *in, const char *what,
                              qv_geo_ring *out, qv_err *err) {
    size_t n = in ? in->n_points : 0;
    if (n == 0)
        return qv_fail(err, QV_EBADINPUT, "geo_polygon.%s: value invalid, must not be empty", what);
    if (n < 4)
        return qv_fail(err, QV_EBADINPUT,
                       "geo_polygon.%s: value invalid, the size must be at least 4, got %zu", what,
                       n);
    out->n = n;
    out->pts = qv_grpc_alloc(rq, n * sizeof *out->pts);
    for (size_t k = 0; k < n; k++) {
        if (!in->points[k]) return qv_fail(err, QV_EBADINPUT, "Malformed GeoPolygon type");
        qv_rc rc = qv_grpc_geo_point(in->points[k], &out->pts[k], err);
        if (rc) return rc;
    }
    if (out->pts[0].lat != out->pts[n - 1].lat || out->pts[0].lon != out->pts[n - 1].lon)
        return qv_fail(err, QV_EBADINPUT,
                       "geo_polygon.%s: value invalid, the first and the last points should be "
                       "same to form a closed line",
                       what);
    return QV_OK;
}

static qv_rc qv_grpc_geo_polygon(qv_grpc_req *rq, const Qdrant__GeoPolygon *in,
                                 qv_filter_geo_polygon *out, qv_err *err) {
    if (!in->exterior)
        return qv_fail(err, QV_EBADINPUT,
                       "Malformed GeoPolygon type - field `exterior` is required");
    qv_rc rc = qv_grpc_geo_ring(rq, in->exterior, "exterior", &out->exterior, err);
    if (rc) return rc;
    out->ninteriors = in->n_interiors;
    out->interiors = qv_grpc_alloc(rq, in->n_interiors * sizeof *out->interiors);
    for (size_t k = 0; k < in->n_interiors && !rc; k++)
        rc = qv_grpc_geo_ring(rq, in->interiors[k], "interiors", &out->interiors[k], err);
    return rc;
}

/* FieldCondition: the first test present in local mode's order. */
static qv_rc qv_grpc_field(qv_grpc_req *rq, const Qdrant__FieldCondition *fc, qv_filter_cond *c,
                           qv_err *err) {
    qv_rc rc = qv_grpc_key(rq, fc->key, &c->key, err);
    if (rc) return rc;
    if (fc->values_count) {
        c->kind = QV_FILTER_COND_VALUES_COUNT;
        qv_grpc_count(fc->values_count, &c->u.count);
    } else if (fc->_is_empty_case) {
        c->kind = QV_FILTER_COND_IS_EMPTY, c->negate = !fc->is_empty;
    } else if (fc->_is_null_case) {
        c->kind = QV_FILTER_COND_IS_NULL, c->negate = !fc->is_null;
    } else if (fc->match) {
        c->kind = QV_FILTER_COND_MATCH;
        return qv_grpc_match(rq, fc->match, &c->u.match, err);
    } else if (fc->range) {
        c->kind = QV_FILTER_COND_RANGE;
        qv_grpc_range(fc->range, &c->u.range);
    } else if (fc->geo_bounding_box) {
        c->kind = QV_FILTER_COND_GEO_BOX;
        return qv_grpc_geo_box(fc->geo_bounding_box, &c->u.box, err);
    } else if (fc->geo_radius) {
        c->kind = QV_FILTER_COND_GEO_RADIUS;
        return qv_grpc_geo_radius(fc->geo_radius, &c->u.radius, err);
    } else if (fc->geo_polygon) {
        c->kind = QV_FILTER_COND_GEO_POLYGON;
        return qv_grpc_geo_polygon(rq, fc->geo_polygon, &c->u.polygon, err);
    } else if (fc->datetime_range) {
        c->kind = QV_FILTER_COND_DATETIME;
        qv_grpc_dtrange(fc->datetime_range, &c->u.dt);
    } else {
        return qv_fail(err, QV_EBADINPUT, "At least one field condition must be specified");
    }
    return QV_OK;
}

static qv_rc qv_grpc_has_id(qv_grpc_req *rq, const Qdrant__HasIdCondition *h, qv_filter_cond *c,
                            qv_err *err) {
    size_t n = h->n_has_id;
    qv_pointid *ids = qv_grpc_alloc(rq, n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        qv_rc rc = qv_grpc_pointid_in(h->has_id[i], &ids[i], err);
        if (rc) return rc;
    }
    c->kind = QV_FILTER_COND_HAS_ID;
    return qv_filter_set_ids(&rq->arena, c, ids, n) ? QV_OK : qv_grpc_oom(err);
}

static qv_rc qv_grpc_nested(qv_grpc_req *rq, const Qdrant__NestedCondition *nc, qv_filter_cond *c,
                            int depth, qv_err *err) {
    qv_filter *sub = NULL;
    qv_rc rc = qv_grpc_key(rq, nc->key, &c->key, err);
    if (rc || (rc = qv_grpc_filter_build(rq, nc->filter, &sub, depth + 1, err))) return rc;
    qv_keypath *key = (qv_keypath *)c->key;
    if (key->nseg > 1 && key->segs[key->nseg - 1].kind == QV_KEYPATH_ALL) key->nseg--;
    if (!sub && !(sub = qv_filter_new(&rq->arena))) return qv_grpc_oom(err);
    c->kind = QV_FILTER_COND_NESTED;
    c->u.filter = sub;
    return QV_OK;
}

static qv_rc qv_grpc_condition(qv_grpc_req *rq, const Qdrant__Condition *in, qv_filter_cond *c,
                               int depth, qv_err *err) {
    qv_filter *sub = NULL;
    qv_rc rc;
    switch (in->condition_one_of_case) {
    case QDRANT__CONDITION__CONDITION_ONE_OF_FIELD:
        return qv_grpc_field(rq, in->field, c, err);
    case QDRANT__CONDITION__CONDITION_ONE_OF_IS_EMPTY:
        c->kind = QV_FILTER_COND_IS_EMPTY;
        return qv_grpc_key(rq, in->is_empty->key, &c->key, err);
    case QDRANT__CONDITION__CONDITION_ONE_OF_IS_NULL:
        c->kind = QV_FILTER_COND_IS_NULL;
        return qv_grpc_key(rq, in->is_null->key, &c->key, err);
    case QDRANT__CONDITION__CONDITION_ONE_OF_HAS_ID:
        return qv_grpc_has_id(rq, in->has_id, c, err);
    case QDRANT__CONDITION__CONDITION_ONE_OF_FILTER:
        if ((rc = qv_grpc_filter_build(rq, in->filter, &sub, depth + 1, err))) return rc;
        if (!sub && !(sub = qv_filter_new(&rq->arena))) return qv_grpc_oom(err);
        c->kind = QV_FILTER_COND_FILTER;
        c->u.filter = sub;
        return QV_OK;
    case QDRANT__CONDITION__CONDITION_ONE_OF_NESTED:
        return qv_grpc_nested(rq, in->nested, c, depth, err);
    case QDRANT__CONDITION__CONDITION_ONE_OF_HAS_VECTOR:
        c->kind = QV_FILTER_COND_HAS_VECTOR;
        c->u.vector = in->has_vector->has_vector ? in->has_vector->has_vector : "";
        return QV_OK;
    case QDRANT__CONDITION__CONDITION_ONE_OF_SLICE:
        return qv_grpc_slice(in->slice, c, err);
    default:
        return qv_fail(err, QV_EBADINPUT, "Condition: no condition given");
    }
}

static qv_rc qv_grpc_clause(qv_grpc_req *rq, size_t n, Qdrant__Condition **conds, qv_filter_list *l,
                            int depth, qv_err *err) {
    for (size_t i = 0; i < n; i++) {
        qv_filter_cond *c = qv_filter_list_push(&rq->arena, l);
        if (!c) return qv_grpc_oom(err);
        qv_rc rc = qv_grpc_condition(rq, conds[i], c, depth, err);
        if (rc) return rc;
    }
    return QV_OK;
}

static qv_rc qv_grpc_filter_build(qv_grpc_req *rq, const Qdrant__Filter *f, qv_filter **out,
                                  int depth, qv_err *err) {
    *out = NULL;
    if (!f) return QV_OK;
    if (depth > QV_GRPC_MAX_DEPTH)
        return qv_fail(err, QV_EBADINPUT, "filter nested deeper than %d levels", QV_GRPC_MAX_DEPTH);
    qv_filter *q = qv_filter_new(&rq->arena);
    if (!q) return qv_grpc_oom(err);
    qv_rc rc;
    if ((rc = qv_grpc_clause(rq, f->n_must, f->must, &q->must, depth, err)) ||
        (rc = qv_grpc_clause(rq, f->n_should, f->should, &q->should, depth, err)) ||
        (rc = qv_grpc_clause(rq, f->n_must_not, f->must_not, &q->must_not, depth, err)))
        return rc;
    if (f->_min_should_case && f->min_should) {
        const Qdrant__MinShould *ms = f->min_should;
        if (ms->min_count == 0)
            return qv_fail(err, QV_EBADINPUT,
                           "min_should.min_count: value 0 invalid, must be 1 or larger");
        if ((rc = qv_grpc_clause(rq, ms->n_conditions, ms->conditions, &q->min_should, depth, err)))
            return rc;
        q->min_count = (size_t)ms->min_count;
    }
    *out = q;
    return QV_OK;
}

qv_rc qv_grpc_filter_in(qv_grpc_req *rq, const Qdrant__Filter *f, qv_filter **out, qv_err *err) {
    return qv_grpc_filter_build(rq, f, out, 0, err);
}

/* ======================================================================
 * Shared small pieces
 * ====================================================================== */

qv_collection *qv_grpc_collection(qv_grpc_req *rq, const char *name, qv_err *err) {
    const char *n = name ? name : "";
    size_t len = strlen(n);
    if (len == 0 || len > 255) { /* Qdrant validates the field before looking it up */
        qv_fail(err, QV_EVALIDATION,
                "collection_name: length must be between 1 and 255 characters");
        return NULL;
    }
    /* No catalog: qv_grpc_decode_for_test's decode-only requests. */
    qv_collection *c = rq->cat ? qv_catalog_acquire(rq->cat, n) : NULL;
    if (!c) qv_fail(err, QV_ENOTFOUND, "Collection `%.300s` doesn't exist!", n);
    return c;
}

Qdrant__UpdateResult *qv_grpc_update_result(qv_grpc_req *rq, uint64_t op_num, qv_write_status st) {
    Qdrant__UpdateResult *r = QV_GRPC_NEW(rq, Qdrant__UpdateResult, qdrant__update_result__init);
    r->_operation_id_case = QDRANT__UPDATE_RESULT___OPERATION_ID_OPERATION_ID;
    r->operation_id = op_num;
    r->status = st == QV_WRITE_COMPLETED ? QDRANT__UPDATE_STATUS__Completed
                                         : QDRANT__UPDATE_STATUS__Acknowledged;
    return r;
}
