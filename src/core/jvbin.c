/*
 * jvbin.c - binary encoding of resolved jv trees (format in jvbin.h).
 *
 * Writing trusts its input (our own trees); reading trusts nothing: it is
 * fed WAL and segment bytes that may be torn or corrupted on disk.  Every
 * read is bounds-checked against the remaining length before it happens,
 * counts are checked against the bytes left (each element needs at least
 * one byte, so a forged count cannot force a huge allocation), varints must
 * be canonical and fit 64 bits, and nesting is limited like the parser's.
 */
#include "core/jvbin.h"

#include <string.h>

enum {
    T_NULL = 0,
    T_FALSE = 1,
    T_TRUE = 2,
    T_INT = 3,
    T_UINT = 4,
    T_DBL = 5,
    T_STR = 6,
    T_ARR = 7,
    T_OBJ = 8,
};

/* ---- writing ---------------------------------------------------------- */

static size_t varint_size(uint64_t x) {
    size_t n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *o, uint64_t x) {
    size_t n = 0;
    while (x >= 0x80) {
        o[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    o[n++] = (uint8_t)x;
    return n;
}

static uint64_t zigzag(int64_t i) {
    return ((uint64_t)i << 1) ^ (uint64_t)(i >> 63);
}

/* JV_NUM is encoded as its resolved value: resolve a scalar copy. */
static jv scalar_resolved(const jv *v) {
    jv r = *v;
    if (r.type == JV_NUM) jv_resolve_numbers(&r);
    return r;
}

size_t jvbin_size(const jv *v) {
    jv r = scalar_resolved(v);
    size_t n = 1;
    switch (r.type) {
    case JV_INT:
        return n + varint_size(zigzag(r.v.i));
    case JV_UINT:
        return n + varint_size(r.v.u);
    case JV_DBL:
        return n + 8;
    case JV_STR:
        return n + varint_size(r.len) + r.len;
    case JV_ARR:
        n += varint_size(r.len);
        for (uint32_t k = 0; k < r.len; k++) n += jvbin_size(&r.v.items[k]);
        return n;
    case JV_OBJ:
        n += varint_size(r.len);
        for (uint32_t k = 0; k < r.len; k++) {
            const jv_member *m = &r.v.members[k];
            n += varint_size(m->klen) + m->klen + jvbin_size(&m->val);
        }
        return n;
    default:
        return n; /* null, bool */
    }
}

static size_t put_f64(uint8_t *o, double d) {
    uint64_t b;
    memcpy(&b, &d, 8);
    for (int k = 0; k < 8; k++) o[k] = (uint8_t)(b >> (8 * k));
    return 8;
}

size_t jvbin_write(const jv *v, uint8_t *out) {
    jv r = scalar_resolved(v);
    uint8_t *o = out;
    switch (r.type) {
    case JV_BOOL:
        *o++ = r.v.b ? T_TRUE : T_FALSE;
        break;
    case JV_INT:
        *o++ = T_INT;
        o += put_varint(o, zigzag(r.v.i));
        break;
    case JV_UINT:
        *o++ = T_UINT;
        o += put_varint(o, r.v.u);
        break;
    case JV_DBL:
        *o++ = T_DBL;
        o += put_f64(o, r.v.d);
        break;
    case JV_STR:
        *o++ = T_STR;
        o += put_varint(o, r.len);
        if (r.len) memcpy(o, r.v.s, r.len);
        o += r.len;
        break;
    case JV_ARR:
        *o++ = T_ARR;
        o += put_varint(o, r.len);
        for (uint32_t k = 0; k < r.len; k++) o += jvbin_write(&r.v.items[k], o);
        break;
    case JV_OBJ:
        *o++ = T_OBJ;
        o += put_varint(o, r.len);
        for (uint32_t k = 0; k < r.len; k++) {
            const jv_member *m = &r.v.members[k];
            o += put_varint(o, m->klen);
            if (m->klen) memcpy(o, m->key, m->klen);
            o += m->klen;
            o += jvbin_write(&m->val, o);
        }
        break;
    default:
        *o++ = T_NULL;
        break;
    }
    return (size_t)(o - out);
}

/* ---- reading ---------------------------------------------------------- */

typedef struct jr {
    const uint8_t *p;
    size_t n, i;
    qv_arena *a;
    qv_err *err;
    int depth;
} jr;

static int jr_fail(jr *r, const char *what) {
    qv_fail(r->err, QV_ECORRUPT, "corrupt binary payload: %s at byte %zu", what, r->i);
    return 0;
}

static int get_varint(jr *r, uint64_t *out) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->i >= r->n) return jr_fail(r, "truncated varint");
        uint8_t b = r->p[r->i++];
        if (shift == 63 && b > 1) return jr_fail(r, "varint overflows 64 bits");
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0) return jr_fail(r, "non-canonical varint");
            *out = x;
            return 1;
        }
    }
    return jr_fail(r, "varint too long");
}

/* A length or count that must fit both uint32 and the remaining bytes
 * (each counted unit needs at least min_unit bytes). */
static int get_count(jr *r, size_t min_unit, uint32_t *out) {
    uint64_t c;
    if (!get_varint(r, &c)) return 0;
    if (c > UINT32_MAX || c > (r->n - r->i) / min_unit) return jr_fail(r, "length past the end");
    *out = (uint32_t)c;
    return 1;
}

static int utf8_valid(const uint8_t *s, size_t n) {
    size_t k = 0;
    while (k < n) {
        uint8_t c = s[k];
        if (c < 0x80) {
            k++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (c < 0xC2 || c > 0xF4 || n - k < len) return 0;
        for (size_t j = 1; j < len; j++)
            if ((s[k + j] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[k + 1] < 0xA0) || (c == 0xED && s[k + 1] >= 0xA0) ||
            (c == 0xF0 && s[k + 1] < 0x90) || (c == 0xF4 && s[k + 1] >= 0x90))
            return 0;
        k += len;
    }
    return 1;
}

/* A length-prefixed UTF-8 string, copied NUL-terminated into the arena. */
static int get_str(jr *r, const char **out, uint32_t *olen) {
    uint32_t len;
    if (!get_count(r, 1, &len)) return 0;
    if (!utf8_valid(r->p + r->i, len)) return jr_fail(r, "invalid UTF-8 in string");
    char *s = qv_arena_strndup(r->a, (const char *)r->p + r->i, len);
    if (!s) {
        qv_fail(r->err, QV_ENOMEM, "out of memory while reading binary payload");
        return 0;
    }
    r->i += len;
    *out = s;
    *olen = len;
    return 1;
}

static int read_value(jr *r, jv *out);

static int read_array(jr *r, jv *out) {
    uint32_t cnt;
    if (!get_count(r, 1, &cnt)) return 0;
    jv *items = NULL;
    if (cnt && !(items = qv_arena_alloc(r->a, (size_t)cnt * sizeof *items))) {
        qv_fail(r->err, QV_ENOMEM, "out of memory while reading binary payload");
        return 0;
    }
    for (uint32_t k = 0; k < cnt; k++)
        if (!read_value(r, &items[k])) return 0;
    out->type = JV_ARR;
    out->len = cnt;
    out->v.items = items;
    return 1;
}

static int read_object(jr *r, jv *out) {
    uint32_t cnt;
    if (!get_count(r, 2, &cnt)) return 0;
    jv_member *ms = NULL;
    if (cnt && !(ms = qv_arena_alloc(r->a, (size_t)cnt * sizeof *ms))) {
        qv_fail(r->err, QV_ENOMEM, "out of memory while reading binary payload");
        return 0;
    }
    for (uint32_t k = 0; k < cnt; k++) {
        if (!get_str(r, &ms[k].key, &ms[k].klen)) return 0;
        if (!read_value(r, &ms[k].val)) return 0;
    }
    out->type = JV_OBJ;
    out->len = cnt;
    out->v.members = ms;
    return 1;
}

static int read_scalar(jr *r, uint8_t tag, jv *out) {
    uint64_t x;
    switch (tag) {
    case T_NULL:
        return 1;
    case T_FALSE:
    case T_TRUE:
        out->type = JV_BOOL;
        out->v.b = tag == T_TRUE;
        return 1;
    case T_INT:
        if (!get_varint(r, &x)) return 0;
        out->type = JV_INT;
        out->v.i = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
        return 1;
    case T_UINT:
        if (!get_varint(r, &x)) return 0;
        if (x <= (uint64_t)INT64_MAX) return jr_fail(r, "small unsigned integer");
        out->type = JV_UINT;
        out->v.u = x;
        return 1;
    case T_DBL: {
        if (r->n - r->i < 8) return jr_fail(r, "truncated double");
        uint64_t b = 0;
        for (int k = 0; k < 8; k++) b |= (uint64_t)r->p[r->i + k] << (8 * k);
        r->i += 8;
        out->type = JV_DBL;
        memcpy(&out->v.d, &b, 8);
        return 1;
    }
    case T_STR:
        out->type = JV_STR;
        return get_str(r, &out->v.s, &out->len);
    default:
        r->i--;
        return jr_fail(r, "unknown type tag");
    }
}

static int read_value(jr *r, jv *out) {
    memset(out, 0, sizeof *out);
    if (r->i >= r->n) return jr_fail(r, "truncated value");
    uint8_t tag = r->p[r->i++];
    if (tag != T_ARR && tag != T_OBJ) return read_scalar(r, tag, out);
    if (++r->depth >= JV_MAX_DEPTH) return jr_fail(r, "nesting too deep");
    int ok = tag == T_ARR ? read_array(r, out) : read_object(r, out);
    r->depth--;
    return ok;
}

qv_rc jvbin_read(qv_arena *a, const uint8_t *in, size_t len, size_t *used, jv *out, qv_err *err) {
    jr r = {.p = in, .n = len, .i = 0, .a = a, .err = err, .depth = 0};
    if (used) *used = 0;
    if (!read_value(&r, out)) {
        memset(out, 0, sizeof *out);
        return err ? err->kind : QV_ECORRUPT;
    }
    if (used) *used = r.i;
    return QV_OK;
}
