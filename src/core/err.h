/*
 * err.h - the one error vocabulary of Quiver.
 *
 * Every function that can fail below the API layer returns a qv_rc: QV_OK (0)
 * or an error kind, and writes a human-readable message into a caller-owned
 * qv_err.  The kinds are chosen so that the REST layer can map each one to
 * Qdrant's HTTP status and message prefix, and the gRPC layer to Qdrant's
 * gRPC status code, without looking at the text:
 *
 *   kind              HTTP  prefix                           gRPC
 *   QV_EBADINPUT      400   "Wrong input: "                  INVALID_ARGUMENT
 *   QV_EFORMAT        400   "Format error in JSON body: "    INVALID_ARGUMENT
 *   QV_EBADREQUEST    400   "Bad request: "                  INVALID_ARGUMENT
 *   QV_EVALIDATION    422   "Validation error in JSON body: [" ... "]"
 *   QV_ENOTFOUND      404   "Not found: "                    NOT_FOUND
 *   QV_EEXISTS        409   "Wrong input: "                  ALREADY_EXISTS
 *   QV_ETIMEOUT       408   "Timeout: "                      DEADLINE_EXCEEDED
 *   QV_ENOTALLOWED    405   "Bad request: "                  UNIMPLEMENTED
 *   QV_EUNIMPLEMENTED 501   "Not implemented: "              UNIMPLEMENTED
 *   QV_ETOOLARGE      413   "Payload too large: "            RESOURCE_EXHAUSTED
 *   QV_EUNAVAILABLE   503   "Service unavailable: "          UNAVAILABLE
 *   QV_EINTERNAL      500   "Service internal error: "       INTERNAL
 *   QV_EIO            500   "Service internal error: "       INTERNAL
 *   QV_ECORRUPT       500   "Service internal error: "       DATA_LOSS
 *   QV_ENOMEM         500   "Service internal error: "       RESOURCE_EXHAUSTED
 *   QV_EUNAUTHENTICATED 401 (no prefix; REST: plain text)  UNAUTHENTICATED
 *   QV_EFORBIDDEN     403   "Forbidden: "                    PERMISSION_DENIED
 *   QV_ERATELIMITED   429   "Rate limiting exceeded: "       RESOURCE_EXHAUSTED
 *
 * QV_ERATELIMITED carries qv_err.retry_after: the whole seconds after which
 * the same request can succeed (>= 1), or 0 when waiting cannot help (the
 * request costs more than the limit allows at all).  REST sends it as the
 * `Retry-After` header, gRPC as `retry-after` trailing metadata; both are
 * left out when it is 0, as Qdrant does.  Set it with qv_fail_retry.
 *
 * The message stored in qv_err carries no prefix; the API layer adds it.
 * A function that fails must leave the state it was given unchanged unless
 * its header says otherwise.
 */
#ifndef QV_CORE_ERR_H
#define QV_CORE_ERR_H

#include <stddef.h>

typedef enum qv_rc {
    QV_OK = 0,
    QV_EBADINPUT,
    QV_EFORMAT,
    QV_EBADREQUEST,
    QV_EVALIDATION,
    QV_ENOTFOUND,
    QV_EEXISTS,
    QV_ETIMEOUT,
    QV_ENOTALLOWED,
    QV_EUNIMPLEMENTED,
    QV_ETOOLARGE,
    QV_EUNAVAILABLE,
    QV_EINTERNAL,
    QV_EIO,
    QV_ECORRUPT,
    QV_ENOMEM,
    QV_EUNAUTHENTICATED, /* no or unknown API key (api/auth.h) */
    QV_EFORBIDDEN,       /* the key does not allow this operation */
    QV_ERATELIMITED,     /* strict mode's read/write rate limit (retry_after) */
} qv_rc;

/* Room for the message; longer messages are truncated (never overflowed). */
#define QV_ERR_MSG_MAX 512

typedef struct qv_err {
    qv_rc kind;
    char msg[QV_ERR_MSG_MAX];
    unsigned retry_after; /* QV_ERATELIMITED only: seconds, 0 = none */
} qv_err;

/* Records kind and a printf-style message into *err (err may be NULL) and
 * returns kind, so that callers can write `return qv_fail(err, ...)`. */
qv_rc qv_fail(qv_err *err, qv_rc kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As qv_fail with kind QV_ERATELIMITED and err->retry_after = secs. */
qv_rc qv_fail_retry(qv_err *err, unsigned secs, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears *err to QV_OK with an empty message. */
void qv_err_clear(qv_err *err);

/* Name of a kind for logs ("bad input", "not found", ...). */
const char *qv_rc_name(qv_rc rc);

#endif
