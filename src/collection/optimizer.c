/*
 * optimizer.c - the segment lifecycle: Qdrant's optimizers over a shard's
 * segments (the segment model is in collection_impl.h).
 *
 * Every optimization has the same shape: some source segments are replaced
 * by one new immutable segment holding their live points, with an HNSW
 * graph per named vector when the new segment is large enough
 * (indexing_threshold).  What differs is which sources it takes:
 *   indexing         the appendable segment once its vectors pass
 *                    indexing_threshold KB (and writes paused for a second,
 *                    or it reached max_segment_size: a bulk upload is not
 *                    indexed in many small pieces); a frozen segment left by
 *                    a crash; a persisted segment not indexed although it
 *                    is now large enough (indexing_threshold lowered)
 *   config_mismatch  an indexed segment built with other HNSW parameters
 *                    than the configuration's (after a PATCH)
 *   vacuum           a segment whose deleted points passed deleted_threshold
 *                    and vacuum_min_vector_number
 *   merge            the smallest segments, when there are more than
 *                    default_segment_number, up to max_segment_size
 *
 * Steps, and the lock each takes (c->lock):
 *   1 plan, and mark the sources optimizing; if the appendable segment is
 *     one, freeze it: a new empty appendable segment takes the writes, and
 *     copy on write (collection.c) keeps the frozen one's vectors still
 *                                                              write lock
 *   2 copy the sources' live points into a new segment             read lock
 *   3 build the graphs and write segments/seg-<uid>/ (tmp dir, fsync,
 *     rename): the long part, with no lock, so reads and writes go on
 *   4 swap: points deleted from the sources since step 2 are deleted from
 *     the new segment, which replaces the sources                  write lock
 *   5 checkpoint: segments.qvm now names the new segment; the sources'
 *     directories are removed once it is current
 * A crash before 5 leaves the old checkpoint current and the new directory
 * unnamed: the next open removes it, and the WAL replays onto the old
 * segments.  No step changes what a reader sees, only where points live.
 *
 * Persisted segment directory (segments/seg-<uid, 20 digits>/):
 *   points.dat, vectors-<vi>.dat   storage/segment.c's files, no dead points
 *   hnsw-<vi>.qvh                  index/hnsw_io.c's graph of vector vi
 *   quant-<vi>.qvq                 index/qcodes.c's quantized codes of vi
 *   segment.qvs                    envelope "QVSEGINF": u32 nvec, then one
 *                                  byte of flags per vector (1: hnsw-<vi>.qvh
 *                                  exists, 2: quant-<vi>.qvq exists)
 *
 * Quantization: every segment an optimizer writes gets the codes its
 * vectors' quantization_config asks for (the vector's own, else the
 * collection's): scalar int8, product, binary one-bit and turbo.  A changed quantization
 * config makes the segments config_mismatch candidates like changed HNSW
 * parameters do.
 * Written under seg-<uid>.tmp and renamed when complete (then the parent is
 * fsynced), so a directory with the final name is whole.
 *
 * Placement (Qdrant's `memory`, see resident() and codes_place()): a
 * persisted segment's vectors are served from a mapping of their file,
 * populated at load ("cached") or paged in on demand ("cold"); its codes
 * are on the heap ("pinned") or mapped cold or cached.  A segment an
 * optimizer just wrote gets the same placements as a load would give it.
 * A PATCH re-advises mapped segments (qv_segments_readvise).  Graphs are
 * on the heap, or mapped when cold (graph_place).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/buf.h"
#include "core/log.h"
#include "index/hnsw.h"
#include "index/qcodes.h"

#define SEGINFO_MAGIC "QVSEGINF"

/* Completed optimizations kept for GET /collections/{c}/optimizations. */
#define OPTIM_LOG              QV_OPTIM_LOG
/* Writes must pause this long before the appendable segment is indexed
 * (unless it reached max_segment_size). */
#define QUIET_MS               1000
/* max_segment_size when the configuration leaves it to us (KB). */
#define DEFAULT_MAX_SEGMENT_KB 200000

/* ---- persisted segment directories ------------------------------------------- */

static void seg_path(const char *cdir, uint64_t uid, char *out, size_t n) {
    snprintf(out, n, "%s/segments/seg-%020" PRIu64, cdir, uid);
}

void qv_segdir_path(const qv_collection *c, uint64_t uid, char *out, size_t n) {
    seg_path(c->dir, uid, out, n);
}

/* The placement the user asked for vector vi's original vectors, as
 * Qdrant resolves it: `memory` if given, else the deprecated on_disk (true:
 * cold, false: cached), else QV_QMEM_UNSET. */
static uint8_t vector_memory(const qv_collection_config *cfg, uint32_t vi) {
    const qv_vector_params *v = &cfg->vectors[vi];
    if (v->memory != QV_QMEM_UNSET) return v->memory;
    if (v->on_disk.has) return v->on_disk.v ? QV_QMEM_COLD : QV_QMEM_CACHED;
    return QV_QMEM_UNSET;
}

/* Whether vector vi's rows (bytes of them in the segment) should stay in
 * memory ("cached": the segment's mapping is populated at load) or be
 * paged in on demand from the segment's file ("cold").  An explicit
 * placement wins (memory, else on_disk: Qdrant's optimizer gives a
 * requested in-RAM placement precedence over memmap_threshold, and a cold
 * one mmap storage; pinned, refused for dense vectors, counts as cached as
 * Qdrant does defensively); without one, rows that reach the optimizers'
 * memmap_threshold (KB; unset or 0 = never) are cold, as Qdrant turns
 * such segments into memmapped storage. */
static bool resident(const qv_collection_config *cfg, uint32_t vi, uint64_t bytes) {
    uint8_t m = vector_memory(cfg, vi);
    if (m != QV_QMEM_UNSET) return m != QV_QMEM_COLD;
    const qv_opt_u64 *mt = &cfg->optimizer.memmap_threshold;
    return !(mt->has && mt->v > 0 && bytes >= mt->v * 1024);
}

/* Where vector vi's quantized codes live: the quantization config's
 * `memory` (the vector's own config, else the collection's, as for the
 * codes' kind), else the deprecated always_ram (true: heap), else the
 * original vectors' placement (rows_resident: resident() of the rows).
 * pinned is the heap. */
static qv_qcodes_place codes_place(const qv_collection_config *cfg, uint32_t vi,
                                   bool rows_resident) {
    const qv_quant_config *q = &cfg->vectors[vi].quantization_config;
    if (q->kind == QV_QUANT_NONE) q = &cfg->quantization_config;
    uint8_t m = q->memory;
    if (m == QV_QMEM_UNSET && q->has_always_ram && q->always_ram) m = QV_QMEM_PINNED;
    if (m == QV_QMEM_UNSET) m = rows_resident ? QV_QMEM_CACHED : QV_QMEM_COLD;
    return m == QV_QMEM_PINNED ? QV_QCODES_HEAP
           : m == QV_QMEM_COLD ? QV_QCODES_MAP_COLD
                               : QV_QCODES_MAP_CACHED;
}

/* Where vector vi's graph lives once loaded (Qdrant's hnsw_config
 * `memory`, the vector's own hnsw_config over the collection's, else the
 * deprecated on_disk): cold graphs are served from their file's mapping
 * and paged in on demand; cached, pinned and unset ones are held on the
 * heap (loaded, never evicted: what Qdrant's cached does until memory is
 * short, and pinned always). */
static qv_hnsw_place graph_place(const qv_collection_config *cfg, uint32_t vi) {
    uint8_t mem = cfg->hnsw.memory;
    bool on_disk = cfg->hnsw.on_disk;
    const jv *o = &cfg->vectors[vi].hnsw_config;
    for (uint32_t i = 0; o->type == JV_OBJ && i < o->len; i++) {
        const jv_member *mb = &o->v.members[i];
        if (strcmp(mb->key, "on_disk") == 0 && mb->val.type == JV_BOOL) on_disk = mb->val.v.b;
        if (strcmp(mb->key, "memory") == 0 && qv_memory_parse(&mb->val) != QV_QMEM_UNSET)
            mem = qv_memory_parse(&mb->val);
    }
    if (mem == QV_QMEM_UNSET) mem = on_disk ? QV_QMEM_COLD : QV_QMEM_CACHED;
    return mem == QV_QMEM_COLD ? QV_HNSW_MAP_COLD : QV_HNSW_HEAP;
}

void qv_segments_readvise(qv_collection *c) {
    pthread_rwlock_rdlock(&c->lock);
    const qv_collection_config *cfg = &c->cfg;
    for (uint32_t si = 0; si < c->nsegs; si++) {
        qv_shard_seg *e = &c->segs[si];
        if (!e->persisted || !e->seg) continue;
        for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
            bool res = resident(cfg, vi, qv_segment_row_bytes(e->seg, vi));
            if (qv_segment_vectors_mapped(e->seg, vi)) {
                if (res)
                    qv_segment_populate_vectors(e->seg, vi);
                else
                    qv_segment_release_vectors(e->seg, vi);
            }
            qv_qcodes *q = e->qcodes ? e->qcodes[vi] : NULL;
            qv_qcodes_place pl = codes_place(cfg, vi, res);
            if (q && q->map && pl != QV_QCODES_HEAP)
                qv_qcodes_advise(q, pl == QV_QCODES_MAP_CACHED);
        }
    }
    pthread_rwlock_unlock(&c->lock);
}

static qv_hnsw_store store_of(const qv_segment *s, uint32_t vi) {
    return (qv_hnsw_store){qv_segment_rows(s, vi), qv_segment_dim(s, vi), NULL, NULL,
                           qv_segment_elem(s, vi)};
}

/* Fills e->blockmax from its graphs (see collection_impl.h). */
static void graph_stats(qv_shard_seg *e, uint32_t nvec) {
    for (uint32_t vi = 0; vi < nvec && vi < QV_MAX_NAMED_VECTORS; vi++) {
        const qv_hnsw *h = e->hnsw ? e->hnsw[vi] : NULL;
        e->blockmax[vi] = h && qv_hnsw_subgraph_count(h) ? qv_hnsw_subgraph_max_block(h) : 0;
    }
}

qv_rc qv_segdir_load(const qv_collection *c, uint64_t uid, qv_shard_seg *out, qv_err *err) {
    char dir[4200], path[4400];
    qv_segdir_path(c, uid, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/segment.qvs", dir);
    char *body;
    size_t len;
    qv_rc rc = qv_envelope_read(path, SEGINFO_MAGIC, &body, &len, err);
    if (rc) return rc == QV_ENOTFOUND ? qv_fail(err, QV_ECORRUPT, "%s is missing", path) : rc;
    uint32_t nvec = c->cfg.nvectors;
    if (len != 4 + (size_t)nvec || qv_load_u32le((const uint8_t *)body) != nvec) {
        free(body);
        return qv_fail(err, QV_ECORRUPT, "%s does not match the collection's vectors", path);
    }
    uint32_t dims[QV_MAX_NAMED_VECTORS];
    qv_shard_dims(&c->cfg, dims);
    memset(out, 0, sizeof *out);
    out->uid = uid;
    out->persisted = true;
    uint64_t op;
    int8_t mapped[QV_MAX_NAMED_VECTORS];
    bool rows_res[QV_MAX_NAMED_VECTORS];
    for (uint32_t vi = 0; vi < nvec; vi++) {
        struct stat st; /* the rows' bytes: the vectors file less its header and CRC */
        snprintf(path, sizeof path, "%s/vectors-%u.dat", dir, vi);
        uint64_t bytes = stat(path, &st) == 0 && st.st_size > 36 ? (uint64_t)st.st_size - 36 : 0;
        rows_res[vi] = resident(&c->cfg, vi, bytes);
        mapped[vi] = rows_res[vi] ? 0 : 1;
    }
    rc = qv_segment_load_ex(dir, nvec, dims, mapped, &out->seg, &op, err);
    if (!rc) {
        out->hnsw = calloc(nvec ? nvec : 1, sizeof(qv_hnsw *));
        if (!out->hnsw) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (!rc) {
        out->qcodes = calloc(nvec ? nvec : 1, sizeof(qv_qcodes *));
        if (!out->qcodes) rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    for (uint32_t vi = 0; rc == QV_OK && vi < nvec; vi++) {
        uint8_t flags = (uint8_t)body[4 + vi];
        if (flags & ~3u) rc = qv_fail(err, QV_ECORRUPT, "%s: unknown flags", path);
        if (rc || !(flags & 2)) continue;
        snprintf(path, sizeof path, "%s/quant-%u.qvq", dir, vi);
        rc = qv_qcodes_load_placed(path, qv_segment_size(out->seg), dims[vi],
                                   c->cfg.vectors[vi].distance,
                                   codes_place(&c->cfg, vi, rows_res[vi]), &out->qcodes[vi], err);
    }
    for (uint32_t vi = 0; rc == QV_OK && vi < nvec; vi++) {
        if (!(body[4 + vi] & 1)) continue;
        snprintf(path, sizeof path, "%s/hnsw-%u.qvh", dir, vi);
        qv_hnsw_store st = store_of(out->seg, vi);
        rc = qv_hnsw_load_placed(path, &st, graph_place(&c->cfg, vi), &out->hnsw[vi], err);
        if (!rc && (qv_hnsw_size(out->hnsw[vi]) != qv_segment_size(out->seg) ||
                    qv_hnsw_dim(out->hnsw[vi]) != dims[vi]))
            rc = qv_fail(err, QV_ECORRUPT, "%s does not match its segment", path);
    }
    free(body);
    if (rc)
        qv_shard_seg_free(out, nvec);
    else
        graph_stats(out, nvec);
    return rc;
}

/* Writes segment s and its graphs as segments/seg-<uid>/. */
/* Starts segments/seg-<uid>.tmp/ with the segment's points and vectors,
 * and serves the vectors from those files from now on (the graphs and
 * codes are then built over the mapped rows). */
static qv_rc segdir_begin(const char *cdir, const qv_collection_config *cfg, uint64_t uid,
                          qv_segment *s, qv_err *err) {
    char parent[4200], tmp[4300];
    snprintf(parent, sizeof parent, "%s/segments", cdir);
    if (mkdir(parent, 0755) != 0 && errno != EEXIST)
        return qv_fail(err, QV_EIO, "cannot create %s: %s", parent, strerror(errno));
    seg_path(cdir, uid, tmp, sizeof tmp);
    strcat(tmp, ".tmp");
    qv_rmtree(tmp);
    if (mkdir(tmp, 0755) != 0)
        return qv_fail(err, QV_EIO, "cannot create %s: %s", tmp, strerror(errno));
    qv_rc rc = qv_segment_save(s, tmp, 0, err);
    for (uint32_t vi = 0; rc == QV_OK && vi < cfg->nvectors; vi++)
        rc = qv_segment_map_vectors(s, tmp, vi, false,
                                    resident(cfg, vi, qv_segment_row_bytes(s, vi)), err);
    return rc;
}

/* Completes the directory segdir_begin started: graphs, codes, the info
 * file, then the rename that makes it whole. */
static qv_rc segdir_finish(const char *cdir, uint32_t nvec, uint64_t uid, qv_hnsw *const *hnsw,
                           qv_qcodes *const *qcodes, qv_err *err) {
    char parent[4200], dir[4200], tmp[4300], path[4400];
    snprintf(parent, sizeof parent, "%s/segments", cdir);
    seg_path(cdir, uid, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    qv_rc rc = QV_OK;
    uint8_t info[4 + QV_MAX_NAMED_VECTORS];
    qv_store_u32le(info, nvec);
    for (uint32_t vi = 0; rc == QV_OK && vi < nvec; vi++) {
        info[4 + vi] = (uint8_t)((hnsw && hnsw[vi] ? 1 : 0) | (qcodes && qcodes[vi] ? 2 : 0));
        if (info[4 + vi] & 1) {
            snprintf(path, sizeof path, "%s/hnsw-%u.qvh", tmp, vi);
            rc = qv_hnsw_save(hnsw[vi], path, err);
        }
        if (!rc && (info[4 + vi] & 2)) {
            snprintf(path, sizeof path, "%s/quant-%u.qvq", tmp, vi);
            rc = qv_qcodes_save(qcodes[vi], path, err);
        }
    }
    if (!rc) rc = qv_envelope_write(tmp, "segment.qvs", SEGINFO_MAGIC, info, 4 + nvec, err);
    if (!rc && qv_fsync_dir(tmp) != 0) rc = qv_fail(err, QV_EIO, "fsync %s failed", tmp);
    if (!rc && rename(tmp, dir) != 0)
        rc = qv_fail(err, QV_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (!rc && qv_fsync_dir(parent) != 0) rc = qv_fail(err, QV_EIO, "fsync %s failed", parent);
    return rc;
}

/* Swaps the freshly built (heap) codes and graphs of a finished segment
 * directory for mappings of its files where their placement is not the
 * heap, as a load would place them. */
static qv_rc place_built(const char *cdir, const qv_collection_config *cfg, uint64_t uid,
                         qv_shard_seg *ns, qv_err *err) {
    char dir[4200], path[4400];
    seg_path(cdir, uid, dir, sizeof dir);
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
        qv_qcodes *q = ns->qcodes ? ns->qcodes[vi] : NULL;
        bool res = resident(cfg, vi, qv_segment_row_bytes(ns->seg, vi));
        qv_qcodes_place pl = codes_place(cfg, vi, res);
        if (q && pl != QV_QCODES_HEAP) {
            snprintf(path, sizeof path, "%s/quant-%u.qvq", dir, vi);
            qv_qcodes *m = NULL;
            qv_rc rc = qv_qcodes_load_placed(path, q->n, q->dim, q->dist, pl, &m, err);
            if (rc) return rc;
            qv_qcodes_free(q);
            ns->qcodes[vi] = m;
        }
        qv_hnsw *h = ns->hnsw ? ns->hnsw[vi] : NULL;
        qv_hnsw_place gp = graph_place(cfg, vi);
        if (h && gp != QV_HNSW_HEAP) {
            snprintf(path, sizeof path, "%s/hnsw-%u.qvh", dir, vi);
            qv_hnsw_store st = store_of(ns->seg, vi);
            qv_hnsw *m = NULL;
            qv_rc rc = qv_hnsw_load_placed(path, &st, gp, &m, err);
            if (rc) return rc;
            qv_hnsw_free(h);
            ns->hnsw[vi] = m;
        }
    }
    return QV_OK;
}

/* ---- the log of optimizations -------------------------------------------------- */

struct qv_optim_state {
    qv_optim_entry cur; /* valid while running */
    bool running;
    qv_optim_entry done[OPTIM_LOG]; /* ring */
    uint32_t ndone;
    uint64_t retry_after_ms; /* after a failure, wait before trying again */
};

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void qv_optim_state_free(struct qv_optim_state *o) {
    free(o);
}

/* ---- planning ------------------------------------------------------------------- */

enum { OPT_NONE, OPT_INDEXING, OPT_CONFIG, OPT_VACUUM, OPT_MERGE };
static const char *const OPT_NAMES[] = {"", "indexing", "config_mismatch", "vacuum", "merge"};

typedef struct plan {
    int kind;
    uint32_t n;
    uint64_t uids[8]; /* sources by uid (UINT64_MAX = the appendable segment) */
} plan;

/* The HNSW parameters vector vi is to be indexed with: the collection's,
 * overridden by the vector's own hnsw_config. */
static void hnsw_params(const qv_collection_config *cfg, uint32_t vi, uint32_t *m, uint32_t *efc,
                        uint32_t *pm) {
    *m = (uint32_t)cfg->hnsw.m;
    *efc = (uint32_t)cfg->hnsw.ef_construct;
    bool has_pm = cfg->hnsw.payload_m.has;
    *pm = (uint32_t)cfg->hnsw.payload_m.v;
    const jv *o = &cfg->vectors[vi].hnsw_config;
    for (uint32_t i = 0; o->type == JV_OBJ && i < o->len; i++) {
        const jv_member *mb = &o->v.members[i];
        uint64_t v;
        if (mb->val.type == JV_INT && mb->val.v.i >= 0)
            v = (uint64_t)mb->val.v.i;
        else if (mb->val.type == JV_NUM)
            v = strtoull(mb->val.v.s, NULL, 10);
        else
            continue;
        if (strcmp(mb->key, "m") == 0) *m = (uint32_t)v;
        if (strcmp(mb->key, "ef_construct") == 0) *efc = (uint32_t)v;
        if (strcmp(mb->key, "payload_m") == 0) *pm = (uint32_t)v, has_pm = true;
    }
    if (!has_pm) *pm = *m; /* Qdrant: payload_m defaults to m */
}

static uint64_t point_bytes(const qv_collection_config *cfg) {
    uint64_t b = 0;
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) b += (uint64_t)cfg->vectors[vi].size * 4;
    return b;
}

static uint64_t max_segment_kb(const qv_collection_config *cfg) {
    const qv_opt_u64 *t = &cfg->optimizer.max_segment_size;
    return t->has && t->v ? t->v : DEFAULT_MAX_SEGMENT_KB;
}

/* Whether a segment of live points should carry graphs (indexing_threshold
 * 0 disables indexing, as in Qdrant). */
static bool wants_index(const qv_collection_config *cfg, uint64_t live) {
    const qv_opt_u64 *t = &cfg->optimizer.indexing_threshold;
    uint64_t kb = t->has ? t->v : 10000;
    return kb > 0 && live > 0 && live * point_bytes(cfg) >= kb * 1024;
}

/* The codes vector vi is to have (0 = none) and their options (scalar:
 * the quantile and per-dimension ranges except for Manhattan (see
 * index/qcodes.h for the measurements); product: dimensions per subspace,
 * 1 for x4 ... 16 for x64; turbo: the bits, default bits1; binary: the
 * encoding, default one_bit, and the query encoding, default "default"):
 * its own quantization config, else the collection's.  Turbo has no codes
 * for Manhattan (the rotation keeps dot products and L2 distances only). */
static int qcodes_kind(const qv_collection_config *cfg, uint32_t vi, qv_qcodes_opts *o) {
    const qv_quant_config *q = &cfg->vectors[vi].quantization_config;
    if (q->kind == QV_QUANT_NONE) q = &cfg->quantization_config;
    *o = (qv_qcodes_opts){0};
    if (q->kind == QV_QUANT_SCALAR) {
        o->param = q->has_quantile ? q->quantile : QV_SQ_DEFAULT_QUANTILE;
        o->sq_ranges = cfg->vectors[vi].distance == QV_DIST_MANHATTAN ? QV_QCODES_SQ_GLOBAL
                                                                      : QV_QCODES_SQ_PER_DIM;
        return QV_QCODES_SCALAR;
    }
    if (q->kind == QV_QUANT_PRODUCT) {
        o->param = (float)(1u << q->compression);
        return QV_QCODES_PRODUCT;
    }
    if (q->kind == QV_QUANT_BINARY) {
        o->bq_encoding = q->has_encoding ? q->encoding : QV_BQ_ONE_BIT;
        o->bq_query = q->has_query_encoding ? q->query_encoding : QV_BQ_QUERY_DEFAULT;
        return QV_QCODES_BINARY;
    }
    if (q->kind == QV_QUANT_TURBO && cfg->vectors[vi].distance != QV_DIST_MANHATTAN) {
        o->param = (float)(q->has_bits ? q->bits : QV_TQ_BITS1);
        return QV_QCODES_TURBO;
    }
    return 0;
}

/* Whether a segment's codes are the ones the configuration asks for.  The
 * scalar ranges (global or per dimension) are not configuration: a segment
 * keeps the ones it was built with. */
static bool codes_as_configured(const qv_collection_config *cfg, const qv_shard_seg *e) {
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
        qv_qcodes_opts o;
        int kind = qcodes_kind(cfg, vi, &o);
        const qv_qcodes *q = e->qcodes ? e->qcodes[vi] : NULL;
        if (kind != (q ? (int)q->kind : 0)) return false;
        if (q && q->kind == QV_QCODES_SCALAR && q->quantile != o.param) return false;
        if (q && q->kind == QV_QCODES_PRODUCT && (float)q->sub != o.param) return false;
        if (q && q->kind == QV_QCODES_TURBO && (float)q->tbits != o.param) return false;
        if (q && q->kind == QV_QCODES_BINARY &&
            (q->bq_enc != o.bq_encoding || q->bq_query != o.bq_query))
            return false;
    }
    return true;
}

/* Whether an indexed segment's graphs are the ones the configuration asks
 * for: m = 0 means no graph for that vector, unless payload blocks give it
 * links of their own (a graph without a global part).  A change of
 * payload_m alone does not rebuild. */
static bool built_as_configured(const qv_collection_config *cfg, const qv_shard_seg *e) {
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
        uint32_t m, efc, pm;
        hnsw_params(cfg, vi, &m, &efc, &pm);
        bool want = m > 0 || (pm >= 2 && qv_segment_npindex(e->seg) > 0);
        const qv_hnsw *h = e->hnsw ? e->hnsw[vi] : NULL;
        if (want != (h != NULL)) return false;
        if (!h) continue;
        qv_hnsw_params p = qv_hnsw_get_params(h);
        if (p.no_main != (m == 0) || (m > 0 && p.m != m) || p.ef_construct != efc) return false;
    }
    return true;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Chooses the next optimization (caller holds the lock). */
static plan choose(qv_collection *c, uint64_t now_ms) {
    plan p = {0};
    if (c->broken || c->nsegs == 0) return p;
    const qv_optimizer_config *oc = &c->cfg.optimizer;
    uint64_t pb = point_bytes(&c->cfg), maxb = max_segment_kb(&c->cfg) * 1024;
    /* indexing: the appendable segment */
    uint64_t live0 = qv_segment_live_count(c->seg);
    if (wants_index(&c->cfg, live0) && !c->segs[0].optimizing &&
        (now_ms - atomic_load(&c->last_write_ms) >= QUIET_MS || live0 * pb >= maxb)) {
        p = (plan){OPT_INDEXING, 1, {UINT64_MAX}};
        return p;
    }
    for (uint32_t i = 1; i < c->nsegs; i++) {
        const qv_shard_seg *e = &c->segs[i];
        if (e->optimizing) continue;
        uint64_t live = qv_segment_live_count(e->seg), size = qv_segment_size(e->seg);
        if (!e->persisted) return (plan){OPT_INDEXING, 1, {e->uid}};
        if (wants_index(&c->cfg, live) && !built_as_configured(&c->cfg, e))
            return (plan){e->hnsw ? OPT_CONFIG : OPT_INDEXING, 1, {e->uid}};
        if (!codes_as_configured(&c->cfg, e)) return (plan){OPT_CONFIG, 1, {e->uid}};
        uint64_t dead = size - live;
        if (dead >= oc->vacuum_min_vector_number && size > 0 &&
            (double)dead / (double)size > oc->deleted_threshold)
            return (plan){OPT_VACUUM, 1, {e->uid}};
    }
    /* merge: more frozen segments than wanted */
    uint64_t want = oc->default_segment_number;
    if (want == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        want = n > 1 ? (uint64_t)n : 1;
    }
    uint64_t sizes[64][2];
    uint32_t k = 0;
    for (uint32_t i = 1; i < c->nsegs && k < 64; i++)
        if (!c->segs[i].optimizing && c->segs[i].persisted) {
            sizes[k][0] = qv_segment_live_count(c->segs[i].seg) * pb;
            sizes[k++][1] = c->segs[i].uid;
        }
    if (k <= want) return p;
    qsort(sizes, k, sizeof sizes[0], cmp_u64);
    uint64_t total = 0;
    for (uint32_t i = 0; i < k && p.n < 8; i++) {
        if (p.n >= 2 && total + sizes[i][0] > maxb) break;
        total += sizes[i][0];
        p.uids[p.n++] = sizes[i][1];
    }
    if (p.n >= 2 && total <= maxb)
        p.kind = OPT_MERGE;
    else
        p = (plan){0};
    return p;
}

bool qv_collection_optimization_pending(qv_collection *c) {
    if (c->broken) return false;
    pthread_rwlock_rdlock(&c->lock);
    bool running = c->optim && c->optim->running;
    /* the quiet period does not count here: a collection that will index
     * once writes pause is not yet what it will be */
    plan p = choose(c, UINT64_MAX / 2 + atomic_load(&c->last_write_ms));
    pthread_rwlock_unlock(&c->lock);
    return running || p.kind != OPT_NONE;
}

/* ---- running one optimization ---------------------------------------------------- */

static int find_uid(const qv_collection *c, uint64_t uid) {
    for (uint32_t i = 0; i < c->nsegs; i++)
        if (c->segs[i].uid == uid) return (int)i;
    return -1;
}

/* Step 1 (write lock held): resolves the plan's sources, freezing the
 * appendable segment if it is one.  False if the plan went stale. */
static bool begin(qv_collection *c, plan *p, qv_err *err) {
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->uids[i] != UINT64_MAX) continue;
        qv_shard_seg *n = realloc(c->segs, sizeof *n * (c->nsegs + 1));
        qv_segment *fresh = qv_shard_new_segment(&c->cfg);
        if (n) c->segs = n;
        if (!n || !fresh) {
            qv_segment_free(fresh);
            qv_fail(err, QV_ENOMEM, "out of memory");
            return false;
        }
        /* the old appendable segment becomes frozen segment 1 */
        memmove(c->segs + 1, c->segs, sizeof *n * c->nsegs);
        c->nsegs++;
        c->segs[1].uid = c->next_uid++;
        c->segs[0] = (qv_shard_seg){.seg = fresh, .uid = c->next_uid++};
        c->seg = fresh;
        qv_shard_sync_pindexes(c, fresh);
        p->uids[i] = c->segs[1].uid;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        int si = find_uid(c, p->uids[i]);
        if (si <= 0 || c->segs[si].optimizing) return false;
    }
    for (uint32_t i = 0; i < p->n; i++) c->segs[find_uid(c, p->uids[i])].optimizing = true;
    return true;
}

/* Step 2 (read lock held): the sources' live points, copied. */
static qv_rc copy_sources(qv_collection *c, const plan *p, qv_segment **out, qv_err *err) {
    qv_segment *ns = qv_shard_new_segment(&c->cfg);
    if (!ns) return qv_fail(err, QV_ENOMEM, "out of memory");
    qv_shard_sync_pindexes(c, ns); /* built as the points come in */
    const float *vecs[QV_MAX_NAMED_VECTORS];
    qv_rc rc = QV_OK;
    for (uint32_t i = 0; rc == QV_OK && i < p->n; i++) {
        const qv_segment *src = c->segs[find_uid(c, p->uids[i])].seg;
        uint32_t size = qv_segment_size(src);
        for (uint32_t off = 0; rc == QV_OK && off < size; off++) {
            if (!qv_segment_is_live(src, off)) continue;
            float *buf = NULL;
            const jv *pl = qv_segment_payload(src, off);
            qv_payload *doc = pl ? qv_payload_new(pl) : NULL;
            if ((pl && !doc) || !qv_segment_vectors_f32(src, off, vecs, &buf) ||
                qv_segment_put(ns, qv_segment_version(src, off), qv_segment_id(src, off), vecs,
                               doc) != QV_OK) {
                qv_payload_free(doc);
                rc = qv_fail(err, QV_ENOMEM, "out of memory");
            }
            free(buf);
        }
    }
    if (rc) {
        qv_segment_free(ns);
        return rc;
    }
    *out = ns;
    return QV_OK;
}

/* Step 3 (no lock): one graph per named vector. */
/* ---- payload blocks ------------------------------------------------------------
 * After a graph is built, every value of a keyword, integer, bool or uuid
 * index (declared without enable_hnsw: false) that holds enough points to be
 * searched through the graph (its vectors above full_scan_threshold) but
 * too few for the main graph alone to stay connected among them
 * (qv_hnsw_subgraph_max_block) gets a graph of its own, with payload_m
 * links, merged into the segment's graph (qv_hnsw_add_subgraph): Qdrant's
 * payload-aware links, which keep a search restricted to one value (one
 * tenant, one category) connected.  With m = 0 these are the only links. */

typedef struct block_ctx {
    qv_hnsw *h;
    uint32_t min, max, pm;
    unsigned threads;
    const atomic_bool *halt;
    qv_err *err;
    qv_rc rc;
    uint32_t linked;
} block_ctx;

static void link_block(void *ctx, const qv_pi_value *v, const uint32_t *offs, uint32_t n) {
    (void)v;
    block_ctx *b = ctx;
    if (b->rc || n < b->min || n > b->max) return;
    b->rc = qv_hnsw_add_subgraph(b->h, offs, n, b->pm, b->threads, b->halt, b->err);
    b->linked += b->rc == QV_OK;
}

static qv_rc link_blocks(const qv_collection_config *cfg, const qv_segment *ns, uint32_t vi,
                         qv_hnsw *h, uint32_t pm, unsigned threads, const atomic_bool *halt,
                         qv_err *err) {
    uint64_t row = (uint64_t)cfg->vectors[vi].size * sizeof(float);
    uint64_t min = row ? cfg->hnsw.full_scan_threshold * 1024 / row : 0;
    block_ctx b = {h,
                   min < 2 ? 2 : (uint32_t)(min > UINT32_MAX ? UINT32_MAX : min),
                   qv_hnsw_subgraph_max_block(h),
                   pm,
                   threads,
                   halt,
                   err,
                   QV_OK,
                   0};
    for (uint32_t i = 0; b.rc == QV_OK && i < qv_segment_npindex(ns); i++) {
        const qv_pindex *pi = qv_segment_pindex_at(ns, i);
        const qv_pindex_opts *o = qv_pindex_opts_of(pi);
        if (!o->no_hnsw && o->type != QV_PT_TEXT) qv_pindex_foreach_value(pi, link_block, &b);
    }
    return b.rc;
}

static qv_rc build_graphs(const qv_collection_config *cfg, const qv_segment *ns, qv_hnsw **hnsw,
                          const atomic_bool *halt, qv_err *err) {
    unsigned threads = (unsigned)cfg->hnsw.max_indexing_threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 16 ? 16 : n > 0 ? (unsigned)n : 1;
    }
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
        uint32_t m, efc, pm;
        hnsw_params(cfg, vi, &m, &efc, &pm);
        bool blocks = pm >= 2 && qv_segment_npindex(ns) > 0;
        if (m == 0 && !blocks) continue; /* no graph for this vector */
        qv_hnsw_params hp = {.m = m, .ef_construct = efc, .seed = 0x5157u + vi, .no_main = m == 0};
        qv_hnsw_store st = store_of(ns, vi);
        qv_rc rc = qv_hnsw_new(qv_segment_dim(ns, vi), cfg->vectors[vi].distance, &hp, &st,
                               &hnsw[vi], err);
        if (!rc) rc = qv_hnsw_reserve(hnsw[vi], qv_segment_size(ns), err);
        if (!rc) rc = qv_hnsw_build_cancellable(hnsw[vi], qv_segment_size(ns), threads, halt, err);
        if (!rc && blocks) rc = link_blocks(cfg, ns, vi, hnsw[vi], pm, threads, halt, err);
        if (rc) return rc;
    }
    return QV_OK;
}

/* Step 3 too: the quantized codes each vector's config asks for. */
static qv_rc build_codes(const qv_collection_config *cfg, const qv_segment *ns, qv_qcodes **qc,
                         qv_err *err) {
    for (uint32_t vi = 0; vi < cfg->nvectors; vi++) {
        qv_qcodes_opts o;
        int kind = qcodes_kind(cfg, vi, &o);
        if (!kind) continue;
        /* the codes are built from floats: rows of another element type
         * are decoded (exactly) into a temporary matrix first */
        uint32_t n = qv_segment_size(ns), dim = qv_segment_dim(ns, vi);
        qv_elem el = qv_segment_elem(ns, vi);
        const void *rows = qv_segment_rows(ns, vi);
        float *tmp = NULL;
        if (el != QV_ELEM_F32 && n > 0) {
            tmp = malloc(sizeof(float) * (size_t)n * dim);
            if (!tmp) return qv_fail(err, QV_ENOMEM, "out of memory");
            qv_elem_decode(el, rows, tmp, (size_t)n * dim);
        }
        qv_rc rc = qv_qcodes_build_opts((qv_qcodes_kind)kind, cfg->vectors[vi].distance,
                                        tmp ? tmp : (const float *)rows, n, dim, &o, &qc[vi], err);
        free(tmp);
        if (rc) return rc;
    }
    return QV_OK;
}

/* Step 4 (write lock held): the new segment replaces the sources (or, when
 * every point of it was deleted meanwhile, just removes them).  The
 * replaced entries are moved to *old for freeing after the lock. */
static qv_rc swap_in(qv_collection *c, const plan *p, qv_shard_seg *ns, qv_shard_seg *old,
                     bool *kept, qv_err *err) {
    const qv_segment *src[8];
    for (uint32_t i = 0; i < p->n; i++) src[i] = c->segs[find_uid(c, p->uids[i])].seg;
    qv_shard_sync_pindexes(c, ns->seg); /* indexes declared or dropped since the copy */
    /* deleted (or moved by copy on write) since the copy */
    uint32_t size = qv_segment_size(ns->seg);
    for (uint32_t off = 0; off < size; off++) {
        const qv_pointid *id = qv_segment_id(ns->seg, off);
        bool live = false;
        uint32_t o2;
        for (uint32_t i = 0; i < p->n && !live; i++) live = qv_segment_find(src[i], id, &o2);
        if (!live) qv_segment_delete_at(ns->seg, 0, off);
    }
    uint64_t *ret = realloc(c->retired, sizeof(uint64_t) * (c->nretired + p->n + 1));
    if (!ret) return qv_fail(err, QV_ENOMEM, "out of memory");
    c->retired = ret;
    /* a result with no live point is not kept: its directory goes too */
    bool empty = qv_segment_live_count(ns->seg) == 0;
    if (empty) c->retired[c->nretired++] = ns->uid;
    *kept = !empty;
    for (uint32_t i = 0; i < p->n; i++) {
        int si = find_uid(c, p->uids[i]);
        if (c->segs[si].persisted) c->retired[c->nretired++] = c->segs[si].uid;
        old[i] = c->segs[si];
        /* the new segment takes the place of the first source */
        if (i == 0 && !empty) {
            c->segs[si] = *ns;
        } else {
            memmove(c->segs + si, c->segs + si + 1, sizeof *c->segs * (c->nsegs - si - 1));
            c->nsegs--;
        }
    }
    return QV_OK;
}

static void unmark(qv_collection *c, const plan *p) {
    for (uint32_t i = 0; i < p->n; i++) {
        int si = find_uid(c, p->uids[i]);
        if (si > 0) c->segs[si].optimizing = false;
    }
}

/* The report entry of plan p (caller holds the lock; sources resolved). */
static void describe(const qv_collection *c, const plan *p, uint64_t uid, qv_optim_entry *r) {
    memset(r, 0, sizeof *r);
    r->optimizer = OPT_NAMES[p->kind];
    r->uid = uid;
    for (uint32_t i = 0; i < p->n && i < QV_OPTIM_MAX_SOURCES; i++) {
        int si = p->uids[i] == UINT64_MAX ? 0 : find_uid(c, p->uids[i]);
        if (si < 0) continue;
        r->segs[r->nsegs].uid = c->segs[si].uid;
        r->segs[r->nsegs++].points = qv_segment_live_count(c->segs[si].seg);
    }
}

static void log_begin(qv_collection *c, const plan *p, uint64_t uid) {
    if (!c->optim) c->optim = calloc(1, sizeof *c->optim);
    if (!c->optim) return;
    describe(c, p, uid, &c->optim->cur);
    c->optim->cur.status = QV_OPTIM_RUNNING;
    c->optim->cur.started = unix_now();
    c->optim->running = true;
}

static void log_end(qv_collection *c, bool ok) {
    if (!c->optim) return;
    c->optim->cur.finished = unix_now();
    c->optim->cur.status = ok ? QV_OPTIM_DONE : QV_OPTIM_FAILED;
    c->optim->done[c->optim->ndone++ % OPTIM_LOG] = c->optim->cur;
    c->optim->running = false;
    c->optim->retry_after_ms = ok ? 0 : qv_now_ms() + 10000;
}

void qv_collection_optimizations(qv_collection *c, qv_optimizations *out) {
    memset(out, 0, sizeof *out);
    if (c->broken) return;
    pthread_rwlock_rdlock(&c->lock);
    const struct qv_optim_state *o = c->optim;
    if (o && o->running) {
        out->has_running = true;
        out->running = o->cur;
    }
    uint32_t nd = o ? (o->ndone < OPTIM_LOG ? o->ndone : OPTIM_LOG) : 0;
    for (uint32_t i = 0; i < nd; i++) out->completed[i] = o->done[(o->ndone - 1 - i) % OPTIM_LOG];
    out->ncompleted = nd;
    plan p = choose(c, UINT64_MAX / 2 + atomic_load(&c->last_write_ms));
    if (p.kind != OPT_NONE) {
        out->has_queued = true;
        describe(c, &p, 0, &out->queued);
    }
    for (uint32_t si = 0; si < c->nsegs; si++) {
        if (c->segs[si].optimizing) continue;
        bool queued = false;
        for (uint32_t k = 0; k < p.n && !queued; k++)
            queued = p.uids[k] == (si == 0 ? UINT64_MAX : c->segs[si].uid) ||
                     p.uids[k] == c->segs[si].uid;
        if (queued) continue;
        out->idle_total++;
        if (out->nidle < QV_OPTIM_MAX_IDLE) {
            out->idle[out->nidle].uid = c->segs[si].uid;
            out->idle[out->nidle++].points = qv_segment_live_count(c->segs[si].seg);
        }
    }
    pthread_rwlock_unlock(&c->lock);
}

qv_rc qv_collection_optimize(qv_collection *c, bool *did, qv_err *err) {
    *did = false;
    if (c->broken || atomic_load(&c->dropped)) return QV_OK;
    pthread_rwlock_wrlock(&c->lock);
    uint64_t now = qv_now_ms();
    plan p = (c->optim && now < c->optim->retry_after_ms) ? (plan){0} : choose(c, now);
    if (p.kind == OPT_NONE || !begin(c, &p, err)) {
        pthread_rwlock_unlock(&c->lock);
        return p.kind == OPT_NONE ? QV_OK : QV_ENOMEM;
    }
    uint64_t uid = c->next_uid++;
    log_begin(c, &p, uid);
    *did = true;
    qv_collection_config cfg; /* a snapshot: PATCH may swap c->cfg meanwhile */
    bool cfg_copied = qv_collection_config_copy(&cfg, &c->cfg);
    /* and of the directory: a deletion renames it (under the lock) */
    char *cdir = strdup(c->dir);
    bool cfg_ok = cfg_copied && cdir;
    pthread_rwlock_unlock(&c->lock);

    qv_shard_seg ns = {.uid = uid, .persisted = true};
    qv_rc rc = cfg_ok ? QV_OK : qv_fail(err, QV_ENOMEM, "out of memory");
    if (!rc) {
        pthread_rwlock_rdlock(&c->lock);
        rc = copy_sources(c, &p, &ns.seg, err);
        pthread_rwlock_unlock(&c->lock);
    }
    uint32_t nvec = cfg_copied ? cfg.nvectors : 0;
    if (!rc && atomic_load(&c->dropped)) rc = qv_fail(err, QV_EUNAVAILABLE, "collection dropped");
    if (!rc) rc = segdir_begin(cdir, &cfg, uid, ns.seg, err);
    if (!rc && wants_index(&cfg, qv_segment_live_count(ns.seg))) {
        ns.hnsw = calloc(nvec ? nvec : 1, sizeof(qv_hnsw *));
        rc = ns.hnsw ? build_graphs(&cfg, ns.seg, ns.hnsw, &c->halt, err)
                     : qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (!rc) {
        ns.qcodes = calloc(nvec ? nvec : 1, sizeof(qv_qcodes *));
        rc = ns.qcodes ? build_codes(&cfg, ns.seg, ns.qcodes, err)
                       : qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (!rc && atomic_load(&c->dropped)) rc = qv_fail(err, QV_EUNAVAILABLE, "collection dropped");
    if (!rc) rc = segdir_finish(cdir, nvec, uid, ns.hnsw, ns.qcodes, err);
    /* the build read every vector; those not meant to stay in memory leave
     * the process again (they stay in the page cache, as files do) */
    for (uint32_t vi = 0; !rc && vi < nvec; vi++)
        if (!resident(&cfg, vi, qv_segment_row_bytes(ns.seg, vi)))
            qv_segment_release_vectors(ns.seg, vi);
    /* the codes and graphs were built on the heap: unless they belong
     * there, they are served from the files just written, as a load would */
    if (!rc) rc = place_built(cdir, &cfg, uid, &ns, err);
    if (!rc) graph_stats(&ns, nvec);

    qv_shard_seg old[8];
    memset(old, 0, sizeof old);
    pthread_rwlock_wrlock(&c->lock);
    bool kept = false;
    if (!rc) rc = swap_in(c, &p, &ns, old, &kept, err);
    if (rc) {
        unmark(c, &p);
        log_end(c, false);
    }
    pthread_rwlock_unlock(&c->lock);
    if (!rc && !kept) qv_shard_seg_free(&ns, nvec); /* published otherwise: hands off */
    if (rc) {
        qv_shard_seg_free(&ns, nvec); /* unmaps before the files go */
        if (cdir) {
            char dir[4200], tmp[4300];
            seg_path(cdir, uid, dir, sizeof dir);
            snprintf(tmp, sizeof tmp, "%s.tmp", dir);
            qv_rmtree(tmp);
            qv_rmtree(dir);
        }
    }
    for (uint32_t i = 0; i < 8; i++) qv_shard_seg_free(&old[i], nvec);
    if (cfg_copied) qv_collection_config_free(&cfg);
    free(cdir);
    if (rc) return rc;
    QV_LOG_INFO("collection %s: %s optimization made segment %" PRIu64, c->name, OPT_NAMES[p.kind],
                uid);
    /* running (status yellow) until the new layout is durable and the
     * replaced segments' directories are gone */
    rc = qv_collection_checkpoint(c, err);
    pthread_rwlock_wrlock(&c->lock);
    log_end(c, rc == QV_OK);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}
