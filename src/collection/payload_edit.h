/*
 * payload_edit.h - building new payload documents from old ones: merge at a
 * key path (set_payload), and removal of key paths (delete_payload).
 *
 * Payloads are immutable once stored (readers may hold them), so every edit
 * builds a fresh document; unchanged subtrees are copied into it.
 */
#ifndef QV_COLLECTION_PAYLOAD_EDIT_H
#define QV_COLLECTION_PAYLOAD_EDIT_H

#include "core/json.h"
#include "index/filter.h"
#include "storage/segment.h"

/* old (NULL = {}) with patch's members set at path key (NULL = root); an
 * object found at the path is merged into, anything else is replaced by an
 * object.  Returns NULL on OOM. */
qv_payload *qv_payload_merge(const jv *old, const jv *patch, const qv_keypath *key);

/* old with each of the paths removed (missing paths are ignored).  Returns
 * NULL on OOM. */
qv_payload *qv_payload_remove(const jv *old, const qv_keypath *const *paths, size_t n);

#endif
