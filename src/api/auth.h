/*
 * auth.h - API-key authentication shared by the REST and gRPC servers
 * (Qdrant's service.api_key and service.read_only_api_key).
 *
 * What: when at least one key is configured, every request outside a small
 * whitelist (decided by each server: REST `/`, `/healthz`, `/livez`,
 * `/readyz`; gRPC health checks) must carry a key, in the `api-key` header
 * (gRPC metadata) or as `authorization: Bearer <key>`.  The api-key header
 * wins when both are present, as in Qdrant.  The read-write key allows
 * everything, the read-only key only what the server classifies as a read.
 *
 * Outcomes (Qdrant's texts):
 *   no key            QV_EUNAUTHENTICATED "Must provide an API key or an
 *                     Authorization bearer token"            401 / UNAUTHENTICATED
 *   unknown key       QV_EUNAUTHENTICATED "Invalid API key or JWT"
 *   read-only key on  QV_EFORBIDDEN "Global manage access is required"
 *   a write                                                  403 / PERMISSION_DENIED
 *
 * Keys are compared in time that depends only on the configured key's
 * length, never on where the first difference is.  An empty configured key
 * counts as unset (as in Qdrant).  JWTs (service.jwt_rbac) are not
 * supported: a token that is not one of the keys is refused.
 *
 * Thread safety: a qv_auth is immutable after qv_auth_new; both servers
 * share one from their many threads.
 */
#ifndef QV_API_AUTH_H
#define QV_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef struct qv_auth qv_auth;

/* Copies the keys (NULL or "" = unset).  Returns NULL when neither key is
 * set (authentication off) or on out-of-memory (*oom set then). */
qv_auth *qv_auth_new(const char *api_key, const char *read_only_api_key, bool *oom);
void qv_auth_free(qv_auth *a);

/* Decides one request.  api_key / authorization are the header values
 * (NULL = header absent; not NUL-terminated, len bytes).  write: the
 * request changes something.  QV_OK, or QV_EUNAUTHENTICATED / QV_EFORBIDDEN
 * with Qdrant's message in *err.  A NULL a (authentication off) allows all. */
qv_rc qv_auth_check(const qv_auth *a, const char *api_key, size_t api_key_len,
                    const char *authorization, size_t authorization_len, bool write, qv_err *err);

#endif
