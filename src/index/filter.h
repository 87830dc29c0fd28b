/*
 * filter.h - Qdrant's filter language: key paths, the filter tree, and its
 * evaluation against one point by scan.
 *
 * What it is.  A qv_filter is the boolean tree of a request's "filter": the
 * clauses must (all), should (at least one; an empty list is no constraint),
 * must_not (none) and min_should (at least min_count of its conditions).  Each
 * clause holds conditions; a condition is a payload test on a key path
 * (match, range, datetime range, geo, values_count, is_empty, is_null), a
 * point test (has_id, has_vector, slice), a nested filter applied to each
 * object of an array (nested), or a whole sub-filter.
 *
 * Who builds it.  The REST layer decodes JSON with qv_filter_from_json()
 * (api/json_filter.h); the gRPC layer builds the same structs from protobuf.
 * Both go through the constructors below, which copy their inputs into the
 * caller's arena and put lists into the order the evaluator expects (has_id
 * sorted).  Everything of a filter lives in one qv_arena and is freed with it;
 * a built filter is immutable and may be evaluated from many threads.
 *
 * Semantics.  They follow Qdrant, checked value by value against the Python
 * client's local mode (tests/unit/gen_filter_cases.py keeps that oracle):
 *  - A field condition selects the values at its key, unwrapping a final
 *    array one level ({"a":[1,[2]]} gives 1 and [2]), and matches when ANY
 *    value does.  A missing key has no values and never matches, except for
 *    is_empty (true), values_count (counts 0) and the negated forms.
 *  - match.value / any / except compare by JSON type: the integer 1 never
 *    equals 1.0 or true.  any [] matches nothing; except [] matches any
 *    non-null value; except never matches a null.
 *  - range compares numbers (never booleans) as doubles; a range with
 *    datetime strings compares payload strings parsed as datetimes
 *    (qv_filter_parse_time: the server's formats, nanoseconds kept).
 *  - is_empty: no values at all, or every value is null or [].
 *    is_null: some value is null or an array holding a null (one level).
 *  - values_count: each selected value counts 1, an array its length, null
 *    0; a missing key counts 0; it matches if one count satisfies every bound.
 *  - geo: the value must be an object with finite numeric lat/lon (their
 *    range is not checked: {"lat":95,...} is a point to every condition, and
 *    an index must keep it); borders are exclusive (bounding box, radius).
 *    A box whose top_left.lon is east of its bottom_right.lon crosses the
 *    antimeridian; a latitude border of +-90 excludes the pole itself.
 *    Radius uses the haversine formula on a sphere of 6,371,008.8 m, so a
 *    circle may cover a pole or cross the antimeridian.  Polygons are planar
 *    in (lat, lon) as in Qdrant (geo crate) and local mode: a polygon never
 *    wraps; it excludes its boundary and its holes, a hole's boundary
 *    included; a degenerate (collinear) polygon contains nothing.  A ring
 *    is closed when its ends differ by at most DBL_EPSILON per coordinate.
 *  - nested {key, filter}: the filter runs on each object element of the
 *    arrays at key (key may end in "[]"); non-objects are skipped.  Inside
 *    it has_id, has_vector and slice never match (there is no point).
 *  - A field condition that sets several tests evaluates only the first of
 *    values_count, is_empty, is_null, match, range, geo_bounding_box,
 *    geo_radius, geo_polygon (as local mode does); the decoder builds one
 *    condition per test in that order and keeps only the first.
 *  - match.text / phrase / text_any on an unindexed field: see
 *    QV_FILTER_TEXT_TOKENS in filter.c.
 *
 * What it does not do: indexes, cardinality estimation and query planning
 * live elsewhere; this file is the reference check every index result must
 * agree with.
 */
#ifndef QV_INDEX_FILTER_H
#define QV_INDEX_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"

/* ======================================================================
 * Key paths (Qdrant's JsonPath)
 *
 * Grammar: segment ('.' segment | '[' ']' | '[' digits ']')*, where a segment
 * is a run of letters, digits, '_' and '-' (any non-ASCII UTF-8 byte counts
 * as a letter: Qdrant takes Unicode alphanumerics only, so a few keys it
 * refuses, such as emoji, pass here), or a double-quoted name without
 * escapes ("b.c" may hold dots, spaces, anything but '"' and a backslash).  Brackets follow a
 * segment directly: "a[].b", "a[0][1]", "\"x y\"[]".  The empty path, a leading '[' or '.', a
 * trailing '.', "a..b" and "a[x]" are invalid.
 * ====================================================================== */

typedef enum qv_keypath_kind {
    QV_KEYPATH_KEY = 0, /* object member .name */
    QV_KEYPATH_INDEX,   /* array element [n] */
    QV_KEYPATH_ALL,     /* every array element [] */
} qv_keypath_kind;

typedef struct qv_keypath_seg {
    uint32_t kind;    /* qv_keypath_kind */
    uint32_t len;     /* KEY: bytes of name */
    const char *name; /* KEY: NUL-terminated, in the arena */
    uint64_t index;   /* INDEX */
} qv_keypath_seg;

typedef struct qv_keypath {
    uint32_t nseg;
    qv_keypath_seg *segs;
    const char *text; /* the source text, NUL-terminated (for messages, facets) */
    size_t text_len;
} qv_keypath;

/* Parses s[0..len) into *out (allocated in a).  On a syntax error returns
 * QV_EFORMAT with "Invalid JSON path `<s>`"; QV_ENOMEM when a is exhausted. */
qv_rc qv_keypath_parse(qv_arena *a, const char *s, size_t len, qv_keypath **out, qv_err *err);

/* Calls cb once per value the path selects in payload, in document order:
 * a KEY segment descends into an object member (the last one of that name),
 * INDEX into one array element, ALL into each element.  A value that is
 * itself an array when the path ends is FLATTENED one level: each of its
 * elements is reported instead (nothing for []), which is how filters, facets
 * and order_by see values.  Nothing is reported for a missing path; a null is
 * reported as a JV_NULL value.  payload may be NULL.  The pointers passed to
 * cb borrow from payload. */
void qv_keypath_values(const qv_keypath *p, const jv *payload, void (*cb)(void *ctx, const jv *val),
                       void *ctx);

/* As qv_keypath_values without the final flattening: an array at the end of
 * the path is reported as one value (is_empty, values_count, set_payload). */
void qv_keypath_values_raw(const qv_keypath *p, const jv *payload,
                           void (*cb)(void *ctx, const jv *val), void *ctx);

/* Short-circuiting walk: visit returns true to stop; returns true if some
 * visit did.  flatten selects between the two behaviours above. */
bool qv_keypath_any(const qv_keypath *p, const jv *payload, bool flatten,
                    bool (*visit)(void *ctx, const jv *val), void *ctx);

/* ======================================================================
 * Filter tree
 * ====================================================================== */

typedef struct qv_filter qv_filter;
typedef struct qv_filter_cond qv_filter_cond;

typedef enum qv_filter_kind {
    QV_FILTER_COND_FILTER = 1,   /* u.filter: a nested boolean filter */
    QV_FILTER_COND_MATCH,        /* key, u.match */
    QV_FILTER_COND_RANGE,        /* key, u.range (numbers) */
    QV_FILTER_COND_DATETIME,     /* key, u.dt (RFC 3339 strings) */
    QV_FILTER_COND_GEO_BOX,      /* key, u.box */
    QV_FILTER_COND_GEO_RADIUS,   /* key, u.radius */
    QV_FILTER_COND_GEO_POLYGON,  /* key, u.polygon */
    QV_FILTER_COND_VALUES_COUNT, /* key, u.count */
    QV_FILTER_COND_IS_EMPTY,     /* key; negate: the FieldCondition form is_empty:false */
    QV_FILTER_COND_IS_NULL,      /* key; negate: is_null:false */
    QV_FILTER_COND_HAS_ID,       /* u.ids */
    QV_FILTER_COND_HAS_VECTOR,   /* u.vector ("" = unnamed default vector) */
    QV_FILTER_COND_NESTED,       /* key (without a trailing []), u.filter */
    QV_FILTER_COND_SLICE,        /* u.slice */
} qv_filter_kind;

typedef enum qv_filter_match_kind {
    QV_FILTER_MATCH_KEYWORD = 1, /* value: a string */
    QV_FILTER_MATCH_INTEGER,     /* value: an integer */
    QV_FILTER_MATCH_BOOL,        /* value: true/false */
    QV_FILTER_MATCH_ANY_STR,     /* any: strings */
    QV_FILTER_MATCH_ANY_INT,     /* any: integers */
    QV_FILTER_MATCH_EXCEPT_STR,  /* except: strings */
    QV_FILTER_MATCH_EXCEPT_INT,  /* except: integers */
    QV_FILTER_MATCH_TEXT,        /* text */
    QV_FILTER_MATCH_TEXT_ANY,    /* text_any */
    QV_FILTER_MATCH_PHRASE,      /* phrase */
    QV_FILTER_MATCH_PREFIX,      /* prefix */
    QV_FILTER_MATCH_SUBSTRING,   /* substring */
} qv_filter_match_kind;

/* A string with its length (may contain NUL bytes). */
typedef struct qv_filter_str {
    const char *s;
    size_t len;
} qv_filter_str;

typedef struct qv_filter_matcher {
    uint32_t kind; /* qv_filter_match_kind */
    union {
        qv_filter_str str; /* KEYWORD, TEXT*, PHRASE, PREFIX, SUBSTRING */
        int64_t i;         /* INTEGER */
        bool b;            /* BOOL */
        struct {
            qv_filter_str *strs; /* ANY_STR, EXCEPT_STR */
            int64_t *ints;       /* ANY_INT, EXCEPT_INT */
            size_t n;
        } set;
    } v;
} qv_filter_matcher;

/* Which bounds of a range are set. */
enum { QV_FILTER_GT = 1, QV_FILTER_GTE = 2, QV_FILTER_LT = 4, QV_FILTER_LTE = 8 };

typedef struct qv_filter_range {
    uint32_t set; /* QV_FILTER_GT | ... */
    double gt, gte, lt, lte;
} qv_filter_range;

/* A point in time: seconds since 1970-01-01T00:00:00Z and nanoseconds.  A
 * leap second (second 60) is second 59 with nsec 1e9..2e9-1, so that it sorts
 * after :59.999999999 and before the next minute (chrono's representation);
 * compare (sec, nsec) in that order. */
typedef struct qv_filter_time {
    int64_t sec;
    int32_t nsec;
} qv_filter_time;

typedef struct qv_filter_dtrange {
    uint32_t set;
    qv_filter_time gt, gte, lt, lte;
} qv_filter_dtrange;

typedef struct qv_filter_count {
    uint32_t set;
    uint64_t gt, gte, lt, lte;
} qv_filter_count;

typedef struct qv_geo_point {
    double lat, lon;
} qv_geo_point;

typedef struct qv_geo_ring {
    qv_geo_point *pts;
    size_t n;
} qv_geo_ring;

typedef struct qv_filter_geo_box {
    qv_geo_point top_left, bottom_right;
} qv_filter_geo_box;

typedef struct qv_filter_geo_radius {
    qv_geo_point center;
    double radius; /* metres */
} qv_filter_geo_radius;

typedef struct qv_filter_geo_polygon {
    qv_geo_ring exterior;
    qv_geo_ring *interiors;
    size_t ninteriors;
} qv_filter_geo_polygon;

struct qv_filter_cond {
    uint32_t kind;         /* qv_filter_kind */
    bool negate;           /* IS_EMPTY / IS_NULL only */
    const qv_keypath *key; /* payload conditions and NESTED */
    union {
        const qv_filter *filter;
        qv_filter_matcher match;
        qv_filter_range range;
        qv_filter_dtrange dt;
        qv_filter_count count;
        qv_filter_geo_box box;
        qv_filter_geo_radius radius;
        qv_filter_geo_polygon polygon;
        struct {
            qv_pointid *ids; /* sorted by qv_pointid_cmp, no duplicates */
            size_t n;
        } ids;
        const char *vector;
        struct {
            uint32_t index, total; /* index < total */
        } slice;
    } u;
};

/* A list of conditions (one clause). */
typedef struct qv_filter_list {
    qv_filter_cond *conds;
    size_t n;
} qv_filter_list;

struct qv_filter {
    qv_filter_list must;
    qv_filter_list should; /* an empty list is no constraint */
    qv_filter_list must_not;
    qv_filter_list min_should;
    size_t min_count; /* 0 = no min_should clause */
};

/* ---- Constructors (all copy into a; NULL on OOM) ------------------------ */

/* A filter with empty clauses (matches everything). */
qv_filter *qv_filter_new(qv_arena *a);

/* Appends a zeroed condition to a clause and returns it for filling in. */
qv_filter_cond *qv_filter_list_push(qv_arena *a, qv_filter_list *l);

/* Copies ids, sorts them and drops duplicates, as has_id expects. */
bool qv_filter_set_ids(qv_arena *a, qv_filter_cond *c, const qv_pointid *ids, size_t n);

/* ---- Datetimes ---------------------------------------------------------- */

/* Parses a datetime exactly as Qdrant's server does in payloads and ranges
 * (DateTimePayloadType::from_str; the accepted grammar is spelled out above
 * its implementation in filter.c).  In short: "YYYY-MM-DD", then 'T' or
 * whitespace and "HH:MM:SS" with an optional ".fraction" (1-9 digits kept)
 * and an optional offset ("Z", "z", "+HH:MM", "+HHMM", "+HH", "UTC", U+2212
 * as minus); or "YYYY-MM-DD HH:MM"; no offset means UTC.  Whitespace may
 * precede every number; "YYYY-MM-DDTHH:MM" is NOT accepted (the Python
 * client's local mode accepts it).  False if s[0..len) is not a datetime. */
bool qv_filter_parse_time(const char *s, size_t len, qv_filter_time *out);

/* ---- Evaluation --------------------------------------------------------- */

typedef struct qv_filter_point {
    const qv_pointid *id;
    const jv *payload; /* resolved JSON object, or NULL when the point has none */
    bool (*has_vector)(void *ctx, const char *name); /* name "" = the unnamed default vector */
    void *ctx;
    /* Optional: the answer to condition c for this point when the caller
     * already knows it (1 or 0: from a payload index, or a condition whose
     * meaning an index changes, such as match.text on a full-text field),
     * or -1 to have it evaluated from the payload.  Asked for every
     * condition of the filter's top level and of its sub-filters, never
     * inside nested (those conditions see array elements, not the point). */
    int (*cond)(void *ctx, const qv_filter_cond *c);
} qv_filter_point;

/* Whether point p satisfies f.  A NULL filter matches everything.  p->id may
 * be NULL (has_id and slice then never match), and so may has_vector. */
bool qv_filter_match(const qv_filter *f, const qv_filter_point *p);

/* Evaluates one condition (exported for index code that checks the
 * conditions it cannot answer itself). */
bool qv_filter_cond_match(const qv_filter_cond *c, const qv_filter_point *p);

/* A payload number as range conditions compare it: the value as a double
 * (integers converted, unresolved numbers parsed); false for anything that
 * is not a number (booleans included). */
bool qv_filter_num(const jv *v, double *out);

/* Whether one value, as a field condition sees it (after the final
 * flattening), satisfies field condition c: match, range, datetime or geo
 * (false for other kinds).  For indexes that check candidates value by
 * value with the filter's own comparisons. */
bool qv_filter_value_match(const qv_filter_cond *c, const jv *v);

/* SipHash-2-4 (zero key) of a point ID's canonical bytes, as Qdrant's slice
 * condition uses: 8 little-endian bytes for a number, the 16 RFC 4122 bytes
 * for a UUID. */
uint64_t qv_filter_slice_hash(const qv_pointid *id);

#endif
