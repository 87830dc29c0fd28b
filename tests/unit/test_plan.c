/*
 * test_plan.c - payload indexes and filter plans (src/index/payload_index.c,
 * src/collection/plan.c) give exactly the answers of evaluating the filter
 * on every payload.
 *
 * A segment gets random payloads built to stress the indexes: values of
 * the indexed type, foreign values (a float under an integer index, a
 * string that is no UUID, a geo object with an out-of-range latitude),
 * nulls, arrays, missing keys, nested objects.  Every kind of index is
 * declared on it.  Then thousands of random filters (every condition an
 * index answers, mixed with ones it does not, nested through must /
 * should / must_not / min_should) are planned, and for every offset the
 * plan's verdict must equal the payload evaluation; an exact plan's count
 * must equal the number of matches.  The segment is then edited (payload
 * replacements, deletions, new points) and checked again, so the indexes'
 * upkeep is checked too.  payload_schema's per-index point counts are
 * checked against a scan as well.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_filter.h"
#include "collection/collection_impl.h"
#include "collection/plan.h"
#include "core/arena.h"
#include "core/bitset.h"
#include "core/json.h"
#include "index/payload_index.h"
#include "storage/segment.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct sbuf {
    char s[4096];
    size_t n;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    assert_true(k >= 0 && (size_t)k < sizeof b->s - b->n);
    b->n += (size_t)k;
}

static const char *const WORDS[] = {"a", "b", "c", "dd", "\xc3\xa9t\xc3\xa9", "", "ab"};
#define NWORDS (sizeof WORDS / sizeof *WORDS)
static const char *const UUIDS[] = {"550e8400-e29b-41d4-a716-446655440000",
                                    "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "not-a-uuid"};
static const char *const TIMES[] = {"2024-01-01T00:00:00Z",      "2024-01-01",
                                    "2023-06-15T12:30:00+02:00", "2024-01-01T00:00:00.5Z",
                                    "1969-12-31T23:59:59Z",      "yesterday"};
static const char *const TEXTS[] = {"The quick brown fox", "quick foxes jumped", "brown dogs",
                                    "a QUICK fox, brown",  "jumping fox",        ""};
#define NTEXTS (sizeof TEXTS / sizeof *TEXTS)
#define NTIMES (sizeof TIMES / sizeof *TIMES)

static void scalar_of(sbuf *b, char kind) {
    switch (kind) {
    case 'k':
        put(b, "\"%s\"", WORDS[rnd(NWORDS)]);
        break;
    case 'i':
        put(b, "%d", (int)rnd(11) - 5);
        break;
    case 'f':
        put(b, "%d.%d", (int)rnd(11) - 5, (int)rnd(10));
        break;
    case 'b':
        put(b, rnd(2) ? "true" : "false");
        break;
    case 'd':
        put(b, "\"%s\"", TIMES[rnd(NTIMES)]);
        break;
    case 'u':
        put(b, "\"%s\"", UUIDS[rnd(3)]);
        break;
    case 't':
        put(b, "\"%s\"", TEXTS[rnd(NTEXTS)]);
        break;
    case 'g':
        put(b, "{\"lat\": %d.%d, \"lon\": %d.%d}", (int)rnd(181) - 90, (int)rnd(10),
            (int)rnd(361) - 180, (int)rnd(10));
        break;
    }
}

/* A value for a field whose main kind is kind: mostly that kind, sometimes
 * an array of it, a foreign value, null, or nothing (returns false). */
static bool value_of(sbuf *b, char kind) {
    static const char kinds[] = "kifbdug";
    uint32_t r = rnd(20);
    if (r == 0) return false;
    if (r == 1) {
        put(b, "null");
    } else if (r <= 4) {
        put(b, "[");
        for (uint32_t i = 0, n = rnd(4); i < n; i++) {
            if (i) put(b, ", ");
            if (rnd(6) == 0)
                put(b, "null");
            else
                scalar_of(b, rnd(8) ? kind : kinds[rnd(7)]);
        }
        put(b, "]");
    } else if (r == 5) {
        scalar_of(b, kinds[rnd(7)]); /* most likely foreign */
    } else if (r == 6 && kind == 'g') {
        put(b, "{\"lat\": 95.5, \"lon\": 10}"); /* foreign: latitude out of range */
    } else {
        scalar_of(b, kind);
    }
    return true;
}

static qv_payload *random_payload(void) {
    static const struct {
        const char *key;
        char kind;
    } fields[] = {{"k", 'k'}, {"i", 'i'}, {"f", 'f'}, {"b", 'b'}, {"d", 'd'},
                  {"u", 'u'}, {"g", 'g'}, {"j", 'i'}, {"t", 't'}};
    sbuf b = {.n = 0};
    put(&b, "{");
    bool first = true;
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
        size_t mark = b.n;
        put(&b, "%s\"%s\": ", first ? "" : ", ", fields[f].key);
        if (value_of(&b, fields[f].kind))
            first = false;
        else
            b.n = mark, b.s[b.n] = '\0';
    }
    if (rnd(2)) {
        put(&b, "%s\"n\": {\"k\": ", first ? "" : ", ");
        scalar_of(&b, 'k');
        put(&b, "}, \"arr\": [{\"k\": ");
        scalar_of(&b, 'k');
        put(&b, "}, {\"k\": ");
        scalar_of(&b, 'k');
        put(&b, "}]");
    }
    put(&b, "}");
    qv_arena a;
    qv_arena_init(&a);
    jv root;
    assert_int_equal(jv_parse(&a, b.s, b.n, &root, NULL), QV_OK);
    jv_resolve_numbers(&root);
    qv_payload *p = qv_payload_new(&root);
    assert_non_null(p);
    qv_arena_free(&a);
    return p;
}

/* ---- random filters -------------------------------------------------------- */

static void cond_of(sbuf *b, int depth);

static void filter_of(sbuf *b, int depth) {
    static const char *const clauses[] = {"must", "should", "must_not", "min_should"};
    put(b, "{");
    uint32_t nclauses = 1 + rnd(2);
    uint32_t first = rnd(4);
    for (uint32_t c = 0; c < nclauses; c++) {
        const char *cl = clauses[(first + c) % 4];
        if (c) put(b, ", ");
        bool ms = strcmp(cl, "min_should") == 0;
        uint32_t n = 1 + rnd(3);
        put(b, ms ? "\"min_should\": {\"conditions\": [" : "\"%s\": [", cl);
        for (uint32_t k = 0; k < n; k++) {
            if (k) put(b, ", ");
            cond_of(b, depth);
        }
        put(b, "]");
        if (ms) put(b, ", \"min_count\": %u}", 1 + rnd(n));
    }
    put(b, "}");
}

/* When set, filters hold only conditions an index can answer. */
static bool pure;

static void cond_of(sbuf *b, int depth) {
    uint32_t r = rnd(depth < 2 ? 18 : 17);
    if (pure && r >= 13 && r <= 15) r = rnd(13);
    if (r == 16) {
        static const char *const Q[] = {"quick fox", "brown", "fox quick",  "jumped",
                                        "the",       "",      "quick brown"};
        static const char *const K[] = {"text", "text_any", "phrase"};
        put(b, "{\"key\": \"t\", \"match\": {\"%s\": \"%s\"}}", K[rnd(3)], Q[rnd(7)]);
        return;
    }
    switch (r) {
    case 0:
        put(b, "{\"key\": \"k\", \"match\": {\"value\": \"%s\"}}", WORDS[rnd(NWORDS)]);
        break;
    case 1:
        put(b, "{\"key\": \"%s\", \"match\": {\"any\": [\"%s\", \"%s\"]}}",
            rnd(3) == 0 ? "arr[].k"
            : rnd(2)    ? "n.k"
                        : "k",
            WORDS[rnd(NWORDS)], WORDS[rnd(NWORDS)]);
        break;
    case 2:
        put(b, "{\"key\": \"%s\", \"match\": {\"value\": %d}}", rnd(2) ? "i" : "j",
            (int)rnd(11) - 5);
        break;
    case 3:
        put(b, "{\"key\": \"i\", \"match\": {\"any\": [%d, %d, 3]}}", (int)rnd(11) - 5,
            (int)rnd(11) - 5);
        break;
    case 4:
        put(b, "{\"key\": \"b\", \"match\": {\"value\": %s}}", rnd(2) ? "true" : "false");
        break;
    case 5:
        put(b, "{\"key\": \"%s\", \"range\": {\"%s\": %d.5, \"%s\": %d}}", rnd(2) ? "i" : "f",
            rnd(2) ? "gt" : "gte", (int)rnd(11) - 6, rnd(2) ? "lt" : "lte", (int)rnd(8) - 2);
        break;
    case 6:
        put(b, "{\"key\": \"%s\", \"range\": {\"%s\": %d}}", rnd(3) ? "j" : "f",
            rnd(2) ? "lte" : "gte", (int)rnd(11) - 5);
        break;
    case 7:
        put(b, "{\"key\": \"d\", \"range\": {\"%s\": \"%s\"}}", rnd(2) ? "gt" : "lte",
            TIMES[rnd(NTIMES - 1)]);
        break;
    case 8:
        put(b, "{\"key\": \"u\", \"match\": {\"value\": \"%s\"}}", UUIDS[rnd(3)]);
        break;
    case 9: {
        int lat = (int)rnd(90) - 60, lon = (int)rnd(210) - 150;
        put(b,
            "{\"key\": \"g\", \"geo_bounding_box\": {\"top_left\": {\"lat\": %d, \"lon\": %d}, "
            "\"bottom_right\": {\"lat\": %d, \"lon\": %d}}}",
            lat + (int)rnd(60), lon, lat - (int)rnd(30), rnd(4) ? lon + (int)rnd(120) : lon - 30);
        break;
    }
    case 10:
        put(b,
            "{\"key\": \"g\", \"geo_radius\": {\"center\": {\"lat\": %d, \"lon\": %d}, \"radius\": "
            "%u000}}",
            (int)rnd(181) - 90, (int)rnd(361) - 180, 1 + rnd(5000));
        break;
    case 11: {
        int lat = (int)rnd(100) - 60, lon = (int)rnd(260) - 180;
        put(b,
            "{\"key\": \"g\", \"geo_polygon\": {\"exterior\": {\"points\": [{\"lat\": %d, \"lon\": "
            "%d}, {\"lat\": %d, \"lon\": %d}, {\"lat\": %d, \"lon\": %d}, {\"lat\": %d, \"lon\": "
            "%d}, {\"lat\": %d, \"lon\": %d}]}, \"interiors\": [{\"points\": [{\"lat\": %d, "
            "\"lon\": %d}, {\"lat\": %d, \"lon\": %d}, {\"lat\": %d, \"lon\": %d}, {\"lat\": "
            "%d, \"lon\": %d}]}]}}",
            lat, lon, lat + 40, lon, lat + 40, lon + 60, lat, lon + 60, lat, lon, lat + 10,
            lon + 10, lat + 20, lon + 10, lat + 10, lon + 30, lat + 10, lon + 10);
        break;
    }
    case 12:
        put(b, "{\"has_id\": [%u, %u, %u, 999999]}", rnd(400), rnd(400), rnd(400));
        break;
    case 13:
        put(b, "{\"is_empty\": {\"key\": \"%s\"}}", rnd(2) ? "k" : "g");
        break;
    case 14:
        put(b, "{\"key\": \"k\", \"match\": {\"except\": [\"%s\"]}}", WORDS[rnd(NWORDS)]);
        break;
    case 15:
        put(b, "{\"key\": \"k\", \"values_count\": {\"gte\": %u}}", rnd(3));
        break;
    default: /* a filter is a condition too */
        filter_of(b, depth + 1);
        break;
    }
}

/* ---- the check --------------------------------------------------------------- */

static const char *const IDX[][2] = {
    {"k", "keyword"}, {"i", "integer"},   {"f", "float"},
    {"b", "bool"},    {"d", "datetime"},  {"u", "uuid"},
    {"g", "geo"},     {"n.k", "keyword"}, {"arr[].k", "keyword"},
};
/* and "j" (integer with params) and "t" (text with params), below */
#define NIDX (sizeof IDX / sizeof *IDX)

static void declare_all(qv_collection *c, bool int_range_only) {
    for (size_t i = 0; i < NIDX; i++) {
        uint32_t t = qv_payload_type_parse(IDX[i][1], strlen(IDX[i][1]));
        assert_int_equal(qv_index_set_put(&c->indexes, IDX[i][0], t, NULL), QV_OK);
    }
    /* "j": an integer index for ranges only (no lookups) */
    qv_arena a;
    qv_arena_init(&a);
    jv params;
    const char *ptext = int_range_only ? "{\"type\":\"integer\",\"lookup\":false,\"range\":true}"
                                       : "{\"type\":\"integer\",\"lookup\":true,\"range\":false}";
    assert_int_equal(jv_parse(&a, ptext, strlen(ptext), &params, NULL), QV_OK);
    assert_int_equal(qv_index_set_put(&c->indexes, "j", QV_PT_INTEGER, &params), QV_OK);
    /* "t": full text with stemming and phrases */
    const char *ttext = "{\"type\":\"text\",\"tokenizer\":\"word\",\"lowercase\":true,"
                        "\"phrase_matching\":true,\"stemmer\":{\"type\":\"snowball\","
                        "\"language\":\"english\"}}";
    jv tparams;
    assert_int_equal(jv_parse(&a, ttext, strlen(ttext), &tparams, NULL), QV_OK);
    assert_int_equal(qv_index_set_put(&c->indexes, "t", QV_PT_TEXT, &tparams), QV_OK);
    qv_arena_free(&a);
}

static uint64_t exact_plans, checked;

static void check_filters(qv_collection *c, qv_segment *seg, int nfilters) {
    for (int f = 0; f < nfilters; f++) {
        sbuf b = {.n = 0};
        pure = f % 2 == 0;
        filter_of(&b, 0);
        qv_arena a;
        qv_arena_init(&a);
        jv json;
        assert_int_equal(jv_parse(&a, b.s, b.n, &json, NULL), QV_OK);
        jv_resolve_numbers(&json);
        qv_filter *filter;
        qv_err err;
        if (qv_filter_from_json(&a, &json, &filter, &err) != QV_OK) {
            print_error("filter %s: %s\n", b.s, err.msg);
            fail();
        }
        qv_fplan p, ref;
        assert_int_equal(qv_fplan_build(&p, c, seg, filter), QV_OK);
        assert_int_equal(qv_fplan_build_scan(&ref, c, seg, filter), QV_OK);
        uint64_t matches = 0;
        for (uint32_t off = 0; off < qv_segment_size(seg); off++) {
            bool want = qv_fplan_check(&ref, off);
            bool got = qv_fplan_check(&p, off);
            if (want != got) {
                print_error("offset %u: scan %d, plan %d, filter %s\n", off, want, got, b.s);
                fail();
            }
            matches += want;
            if (p.cand && want) assert_true(qv_bits_test(p.cand, off));
        }
        if (p.exact) {
            exact_plans++;
            assert_int_equal(qv_fplan_estimate(&p), matches);
        }
        checked++;
        qv_fplan_free(&p);
        qv_fplan_free(&ref);
        qv_arena_free(&a);
    }
}

/* payload_schema's `points`: the live points with a value of the type. */
typedef struct type_hit {
    uint32_t type;
    bool hit;
} type_hit;

static void visit_type(void *ctx, const jv *val) {
    type_hit *x = ctx;
    if (qv_payload_type_accepts(x->type, val)) x->hit = true;
}

static void check_points(qv_segment *seg) {
    for (uint32_t i = 0; i < qv_segment_npindex(seg); i++) {
        const qv_pindex *pi = qv_segment_pindex_at(seg, i);
        qv_arena a;
        qv_arena_init(&a);
        qv_keypath *kp;
        const char *field = qv_pindex_field(pi);
        assert_int_equal(qv_keypath_parse(&a, field, strlen(field), &kp, NULL), QV_OK);
        uint64_t want = 0;
        for (uint32_t off = 0; off < qv_segment_size(seg); off++) {
            const jv *pl = qv_segment_payload(seg, off);
            if (!qv_segment_is_live(seg, off) || !pl) continue;
            type_hit x = {qv_pindex_opts_of(pi)->type, false};
            qv_keypath_values(kp, pl, visit_type, &x);
            want += x.hit;
        }
        if (want != qv_pindex_points(pi)) {
            print_error("index %s: points %llu, scan %llu\n", field,
                        (unsigned long long)qv_pindex_points(pi), (unsigned long long)want);
            fail();
        }
        qv_arena_free(&a);
    }
}

/* A bare collection (only its config and declarations are used) and an
 * empty segment with one 2-d vector. */
static qv_segment *fixture(qv_collection *c) {
    memset(c, 0, sizeof *c);
    qv_collection_config_defaults(&c->cfg);
    uint32_t dims[1] = {2};
    qv_segment *seg = qv_segment_new(1, dims, NULL);
    assert_non_null(seg);
    return seg;
}

static void fixture_free(qv_collection *c, qv_segment *seg) {
    qv_segment_free(seg);
    qv_index_set_free(&c->indexes);
    qv_collection_config_free(&c->cfg);
}

static void run(bool int_range_only) {
    qv_collection c;
    qv_segment *seg = fixture(&c);
    assert_non_null(seg);
    /* half the points before the indexes are declared (built from the
     * payloads), half after (kept as they come) */
    float v[2] = {1, 0};
    const float *vecs[1] = {v};
    for (uint32_t i = 0; i < 200; i++) {
        qv_pointid id = qv_pointid_num(i);
        assert_int_equal(qv_segment_put(seg, i + 1, &id, vecs, random_payload()), QV_OK);
    }
    declare_all(&c, int_range_only);
    qv_shard_sync_pindexes(&c, seg);
    assert_int_equal(qv_segment_npindex(seg), NIDX + 2);
    for (uint32_t i = 200; i < 400; i++) {
        qv_pointid id = qv_pointid_num(i);
        assert_int_equal(qv_segment_put(seg, i + 1, &id, vecs, random_payload()), QV_OK);
    }
    check_points(seg);
    check_filters(&c, seg, 1500);
    /* edits: new payloads, deletions, replacements of whole points */
    for (uint32_t r = 0; r < 300; r++) {
        uint32_t off = rnd(qv_segment_size(seg));
        if (!qv_segment_is_live(seg, off)) continue;
        switch (rnd(4)) {
        case 0:
            qv_segment_set_payload(seg, 1000 + r, off, rnd(5) ? random_payload() : NULL);
            break;
        case 1:
            assert_true(qv_segment_delete_at(seg, 1000 + r, off));
            break;
        default: {
            qv_pointid id = *qv_segment_id(seg, off);
            assert_int_equal(qv_segment_put(seg, 1000 + r, &id, vecs, random_payload()), QV_OK);
            break;
        }
        }
    }
    check_points(seg);
    check_filters(&c, seg, 1500);
    /* dropping a declaration drops the segment's index */
    qv_index_set_remove(&c.indexes, "k");
    qv_shard_sync_pindexes(&c, seg);
    assert_null(qv_segment_pindex(seg, "k", 1));
    check_filters(&c, seg, 200);
    fixture_free(&c, seg);
}

static void test_plans_equal_scan(void **state) {
    (void)state;
    run(true);
    run(false);
    /* the filters must exercise the exact paths, not only fallbacks */
    print_message("%llu of %llu plans exact\n", (unsigned long long)exact_plans,
                  (unsigned long long)checked);
    assert_true(exact_plans * 5 > checked);
}

/* A full-text field means the index's tokenization, with or without the
 * index's bits: stems and phrases, not substrings. */
static void test_text_semantics(void **state) {
    (void)state;
    qv_collection c;
    qv_segment *seg = fixture(&c);
    float v[2] = {1, 0};
    const float *vecs[1] = {v};
    for (uint32_t i = 0; i < NTEXTS; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"t\": \"%s\"}", TEXTS[i]);
        qv_arena a;
        qv_arena_init(&a);
        jv root;
        assert_int_equal(jv_parse(&a, doc, strlen(doc), &root, NULL), QV_OK);
        qv_pointid id = qv_pointid_num(i);
        assert_int_equal(qv_segment_put(seg, i + 1, &id, vecs, qv_payload_new(&root)), QV_OK);
        qv_arena_free(&a);
    }
    declare_all(&c, true);
    qv_shard_sync_pindexes(&c, seg);
    static const struct {
        const char *filter;
        uint32_t want; /* bit i: TEXTS[i] matches */
    } cases[] = {
        /* jumped ~ jump ~ jumping; foxes ~ fox */
        {"{\"must\": [{\"key\": \"t\", \"match\": {\"text\": \"jumped\"}}]}", 0x12},
        {"{\"must\": [{\"key\": \"t\", \"match\": {\"text\": \"FOX\"}}]}", 0x1b},
        {"{\"must\": [{\"key\": \"t\", \"match\": {\"phrase\": \"quick brown\"}}]}", 0x01},
        {"{\"must\": [{\"key\": \"t\", \"match\": {\"text_any\": \"dog jumped\"}}]}", 0x16},
        {"{\"must\": [{\"key\": \"t\", \"match\": {\"text\": \"row\"}}]}", 0x00},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        qv_arena a;
        qv_arena_init(&a);
        jv json;
        assert_int_equal(jv_parse(&a, cases[k].filter, strlen(cases[k].filter), &json, NULL),
                         QV_OK);
        qv_filter *f;
        assert_int_equal(qv_filter_from_json(&a, &json, &f, NULL), QV_OK);
        qv_fplan p, ref;
        qv_fplan_build(&p, &c, seg, f);
        qv_fplan_build_scan(&ref, &c, seg, f);
        for (uint32_t i = 0; i < NTEXTS; i++) {
            bool want = (cases[k].want >> i) & 1;
            if (qv_fplan_check(&p, i) != want || qv_fplan_check(&ref, i) != want) {
                print_error("%s on \"%s\": want %d\n", cases[k].filter, TEXTS[i], want);
                fail();
            }
        }
        qv_fplan_free(&p);
        qv_fplan_free(&ref);
        qv_arena_free(&a);
    }
    fixture_free(&c, seg);
}

/* Points on and next to a circle's border: the index's quick sphere test
 * must leave every close call to the filter's haversine. */
static void test_radius_border(void **state) {
    (void)state;
    qv_collection c;
    qv_segment *seg = fixture(&c);
    float v[2] = {1, 0};
    const float *vecs[1] = {v};
    const double R = 6371008.8, rad = 3.14159265358979323846 / 180.0;
    const double radius = 111195.0, clat = 10.0, clon = 20.0;
    uint32_t n = 0;
    for (int dir = 0; dir < 8; dir++) {
        double bearing = dir * 45 * rad, ang = radius / R;
        /* destination point at exactly the radius, then nudged in and out */
        double la1 = clat * rad, lo1 = clon * rad;
        double la2 = asin(sin(la1) * cos(ang) + cos(la1) * sin(ang) * cos(bearing));
        double lo2 =
            lo1 + atan2(sin(bearing) * sin(ang) * cos(la1), cos(ang) - sin(la1) * sin(la2));
        for (int k = -3; k <= 3; k++) {
            double lat = la2 / rad + k * 1e-12, lon = lo2 / rad - k * 1e-12;
            char doc[160];
            snprintf(doc, sizeof doc, "{\"g\": {\"lat\": %.17g, \"lon\": %.17g}}", lat, lon);
            qv_arena a;
            qv_arena_init(&a);
            jv root;
            assert_int_equal(jv_parse(&a, doc, strlen(doc), &root, NULL), QV_OK);
            jv_resolve_numbers(&root);
            qv_pointid id = qv_pointid_num(n);
            assert_int_equal(qv_segment_put(seg, n + 1, &id, vecs, qv_payload_new(&root)), QV_OK);
            n++;
            qv_arena_free(&a);
        }
    }
    declare_all(&c, true);
    qv_shard_sync_pindexes(&c, seg);
    char ftext[256];
    snprintf(ftext, sizeof ftext,
             "{\"must\": [{\"key\": \"g\", \"geo_radius\": {\"center\": {\"lat\": %g, "
             "\"lon\": %g}, \"radius\": %.17g}}]}",
             clat, clon, radius);
    qv_arena a;
    qv_arena_init(&a);
    jv json;
    assert_int_equal(jv_parse(&a, ftext, strlen(ftext), &json, NULL), QV_OK);
    jv_resolve_numbers(&json);
    qv_filter *f;
    assert_int_equal(qv_filter_from_json(&a, &json, &f, NULL), QV_OK);
    qv_fplan p, ref;
    qv_fplan_build(&p, &c, seg, f);
    qv_fplan_build_scan(&ref, &c, seg, f);
    uint32_t inside = 0;
    for (uint32_t off = 0; off < n; off++) {
        assert_int_equal(qv_fplan_check(&p, off), qv_fplan_check(&ref, off));
        inside += qv_fplan_check(&ref, off);
    }
    assert_true(inside > 0 && inside < n); /* the points do straddle the border */
    qv_fplan_free(&p);
    qv_fplan_free(&ref);
    qv_arena_free(&a);
    /* many more points anywhere (poles and antimeridian included), and
     * circles and boxes of every size anywhere */
    for (uint32_t i = 0; i < 3000; i++, n++) {
        char doc[160];
        double lat = i % 50 == 0  ? (i % 100 ? 90.0 : -90.0)
                     : i % 7 == 0 ? 80 + rnd(1000) / 100.0
                                  : asin(rnd(2000001) / 1e6 - 1) / rad;
        double lon = i % 11 == 0 ? (i % 22 ? 180.0 : -180.0) : rnd(3600001) / 1e4 - 180;
        snprintf(doc, sizeof doc, "{\"g\": {\"lat\": %.17g, \"lon\": %.17g}}", lat, lon);
        qv_arena_init(&a);
        jv root;
        assert_int_equal(jv_parse(&a, doc, strlen(doc), &root, NULL), QV_OK);
        jv_resolve_numbers(&root);
        qv_pointid id = qv_pointid_num(n);
        assert_int_equal(qv_segment_put(seg, n + 1, &id, vecs, qv_payload_new(&root)), QV_OK);
        qv_arena_free(&a);
    }
    for (int k = 0; k < 400; k++) {
        double clat2 = rnd(1801) / 10.0 - 90, clon2 = rnd(3601) / 10.0 - 180;
        if (k % 2)
            snprintf(ftext, sizeof ftext,
                     "{\"must\": [{\"key\": \"g\", \"geo_radius\": {\"center\": {\"lat\": "
                     "%g, \"lon\": %g}, \"radius\": %u}}]}",
                     clat2, clon2, 1000 + rnd(12000000));
        else
            snprintf(ftext, sizeof ftext,
                     "{\"must\": [{\"key\": \"g\", \"geo_bounding_box\": {\"top_left\": "
                     "{\"lat\": %g, \"lon\": %g}, \"bottom_right\": {\"lat\": %g, \"lon\": "
                     "%g}}}]}",
                     clat2 / 2 + 45, clon2, clat2 / 2 - 44, rnd(3601) / 10.0 - 180);
        qv_arena_init(&a);
        assert_int_equal(jv_parse(&a, ftext, strlen(ftext), &json, NULL), QV_OK);
        jv_resolve_numbers(&json);
        assert_int_equal(qv_filter_from_json(&a, &json, &f, NULL), QV_OK);
        qv_fplan_build(&p, &c, seg, f);
        qv_fplan_build_scan(&ref, &c, seg, f);
        for (uint32_t off = 0; off < n; off++)
            if (qv_fplan_check(&p, off) != qv_fplan_check(&ref, off)) {
                print_error("offset %u: %s\n", off, ftext);
                fail();
            }
        qv_fplan_free(&p);
        qv_fplan_free(&ref);
        qv_arena_free(&a);
    }
    fixture_free(&c, seg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans_equal_scan),
        cmocka_unit_test(test_text_semantics),
        cmocka_unit_test(test_radius_border),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
