/*
 * ratelimit.c - the per-minute token bucket (see ratelimit.h).
 */
#include "core/ratelimit.h"

void qv_ratelimit_init(qv_ratelimit *r, uint64_t per_minute, double now) {
    if (per_minute == 0) per_minute = 1; /* the config validator refuses 0 */
    r->capacity = (double)per_minute;
    r->per_sec = r->capacity / 60.0;
    r->tokens = r->capacity; /* start full: a burst at the start is allowed */
    r->last = now;
}

qv_ratelimit_rc qv_ratelimit_take(qv_ratelimit *r, double cost, double now, double *available,
                                  double *wait_sec) {
    if (now > r->last) {
        r->tokens += (now - r->last) * r->per_sec;
        if (r->tokens > r->capacity) r->tokens = r->capacity;
        r->last = now;
    }
    if (available) *available = r->tokens;
    if (cost > r->capacity) return QV_RATELIMIT_NEVER;
    if (r->tokens >= cost) {
        r->tokens -= cost;
        return QV_RATELIMIT_OK;
    }
    if (wait_sec) *wait_sec = (cost - r->tokens) / r->per_sec;
    return QV_RATELIMIT_WAIT;
}
