/*
 * grpc_server.c - the gRPC server core: listening, method registration, the
 * per-call state machine and the mapping of engine errors to gRPC status.
 *
 * How: gRPC C core (libgrpc) does HTTP/2, flow control, keepalive,
 * deadlines and message (de)compression.  Every method of every service
 * protoc-c generated a ProtobufCServiceDescriptor for is registered with
 * GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, so a call arrives with its
 * request message already read.  The methods with a handler (qv_grpc_routes)
 * are served; every other one answers UNIMPLEMENTED "<Service>/<Method> is
 * not supported by Quiver yet".
 *
 * A call is a small state machine with one tag (the qv_grpc_call):
 *   REQUESTED  waiting in grpc_server_request_registered_call; when it
 *              completes, a fresh call is requested for the same method
 *              (so the method keeps accepting), the request is unpacked
 *              with the method's input descriptor, the handler runs, and
 *              one batch sends initial metadata + the reply + the status
 *              and receives close-on-server;
 *   REPLYING   that batch completed: the call is freed.
 * Malformed protobuf is INVALID_ARGUMENT, never a crash (protobuf-c checks
 * every length).
 *
 * Deadlines: the call's deadline (grpc-timeout, parsed by gRPC core) is
 * carried into the request as the time left when the call is taken up;
 * see qv_grpc_deadline_check in grpc_internal.h for where it is enforced
 * (before the handler, before a write's first change, after a read).
 *
 * Threading: one completion queue served by QV_GRPC_THREADS threads.  A
 * handler runs on the queue thread that received the call (reads take the
 * collection's read lock; writes may wait for an fsync), so at most that
 * many calls run at once; the others wait inside gRPC core.
 *
 * Shutdown: grpc_server_shutdown_and_notify + cancel_all_calls; the
 * threads keep draining the queue (pending requests complete with ok=false
 * and are freed, running handlers finish and their cancelled replies
 * complete); once the notification has arrived AND no call object is left
 * (s->live == 0, so nothing can start a batch any more) the queue is shut
 * down, the threads exit, and the server and queue are destroyed.
 *
 * API keys: when configured, qv_grpc_authorize checks the call's metadata
 * (`api-key`, else `authorization: Bearer <key>`) before the request is
 * even unpacked: UNAUTHENTICATED without a valid key, PERMISSION_DENIED
 * for the read-only key on a method not in qv_grpc_read_methods (unknown
 * methods count as writes: fail closed).  The two health checks need no
 * key, as in Qdrant.
 *
 * What it does not do yet: TLS, JWT, server-side compression of replies,
 * and streaming RPCs (Qdrant has none).
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc/grpc_internal.h"
#include "api/grpc/grpc_server.h"
#include "api/rest/encode.h"
#define QV_LOG_COMPONENT "grpc"
#include "core/log.h"

#define QV_GRPC_THREADS 4

/* ThreadSanitizer builds: gRPC core, gpr and abseil come from Debian
 * without TSan instrumentation, so their internal synchronisation (epoll
 * hand-offs, absl mutexes) is invisible to it and every report from inside
 * them is a false positive.  Reports involving Quiver's own frames stay.
 * (Only a TSan runtime calls this hook; other builds ignore it.) */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) {
    return "race:libgrpc.so\n"
           "race:libgpr.so\n"
           "race:libabsl_\n"
           "race:libupb.so\n"
           "deadlock:libgrpc.so\n"
           "called_from_lib:libgrpc.so\n"
           "called_from_lib:libgpr.so\n";
}

/* A call's tag passes between threads through gRPC's completion queue,
 * whose synchronisation TSan cannot see (uninstrumented library): tell it
 * explicitly that handing a tag to gRPC releases and getting it back from
 * the queue acquires. */
#if defined(__SANITIZE_THREAD__)
#define QV_GRPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QV_GRPC_TSAN 1
#endif
#endif
#ifdef QV_GRPC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define QV_GRPC_HANDOFF(tag)  __tsan_release(tag)
#define QV_GRPC_RECEIVED(tag) __tsan_acquire(tag)
#else
#define QV_GRPC_HANDOFF(tag)  ((void)(tag))
#define QV_GRPC_RECEIVED(tag) ((void)(tag))
#endif

/* ======================================================================
 * Method table
 * ====================================================================== */

typedef struct qv_grpc_route {
    const char *path;
    qv_grpc_handler fn;
} qv_grpc_route;

static const qv_grpc_route qv_grpc_routes[] = {
    {"/qdrant.Qdrant/HealthCheck", qv_grpc_h_health_check},
    {"/grpc.health.v1.Health/Check", qv_grpc_h_health_v1_check},
    {"/qdrant.Collections/List", qv_grpc_h_coll_list},
    {"/qdrant.Collections/Get", qv_grpc_h_coll_get},
    {"/qdrant.Collections/Create", qv_grpc_h_coll_create},
    {"/qdrant.Collections/Update", qv_grpc_h_coll_update},
    {"/qdrant.Collections/Delete", qv_grpc_h_coll_delete},
    {"/qdrant.Collections/CollectionExists", qv_grpc_h_coll_exists},
    {"/qdrant.Collections/ListAliases", qv_grpc_h_coll_list_aliases},
    {"/qdrant.Collections/ListCollectionAliases", qv_grpc_h_coll_list_aliases},
    {"/qdrant.Collections/UpdateAliases", qv_grpc_h_coll_update_aliases},
    {"/qdrant.Points/CreateFieldIndex", qv_grpc_h_create_field_index},
    {"/qdrant.Points/DeleteFieldIndex", qv_grpc_h_delete_field_index},
    {"/qdrant.Points/Upsert", qv_grpc_h_upsert},
    {"/qdrant.Points/Delete", qv_grpc_h_delete},
    {"/qdrant.Points/Get", qv_grpc_h_get},
    {"/qdrant.Points/Count", qv_grpc_h_count},
    {"/qdrant.Points/Scroll", qv_grpc_h_scroll},
    {"/qdrant.Points/Query", qv_grpc_h_query},
    {"/qdrant.Points/Search", qv_grpc_h_search},
    {"/qdrant.Points/QueryBatch", qv_grpc_h_query_batch},
    {"/qdrant.Points/SearchBatch", qv_grpc_h_search_batch},
    {"/qdrant.Points/UpdateVectors", qv_grpc_h_update_vectors},
    {"/qdrant.Points/DeleteVectors", qv_grpc_h_delete_vectors},
    {"/qdrant.Points/UpdateBatch", qv_grpc_h_update_batch},
    {"/qdrant.Points/SetPayload", qv_grpc_h_set_payload},
    {"/qdrant.Points/OverwritePayload", qv_grpc_h_overwrite_payload},
    {"/qdrant.Points/DeletePayload", qv_grpc_h_delete_payload},
    {"/qdrant.Points/ClearPayload", qv_grpc_h_clear_payload},
    {"/qdrant.Points/Facet", qv_grpc_h_facet},
};

static qv_grpc_handler qv_grpc_route_of(const char *path);

static const ProtobufCServiceDescriptor *const qv_grpc_services[] = {
    &qdrant__qdrant__descriptor,           &qdrant__collections__descriptor,
    &qdrant__points__descriptor,           &qdrant__snapshots__descriptor,
    &grpc__health__v1__health__descriptor,
};

typedef struct qv_grpc_method {
    char path[160];
    const ProtobufCMethodDescriptor *desc;
    qv_grpc_handler fn; /* NULL = UNIMPLEMENTED */
    void *handle;       /* grpc_server_register_method's */
} qv_grpc_method;

struct qv_grpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    qv_catalog *cat;
    const qv_auth *auth;
    qv_grpc_method *methods;
    size_t nmethods;
    pthread_t threads[QV_GRPC_THREADS];
    size_t nthreads;
    int shutdown_tag;   /* its address is the shutdown notification's tag */
    pthread_mutex_t mu; /* guards stopping, shut_down, live */
    pthread_cond_t cv;
    bool stopping, shut_down;
    size_t live; /* qv_grpc_call objects not yet freed */
};

/* ======================================================================
 * Status mapping (core/err.h's table)
 * ====================================================================== */

static grpc_status_code qv_grpc_status_of(qv_rc rc) {
    switch (rc) {
    case QV_OK:
        return GRPC_STATUS_OK;
    case QV_EBADINPUT:
    case QV_EFORMAT:
    case QV_EBADREQUEST:
    case QV_EVALIDATION:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case QV_ENOTFOUND:
        return GRPC_STATUS_NOT_FOUND;
    case QV_EEXISTS:
        return GRPC_STATUS_ALREADY_EXISTS;
    case QV_ETIMEOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case QV_ENOTALLOWED:
    case QV_EUNIMPLEMENTED:
        return GRPC_STATUS_UNIMPLEMENTED;
    case QV_ETOOLARGE:
    case QV_ENOMEM:
    case QV_ERATELIMITED:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case QV_EUNAVAILABLE:
        return GRPC_STATUS_UNAVAILABLE;
    case QV_ECORRUPT:
        return GRPC_STATUS_DATA_LOSS;
    case QV_EUNAUTHENTICATED:
        return GRPC_STATUS_UNAUTHENTICATED;
    case QV_EFORBIDDEN:
        return GRPC_STATUS_PERMISSION_DENIED;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

/* ======================================================================
 * Request-scoped helpers shared with the handlers
 * ====================================================================== */

double qv_grpc_elapsed(const qv_grpc_req *rq) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - rq->t0.tv_sec) + (double)(t.tv_nsec - rq->t0.tv_nsec) * 1e-9;
}

static bool qv_grpc_expired(const qv_grpc_req *rq) {
    struct timespec t;
    if (!rq->has_deadline) return false;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec > rq->deadline.tv_sec ||
           (t.tv_sec == rq->deadline.tv_sec && t.tv_nsec >= rq->deadline.tv_nsec);
}

static qv_rc qv_grpc_timeout(const qv_grpc_req *rq, const char *when, qv_err *err) {
    return qv_fail(err, QV_ETIMEOUT,
                   "Deadline exceeded %s (the call had %llu ms left when it was taken up, "
                   "%.3f s ago)",
                   when, (unsigned long long)rq->budget_ms, qv_grpc_elapsed(rq));
}

qv_rc qv_grpc_deadline_check(qv_grpc_req *rq, qv_err *err) {
    if (qv_grpc_expired(rq)) return qv_grpc_timeout(rq, "before the operation started", err);
    rq->committed = true;
    return QV_OK;
}

/* Sets rq's deadline from the call's (gRPC core parses grpc-timeout into
 * an absolute time on its own clock; an infinite one means none).  The
 * remaining time is carried over to CLOCK_MONOTONIC, rq->t0's clock. */
static void qv_grpc_set_deadline(qv_grpc_req *rq, gpr_timespec deadline) {
    gpr_timespec d = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0) return;
    gpr_timespec left = gpr_time_sub(d, gpr_now(GPR_CLOCK_MONOTONIC));
    int64_t ns = left.tv_sec > 1000000000 ? INT64_MAX / 4 : left.tv_sec * 1000000000 + left.tv_nsec;
    if (ns < 0) ns = 0;
    rq->has_deadline = true;
    rq->budget_ms = (uint64_t)(ns / 1000000);
    int64_t sec = rq->t0.tv_sec + ns / 1000000000, nsec = rq->t0.tv_nsec + ns % 1000000000;
    if (nsec >= 1000000000) sec++, nsec -= 1000000000;
    rq->deadline.tv_sec = (time_t)sec;
    rq->deadline.tv_nsec = (long)nsec;
}

void *qv_grpc_alloc(qv_grpc_req *rq, size_t n) {
    void *p = qv_arena_calloc(&rq->arena, n ? n : 1);
    if (!p) {
        QV_LOG_ERROR("out of memory building a gRPC reply");
        abort();
    }
    return p;
}

char *qv_grpc_strdup(qv_grpc_req *rq, const char *s, size_t len) {
    char *p = qv_arena_strndup(&rq->arena, s, len);
    if (!p) {
        QV_LOG_ERROR("out of memory building a gRPC reply");
        abort();
    }
    return p;
}

/* protobuf-c allocator over the request arena: the unpacked request is
 * freed with the arena, so early returns need no cleanup. */
static void *qv_grpc_pb_alloc(void *data, size_t size) {
    return qv_arena_alloc(data, size ? size : 1);
}

static void qv_grpc_pb_free(void *data, void *ptr) {
    (void)data, (void)ptr;
}

/* ======================================================================
 * Calls
 * ====================================================================== */

enum { QV_GRPC_REQUESTED = 0, QV_GRPC_REPLYING = 1 };

typedef struct qv_grpc_call {
    qv_grpc_server *srv;
    size_t mi; /* index into srv->methods */
    int stage;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *resp;
    grpc_slice details;
    bool has_details;
    grpc_metadata trailer; /* `retry-after` of a rate-limited call */
    bool has_trailer;
    int cancelled;
} qv_grpc_call;

static void qv_grpc_call_free(qv_grpc_call *c) {
    qv_grpc_server *s = c->srv;
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->resp) grpc_byte_buffer_destroy(c->resp);
    if (c->has_details) grpc_slice_unref(c->details);
    if (c->has_trailer) {
        grpc_slice_unref(c->trailer.key);
        grpc_slice_unref(c->trailer.value);
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->call) grpc_call_unref(c->call);
    free(c);
    pthread_mutex_lock(&s->mu);
    if (--s->live == 0) pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Asks gRPC core for the next call of method mi.  False when the server is
 * shutting down (or out of memory). */
static bool qv_grpc_request(qv_grpc_server *s, size_t mi) {
    qv_grpc_call *c = calloc(1, sizeof *c);
    if (!c) return false;
    c->srv = s;
    c->mi = mi;
    pthread_mutex_lock(&s->mu);
    s->live++;
    pthread_mutex_unlock(&s->mu);
    grpc_metadata_array_init(&c->md);
    QV_GRPC_HANDOFF(c);
    grpc_call_error e =
        grpc_server_request_registered_call(s->server, s->methods[mi].handle, &c->call,
                                            &c->deadline, &c->md, &c->payload, s->cq, s->cq, c);
    if (e != GRPC_CALL_OK) {
        qv_grpc_call_free(c);
        return false;
    }
    return true;
}

/* The request message as one flat buffer (gRPC core has already
 * decompressed it; the reader would inflate it otherwise).  *len 0 for a
 * call without a message. */
static uint8_t *qv_grpc_flatten(qv_grpc_req *rq, grpc_byte_buffer *bb, size_t *len) {
    *len = 0;
    if (!bb) return NULL;
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb)) return NULL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    size_t n = GRPC_SLICE_LENGTH(all);
    uint8_t *buf = qv_arena_alloc(&rq->arena, n ? n : 1);
    if (buf) {
        memcpy(buf, GRPC_SLICE_START_PTR(all), n);
        *len = n;
    }
    grpc_slice_unref(all);
    return buf;
}

/* ---- checks before unpacking -----------------------------------------------
 * protobuf-c unpacks sub-messages recursively without a depth limit, so a
 * small request nesting Value/ListValue a million times deep would overflow
 * the thread's stack.  This walk follows the wire format with the message
 * descriptors and refuses more than QV_GRPC_MAX_NESTING levels (prost's
 * limit, so Qdrant refuses the same requests) and string fields that are
 * not UTF-8; protobuf-c still validates everything else. */
#define QV_GRPC_MAX_NESTING 100

static bool qv_grpc_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF): protobuf-c does not check string fields, prost (Qdrant) does,
 * and the JSON side of Quiver relies on valid UTF-8. */
static bool qv_grpc_utf8_ok(const uint8_t *p, const uint8_t *end) {
    while (p < end) {
        uint8_t b = *p;
        if (b < 0x80) {
            p++;
            continue;
        }
        int n = (b & 0xe0) == 0xc0 ? 1 : (b & 0xf0) == 0xe0 ? 2 : (b & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || end - p <= n) return false;
        uint32_t cp = b & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        p += n + 1;
    }
    return true;
}

/* Why a request failed the walk below (for the INVALID_ARGUMENT message). */
static const char qv_grpc_why_malformed[] = "malformed protobuf";
static const char qv_grpc_why_deep[] = "nested deeper than 100 levels";
static const char qv_grpc_why_utf8[] = "a string field is not valid UTF-8";
/* Strings that carry user data (payload values and keys, match values) are
 * generated with their length (PROTOBUF_C_TYPE_BYTES, option string_as_bytes
 * in proto/), so a NUL inside them travels.  The other string fields are
 * names and identifiers that protobuf-c hands over NUL-terminated: a NUL
 * there would silently cut the name short (`a\0b` acting on collection
 * `a`), so such a request is refused.  Qdrant's contract has no real bytes
 * field (scripts/proto_check.py checks it), so every BYTES field is a
 * string and gets the UTF-8 check. */
static const char qv_grpc_why_nul[] =
    "a name or identifier field contains a NUL character (allowed only in payload keys, "
    "payload strings and match values)";

/* False (with *why) when buf is not well-formed wire data, nests too
 * deeply, holds a string field that is not UTF-8, or a NUL in a string
 * field generated NUL-terminated. */
static bool qv_grpc_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                             const uint8_t *end, int depth, const char **why) {
    *why = qv_grpc_why_malformed;
    if (depth > QV_GRPC_MAX_NESTING) {
        *why = qv_grpc_why_deep;
        return false;
    }
    while (p < end) {
        uint64_t key, n;
        if (!qv_grpc_varint(&p, end, &key)) return false;
        switch (key & 7) {
        case 0:
            if (!qv_grpc_varint(&p, end, &n)) return false;
            break;
        case 1:
            if (end - p < 8) return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return false;
            p += 4;
            break;
        case 2: {
            if (!qv_grpc_varint(&p, end, &n) || n > (uint64_t)(end - p)) return false;
            const ProtobufCFieldDescriptor *f =
                d ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !qv_grpc_depth_ok(f->descriptor, p, p + n, depth + 1, why))
                return false;
            if (f && (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)) {
                if (!qv_grpc_utf8_ok(p, p + n)) {
                    *why = qv_grpc_why_utf8;
                    return false;
                }
                if (f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)n)) {
                    *why = qv_grpc_why_nul;
                    return false;
                }
            }
            p += n;
            break;
        }
        default:
            return false; /* groups: not in proto3 */
        }
    }
    return true;
}

/* ---- API keys -------------------------------------------------------------- */

/* Methods that need no key (Qdrant exempts its health checks). */
static const char *const qv_grpc_open_methods[] = {
    "/qdrant.Qdrant/HealthCheck",
    "/grpc.health.v1.Health/Check",
};

/* Methods the read-only key may call: the ones that change nothing. */
static const char *const qv_grpc_read_methods[] = {
    "/qdrant.Collections/Get",
    "/qdrant.Collections/List",
    "/qdrant.Collections/CollectionExists",
    "/qdrant.Collections/ListAliases",
    "/qdrant.Collections/ListCollectionAliases",
    "/qdrant.Collections/CollectionClusterInfo",
    "/qdrant.Collections/ListShardKeys",
    "/qdrant.Points/Get",
    "/qdrant.Points/Scroll",
    "/qdrant.Points/Count",
    "/qdrant.Points/Search",
    "/qdrant.Points/SearchBatch",
    "/qdrant.Points/SearchGroups",
    "/qdrant.Points/Recommend",
    "/qdrant.Points/RecommendBatch",
    "/qdrant.Points/RecommendGroups",
    "/qdrant.Points/Discover",
    "/qdrant.Points/DiscoverBatch",
    "/qdrant.Points/Query",
    "/qdrant.Points/QueryBatch",
    "/qdrant.Points/QueryGroups",
    "/qdrant.Points/Facet",
    "/qdrant.Points/SearchMatrixPairs",
    "/qdrant.Points/SearchMatrixOffsets",
    "/qdrant.Snapshots/List",
    "/qdrant.Snapshots/ListFull",
};

static bool qv_grpc_in(const char *path, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(path, list[i]) == 0) return true;
    return false;
}

/* The value of metadata key (lowercase, as HTTP/2 carries it), or NULL. */
static const grpc_slice *qv_grpc_md_get(const grpc_metadata_array *md, const char *key) {
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) return &md->metadata[i].value;
    return NULL;
}

/* QV_OK when the call may run (see the top of this file). */
static qv_rc qv_grpc_authorize(const qv_grpc_call *c, qv_err *err) {
    const qv_auth *auth = c->srv->auth;
    const char *path = c->srv->methods[c->mi].path;
    if (!auth || qv_grpc_in(path, qv_grpc_open_methods,
                            sizeof qv_grpc_open_methods / sizeof *qv_grpc_open_methods))
        return QV_OK;
    bool write = !qv_grpc_in(path, qv_grpc_read_methods,
                             sizeof qv_grpc_read_methods / sizeof *qv_grpc_read_methods);
    const grpc_slice *key = qv_grpc_md_get(&c->md, "api-key");
    const grpc_slice *bearer = qv_grpc_md_get(&c->md, "authorization");
    return qv_auth_check(auth, key ? (const char *)GRPC_SLICE_START_PTR(*key) : NULL,
                         key ? GRPC_SLICE_LENGTH(*key) : 0,
                         bearer ? (const char *)GRPC_SLICE_START_PTR(*bearer) : NULL,
                         bearer ? GRPC_SLICE_LENGTH(*bearer) : 0, write, err);
}

/* Unpacks, runs the handler, and packs the reply into c->resp. */
static qv_rc qv_grpc_dispatch(qv_grpc_call *c, qv_grpc_req *rq, qv_err *err) {
    const qv_grpc_method *m = &c->srv->methods[c->mi];
    qv_rc arc = qv_grpc_authorize(c, err);
    if (arc) return arc;
    if (!m->fn)
        return qv_fail(err, QV_EUNIMPLEMENTED, "%s is not supported by Quiver yet", m->path + 1);
    size_t len = 0;
    uint8_t *buf = qv_grpc_flatten(rq, c->payload, &len);
    if (c->payload && !buf) return qv_fail(err, QV_ENOMEM, "out of memory reading the request");
    /* A call that waited past its deadline (all threads busy) does nothing. */
    if (qv_grpc_expired(rq)) return qv_grpc_timeout(rq, "before the operation started", err);
    ProtobufCMessage *in = NULL;
    const char *why = qv_grpc_why_malformed;
    if (len == 0 || qv_grpc_depth_ok(m->desc->input, buf, buf + len, 0, &why))
        in = protobuf_c_message_unpack(m->desc->input, &rq->alloc, len, buf);
    if (!in)
        return qv_fail(err, QV_EFORMAT, "Unable to decode the %s message: %s", m->desc->input->name,
                       why);
    qv_rc rc = m->fn(rq, in, err);
    if (rc) return rc;
    if (!rq->reply) return qv_fail(err, QV_EINTERNAL, "handler produced no reply");
    /* A read that finished too late: the client has stopped waiting, and
     * an answer would say the opposite of what it was told.  (A call that
     * began writing always reports what it did.) */
    if (!rq->committed && qv_grpc_expired(rq))
        return qv_grpc_timeout(rq, "while the operation ran", err);
    size_t n = protobuf_c_message_get_packed_size(rq->reply);
    uint8_t *out = malloc(n ? n : 1);
    if (!out) return qv_fail(err, QV_ENOMEM, "out of memory packing the reply");
    protobuf_c_message_pack(rq->reply, out);
    grpc_slice sl = grpc_slice_new(out, n, free);
    c->resp = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    return QV_OK;
}

/* ---- decode-only entry point (fuzzing and tests) ---------------------------
 * The path a request takes in qv_grpc_dispatch up to the handler, with no
 * server and no catalog: the method's input descriptor is found in
 * qv_grpc_services, the bytes pass the same pre-check and unpack, and the
 * handler runs with rq.cat == NULL.  Every handler converts the request
 * into engine structs first; the only catalog accesses after that
 * (qv_grpc_collection, Collections/Create's qv_catalog_create) treat a NULL
 * catalog as "no such collection" / "no catalog", so the call ends there
 * with an error and nothing is written.  Only the Points methods and
 * Collections/Create and /Update are accepted (the other handlers use the
 * catalog directly); a reply a handler may still build is discarded.
 * The server never calls this. */
qv_rc qv_grpc_decode_for_test(const char *method, const uint8_t *data, size_t len, qv_err *err) {
    const char *path = method && method[0] == '/' ? method + 1 : method ? method : "";
    const ProtobufCMethodDescriptor *md = NULL;
    for (size_t i = 0; !md && i < sizeof qv_grpc_services / sizeof qv_grpc_services[0]; i++) {
        const ProtobufCServiceDescriptor *d = qv_grpc_services[i];
        size_t nl = strlen(d->name);
        if (strncmp(path, d->name, nl) != 0 || path[nl] != '/') continue;
        for (unsigned k = 0; k < d->n_methods; k++)
            if (strcmp(path + nl + 1, d->methods[k].name) == 0) md = &d->methods[k];
    }
    char full[160];
    snprintf(full, sizeof full, "/%s", path);
    /* Only handlers whose catalog accesses all tolerate NULL (see above). */
    bool catalog_free = strncmp(full, "/qdrant.Points/", 15) == 0 ||
                        strcmp(full, "/qdrant.Collections/Create") == 0 ||
                        strcmp(full, "/qdrant.Collections/Update") == 0;
    qv_grpc_handler fn = md && catalog_free ? qv_grpc_route_of(full) : NULL;
    if (!fn) return qv_fail(err, QV_EUNIMPLEMENTED, "%.100s is not supported by Quiver yet", path);
    qv_grpc_req rq;
    memset(&rq, 0, sizeof rq);
    clock_gettime(CLOCK_MONOTONIC, &rq.t0);
    rq.cat = NULL;
    qv_arena_init(&rq.arena);
    rq.alloc.alloc = qv_grpc_pb_alloc;
    rq.alloc.free = qv_grpc_pb_free;
    rq.alloc.allocator_data = &rq.arena;
    ProtobufCMessage *in = NULL;
    const char *why = qv_grpc_why_malformed;
    if (len == 0 || qv_grpc_depth_ok(md->input, data, data + len, 0, &why))
        in = protobuf_c_message_unpack(md->input, &rq.alloc, len, data);
    qv_rc rc =
        in ? fn(&rq, in, err)
           : qv_fail(err, QV_EFORMAT, "Unable to decode the %s message: %s", md->input->name, why);
    qv_arena_free(&rq.arena);
    return rc;
}

/* The status details: Qdrant's message prefix (as REST) plus the message. */
static void qv_grpc_set_details(qv_grpc_call *c, const qv_err *err) {
    char text[QV_ERR_MSG_MAX + 64];
    snprintf(text, sizeof text, "%s%s%s", qv_rest_err_prefix(err->kind), err->msg,
             err->kind == QV_EVALIDATION ? "]" : "");
    c->details = grpc_slice_from_copied_string(text);
    c->has_details = true;
    /* Rate limited: the seconds to wait go out as `retry-after` trailing
     * metadata (an integer string), which is where Qdrant puts them and
     * where qdrant-client (Python: ResourceExhaustedResponse.retry_after_s)
     * and the Rust client's tonic Status read them. */
    if (err->kind == QV_ERATELIMITED && err->retry_after > 0) {
        char secs[24];
        snprintf(secs, sizeof secs, "%u", err->retry_after);
        c->trailer.key = grpc_slice_from_static_string("retry-after");
        c->trailer.value = grpc_slice_from_copied_string(secs);
        c->has_trailer = true;
    }
}

/* A call arrived: handle it and start the reply batch. */
static void qv_grpc_handle(qv_grpc_call *c) {
    qv_grpc_req rq;
    memset(&rq, 0, sizeof rq);
    clock_gettime(CLOCK_MONOTONIC, &rq.t0);
    qv_grpc_set_deadline(&rq, c->deadline);
    rq.cat = c->srv->cat;
    qv_arena_init(&rq.arena);
    rq.alloc.alloc = qv_grpc_pb_alloc;
    rq.alloc.free = qv_grpc_pb_free;
    rq.alloc.allocator_data = &rq.arena;
    qv_err err;
    qv_err_clear(&err);
    qv_rc rc = qv_grpc_dispatch(c, &rq, &err);
    qv_arena_free(&rq.arena);
    if (rc) qv_grpc_set_details(c, &err);
    if (rc == QV_ETIMEOUT) QV_LOG_DEBUG("%s: %s", c->srv->methods[c->mi].path, err.msg);

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (!rc) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = rc ? qv_grpc_status_of(rc) : GRPC_STATUS_OK;
    ops[n].data.send_status_from_server.status_details = rc ? &c->details : NULL;
    if (c->has_trailer) {
        ops[n].data.send_status_from_server.trailing_metadata_count = 1;
        ops[n].data.send_status_from_server.trailing_metadata = &c->trailer;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->stage = QV_GRPC_REPLYING;
    grpc_call *call = c->call; /* c may be freed by another thread once handed off */
    const char *path = c->srv->methods[c->mi].path;
    QV_GRPC_HANDOFF(c);
    if (grpc_call_start_batch(call, ops, n, c, NULL) != GRPC_CALL_OK) {
        QV_LOG_WARN("cannot start the reply batch of %s", path);
        qv_grpc_call_free(c);
    }
}

/* One completion-queue event for call c. */
static void qv_grpc_step(qv_grpc_call *c, bool ok) {
    if (c->stage == QV_GRPC_REQUESTED) {
        if (!ok) { /* the server is shutting down */
            qv_grpc_call_free(c);
            return;
        }
        qv_grpc_server *s = c->srv;
        pthread_mutex_lock(&s->mu);
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (!stopping) qv_grpc_request(s, c->mi);
        qv_grpc_handle(c);
        return;
    }
    qv_grpc_call_free(c); /* REPLYING: sent (or the client went away) */
}

static void *qv_grpc_thread(void *arg) {
    qv_grpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        QV_GRPC_RECEIVED(ev.tag);
        if (ev.tag == &s->shutdown_tag) {
            pthread_mutex_lock(&s->mu);
            s->shut_down = true;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        qv_grpc_step(ev.tag, ev.success != 0);
    }
    return NULL;
}

/* ======================================================================
 * Start / stop
 * ====================================================================== */

static qv_grpc_handler qv_grpc_route_of(const char *path) {
    for (size_t i = 0; i < sizeof qv_grpc_routes / sizeof qv_grpc_routes[0]; i++)
        if (strcmp(qv_grpc_routes[i].path, path) == 0) return qv_grpc_routes[i].fn;
    return NULL;
}

/* Registers every method of every service (before grpc_server_start). */
static qv_rc qv_grpc_register_all(qv_grpc_server *s, qv_err *err) {
    size_t total = 0;
    size_t nsvc = sizeof qv_grpc_services / sizeof qv_grpc_services[0];
    for (size_t i = 0; i < nsvc; i++) total += qv_grpc_services[i]->n_methods;
    s->methods = calloc(total, sizeof *s->methods);
    if (!s->methods) return qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; i < nsvc; i++) {
        const ProtobufCServiceDescriptor *d = qv_grpc_services[i];
        for (unsigned k = 0; k < d->n_methods; k++) {
            qv_grpc_method *m = &s->methods[s->nmethods];
            snprintf(m->path, sizeof m->path, "/%s/%s", d->name, d->methods[k].name);
            m->desc = &d->methods[k];
            m->fn = qv_grpc_route_of(m->path);
            m->handle = grpc_server_register_method(s->server, m->path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
            if (!m->handle) return qv_fail(err, QV_EINTERNAL, "cannot register %s", m->path);
            s->nmethods++;
        }
    }
    return QV_OK;
}

/* Channel arguments: no message size limits, keepalive pings from clients
 * (the Go client pings every 10 s) accepted without strikes, and per-message
 * decompression (the JS client gzips requests). */
static grpc_server *qv_grpc_create_server(void) {
    grpc_arg args[6];
    memset(args, 0, sizeof args);
    const struct {
        const char *key;
        int value;
    } ints[] = {
        {GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1},
        {GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1},
        {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000},
        {GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0},
        {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
        {GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 1},
    };
    for (size_t i = 0; i < 6; i++) {
        args[i].type = GRPC_ARG_INTEGER;
        args[i].key = (char *)ints[i].key;
        args[i].value.integer = ints[i].value;
    }
    grpc_channel_args ca = {6, args};
    return grpc_server_create(&ca, NULL);
}

/* "0.0.0.0" / "::" / "" listen everywhere ("[::]" is dual-stack in gRPC);
 * an IPv6 literal gets brackets. */
static void qv_grpc_addr(const qv_grpc_opts *o, char *buf, size_t cap) {
    const char *h = o->host ? o->host : "";
    if (!*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0)
        snprintf(buf, cap, "[::]:%u", (unsigned)o->port);
    else if (strchr(h, ':') && h[0] != '[')
        snprintf(buf, cap, "[%s]:%u", h, (unsigned)o->port);
    else
        snprintf(buf, cap, "%s:%u", h, (unsigned)o->port);
}

static void qv_grpc_destroy(qv_grpc_server *s) {
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        for (size_t i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
        if (s->nthreads == 0) /* never started: drain here */
            while (grpc_completion_queue_next(s->cq, gpr_inf_past(GPR_CLOCK_REALTIME), NULL).type !=
                   GRPC_QUEUE_SHUTDOWN) {
            }
    }
    if (s->server) grpc_server_destroy(s->server);
    if (s->cq) grpc_completion_queue_destroy(s->cq);
    free(s->methods);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    grpc_shutdown_blocking();
}

qv_rc qv_grpc_start(const qv_grpc_opts *o, qv_catalog *cat, qv_grpc_server **out, qv_err *err) {
    *out = NULL;
    qv_grpc_server *s = calloc(1, sizeof *s);
    if (!s) return qv_fail(err, QV_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->cat = cat;
    s->auth = o->auth;
    grpc_init();
    s->server = qv_grpc_create_server();
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    qv_rc rc = qv_grpc_register_all(s, err);
    char addr[300];
    qv_grpc_addr(o, addr, sizeof addr);
    if (!rc) {
        grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
        int port = grpc_server_add_http2_port(s->server, addr, cr);
        grpc_server_credentials_release(cr);
        if (port == 0) rc = qv_fail(err, QV_EIO, "cannot bind %s", addr);
    }
    if (rc) {
        grpc_server_destroy(s->server);
        s->server = NULL;
        qv_grpc_destroy(s);
        return rc;
    }
    grpc_server_start(s->server);
    for (size_t i = 0; i < s->nmethods; i++) qv_grpc_request(s, i);
    for (size_t i = 0; i < QV_GRPC_THREADS; i++) {
        if (pthread_create(&s->threads[i], NULL, qv_grpc_thread, s) != 0) break;
        s->nthreads++;
    }
    if (s->nthreads == 0) {
        qv_grpc_stop(s);
        return qv_fail(err, QV_EINTERNAL, "cannot start gRPC threads");
    }
    QV_LOG_INFO("gRPC listening on %s (%zu methods)", addr, s->nmethods);
    *out = s;
    return QV_OK;
}

void qv_grpc_stop(qv_grpc_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    QV_GRPC_HANDOFF(&s->shutdown_tag);
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->server);
    if (s->nthreads > 0) {
        /* The queue may only shut down once no call can start a batch on
         * it any more (gRPC asserts otherwise): wait for the notification
         * and for every call to be freed, while the threads drain. */
        pthread_mutex_lock(&s->mu);
        while (!s->shut_down || s->live > 0) pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
    } else { /* no threads: wait for the notification ourselves */
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type != GRPC_OP_COMPLETE || ev.tag == &s->shutdown_tag) break;
            qv_grpc_step(ev.tag, ev.success != 0);
        }
    }
    qv_grpc_destroy(s);
}
