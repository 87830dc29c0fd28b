/*
 * payload_index.c - payload field indexes over one segment (see
 * payload_index.h for what they answer and how foreign values keep the
 * answers exact).
 *
 * Layout:
 *   - value map: open addressing (linear probing) from a value's bytes to
 *     an entry {key, posting}; a posting is a sorted, duplicate-free array
 *     of offsets.  Keys live in an arena (values are never forgotten, only
 *     their postings emptied), so the map costs one slot, one entry and the
 *     key bytes per distinct value.  Keyword/uuid keys are the string bytes,
 *     integer keys the 8 little-endian bytes of the int64, bool one byte.
 *   - ordered array: (hi, lo, off) triples sorted by (hi, lo, off); hi is a
 *     64-bit order-preserving encoding (doubles: sign-flipped bits, -0
 *     folded into +0; datetimes: seconds with the sign bit flipped) and lo
 *     the nanoseconds of a datetime.  New entries go to an unsorted tail
 *     that writers merge in once it is long; readers search the sorted part
 *     and scan the tail.
 *   - geo: (lat, lon, off) sorted by latitude, with a tail like the above.
 *     A condition selects a latitude band that contains every point it can
 *     match (a box's latitudes, a circle's centre latitude +- its radius as
 *     an angle, a polygon's extent), and each point in the band is checked
 *     with the filter's own geometry (qv_filter_value_match).
 *   - per offset: the number of indexed values (for the `points` count) and
 *     a sorted list of foreign offsets.
 * Postings are edited in place (binary search + memmove): points are added
 * in offset order when a segment is built or loaded, so that is appending;
 * only payload updates of older points insert in the middle.
 */
#include "index/payload_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/bitset.h"
#include "core/pointid.h"
#include "index/text.h"

/* ---- value types ---------------------------------------------------------------- */

static bool pi_geopt(const jv *v, double *lat, double *lon) {
    if (v->type != JV_OBJ) return false;
    const jv *la = jv_get(v, "lat"), *lo = jv_get(v, "lon");
    return la && lo && qv_filter_num(la, lat) && qv_filter_num(lo, lon) && *lat >= -90 &&
           *lat <= 90 && *lon >= -180 && *lon <= 180;
}

bool qv_payload_type_accepts(uint32_t t, const jv *v) {
    qv_filter_time tm;
    qv_pointid id;
    double a, b;
    switch (t) {
    case QV_PT_KEYWORD:
    case QV_PT_TEXT:
        return v->type == JV_STR;
    case QV_PT_INTEGER: /* stored payloads are resolved: an integer fitting i64 */
        return v->type == JV_INT;
    case QV_PT_FLOAT:
        return jv_is_number(v);
    case QV_PT_GEO:
        return pi_geopt(v, &a, &b);
    case QV_PT_BOOL:
        return v->type == JV_BOOL;
    case QV_PT_DATETIME:
        return v->type == JV_STR && qv_filter_parse_time(v->v.s, v->len, &tm);
    case QV_PT_UUID:
        return v->type == JV_STR && qv_pointid_parse_uuid(v->v.s, v->len, &id);
    default:
        return false;
    }
}

/* ---- postings ------------------------------------------------------------------- */

typedef struct pi_post {
    uint32_t *offs;
    uint32_t n, cap;
} pi_post;

/* First position in p whose offset is >= off. */
static uint32_t post_lower(const pi_post *p, uint32_t off) {
    uint32_t lo = 0, hi = p->n;
    if (hi && p->offs[hi - 1] < off) return hi; /* the common append */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->offs[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool post_add(pi_post *p, uint32_t off) {
    uint32_t at = post_lower(p, off);
    if (at < p->n && p->offs[at] == off) return true;
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 4;
        uint32_t *o = realloc(p->offs, cap * sizeof *o);
        if (!o) return false;
        p->offs = o, p->cap = cap;
    }
    memmove(&p->offs[at + 1], &p->offs[at], (p->n - at) * sizeof *p->offs);
    p->offs[at] = off;
    p->n++;
    return true;
}

static void post_remove(pi_post *p, uint32_t off) {
    uint32_t at = post_lower(p, off);
    if (at == p->n || p->offs[at] != off) return;
    memmove(&p->offs[at], &p->offs[at + 1], (p->n - at - 1) * sizeof *p->offs);
    p->n--;
}

static void post_to_bits(const pi_post *p, uint64_t *bits, uint32_t nbits) {
    for (uint32_t i = 0; i < p->n; i++)
        if (p->offs[i] < nbits) qv_bits_set(bits, p->offs[i]);
}

/* ---- value map ------------------------------------------------------------------ */

typedef struct pi_entry {
    const uint8_t *key;
    uint32_t klen;
    uint64_t hash;
    pi_post post;
} pi_entry;

typedef struct pi_map {
    pi_entry *e;
    uint32_t n, cap;
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t nslots;   /* a power of two, kept at most half full */
    qv_arena keys;
} pi_map;

static uint64_t pi_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        p += 8, n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static pi_entry *map_find(const pi_map *m, const void *key, size_t klen) {
    if (!m->nslots) return NULL;
    uint64_t h = pi_hash(key, klen);
    for (size_t i = h & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
        uint32_t s = m->slots[i];
        if (!s) return NULL;
        pi_entry *e = &m->e[s - 1];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    }
}

static bool map_rehash(pi_map *m, size_t nslots) {
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return false;
    for (uint32_t k = 0; k < m->n; k++) {
        size_t i = m->e[k].hash & (nslots - 1);
        while (slots[i]) i = (i + 1) & (nslots - 1);
        slots[i] = k + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return true;
}

/* The entry for key, created when absent; NULL on OOM. */
static pi_entry *map_get(pi_map *m, const void *key, size_t klen) {
    pi_entry *e = map_find(m, key, klen);
    if (e) return e;
    if ((size_t)(m->n + 1) * 2 > m->nslots && !map_rehash(m, m->nslots ? m->nslots * 2 : 64))
        return NULL;
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        pi_entry *ne = realloc(m->e, cap * sizeof *ne);
        if (!ne) return NULL;
        m->e = ne, m->cap = cap;
    }
    uint8_t *k = qv_arena_alloc(&m->keys, klen ? klen : 1);
    if (!k) return NULL;
    memcpy(k, key, klen);
    uint64_t h = pi_hash(key, klen);
    e = &m->e[m->n];
    *e = (pi_entry){k, (uint32_t)klen, h, {NULL, 0, 0}};
    size_t i = h & (m->nslots - 1);
    while (m->slots[i]) i = (i + 1) & (m->nslots - 1);
    m->slots[i] = ++m->n;
    return e;
}

static void map_free(pi_map *m) {
    for (uint32_t k = 0; k < m->n; k++) free(m->e[k].post.offs);
    free(m->e);
    free(m->slots);
    qv_arena_free(&m->keys);
}

/* ---- ordered array -------------------------------------------------------------- */

typedef struct pi_okey {
    uint64_t hi;
    uint32_t lo, off;
} pi_okey;

typedef struct pi_ord {
    pi_okey *a; /* sorted */
    size_t n, cap;
    pi_okey *t; /* unsorted tail */
    size_t nt, capt;
} pi_ord;

static int okey_cmp(const pi_okey *x, const pi_okey *y) {
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int okey_qcmp(const void *a, const void *b) {
    return okey_cmp(a, b);
}

/* Order-preserving 64-bit code of a double (never NaN here). */
static uint64_t dbl_key(double d) {
    if (d == 0) d = 0; /* -0 equals +0 */
    uint64_t u;
    memcpy(&u, &d, 8);
    return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

static uint64_t time_hi(const qv_filter_time *t) {
    return (uint64_t)t->sec ^ ((uint64_t)1 << 63);
}

/* Merges the tail into the sorted array. */
static bool ord_merge(pi_ord *o) {
    if (!o->nt) return true;
    if (o->n + o->nt > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < o->n + o->nt) cap *= 2;
        pi_okey *a = realloc(o->a, cap * sizeof *a);
        if (!a) return false;
        o->a = a, o->cap = cap;
    }
    qsort(o->t, o->nt, sizeof *o->t, okey_qcmp);
    /* merge from the back */
    size_t i = o->n, j = o->nt, k = o->n + o->nt;
    while (j > 0) {
        if (i > 0 && okey_cmp(&o->a[i - 1], &o->t[j - 1]) > 0)
            o->a[--k] = o->a[--i];
        else
            o->a[--k] = o->t[--j];
    }
    o->n += o->nt;
    o->nt = 0;
    return true;
}

static bool ord_add(pi_ord *o, pi_okey k) {
    if (o->nt == o->capt) {
        size_t cap = o->capt ? o->capt * 2 : 64;
        pi_okey *t = realloc(o->t, cap * sizeof *t);
        if (!t) return false;
        o->t = t, o->capt = cap;
    }
    o->t[o->nt++] = k;
    if (o->nt > 1024 && o->nt * 8 > o->n) return ord_merge(o);
    return true;
}

/* First position in the sorted part whose key is >= k. */
static size_t ord_lower(const pi_ord *o, const pi_okey *k) {
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (okey_cmp(&o->a[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void ord_remove(pi_ord *o, pi_okey k) {
    size_t at = ord_lower(o, &k);
    if (at < o->n && okey_cmp(&o->a[at], &k) == 0) {
        memmove(&o->a[at], &o->a[at + 1], (o->n - at - 1) * sizeof *o->a);
        o->n--;
        return;
    }
    for (size_t i = 0; i < o->nt; i++)
        if (okey_cmp(&o->t[i], &k) == 0) {
            o->t[i] = o->t[--o->nt];
            return;
        }
}

/* A key interval: from (lo_hi, lo_lo) to (hi_hi, hi_lo), each end
 * inclusive or not; an absent end is open. */
typedef struct pi_span {
    bool has_lo, lo_incl, has_hi, hi_incl;
    uint64_t lo_hi, hi_hi;
    uint32_t lo_lo, hi_lo;
} pi_span;

static bool span_has(const pi_span *s, uint64_t hi, uint32_t lo) {
    if (s->has_lo) {
        if (hi < s->lo_hi || (hi == s->lo_hi && lo < s->lo_lo)) return false;
        if (!s->lo_incl && hi == s->lo_hi && lo == s->lo_lo) return false;
    }
    if (s->has_hi) {
        if (hi > s->hi_hi || (hi == s->hi_hi && lo > s->hi_lo)) return false;
        if (!s->hi_incl && hi == s->hi_hi && lo == s->hi_lo) return false;
    }
    return true;
}

/* Visits the sorted run [*from, *to) of entries inside s, and returns the
 * tail separately (the caller scans it with span_has). */
static void ord_bounds(const pi_ord *o, const pi_span *s, size_t *from, size_t *to) {
    *from = 0;
    *to = o->n;
    if (s->has_lo) {
        pi_okey k = {s->lo_hi, s->lo_lo, s->lo_incl ? 0 : UINT32_MAX};
        size_t at = ord_lower(o, &k);
        if (!s->lo_incl)
            while (at < o->n && o->a[at].hi == s->lo_hi && o->a[at].lo == s->lo_lo) at++;
        *from = at;
    }
    if (s->has_hi) {
        pi_okey k = {s->hi_hi, s->hi_lo, s->hi_incl ? UINT32_MAX : 0};
        size_t at = ord_lower(o, &k);
        if (s->hi_incl)
            while (at < o->n && o->a[at].hi == s->hi_hi && o->a[at].lo == s->hi_lo) at++;
        *to = at;
    }
    if (*to < *from) *to = *from;
}

/* ---- geo points ----------------------------------------------------------------- */

typedef struct pi_gpt {
    double lat, lon;
    double x, y, z; /* the point on the unit sphere, for radius pre-checks */
    int32_t row;    /* floor(lat), 90 in row 89: the grid row */
    uint32_t off;
} pi_gpt;

static int32_t lat_row(double lat) {
    double f = floor(lat);
    return f < -90 ? -90 : f > 89 ? 89 : (int32_t)f;
}

static void gpt_unit(pi_gpt *g) {
    g->row = lat_row(g->lat);
    double la = g->lat * (M_PI / 180.0), lo = g->lon * (M_PI / 180.0);
    g->x = cos(la) * cos(lo);
    g->y = cos(la) * sin(lo);
    g->z = sin(la);
}

typedef struct pi_geo {
    pi_gpt *a; /* sorted by row, lon, lat, off: one-degree rows, by longitude */
    size_t n, cap;
    pi_gpt *t;
    size_t nt, capt;
} pi_geo;

static int gpt_cmp(const pi_gpt *x, const pi_gpt *y) {
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    if (x->lon != y->lon) return x->lon < y->lon ? -1 : 1;
    if (x->lat != y->lat) return x->lat < y->lat ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int gpt_qcmp(const void *a, const void *b) {
    return gpt_cmp(a, b);
}

static bool geo_merge(pi_geo *g) {
    if (!g->nt) return true;
    if (g->n + g->nt > g->cap) {
        size_t cap = g->cap ? g->cap : 64;
        while (cap < g->n + g->nt) cap *= 2;
        pi_gpt *a = realloc(g->a, cap * sizeof *a);
        if (!a) return false;
        g->a = a, g->cap = cap;
    }
    qsort(g->t, g->nt, sizeof *g->t, gpt_qcmp);
    size_t i = g->n, j = g->nt, k = g->n + g->nt;
    while (j > 0) {
        if (i > 0 && gpt_cmp(&g->a[i - 1], &g->t[j - 1]) > 0)
            g->a[--k] = g->a[--i];
        else
            g->a[--k] = g->t[--j];
    }
    g->n += g->nt;
    g->nt = 0;
    return true;
}

static bool geo_add(pi_geo *g, pi_gpt p) {
    if (g->nt == g->capt) {
        size_t cap = g->capt ? g->capt * 2 : 64;
        pi_gpt *t = realloc(g->t, cap * sizeof *t);
        if (!t) return false;
        g->t = t, g->capt = cap;
    }
    g->t[g->nt++] = p;
    if (g->nt > 1024 && g->nt * 8 > g->n) return geo_merge(g);
    return true;
}

/* First position in the sorted part at or after (row, lon). */
static size_t geo_lower(const pi_geo *g, int32_t row, double lon) {
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->a[mid].row < row || (g->a[mid].row == row && g->a[mid].lon < lon))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void geo_remove(pi_geo *g, pi_gpt p) {
    size_t at = geo_lower(g, p.row, p.lon);
    for (; at < g->n && g->a[at].row == p.row && g->a[at].lon == p.lon; at++)
        if (gpt_cmp(&g->a[at], &p) == 0) {
            memmove(&g->a[at], &g->a[at + 1], (g->n - at - 1) * sizeof *g->a);
            g->n--;
            return;
        }
    for (size_t i = 0; i < g->nt; i++)
        if (gpt_cmp(&g->t[i], &p) == 0) {
            g->t[i] = g->t[--g->nt];
            return;
        }
}

/* ---- the index ------------------------------------------------------------------ */

struct qv_pindex {
    char *field;
    qv_pindex_opts opts;
    qv_arena path_arena;
    qv_keypath *path;
    bool ok;
    pi_map map;           /* keyword, uuid, bool, integer (lookup); text: tokens */
    qv_text_analyzer *an; /* text */
    pi_ord ord;           /* integer (range), float, datetime */
    pi_geo geo;           /* geo */
    pi_post foreign;
    uint32_t *nvals; /* indexed values per offset */
    uint32_t nvals_cap;
    uint64_t points;
};

static bool uses_map(const qv_pindex *pi) {
    uint32_t t = pi->opts.type;
    return t == QV_PT_KEYWORD || t == QV_PT_UUID || t == QV_PT_BOOL ||
           (t == QV_PT_INTEGER && pi->opts.lookup);
}

static bool uses_ord(const qv_pindex *pi) {
    uint32_t t = pi->opts.type;
    return t == QV_PT_FLOAT || t == QV_PT_DATETIME || (t == QV_PT_INTEGER && pi->opts.range);
}

qv_pindex *qv_pindex_new(const char *field, const qv_pindex_opts *opts) {
    qv_pindex *pi = calloc(1, sizeof *pi);
    if (!pi) {
        qv_text_analyzer_free(opts->text);
        return NULL;
    }
    pi->opts = *opts;
    pi->opts.text = NULL;
    pi->an = opts->text;
    pi->ok = true;
    if (opts->type == QV_PT_TEXT && !pi->an) {
        qv_text_opts to;
        qv_text_opts_init(&to);
        pi->an = qv_text_analyzer_new(&to, NULL);
        if (!pi->an) {
            free(pi);
            return NULL;
        }
    }
    qv_arena_init(&pi->path_arena);
    qv_arena_init(&pi->map.keys);
    pi->field = strdup(field);
    if (!pi->field ||
        qv_keypath_parse(&pi->path_arena, field, strlen(field), &pi->path, NULL) != QV_OK) {
        qv_pindex_free(pi);
        return NULL;
    }
    return pi;
}

void qv_pindex_free(qv_pindex *pi) {
    if (!pi) return;
    free(pi->field);
    qv_arena_free(&pi->path_arena);
    map_free(&pi->map);
    free(pi->ord.a);
    free(pi->ord.t);
    free(pi->geo.a);
    free(pi->geo.t);
    free(pi->foreign.offs);
    free(pi->nvals);
    qv_text_analyzer_free(pi->an);
    free(pi);
}

const char *qv_pindex_field(const qv_pindex *pi) {
    return pi->field;
}

const qv_pindex_opts *qv_pindex_opts_of(const qv_pindex *pi) {
    return &pi->opts;
}

bool qv_pindex_ok(const qv_pindex *pi) {
    return pi->ok;
}

uint64_t qv_pindex_points(const qv_pindex *pi) {
    return pi->points;
}

/* The map key of an indexed value (buf holds 8 bytes for numbers). */
static void value_key(const qv_pindex *pi, const jv *v, uint8_t *buf, const void **key,
                      size_t *klen) {
    if (pi->opts.type == QV_PT_INTEGER) {
        memcpy(buf, &v->v.i, 8);
        *key = buf, *klen = 8;
    } else if (pi->opts.type == QV_PT_BOOL) {
        buf[0] = v->v.b != 0;
        *key = buf, *klen = 1;
    } else {
        *key = v->v.s, *klen = v->len;
    }
}

/* The ordered key of an indexed value. */
static pi_okey value_okey(const qv_pindex *pi, const jv *v, uint32_t off) {
    pi_okey k = {0, 0, off};
    if (pi->opts.type == QV_PT_DATETIME) {
        qv_filter_time t = {0, 0};
        qv_filter_parse_time(v->v.s, v->len, &t);
        k.hi = time_hi(&t);
        k.lo = (uint32_t)t.nsec;
    } else {
        double d = 0;
        qv_filter_num(v, &d);
        k.hi = dbl_key(d);
    }
    return k;
}

typedef struct upd_ctx {
    qv_pindex *pi;
    uint32_t off;
    bool add;
    uint32_t nvals;
    bool foreign;
} upd_ctx;

/* One token of a text value: into (or out of) its posting. */
static bool upd_token(void *ctx, const char *tok, size_t len, uint32_t pos) {
    (void)pos;
    upd_ctx *u = ctx;
    qv_pindex *pi = u->pi;
    if (u->add) {
        pi_entry *e = map_get(&pi->map, tok, len);
        if (!e || !post_add(&e->post, u->off)) pi->ok = false;
    } else {
        pi_entry *e = map_find(&pi->map, tok, len);
        if (e) post_remove(&e->post, u->off);
    }
    return pi->ok;
}

static void upd_value(void *ctx, const jv *v) {
    upd_ctx *u = ctx;
    qv_pindex *pi = u->pi;
    if (v->type == JV_NULL) return;
    if (!qv_payload_type_accepts(pi->opts.type, v)) {
        u->foreign = true;
        return;
    }
    u->nvals++;
    if (pi->opts.type == QV_PT_TEXT &&
        qv_text_doc_tokens(pi->an, v->v.s, v->len, upd_token, u) != QV_OK)
        pi->ok = false;
    if (uses_map(pi)) {
        uint8_t buf[8];
        const void *key;
        size_t klen;
        value_key(pi, v, buf, &key, &klen);
        if (u->add) {
            pi_entry *e = map_get(&pi->map, key, klen);
            if (!e || !post_add(&e->post, u->off)) pi->ok = false;
        } else {
            pi_entry *e = map_find(&pi->map, key, klen);
            if (e) post_remove(&e->post, u->off);
        }
    }
    if (uses_ord(pi)) {
        pi_okey k = value_okey(pi, v, u->off);
        if (u->add) {
            if (!ord_add(&pi->ord, k)) pi->ok = false;
        } else {
            ord_remove(&pi->ord, k);
        }
    }
    if (pi->opts.type == QV_PT_GEO) {
        pi_gpt p = {0, 0, 0, 0, 0, 0, u->off};
        pi_geopt(v, &p.lat, &p.lon);
        if (p.lat == 0) p.lat = 0; /* -0 sorts with +0 */
        gpt_unit(&p);
        if (u->add) {
            if (!geo_add(&pi->geo, p)) pi->ok = false;
        } else {
            geo_remove(&pi->geo, p);
        }
    }
}

static bool nvals_reserve(qv_pindex *pi, uint32_t off) {
    if (off < pi->nvals_cap) return true;
    uint32_t cap = pi->nvals_cap ? pi->nvals_cap : 1024;
    while (cap <= off) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    uint32_t *nv = realloc(pi->nvals, (size_t)cap * sizeof *nv);
    if (!nv) return false;
    memset(nv + pi->nvals_cap, 0, (size_t)(cap - pi->nvals_cap) * sizeof *nv);
    pi->nvals = nv;
    pi->nvals_cap = cap;
    return true;
}

static void update(qv_pindex *pi, uint32_t off, const jv *payload, bool add) {
    if (!pi->ok || !payload) return;
    if (!nvals_reserve(pi, off)) {
        pi->ok = false;
        return;
    }
    upd_ctx u = {pi, off, add, 0, false};
    qv_keypath_values(pi->path, payload, upd_value, &u);
    uint32_t before = pi->nvals[off];
    if (add) {
        pi->nvals[off] += u.nvals;
        if (u.foreign && !post_add(&pi->foreign, off)) pi->ok = false;
    } else {
        pi->nvals[off] = u.nvals > before ? 0 : before - u.nvals;
        if (u.foreign) post_remove(&pi->foreign, off);
    }
    if (before == 0 && pi->nvals[off] > 0) pi->points++;
    if (before > 0 && pi->nvals[off] == 0) pi->points--;
}

void qv_pindex_add(qv_pindex *pi, uint32_t off, const jv *payload) {
    update(pi, off, payload, true);
}

void qv_pindex_remove(qv_pindex *pi, uint32_t off, const jv *payload) {
    update(pi, off, payload, false);
}

/* ---- answering conditions ------------------------------------------------------------ */

/* What the index can say about c, and how to find it. */
typedef enum pi_plan_kind {
    PP_NONE = 0,
    PP_KEYS,   /* union of the postings of keys[] */
    PP_PREFIX, /* union of the postings of string keys starting with a prefix */
    PP_SPAN,   /* ordered entries in a span */
    PP_GEO,    /* geo points in a latitude band, checked one by one */
} pi_plan_kind;

typedef struct pi_plan {
    pi_plan_kind kind;
    bool exact;
    /* PP_KEYS */
    const qv_filter_matcher *m;
    /* PP_SPAN */
    pi_span span;
    /* PP_GEO: a latitude band and up to two longitude intervals */
    double lat_lo, lat_hi;
    double lon_lo[2], lon_hi[2];
    int nlon;
} pi_plan;

static void span_from_range(const qv_filter_range *r, pi_span *s) {
    memset(s, 0, sizeof *s);
    /* of two lower bounds the tighter one wins; equal values: gt is tighter */
    if (r->set & (QV_FILTER_GT | QV_FILTER_GTE)) {
        bool gt = (r->set & QV_FILTER_GT) && (!(r->set & QV_FILTER_GTE) || r->gt >= r->gte);
        s->has_lo = true;
        s->lo_incl = !gt;
        s->lo_hi = dbl_key(gt ? r->gt : r->gte);
    }
    if (r->set & (QV_FILTER_LT | QV_FILTER_LTE)) {
        bool lt = (r->set & QV_FILTER_LT) && (!(r->set & QV_FILTER_LTE) || r->lt <= r->lte);
        s->has_hi = true;
        s->hi_incl = !lt;
        s->hi_hi = dbl_key(lt ? r->lt : r->lte);
    }
}

static int time_cmp(const qv_filter_time *a, const qv_filter_time *b) {
    if (a->sec != b->sec) return a->sec < b->sec ? -1 : 1;
    return a->nsec < b->nsec ? -1 : a->nsec > b->nsec;
}

static void span_from_dt(const qv_filter_dtrange *r, pi_span *s) {
    memset(s, 0, sizeof *s);
    if (r->set & (QV_FILTER_GT | QV_FILTER_GTE)) {
        bool gt = (r->set & QV_FILTER_GT) &&
                  (!(r->set & QV_FILTER_GTE) || time_cmp(&r->gt, &r->gte) >= 0);
        const qv_filter_time *t = gt ? &r->gt : &r->gte;
        s->has_lo = true;
        s->lo_incl = !gt;
        s->lo_hi = time_hi(t);
        s->lo_lo = (uint32_t)t->nsec;
    }
    if (r->set & (QV_FILTER_LT | QV_FILTER_LTE)) {
        bool lt = (r->set & QV_FILTER_LT) &&
                  (!(r->set & QV_FILTER_LTE) || time_cmp(&r->lt, &r->lte) <= 0);
        const qv_filter_time *t = lt ? &r->lt : &r->lte;
        s->has_hi = true;
        s->hi_incl = !lt;
        s->hi_hi = time_hi(t);
        s->hi_lo = (uint32_t)t->nsec;
    }
}

#define EARTH_RADIUS_M 6371008.8

static bool plan_geo(const qv_filter_cond *c, pi_plan *p) {
    p->nlon = 1;
    p->lon_lo[0] = -180, p->lon_hi[0] = 180;
    switch (c->kind) {
    case QV_FILTER_COND_GEO_BOX: {
        const qv_filter_geo_box *b = &c->u.box;
        p->lat_lo = b->bottom_right.lat;
        p->lat_hi = b->top_left.lat;
        if (b->top_left.lon > b->bottom_right.lon) { /* across the antimeridian */
            p->nlon = 2;
            p->lon_lo[0] = b->top_left.lon, p->lon_hi[0] = 180;
            p->lon_lo[1] = -180, p->lon_hi[1] = b->bottom_right.lon;
        } else {
            p->lon_lo[0] = b->top_left.lon, p->lon_hi[0] = b->bottom_right.lon;
        }
        break;
    }
    case QV_FILTER_COND_GEO_RADIUS: {
        /* a great circle is never shorter than its meridian part: every point
         * within r metres is within r / R radians of latitude (plus slack for
         * rounding) */
        double theta = c->u.radius.radius / EARTH_RADIUS_M;
        double d = theta * (180.0 / M_PI) * (1 + 1e-9) + 1e-9;
        double clat = c->u.radius.center.lat, clon = c->u.radius.center.lon;
        if (!(d >= 0) || isnan(clon)) return false;
        p->lat_lo = clat - d;
        p->lat_hi = clat + d;
        /* a circle that stays off the poles spans asin(sin r / cos lat_c) of
         * longitude either side of its centre */
        double cl = cos(clat * (M_PI / 180.0));
        if (theta < M_PI / 2 && p->lat_hi < 90 - 1e-6 && p->lat_lo > -90 + 1e-6 &&
            sin(theta) < cl * (1 - 1e-9)) {
            double w = asin(sin(theta) / cl) * (180.0 / M_PI) * (1 + 1e-9) + 1e-9;
            double lo = clon - w, hi = clon + w;
            if (lo < -180) {
                p->nlon = 2;
                p->lon_lo[0] = -180, p->lon_hi[0] = hi;
                p->lon_lo[1] = lo + 360, p->lon_hi[1] = 180;
            } else if (hi > 180) {
                p->nlon = 2;
                p->lon_lo[0] = lo, p->lon_hi[0] = 180;
                p->lon_lo[1] = -180, p->lon_hi[1] = hi - 360;
            } else {
                p->lon_lo[0] = lo, p->lon_hi[0] = hi;
            }
        }
        break;
    }
    case QV_FILTER_COND_GEO_POLYGON: {
        const qv_geo_ring *r = &c->u.polygon.exterior;
        if (r->n == 0) {
            p->lat_lo = 1, p->lat_hi = 0; /* empty */
            break;
        }
        p->lat_lo = p->lat_hi = r->pts[0].lat;
        p->lon_lo[0] = p->lon_hi[0] = r->pts[0].lon;
        for (size_t i = 1; i < r->n; i++) {
            if (r->pts[i].lat < p->lat_lo) p->lat_lo = r->pts[i].lat;
            if (r->pts[i].lat > p->lat_hi) p->lat_hi = r->pts[i].lat;
            if (r->pts[i].lon < p->lon_lo[0]) p->lon_lo[0] = r->pts[i].lon;
            if (r->pts[i].lon > p->lon_hi[0]) p->lon_hi[0] = r->pts[i].lon;
        }
        break;
    }
    default:
        return false;
    }
    if (isnan(p->lat_lo) || isnan(p->lat_hi)) return false;
    for (int k = 0; k < p->nlon; k++)
        if (isnan(p->lon_lo[k]) || isnan(p->lon_hi[k])) return false;
    p->kind = PP_GEO;
    return true;
}

static pi_plan plan_of(const qv_pindex *pi, const qv_filter_cond *c) {
    pi_plan p;
    memset(&p, 0, sizeof p);
    if (!pi->ok || !c->key || c->key->text_len != strlen(pi->field) ||
        memcmp(c->key->text, pi->field, c->key->text_len) != 0)
        return p;
    bool no_foreign = pi->foreign.n == 0;
    uint32_t t = pi->opts.type;
    switch (c->kind) {
    case QV_FILTER_COND_MATCH: {
        uint32_t mk = c->u.match.kind;
        p.m = &c->u.match;
        if (t == QV_PT_KEYWORD &&
            (mk == QV_FILTER_MATCH_KEYWORD || mk == QV_FILTER_MATCH_ANY_STR)) {
            p.kind = PP_KEYS, p.exact = true; /* foreign values are never strings */
        } else if (t == QV_PT_KEYWORD && mk == QV_FILTER_MATCH_PREFIX) {
            p.kind = PP_PREFIX, p.exact = true;
        } else if (t == QV_PT_UUID &&
                   (mk == QV_FILTER_MATCH_KEYWORD || mk == QV_FILTER_MATCH_ANY_STR)) {
            p.kind = PP_KEYS, p.exact = no_foreign; /* a foreign string might equal it */
        } else if (t == QV_PT_INTEGER && pi->opts.lookup &&
                   (mk == QV_FILTER_MATCH_INTEGER || mk == QV_FILTER_MATCH_ANY_INT)) {
            p.kind = PP_KEYS, p.exact = true; /* foreign values are never integers */
        } else if (t == QV_PT_BOOL && mk == QV_FILTER_MATCH_BOOL) {
            p.kind = PP_KEYS, p.exact = true;
        }
        break;
    }
    case QV_FILTER_COND_RANGE:
        if (isnan(c->u.range.gt) || isnan(c->u.range.gte) || isnan(c->u.range.lt) ||
            isnan(c->u.range.lte))
            break; /* nothing compares with NaN: leave it to the filter */
        if ((t == QV_PT_INTEGER && pi->opts.range) || t == QV_PT_FLOAT) {
            p.kind = PP_SPAN;
            /* a float index holds every number; an integer one not floats */
            p.exact = t == QV_PT_FLOAT || no_foreign;
            span_from_range(&c->u.range, &p.span);
        }
        break;
    case QV_FILTER_COND_DATETIME:
        if (t == QV_PT_DATETIME) {
            p.kind = PP_SPAN, p.exact = true; /* foreign values never parse as times */
            span_from_dt(&c->u.dt, &p.span);
        }
        break;
    case QV_FILTER_COND_GEO_BOX:
    case QV_FILTER_COND_GEO_RADIUS:
    case QV_FILTER_COND_GEO_POLYGON:
        /* foreign objects with out-of-range coordinates might still match */
        if (t == QV_PT_GEO && plan_geo(c, &p)) p.exact = no_foreign;
        break;
    default:
        break;
    }
    return p;
}

/* Calls fn for each key a PP_KEYS matcher names, with its map key. */
static void keys_each(const qv_pindex *pi, const qv_filter_matcher *m,
                      void (*fn)(const qv_pindex *pi, const void *key, size_t klen, void *ctx),
                      void *ctx) {
    uint8_t buf[8];
    switch (m->kind) {
    case QV_FILTER_MATCH_KEYWORD:
        fn(pi, m->v.str.s, m->v.str.len, ctx);
        break;
    case QV_FILTER_MATCH_ANY_STR:
        for (size_t i = 0; i < m->v.set.n; i++)
            fn(pi, m->v.set.strs[i].s, m->v.set.strs[i].len, ctx);
        break;
    case QV_FILTER_MATCH_INTEGER:
        memcpy(buf, &m->v.i, 8);
        fn(pi, buf, 8, ctx);
        break;
    case QV_FILTER_MATCH_ANY_INT:
        for (size_t i = 0; i < m->v.set.n; i++) {
            memcpy(buf, &m->v.set.ints[i], 8);
            fn(pi, buf, 8, ctx);
        }
        break;
    case QV_FILTER_MATCH_BOOL:
        buf[0] = m->v.b;
        fn(pi, buf, 1, ctx);
        break;
    default:
        break;
    }
}

typedef struct est_ctx {
    uint64_t n;
    uint64_t *bits;
    uint32_t nbits;
} est_ctx;

static void key_bits(const qv_pindex *pi, const void *key, size_t klen, void *ctx) {
    est_ctx *x = ctx;
    const pi_entry *e = map_find(&pi->map, key, klen);
    if (e) post_to_bits(&e->post, x->bits, x->nbits);
}

static bool prefix_of(const pi_entry *e, const qv_filter_str *p) {
    return e->klen >= p->len && memcmp(e->key, p->s, p->len) == 0;
}

/* Calls fn for every sorted geo point in the plan's rows and longitude
 * intervals (a superset of the matches; the tail is the caller's). */
static void geo_each(const pi_geo *g, const pi_plan *p, void (*fn)(void *ctx, const pi_gpt *pt),
                     void *ctx) {
    if (p->lat_lo > p->lat_hi) return;
    int32_t r0 = lat_row(p->lat_lo), r1 = lat_row(p->lat_hi);
    for (int32_t row = r0; row <= r1; row++)
        for (int k = 0; k < p->nlon; k++) {
            size_t at = geo_lower(g, row, p->lon_lo[k]);
            for (; at < g->n && g->a[at].row == row && g->a[at].lon <= p->lon_hi[k]; at++)
                fn(ctx, &g->a[at]);
        }
}

/* Checks one geo point against the condition with the filter's geometry. */
static bool geo_check(const qv_filter_cond *c, const pi_gpt *g) {
    jv_member mem[2];
    mem[0].key = "lat", mem[0].klen = 3;
    mem[0].val.type = JV_DBL, mem[0].val.v.d = g->lat;
    mem[1].key = "lon", mem[1].klen = 3;
    mem[1].val.type = JV_DBL, mem[1].val.v.d = g->lon;
    jv obj;
    memset(&obj, 0, sizeof obj);
    obj.type = JV_OBJ;
    obj.len = 2;
    obj.v.members = mem;
    return qv_filter_value_match(c, &obj);
}

/* A radius condition pre-checked on the unit sphere: the dot product of two
 * points is the cosine of the angle between them, which the haversine
 * distance measures, so points clearly inside or outside (by a margin far
 * above the rounding of either formula) are decided with a few
 * multiplications, and only those near the circle take the filter's own
 * haversine.  Circles reaching the antipode take it always. */
typedef struct radius_pre {
    bool on;
    double x, y, z, cos_r;
} radius_pre;

#define RADIUS_MARGIN 1e-9

static radius_pre radius_pre_of(const qv_filter_cond *c) {
    radius_pre r = {false, 0, 0, 0, 0};
    if (c->kind != QV_FILTER_COND_GEO_RADIUS) return r;
    double theta = c->u.radius.radius / EARTH_RADIUS_M;
    if (!(theta >= 0 && theta < M_PI - 1e-6)) return r;
    pi_gpt ctr = {c->u.radius.center.lat, c->u.radius.center.lon, 0, 0, 0, 0, 0};
    gpt_unit(&ctr);
    r = (radius_pre){true, ctr.x, ctr.y, ctr.z, cos(theta)};
    return r;
}

static bool geo_match(const qv_filter_cond *c, const radius_pre *r, const pi_gpt *g) {
    if (r->on) {
        double d = g->x * r->x + g->y * r->y + g->z * r->z;
        if (d > r->cos_r + RADIUS_MARGIN) return true;
        if (d < r->cos_r - RADIUS_MARGIN) return false;
    }
    return geo_check(c, g);
}

typedef struct geo_eval_ctx {
    const qv_filter_cond *c;
    radius_pre r;
    uint64_t *bits;
    uint32_t nbits;
} geo_eval_ctx;

static void geo_eval_one(void *ctx, const pi_gpt *pt) {
    geo_eval_ctx *g = ctx;
    if (pt->off < g->nbits && geo_match(g->c, &g->r, pt)) qv_bits_set(g->bits, pt->off);
}

qv_pi_answer qv_pindex_eval(const qv_pindex *pi, const qv_filter_cond *c, uint64_t *bits,
                            uint32_t nbits) {
    pi_plan p = plan_of(pi, c);
    est_ctx x = {0, bits, nbits};
    switch (p.kind) {
    case PP_KEYS:
        keys_each(pi, p.m, key_bits, &x);
        break;
    case PP_PREFIX:
        for (uint32_t i = 0; i < pi->map.n; i++)
            if (prefix_of(&pi->map.e[i], &p.m->v.str))
                post_to_bits(&pi->map.e[i].post, bits, nbits);
        break;
    case PP_SPAN: {
        size_t from, to;
        ord_bounds(&pi->ord, &p.span, &from, &to);
        for (size_t i = from; i < to; i++)
            if (pi->ord.a[i].off < nbits) qv_bits_set(bits, pi->ord.a[i].off);
        for (size_t i = 0; i < pi->ord.nt; i++)
            if (pi->ord.t[i].off < nbits && span_has(&p.span, pi->ord.t[i].hi, pi->ord.t[i].lo))
                qv_bits_set(bits, pi->ord.t[i].off);
        break;
    }
    case PP_GEO: {
        geo_eval_ctx g = {c, radius_pre_of(c), bits, nbits};
        geo_each(&pi->geo, &p, geo_eval_one, &g);
        for (size_t i = 0; i < pi->geo.nt; i++) geo_eval_one(&g, &pi->geo.t[i]);
        break;
    }
    default:
        return QV_PI_NONE;
    }
    if (!p.exact) post_to_bits(&pi->foreign, bits, nbits);
    return p.exact ? QV_PI_EXACT : QV_PI_SUPERSET;
}

const qv_text_analyzer *qv_pindex_analyzer(const qv_pindex *pi) {
    return pi->an;
}

const uint32_t *qv_pindex_token_posting(const qv_pindex *pi, const char *tok, size_t len,
                                        uint32_t *n) {
    const pi_entry *e = pi->opts.type == QV_PT_TEXT ? map_find(&pi->map, tok, len) : NULL;
    *n = e ? e->post.n : 0;
    return e && e->post.n ? e->post.offs : NULL;
}

bool qv_pindex_foreach_value(const qv_pindex *pi,
                             void (*cb)(void *ctx, const qv_pi_value *v, const uint32_t *offs,
                                        uint32_t n),
                             void *ctx) {
    if (!pi->ok || !uses_map(pi)) return false;
    for (uint32_t k = 0; k < pi->map.n; k++) {
        const pi_entry *e = &pi->map.e[k];
        if (!e->post.n) continue;
        qv_pi_value v = {pi->opts.type, NULL, 0, 0, false};
        if (pi->opts.type == QV_PT_INTEGER)
            memcpy(&v.i, e->key, 8);
        else if (pi->opts.type == QV_PT_BOOL)
            v.b = e->key[0] != 0;
        else
            v.s = (const char *)e->key, v.len = e->klen;
        cb(ctx, &v, e->post.offs, e->post.n);
    }
    return true;
}
