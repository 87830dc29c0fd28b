/*
 * plan.c - answering a filter over one segment from its payload indexes
 * (see plan.h for what a plan is and guarantees).
 *
 * The filter tree is walked once.  Each node yields (bits, exact): bits a
 * superset of the offsets it accepts (NULL: no narrowing), exact whether
 * bits (or "everything" when NULL) is precisely its answer.  Combination:
 *   must       the intersection; exact when every part is.
 *   must_not   an exact part is subtracted from the live points; an inexact
 *              part says nothing (it makes the node inexact).
 *   should     the union when every part narrows (exact when all are);
 *              a part that accepts everything exactly makes it vacuous.
 *   min_should exact parts are counted per offset (count >= min_count);
 *              else the union, inexact.
 * Leaves: index answers (payload_index.h), has_id from the ID map,
 * sub-filters recursively; everything else accepts everything, inexactly
 * (checked from the payload).  Exact leaves are remembered so that payload
 * checks read their bit instead of re-evaluating them.
 *
 * Every set the walk combines into is a fresh copy, never an index answer
 * that a remembered leaf points to.
 */
#include "collection/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/bitset.h"
#include "index/text.h"

typedef struct nres {
    uint64_t *bits;
    bool exact;
} nres;

static const nres ALL_INEXACT = {NULL, false};

/* Makes room for one more element in arr (n used of cap, doubling);
 * leaves n < cap unless memory is short. */
#define ROOM_FOR_ONE(arr, n, cap)                                                                  \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            uint32_t c_ = (cap) ? (cap)*2 : 8;                                                     \
            void *a_ = realloc((arr), c_ * sizeof *(arr));                                         \
            if (a_) (arr) = a_, (cap) = c_;                                                        \
        }                                                                                          \
    } while (0)

static uint64_t *own(qv_fplan *p, uint64_t *b) {
    if (!b) return NULL;
    ROOM_FOR_ONE(p->owned, p->nowned, p->capowned);
    if (p->nowned == p->capowned) {
        free(b);
        return NULL;
    }
    p->owned[p->nowned++] = b;
    return b;
}

static uint64_t *fresh(qv_fplan *p) {
    return own(p, qv_bits_new(p->n));
}

static uint64_t *copy_of(qv_fplan *p, const uint64_t *src) {
    uint64_t *b = fresh(p);
    if (b) memcpy(b, src, qv_bits_words(p->n) * sizeof *b);
    return b;
}

static bool remember_ex(qv_fplan *p, const qv_filter_cond *c, const uint64_t *bits, bool exact,
                        qv_text_query *text) {
    ROOM_FOR_ONE(p->known, p->nknown, p->capknown);
    if (p->nknown == p->capknown) return false;
    p->known[p->nknown++] = (qv_fplan_known){c, bits, exact, text};
    return true;
}

/* An exactly answered condition; without room to remember it, it is
 * evaluated from the payload: slower, the same answer. */
static void remember(qv_fplan *p, const qv_filter_cond *c, const uint64_t *bits) {
    remember_ex(p, c, bits, true, NULL);
}

static bool own_query(qv_fplan *p, qv_text_query *q) {
    ROOM_FOR_ONE(p->queries, p->nqueries, p->capqueries);
    if (p->nqueries == p->capqueries) {
        qv_text_query_free(q);
        return false;
    }
    p->queries[p->nqueries++] = q;
    return true;
}

/* match.text / text_any / phrase on a field with a full-text index: the
 * query is tokenized as the index tokenizes; text needs every token's
 * posting, text_any one, phrase every one and then the order, which only
 * the payload shows. */
static nres text_leaf(qv_fplan *p, const qv_filter_cond *c, const qv_pindex *pi) {
    const qv_filter_matcher *m = &c->u.match;
    qv_text_match_kind kind = m->kind == QV_FILTER_MATCH_TEXT       ? QV_TEXT_MATCH_TEXT
                              : m->kind == QV_FILTER_MATCH_TEXT_ANY ? QV_TEXT_MATCH_ANY
                                                                    : QV_TEXT_MATCH_PHRASE;
    qv_text_query *q = NULL;
    if (qv_text_query_new(qv_pindex_analyzer(pi), kind, m->v.str.s, m->v.str.len, &q) != QV_OK ||
        !own_query(p, q))
        return ALL_INEXACT;
    if (p->no_bits) {
        remember_ex(p, c, NULL, false, q);
        return ALL_INEXACT;
    }
    uint64_t *b = fresh(p), *t = kind == QV_TEXT_MATCH_ANY ? NULL : fresh(p);
    if (!b || (kind != QV_TEXT_MATCH_ANY && !t)) {
        remember_ex(p, c, NULL, false, q);
        return ALL_INEXACT;
    }
    size_t nt = qv_text_query_matches_nothing(q) ? 0 : qv_text_query_ntokens(q);
    for (size_t i = 0; i < nt; i++) {
        size_t len;
        const char *tok = qv_text_query_token(q, i, &len);
        uint32_t n;
        const uint32_t *offs = qv_pindex_token_posting(pi, tok, len, &n);
        uint64_t *dst = kind == QV_TEXT_MATCH_ANY || i == 0 ? b : t;
        if (dst == t) memset(t, 0, qv_bits_words(p->n) * sizeof *t);
        for (uint32_t k = 0; k < n; k++)
            if (offs[k] < p->n) qv_bits_set(dst, offs[k]);
        if (dst == t) qv_bits_and(b, t, p->n);
    }
    bool exact = kind != QV_TEXT_MATCH_PHRASE;
    if (!remember_ex(p, c, b, exact, q)) return ALL_INEXACT;
    return (nres){b, exact};
}

static nres node(qv_fplan *p, const qv_filter *f);

static nres leaf(qv_fplan *p, const qv_filter_cond *c) {
    switch (c->kind) {
    case QV_FILTER_COND_FILTER: {
        nres r = node(p, c->u.filter);
        if (r.exact) remember(p, c, r.bits);
        return r;
    }
    case QV_FILTER_COND_HAS_ID: {
        if (p->no_bits) return ALL_INEXACT;
        uint64_t *b = fresh(p);
        if (!b) return ALL_INEXACT;
        for (size_t i = 0; i < c->u.ids.n; i++) {
            uint32_t off;
            if (qv_segment_find(p->seg, &c->u.ids.ids[i], &off)) qv_bits_set(b, off);
        }
        remember(p, c, b);
        return (nres){b, true};
    }
    case QV_FILTER_COND_MATCH:
    case QV_FILTER_COND_RANGE:
    case QV_FILTER_COND_DATETIME:
    case QV_FILTER_COND_GEO_BOX:
    case QV_FILTER_COND_GEO_RADIUS:
    case QV_FILTER_COND_GEO_POLYGON: {
        const qv_pindex *pi = qv_segment_pindex(p->seg, c->key->text, c->key->text_len);
        if (pi && c->kind == QV_FILTER_COND_MATCH && qv_pindex_opts_of(pi)->type == QV_PT_TEXT &&
            (c->u.match.kind == QV_FILTER_MATCH_TEXT ||
             c->u.match.kind == QV_FILTER_MATCH_TEXT_ANY ||
             c->u.match.kind == QV_FILTER_MATCH_PHRASE))
            return text_leaf(p, c, pi);
        if (p->no_bits) return ALL_INEXACT;
        if (!pi) return ALL_INEXACT;
        uint64_t *b = fresh(p);
        if (!b) return ALL_INEXACT;
        qv_pi_answer a = qv_pindex_eval(pi, c, b, p->n); /* NONE: b stays empty, unused */
        if (a == QV_PI_NONE) return ALL_INEXACT;
        if (a == QV_PI_EXACT) remember(p, c, b);
        return (nres){b, a == QV_PI_EXACT};
    }
    default:
        return ALL_INEXACT;
    }
}

/* acc (fresh or NULL = everything) narrowed to bits. */
static uint64_t *narrow(qv_fplan *p, uint64_t *acc, const uint64_t *bits) {
    if (!bits) return acc;
    if (!acc) return copy_of(p, bits);
    qv_bits_and(acc, bits, p->n);
    return acc;
}

static uint64_t *live_copy(qv_fplan *p) {
    return copy_of(p, qv_segment_live_bits(p->seg));
}

static nres node(qv_fplan *p, const qv_filter *f) {
    uint64_t *acc = NULL;
    bool exact = true;
    for (size_t k = 0; k < f->must.n; k++) {
        nres r = leaf(p, &f->must.conds[k]);
        acc = narrow(p, acc, r.bits);
        exact = exact && r.exact;
    }
    for (size_t k = 0; k < f->must_not.n; k++) {
        nres r = leaf(p, &f->must_not.conds[k]);
        if (!r.exact) {
            exact = false;
            continue;
        }
        if (!acc && !(acc = live_copy(p))) {
            exact = false;
            continue;
        }
        if (r.bits)
            qv_bits_andnot(acc, r.bits, p->n);
        else
            memset(acc, 0, qv_bits_words(p->n) * sizeof *acc);
    }
    if (f->should.n) {
        uint64_t *u = fresh(p);
        bool all_exact = false, narrows = u != NULL, uexact = true;
        for (size_t k = 0; k < f->should.n; k++) {
            nres r = leaf(p, &f->should.conds[k]);
            uexact = uexact && r.exact;
            if (!r.bits) {
                if (r.exact)
                    all_exact = true;
                else
                    narrows = false;
            } else if (u) {
                qv_bits_or(u, r.bits, p->n);
            }
        }
        if (!all_exact) {
            if (narrows) {
                acc = narrow(p, acc, u);
                exact = exact && uexact;
            } else {
                exact = false;
            }
        }
    }
    if (f->min_count) {
        const qv_filter_list *l = &f->min_should;
        nres *rs = calloc(l->n ? l->n : 1, sizeof *rs);
        bool all_exact = rs != NULL, all_bits = rs != NULL;
        for (size_t k = 0; rs && k < l->n; k++) {
            rs[k] = leaf(p, &l->conds[k]);
            all_exact = all_exact && rs[k].exact;
            all_bits = all_bits && rs[k].bits;
        }
        uint32_t *cnt = all_exact ? calloc(p->n ? p->n : 1, sizeof *cnt) : NULL;
        uint64_t *res = fresh(p);
        if (cnt && res) {
            uint32_t base = 0;
            for (size_t k = 0; k < l->n; k++) {
                if (!rs[k].bits) {
                    base++;
                    continue;
                }
                for (size_t i = qv_bits_next(rs[k].bits, 0, p->n); i < p->n;
                     i = qv_bits_next(rs[k].bits, i + 1, p->n))
                    cnt[i]++;
            }
            for (uint32_t i = 0; i < p->n; i++)
                if (base + cnt[i] >= f->min_count) qv_bits_set(res, i);
            acc = narrow(p, acc, res);
        } else if (all_bits && res) {
            for (size_t k = 0; k < l->n; k++) qv_bits_or(res, rs[k].bits, p->n);
            acc = narrow(p, acc, res);
            exact = false;
        } else {
            exact = false;
        }
        free(cnt);
        free(rs);
    }
    return (nres){acc, exact};
}

/* An empty plan of filter over seg: every live point a candidate. */
static void plan_init(qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                      const qv_filter *filter) {
    memset(p, 0, sizeof *p);
    p->c = c;
    p->seg = seg;
    p->filter = filter;
    p->n = qv_segment_size(seg);
    p->ncand = qv_segment_live_count(seg);
}

qv_rc qv_fplan_build(qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                     const qv_filter *filter) {
    plan_init(p, c, seg, filter);
    if (!filter) {
        p->exact = true;
        return QV_OK;
    }
    if (p->n == 0) return QV_OK;
    nres r = node(p, filter);
    p->exact = r.exact;
    const qv_filter_cond *one =
        filter->must.n == 1 && !filter->should.n && !filter->must_not.n && !filter->min_count
            ? &filter->must.conds[0]
            : NULL;
    p->block =
        r.exact && one && one->kind == QV_FILTER_COND_MATCH &&
        (one->u.match.kind == QV_FILTER_MATCH_KEYWORD ||
         one->u.match.kind == QV_FILTER_MATCH_INTEGER || one->u.match.kind == QV_FILTER_MATCH_BOOL);
    if (r.bits) {
        qv_bits_and(r.bits, qv_segment_live_bits(seg), p->n);
        p->cand = r.bits;
        p->ncand = qv_bits_count(r.bits, p->n);
    }
    return QV_OK;
}

qv_rc qv_fplan_build_scan(qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                          const qv_filter *filter) {
    plan_init(p, c, seg, filter);
    p->no_bits = true;
    p->exact = !filter;
    if (filter && p->n) node(p, filter); /* only text conditions are remembered */
    return QV_OK;
}

void qv_fplan_free(qv_fplan *p) {
    for (uint32_t i = 0; i < p->nqueries; i++) qv_text_query_free(p->queries[i]);
    free(p->queries);
    for (uint32_t i = 0; i < p->nowned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->known);
    memset(p, 0, sizeof *p);
}

typedef struct chk_ctx {
    const qv_fplan *p;
    const qv_collection *c;
    const qv_segment *seg;
    uint32_t off;
} chk_ctx;

static bool chk_has_vector(void *ctx, const char *name) {
    const chk_ctx *x = ctx;
    int vi = qv_collection_config_vector(&x->c->cfg, name);
    return vi >= 0 && qv_segment_has_vector(x->seg, (uint32_t)vi, x->off);
}

typedef struct text_all {
    qv_text_str *v;
    size_t n;
} text_all;

static void count_str(void *ctx, const jv *v) {
    if (v->type == JV_STR) (*(size_t *)ctx)++;
}

static void collect_str(void *ctx, const jv *v) {
    text_all *t = ctx;
    if (v->type == JV_STR) t->v[t->n++] = (qv_text_str){v->v.s, v->len};
}

/* A text condition decided by the index's tokenization over every string
 * value of the point at the key (as one document, in order). */
static bool text_check(const qv_text_query *q, const qv_keypath *key, const jv *payload) {
    size_t n = 0;
    qv_keypath_values(key, payload, count_str, &n);
    if (!n) return false;
    qv_text_str local[32];
    text_all all = {n <= 32 ? local : malloc(n * sizeof(qv_text_str)), 0};
    if (!all.v) return false;
    qv_keypath_values(key, payload, collect_str, &all);
    bool hit = false;
    if (qv_text_query_match_values(q, all.v, all.n, &hit) != QV_OK) hit = false;
    if (all.v != local) free(all.v);
    return hit;
}

static int chk_known(void *ctx, const qv_filter_cond *c) {
    const chk_ctx *x = ctx;
    if (!x->p) return -1;
    for (uint32_t i = 0; i < x->p->nknown; i++) {
        const qv_fplan_known *k = &x->p->known[i];
        if (k->cond != c) continue;
        if (k->bits && !qv_bits_test(k->bits, x->off)) return 0;
        if (k->exact) return 1;
        if (k->text) return text_check(k->text, c->key, qv_segment_payload(x->seg, x->off));
        return -1;
    }
    return -1;
}

static bool eval_at(const qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                    const qv_filter *f, uint32_t off) {
    chk_ctx x = {p, c, seg, off};
    qv_filter_point fp = {qv_segment_id(seg, off), qv_segment_payload(seg, off), chk_has_vector, &x,
                          p && p->nknown ? chk_known : NULL};
    return qv_filter_match(f, &fp);
}

bool qv_fplan_check(const qv_fplan *p, uint32_t off) {
    if (!qv_segment_is_live(p->seg, off)) return false;
    if (!p->filter) return true;
    if (p->cand && !qv_bits_test(p->cand, off)) return false;
    if (p->exact) return true;
    return eval_at(p, p->c, p->seg, p->filter, off);
}

/* Points sampled when the plan is not exact. */
#define PLAN_SAMPLE 256

uint64_t qv_fplan_estimate(qv_fplan *p) {
    if (!p->filter || p->exact || p->ncand == 0) return p->ncand;
    if (p->has_est) return p->est;
    uint64_t seen = 0, pass = 0;
    if (p->cand) {
        uint64_t step = p->ncand / PLAN_SAMPLE + 1, k = 0;
        for (size_t i = qv_bits_next(p->cand, 0, p->n); i < p->n;
             i = qv_bits_next(p->cand, i + 1, p->n), k++) {
            if (k % step) continue;
            seen++;
            pass += qv_fplan_check(p, (uint32_t)i);
        }
    } else {
        uint32_t step = p->n / PLAN_SAMPLE + 1;
        for (uint32_t off = 0; off < p->n; off += step) {
            if (!qv_segment_is_live(p->seg, off)) continue;
            seen++;
            pass += qv_fplan_check(p, off);
        }
    }
    /* one more than seen: a filter no sampled point passes still
     * estimates a few */
    p->est = seen ? (pass + 1) * p->ncand / (seen + 1) : p->ncand;
    p->has_est = true;
    return p->est;
}
