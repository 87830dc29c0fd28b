/*
 * pointid.h - Qdrant point IDs: unsigned 64-bit integers or UUIDs.
 *
 * A numeric ID is kept exactly (never through a double).  A UUID is accepted
 * hyphenated, as 32 hex digits, braced ({...}) or as urn:uuid:..., in any
 * case, and is printed lowercase hyphenated.  Order (scroll, ties): every
 * numeric ID before every UUID; numbers by value; UUIDs by their 128-bit
 * value, i.e. by their canonical string.
 */
#ifndef QV_CORE_POINTID_H
#define QV_CORE_POINTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qv_pointid {
    uint64_t hi;      /* UUID: bytes 0..7 big-endian; number: 0 */
    uint64_t lo;      /* UUID: bytes 8..15 big-endian; number: the value */
    uint32_t is_uuid; /* 0 or 1 */
} qv_pointid;

#define QV_UUID_STR_LEN 36

static inline qv_pointid qv_pointid_num(uint64_t n) {
    qv_pointid id = {0, n, 0};
    return id;
}

/* Parses any accepted UUID form; false if s[0..len) is not one. */
bool qv_pointid_parse_uuid(const char *s, size_t len, qv_pointid *out);

/* Writes the canonical form (a decimal number or a lowercase hyphenated
 * UUID), NUL-terminated, into buf (>= 40 bytes); returns its length. */
int qv_pointid_format(const qv_pointid *id, char *buf);

/* <0, 0, >0 in the order described above. */
int qv_pointid_cmp(const qv_pointid *a, const qv_pointid *b);

static inline bool qv_pointid_eq(const qv_pointid *a, const qv_pointid *b) {
    return a->lo == b->lo && a->hi == b->hi && a->is_uuid == b->is_uuid;
}

/* The 16 bytes of a UUID ID in big-endian (canonical string) order, and
 * back; the on-disk and WAL formats store UUIDs this way. */
void qv_pointid_uuid_bytes(const qv_pointid *id, uint8_t out[16]);
qv_pointid qv_pointid_from_uuid_bytes(const uint8_t b[16]);

/* A well-mixed 64-bit hash for hash tables. */
uint64_t qv_pointid_hash(const qv_pointid *id);

#endif
