/*
 * handlers_service.c - the service endpoints: identity (GET /), health
 * probes, telemetry, Prometheus metrics, cluster status of a standalone
 * node, issues, and the generic "not implemented" answer.
 *
 * These read only the catalog (collection names and statistics).  The
 * shapes follow COMPAT-NOTES.md: GET / is a bare object without the
 * envelope, the probes answer plain text, /cluster says "disabled".
 *
 * Not here: real telemetry (request counters, hardware), per-collection
 * metrics beyond point counts, cluster operations (a standalone node
 * refuses them as Qdrant's does).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/rest/encode.h"
#include "api/rest/rest_internal.h"
#include "api/version.h"

/* ---- Node identity ------------------------------------------------------ */

/* A per-process random id (telemetry "id", collection cluster peer_id);
 * Qdrant keeps one per node, and nothing depends on it being stable. */
static char qv_rest_node_uuid[40];
static uint64_t qv_rest_peer_id;
static pthread_once_t qv_rest_id_once = PTHREAD_ONCE_INIT;

static void qv_rest_make_ids(void) {
    uint8_t b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got != sizeof b) { /* no urandom: time and pid still differ per run */
        uint64_t x = (uint64_t)time(NULL) * 6364136223846793005ull + (uint64_t)getpid();
        for (int i = 0; i < 16; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull, b[i] = (uint8_t)(x >> 56);
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(qv_rest_node_uuid, sizeof qv_rest_node_uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    memcpy(&qv_rest_peer_id, b, sizeof qv_rest_peer_id);
    qv_rest_peer_id >>= 1; /* fits a signed 64-bit integer for picky clients */
}

/* ---- Identity and probes ------------------------------------------------ */

void qv_rest_h_root(qv_rest_req *rq, qv_rest_resp *rs) {
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "title");
    jw_str(&w, "qdrant - vector search engine");
    jw_key(&w, "version");
    jw_str(&w, QV_QDRANT_API_VERSION);
    jw_key(&w, "commit");
    jw_str(&w, QV_COMMIT);
    jw_key(&w, "quiver_version");
    jw_str(&w, QV_VERSION);
    jw_obj_end(&w);
    free(rs->body);
    rs->status = 200;
    rs->content_type = "application/json";
    rs->body = jw_take(&w, &rs->len);
    jw_free(&w);
}

void qv_rest_h_healthz(qv_rest_req *rq, qv_rest_resp *rs) {
    static const char text[] = "healthz check passed";
    qv_rest_reply_raw(rs, 200, "text/plain; charset=utf-8", text, sizeof text - 1);
}

void qv_rest_h_readyz(qv_rest_req *rq, qv_rest_resp *rs) {
    /* the catalog is open before the server starts: every shard is loaded */
    static const char text[] = "all shards are ready";
    qv_rest_reply_raw(rs, 200, "text/plain; charset=utf-8", text, sizeof text - 1);
}

/* ---- Telemetry and metrics ---------------------------------------------- */

void qv_rest_h_telemetry(qv_rest_req *rq, qv_rest_resp *rs) {
    size_t n = 0;
    char **names = qv_catalog_names(rq->cat, &n);
    qv_catalog_names_free(names, n);
    pthread_once(&qv_rest_id_once, qv_rest_make_ids);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "id");
    jw_str(&w, qv_rest_node_uuid);
    jw_key(&w, "app");
    jw_obj_begin(&w);
    jw_key(&w, "name");
    jw_str(&w, "qdrant");
    jw_key(&w, "version");
    jw_str(&w, QV_QDRANT_API_VERSION);
    jw_key(&w, "quiver_version");
    jw_str(&w, QV_VERSION);
    jw_obj_end(&w);
    jw_key(&w, "collections");
    jw_obj_begin(&w);
    jw_key(&w, "number_of_collections");
    jw_u64(&w, n);
    jw_obj_end(&w);
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* Sums the point counts of every collection. */
static uint64_t qv_rest_total_points(qv_catalog *cat, size_t *ncoll) {
    size_t n = 0;
    uint64_t total = 0;
    char **names = qv_catalog_names(cat, &n);
    for (size_t i = 0; i < n; i++) {
        qv_collection *c = qv_catalog_acquire(cat, names[i]);
        if (!c) continue;
        qv_collection_stats st;
        qv_collection_stats_get(c, &st);
        total += st.points_count;
        qv_collection_release(c);
    }
    qv_catalog_names_free(names, n);
    *ncoll = n;
    return total;
}

void qv_rest_h_metrics(qv_rest_req *rq, qv_rest_resp *rs) {
    size_t ncoll = 0;
    uint64_t points = qv_rest_total_points(rq->cat, &ncoll);
    char text[1024];
    int len = snprintf(text, sizeof text,
                       "# HELP app_info information about qdrant server\n"
                       "# TYPE app_info gauge\n"
                       "app_info{name=\"qdrant\",version=\"%s\"} 1\n"
                       "# HELP cluster_enabled is cluster support enabled\n"
                       "# TYPE cluster_enabled gauge\n"
                       "cluster_enabled 0\n"
                       "# HELP collections_total number of collections\n"
                       "# TYPE collections_total gauge\n"
                       "collections_total %zu\n"
                       "# HELP collections_vector_total total number of vectors in all "
                       "collections\n"
                       "# TYPE collections_vector_total gauge\n"
                       "collections_vector_total %" PRIu64 "\n",
                       QV_QDRANT_API_VERSION, ncoll, points);
    qv_rest_reply_raw(rs, 200, "text/plain; version=0.0.4", text, (size_t)len);
}

/* ---- Cluster (standalone) ----------------------------------------------- */

void qv_rest_h_cluster(qv_rest_req *rq, qv_rest_resp *rs) {
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "status");
    jw_str(&w, "disabled");
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* One local shard holding every point. */
void qv_rest_h_collection_cluster(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_collection *c = qv_rest_collection(rq, rs);
    if (!c) return;
    qv_collection_stats st;
    qv_collection_stats_get(c, &st);
    qv_collection_release(c);
    pthread_once(&qv_rest_id_once, qv_rest_make_ids);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "peer_id");
    jw_u64(&w, qv_rest_peer_id);
    jw_key(&w, "shard_count");
    jw_u64(&w, 1);
    jw_key(&w, "local_shards");
    jw_arr_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "shard_id");
    jw_u64(&w, 0);
    jw_key(&w, "points_count");
    jw_u64(&w, st.points_count);
    jw_key(&w, "state");
    jw_str(&w, st.broken ? "Dead" : "Active");
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_key(&w, "remote_shards");
    jw_raw(&w, "[]", 2);
    jw_key(&w, "shard_transfers");
    jw_raw(&w, "[]", 2);
    jw_obj_end(&w);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

void qv_rest_h_cluster_only(qv_rest_req *rq, qv_rest_resp *rs) {
    qv_rest_reply_error(rq, rs, QV_ENOTALLOWED, "Distributed mode disabled");
}

/* ---- Issues ------------------------------------------------------------- */

/* Broken collections (failed recovery) are the issues a node reports. */
void qv_rest_h_issues(qv_rest_req *rq, qv_rest_resp *rs) {
    size_t n = 0;
    char **names = qv_catalog_names(rq->cat, &n);
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "issues");
    jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        qv_collection *c = qv_catalog_acquire(rq->cat, names[i]);
        if (!c) continue;
        qv_collection_stats st;
        qv_collection_stats_get(c, &st);
        qv_collection_release(c);
        if (!st.broken) continue;
        char id[320];
        snprintf(id, sizeof id, "broken_collection/%.256s", names[i]);
        jw_obj_begin(&w);
        jw_key(&w, "id");
        jw_str(&w, id);
        jw_key(&w, "description");
        jw_str(&w, st.broken_msg);
        jw_key(&w, "solution");
        jw_str(&w, "Inspect the collection's directory and the server log; restore it from a "
                   "backup or delete the collection");
        jw_key(&w, "timestamp");
        jw_null(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    qv_catalog_names_free(names, n);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

/* Issues here are states, not events: there is nothing to clear. */
void qv_rest_h_clear_issues(qv_rest_req *rq, qv_rest_resp *rs) {
    jw w;
    jw_init(&w);
    qv_rest_envelope_begin(&w);
    jw_bool(&w, true);
    qv_rest_reply_jw(rq, rs, &w);
    jw_free(&w);
}

void qv_rest_h_unimplemented(qv_rest_req *rq, qv_rest_resp *rs) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s %s not supported by Quiver yet",
             rq->feature ? rq->feature : "This endpoint",
             rq->feature && rq->feature[strlen(rq->feature) - 1] == 's' ? "are" : "is");
    qv_rest_reply_error(rq, rs, QV_EUNIMPLEMENTED, msg);
}
