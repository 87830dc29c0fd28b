/*
 * payload_index.h - one payload field index over the points of one segment.
 *
 * What it is.  Qdrant's payload indexes (keyword, integer, float, bool,
 * geo, datetime, uuid, text) for one key path, over the dense offsets of one
 * segment.  It is fed the payload of each point as the point changes
 * (qv_pindex_add / qv_pindex_remove; the segment does this on every write)
 * and answers filter conditions on its key as a set of offsets
 * (qv_pindex_eval), so the query planner can combine the answers of several
 * indexes with bit operations instead of reading every payload.
 *
 * Which values it holds.  The values a filter sees at the key (the key
 * path's values with a final array flattened one level, filter.h): those of
 * the index's type are indexed; nulls are ignored; any other value makes
 * the point "foreign" (e.g. a float under an integer index, a string that
 * is not a UUID under a uuid index).  Foreign points are remembered, so an
 * answer stays correct: a condition that a foreign value might satisfy is
 * answered as a superset (the index's points plus the foreign ones) that
 * the caller checks point by point, and exactly when there are none.
 * Results are therefore identical with and without an index.
 *
 * Structures: a hash map from value to a sorted posting list of offsets
 * (keyword, uuid, bool, integer lookups; text: the tokens of the values,
 * as the index's analyzer makes them, index/text.h); a sorted array of
 * (key, offset) pairs with a small unsorted tail that writers merge in
 * (integer ranges, float, datetime); for geo a latitude-sorted array of
 * points, searched by latitude band and checked exactly with the filter's
 * own geometry.  Everything is in memory and rebuilt from the payloads
 * when a segment is loaded (the declarations are what is persisted).
 *
 * Threading: none inside.  Writers (add/remove) must be alone; any number
 * of readers (eval, points, foreach) may share an index that is
 * not being written.  After an allocation failure in a writer the index
 * marks itself unusable (qv_pindex_ok is false) and is never consulted
 * again: answers fall back to reading payloads.
 */
#ifndef QV_INDEX_PAYLOAD_INDEX_H
#define QV_INDEX_PAYLOAD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "index/filter.h"

/* Qdrant's PayloadSchemaType, numbered as gRPC's PayloadSchemaType enum. */
typedef enum qv_payload_type {
    QV_PT_KEYWORD = 1,
    QV_PT_INTEGER = 2,
    QV_PT_FLOAT = 3,
    QV_PT_GEO = 4,
    QV_PT_TEXT = 5,
    QV_PT_BOOL = 6,
    QV_PT_DATETIME = 7,
    QV_PT_UUID = 8,
} qv_payload_type;

#define QV_PT_MAX QV_PT_UUID

/* Whether a payload value counts as indexable by an index of type t
 * (strings for keyword/text, integers, numbers, {lat, lon} objects with lat
 * in [-90, 90] and lon in [-180, 180], booleans, datetime strings, UUID
 * strings). */
bool qv_payload_type_accepts(uint32_t t, const jv *value);

struct qv_text_analyzer;

typedef struct qv_pindex_opts {
    uint32_t type; /* qv_payload_type */
    /* text: how values are tokenized (index/text.h); given to the index,
     * which frees it (even when qv_pindex_new fails); NULL = Qdrant's
     * defaults */
    struct qv_text_analyzer *text;
    bool lookup, range; /* integer: which conditions it serves (Qdrant's defaults: both) */
    uint64_t sig;       /* the owner's tag for the declaration it was built from */
    bool no_hnsw;       /* enable_hnsw: false (no payload-block links for its values) */
} qv_pindex_opts;

typedef struct qv_pindex qv_pindex;

/* A new empty index on key path `field` (its text, as declared); NULL when
 * the path does not parse or memory is short. */
qv_pindex *qv_pindex_new(const char *field, const qv_pindex_opts *opts);
void qv_pindex_free(qv_pindex *pi);

const char *qv_pindex_field(const qv_pindex *pi);
const qv_pindex_opts *qv_pindex_opts_of(const qv_pindex *pi);
bool qv_pindex_ok(const qv_pindex *pi);

/* Indexes the values payload (NULL = none) has at the key for offset off.
 * remove undoes it: the caller passes the payload it added (before the
 * point's payload changes or the point goes). */
void qv_pindex_add(qv_pindex *pi, uint32_t off, const jv *payload);
void qv_pindex_remove(qv_pindex *pi, uint32_t off, const jv *payload);

/* Offsets holding at least one value of the index's type. */
uint64_t qv_pindex_points(const qv_pindex *pi);

/* How an index answers a condition. */
typedef enum qv_pi_answer {
    QV_PI_NONE = 0,     /* it cannot: read the payloads */
    QV_PI_EXACT = 1,    /* bits are exactly the offsets that satisfy it */
    QV_PI_SUPERSET = 2, /* bits hold every offset that does, and maybe others */
} qv_pi_answer;

/* Sets in bits (nbits offsets, zeroed by the caller) the offsets that
 * satisfy c, as the answer says.  Offsets of deleted points are not there
 * (the segment removes them). */
qv_pi_answer qv_pindex_eval(const qv_pindex *pi, const qv_filter_cond *c, uint64_t *bits,
                            uint32_t nbits);

/* Text indexes: the analyzer, and the sorted offsets whose values hold a
 * token (NULL with *n = 0 when none does).  match.text / text_any / phrase
 * on the key are planned from these by the caller (collection/plan.c). */
const struct qv_text_analyzer *qv_pindex_analyzer(const qv_pindex *pi);
const uint32_t *qv_pindex_token_posting(const qv_pindex *pi, const char *tok, size_t len,
                                        uint32_t *n);

/* A distinct value of a keyword, uuid, integer (lookup) or bool index. */
typedef struct qv_pi_value {
    uint32_t type; /* the index's type */
    const char *s; /* keyword, uuid: the string (not NUL-terminated) */
    size_t len;
    int64_t i; /* integer */
    bool b;    /* bool */
} qv_pi_value;

/* Calls cb for every distinct value with its posting list (sorted offsets,
 * n > 0), in no particular order.  False when the index keeps no value map
 * (float, datetime, geo, text, integer without lookup). */
bool qv_pindex_foreach_value(const qv_pindex *pi,
                             void (*cb)(void *ctx, const qv_pi_value *v, const uint32_t *offs,
                                        uint32_t n),
                             void *ctx);

#endif
