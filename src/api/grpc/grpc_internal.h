/*
 * grpc_internal.h - what the gRPC server core shares with the RPC handlers
 * and the protobuf <-> engine conversions.
 *
 * A handler receives the request already unpacked (protobuf-c, into the
 * request arena), does its work against the catalog and sets rq->reply to
 * a response message it built in the same arena; the core packs and sends
 * it.  An error return (qv_rc + qv_err) becomes the gRPC status (see
 * qv_grpc_status_of in grpc_server.c) with the message as details.
 *
 * Memory: everything of one call (the unpacked request, the engine structs,
 * the reply tree) lives in rq->arena and is freed with it once the reply
 * has been packed.  Building replies treats arena exhaustion as fatal
 * (qv_grpc_alloc aborts), as message trees are built in many small steps.
 */
#ifndef QV_API_GRPC_INTERNAL_H
#define QV_API_GRPC_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "collection/catalog.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"
#include "index/filter.h"
#include "storage/ops.h"

#include "collections.pb-c.h"
#include "collections_service.pb-c.h"
#include "health_check.pb-c.h"
#include "json_with_int.pb-c.h"
#include "points.pb-c.h"
#include "points_service.pb-c.h"
#include "qdrant.pb-c.h"
#include "qdrant_common.pb-c.h"

typedef struct qv_grpc_req {
    qv_catalog *cat;
    qv_arena arena;
    ProtobufCAllocator alloc; /* allocates in arena; free is a no-op */
    const ProtobufCMessage *reply;
    struct timespec t0;
    /* The client's deadline (grpc-timeout), on t0's clock (CLOCK_MONOTONIC). */
    bool has_deadline;
    struct timespec deadline;
    uint64_t budget_ms; /* time left when the call was taken up (messages) */
    bool committed;     /* qv_grpc_deadline_check let a side effect start */
} qv_grpc_req;

typedef qv_rc (*qv_grpc_handler)(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);

/* Seconds since the call started (the `time` field of every reply). */
double qv_grpc_elapsed(const qv_grpc_req *rq);

/* Deadlines (grpc-timeout).  The engine's operations take no timeout, so
 * the deadline is enforced at the points where the gRPC layer can still
 * decide: before the handler runs (grpc_server.c), right before a
 * handler's first side effect (this call), and after a read (an answer
 * the client no longer waits for becomes DEADLINE_EXCEEDED).  A handler
 * calls this immediately before the first call that changes anything
 * (qv_collection_update, catalog create/delete...): QV_ETIMEOUT
 * (DEADLINE_EXCEEDED) when the deadline has passed, so nothing is written
 * after the client was told it failed; otherwise it records that the
 * call has begun writing (its real result is then always sent). */
qv_rc qv_grpc_deadline_check(qv_grpc_req *rq, qv_err *err);

/* Zeroed arena memory; aborts on exhaustion (see the top of this file). */
void *qv_grpc_alloc(qv_grpc_req *rq, size_t n);
char *qv_grpc_strdup(qv_grpc_req *rq, const char *s, size_t len);

/* Allocates a message of type T in the arena and runs its generated init. */
#define QV_GRPC_NEW(rq, T, initfn)                                                                 \
    ({                                                                                             \
        T *qv_m_ = qv_grpc_alloc((rq), sizeof(T));                                                 \
        initfn(qv_m_);                                                                             \
        qv_m_;                                                                                     \
    })

/* Handlers, looked up by full method path in grpc_server.c. */
qv_rc qv_grpc_h_health_check(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_health_v1_check(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_list(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_get(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_create(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_update(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_delete(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_exists(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_list_aliases(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_coll_update_aliases(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_create_field_index(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_delete_field_index(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_upsert(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_delete(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_get(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_count(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_scroll(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_query(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_search(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_query_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_search_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_update_vectors(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_delete_vectors(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_update_batch(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_set_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_overwrite_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_delete_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_clear_payload(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);
qv_rc qv_grpc_h_facet(qv_grpc_req *rq, const ProtobufCMessage *in, qv_err *err);

/* Decode-only path for fuzzing and tests (grpc_server.c): method is a
 * path such as "/qdrant.Points/Upsert" (leading '/' optional); data is the
 * request message.  Runs the pre-check, the unpack and the method's
 * handler with a NULL catalog, so the request is converted into engine
 * structs but no collection is touched: returns the decode error, or the
 * NOT_FOUND / UNAVAILABLE the first catalog access gives for a valid
 * request.  Allocates nothing that outlives the call. */
qv_rc qv_grpc_decode_for_test(const char *method, const uint8_t *data, size_t len, qv_err *err);

/* ---- Conversions (grpc_convert.c) ---------------------------------------- */

/* PointId -> qv_pointid; INVALID_ARGUMENT for an unset id or a bad UUID. */
qv_rc qv_grpc_pointid_in(const Qdrant__PointId *p, qv_pointid *out, qv_err *err);
Qdrant__PointId *qv_grpc_pointid_out(qv_grpc_req *rq, const qv_pointid *id);

/* map<string, Value> -> a resolved jv object (allocated in the arena). */
qv_rc qv_grpc_payload_in(qv_grpc_req *rq, size_t n, Qdrant__PointStruct__PayloadEntry **entries,
                         jv *out, qv_err *err);
/* Value -> jv (any shape). */
qv_rc qv_grpc_value_in(qv_grpc_req *rq, const Qdrant__Value *v, jv *out, int depth, qv_err *err);
/* jv object -> entries of the given map-entry type d (any generated
 * map<string, Value> entry), copied into the arena. */
void **qv_grpc_kvs_out(qv_grpc_req *rq, const jv *obj, const ProtobufCMessageDescriptor *d,
                       size_t *n);
/* jv -> Value, copied into the arena. */
Qdrant__Value *qv_grpc_value_out(qv_grpc_req *rq, const jv *v);

/* Filter -> qv_filter (NULL in -> NULL out).  Unsupported conditions are
 * INVALID_ARGUMENT "... not supported yet". */
qv_rc qv_grpc_filter_in(qv_grpc_req *rq, const Qdrant__Filter *f, qv_filter **out, qv_err *err);

/* A collection by name, or NOT_FOUND with Qdrant's message. */
qv_collection *qv_grpc_collection(qv_grpc_req *rq, const char *name, qv_err *err);

/* The UpdateResult of a write. */
Qdrant__UpdateResult *qv_grpc_update_result(qv_grpc_req *rq, uint64_t op_num, qv_write_status st);

#endif
