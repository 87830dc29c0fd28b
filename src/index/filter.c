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
        if (!q) return false;
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
 * Qdrant accepts a fixed list of chrono formats (types.rs); the Python local
 * mode mirrors them with strptime.  One reader covers them all: a date, an
 * optional time (minutes required, seconds optional), an optional fraction
 * after seconds and an optional offset after seconds.  Local mode truncates
 * fractions to microseconds; we keep nanoseconds as the server does.
 * ====================================================================== */

typedef struct qv_dt_cursor {
    const char *s;
    size_t len, i;
} qv_dt_cursor;

/* Reads between min and max digits as a number; false if fewer than min. */
static bool qv_dt_digits(qv_dt_cursor *c, int min, int max, int *out) {
    int v = 0, n = 0;
    while (n < max && c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        v = v * 10 + (c->s[c->i++] - '0');
        n++;
    }
    *out = v;
    return n >= min;
}

static bool qv_dt_lit(qv_dt_cursor *c, char ch) {
    if (c->i < c->len && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static bool qv_dt_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int qv_dt_mdays(int y, int m) {
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && qv_dt_leap(y) ? 29 : md[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t qv_dt_days(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Offset "Z", "+HH:MM", "+HHMM", "+HH" or "UTC" (after a space) to seconds
 * east of UTC; must consume the rest of the string. */
static bool qv_dt_offset(qv_dt_cursor *c, bool after_space, int *secs) {
    const char *r = c->s + c->i;
    size_t n = c->len - c->i;
    *secs = 0;
    if (n == 1 && (r[0] == 'Z' || r[0] == 'z')) return true;
    if (n == 3 && after_space && memcmp(r, "UTC", 3) == 0) return true;
    if (r[0] != '+' && r[0] != '-') return false;
    int sign = r[0] == '-' ? -1 : 1, hh, mm = 0;
    c->i++;
    if (!qv_dt_digits(c, 2, 2, &hh) || hh > 23) return false;
    if (c->i < c->len) {
        qv_dt_lit(c, ':');
        if (!qv_dt_digits(c, 2, 2, &mm) || mm > 59) return false;
    }
    *secs = sign * (hh * 3600 + mm * 60);
    return c->i == c->len;
}

/* Reads ".fraction" (any number of digits, nanoseconds kept). */
static bool qv_dt_fraction(qv_dt_cursor *c, int32_t *nsec) {
    int32_t v = 0;
    int n = 0;
    while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        if (n < 9) v = v * 10 + (c->s[c->i] - '0');
        n++;
        c->i++;
    }
    if (n == 0) return false;
    for (; n < 9; n++) v *= 10;
    *nsec = v;
    return true;
}

/* Reads the time part after the date separator; returns seconds of day. */
static bool qv_dt_time(qv_dt_cursor *c, int64_t *tod, int32_t *nsec, int *off) {
    int hh, mi, ss = 0;
    if (!qv_dt_digits(c, 1, 2, &hh) || hh > 23 || !qv_dt_lit(c, ':')) return false;
    if (!qv_dt_digits(c, 1, 2, &mi) || mi > 59) return false;
    *tod = hh * 3600 + mi * 60;
    if (c->i == c->len) return true; /* "%H:%M" has no offset form */
    if (!qv_dt_lit(c, ':') || !qv_dt_digits(c, 1, 2, &ss) || ss > 59) return false;
    *tod += ss;
    if (qv_dt_lit(c, '.') && !qv_dt_fraction(c, nsec)) return false;
    if (c->i == c->len) return true;
    bool space = qv_dt_lit(c, ' ');
    return c->i < c->len && qv_dt_offset(c, space, off);
}

bool qv_filter_parse_time(const char *s, size_t len, qv_filter_time *out) {
    qv_dt_cursor c = {s, len, 0};
    while (c.i < len && (s[c.i] == ' ' || (s[c.i] >= '\t' && s[c.i] <= '\r'))) c.i++;
    int y, m, d, off = 0;
    int64_t tod = 0;
    int32_t nsec = 0;
    if (!qv_dt_digits(&c, 4, 4, &y) || y < 1 || !qv_dt_lit(&c, '-')) return false;
    if (!qv_dt_digits(&c, 1, 2, &m) || m < 1 || m > 12 || !qv_dt_lit(&c, '-')) return false;
    if (!qv_dt_digits(&c, 1, 2, &d) || d < 1 || d > qv_dt_mdays(y, m)) return false;
    if (c.i < len) {
        if (s[c.i] != 'T' && s[c.i] != ' ') return false;
        c.i++;
        if (!qv_dt_time(&c, &tod, &nsec, &off)) return false;
    }
    out->sec = qv_dt_days(y, m, d) * 86400 + tod - off;
    out->nsec = nsec;
    return true;
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
static bool qv_filter_num(const jv *v, double *out) {
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
