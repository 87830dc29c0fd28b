/*
 * float_roundtrip.c - exhaustive check of fmt_f32 over all 2^32 bit patterns.
 *
 * Long-running (minutes to an hour, depending on cores), so it is not part
 * of the default test run.  Every non-NaN float is printed with fmt_f32 and
 * read back with (float)strtod, as serde and the clients read it; the bits
 * must be identical (so -0.0 stays -0.0; infinities print "null" and are
 * skipped like NaN).  The range is split into chunks handed out to threads
 * through an atomic counter; progress goes to stderr.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc tests/long/float_roundtrip.c \
 *          src/core/fmtfloat.c -o /tmp/float_roundtrip -lm
 * Run:   /tmp/float_roundtrip [threads]     (exit 0 when every value passed)
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"

#define CHUNK_BITS 24
#define NCHUNKS    (1u << (32 - CHUNK_BITS))

static atomic_uint next_chunk;
static atomic_uint done_chunks;
static atomic_ullong failures;

/* Checks one chunk; returns the number of mismatches (the first few are
 * printed). */
static uint64_t check_chunk(uint32_t chunk) {
    uint64_t bad = 0;
    char buf[32];
    uint32_t lo = chunk << CHUNK_BITS;
    for (uint32_t k = 0; k < (1u << CHUNK_BITS); k++) {
        uint32_t bits = lo + k;
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f)) continue;
        fmt_f32(buf, f);
        float back = (float)strtod(buf, NULL);
        uint32_t bb;
        memcpy(&bb, &back, 4);
        if (bb != bits) {
            if (atomic_fetch_add(&failures, 1) < 20)
                fprintf(stderr, "MISMATCH %08x printed %s read %08x\n", bits, buf, bb);
            bad++;
        }
    }
    return bad;
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        unsigned c = atomic_fetch_add(&next_chunk, 1);
        if (c >= NCHUNKS) return NULL;
        check_chunk(c);
        unsigned d = atomic_fetch_add(&done_chunks, 1) + 1;
        if (d % 8 == 0)
            fprintf(stderr, "progress %u/%u chunks (%.1f%%), failures %llu\n", d, NCHUNKS,
                    100.0 * d / NCHUNKS, (unsigned long long)atomic_load(&failures));
    }
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    pthread_t th[256];
    for (long k = 0; k < n; k++) pthread_create(&th[k], NULL, worker, NULL);
    for (long k = 0; k < n; k++) pthread_join(th[k], NULL);
    unsigned long long f = atomic_load(&failures);
    printf("float_roundtrip: %s, %llu failures over all 2^32 patterns\n", f ? "FAIL" : "OK", f);
    return f ? 1 : 0;
}
