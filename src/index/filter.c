/*
 * filter.c - key paths and the scan evaluation of Qdrant filters.
 *
 * This is the exact check: every payload index must return the same points
 * this file accepts.  The semantics are documented in filter.h; the places
 * where Qdrant's Python local mode (the differential oracle) and the server
 * disagree are marked "local mode:" below.  Evaluation allocates nothing, so
 * one built filter can be shared by any number of threads.
 *
 * Sections: key paths, datetimes, match, range/geo/counts, conditions and
 * clauses, slice hashing, constructors.
 */
#include "index/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Unindexed match.text / phrase / text_any.
 *
 * 0 (default): Qdrant server as COMPAT-NOTES.md measured it: text and phrase
 *   are byte substring containment ("" matches every string); text_any
 *   matches when any whitespace-separated word of the query is a substring.
 * 1: what the Python local mode of qdrant-client 1.20 does (it cites
 *   qdrant#10341): lowercase word tokens of both sides; text needs every query
 *   token, text_any one, phrase consecutive tokens; an empty query matches
 *   nothing.  Tokens here are runs of ASCII letters/digits and non-ASCII
 *   bytes, lowercased in ASCII only (Python uses Unicode classes). */
#ifndef QV_FILTER_TEXT_TOKENS
#define QV_FILTER_TEXT_TOKENS 0
#endif

/* ======================================================================
 * Key paths
 * ====================================================================== */

static bool qv_keypath_is_name_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c >= 0x80;
}

/* Segment count upper bound: every segment needs at least one byte, a
 * bracket group two. */
static size_t qv_keypath_max_segs(size_t len) {
    return len + 1;
}

/* Reads the name at s[*i]: quoted or bare.  False if there is none. */
static bool qv_keypath_read_name(qv_arena *a, const char *s, size_t len, size_t *i,
                                 qv_keypath_seg *seg) {
    size_t start = *i, end;
    if (start < len && s[start] == '"') {
        const char *q = memchr(s + start + 1, '"', len - start - 1);
        /* no escapes: Qdrant's quoted segment refuses a backslash */
        if (!q || memchr(s + start + 1, '\\', (size_t)(q - s) - start - 1)) return false;
        end = (size_t)(q - s);
        seg->name = qv_arena_strndup(a, s + start + 1, end - start - 1);
        seg->len = (uint32_t)(end - start - 1);
        *i = end + 1;
    } else {
        end = start;
        while (end < len && qv_keypath_is_name_byte((unsigned char)s[end])) end++;
        if (end == start) return false;
        seg->name = qv_arena_strndup(a, s + start, end - start);
        seg->len = (uint32_t)(end - start);
        *i = end;
    }
    seg->kind = QV_KEYPATH_KEY;
    return true;
}

/* Reads one "[]" or "[digits]" at s[*i] (which is '[').  Indexes above
 * UINT64_MAX are invalid, as in Qdrant. */
static bool qv_keypath_read_bracket(const char *s, size_t len, size_t *i, qv_keypath_seg *seg) {
    size_t j = *i + 1;
    if (j < len && s[j] == ']') {
        seg->kind = QV_KEYPATH_ALL;
        *i = j + 1;
        return true;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, digits++) {
        unsigned d = (unsigned)(s[j] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (digits == 0 || j >= len || s[j] != ']') return false;
    seg->kind = QV_KEYPATH_INDEX;
    seg->index = v;
    *i = j + 1;
    return true;
}

qv_rc qv_keypath_parse(qv_arena *a, const char *s, size_t len, qv_keypath **out, qv_err *err) {
    qv_keypath *p = qv_arena_calloc(a, sizeof *p);
    qv_keypath_seg *segs = p ? qv_arena_calloc(a, qv_keypath_max_segs(len) * sizeof *segs) : NULL;
    char *text = segs ? qv_arena_strndup(a, s, len) : NULL;
    if (!text) return qv_fail(err, QV_ENOMEM, "out of memory");
    size_t i = 0, n = 0;
    while (i < len) {
        if (!qv_keypath_read_name(a, s, len, &i, &segs[n])) goto bad;
        if (!segs[n++].name) return qv_fail(err, QV_ENOMEM, "out of memory");
        while (i < len && s[i] == '[')
            if (!qv_keypath_read_bracket(s, len, &i, &segs[n++])) goto bad;
        if (i == len) break;
        /* a separator must be followed by another segment */
        if (s[i] != '.' || i + 1 == len) goto bad;
        i++;
    }
    if (n == 0) goto bad;
    p->nseg = (uint32_t)n;
    p->segs = segs;
    p->text = text;
    p->text_len = len;
    *out = p;
    return QV_OK;
bad:
    return qv_fail(err, QV_EFORMAT, "Invalid JSON path `%.*s`", (int)(len > 200 ? 200 : len), s);
}

/* Recursive walk; returns true when visit asked to stop. */
static bool qv_keypath_walk(const qv_keypath_seg *seg, uint32_t left, const jv *v, bool flatten,
                            bool (*visit)(void *, const jv *), void *ctx) {
    if (left == 0) {
        if (flatten && v->type == JV_ARR) {
            for (uint32_t k = 0; k < v->len; k++)
                if (visit(ctx, &v->v.items[k])) return true;
            return false;
        }
        return visit(ctx, v);
    }
    switch (seg->kind) {
    case QV_KEYPATH_KEY: {
        const jv *m = jv_getn(v, seg->name, seg->len);
        return m && qv_keypath_walk(seg + 1, left - 1, m, flatten, visit, ctx);
    }
    case QV_KEYPATH_INDEX:
        if (v->type != JV_ARR || seg->index >= v->len) return false;
        return qv_keypath_walk(seg + 1, left - 1, &v->v.items[seg->index], flatten, visit, ctx);
    default:
        if (v->type != JV_ARR) return false;
        for (uint32_t k = 0; k < v->len; k++)
            if (qv_keypath_walk(seg + 1, left - 1, &v->v.items[k], flatten, visit, ctx))
                return true;
        return false;
    }
}

bool qv_keypath_any(const qv_keypath *p, const jv *payload, bool flatten,
                    bool (*visit)(void *ctx, const jv *val), void *ctx) {
    if (!p || !payload) return false;
    return qv_keypath_walk(p->segs, p->nseg, payload, flatten, visit, ctx);
}

/* Adapts a void callback to the short-circuiting walk. */
typedef struct qv_keypath_cbctx {
    void (*cb)(void *, const jv *);
    void *ctx;
} qv_keypath_cbctx;

static bool qv_keypath_call(void *ctx, const jv *v) {
    qv_keypath_cbctx *c = ctx;
    c->cb(c->ctx, v);
    return false;
}

void qv_keypath_values(const qv_keypath *p, const jv *payload, void (*cb)(void *ctx, const jv *val),
                       void *ctx) {
    qv_keypath_cbctx c = {cb, ctx};
    qv_keypath_any(p, payload, true, qv_keypath_call, &c);
}

void qv_keypath_values_raw(const qv_keypath *p, const jv *payload,
                           void (*cb)(void *ctx, const jv *val), void *ctx) {
    qv_keypath_cbctx c = {cb, ctx};
    qv_keypath_any(p, payload, false, qv_keypath_call, &c);
}

/* ======================================================================
 * Datetimes
 *
 * What Qdrant 1.19 accepts (DateTimePayloadType::from_str in its types.rs, the
 * same for payload values and range bounds) is whatever one of these chrono
 * parsers accepts, tried in order:
 *   R   DateTime<FixedOffset>::from_str, chrono's "relaxed RFC 3339" (it also
 *       covers parse_from_rfc3339, which the server tries first)
 *   F3  "%Y-%m-%dT%H:%M:%S%.f%#z"      F5  "%Y-%m-%dT%H:%M:%S%.f" (UTC)
 *   F4  "%Y-%m-%d %H:%M:%S%.f%#z"      F6  "%Y-%m-%d %H:%M:%S%.f" (UTC)
 *   F7  "%Y-%m-%d %H:%M" (UTC)         F8  "%Y-%m-%d" (midnight UTC)
 * chrono's rules that shape the accepted set, all reproduced here:
 *  - every number may be preceded by whitespace (Unicode White_Space, as
 *    Rust's char::is_whitespace); a ' ' in a format matches any run of
 *    whitespace, including none ("2024-01-1510:00" is F7); literals ('-',
 *    ':', 'T') match exactly, 'T' in F3/F5 in upper case only;
 *  - %Y takes 1-4 digits, or a sign and any number of digits ("24-01-15" is
 *    the year 24, "+12024-01-01" and "-0044-03-15" are years too); month,
 *    day, hour, minute and second take 1-2 digits; the second may be 60 (a
 *    leap second, kept as nanoseconds 1e9..2e9-1 of second 59 so that it
 *    sorts after :59.999999999 and before the next minute, as chrono does);
 *  - a fraction is '.' and 1-9 digits (more are read and ignored);
 *  - an offset is 'Z'/'z', or '+', '-' or U+2212 with two hour digits,
 *    then (R, %#z) any run of ':' and whitespace, then two minute digits
 *    (00-59) - optional in %#z only - and must stay within +-23:59; %#z may
 *    be preceded by whitespace;
 *  - R: the date and the time are separated by exactly one 'T', 't' or ' ';
 *    whitespace may surround every '-' and ':'; seconds are required; the
 *    offset (or "UTC" in any case) may follow whitespace and whitespace may
 *    trail it; nothing else may.  The F forms allow nothing after the end;
 *  - dates run from -262143-01-01 to 262142-12-31 (chrono's NaiveDate), after
 *    the offset is applied too.
 * The Python client's local mode uses strptime and differs (it takes
 * "YYYY-MM-DDTHH:MM" and "+HH:MM:SS" offsets, refuses leap seconds, years
 * outside 1-9999, 1-3 digit years, and cuts fractions to microseconds); we
 * follow the server.
 * ====================================================================== */

/* The fields one parse attempt collects (chrono's Parsed). */
typedef struct qv_dt_fields {
    int64_t year;
    int month, day, hour, minute, second;
    int32_t nano;
    int offset; /* seconds east of UTC */
} qv_dt_fields;

typedef struct qv_dt_cursor {
    const char *s;
    size_t len, i;
} qv_dt_cursor;

/* Bytes of the White_Space character at c->s[i], 0 if there is none. */
static size_t qv_dt_ws_len(const qv_dt_cursor *c, size_t i) {
    const unsigned char *u = (const unsigned char *)c->s + i;
    size_t n = c->len - i;
    if (n == 0) return 0;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r')) return 1;
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2; /* U+0085, U+00A0 */
    if (n < 3) return 0;
    uint32_t cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    if ((u[0] & 0xF0) != 0xE0 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) return 0;
    bool ws = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
              cp == 0x202F || cp == 0x205F || cp == 0x3000;
    return ws ? 3 : 0;
}

static void qv_dt_skip_ws(qv_dt_cursor *c) {
    size_t n;
    while ((n = qv_dt_ws_len(c, c->i)) != 0) c->i += n;
}

static bool qv_dt_lit(qv_dt_cursor *c, char ch) {
    if (c->i < c->len && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

/* Reads min..max digits (chrono's scan::number; it stops at max even when
 * more digits follow).  False if fewer than min or the value passes i64. */
static bool qv_dt_number(qv_dt_cursor *c, int min, int max, int64_t *out) {
    int64_t v = 0;
    int n = 0;
    while (n < max && c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        int d = c->s[c->i++] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n >= min;
}

/* A numeric item: whitespace, then 1..width digits (an int field). */
static bool qv_dt_num_item(qv_dt_cursor *c, int width, int *out) {
    int64_t v;
    qv_dt_skip_ws(c);
    if (!qv_dt_number(c, 1, width, &v)) return false;
    *out = (int)v;
    return true;
}

/* %Y: whitespace, then a sign and any number of digits, or 1-4 digits. */
static bool qv_dt_year(qv_dt_cursor *c, int64_t *year) {
    qv_dt_skip_ws(c);
    if (c->i < c->len && (c->s[c->i] == '-' || c->s[c->i] == '+')) {
        bool neg = c->s[c->i++] == '-';
        if (!qv_dt_number(c, 1, INT32_MAX, year)) return false;
        if (neg) *year = -*year;
        return true;
    }
    return qv_dt_number(c, 1, 4, year);
}

/* %.f: optional; '.' then 1-9 digits scaled to nanoseconds, further digits
 * skipped. */
static bool qv_dt_fraction(qv_dt_cursor *c, int32_t *nano) {
    if (!qv_dt_lit(c, '.')) return true;
    int64_t v;
    size_t start = c->i;
    if (!qv_dt_number(c, 1, 9, &v)) return false;
    for (size_t k = c->i - start; k < 9; k++) v *= 10;
    while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') c->i++;
    *nano = (int32_t)v;
    return true;
}

/* chrono's scan::timezone_offset with 'Z'/'z' allowed, U+2212 taken as a
 * minus sign and colon_or_space between hours and minutes.  missing_minutes
 * is %#z's leniency. */
static bool qv_dt_offset(qv_dt_cursor *c, bool missing_minutes, int *secs) {
    const unsigned char *u = (const unsigned char *)c->s;
    int sign;
    if (c->i < c->len && (u[c->i] == 'Z' || u[c->i] == 'z')) {
        c->i++;
        *secs = 0;
        return true;
    }
    if (c->i < c->len && (u[c->i] == '+' || u[c->i] == '-')) {
        sign = u[c->i++] == '-' ? -1 : 1;
    } else if (c->len - c->i >= 3 && u[c->i] == 0xE2 && u[c->i + 1] == 0x88 &&
               u[c->i + 2] == 0x92) {
        sign = -1, c->i += 3; /* U+2212 MINUS SIGN */
    } else {
        return false;
    }
    if (c->len - c->i < 2 || !(u[c->i] >= '0' && u[c->i] <= '9') ||
        !(u[c->i + 1] >= '0' && u[c->i + 1] <= '9'))
        return false;
    int hh = (u[c->i] - '0') * 10 + (u[c->i + 1] - '0'), mm = 0;
    c->i += 2;
    for (size_t n;;) { /* colon_or_space */
        if (qv_dt_lit(c, ':')) continue;
        if ((n = qv_dt_ws_len(c, c->i)) == 0) break;
        c->i += n;
    }
    size_t left = c->len - c->i;
    if (left >= 2) {
        if (!(u[c->i] >= '0' && u[c->i] <= '5') || !(u[c->i + 1] >= '0' && u[c->i + 1] <= '9'))
            return false;
        mm = (u[c->i] - '0') * 10 + (u[c->i + 1] - '0');
        c->i += 2;
    } else if (!missing_minutes || left == 1) {
        return false;
    }
    *secs = sign * (hh * 3600 + mm * 60);
    return hh * 3600 + mm * 60 < 86400; /* FixedOffset's range */
}

/* The date items of every form: %Y-%m-%d, with R's optional whitespace
 * before each '-'. */
static bool qv_dt_date(qv_dt_cursor *c, bool relaxed, qv_dt_fields *f) {
    if (!qv_dt_year(c, &f->year)) return false;
    if (relaxed) qv_dt_skip_ws(c);
    if (!qv_dt_lit(c, '-') || !qv_dt_num_item(c, 2, &f->month)) return false;
    if (relaxed) qv_dt_skip_ws(c);
    return qv_dt_lit(c, '-') && qv_dt_num_item(c, 2, &f->day);
}

/* %H:%M[:%S%.f], with R's optional whitespace before each ':'. */
static bool qv_dt_clock(qv_dt_cursor *c, bool relaxed, bool seconds, qv_dt_fields *f) {
    if (!qv_dt_num_item(c, 2, &f->hour)) return false;
    if (relaxed) qv_dt_skip_ws(c);
    if (!qv_dt_lit(c, ':') || !qv_dt_num_item(c, 2, &f->minute)) return false;
    if (!seconds) return true;
    if (relaxed) qv_dt_skip_ws(c);
    return qv_dt_lit(c, ':') && qv_dt_num_item(c, 2, &f->second) && qv_dt_fraction(c, &f->nano);
}

/* R: chrono's relaxed RFC 3339 (DateTime<FixedOffset>::from_str). */
static bool qv_dt_relaxed(qv_dt_cursor *c, qv_dt_fields *f) {
    if (!qv_dt_date(c, true, f) || c->i == c->len) return false;
    char sep = c->s[c->i++];
    if (sep != 'T' && sep != 't' && sep != ' ') return false;
    if (!qv_dt_clock(c, true, true, f)) return false;
    qv_dt_skip_ws(c);
    if (c->len - c->i >= 3 && (c->s[c->i] | 32) == 'u' && (c->s[c->i + 1] | 32) == 't' &&
        (c->s[c->i + 2] | 32) == 'c') {
        c->i += 3;
        f->offset = 0;
    } else if (!qv_dt_offset(c, false, &f->offset)) {
        return false;
    }
    qv_dt_skip_ws(c);
    return c->i == c->len;
}

/* The strftime forms F3-F8: sep is 'T' (a literal) or ' ' (any whitespace);
 * what follows the date is selected by the other flags. */
static bool qv_dt_format(qv_dt_cursor *c, char sep, bool time, bool seconds, bool offset,
                         qv_dt_fields *f) {
    if (!qv_dt_date(c, false, f)) return false;
    if (time) {
        if (sep == 'T' && !qv_dt_lit(c, 'T')) return false;
        if (sep == ' ') qv_dt_skip_ws(c);
        if (!qv_dt_clock(c, false, seconds, f)) return false;
        if (offset) {
            qv_dt_skip_ws(c);
            if (!qv_dt_offset(c, true, &f->offset)) return false;
        }
    }
    return c->i == c->len;
}

static bool qv_dt_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int qv_dt_mdays(int64_t y, int m) {
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && qv_dt_leap(y) ? 29 : md[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t qv_dt_days(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define QV_DT_MIN_YEAR (-262143)
#define QV_DT_MAX_YEAR 262142

/* Checks the fields as chrono does and converts them to UTC. */
static bool qv_dt_finish(const qv_dt_fields *f, qv_filter_time *out) {
    if (f->year < QV_DT_MIN_YEAR || f->year > QV_DT_MAX_YEAR || f->month < 1 || f->month > 12 ||
        f->day < 1 || f->day > qv_dt_mdays(f->year, f->month) || f->hour > 23 || f->minute > 59 ||
        f->second > 60)
        return false;
    bool leap = f->second == 60;
    int64_t sec = qv_dt_days(f->year, f->month, f->day) * 86400 + f->hour * 3600 + f->minute * 60 +
                  (leap ? 59 : f->second) - f->offset;
    static const int64_t lo = -96465292 * (int64_t)86400;    /* -262143-01-01T00:00:00Z */
    static const int64_t hi = 95026237 * (int64_t)86400 - 1; /* 262142-12-31T23:59:59Z */
    if (sec < lo || sec > hi) return false;
    out->sec = sec;
    out->nsec = f->nano + (leap ? 1000000000 : 0);
    return true;
}

bool qv_filter_parse_time(const char *s, size_t len, qv_filter_time *out) {
    /* {sep, time, seconds, offset} of F3..F8 */
    static const struct {
        char sep;
        bool time, seconds, offset;
    } forms[] = {{'T', true, true, true},  {' ', true, true, true},   {'T', true, true, false},
                 {' ', true, true, false}, {' ', true, false, false}, {' ', false, false, false}};
    qv_dt_fields f;
    qv_dt_cursor c = {s, len, 0};
    memset(&f, 0, sizeof f);
    if (qv_dt_relaxed(&c, &f) && qv_dt_finish(&f, out)) return true;
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        c.i = 0;
        memset(&f, 0, sizeof f);
        if (qv_dt_format(&c, forms[k].sep, forms[k].time, forms[k].seconds, forms[k].offset, &f) &&
            qv_dt_finish(&f, out))
            return true;
    }
    return false;
}

static int qv_filter_time_cmp(const qv_filter_time *a, const qv_filter_time *b) {
    if (a->sec != b->sec) return a->sec < b->sec ? -1 : 1;
    return (a->nsec > b->nsec) - (a->nsec < b->nsec);
}

/* ======================================================================
 * Match
 * ====================================================================== */

static bool qv_filter_str_eq(const qv_filter_str *q, const jv *v) {
    return v->type == JV_STR && v->len == q->len && memcmp(v->v.s, q->s, q->len) == 0;
}

/* A payload integer as Qdrant's match sees it: JV_INT only (a JV_UINT is
 * above every i64 a condition can hold, a JV_DBL is never an integer). */
static bool qv_filter_int_eq(int64_t q, const jv *v) {
    return v->type == JV_INT && v->v.i == q;
}

static bool qv_filter_in_strs(const qv_filter_matcher *m, const jv *v) {
    for (size_t k = 0; k < m->v.set.n; k++)
        if (qv_filter_str_eq(&m->v.set.strs[k], v)) return true;
    return false;
}

static bool qv_filter_in_ints(const qv_filter_matcher *m, const jv *v) {
    for (size_t k = 0; k < m->v.set.n; k++)
        if (qv_filter_int_eq(m->v.set.ints[k], v)) return true;
    return false;
}

static bool qv_filter_contains(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    if (nlen == 0) return true;
    if (nlen > hlen) return false;
    return memmem(hay, hlen, needle, nlen) != NULL;
}

#if QV_FILTER_TEXT_TOKENS
/* ---- local mode's tokenized text matching ---- */

static bool qv_filter_tok_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Next token of s[*i..len) into ts and tl; false at the end. */
static bool qv_filter_next_tok(const char *s, size_t len, size_t *i, size_t *ts, size_t *tl) {
    while (*i < len && !qv_filter_tok_byte((unsigned char)s[*i])) (*i)++;
    if (*i == len) return false;
    *ts = *i;
    while (*i < len && qv_filter_tok_byte((unsigned char)s[*i])) (*i)++;
    *tl = *i - *ts;
    return true;
}

static bool qv_filter_tok_eq(const char *a, const char *b, size_t n) {
    for (size_t k = 0; k < n; k++) {
        unsigned char x = (unsigned char)a[k], y = (unsigned char)b[k];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return false;
    }
    return true;
}

static bool qv_filter_has_tok(const char *s, size_t len, const char *t, size_t tl) {
    size_t i = 0, ts, l;
    while (qv_filter_next_tok(s, len, &i, &ts, &l))
        if (l == tl && qv_filter_tok_eq(s + ts, t, tl)) return true;
    return false;
}

/* all: every query token present (text); else one is enough (text_any). */
static bool qv_filter_text_tokens(const qv_filter_str *q, const jv *v, bool all) {
    size_t i = 0, ts, tl;
    bool any = false;
    while (qv_filter_next_tok(q->s, q->len, &i, &ts, &tl)) {
        bool has = qv_filter_has_tok(v->v.s, v->len, q->s + ts, tl);
        if (all && !has) return false;
        if (!all && has) return true;
        any = true;
    }
    return all && any;
}

/* Whether the query tokens occur consecutively starting at token position
 * from of the document. */
static bool qv_filter_phrase_at(const qv_filter_str *q, const jv *v, size_t from) {
    size_t qi = 0, di = from, qs, ql, ds, dl;
    while (qv_filter_next_tok(q->s, q->len, &qi, &qs, &ql)) {
        if (!qv_filter_next_tok(v->v.s, v->len, &di, &ds, &dl)) return false;
        if (ql != dl || !qv_filter_tok_eq(q->s + qs, v->v.s + ds, ql)) return false;
    }
    return true;
}

static bool qv_filter_phrase(const qv_filter_str *q, const jv *v) {
    size_t qi = 0, qs, ql, di = 0, ds, dl;
    if (!qv_filter_next_tok(q->s, q->len, &qi, &qs, &ql)) return false;
    while (qv_filter_next_tok(v->v.s, v->len, &di, &ds, &dl))
        if (qv_filter_phrase_at(q, v, ds)) return true;
    return false;
}

static bool qv_filter_text(const qv_filter_matcher *m, const jv *v) {
    if (m->kind == QV_FILTER_MATCH_PHRASE) return qv_filter_phrase(&m->v.str, v);
    return qv_filter_text_tokens(&m->v.str, v, m->kind == QV_FILTER_MATCH_TEXT);
}
#else
/* ---- the server's substring matching (COMPAT-NOTES) ---- */

static bool qv_filter_is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool qv_filter_text_any(const qv_filter_str *q, const jv *v) {
    size_t i = 0;
    while (i < q->len) {
        while (i < q->len && qv_filter_is_space(q->s[i])) i++;
        size_t start = i;
        while (i < q->len && !qv_filter_is_space(q->s[i])) i++;
        if (i > start && qv_filter_contains(v->v.s, v->len, q->s + start, i - start)) return true;
    }
    return false;
}

static bool qv_filter_text(const qv_filter_matcher *m, const jv *v) {
    if (m->kind == QV_FILTER_MATCH_TEXT_ANY) return qv_filter_text_any(&m->v.str, v);
    return qv_filter_contains(v->v.s, v->len, m->v.str.s, m->v.str.len);
}
#endif

/* One flattened payload value against a match. */
static bool qv_filter_match_value(const qv_filter_matcher *m, const jv *v) {
    switch (m->kind) {
    case QV_FILTER_MATCH_KEYWORD:
        return qv_filter_str_eq(&m->v.str, v);
    case QV_FILTER_MATCH_INTEGER:
        return qv_filter_int_eq(m->v.i, v);
    case QV_FILTER_MATCH_BOOL:
        return v->type == JV_BOOL && (v->v.b != 0) == m->v.b;
    case QV_FILTER_MATCH_ANY_STR:
        return qv_filter_in_strs(m, v);
    case QV_FILTER_MATCH_ANY_INT:
        return qv_filter_in_ints(m, v);
    /* except: a null is absence, not a value differing from the list */
    case QV_FILTER_MATCH_EXCEPT_STR:
        return v->type != JV_NULL && !qv_filter_in_strs(m, v);
    case QV_FILTER_MATCH_EXCEPT_INT:
        return v->type != JV_NULL && !qv_filter_in_ints(m, v);
    case QV_FILTER_MATCH_TEXT:
    case QV_FILTER_MATCH_TEXT_ANY:
    case QV_FILTER_MATCH_PHRASE:
        return v->type == JV_STR && qv_filter_text(m, v);
    case QV_FILTER_MATCH_PREFIX:
        return v->type == JV_STR && v->len >= m->v.str.len &&
               memcmp(v->v.s, m->v.str.s, m->v.str.len) == 0;
    case QV_FILTER_MATCH_SUBSTRING:
        return v->type == JV_STR && qv_filter_contains(v->v.s, v->len, m->v.str.s, m->v.str.len);
    default:
        return false;
    }
}

/* ======================================================================
 * Ranges, geo, counts
 * ====================================================================== */

/* A resolved payload number as a double; booleans are not numbers. */
bool qv_filter_num(const jv *v, double *out) {
    switch (v->type) {
    case JV_INT:
        *out = (double)v->v.i;
        return true;
    case JV_UINT:
        *out = (double)v->v.u;
        return true;
    case JV_DBL:
        *out = v->v.d;
        return true;
    case JV_NUM:
        return jv_to_f64(v, out);
    default:
        return false;
    }
}

static bool qv_filter_range_value(const qv_filter_range *r, const jv *v) {
    double x;
    if (!qv_filter_num(v, &x)) return false;
    return (!(r->set & QV_FILTER_LT) || x < r->lt) && (!(r->set & QV_FILTER_LTE) || x <= r->lte) &&
           (!(r->set & QV_FILTER_GT) || x > r->gt) && (!(r->set & QV_FILTER_GTE) || x >= r->gte);
}

static bool qv_filter_dt_value(const qv_filter_dtrange *r, const jv *v) {
    qv_filter_time t;
    if (v->type != JV_STR || !qv_filter_parse_time(v->v.s, v->len, &t)) return false;
    return (!(r->set & QV_FILTER_LT) || qv_filter_time_cmp(&t, &r->lt) < 0) &&
           (!(r->set & QV_FILTER_LTE) || qv_filter_time_cmp(&t, &r->lte) <= 0) &&
           (!(r->set & QV_FILTER_GT) || qv_filter_time_cmp(&t, &r->gt) > 0) &&
           (!(r->set & QV_FILTER_GTE) || qv_filter_time_cmp(&t, &r->gte) >= 0);
}

/* A payload geo point: an object whose lat and lon are finite numbers. */
static bool qv_filter_geo_point(const jv *v, qv_geo_point *p) {
    if (v->type != JV_OBJ) return false;
    const jv *lat = jv_get(v, "lat"), *lon = jv_get(v, "lon");
    return lat && lon && qv_filter_num(lat, &p->lat) && qv_filter_num(lon, &p->lon) &&
           isfinite(p->lat) && isfinite(p->lon);
}

/* Borders are exclusive; a box whose left edge is east of its right edge
 * wraps across the antimeridian. */
static bool qv_filter_box_value(const qv_filter_geo_box *b, const jv *v) {
    qv_geo_point p;
    if (!qv_filter_geo_point(v, &p)) return false;
    bool lon_ok = b->top_left.lon > b->bottom_right.lon
                      ? (p.lon > b->top_left.lon || p.lon < b->bottom_right.lon)
                      : (b->top_left.lon < p.lon && p.lon < b->bottom_right.lon);
    return lon_ok && b->top_left.lat > p.lat && p.lat > b->bottom_right.lat;
}

#define QV_FILTER_EARTH_RADIUS 6371008.8

/* Haversine distance in metres, written in the same operation order as the
 * reference implementation so that points on the border agree bit for bit. */
static double qv_filter_haversine(double lon1, double lat1, double lon2, double lat2) {
    const double rad = M_PI / 180.0;
    lon1 *= rad, lat1 *= rad, lon2 *= rad, lat2 *= rad;
    double sdlat = sin((lat2 - lat1) / 2), sdlon = sin((lon2 - lon1) / 2);
    double a = sdlat * sdlat + cos(lat1) * cos(lat2) * (sdlon * sdlon);
    return QV_FILTER_EARTH_RADIUS * (2 * asin(sqrt(a)));
}

static bool qv_filter_radius_value(const qv_filter_geo_radius *r, const jv *v) {
    qv_geo_point p;
    if (!qv_filter_geo_point(v, &p)) return false;
    return qv_filter_haversine(p.lon, p.lat, r->center.lon, r->center.lat) < r->radius;
}

/* Even-odd test of pt against ring in the (lat, lon) plane.  A point on the
 * boundary gives on_border.  A closing point equal to the first is ignored. */
static bool qv_filter_in_ring(const qv_geo_point *pt, const qv_geo_ring *ring, bool on_border) {
    size_t n = ring->n;
    const qv_geo_point *r = ring->pts;
    if (n > 0 && r[0].lat == r[n - 1].lat && r[0].lon == r[n - 1].lon) n--;
    bool inside = false;
    double x = pt->lat, y = pt->lon;
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        double xi = r[i].lat, yi = r[i].lon, xj = r[j].lat, yj = r[j].lon;
        if (y * (xi - xj) + yi * (xj - x) + yj * (x - xi) == 0 && (xi - x) * (xj - x) <= 0 &&
            (yi - y) * (yj - y) <= 0)
            return on_border;
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
}

static bool qv_filter_polygon_value(const qv_filter_geo_polygon *g, const jv *v) {
    qv_geo_point p;
    if (!qv_filter_geo_point(v, &p) || g->exterior.n == 0) return false;
    if (!qv_filter_in_ring(&p, &g->exterior, false)) return false;
    for (size_t k = 0; k < g->ninteriors; k++)
        if (g->interiors[k].n && qv_filter_in_ring(&p, &g->interiors[k], true)) return false;
    return true;
}

/* ======================================================================
 * Conditions
 * ====================================================================== */

/* Per-value predicates over the flattened values of a field condition. */
static bool qv_filter_visit_field(void *ctx, const jv *v) {
    const qv_filter_cond *c = ctx;
    switch (c->kind) {
    case QV_FILTER_COND_MATCH:
        return qv_filter_match_value(&c->u.match, v);
    case QV_FILTER_COND_RANGE:
        return qv_filter_range_value(&c->u.range, v);
    case QV_FILTER_COND_DATETIME:
        return qv_filter_dt_value(&c->u.dt, v);
    case QV_FILTER_COND_GEO_BOX:
        return qv_filter_box_value(&c->u.box, v);
    case QV_FILTER_COND_GEO_RADIUS:
        return qv_filter_radius_value(&c->u.radius, v);
    case QV_FILTER_COND_GEO_POLYGON:
        return qv_filter_polygon_value(&c->u.polygon, v);
    default:
        return false;
    }
}

bool qv_filter_value_match(const qv_filter_cond *c, const jv *v) {
    return qv_filter_visit_field((void *)c, v);
}

/* is_empty stops at the first non-empty value: anything but null and []. */
static bool qv_filter_visit_nonempty(void *ctx, const jv *v) {
    (void)ctx;
    return !(v->type == JV_NULL || (v->type == JV_ARR && v->len == 0));
}

/* is_null: null itself, or an array holding a null one level down. */
static bool qv_filter_visit_null(void *ctx, const jv *v) {
    (void)ctx;
    if (v->type == JV_NULL) return true;
    if (v->type != JV_ARR) return false;
    for (uint32_t k = 0; k < v->len; k++)
        if (v->v.items[k].type == JV_NULL) return true;
    return false;
}

static bool qv_filter_count_ok(const qv_filter_count *c, uint64_t n) {
    return (!(c->set & QV_FILTER_LT) || n < c->lt) && (!(c->set & QV_FILTER_LTE) || n <= c->lte) &&
           (!(c->set & QV_FILTER_GT) || n > c->gt) && (!(c->set & QV_FILTER_GTE) || n >= c->gte);
}

typedef struct qv_filter_count_ctx {
    const qv_filter_count *c;
    bool seen;
} qv_filter_count_ctx;

/* values_count counts each selected value on its own (an array its length,
 * null 0, anything else 1); one count satisfying every bound is enough. */
static bool qv_filter_visit_count(void *ctx, const jv *v) {
    qv_filter_count_ctx *cc = ctx;
    cc->seen = true;
    uint64_t n = v->type == JV_ARR ? v->len : v->type == JV_NULL ? 0 : 1;
    return qv_filter_count_ok(cc->c, n);
}

static bool qv_filter_values_count(const qv_filter_cond *c, const jv *payload) {
    qv_filter_count_ctx cc = {&c->u.count, false};
    if (qv_keypath_any(c->key, payload, false, qv_filter_visit_count, &cc)) return true;
    return !cc.seen && qv_filter_count_ok(&c->u.count, 0); /* missing counts as 0 */
}

/* nested: run the filter on every object element of the arrays at key, with
 * no point identity (local mode evaluates them with a sentinel id and no
 * vectors, so has_id / has_vector / slice cannot match inside). */
static bool qv_filter_visit_nested(void *ctx, const jv *v) {
    const qv_filter *f = ctx;
    if (v->type != JV_ARR) return false;
    for (uint32_t k = 0; k < v->len; k++) {
        if (v->v.items[k].type != JV_OBJ) continue;
        qv_filter_point el = {NULL, &v->v.items[k], NULL, NULL, NULL};
        if (qv_filter_match(f, &el)) return true;
    }
    return false;
}

static bool qv_filter_has_id(const qv_filter_cond *c, const qv_pointid *id) {
    size_t lo = 0, hi = c->u.ids.n;
    if (!id) return false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = qv_pointid_cmp(&c->u.ids.ids[mid], id);
        if (r == 0) return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool qv_filter_cond_match(const qv_filter_cond *c, const qv_filter_point *p) {
    if (p->cond) {
        int known = p->cond(p->ctx, c);
        if (known >= 0) return known != 0;
    }
    switch (c->kind) {
    case QV_FILTER_COND_FILTER:
        return qv_filter_match(c->u.filter, p);
    case QV_FILTER_COND_IS_EMPTY:
        return !qv_keypath_any(c->key, p->payload, false, qv_filter_visit_nonempty, NULL) !=
               c->negate;
    case QV_FILTER_COND_IS_NULL:
        return qv_keypath_any(c->key, p->payload, false, qv_filter_visit_null, NULL) != c->negate;
    case QV_FILTER_COND_VALUES_COUNT:
        return qv_filter_values_count(c, p->payload);
    case QV_FILTER_COND_HAS_ID:
        return qv_filter_has_id(c, p->id);
    case QV_FILTER_COND_HAS_VECTOR:
        return p->has_vector && p->has_vector(p->ctx, c->u.vector);
    case QV_FILTER_COND_SLICE:
        return p->id && c->u.slice.total &&
               qv_filter_slice_hash(p->id) % c->u.slice.total == c->u.slice.index;
    case QV_FILTER_COND_NESTED:
        return qv_keypath_any(c->key, p->payload, false, qv_filter_visit_nested,
                              (void *)c->u.filter);
    default:
        return qv_keypath_any(c->key, p->payload, true, qv_filter_visit_field, (void *)c);
    }
}

static size_t qv_filter_count_matches(const qv_filter_list *l, const qv_filter_point *p,
                                      size_t enough) {
    size_t n = 0;
    for (size_t k = 0; k < l->n && n < enough; k++) n += qv_filter_cond_match(&l->conds[k], p);
    return n;
}

bool qv_filter_match(const qv_filter *f, const qv_filter_point *p) {
    if (!f) return true;
    for (size_t k = 0; k < f->must.n; k++)
        if (!qv_filter_cond_match(&f->must.conds[k], p)) return false;
    for (size_t k = 0; k < f->must_not.n; k++)
        if (qv_filter_cond_match(&f->must_not.conds[k], p)) return false;
    /* an empty should states no alternatives: it is no constraint */
    if (f->should.n && qv_filter_count_matches(&f->should, p, 1) == 0) return false;
    if (f->min_count && qv_filter_count_matches(&f->min_should, p, f->min_count) < f->min_count)
        return false;
    return true;
}

/* ======================================================================
 * Slice hashing: SipHash-2-4 with a zero key
 * ====================================================================== */

#define QV_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void qv_filter_sipround(uint64_t v[4]) {
    v[0] += v[1], v[1] = QV_ROTL(v[1], 13), v[1] ^= v[0], v[0] = QV_ROTL(v[0], 32);
    v[2] += v[3], v[3] = QV_ROTL(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = QV_ROTL(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = QV_ROTL(v[1], 17), v[1] ^= v[2], v[2] = QV_ROTL(v[2], 32);
}

static uint64_t qv_filter_siphash(const uint8_t *d, size_t len) {
    uint64_t v[4] = {0x736f6d6570736575ULL, 0x646f72616e646f6dULL, 0x6c7967656e657261ULL,
                     0x7465646279746573ULL};
    size_t full = len - len % 8;
    for (size_t off = 0; off <= full; off += 8) {
        uint64_t m = 0;
        size_t take = off < full ? 8 : len - full;
        for (size_t k = 0; k < take; k++) m |= (uint64_t)d[off + k] << (8 * k);
        if (off == full) m |= (uint64_t)(len & 0xff) << 56; /* final block */
        v[3] ^= m;
        qv_filter_sipround(v);
        qv_filter_sipround(v);
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for (int k = 0; k < 4; k++) qv_filter_sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t qv_filter_slice_hash(const qv_pointid *id) {
    uint8_t b[16];
    if (!id->is_uuid) {
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)(id->lo >> (8 * k));
        return qv_filter_siphash(b, 8);
    }
    for (int k = 0; k < 8; k++) {
        b[k] = (uint8_t)(id->hi >> (56 - 8 * k));
        b[8 + k] = (uint8_t)(id->lo >> (56 - 8 * k));
    }
    return qv_filter_siphash(b, 16);
}

/* ======================================================================
 * Constructors
 * ====================================================================== */

qv_filter *qv_filter_new(qv_arena *a) {
    return qv_arena_calloc(a, sizeof(qv_filter));
}

/* Lists grow by doubling inside the arena; the old array is abandoned (the
 * arena frees it with everything else).  Capacity is implied by n: the array
 * is reallocated whenever n reaches a power of two. */
qv_filter_cond *qv_filter_list_push(qv_arena *a, qv_filter_list *l) {
    if (l->n == 0 || (l->n & (l->n - 1)) == 0) {
        size_t cap = l->n ? l->n * 2 : 1;
        qv_filter_cond *nc = qv_arena_alloc(a, cap * sizeof *nc);
        if (!nc) return NULL;
        if (l->n) memcpy(nc, l->conds, l->n * sizeof *nc);
        l->conds = nc;
    }
    qv_filter_cond *c = &l->conds[l->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static int qv_filter_id_cmp(const void *a, const void *b) {
    return qv_pointid_cmp(a, b);
}

bool qv_filter_set_ids(qv_arena *a, qv_filter_cond *c, const qv_pointid *ids, size_t n) {
    qv_pointid *copy = qv_arena_alloc(a, (n ? n : 1) * sizeof *copy);
    if (!copy) return false;
    if (n) memcpy(copy, ids, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, qv_filter_id_cmp);
    size_t w = 0;
    for (size_t k = 0; k < n; k++)
        if (w == 0 || !qv_pointid_eq(&copy[w - 1], &copy[k])) copy[w++] = copy[k];
    c->kind = QV_FILTER_COND_HAS_ID;
    c->u.ids.ids = copy;
    c->u.ids.n = w;
    return true;
}
