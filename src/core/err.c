/*
 * err.c - the error vocabulary (see err.h for the mapping to HTTP/gRPC).
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

qv_rc qv_fail(qv_err *err, qv_rc kind, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->kind = kind;
        err->retry_after = 0;
    }
    return kind;
}

qv_rc qv_fail_retry(qv_err *err, unsigned secs, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->kind = QV_ERATELIMITED;
        err->retry_after = secs;
    }
    return QV_ERATELIMITED;
}

void qv_err_clear(qv_err *err) {
    if (!err) return;
    err->kind = QV_OK;
    err->retry_after = 0;
    err->msg[0] = '\0';
}

const char *qv_rc_name(qv_rc rc) {
    switch (rc) {
    case QV_OK:
        return "ok";
    case QV_EBADINPUT:
        return "bad input";
    case QV_EFORMAT:
        return "format error";
    case QV_EBADREQUEST:
        return "bad request";
    case QV_EVALIDATION:
        return "validation error";
    case QV_ENOTFOUND:
        return "not found";
    case QV_EEXISTS:
        return "already exists";
    case QV_ETIMEOUT:
        return "timeout";
    case QV_ENOTALLOWED:
        return "not allowed";
    case QV_EUNIMPLEMENTED:
        return "not implemented";
    case QV_ETOOLARGE:
        return "too large";
    case QV_EUNAVAILABLE:
        return "unavailable";
    case QV_EINTERNAL:
        return "internal error";
    case QV_EIO:
        return "i/o error";
    case QV_ECORRUPT:
        return "corrupt data";
    case QV_ENOMEM:
        return "out of memory";
    case QV_EUNAUTHENTICATED:
        return "unauthenticated";
    case QV_EFORBIDDEN:
        return "forbidden";
    case QV_ERATELIMITED:
        return "rate limited";
    }
    return "unknown";
}
