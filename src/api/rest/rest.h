/*
 * rest.h - the REST API server (Qdrant's HTTP/1.1 + JSON API on port 6333).
 *
 * qv_rest_start binds the address, starts libmicrohttpd with one thread per
 * connection and serves until qv_rest_stop.  Requests are decoded into the
 * collection layer's operations (decode.c), dispatched by path (router.c)
 * and answered in Qdrant's JSON shapes (encode.c).  See rest.c for the
 * connection life cycle, body limits and path normalisation.
 */
#ifndef QV_API_REST_REST_H
#define QV_API_REST_REST_H

#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"
#include "collection/catalog.h"
#include "core/err.h"

typedef struct qv_rest_opts {
    const char *host;         /* "0.0.0.0" or "::" = every address, IPv4 and IPv6 */
    uint16_t port;            /* 6333 */
    size_t max_request_bytes; /* body limit (inflated size too); 0 = 32 MiB */
    const qv_auth *auth;      /* API keys (NULL = none); must outlive the server */
} qv_rest_opts;

typedef struct qv_rest_server qv_rest_server;

/* Binds host:port and starts serving requests against cat (which must
 * outlive the server).  QV_EIO with the reason when the address cannot be
 * bound. */
qv_rc qv_rest_start(const qv_rest_opts *o, qv_catalog *cat, qv_rest_server **out, qv_err *err);

/* Stops accepting, waits for running requests to finish, frees the server. */
void qv_rest_stop(qv_rest_server *s);

#endif
