/*
 * segment.h - an appendable segment: the points of a shard held in memory,
 * with their named dense vectors, payloads and versions, and its on-disk
 * checkpoint form.
 *
 * Points live at dense offsets 0..n-1.  An ID map (open addressing) finds
 * a point's offset; each named vector is a row-major matrix of float32,
 * float16 or uint8 components (core/elem.h; writers hand in floats, which
 * are encoded) with a presence bit per offset (a point may lack a named vector); a payload is
 * an immutable document (qv_payload) replaced, never edited, on update.
 * Deleting a point clears its ID map entry and marks the offset dead; dead
 * offsets are dropped when the segment is checkpointed and reloaded.
 *
 * What it deliberately does not do yet: indexes (HNSW, payload indexes),
 * immutable/mmap'd segments and optimizers come with later issues, which
 * add segment kinds beside this one behind the same read accessors.
 *
 * Threading: none inside; the shard's lock protects a segment (readers may
 * share it, a writer is alone).
 */
#ifndef QV_STORAGE_SEGMENT_H
#define QV_STORAGE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/elem.h"
#include "core/err.h"
#include "core/json.h"
#include "core/pointid.h"
#include "index/payload_index.h"

/* An immutable payload document: a resolved JSON object and its memory. */
typedef struct qv_payload {
    qv_arena arena;
    jv root; /* JV_OBJ */
} qv_payload;

/* Deep-copies obj (a JSON object) into a new document; NULL on OOM. */
qv_payload *qv_payload_new(const jv *obj);
void qv_payload_free(qv_payload *p);

typedef struct qv_segment qv_segment;

/* A new empty segment holding nvec named vectors of the given dims, stored
 * as elems (core/elem.h; NULL = all float32). */
qv_segment *qv_segment_new(uint32_t nvec, const uint32_t *dims, const qv_elem *elems);
void qv_segment_free(qv_segment *s);

/* ---- reading ----------------------------------------------------------- */

/* Number of offsets (live and dead); offsets are < this. */
uint32_t qv_segment_size(const qv_segment *s);
/* Number of live points. */
uint32_t qv_segment_live_count(const qv_segment *s);
bool qv_segment_is_live(const qv_segment *s, uint32_t off);
/* The live bits (bit off set when off is live; size() bits, the rest 0). */
const uint64_t *qv_segment_live_bits(const qv_segment *s);
bool qv_segment_find(const qv_segment *s, const qv_pointid *id, uint32_t *off);
const qv_pointid *qv_segment_id(const qv_segment *s, uint32_t off);
uint64_t qv_segment_version(const qv_segment *s, uint32_t off);
/* The payload object, or NULL when the point has none (reads as {}). */
const jv *qv_segment_payload(const qv_segment *s, uint32_t off);
/* Vector vi of the point as floats, or NULL if it has none: the stored row
 * itself when it is float32, else the row decoded into buf (dim floats),
 * which is what is returned. */
const float *qv_segment_vector(const qv_segment *s, uint32_t vi, uint32_t off, float *buf);
/* Every vector of the point as floats (vecs[vi], NULL where absent), rows
 * that are not float32 decoded into one block *buf (NULL when none is
 * needed) that the caller frees.  False when that block cannot be had. */
bool qv_segment_vectors_f32(const qv_segment *s, uint32_t off, const float **vecs, float **buf);
/* The stored row (dim components of qv_segment_elem), or NULL. */
const void *qv_segment_row(const qv_segment *s, uint32_t vi, uint32_t off);
bool qv_segment_has_vector(const qv_segment *s, uint32_t vi, uint32_t off);
/* How vector vi's rows are stored.  Rows loaded from a checkpoint keep the
 * element type their file has, so segments of one collection may differ
 * (e.g. written before the collection's datatype was stored natively). */
qv_elem qv_segment_elem(const qv_segment *s, uint32_t vi);
uint32_t qv_segment_dim(const qv_segment *s, uint32_t vi);
uint32_t qv_segment_nvec(const qv_segment *s);

/* Live offsets sorted by point ID (computed lazily after changes; the
 * array belongs to the segment and is valid until the next change).
 * Not thread-safe on its own: call under the shard's write lock or with
 * qv_segment_prepare_order() done under it. */
const uint32_t *qv_segment_id_order(qv_segment *s, uint32_t *n);
/* True when the ID order is current (readers may then use it). */
bool qv_segment_order_ready(const qv_segment *s);

/* ---- writing (validated input only) ---------------------------------------
 * Each takes the operation number that makes the change, recorded as the
 * point's version.  They return QV_ENOMEM on allocation failure, leaving
 * the point as it was. */

/* Inserts or wholly replaces a point: vecs[vi] (NULL = absent) and payload
 * (ownership taken, NULL = none). */
qv_rc qv_segment_put(qv_segment *s, uint64_t opnum, const qv_pointid *id, const float *const *vecs,
                     qv_payload *payload);
/* Replaces the vectors of an existing point for which vecs[vi] != NULL;
 * with remove, instead removes vectors vi for which remove[vi] is true. */
qv_rc qv_segment_set_vectors(qv_segment *s, uint64_t opnum, uint32_t off, const float *const *vecs,
                             const bool *remove);
/* Replaces the payload of a live point (ownership taken, NULL = none). */
void qv_segment_set_payload(qv_segment *s, uint64_t opnum, uint32_t off, qv_payload *payload);
/* Deletes a point; false if absent. */
bool qv_segment_delete(qv_segment *s, uint64_t opnum, const qv_pointid *id);

/* Deletes the live point at off (false if it is not live). */
bool qv_segment_delete_at(qv_segment *s, uint64_t opnum, uint32_t off);

/* The row matrix of vector vi: offset off's vector is the dim components
 * (qv_segment_elem) at rows + off * dim * element size, zeros where the
 * point has no such vector.  Valid until the segment grows (never, for a
 * segment that takes no new points). */
const void *qv_segment_rows(const qv_segment *s, uint32_t vi);

/* ---- payload indexes ------------------------------------------------------
 * A segment keeps the payload field indexes given to it in step with its
 * payloads: every put, payload change and deletion updates them, so they
 * describe exactly the live points.  They are not saved with the segment:
 * the collection declares them again after a load (they are rebuilt from
 * the payloads). */

/* Takes pi (ownership), indexes every live point's payload into it and
 * keeps it current; an index on the same field is replaced. */
void qv_segment_add_pindex(qv_segment *s, qv_pindex *pi);
/* Drops the index on field, if any. */
void qv_segment_drop_pindex(qv_segment *s, const char *field);
/* The usable index on the key path text field[0..len), or NULL. */
const qv_pindex *qv_segment_pindex(const qv_segment *s, const char *field, size_t len);
uint32_t qv_segment_npindex(const qv_segment *s);
const qv_pindex *qv_segment_pindex_at(const qv_segment *s, uint32_t i);

/* ---- persistence ----------------------------------------------------------
 * A checkpoint directory holds points.dat and vectors-<vi>.dat (formats in
 * segment.c and docs/storage-format.md), each with a magic, a version and a
 * CRC-32C trailer; files are fsynced before return. */
qv_rc qv_segment_save(const qv_segment *s, const char *dir, uint64_t checkpoint_op, qv_err *err);
/* The dead offsets of a segment whose files were saved when it had none
 * (an immutable segment), as a small versioned, checksummed file; load
 * applies them to the segment just loaded from those files. */
qv_rc qv_segment_save_dead(const qv_segment *s, const char *path, qv_err *err);
qv_rc qv_segment_load_dead(qv_segment *s, const char *path, qv_err *err);

/* Serves vector vi of s (a segment that takes no new points, just saved
 * to or loaded from dir) from dir/vectors-<vi>.dat through a read-only
 * mapping instead of heap memory.  The file's header must match the
 * segment (and with verify, its CRC); resident asks the kernel to keep the
 * rows in memory (populated now), else they are paged in on demand
 * (on_disk).  The presence bits stay as they were. */
qv_rc qv_segment_map_vectors(qv_segment *s, const char *dir, uint32_t vi, bool verify,
                             bool resident, qv_err *err);
bool qv_segment_vectors_mapped(const qv_segment *s, uint32_t vi);
/* Drops the pages of mapped vector vi from this process (they stay in the
 * page cache and come back on the next read); a no-op when not mapped. */
void qv_segment_release_vectors(qv_segment *s, uint32_t vi);
/* The opposite: faults the pages of mapped vector vi in now (and asks for
 * read-ahead), as a resident mapping has at load; a no-op when not mapped. */
void qv_segment_populate_vectors(qv_segment *s, uint32_t vi);
/* Bytes of vector vi's rows (offsets x dim x element size). */
uint64_t qv_segment_row_bytes(const qv_segment *s, uint32_t vi);

/* Loads a checkpoint; the dims must match (QV_ECORRUPT otherwise). */
qv_rc qv_segment_load(const char *dir, uint32_t nvec, const uint32_t *dims, qv_segment **out,
                      uint64_t *checkpoint_op, qv_err *err);
/* The same; with mapped (nvec entries, may be NULL = all -1), vector vi is
 * read into memory (-1) or mapped (qv_segment_map_vectors, verified):
 * resident (0) or on disk (1). */
qv_rc qv_segment_load_ex(const char *dir, uint32_t nvec, const uint32_t *dims, const int8_t *mapped,
                         qv_segment **out, uint64_t *checkpoint_op, qv_err *err);

#endif
