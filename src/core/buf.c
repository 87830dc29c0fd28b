/*
 * buf.c - growable byte buffer and bounded reader (see buf.h).
 */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

void qv_buf_init(qv_buf *b) {
    memset(b, 0, sizeof *b);
}

void qv_buf_free(qv_buf *b) {
    free(b->data);
    qv_buf_init(b);
}

uint8_t *qv_buf_reserve(qv_buf *b, size_t n) {
    if (b->oom) return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    return b->data + b->len;
}

void qv_buf_put(qv_buf *b, const void *p, size_t n) {
    uint8_t *d = qv_buf_reserve(b, n);
    if (!d) return;
    if (n) memcpy(d, p, n);
    b->len += n;
}

void qv_buf_put_u8(qv_buf *b, uint8_t v) {
    qv_buf_put(b, &v, 1);
}

void qv_buf_put_u32le(qv_buf *b, uint32_t v) {
    uint8_t t[4];
    qv_store_u32le(t, v);
    qv_buf_put(b, t, 4);
}

void qv_buf_put_u64le(qv_buf *b, uint64_t v) {
    uint8_t t[8];
    qv_store_u64le(t, v);
    qv_buf_put(b, t, 8);
}

void qv_buf_put_varint(qv_buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        t[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    qv_buf_put(b, t, (size_t)n);
}

void qv_buf_put_str(qv_buf *b, const char *s, size_t n) {
    qv_buf_put_varint(b, n);
    qv_buf_put(b, s, n);
}

const uint8_t *qv_rd_bytes(qv_rd *r, size_t n) {
    if (r->bad || qv_rd_left(r) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

uint8_t qv_rd_u8(qv_rd *r) {
    const uint8_t *p = qv_rd_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t qv_rd_u32le(qv_rd *r) {
    const uint8_t *p = qv_rd_bytes(r, 4);
    return p ? qv_load_u32le(p) : 0;
}

uint64_t qv_rd_u64le(qv_rd *r) {
    const uint8_t *p = qv_rd_bytes(r, 8);
    return p ? qv_load_u64le(p) : 0;
}

/* Rejects encodings longer than 10 bytes or overflowing 64 bits. */
uint64_t qv_rd_varint(qv_rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = qv_rd_bytes(r, 1);
        if (!p) return 0;
        if (shift == 63 && (*p & 0x7e)) break;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}
