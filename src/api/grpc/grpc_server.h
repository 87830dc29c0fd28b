/*
 * grpc_server.h - Quiver's gRPC API (Qdrant's qdrant.Qdrant, qdrant.Collections,
 * qdrant.Points, qdrant.Snapshots and grpc.health.v1.Health services).
 *
 * What: a gRPC C core server on host:port (insecure h2c, as Qdrant serves
 * 6334) that decodes requests with protobuf-c, translates them into the same
 * engine structs the REST layer uses and calls the same collection-layer
 * functions.  See grpc_server.c for the threading model.
 *
 * API keys (api/auth.h): `api-key` metadata or `authorization: Bearer`,
 * checked before a request message is unpacked; health checks need none.
 *
 * What it does not do yet: TLS, JWT, and the RPCs listed as not
 * implemented in docs/compatibility.md (they answer UNIMPLEMENTED).
 */
#ifndef QV_API_GRPC_SERVER_H
#define QV_API_GRPC_SERVER_H

#include <stdint.h>

#include "api/auth.h"
#include "collection/catalog.h"
#include "core/err.h"

typedef struct qv_grpc_opts {
    const char *host;    /* "0.0.0.0" or "::" = every address, IPv4 and IPv6 */
    uint16_t port;       /* 6334 */
    const qv_auth *auth; /* API keys (NULL = none); must outlive the server */
} qv_grpc_opts;

typedef struct qv_grpc_server qv_grpc_server;

/* Binds host:port and starts serving against cat (which must outlive the
 * server).  QV_EIO when the address cannot be bound. */
qv_rc qv_grpc_start(const qv_grpc_opts *o, qv_catalog *cat, qv_grpc_server **out, qv_err *err);

/* Stops accepting, cancels running calls, drains the queue, frees. */
void qv_grpc_stop(qv_grpc_server *s);

#endif
