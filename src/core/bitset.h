/*
 * bitset.h - fixed-size bit sets over point offsets.
 *
 * What: a plain array of 64-bit words, bit i of word i/64 standing for
 * offset i, with the handful of operations the filter planner combines
 * index answers with (and, or, and-not, population count, iteration).
 * The caller owns the words and knows the size in bits; bits at or beyond
 * the size are kept zero by every operation here, so counts and iteration
 * never see them.
 *
 * Why hand-written: a few inline loops; no Debian library offers less.
 * Threading: none; a set that is only read may be shared.
 */
#ifndef QV_CORE_BITSET_H
#define QV_CORE_BITSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Words needed for n bits. */
static inline size_t qv_bits_words(size_t n) {
    return (n + 63) / 64;
}

/* A zeroed set of n bits (at least one word), or NULL. */
static inline uint64_t *qv_bits_new(size_t n) {
    return (uint64_t *)calloc(qv_bits_words(n) ? qv_bits_words(n) : 1, sizeof(uint64_t));
}

static inline bool qv_bits_test(const uint64_t *b, size_t i) {
    return (b[i >> 6] >> (i & 63)) & 1u;
}

static inline void qv_bits_set(uint64_t *b, size_t i) {
    b[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline void qv_bits_clear(uint64_t *b, size_t i) {
    b[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* Sets every bit below n (and none above). */
static inline void qv_bits_fill(uint64_t *b, size_t n) {
    size_t w = n / 64;
    for (size_t i = 0; i < w; i++) b[i] = ~(uint64_t)0;
    if (n % 64) b[w] = ((uint64_t)1 << (n % 64)) - 1;
}

/* dst &= src, dst |= src, dst &= ~src over n bits. */
static inline void qv_bits_and(uint64_t *dst, const uint64_t *src, size_t n) {
    for (size_t i = 0, w = qv_bits_words(n); i < w; i++) dst[i] &= src[i];
}

static inline void qv_bits_or(uint64_t *dst, const uint64_t *src, size_t n) {
    for (size_t i = 0, w = qv_bits_words(n); i < w; i++) dst[i] |= src[i];
}

static inline void qv_bits_andnot(uint64_t *dst, const uint64_t *src, size_t n) {
    for (size_t i = 0, w = qv_bits_words(n); i < w; i++) dst[i] &= ~src[i];
}

static inline uint64_t qv_bits_count(const uint64_t *b, size_t n) {
    uint64_t k = 0;
    for (size_t i = 0, w = qv_bits_words(n); i < w; i++) k += (uint64_t)__builtin_popcountll(b[i]);
    return k;
}

/* The first set bit at or after i, or n when there is none. */
static inline size_t qv_bits_next(const uint64_t *b, size_t i, size_t n) {
    if (i >= n) return n;
    size_t w = i >> 6;
    uint64_t word = b[w] & (~(uint64_t)0 << (i & 63));
    for (;;) {
        if (word) {
            size_t at = (w << 6) + (size_t)__builtin_ctzll(word);
            return at < n ? at : n;
        }
        if (++w >= qv_bits_words(n)) return n;
        word = b[w];
    }
}

#endif
