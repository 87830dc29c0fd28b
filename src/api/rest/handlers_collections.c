/*
 * handlers_collections.c - list, get, create (PUT), update (PATCH), delete
 * and exists of collections, and the alias lists and changes.
 *
 * Name rules and "already exists" come from the catalog; configuration
 * decoding and validation from decode.c; the info document from encode.c.
 * Deleting a missing collection answers 200 with result false, as Qdrant
 * does (clients and fixtures delete blindly).
 *
 * Optimizations: GET /collections/{c}/optimizations reports the
 * collection layer's optimizer log (optimizer.c) in Qdrant's shape.
 *
 * Aliases: listed and changed here, kept by the catalog (rules in
 * catalog.h).  Every handler that names a collection to use it goes
 * through qv_catalog_acquire, which resolves aliases; create and delete
 * take real collection names only, as in Qdrant.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/rest/decode.h"
#include "api/rest/encode.h"
#include "api/rest/rest_internal.h"

qv_collection *qv_rest_collection(qv_rest_req *rq, qv_rest_resp *rs) {
    const char *name = rq->nparams ? rq->param[0] : "";
    qv_collection *c = qv_rest_name_unsafe(rq) ? NULL : qv_catalog_acquire(rq->cat, name);
    if (!c) {
        qv_err err;
        qv_fail(&err, QV_ENOTFOUND, "Collection `%.300s` doesn't exist!", name);
        qv_rest_reply_err(rq, rs, &err);
    }
    return c;
}

/* Replies {"result": <b>} */
static void qv_rest_reply_bool(qv_rest_req *rq, qv_rest_resp *rs, bool b) {
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_bool(&w, b);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

void qv_rest_h_list_collections(qv_rest_req *rq, qv_rest_resp *rs) {
    size_t n = 0;
    char **names = qv_catalog_names(rq->cat, &n); /* sorted by the catalog */
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "collections");
    jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "name");
        jw_str(&w, names[i]);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    qv_catalog_names_free(names, n);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

void qv_rest_h_get_collection(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    qv_collection_stats st;
    qv_collection_stats_get(c, &st);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    qv_rest_encode_collection_info(&w, qv_collection_config_get(c), &st, c);
    qv_collection_release(c);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* A name with NUL bytes would be cut short by the C string API: validate
 * it with each NUL shown as a control character, which the catalog
 * refuses with Qdrant's message. */
static qv_rc qv_rest_check_name(qv_rest_req *rq, qv_err *err) {
    const char *name = rq->param[0];
    size_t len = rq->param_len[0];
    if (!qv_rest_name_unsafe(rq)) return qv_catalog_check_name(name, err);
    char *copy = qv_arena_alloc(&rq->arena, len + 1);
    if (!copy) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) copy[i] = name[i] ? name[i] : '\x01';
    copy[len] = 0;
    qv_rc rc = qv_catalog_check_name(copy, err);
    return rc ? rc : qv_fail(err, QV_EVALIDATION, "collection_name: invalid collection name");
}

void qv_rest_h_create_collection(qv_rest_req *rq, qv_rest_resp *rs) {
    const char *name = rq->param[0];
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_collection_config cfg;
    if (qv_rest_check_name(rq, &err) || qv_rest_body_json(rq, false, &body, &err) ||
        qv_rest_decode_create_collection(&body, &cfg, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_rc rc = qv_catalog_create(rq->cat, name, &cfg, &err);
    qv_collection_config_free(&cfg); /* emptied by the catalog on success */
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_bool(rq, rs, true);
}

void qv_rest_h_update_collection(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    if (qv_rest_body_json(rq, false, &body, &err)) {
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    qv_collection_config cfg;
    qv_rc rc = qv_rest_decode_update_collection(&body, qv_collection_config_get(c), &cfg, &err);
    if (!rc) {
        rc = qv_collection_update_config(c, &cfg, &err);
        qv_collection_config_free(&cfg);
    }
    qv_collection_release(c);
    if (rc)
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_bool(rq, rs, true);
}

void qv_rest_h_delete_collection(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    bool existed = false;
    if (qv_rest_name_unsafe(rq)) /* no such collection can exist */
        qv_rest_reply_bool(rq, rs, false);
    else if (qv_catalog_delete(rq->cat, rq->param[0], &existed, &err))
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_bool(rq, rs, existed);
}

void qv_rest_h_collection_exists(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_collection *c = qv_rest_name_unsafe(rq) ? NULL : qv_catalog_acquire(rq->cat, rq->param[0]);
    if (c) qv_collection_release(c);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "exists");
    jw_bool(&w, c != NULL);
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* GET /aliases and GET /collections/{c}/aliases: {"aliases": [{"alias_name",
 * "collection_name"}]}, sorted by alias name.  For one collection the name
 * must be a collection (404 otherwise); an alias has no aliases of its own. */
void qv_rest_h_list_aliases(qv_rest_req *rq, qv_rest_resp *rs) {
    const char *only = NULL;
    if (rq->nparams) {
        qv_collection *c = qv_rest_collection(rq, rs);
        if (!c) return;
        qv_collection_release(c);
        only = rq->param[0];
    }
    size_t n = 0;
    qv_alias_desc *list = qv_catalog_aliases(rq->cat, only, &n);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "aliases");
    jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "alias_name");
        jw_str(&w, list[i].alias_name);
        jw_key(&w, "collection_name");
        jw_str(&w, list[i].collection_name);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    qv_catalog_aliases_free(list, n);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* POST /collections/aliases: every action or none (catalog.c); result true.
 * `timeout` bounds the wait for a cluster commit in Qdrant; a single node
 * commits before answering, so it is accepted and has nothing to bound. */
void qv_rest_h_update_aliases(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_err err;
    qv_err_clear(&err);
    jv body;
    qv_alias_action *acts = NULL;
    size_t n = 0;
    if (qv_rest_body_json(rq, false, &body, &err) ||
        qv_rest_decode_alias_actions(&rq->arena, &body, &acts, &n, &err) ||
        qv_catalog_update_aliases(rq->cat, acts, n, &err))
        qv_rest_reply_err(rq, rs, &err);
    else
        qv_rest_reply_bool(rq, rs, true);
}

/* ---- GET /collections/{c}/optimizations ------------------------------------------ */

/* A segment number as the UUID Qdrant's report names segments by. */
static void qv_rest_seg_uuid(jw *w, uint64_t uid) {
    char buf[40];
    snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012" PRIx64,
             uid & (uint64_t)0xFFFFFFFFFFFF);
    jw_str(w, buf);
}

static void qv_rest_iso_time(jw *w, double unix_sec) {
    time_t t = (time_t)unix_sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%06dZ", (int)((unix_sec - (double)t) * 1e6));
    jw_str(w, buf);
}

static void qv_rest_optim_segments(jw *w, const qv_optim_segment *s, uint32_t n) {
    jw_arr_begin(w);
    for (uint32_t i = 0; i < n; i++) {
        jw_obj_begin(w);
        jw_key(w, "uuid");
        qv_rest_seg_uuid(w, s[i].uid);
        jw_key(w, "points_count");
        jw_u64(w, s[i].points);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* Optimization (running or completed). */
static void qv_rest_optimization(jw *w, const qv_optim_entry *e) {
    jw_obj_begin(w);
    jw_key(w, "uuid");
    qv_rest_seg_uuid(w, e->uid);
    jw_key(w, "optimizer");
    jw_str(w, e->optimizer);
    jw_key(w, "status");
    if (e->status == QV_OPTIM_FAILED) {
        jw_obj_begin(w);
        jw_key(w, "error");
        jw_str(w, "optimization failed (see the server log)");
        jw_obj_end(w);
    } else {
        jw_str(w, e->status == QV_OPTIM_RUNNING ? "optimizing" : "done");
    }
    jw_key(w, "segments");
    qv_rest_optim_segments(w, e->segs, e->nsegs);
    jw_key(w, "progress");
    jw_obj_begin(w);
    jw_key(w, "name");
    jw_str(w, e->optimizer);
    jw_key(w, "started_at");
    qv_rest_iso_time(w, e->started);
    if (e->finished > 0) {
        jw_key(w, "finished_at");
        qv_rest_iso_time(w, e->finished);
        jw_key(w, "duration_sec");
        jw_f64(w, e->finished - e->started);
    }
    jw_key(w, "children");
    jw_raw(w, "[]", 2);
    jw_obj_end(w);
    jw_obj_end(w);
}

/* Whether the comma-separated ?with= list names item. */
static bool qv_rest_with(const qv_rest_req *rq, const char *item) {
    size_t n = strlen(item);
    for (const char *p = rq->with; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && memcmp(p, item, n) == 0) return true;
        p += k + (p[k] == ',');
    }
    return false;
}

void qv_rest_h_optimizations(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    qv_optimizations *o = malloc(sizeof *o);
    if (!o) {
        qv_collection_release(c);
        qv_err err;
        qv_fail(&err, QV_ENOMEM, "out of memory");
        qv_rest_reply_err(rq, rs, &err);
        return;
    }
    qv_collection_optimizations(c, o);
    qv_collection_release(c);
    uint64_t queued_points = 0;
    for (uint32_t i = 0; o->has_queued && i < o->queued.nsegs; i++)
        queued_points += o->queued.segs[i].points;
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "summary");
    jw_obj_begin(&w);
    jw_key(&w, "queued_optimizations");
    jw_u64(&w, o->has_queued);
    jw_key(&w, "queued_segments");
    jw_u64(&w, o->has_queued ? o->queued.nsegs : 0);
    jw_key(&w, "queued_points");
    jw_u64(&w, queued_points);
    jw_key(&w, "idle_segments");
    jw_u64(&w, o->idle_total);
    jw_obj_end(&w);
    jw_key(&w, "running");
    jw_arr_begin(&w);
    if (o->has_running) qv_rest_optimization(&w, &o->running);
    jw_arr_end(&w);
    if (qv_rest_with(rq, "queued")) {
        jw_key(&w, "queued");
        jw_arr_begin(&w);
        if (o->has_queued) {
            jw_obj_begin(&w);
            jw_key(&w, "optimizer");
            jw_str(&w, o->queued.optimizer);
            jw_key(&w, "segments");
            qv_rest_optim_segments(&w, o->queued.segs, o->queued.nsegs);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
    }
    if (qv_rest_with(rq, "completed")) {
        uint64_t limit = rq->has_completed_limit ? rq->completed_limit : 16;
        jw_key(&w, "completed");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < o->ncompleted && i < limit; i++)
            qv_rest_optimization(&w, &o->completed[i]);
        jw_arr_end(&w);
    }
    if (qv_rest_with(rq, "idle_segments")) {
        jw_key(&w, "idle_segments");
        qv_rest_optim_segments(&w, o->idle, o->nidle);
    }
    jw_obj_end(&w);
    free(o);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}
