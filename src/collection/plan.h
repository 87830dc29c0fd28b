/*
 * plan.h - how a filter is answered over one segment (collection layer,
 * internal to search.c and the other readers).
 *
 * A qv_fplan is built per (filter, segment) for one request.  It asks the
 * segment's payload indexes (index/payload_index.h) and its ID map for
 * every condition they can answer and combines their answers with bit
 * operations along the filter's boolean tree, giving:
 *   - cand: a set of offsets that holds every live point the filter
 *     accepts (NULL when no index narrows it: every live point), and
 *   - exact: whether cand is exactly those points, so a check is one bit.
 * When it is not exact, a point in cand is checked by evaluating the
 * filter on its payload, with every condition an index answered exactly
 * (match, range, geo, has_id, sub-filters made of those) read from its
 * bits instead (qv_filter_point.cond).  So answers are identical with and
 * without indexes; indexes only decide how much is read.
 *
 * The estimate (qv_fplan_estimate) is the number of points the filter
 * accepts: exact when the plan is, else the candidates' count times the
 * share of a sample of them that passes (Qdrant's estimate-then-sample).
 * The search uses it to choose between a pre-filtered exact scan of the
 * candidates and a filtered graph search.
 *
 * Threading: a plan is built and used by one request (it may be read from
 * the search pool's threads at once); the segment must not change while
 * it lives (the caller holds the collection's read lock).
 */
#ifndef QV_COLLECTION_PLAN_H
#define QV_COLLECTION_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "collection/collection_impl.h"
#include "index/filter.h"

struct qv_text_query;

/* A condition whose answer the plan knows better than a payload reading:
 * bits (when not NULL) hold every point that satisfies it, exactly when
 * exact; text (match.text / text_any / phrase on a field with a full-text
 * index) decides the others by the index's tokenization (index/text.h),
 * which is what such a condition means on such a field. */
typedef struct qv_fplan_known {
    const qv_filter_cond *cond;
    const uint64_t *bits; /* NULL: no bit set (then text decides, or it always holds) */
    bool exact;
    struct qv_text_query *text;
} qv_fplan_known;

typedef struct qv_fplan {
    const qv_collection *c;
    const qv_segment *seg;
    const qv_filter *filter; /* NULL: no filter, every live point */
    uint32_t n;              /* the segment's size in offsets */
    uint64_t *cand;          /* see above; NULL = every live point */
    bool exact;
    uint64_t ncand;        /* live points in cand (or all live points) */
    qv_fplan_known *known; /* conditions answered exactly */
    uint32_t nknown, capknown;
    uint64_t **owned; /* bit sets to free */
    uint32_t nowned, capowned;
    struct qv_text_query **queries; /* prepared text conditions to free */
    uint32_t nqueries, capqueries;
    bool no_bits; /* built by qv_fplan_build_scan */
    /* the filter is exactly one must condition matching one value of a
     * keyword/integer/bool/uuid index: a payload block, which may have
     * links of its own in the segment's graph */
    bool block;
    bool has_est; /* est holds the sampled estimate */
    uint64_t est;
} qv_fplan;

/* Builds the plan of filter (may be NULL) over seg.  QV_ENOMEM leaves a
 * plan that is still correct (it reads payloads) and freeable. */
qv_rc qv_fplan_build(qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                     const qv_filter *filter);
void qv_fplan_free(qv_fplan *p);

/* Whether the live-or-not point at off passes the filter (false for dead
 * offsets). */
bool qv_fplan_check(const qv_fplan *p, uint32_t off);

/* Expected number of live points that pass (see above); a sampled
 * estimate is computed once per plan and kept. */
uint64_t qv_fplan_estimate(qv_fplan *p);

/* The reference plan: no candidates, every point checked from its payload
 * (text conditions still by their index's tokenization).  For tests of a
 * plan's equivalence. */
qv_rc qv_fplan_build_scan(qv_fplan *p, const qv_collection *c, const qv_segment *seg,
                          const qv_filter *filter);

#endif
