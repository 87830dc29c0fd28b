/*
 * buf.h - a growable byte buffer and little-endian / varint codecs.
 *
 * Writers (qv_buf_put_*) append and record OOM in a sticky flag, so encoders
 * check once at the end.  Readers (qv_rd_*) consume from a bounded cursor
 * and set a sticky `bad` flag instead of reading past the end, so decoders
 * of untrusted bytes (WAL records, segment files) check once too.
 */
#ifndef QV_CORE_BUF_H
#define QV_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qv_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} qv_buf;

void qv_buf_init(qv_buf *b);
void qv_buf_free(qv_buf *b);
/* Ensures room for n more bytes; returns a pointer to them (or NULL, oom). */
uint8_t *qv_buf_reserve(qv_buf *b, size_t n);
void qv_buf_put(qv_buf *b, const void *p, size_t n);
void qv_buf_put_u8(qv_buf *b, uint8_t v);
void qv_buf_put_u32le(qv_buf *b, uint32_t v);
void qv_buf_put_u64le(qv_buf *b, uint64_t v);
void qv_buf_put_varint(qv_buf *b, uint64_t v);
void qv_buf_put_str(qv_buf *b, const char *s, size_t n); /* varint length + bytes */

typedef struct qv_rd {
    const uint8_t *p, *end;
    bool bad;
} qv_rd;

static inline void qv_rd_init(qv_rd *r, const void *p, size_t n) {
    r->p = p;
    r->end = r->p + n;
    r->bad = false;
}
static inline size_t qv_rd_left(const qv_rd *r) {
    return (size_t)(r->end - r->p);
}
uint8_t qv_rd_u8(qv_rd *r);
uint32_t qv_rd_u32le(qv_rd *r);
uint64_t qv_rd_u64le(qv_rd *r);
uint64_t qv_rd_varint(qv_rd *r);
/* Returns a pointer to the next n bytes and skips them (NULL, bad, if short). */
const uint8_t *qv_rd_bytes(qv_rd *r, size_t n);

static inline void qv_store_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void qv_store_u64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t qv_load_u32le(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint64_t qv_load_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#endif
