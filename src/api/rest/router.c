/*
 * router.c - method + path -> handler, for every endpoint of Qdrant 1.19's
 * REST API (openapi.json) plus the legacy search/recommend/discover ones
 * that 1.18 still documents and current clients call.
 *
 * The table is matched top to bottom; a pattern segment "{...}" matches any
 * segment and becomes the next path parameter.  Literal routes come before
 * parameterised ones that could shadow them (POST /collections/aliases
 * before /collections/{name}).  A path that matches some row but with a
 * different method is a 405; no row at all is a 404.
 *
 * Endpoints the engine cannot serve yet are still routed, to
 * qv_rest_h_unimplemented, which answers 501 in Qdrant's error shape
 * naming the feature (never a fake success); cluster operations on this
 * standalone node answer what Qdrant's standalone mode answers.
 *
 * Not here: decoding, authentication (a later issue).
 */
#include <stdio.h>
#include <string.h>

#include "api/rest/rest_internal.h"

typedef struct qv_rest_route_row {
    unsigned methods;
    const char *pattern;
    qv_rest_handler handler;
    const char *feature; /* what the endpoint is, for 501 messages */
} qv_rest_route_row;

#define GET    QV_REST_GET | QV_REST_HEAD
#define POST   QV_REST_POST
#define PUT    QV_REST_PUT
#define PATCH  QV_REST_PATCH
#define DELETE QV_REST_DELETE
#define UNIMPL qv_rest_h_unimplemented

static const qv_rest_route_row qv_rest_routes[] = {
    /* service */
    {GET, "/", qv_rest_h_root, "root"},
    {GET, "/healthz", qv_rest_h_healthz, "healthz"},
    {GET, "/livez", qv_rest_h_healthz, "livez"},
    {GET, "/readyz", qv_rest_h_readyz, "readyz"},
    {GET, "/telemetry", qv_rest_h_telemetry, "telemetry"},
    {GET, "/metrics", qv_rest_h_metrics, "metrics"},
    {GET, "/issues", qv_rest_h_issues, "issues"},
    {DELETE, "/issues", qv_rest_h_clear_issues, "issues"},
    {GET, "/quotas", UNIMPL, "Quotas"},
    {PUT, "/quotas", UNIMPL, "Quotas"},
    /* cluster (standalone node) */
    {GET, "/cluster", qv_rest_h_cluster, "cluster"},
    {GET, "/cluster/telemetry", UNIMPL, "Cluster telemetry"},
    {POST, "/cluster/recover", qv_rest_h_cluster_only, "Cluster recovery"},
    {DELETE, "/cluster/peer/{peer_id}", qv_rest_h_cluster_only, "Peer removal"},
    /* snapshots of the whole storage */
    {GET, "/snapshots", UNIMPL, "Snapshots"},
    {POST, "/snapshots", UNIMPL, "Snapshots"},
    {GET, "/snapshots/{snapshot}", UNIMPL, "Snapshots"},
    {DELETE, "/snapshots/{snapshot}", UNIMPL, "Snapshots"},
    /* aliases */
    {GET, "/aliases", qv_rest_h_list_aliases, "aliases"},
    {POST, "/collections/aliases", qv_rest_h_update_aliases, "aliases update"},
    /* collections */
    {GET, "/collections", qv_rest_h_list_collections, "collections"},
    {GET, "/collections/{c}", qv_rest_h_get_collection, "collection info"},
    {PUT, "/collections/{c}", qv_rest_h_create_collection, "collection creation"},
    {PATCH, "/collections/{c}", qv_rest_h_update_collection, "collection update"},
    {DELETE, "/collections/{c}", qv_rest_h_delete_collection, "collection deletion"},
    {GET, "/collections/{c}/exists", qv_rest_h_collection_exists, "collection exists"},
    {GET, "/collections/{c}/aliases", qv_rest_h_list_aliases, "aliases"},
    {PUT, "/collections/{c}/index", qv_rest_h_create_index, "create field index"},
    {DELETE, "/collections/{c}/index/{field}", qv_rest_h_delete_index, "delete field index"},
    {PUT, "/collections/{c}/vectors/{vector}", UNIMPL, "Named vector creation"},
    {DELETE, "/collections/{c}/vectors/{vector}", UNIMPL, "Named vector deletion"},
    {GET, "/collections/{c}/cluster", qv_rest_h_collection_cluster, "collection cluster info"},
    {POST, "/collections/{c}/cluster", qv_rest_h_cluster_only, "Collection cluster update"},
    {GET, "/collections/{c}/optimizations", qv_rest_h_optimizations, "optimization progress"},
    {PUT, "/collections/{c}/shards", UNIMPL, "Shard keys"},
    {GET, "/collections/{c}/shards", UNIMPL, "Shard keys"},
    {POST, "/collections/{c}/shards/delete", UNIMPL, "Shard keys"},
    /* collection and shard snapshots */
    {POST, "/collections/{c}/snapshots/upload", UNIMPL, "Snapshots"},
    {PUT, "/collections/{c}/snapshots/recover", UNIMPL, "Snapshots"},
    {GET, "/collections/{c}/snapshots", UNIMPL, "Snapshots"},
    {POST, "/collections/{c}/snapshots", UNIMPL, "Snapshots"},
    {GET, "/collections/{c}/snapshots/{snapshot}", UNIMPL, "Snapshots"},
    {DELETE, "/collections/{c}/snapshots/{snapshot}", UNIMPL, "Snapshots"},
    {GET, "/collections/{c}/shards/{shard}/snapshot", UNIMPL, "Shard snapshots"},
    {POST, "/collections/{c}/shards/{shard}/snapshots/upload", UNIMPL, "Shard snapshots"},
    {PUT, "/collections/{c}/shards/{shard}/snapshots/recover", UNIMPL, "Shard snapshots"},
    {GET, "/collections/{c}/shards/{shard}/snapshots", UNIMPL, "Shard snapshots"},
    {POST, "/collections/{c}/shards/{shard}/snapshots", UNIMPL, "Shard snapshots"},
    {GET, "/collections/{c}/shards/{shard}/snapshots/{snapshot}", UNIMPL, "Shard snapshots"},
    {DELETE, "/collections/{c}/shards/{shard}/snapshots/{snapshot}", UNIMPL, "Shard snapshots"},
    /* points: writes */
    {PUT, "/collections/{c}/points", qv_rest_h_upsert, "upsert"},
    {POST, "/collections/{c}/points", qv_rest_h_retrieve, "retrieve"},
    {POST, "/collections/{c}/points/delete", qv_rest_h_delete_points, "delete points"},
    {PUT, "/collections/{c}/points/vectors", qv_rest_h_update_vectors, "update vectors"},
    {POST, "/collections/{c}/points/vectors/delete", qv_rest_h_delete_vectors, "delete vectors"},
    {POST, "/collections/{c}/points/payload", qv_rest_h_set_payload, "set payload"},
    {PUT, "/collections/{c}/points/payload", qv_rest_h_overwrite_payload, "overwrite payload"},
    {POST, "/collections/{c}/points/payload/delete", qv_rest_h_delete_payload, "delete payload"},
    {POST, "/collections/{c}/points/payload/clear", qv_rest_h_clear_payload, "clear payload"},
    {POST, "/collections/{c}/points/batch", qv_rest_h_batch_update, "batch update"},
    /* points: reads */
    {POST, "/collections/{c}/points/scroll", qv_rest_h_scroll, "scroll"},
    {POST, "/collections/{c}/points/count", qv_rest_h_count, "count"},
    {POST, "/collections/{c}/points/query", qv_rest_h_query, "query"},
    {POST, "/collections/{c}/points/query/batch", qv_rest_h_query_batch, "query batch"},
    {POST, "/collections/{c}/points/query/groups", UNIMPL, "Grouped queries"},
    {POST, "/collections/{c}/points/search", qv_rest_h_search, "search"},
    {POST, "/collections/{c}/points/search/batch", qv_rest_h_search_batch, "search batch"},
    {POST, "/collections/{c}/points/search/groups", UNIMPL, "Grouped search"},
    {POST, "/collections/{c}/points/search/matrix/pairs", UNIMPL, "Distance matrix"},
    {POST, "/collections/{c}/points/search/matrix/offsets", UNIMPL, "Distance matrix"},
    {POST, "/collections/{c}/points/recommend", UNIMPL, "Recommendation"},
    {POST, "/collections/{c}/points/recommend/batch", UNIMPL, "Recommendation"},
    {POST, "/collections/{c}/points/recommend/groups", UNIMPL, "Recommendation"},
    {POST, "/collections/{c}/points/discover", UNIMPL, "Discovery"},
    {POST, "/collections/{c}/points/discover/batch", UNIMPL, "Discovery"},
    {POST, "/collections/{c}/facet", qv_rest_h_facet, "facet"},
    {GET, "/collections/{c}/points/{id}", qv_rest_h_get_point, "get point"},
};

/* Matches one pattern against the request's segments, collecting the
 * parameters into rq on success. */
static bool qv_rest_match(const char *pattern, qv_rest_req *rq) {
    const char *p = pattern;
    size_t i = 0, np = 0;
    uint32_t unsafe_params = 0;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        size_t n = strcspn(p, "/");
        if (i >= rq->nseg) return false;
        bool unsafe = (rq->seg_unsafe >> i) & 1u;
        if (*p == '{') {
            /* only a collection name may arrive with '/' or NUL in it */
            if (np == QV_REST_MAX_PARAMS || (unsafe && strncmp(p, "{c}", 3) != 0)) return false;
            if (unsafe) unsafe_params |= 1u << np;
            rq->param_len[np] = rq->seg_len[i];
            rq->param[np++] = rq->seg[i];
        } else if (unsafe || rq->seg_len[i] != n || memcmp(rq->seg[i], p, n) != 0) {
            return false;
        }
        i++;
        p += n;
    }
    if (i != rq->nseg) return false;
    rq->nparams = np;
    rq->param_unsafe = unsafe_params;
    return true;
}

qv_rest_handler qv_rest_route(qv_rest_req *rq, qv_rest_resp *rs) {
    bool path_known = false;
    for (size_t i = 0; i < sizeof qv_rest_routes / sizeof *qv_rest_routes; i++) {
        const qv_rest_route_row *r = &qv_rest_routes[i];
        if (!qv_rest_match(r->pattern, rq)) continue;
        path_known = true;
        if (!(r->methods & rq->method)) continue;
        rq->feature = r->feature;
        return r->handler;
    }
    rq->nparams = 0;
    if (path_known)
        qv_rest_reply_error(rq, rs, QV_ENOTALLOWED, "Method not allowed for this path");
    else
        qv_rest_reply_error(rq, rs, QV_ENOTFOUND, "Path not found");
    return NULL;
}
