/*
 * ratelimit.h - a token bucket counting operations per minute, as strict
 * mode's read_rate_limit / write_rate_limit use it.
 *
 * What: a bucket of `capacity` tokens (the per-minute limit) that starts
 * full, refills continuously at capacity/60 tokens per second and never
 * holds more than capacity, so a client may burst up to the whole minute's
 * budget and then proceeds at the steady rate.  An operation takes `cost`
 * tokens at once (Qdrant charges a read by its queries and filter
 * conditions, a write by the points it touches).
 *
 * How: the caller passes the current time (seconds on any monotonic clock)
 * to every call, so the bucket itself reads no clock and the tests can drive
 * time by hand.  When the tokens do not suffice, nothing is taken and the
 * answer says how long until they will: (cost - tokens) / rate.
 *
 * What it does not do: locking.  A bucket shared by threads must be guarded
 * by its owner (the collection keeps its two buckets under one mutex).
 */
#ifndef QV_CORE_RATELIMIT_H
#define QV_CORE_RATELIMIT_H

#include <stdint.h>

typedef struct qv_ratelimit {
    double capacity; /* tokens per minute = the most the bucket holds */
    double per_sec;  /* refill rate */
    double tokens;   /* available now (as of `last`) */
    double last;     /* time of the last refill, seconds */
} qv_ratelimit;

typedef enum qv_ratelimit_rc {
    QV_RATELIMIT_OK = 0, /* allowed: cost tokens were taken */
    QV_RATELIMIT_WAIT,   /* not now: *wait_sec says when (nothing taken) */
    QV_RATELIMIT_NEVER,  /* cost exceeds the capacity: waiting cannot help */
} qv_ratelimit_rc;

/* A full bucket for per_minute (>= 1) operations per minute, as of now. */
void qv_ratelimit_init(qv_ratelimit *r, uint64_t per_minute, double now);

/* Refills for the time since the last call, then tries to take cost
 * tokens.  *available gets the tokens there were (after refilling) and
 * *wait_sec, for QV_RATELIMIT_WAIT, the seconds until cost tokens will be
 * there (> 0); either pointer may be NULL.  A time before the last call
 * (a clock step) refills nothing. */
qv_ratelimit_rc qv_ratelimit_take(qv_ratelimit *r, double cost, double now, double *available,
                                  double *wait_sec);

#endif
