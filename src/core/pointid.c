/*
 * pointid.c - point ID parsing, printing, ordering and hashing.
 */
#include "core/pointid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 32 hex digits, allowing hyphens only at the canonical positions
 * 8-4-4-4-12 (all four or none), as the uuid crate does. */
static bool parse_hex128(const char *s, size_t len, uint8_t out[16]) {
    bool hyphenated;
    if (len == 32)
        hyphenated = false;
    else if (len == 36)
        hyphenated = true;
    else
        return false;
    if (hyphenated && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')) return false;
    int nib = 0;
    for (size_t i = 0; i < len; i++) {
        if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) continue;
        int v = hexval(s[i]);
        if (v < 0) return false;
        if (nib % 2 == 0)
            out[nib / 2] = (uint8_t)(v << 4);
        else
            out[nib / 2] |= (uint8_t)v;
        nib++;
    }
    return nib == 32;
}

bool qv_pointid_parse_uuid(const char *s, size_t len, qv_pointid *out) {
    uint8_t b[16];
    static const char urn[] = "urn:uuid:";
    if (len >= sizeof urn - 1 && strncasecmp(s, urn, sizeof urn - 1) == 0) {
        s += sizeof urn - 1;
        len -= sizeof urn - 1;
    } else if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        s += 1;
        len -= 2;
    }
    if (!parse_hex128(s, len, b)) return false;
    *out = qv_pointid_from_uuid_bytes(b);
    return true;
}

int qv_pointid_format(const qv_pointid *id, char *buf) {
    if (!id->is_uuid) return snprintf(buf, 40, "%llu", (unsigned long long)id->lo);
    static const char hex[] = "0123456789abcdef";
    int n = 0;
    for (int i = 0; i < 16; i++) {
        uint64_t word = i < 8 ? id->hi : id->lo;
        unsigned byte = (unsigned)(word >> (8 * (7 - (i % 8)))) & 0xffu;
        if (i == 4 || i == 6 || i == 8 || i == 10) buf[n++] = '-';
        buf[n++] = hex[byte >> 4];
        buf[n++] = hex[byte & 15];
    }
    buf[n] = '\0';
    return n;
}

int qv_pointid_cmp(const qv_pointid *a, const qv_pointid *b) {
    if (a->is_uuid != b->is_uuid) return a->is_uuid ? 1 : -1;
    if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return 0;
}

void qv_pointid_uuid_bytes(const qv_pointid *id, uint8_t out[16]) {
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(id->hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(id->lo >> (56 - 8 * i));
    }
}

qv_pointid qv_pointid_from_uuid_bytes(const uint8_t b[16]) {
    qv_pointid id = {0, 0, 1};
    for (int i = 0; i < 8; i++) {
        id.hi = (id.hi << 8) | b[i];
        id.lo = (id.lo << 8) | b[8 + i];
    }
    return id;
}

/* splitmix64 finaliser: cheap and well mixed for sequential IDs. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t qv_pointid_hash(const qv_pointid *id) {
    return mix64(id->lo ^ mix64(id->hi + id->is_uuid));
}
