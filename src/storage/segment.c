/*
 * segment.c - the appendable in-memory segment and its checkpoint files.
 *
 * Memory layout: parallel arrays indexed by offset (ids, versions, payload
 * pointers, live bits) plus, per named vector, a row-major float matrix of
 * `cap` rows and a presence bitmap.  Arrays grow by doubling.  The ID map is
 * an open-addressing table (linear probing, tombstones) from point ID to
 * offset, kept at most half full.
 *
 * Checkpoint files (little-endian; see docs/storage-format.md):
 *
 *   points.dat
 *     0   8  magic "QVPOINTS"
 *     8   4  format version (1)
 *     12  4  number of named vectors (nvec)
 *     16  8  number of points (n)
 *     24  8  checkpoint operation number
 *     32  ... n records:
 *            pointid (u8 kind 0 + u64 | u8 kind 1 + 16 bytes UUID),
 *            u64 version, u8 has_payload, [u32 length + jvbin payload],
 *            ceil(nvec/8) bytes of vector presence bits
 *     end-4 4 CRC-32C of every byte before it
 *
 *   vectors-<vi>.dat
 *     0   8  magic "QVVECTRS"
 *     8   4  format version (1)
 *     12  4  element type of the rows (core/elem.h: 0 = float32, 1 = float16,
 *            2 = uint8; float16 and uint8 since the element types came, in
 *            the same format version: older readers reject them)
 *     16  4  dim
 *     20  4  reserved (0)
 *     24  8  number of rows (= points in points.dat, same order)
 *     32  ... rows x dim x element (zeros where the point has no such vector)
 *     end-4 4 CRC-32C of every byte before it
 *
 * A reader checks magic, version, sizes and CRC before trusting anything.
 */
#include "storage/segment.h"

/* Bytes of the per-point vector presence mask on disk (64 vectors). */
#define QV_SEG_MAX_MASK 8

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crc32c.h"
#include "core/elem.h"
#include "core/jvbin.h"

/* ---- payload documents ---------------------------------------------------- */

qv_payload *qv_payload_new(const jv *obj) {
    qv_payload *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    size_t need = jv_copy_size(obj);
    qv_arena_init_cap(&p->arena, need ? need : 16);
    if (!jv_copy(&p->arena, obj, &p->root)) {
        qv_payload_free(p);
        return NULL;
    }
    return p;
}

void qv_payload_free(qv_payload *p) {
    if (!p) return;
    qv_arena_free(&p->arena);
    free(p);
}

/* ---- the segment ---------------------------------------------------------- */

typedef struct seg_vec {
    uint32_t dim;
    qv_elem elem;    /* what a component is stored as (core/elem.h) */
    uint32_t rowlen; /* bytes per row: dim x the element's size */
    uint8_t *rows;   /* cap x rowlen (inside map when mapped) */
    uint64_t *has;   /* presence bitmap, cap bits */
    void *map;       /* the mapped vectors file, or NULL (rows malloc'd) */
    size_t map_len;
} seg_vec;

struct qv_segment {
    uint32_t n, cap, live;
    qv_pointid *ids;
    uint64_t *versions;
    qv_payload **payloads;
    uint64_t *alive; /* bitmap */
    uint32_t nvec;
    seg_vec *vecs;
    /* ID map: slots hold offset+1 (0 = empty, UINT32_MAX = tombstone) */
    uint32_t *map;
    size_t map_cap, map_used;
    /* lazily sorted live offsets by ID */
    uint32_t *order;
    uint32_t norder;
    bool order_ok;
    /* payload field indexes kept in step with the payloads */
    qv_pindex **pidx;
    uint32_t npidx;
};

/* Payload index upkeep around a change of off's payload. */
static void pidx_remove(qv_segment *s, uint32_t off) {
    const qv_payload *p = s->payloads[off];
    for (uint32_t i = 0; p && i < s->npidx; i++) qv_pindex_remove(s->pidx[i], off, &p->root);
}

static void pidx_add(qv_segment *s, uint32_t off) {
    const qv_payload *p = s->payloads[off];
    for (uint32_t i = 0; p && i < s->npidx; i++) qv_pindex_add(s->pidx[i], off, &p->root);
}

static void seg_set_elem(seg_vec *v, uint32_t dim, qv_elem elem) {
    v->dim = dim;
    v->elem = elem;
    v->rowlen = dim * (uint32_t)qv_elem_size(elem);
}

#define MAP_EMPTY 0u
#define MAP_TOMB  UINT32_MAX

static inline bool bit_get(const uint64_t *b, uint32_t i) {
    return (b[i >> 6] >> (i & 63)) & 1u;
}
static inline void bit_set(uint64_t *b, uint32_t i, bool v) {
    if (v)
        b[i >> 6] |= (uint64_t)1 << (i & 63);
    else
        b[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

qv_segment *qv_segment_new(uint32_t nvec, const uint32_t *dims, const qv_elem *elems) {
    qv_segment *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->nvec = nvec;
    s->vecs = calloc(nvec ? nvec : 1, sizeof(seg_vec));
    if (!s->vecs) {
        free(s);
        return NULL;
    }
    for (uint32_t i = 0; i < nvec; i++)
        seg_set_elem(&s->vecs[i], dims[i], elems ? elems[i] : QV_ELEM_F32);
    return s;
}

void qv_segment_free(qv_segment *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->n; i++) qv_payload_free(s->payloads[i]);
    for (uint32_t i = 0; i < s->nvec; i++) {
        if (s->vecs[i].map)
            munmap(s->vecs[i].map, s->vecs[i].map_len);
        else
            free(s->vecs[i].rows);
        free(s->vecs[i].has);
    }
    free(s->vecs);
    free(s->ids);
    free(s->versions);
    free(s->payloads);
    free(s->alive);
    free(s->map);
    free(s->order);
    for (uint32_t i = 0; i < s->npidx; i++) qv_pindex_free(s->pidx[i]);
    free(s->pidx);
    free(s);
}

/* Asks for transparent huge pages on a large vector array: a scan streams
 * it, and with 4 KiB pages the TLB misses cost up to ~40% of a
 * single-threaded scan (measured on the bench machine, THP in "madvise"
 * mode).  Only the page-aligned inside of the block is advised; failure is
 * harmless (the kernel may not support THP). */
static void seg_advise_huge(void *p, size_t size) {
#ifdef MADV_HUGEPAGE
    if (size < ((size_t)4 << 20)) return;
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
    uintptr_t e = ((uintptr_t)p + size) & ~(uintptr_t)4095;
    if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

/* Grows every per-offset array to hold at least want offsets. */
static bool seg_grow(qv_segment *s, uint32_t want) {
    if (want <= s->cap) return true;
    for (uint32_t i = 0; i < s->nvec; i++)
        if (s->vecs[i].map) return false; /* mapped rows are read-only: no new points */
    uint32_t cap = s->cap ? s->cap : 64;
    while (cap < want) cap *= 2;
    size_t words = (cap + 63) / 64, oldwords = (s->cap + 63) / 64;
    void *p;
#define GROW(field, size)                                                                          \
    do {                                                                                           \
        p = realloc(s->field, (size));                                                             \
        if (!p) return false;                                                                      \
        s->field = p;                                                                              \
    } while (0)
    GROW(ids, sizeof(qv_pointid) * cap);
    GROW(versions, sizeof(uint64_t) * cap);
    GROW(payloads, sizeof(qv_payload *) * cap);
    GROW(alive, sizeof(uint64_t) * words);
    memset(s->alive + oldwords, 0, (words - oldwords) * 8);
    for (uint32_t i = 0; i < s->nvec; i++) {
        GROW(vecs[i].rows, (size_t)cap * s->vecs[i].rowlen);
        seg_advise_huge(s->vecs[i].rows, (size_t)cap * s->vecs[i].rowlen);
        GROW(vecs[i].has, sizeof(uint64_t) * words);
        memset(s->vecs[i].has + oldwords, 0, (words - oldwords) * 8);
    }
#undef GROW
    s->cap = cap;
    return true;
}

/* ---- ID map ------------------------------------------------------------- */

static size_t map_probe(const qv_segment *s, const qv_pointid *id, bool *found) {
    size_t mask = s->map_cap - 1, i = qv_pointid_hash(id) & mask, tomb = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        uint32_t v = s->map[i];
        if (v == MAP_EMPTY) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (v == MAP_TOMB) {
            if (tomb == SIZE_MAX) tomb = i;
        } else if (qv_pointid_eq(&s->ids[v - 1], id)) {
            *found = true;
            return i;
        }
    }
}

static bool map_rehash(qv_segment *s, size_t cap) {
    uint32_t *old = s->map;
    size_t oldcap = s->map_cap;
    s->map = calloc(cap, sizeof(uint32_t));
    if (!s->map) {
        s->map = old;
        return false;
    }
    s->map_cap = cap;
    s->map_used = 0;
    for (size_t i = 0; i < oldcap; i++) {
        uint32_t v = old[i];
        if (v == MAP_EMPTY || v == MAP_TOMB) continue;
        bool found;
        size_t slot = map_probe(s, &s->ids[v - 1], &found);
        s->map[slot] = v;
        s->map_used++;
    }
    free(old);
    return true;
}

bool qv_segment_find(const qv_segment *s, const qv_pointid *id, uint32_t *off) {
    if (!s->map_cap) return false;
    bool found;
    size_t slot = map_probe(s, id, &found);
    if (found) *off = s->map[slot] - 1;
    return found;
}

/* ---- reading ------------------------------------------------------------ */

uint32_t qv_segment_size(const qv_segment *s) {
    return s->n;
}
uint32_t qv_segment_live_count(const qv_segment *s) {
    return s->live;
}
const uint64_t *qv_segment_live_bits(const qv_segment *s) {
    return s->alive;
}

bool qv_segment_is_live(const qv_segment *s, uint32_t off) {
    return off < s->n && bit_get(s->alive, off);
}
const qv_pointid *qv_segment_id(const qv_segment *s, uint32_t off) {
    return &s->ids[off];
}
uint64_t qv_segment_version(const qv_segment *s, uint32_t off) {
    return s->versions[off];
}
const jv *qv_segment_payload(const qv_segment *s, uint32_t off) {
    return s->payloads[off] ? &s->payloads[off]->root : NULL;
}
bool qv_segment_has_vector(const qv_segment *s, uint32_t vi, uint32_t off) {
    return bit_get(s->vecs[vi].has, off);
}
const void *qv_segment_row(const qv_segment *s, uint32_t vi, uint32_t off) {
    const seg_vec *v = &s->vecs[vi];
    return bit_get(v->has, off) ? v->rows + (size_t)off * v->rowlen : NULL;
}
const float *qv_segment_vector(const qv_segment *s, uint32_t vi, uint32_t off, float *buf) {
    const seg_vec *v = &s->vecs[vi];
    if (!bit_get(v->has, off)) return NULL;
    const uint8_t *row = v->rows + (size_t)off * v->rowlen;
    if (v->elem == QV_ELEM_F32) return (const float *)(const void *)row;
    qv_elem_decode(v->elem, row, buf, v->dim);
    return buf;
}
bool qv_segment_vectors_f32(const qv_segment *s, uint32_t off, const float **vecs, float **buf) {
    size_t need = 0;
    for (uint32_t vi = 0; vi < s->nvec; vi++)
        if (s->vecs[vi].elem != QV_ELEM_F32 && bit_get(s->vecs[vi].has, off))
            need += s->vecs[vi].dim;
    *buf = need ? malloc(need * sizeof(float)) : NULL;
    if (need && !*buf) return false;
    float *b = *buf;
    for (uint32_t vi = 0; vi < s->nvec; vi++) {
        vecs[vi] = qv_segment_vector(s, vi, off, b);
        if (vecs[vi] == b) b += s->vecs[vi].dim;
    }
    return true;
}

qv_elem qv_segment_elem(const qv_segment *s, uint32_t vi) {
    return s->vecs[vi].elem;
}
uint32_t qv_segment_dim(const qv_segment *s, uint32_t vi) {
    return s->vecs[vi].dim;
}
uint32_t qv_segment_nvec(const qv_segment *s) {
    return s->nvec;
}

static int cmp_by_id_r(const void *a, const void *b, void *ctx) {
    const qv_segment *s = ctx;
    return qv_pointid_cmp(&s->ids[*(const uint32_t *)a], &s->ids[*(const uint32_t *)b]);
}

const uint32_t *qv_segment_id_order(qv_segment *s, uint32_t *n) {
    if (!s->order_ok) {
        uint32_t *o = realloc(s->order, sizeof(uint32_t) * (s->live ? s->live : 1));
        if (!o) {
            *n = 0;
            return NULL;
        }
        s->order = o;
        uint32_t k = 0;
        for (uint32_t i = 0; i < s->n; i++)
            if (bit_get(s->alive, i)) o[k++] = i;
        qsort_r(o, k, sizeof(uint32_t), cmp_by_id_r, s);
        s->norder = k;
        s->order_ok = true;
    }
    *n = s->norder;
    return s->order;
}

bool qv_segment_order_ready(const qv_segment *s) {
    return s->order_ok;
}

/* ---- writing ------------------------------------------------------------ */

static void set_vecs(qv_segment *s, uint32_t off, const float *const *vecs, const bool *remove) {
    for (uint32_t vi = 0; vi < s->nvec; vi++) {
        seg_vec *v = &s->vecs[vi];
        if (vecs && vecs[vi]) {
            qv_elem_encode(v->elem, vecs[vi], v->rows + (size_t)off * v->rowlen, v->dim);
            bit_set(v->has, off, true);
        } else if (!remove || remove[vi]) {
            /* zeros, not stale floats: an index built over the rows reads them */
            memset(v->rows + (size_t)off * v->rowlen, 0, v->rowlen);
            bit_set(v->has, off, false);
        }
    }
}

qv_rc qv_segment_put(qv_segment *s, uint64_t opnum, const qv_pointid *id, const float *const *vecs,
                     qv_payload *payload) {
    uint32_t off;
    if (qv_segment_find(s, id, &off)) {
        set_vecs(s, off, vecs, NULL);
        pidx_remove(s, off);
        qv_payload_free(s->payloads[off]);
        s->payloads[off] = payload;
        pidx_add(s, off);
        s->versions[off] = opnum;
        return QV_OK;
    }
    if (s->n == UINT32_MAX - 1 || !seg_grow(s, s->n + 1)) return QV_ENOMEM;
    if ((s->map_used + 1) * 2 > s->map_cap && !map_rehash(s, s->map_cap ? s->map_cap * 2 : 128))
        return QV_ENOMEM;
    off = s->n++;
    s->ids[off] = *id;
    s->versions[off] = opnum;
    s->payloads[off] = payload;
    bit_set(s->alive, off, true);
    set_vecs(s, off, vecs, NULL);
    pidx_add(s, off);
    bool found;
    size_t slot = map_probe(s, id, &found);
    if (s->map[slot] == MAP_EMPTY) s->map_used++;
    s->map[slot] = off + 1;
    s->live++;
    s->order_ok = false;
    return QV_OK;
}

qv_rc qv_segment_set_vectors(qv_segment *s, uint64_t opnum, uint32_t off, const float *const *vecs,
                             const bool *remove) {
    if (remove) {
        set_vecs(s, off, NULL, remove);
    } else {
        for (uint32_t vi = 0; vi < s->nvec; vi++) {
            if (!vecs[vi]) continue;
            seg_vec *v = &s->vecs[vi];
            qv_elem_encode(v->elem, vecs[vi], v->rows + (size_t)off * v->rowlen, v->dim);
            bit_set(v->has, off, true);
        }
    }
    s->versions[off] = opnum;
    return QV_OK;
}

void qv_segment_set_payload(qv_segment *s, uint64_t opnum, uint32_t off, qv_payload *payload) {
    pidx_remove(s, off);
    qv_payload_free(s->payloads[off]);
    s->payloads[off] = payload;
    pidx_add(s, off);
    s->versions[off] = opnum;
}

bool qv_segment_delete_at(qv_segment *s, uint64_t opnum, uint32_t off) {
    return off < s->n && bit_get(s->alive, off) && qv_segment_delete(s, opnum, &s->ids[off]);
}

const void *qv_segment_rows(const qv_segment *s, uint32_t vi) {
    return s->vecs[vi].rows;
}

bool qv_segment_delete(qv_segment *s, uint64_t opnum, const qv_pointid *id) {
    if (!s->map_cap) return false;
    bool found;
    size_t slot = map_probe(s, id, &found);
    if (!found) return false;
    uint32_t off = s->map[slot] - 1;
    s->map[slot] = MAP_TOMB;
    bit_set(s->alive, off, false);
    pidx_remove(s, off);
    qv_payload_free(s->payloads[off]);
    s->payloads[off] = NULL;
    s->versions[off] = opnum;
    for (uint32_t vi = 0; vi < s->nvec; vi++) bit_set(s->vecs[vi].has, off, false);
    s->live--;
    s->order_ok = false;
    return true;
}

/* ---- payload indexes ------------------------------------------------------ */

void qv_segment_add_pindex(qv_segment *s, qv_pindex *pi) {
    qv_segment_drop_pindex(s, qv_pindex_field(pi));
    qv_pindex **a = realloc(s->pidx, (s->npidx + 1) * sizeof *a);
    if (!a) { /* without room to keep it, the index is simply not there */
        qv_pindex_free(pi);
        return;
    }
    s->pidx = a;
    for (uint32_t off = 0; off < s->n; off++)
        if (bit_get(s->alive, off) && s->payloads[off])
            qv_pindex_add(pi, off, &s->payloads[off]->root);
    s->pidx[s->npidx++] = pi;
}

void qv_segment_drop_pindex(qv_segment *s, const char *field) {
    for (uint32_t i = 0; i < s->npidx; i++)
        if (strcmp(qv_pindex_field(s->pidx[i]), field) == 0) {
            qv_pindex_free(s->pidx[i]);
            s->pidx[i] = s->pidx[--s->npidx];
            return;
        }
}

const qv_pindex *qv_segment_pindex(const qv_segment *s, const char *field, size_t len) {
    for (uint32_t i = 0; i < s->npidx; i++) {
        const char *f = qv_pindex_field(s->pidx[i]);
        if (strlen(f) == len && memcmp(f, field, len) == 0)
            return qv_pindex_ok(s->pidx[i]) ? s->pidx[i] : NULL;
    }
    return NULL;
}

uint32_t qv_segment_npindex(const qv_segment *s) {
    return s->npidx;
}

const qv_pindex *qv_segment_pindex_at(const qv_segment *s, uint32_t i) {
    return s->pidx[i];
}

/* ---- checkpoint files ----------------------------------------------------- */

#define POINTS_MAGIC       "QVPOINTS"
#define VECTORS_MAGIC      "QVVECTRS"
#define SEG_FORMAT_VERSION 1
#define SEG_HEADER_SIZE    32

/* A buffered file writer that checksums everything it writes. */
typedef struct crc_writer {
    int fd;
    uint32_t crc;
    qv_buf buf;
    bool failed;
} crc_writer;

static void cw_flush(crc_writer *w) {
    size_t done = 0;
    while (!w->failed && done < w->buf.len) {
        ssize_t k = write(w->fd, w->buf.data + done, w->buf.len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            w->failed = true;
        else
            done += (size_t)k;
    }
    w->buf.len = 0;
}

static void cw_put(crc_writer *w, const void *p, size_t n) {
    w->crc = qv_crc32c(w->crc, p, n);
    qv_buf_put(&w->buf, p, n);
    if (w->buf.oom) w->failed = true;
    if (w->buf.len >= (1u << 20)) cw_flush(w);
}

static void cw_u8(crc_writer *w, uint8_t v) {
    cw_put(w, &v, 1);
}
static void cw_u32(crc_writer *w, uint32_t v) {
    uint8_t t[4];
    qv_store_u32le(t, v);
    cw_put(w, t, 4);
}
static void cw_u64(crc_writer *w, uint64_t v) {
    uint8_t t[8];
    qv_store_u64le(t, v);
    cw_put(w, t, 8);
}

static void cw_id(crc_writer *w, const qv_pointid *id) {
    cw_u8(w, (uint8_t)id->is_uuid);
    if (!id->is_uuid) {
        cw_u64(w, id->lo);
        return;
    }
    uint8_t t[16];
    qv_pointid_uuid_bytes(id, t);
    cw_put(w, t, 16);
}

/* Opens path for writing, runs body, appends the CRC trailer and fsyncs. */
static qv_rc cw_open(crc_writer *w, const char *path, qv_err *err) {
    memset(w, 0, sizeof *w);
    qv_buf_init(&w->buf);
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) return qv_fail(err, QV_EIO, "cannot create %s: %s", path, strerror(errno));
    return QV_OK;
}

static qv_rc cw_close(crc_writer *w, const char *path, qv_err *err) {
    uint8_t t[4];
    qv_store_u32le(t, w->crc);
    qv_buf_put(&w->buf, t, 4);
    cw_flush(w);
    if (!w->failed && fsync(w->fd) != 0) w->failed = true;
    if (close(w->fd) != 0) w->failed = true;
    qv_buf_free(&w->buf);
    if (w->failed) return qv_fail(err, QV_EIO, "cannot write %s: %s", path, strerror(errno));
    return QV_OK;
}

static void put_header(crc_writer *w, const char *magic, uint32_t a, uint32_t b, uint64_t c,
                       uint64_t d) {
    cw_put(w, magic, 8);
    cw_u32(w, SEG_FORMAT_VERSION);
    cw_u32(w, a);
    if (d == UINT64_MAX) { /* vectors header: a=datatype, b=dim, c=rows */
        cw_u32(w, b);
        cw_u32(w, 0);
        cw_u64(w, c);
    } else {
        cw_u64(w, c);
        cw_u64(w, d);
    }
}

static qv_rc save_points(const qv_segment *s, const char *path, uint64_t cp_op, qv_err *err) {
    crc_writer w;
    qv_rc rc = cw_open(&w, path, err);
    if (rc) return rc;
    put_header(&w, POINTS_MAGIC, s->nvec, 0, s->live, cp_op);
    qv_buf tmp;
    qv_buf_init(&tmp);
    size_t maskbytes = (s->nvec + 7) / 8;
    for (uint32_t off = 0; off < s->n && !w.failed; off++) {
        if (!bit_get(s->alive, off)) continue;
        cw_id(&w, &s->ids[off]);
        cw_u64(&w, s->versions[off]);
        cw_u8(&w, s->payloads[off] != NULL);
        if (s->payloads[off]) {
            size_t n = jvbin_size(&s->payloads[off]->root);
            tmp.len = 0;
            uint8_t *d = qv_buf_reserve(&tmp, n);
            if (!d || n > UINT32_MAX) {
                w.failed = true;
                break;
            }
            jvbin_write(&s->payloads[off]->root, d);
            cw_u32(&w, (uint32_t)n);
            cw_put(&w, d, n);
        }
        uint8_t mask[QV_SEG_MAX_MASK];
        memset(mask, 0, maskbytes);
        for (uint32_t vi = 0; vi < s->nvec; vi++)
            if (bit_get(s->vecs[vi].has, off)) mask[vi / 8] |= (uint8_t)(1u << (vi % 8));
        cw_put(&w, mask, maskbytes);
    }
    qv_buf_free(&tmp);
    return cw_close(&w, path, err);
}

static qv_rc save_vectors(const qv_segment *s, uint32_t vi, const char *path, qv_err *err) {
    crc_writer w;
    qv_rc rc = cw_open(&w, path, err);
    if (rc) return rc;
    const seg_vec *v = &s->vecs[vi];
    put_header(&w, VECTORS_MAGIC, (uint32_t)v->elem, v->dim, s->live, UINT64_MAX);
    uint8_t *zero = calloc(1, v->rowlen ? v->rowlen : 1);
    if (!zero) w.failed = true;
    for (uint32_t off = 0; off < s->n && !w.failed; off++) {
        if (!bit_get(s->alive, off)) continue;
        const uint8_t *row = bit_get(v->has, off) ? v->rows + (size_t)off * v->rowlen : zero;
        /* little-endian hosts write rows as they are; others would swap here */
        _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");
        cw_put(&w, row, v->rowlen);
    }
    free(zero);
    return cw_close(&w, path, err);
}

qv_rc qv_segment_save(const qv_segment *s, const char *dir, uint64_t checkpoint_op, qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/points.dat", dir);
    qv_rc rc = save_points(s, path, checkpoint_op, err);
    for (uint32_t vi = 0; rc == QV_OK && vi < s->nvec; vi++) {
        snprintf(path, sizeof path, "%s/vectors-%u.dat", dir, vi);
        rc = save_vectors(s, vi, path, err);
    }
    return rc;
}

/* Reads a whole file and verifies its CRC trailer. */
static qv_rc read_checked(const char *path, uint8_t **data, size_t *len, qv_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qv_fail(err, QV_ECORRUPT, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    uint8_t *buf = NULL;
    qv_rc rc = QV_OK;
    if (fstat(fd, &st) != 0 || st.st_size < SEG_HEADER_SIZE + 4) {
        rc = qv_fail(err, QV_ECORRUPT, "%s is truncated", path);
        goto done;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        rc = qv_fail(err, QV_ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != (size_t)st.st_size || qv_crc32c(0, buf, got - 4) != qv_load_u32le(buf + got - 4)) {
        rc = qv_fail(err, QV_ECORRUPT, "%s fails its checksum", path);
        goto done;
    }
    *data = buf;
    *len = got - 4;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

static bool rd_id(qv_rd *r, qv_pointid *id) {
    uint8_t kind = qv_rd_u8(r);
    if (kind == 0) {
        *id = qv_pointid_num(qv_rd_u64le(r));
        return !r->bad;
    }
    const uint8_t *t = kind == 1 ? qv_rd_bytes(r, 16) : NULL;
    if (!t) return false;
    *id = qv_pointid_from_uuid_bytes(t);
    return true;
}

/* Reads one point record of points.dat into the segment (vectors later). */
static bool load_point(qv_segment *s, qv_rd *r, uint8_t *mask, size_t maskbytes) {
    qv_pointid id;
    if (!rd_id(r, &id)) return false;
    uint64_t version = qv_rd_u64le(r);
    uint8_t hp = qv_rd_u8(r);
    qv_payload *p = NULL;
    if (hp > 1 || r->bad) return false;
    if (hp) {
        uint32_t n = qv_rd_u32le(r);
        const uint8_t *d = qv_rd_bytes(r, n);
        if (!d) return false;
        /* Decode into a scratch arena, then copy into an exactly sized
         * document (see qv_payload_new). */
        qv_arena tmp;
        qv_arena_init(&tmp);
        jv root;
        size_t used;
        bool ok = jvbin_read(&tmp, d, n, &used, &root, NULL) == QV_OK && used == n &&
                  root.type == JV_OBJ && (p = qv_payload_new(&root)) != NULL;
        qv_arena_free(&tmp);
        if (!ok) return false;
    }
    const uint8_t *m = qv_rd_bytes(r, maskbytes);
    uint32_t dup;
    if (!m || qv_segment_find(s, &id, &dup) || qv_segment_put(s, version, &id, NULL, p) != QV_OK) {
        qv_payload_free(p);
        return false;
    }
    memcpy(mask, m, maskbytes);
    return true;
}

static qv_rc load_points(qv_segment *s, const char *dir, uint64_t *cp_op, uint8_t **masks,
                         qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/points.dat", dir);
    uint8_t *data;
    size_t len;
    qv_rc rc = read_checked(path, &data, &len, err);
    if (rc) return rc;
    qv_rd r;
    qv_rd_init(&r, data, len);
    const uint8_t *magic = qv_rd_bytes(&r, 8);
    uint32_t version = qv_rd_u32le(&r), nvec = qv_rd_u32le(&r);
    uint64_t n = qv_rd_u64le(&r);
    *cp_op = qv_rd_u64le(&r);
    size_t maskbytes = (s->nvec + 7) / 8;
    if (memcmp(magic, POINTS_MAGIC, 8) != 0 || version != SEG_FORMAT_VERSION || nvec != s->nvec ||
        n > len / 10) {
        free(data);
        return qv_fail(err, QV_ECORRUPT, "%s: bad header (magic, version %u or counts)", path,
                       version);
    }
    *masks = malloc(maskbytes * (n ? n : 1));
    bool ok = *masks && seg_grow(s, (uint32_t)n);
    for (uint64_t i = 0; ok && i < n; i++)
        ok = load_point(s, &r, *masks + i * maskbytes, maskbytes);
    ok = ok && !r.bad && qv_rd_left(&r) == 0;
    free(data);
    if (!ok) return qv_fail(err, QV_ECORRUPT, "%s: malformed point records", path);
    return QV_OK;
}

/* Makes vector vi of s (not mapped) hold rows of element type elem; the
 * rows' contents are lost (the caller fills them). */
static bool seg_retype(qv_segment *s, uint32_t vi, qv_elem elem) {
    seg_vec *v = &s->vecs[vi];
    if (v->elem == elem) return true;
    seg_set_elem(v, v->dim, elem);
    if (!s->cap) return true;
    void *p = realloc(v->rows, (size_t)s->cap * v->rowlen);
    if (!p) return false;
    v->rows = p;
    return true;
}

static qv_rc load_vectors(qv_segment *s, const char *dir, uint32_t vi, const uint8_t *masks,
                          qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vectors-%u.dat", dir, vi);
    uint8_t *data;
    size_t len;
    qv_rc rc = read_checked(path, &data, &len, err);
    if (rc) return rc;
    seg_vec *v = &s->vecs[vi];
    size_t maskbytes = (s->nvec + 7) / 8;
    bool ok = memcmp(data, VECTORS_MAGIC, 8) == 0 &&
              qv_load_u32le(data + 8) == SEG_FORMAT_VERSION &&
              qv_load_u32le(data + 12) <= QV_ELEM_U8 && qv_load_u32le(data + 16) == v->dim &&
              qv_load_u64le(data + 24) == s->n;
    /* the rows are kept as the file has them, whatever the segment was made with */
    ok = ok && seg_retype(s, vi, (qv_elem)qv_load_u32le(data + 12)) &&
         len == SEG_HEADER_SIZE + (size_t)s->n * v->rowlen;
    if (ok && s->n > 0) { /* an empty segment has no rows: memcpy(NULL, ..) is undefined */
        memcpy(v->rows, data + SEG_HEADER_SIZE, (size_t)s->n * v->rowlen);
        for (uint32_t off = 0; off < s->n; off++)
            bit_set(v->has, off, (masks[off * maskbytes + vi / 8] >> (vi % 8)) & 1u);
    }
    free(data);
    if (!ok) return qv_fail(err, QV_ECORRUPT, "%s: header does not match the collection", path);
    return QV_OK;
}

qv_rc qv_segment_load(const char *dir, uint32_t nvec, const uint32_t *dims, qv_segment **out,
                      uint64_t *checkpoint_op, qv_err *err) {
    return qv_segment_load_ex(dir, nvec, dims, NULL, out, checkpoint_op, err);
}

qv_rc qv_segment_load_ex(const char *dir, uint32_t nvec, const uint32_t *dims, const int8_t *mapped,
                         qv_segment **out, uint64_t *checkpoint_op, qv_err *err) {
    if (nvec > QV_SEG_MAX_MASK * 8) return qv_fail(err, QV_ECORRUPT, "too many vectors");
    qv_segment *s = qv_segment_new(nvec, dims, NULL);
    if (!s) return qv_fail(err, QV_ENOMEM, "out of memory");
    uint8_t *masks = NULL;
    qv_rc rc = load_points(s, dir, checkpoint_op, &masks, err);
    for (uint32_t vi = 0; rc == QV_OK && vi < nvec; vi++) {
        if (!mapped || mapped[vi] < 0) {
            rc = load_vectors(s, dir, vi, masks, err);
            continue;
        }
        rc = qv_segment_map_vectors(s, dir, vi, true, mapped[vi] == 0, err);
        size_t maskbytes = (s->nvec + 7) / 8;
        for (uint32_t off = 0; rc == QV_OK && off < s->n; off++)
            bit_set(s->vecs[vi].has, off, (masks[off * maskbytes + vi / 8] >> (vi % 8)) & 1u);
    }
    free(masks);
    if (rc) {
        qv_segment_free(s);
        return rc;
    }
    *out = s;
    return QV_OK;
}

/* ---- deletion marks of an immutable segment --------------------------------
 * An immutable segment's files are written once; the points deleted from it
 * later are recorded per checkpoint in a small file:
 *   0  8  magic "QVDEADOF"
 *   8  4  format version (1)
 *   12 4  reserved (0)
 *   16 8  number of offsets (n, the segment's size)
 *   24 8  number of dead offsets (d)
 *   32 .. d x u32 dead offsets, ascending
 *   end-4 4 CRC-32C of every byte before it
 */
#define DEAD_MAGIC "QVDEADOF"

qv_rc qv_segment_save_dead(const qv_segment *s, const char *path, qv_err *err) {
    crc_writer w;
    qv_rc rc = cw_open(&w, path, err);
    if (rc) return rc;
    put_header(&w, DEAD_MAGIC, 0, 0, s->n, s->n - s->live);
    for (uint32_t off = 0; off < s->n && !w.failed; off++)
        if (!bit_get(s->alive, off)) cw_u32(&w, off);
    return cw_close(&w, path, err);
}

qv_rc qv_segment_load_dead(qv_segment *s, const char *path, qv_err *err) {
    uint8_t *data;
    size_t len;
    qv_rc rc = read_checked(path, &data, &len, err);
    if (rc) return rc;
    uint64_t n = qv_load_u64le(data + 16), d = qv_load_u64le(data + 24);
    bool ok = memcmp(data, DEAD_MAGIC, 8) == 0 && qv_load_u32le(data + 8) == SEG_FORMAT_VERSION &&
              n == s->n && d <= n && len == SEG_HEADER_SIZE + d * 4;
    uint32_t prev = 0;
    for (uint64_t i = 0; ok && i < d; i++) {
        uint32_t off = qv_load_u32le(data + SEG_HEADER_SIZE + i * 4);
        ok = off < s->n && (i == 0 || off > prev);
        prev = off;
        if (ok) qv_segment_delete_at(s, 0, off);
    }
    free(data);
    if (!ok) return qv_fail(err, QV_ECORRUPT, "%s: malformed deletion marks", path);
    return QV_OK;
}

/* ---- mapped vectors ---------------------------------------------------------
 * An immutable segment serves its vectors from its own vectors-<vi>.dat
 * through a read-only shared mapping (the file's row area is exactly the
 * row-major matrix), so they live in the page cache, not in the process's
 * heap.  See qv_segment_map_vectors in segment.h. */

qv_rc qv_segment_map_vectors(qv_segment *s, const char *dir, uint32_t vi, bool verify,
                             bool resident, qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vectors-%u.dat", dir, vi);
    seg_vec *v = &s->vecs[vi];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qv_fail(err, QV_ECORRUPT, "cannot open %s: %s", path, strerror(errno));
    /* the element type, from the header, fixes the size the file must have */
    uint8_t hdr[SEG_HEADER_SIZE];
    struct stat st;
    uint32_t fe = UINT32_MAX;
    if (pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr) fe = qv_load_u32le(hdr + 12);
    size_t want =
        fe <= QV_ELEM_U8 ? SEG_HEADER_SIZE + (size_t)s->n * v->dim * qv_elem_size(fe) + 4 : 0;
    if (!want || fstat(fd, &st) != 0 || (uint64_t)st.st_size != want) {
        close(fd);
        return qv_fail(err, QV_ECORRUPT, "%s has the wrong size or element type", path);
    }
    uint8_t *m = mmap(NULL, want, PROT_READ, MAP_SHARED | (resident ? MAP_POPULATE : 0), fd, 0);
    close(fd);
    if (m == MAP_FAILED) return qv_fail(err, QV_EIO, "cannot map %s: %s", path, strerror(errno));
    bool ok = memcmp(m, VECTORS_MAGIC, 8) == 0 && qv_load_u32le(m + 8) == SEG_FORMAT_VERSION &&
              qv_load_u32le(m + 12) == fe && qv_load_u32le(m + 16) == v->dim &&
              qv_load_u64le(m + 24) == s->n;
    if (ok && verify) ok = qv_crc32c(0, m, want - 4) == qv_load_u32le(m + want - 4);
    if (!ok) {
        munmap(m, want);
        return qv_fail(err, QV_ECORRUPT, "%s fails its header or checksum", path);
    }
    /* on_disk: the pages the check read need not stay in this process */
    (void)madvise(m, want, resident ? MADV_WILLNEED : MADV_RANDOM);
    if (!resident) (void)madvise(m, want, MADV_DONTNEED);
    if (v->map)
        munmap(v->map, v->map_len);
    else
        free(v->rows);
    seg_set_elem(v, v->dim, (qv_elem)fe);
    v->map = m;
    v->map_len = want;
    v->rows = m + SEG_HEADER_SIZE;
    return QV_OK;
}

void qv_segment_release_vectors(qv_segment *s, uint32_t vi) {
    if (s->vecs[vi].map) (void)madvise(s->vecs[vi].map, s->vecs[vi].map_len, MADV_DONTNEED);
}

void qv_segment_populate_vectors(qv_segment *s, uint32_t vi) {
    seg_vec *v = &s->vecs[vi];
    if (!v->map) return;
    (void)madvise(v->map, v->map_len, MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
    (void)madvise(v->map, v->map_len, MADV_POPULATE_READ);
#endif
}

uint64_t qv_segment_row_bytes(const qv_segment *s, uint32_t vi) {
    return (uint64_t)s->n * s->vecs[vi].rowlen;
}

bool qv_segment_vectors_mapped(const qv_segment *s, uint32_t vi) {
    return s->vecs[vi].map != NULL;
}
