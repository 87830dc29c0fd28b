/*
 * rest_internal.h - what the REST server (rest.c), the router (router.c)
 * and the handlers (handlers_*.c) share; not part of Quiver's API.
 *
 * A request reaches a handler as a qv_rest_req: method, normalised and
 * percent-decoded path segments, the route's path parameters, the query
 * parameters Qdrant defines (wait, timeout, ordering), the (inflated) body
 * and a request-scoped arena.  The handler fills a qv_rest_resp (status,
 * content type, a malloc'd body) and never touches libmicrohttpd, so
 * handlers can be called from tests without a socket.
 *
 * Handlers run on the connection's own thread (thread per connection) and
 * may block (fsync with wait=true); they must not keep pointers into the
 * request after returning.
 */
#ifndef QV_API_REST_INTERNAL_H
#define QV_API_REST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "collection/catalog.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"

/* Methods as bits, so a route can accept several. */
enum {
    QV_REST_GET = 1,
    QV_REST_POST = 2,
    QV_REST_PUT = 4,
    QV_REST_PATCH = 8,
    QV_REST_DELETE = 16,
    QV_REST_HEAD = 32,
    QV_REST_OTHER = 64,
};

#define QV_REST_MAX_SEGS   16
#define QV_REST_MAX_PARAMS 4

typedef struct qv_rest_req {
    qv_catalog *cat;
    unsigned method; /* QV_REST_GET ... */
    size_t nseg;
    const char *seg[QV_REST_MAX_SEGS]; /* decoded path segments (arena) */
    size_t seg_len[QV_REST_MAX_SEGS];  /* their lengths (a segment may hold NUL) */
    uint32_t seg_unsafe;               /* bit i: segment i decoded to '/' or NUL */
    size_t nparams;
    const char *param[QV_REST_MAX_PARAMS]; /* {collection_name}, {id}, ... */
    size_t param_len[QV_REST_MAX_PARAMS];
    uint32_t param_unsafe; /* bit i: param i holds '/' or NUL (collection names only) */
    const char *feature;   /* the route's name, for "not implemented" */
    const char *body;      /* NULL or body_len bytes */
    size_t body_len;
    bool wait;            /* ?wait=true */
    bool has_timeout;     /* ?timeout=N */
    uint64_t timeout_sec; /* seconds */
    const char *with;     /* ?with=a,b (GET .../optimizations), NULL if absent */
    bool has_completed_limit;
    uint64_t completed_limit; /* ?completed_limit=N */
    qv_arena arena;           /* everything of this request; freed after the reply */
    struct timespec t0;       /* arrival, for "time" */
} qv_rest_req;

typedef struct qv_rest_resp {
    unsigned status;
    unsigned retry_after;     /* > 0: a `Retry-After: <seconds>` header (429) */
    const char *content_type; /* static string */
    char *body;               /* malloc'd; the server frees it */
    size_t len;
} qv_rest_resp;

typedef void (*qv_rest_handler)(qv_rest_req *rq, qv_rest_resp *rs);

/* ---- Router (router.c) ---------------------------------------------------- */

/* Finds the handler for rq's method and segments and fills rq->param.
 * Unknown path -> 404, known path with another method -> 405 (both written
 * into rs, and NULL returned). */
qv_rest_handler qv_rest_route(qv_rest_req *rq, qv_rest_resp *rs);

/* ---- Replies (rest.c) ----------------------------------------------------- */

/* Seconds since the request arrived. */
double qv_rest_elapsed(const qv_rest_req *rq);

/* An error in Qdrant's shape; status from the kind. */
void qv_rest_reply_error(qv_rest_req *rq, qv_rest_resp *rs, qv_rc rc, const char *msg);
void qv_rest_reply_err(qv_rest_req *rq, qv_rest_resp *rs, const qv_err *err);

/* Finishes the envelope begun with qv_rest_envelope_begin on w and hands
 * the text to rs (200).  On OOM in w, replies 500 instead. */
void qv_rest_reply_jw(qv_rest_req *rq, qv_rest_resp *rs, jw *w);

/* A raw body (copied) with a status and content type. */
void qv_rest_reply_raw(qv_rest_resp *rs, unsigned status, const char *ctype, const char *text,
                       size_t len);

/* Parses the body as JSON into the request arena.  An empty body reads as
 * {} when empty_ok, else as serde's EOF error. */
qv_rc qv_rest_body_json(qv_rest_req *rq, bool empty_ok, jv *out, qv_err *err);

/* ---- Handlers (handlers_*.c) ---------------------------------------------- */

/* service */
void qv_rest_h_root(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_healthz(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_readyz(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_telemetry(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_metrics(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_cluster(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_collection_cluster(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_issues(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_clear_issues(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_unimplemented(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_cluster_only(qv_rest_req *rq, qv_rest_resp *rs);

/* collections */
void qv_rest_h_list_collections(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_get_collection(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_create_collection(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_update_collection(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_delete_collection(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_collection_exists(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_list_aliases(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_update_aliases(qv_rest_req *rq, qv_rest_resp *rs);

/* points: writes */
void qv_rest_h_upsert(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_delete_points(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_set_payload(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_overwrite_payload(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_delete_payload(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_clear_payload(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_update_vectors(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_delete_vectors(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_batch_update(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_create_index(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_delete_index(qv_rest_req *rq, qv_rest_resp *rs);

/* points: reads */
void qv_rest_h_get_point(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_retrieve(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_scroll(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_count(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_facet(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_query(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_optimizations(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_query_batch(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_search(qv_rest_req *rq, qv_rest_resp *rs);
void qv_rest_h_search_batch(qv_rest_req *rq, qv_rest_resp *rs);

/* ---- Shared by handlers ------------------------------------------------- */

/* The collection named by the first path parameter, or NULL after a 404
 * reply ("Collection `x` doesn't exist!").  Release with
 * qv_collection_release. */
qv_collection *qv_rest_collection(qv_rest_req *rq, qv_rest_resp *rs);

/* True when the collection name parameter decoded to bytes no collection
 * name may hold ('/' or NUL): no such collection can exist. */
static inline bool qv_rest_name_unsafe(const qv_rest_req *rq) {
    return (rq->param_unsafe & 1u) != 0;
}

#endif
