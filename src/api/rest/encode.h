/*
 * encode.h - engine results -> Qdrant's REST JSON.
 *
 * What: the response envelope ({"result":..,"status":"ok","time":..}), the
 * error shape ({"status":{"error":"<prefix><message>"},"time":..}) and the
 * mapping from qv_rc kinds to HTTP status and prefix (core/err.h's table),
 * points as Record / ScoredPoint, update results and collection info.
 *
 * How: everything writes into a jw (core/json.h) so a handler streams its
 * result straight from the engine's callbacks.  Floats (vectors, scores) go
 * through jw_f32: shortest round-trip text, as Qdrant prints them.
 *
 * What it does not do: no HTTP, no lookups; shard_key is never written (no
 * custom sharding yet).
 */
#ifndef QV_API_REST_ENCODE_H
#define QV_API_REST_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "api/rest/decode.h"
#include "collection/collection.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"

struct qv_keypath;

/* ---- Envelope and errors ------------------------------------------------ */

/* HTTP status and message prefix of an error kind (see core/err.h). */
unsigned qv_rest_err_status(qv_rc rc);
const char *qv_rest_err_prefix(qv_rc rc);

/* Writes the whole error document for (rc, msg) into w (after resetting it). */
void qv_rest_encode_error(jw *w, qv_rc rc, const char *msg, double secs);

/* {"result": ... : call begin, write one value, call end. */
void qv_rest_envelope_begin(jw *w);
void qv_rest_envelope_end(jw *w, double secs);

/* ---- Points ------------------------------------------------------------- */

/* How to print points of one request: the collection's vector layout and
 * the with_payload / with_vector selectors.  Key paths are parsed once by
 * qv_rest_point_fmt_init into scratch (the request arena). */
typedef struct qv_rest_point_fmt {
    const qv_collection_config *cfg;
    const qv_rest_payload_sel *payload;
    const qv_rest_vector_sel *vector;
    const struct qv_keypath **paths; /* parsed payload->keys */
    qv_arena *scratch;
} qv_rest_point_fmt;

/* Parses the selector's key paths into scratch. QV_EFORMAT on a bad path. */
qv_rc qv_rest_point_fmt_init(qv_rest_point_fmt *f, const qv_collection_config *cfg,
                             const qv_rest_payload_sel *payload, const qv_rest_vector_sel *vector,
                             qv_arena *scratch, qv_err *err);

void qv_rest_encode_pointid(jw *w, const qv_pointid *id);
/* Record: {"id","payload","vector"} */
void qv_rest_encode_record(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p);
/* ScoredPoint: {"id","version","score","payload","vector"} */
void qv_rest_encode_scored(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p, float score);

/* The same with "order_value" last (order_by results): a Record, and a
 * ScoredPoint of the query's order_by variant (version 0, score 1, as
 * Qdrant gives results that have no score). */
void qv_rest_encode_record_ordered(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p,
                                   const qv_order_value *ov);
void qv_rest_encode_scored_ordered(jw *w, const qv_rest_point_fmt *f, const qv_point_view *p,
                                   const qv_order_value *ov);
/* OrderValue: an integer or a float. */
void qv_rest_encode_order_value(jw *w, const qv_order_value *v);

/* Writes the payload as the selector shapes it (exported for tests). */
void qv_rest_encode_payload(jw *w, const qv_rest_point_fmt *f, const jv *payload);

/* ---- Other results ------------------------------------------------------ */

/* FacetResponse: {"hits": [{"value": v, "count": n}, ...]} */
void qv_rest_encode_facet(jw *w, const qv_facet_hit *hits, size_t n);

/* {"operation_id": N, "status": "acknowledged" | "completed"} */
void qv_rest_encode_update_result(jw *w, uint64_t op_num, qv_write_status st);

/* CollectionInfo (GET /collections/{name}); payload_schema comes from c
 * (qv_collection_payload_schema), or is {} when c is NULL. */
void qv_rest_encode_collection_info(jw *w, const qv_collection_config *cfg,
                                    const qv_collection_stats *st, qv_collection *c);

#endif
