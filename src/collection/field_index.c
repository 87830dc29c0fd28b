/*
 * field_index.c - declared payload field indexes: the set, its checkpoint
 * file, and the payload_schema report (see field_index.h for what an index
 * is and is not yet).
 *
 * The set is a sorted array: collections declare a handful of indexes, and
 * the array keeps payload_schema in a stable order.  Parameters are kept as
 * their canonical JSON text, which is what both APIs print (REST verbatim,
 * gRPC after parsing), so the set owns no jv trees and no arenas.
 */
#include "collection/field_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "collection/text_params.h"
#include "core/pointid.h"
#include "index/filter.h"

#define INDEXES_FILE  "indexes.qvi"
#define INDEXES_MAGIC "QVINDEXS"

static const char *const type_names[] = {
    NULL, "keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid",
};

const char *qv_payload_type_name(uint32_t t) {
    return t >= 1 && t <= QV_PT_MAX ? type_names[t] : NULL;
}

uint32_t qv_payload_type_parse(const char *s, size_t len) {
    for (uint32_t t = 1; t <= QV_PT_MAX; t++)
        if (strlen(type_names[t]) == len && memcmp(type_names[t], s, len) == 0) return t;
    return 0;
}

/* ---- the set ------------------------------------------------------------------ */

void qv_index_set_free(qv_index_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].field);
        free(s->items[i].params);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* Index of field, or of where it would go (*found tells which). */
static size_t find(const qv_index_set *s, const char *field, bool *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->items[mid].field, field);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static char *params_text(const jv *params) {
    jw w;
    jw_init(&w);
    jw_value(&w, params);
    size_t len;
    char *text = w.oom ? NULL : jw_take(&w, &len);
    jw_free(&w);
    return text;
}

qv_rc qv_index_set_put(qv_index_set *s, const char *field, uint32_t type, const jv *params) {
    char *p = NULL;
    if (params && params->type == JV_OBJ && !(p = params_text(params))) return QV_ENOMEM;
    bool found;
    size_t at = find(s, field, &found);
    if (found) { /* re-declaration: the new schema replaces the old */
        free(s->items[at].params);
        s->items[at].type = type;
        s->items[at].params = p;
        return QV_OK;
    }
    char *f = strdup(field);
    if (f && s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        qv_field_index *items = realloc(s->items, cap * sizeof *items);
        if (items) s->items = items, s->cap = cap;
    }
    if (!f || s->n == s->cap) {
        free(f);
        free(p);
        return QV_ENOMEM;
    }
    memmove(&s->items[at + 1], &s->items[at], (s->n - at) * sizeof *s->items);
    s->items[at] = (qv_field_index){f, type, p};
    s->n++;
    return QV_OK;
}

bool qv_index_set_remove(qv_index_set *s, const char *field) {
    bool found;
    size_t at = find(s, field, &found);
    if (!found) return false;
    free(s->items[at].field);
    free(s->items[at].params);
    memmove(&s->items[at], &s->items[at + 1], (s->n - at - 1) * sizeof *s->items);
    s->n--;
    return true;
}

/* ---- checkpoint file ------------------------------------------------------------ */

qv_rc qv_index_set_save(const qv_index_set *s, const char *dir, qv_err *err) {
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    for (size_t i = 0; i < s->n; i++) {
        jw_key(&w, s->items[i].field);
        jw_obj_begin(&w);
        jw_key(&w, "data_type");
        jw_str(&w, qv_payload_type_name(s->items[i].type));
        if (s->items[i].params) {
            jw_key(&w, "params");
            jw_raw(&w, s->items[i].params, strlen(s->items[i].params));
        }
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    qv_rc rc = w.oom ? qv_fail(err, QV_ENOMEM, "out of memory")
                     : qv_envelope_write(dir, INDEXES_FILE, INDEXES_MAGIC, w.buf, w.len, err);
    jw_free(&w);
    return rc;
}

/* Adds one {"data_type", "params"?} entry read from the file. */
static qv_rc load_entry(qv_index_set *s, const jv_member *m, const char *path, qv_err *err) {
    const jv *dt = m->val.type == JV_OBJ ? jv_get(&m->val, "data_type") : NULL;
    const jv *params = m->val.type == JV_OBJ ? jv_get(&m->val, "params") : NULL;
    uint32_t type = dt && dt->type == JV_STR ? qv_payload_type_parse(dt->v.s, dt->len) : 0;
    if (!type || m->klen == 0 || strlen(m->key) != m->klen || (params && params->type != JV_OBJ))
        return qv_fail(err, QV_ECORRUPT, "%s: bad entry for field `%.200s`", path, m->key);
    bool found;
    find(s, m->key, &found);
    if (found) return qv_fail(err, QV_ECORRUPT, "%s: field `%.200s` twice", path, m->key);
    if (qv_index_set_put(s, m->key, type, params)) return qv_fail(err, QV_ENOMEM, "out of memory");
    return QV_OK;
}

qv_rc qv_index_set_load(const char *dir, qv_index_set *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    char path[4200];
    snprintf(path, sizeof path, "%s/" INDEXES_FILE, dir);
    char *body = NULL;
    size_t len = 0;
    qv_err e2;
    qv_rc rc = qv_envelope_read(path, INDEXES_MAGIC, &body, &len, &e2);
    if (rc == QV_ENOTFOUND) return QV_OK; /* a checkpoint older than indexes */
    if (rc) return qv_fail(err, rc, "%s", e2.msg);
    qv_arena a;
    qv_arena_init(&a);
    jv root;
    rc = jv_parse(&a, body, len, &root, &e2);
    if (rc || root.type != JV_OBJ) rc = qv_fail(err, QV_ECORRUPT, "%s: not a JSON object", path);
    for (uint32_t i = 0; !rc && i < root.len; i++)
        rc = load_entry(out, &root.v.members[i], path, err);
    qv_arena_free(&a);
    free(body);
    if (rc) qv_index_set_free(out);
    return rc;
}

/* ---- payload_schema ---------------------------------------------------------------
 * The `points` of an index: the live points holding at least one value of
 * its type, which each segment's index counts as it is kept; a segment
 * without a usable index (memory was short) is counted by scan. */

static bool visit_accepts(void *ctx, const jv *val) {
    return qv_payload_type_accepts(*(const uint32_t *)ctx, val);
}

static uint64_t count_points(qv_collection *c, const qv_field_index *fi, qv_arena *a) {
    qv_keypath *kp = NULL;
    uint64_t k = 0;
    uint32_t type = fi->type;
    for (uint32_t si = 0; si < c->nsegs; si++) {
        const qv_segment *seg = c->segs[si].seg;
        const qv_pindex *pi = qv_segment_pindex(seg, fi->field, strlen(fi->field));
        if (pi) {
            k += qv_pindex_points(pi);
            continue;
        }
        if (!kp && qv_keypath_parse(a, fi->field, strlen(fi->field), &kp, NULL)) return k;
        uint32_t size = qv_segment_size(seg);
        for (uint32_t off = 0; off < size; off++) {
            if (!qv_segment_is_live(seg, off)) continue;
            const jv *payload = qv_segment_payload(seg, off);
            if (payload && qv_keypath_any(kp, payload, true, visit_accepts, &type)) k++;
        }
    }
    return k;
}

void qv_collection_payload_schema(qv_collection *c, qv_index_info_cb cb, void *ctx) {
    if (c->broken) return;
    qv_arena a;
    qv_arena_init(&a);
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->indexes.n; i++) {
        const qv_field_index *fi = &c->indexes.items[i];
        cb(ctx, fi->field, fi->type, fi->params, count_points(c, fi, &a));
    }
    pthread_rwlock_unlock(&c->lock);
    qv_arena_free(&a);
}

/* ---- the indexes of each segment ----------------------------------------------------
 * A declaration becomes one qv_pindex per segment (index/payload_index.h),
 * which the segment keeps current.  Its options carry a signature of the
 * declaration (type and params), so a re-declaration with other params
 * rebuilds it. */

static uint64_t decl_sig(const qv_field_index *fi) {
    uint64_t h = 1469598103934665603ull ^ fi->type;
    for (const char *p = fi->params ? fi->params : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* Reads a boolean parameter of the canonical params (default when absent). */
static bool param_bool(const jv *params, const char *key, bool dflt) {
    const jv *v = params ? jv_get(params, key) : NULL;
    return v && v->type == JV_BOOL ? v->v.b != 0 : dflt;
}

static void decl_opts(const qv_field_index *fi, qv_pindex_opts *o) {
    memset(o, 0, sizeof *o);
    o->type = fi->type;
    o->sig = decl_sig(fi);
    qv_arena a;
    qv_arena_init(&a);
    jv params;
    bool have = fi->params &&
                jv_parse(&a, fi->params, strlen(fi->params), &params, NULL) == QV_OK &&
                params.type == JV_OBJ;
    o->lookup = param_bool(have ? &params : NULL, "lookup", true);
    o->range = param_bool(have ? &params : NULL, "range", true);
    o->no_hnsw = !param_bool(have ? &params : NULL, "enable_hnsw", true);
    qv_arena_free(&a);
}

/* A new index for a declaration; NULL when it cannot be had. */
static qv_pindex *decl_index(const qv_field_index *fi) {
    qv_pindex_opts o;
    decl_opts(fi, &o);
    if (fi->type == QV_PT_TEXT && !(o.text = qv_text_params_analyzer(fi->params, NULL)))
        return NULL;
    return qv_pindex_new(fi->field, &o);
}

void qv_shard_sync_pindexes(const qv_collection *c, qv_segment *seg) {
    /* drop what is no longer declared as it is */
    for (uint32_t i = qv_segment_npindex(seg); i-- > 0;) {
        const qv_pindex *pi = qv_segment_pindex_at(seg, i);
        bool found;
        size_t at = find(&c->indexes, qv_pindex_field(pi), &found);
        if (!found || decl_sig(&c->indexes.items[at]) != qv_pindex_opts_of(pi)->sig)
            qv_segment_drop_pindex(seg, qv_pindex_field(pi));
    }
    for (size_t k = 0; k < c->indexes.n; k++) {
        const qv_field_index *fi = &c->indexes.items[k];
        bool have = false;
        for (uint32_t i = 0; i < qv_segment_npindex(seg) && !have; i++)
            have = strcmp(qv_pindex_field(qv_segment_pindex_at(seg, i)), fi->field) == 0;
        if (have) continue;
        qv_pindex *pi = decl_index(fi);
        if (pi) qv_segment_add_pindex(seg, pi); /* without memory: no index, filters scan */
    }
}
