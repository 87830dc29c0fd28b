/*
 * auth.c - API-key checks (see auth.h for the rules and the messages).
 *
 * The comparison must not leak through timing how much of a guess was
 * right, so qv_auth_ct_eq walks the whole configured key whatever the
 * candidate holds, folding every difference (and the length difference)
 * into one accumulator that is tested once at the end.  Both keys are
 * always compared, so the time does not tell which one matched either.
 */
#include "api/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct qv_auth {
    char *rw, *ro; /* NULL = unset */
    size_t rw_len, ro_len;
};

static const char qv_auth_missing[] = "Must provide an API key or an Authorization bearer token";
static const char qv_auth_invalid[] = "Invalid API key or JWT";
static const char qv_auth_read_only[] = "Global manage access is required";

static char *qv_auth_dup(const char *k, size_t *len, bool *oom) {
    *len = 0;
    if (!k || !*k) return NULL;
    *len = strlen(k);
    char *p = malloc(*len + 1);
    if (!p)
        *oom = true;
    else
        memcpy(p, k, *len + 1);
    return p;
}

qv_auth *qv_auth_new(const char *api_key, const char *read_only_api_key, bool *oom) {
    *oom = false;
    if ((!api_key || !*api_key) && (!read_only_api_key || !*read_only_api_key)) return NULL;
    qv_auth *a = calloc(1, sizeof *a);
    if (!a) {
        *oom = true;
        return NULL;
    }
    a->rw = qv_auth_dup(api_key, &a->rw_len, oom);
    a->ro = qv_auth_dup(read_only_api_key, &a->ro_len, oom);
    if (*oom) {
        qv_auth_free(a);
        return NULL;
    }
    return a;
}

void qv_auth_free(qv_auth *a) {
    if (!a) return;
    free(a->rw);
    free(a->ro);
    free(a);
}

/* key (the configured one, klen bytes) == s (slen bytes), in time that
 * depends on klen only.  An unset key equals nothing. */
static bool qv_auth_ct_eq(const char *key, size_t klen, const char *s, size_t slen) {
    if (!key) return false;
    volatile uint8_t diff = (uint8_t)(klen != slen);
    for (size_t i = 0; i < klen; i++) {
        uint8_t c = i < slen ? (uint8_t)s[i] : (uint8_t) ~(uint8_t)key[i];
        diff |= (uint8_t)((uint8_t)key[i] ^ c);
    }
    return diff == 0;
}

qv_rc qv_auth_check(const qv_auth *a, const char *api_key, size_t api_key_len,
                    const char *authorization, size_t authorization_len, bool write, qv_err *err) {
    if (!a) return QV_OK;
    static const char bearer[] = "Bearer ";
    const size_t blen = sizeof bearer - 1;
    const char *key = api_key;
    size_t len = api_key_len;
    if (!key && authorization && authorization_len >= blen &&
        memcmp(authorization, bearer, blen) == 0)
        key = authorization + blen, len = authorization_len - blen;
    if (!key) return qv_fail(err, QV_EUNAUTHENTICATED, "%s", qv_auth_missing);
    bool rw = qv_auth_ct_eq(a->rw, a->rw_len, key, len);
    bool ro = qv_auth_ct_eq(a->ro, a->ro_len, key, len);
    if (rw) return QV_OK;
    if (!ro) return qv_fail(err, QV_EUNAUTHENTICATED, "%s", qv_auth_invalid);
    if (write) return qv_fail(err, QV_EFORBIDDEN, "%s", qv_auth_read_only);
    return QV_OK;
}
