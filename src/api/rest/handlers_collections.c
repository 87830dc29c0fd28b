/*
 * handlers_collections.c - list, get, create (PUT), update (PATCH), delete
 * and exists of collections, and the (always empty) alias lists.
 *
 * Name rules and "already exists" come from the catalog; configuration
 * decoding and validation from decode.c; the info document from encode.c.
 * Deleting a missing collection answers 200 with result false, as Qdrant
 * does (clients and fixtures delete blindly).
 *
 * Not here: aliases can be listed (there are none, since they cannot be
 * created yet) but not changed; that route answers 501.
 */
#include <stdlib.h>
#include <string.h>

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
    qv_rest_encode_collection_info(&w, qv_collection_config_get(c), &st);
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

/* GET /aliases and GET /collections/{c}/aliases: no alias can exist yet. */
void qv_rest_h_list_aliases(qv_rest_req *rq, qv_rest_resp *rs) {
    if (rq->nparams) {
        qv_collection *c = qv_rest_collection(rq, rs);
        if (!c) return;
        qv_collection_release(c);
    }
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "aliases");
    jw_raw(&w, "[]", 2);
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}
