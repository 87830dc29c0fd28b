/*
 * json_filter.h - decoding a request's JSON "filter" into a qv_filter.
 *
 * The input is a parsed request (numbers still JV_NUM, or already resolved:
 * both work).  The output tree lives in the caller's arena and borrows
 * nothing from the input, so the request arena may be freed first only if it
 * is a different arena.
 *
 * Qdrant decodes a filter with serde: Filter and every condition struct deny
 * unknown fields, and Condition / Match / RangeInterface are untagged enums,
 * tried in order.  Any error inside a condition therefore surfaces as serde's
 * generic "data did not match any variant of untagged enum Condition"; only
 * the outermost Filter's own fields (unknown keys, min_should, the clause
 * shapes) get specific messages.  Explicit nulls are the same as absent.
 */
#ifndef QV_API_JSON_FILTER_H
#define QV_API_JSON_FILTER_H

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "index/filter.h"

/* Decodes json (a Filter object, or null) into *out, allocated in a.  JSON
 * null (or json == NULL) gives *out = NULL, i.e. no filter.  Errors:
 *  QV_EFORMAT      the JSON does not have Filter's shape (serde's wording,
 *                  without " at line L column C");
 *  QV_EVALIDATION  it has the shape but breaks a rule Qdrant validates after
 *                  decoding ("At least one field condition must be
 *                  specified", min_count 0, slice index >= total); reported
 *                  only when there is no format error;
 *  QV_ENOMEM. */
qv_rc qv_filter_from_json(qv_arena *a, const jv *json, qv_filter **out, qv_err *err);

#endif
