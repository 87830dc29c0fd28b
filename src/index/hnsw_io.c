/*
 * hnsw_io.c - the HNSW graph file: save and load.
 *
 * File format, version 2 (little-endian, as the host: Quiver runs on x86-64
 * and arm64 only; all offsets in bytes):
 *
 *   0   8  magic "QVHNSWGR"
 *   8   4  format version (2)
 *   12  4  header size (72)
 *   16  4  dim
 *   20  4  distance (qv_distance: 0 Cosine, 1 Euclid, 2 Dot, 3 Manhattan)
 *   24  4  m (level 0 has m0 = 2m slots); 0: a no_main graph (no global
 *          links: level-0 slots are a count of 0 alone, every level is 0)
 *   28  4  ef_construct
 *   32  8  seed
 *   40  4  n, the number of nodes
 *   44  4  entry point (0xFFFFFFFF when n = 0)
 *   48  4  max level (int32, -1 when n = 0)
 *   52  4  blocks: qv_hnsw_add_subgraph calls that linked something
 *   56  8  upper_words: u32 words in the upper-level section
 *   64  8  extra_words: u32 words in the extra-link pool; 0 when the graph
 *          has no extra links (then neither extra section is present)
 *   72     levels: n bytes, zero-padded to a multiple of 4
 *          level 0: n slots of 1 + m0 u32, [count, ids...]; words past count
 *                   are unspecified
 *          upper levels: for each node of level L >= 1, in id order, L slots
 *                   of 1 + m u32 (levels 1..L), as level 0
 *          (extra_words > 0 only:)
 *          zero padding to a multiple of 8
 *          extra offsets: n u64, node i's extra list starts at word
 *                   xoff[i] of the pool; 0 for a node without extra links
 *          extra pool: extra_words u32: word 0 is 0 (the empty list), then
 *                   the lists [count >= 1, ids...] of the nodes that have
 *                   one, in id order and back to back (the loader insists
 *                   on exactly this layout, so lists cannot overlap)
 *   end-4  CRC-32C of every byte before it
 *
 * Version 1 (written before extra links existed) is version 2 with a 64-byte
 * header ending at upper_words, m >= 2 and no extra sections; it still
 * loads.  Graphs are always written as version 2.
 *
 * The file size is therefore fixed by the header; a file of any other size
 * is torn or padded and is rejected before anything is allocated for it (so a
 * corrupt header cannot make the loader allocate more than the file holds).
 * Each section is read with one read() straight into the array the index
 * uses, and checksummed there.  After the checksum, the loader still checks
 * every value a search would act on: levels and the entry point, every link
 * count against its slot, and every link id against n and against the level
 * of its target (an upper-level link to a node without that level would make
 * a search read a list that does not exist), and the extra sections' layout
 * and ids.  It does not require the graph to be healthy otherwise (a
 * duplicate or self link is harmless to a search): qv_hnsw_check says that.
 *
 * Saving writes path.tmp, fsyncs it, renames it over path and fsyncs the
 * directory, so path always holds either the old or the new complete graph.
 *
 * The sections are laid out as the index's own arrays (levels, then the
 * 4-byte aligned level-0 slots, then the upper blocks in id order, then the
 * 8-byte aligned extra offsets and the extra pool), so
 * qv_hnsw_load_placed can also serve a graph from a read-only shared
 * mapping of the file instead of reading it into the heap: the same
 * checksum and link checks run over the mapping, and a cold graph's pages
 * are then released from the process until searches touch them.
 */
#include "index/hnsw.h"
#include "index/hnsw_impl.h"

#include "core/crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hnsw_io.c writes host-order integers; the format is little-endian"
#endif

#define HNSW_MAGIC          "QVHNSWGR"
#define HNSW_VERSION        2
#define HNSW_HEADER_SIZE    72
#define HNSW_V1_HEADER_SIZE 64

typedef struct hnsw_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint32_t dim;
    uint32_t distance;
    uint32_t m;
    uint32_t ef_construct;
    uint64_t seed;
    uint32_t n;
    uint32_t entry;
    int32_t max_level;
    uint32_t nblocks; /* v1: reserved, 0 */
    uint64_t upper_words;
    uint64_t extra_words; /* v2 only */
} hnsw_header;

_Static_assert(sizeof(hnsw_header) == HNSW_HEADER_SIZE, "header layout");

static size_t pad4(size_t n) {
    return (n + 3) & ~(size_t)3;
}

/* Bytes of the file before the extra sections (header to upper section). */
static uint64_t main_bytes(const hnsw_header *hd) {
    uint64_t slot0 = 1 + 2 * (uint64_t)hd->m;
    return hd->header_size + pad4(hd->n) + (uint64_t)hd->n * slot0 * 4 + hd->upper_words * 4;
}

/* Zero bytes between the main sections and the 8-byte aligned offsets. */
static uint64_t extra_pad(const hnsw_header *hd) {
    return hd->extra_words ? (8 - main_bytes(hd) % 8) % 8 : 0;
}

/* The file size the header implies. */
static uint64_t file_bytes(const hnsw_header *hd) {
    uint64_t x = hd->extra_words ? extra_pad(hd) + (uint64_t)hd->n * 8 + hd->extra_words * 4 : 0;
    return main_bytes(hd) + x + 4;
}

/* =========================================================================
 * Saving
 * ========================================================================= */

typedef struct hnsw_writer {
    int fd;
    uint32_t crc;
    size_t len;
    int err; /* first errno */
    unsigned char buf[1 << 16];
} hnsw_writer;

static void w_raw(hnsw_writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0 && !w->err) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            w->err = errno;
            return;
        }
        b += k;
        n -= (size_t)k;
    }
}

static void w_flush(hnsw_writer *w) {
    w_raw(w, w->buf, w->len);
    w->len = 0;
}

/* Appends n bytes (checksummed); large pieces bypass the buffer. */
static void w_put(hnsw_writer *w, const void *p, size_t n) {
    if (n == 0) return; /* p may be NULL (an empty graph) */
    w->crc = qv_crc32c(w->crc, p, n);
    if (n > sizeof w->buf / 2) {
        w_flush(w);
        w_raw(w, p, n);
        return;
    }
    if (w->len + n > sizeof w->buf) w_flush(w);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static qv_rc fsync_parent_dir(const char *path, qv_err *err) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) return qv_fail(err, QV_EIO, "hnsw: path too long");
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return qv_fail(err, QV_EIO, "hnsw: open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return qv_fail(err, QV_EIO, "hnsw: fsync %s: %s", dir, strerror(e));
    return QV_OK;
}

static uint64_t upper_words_of(const qv_hnsw *h) {
    uint64_t w = 0;
    for (uint32_t i = 0; i < h->n; i++) w += (uint64_t)h->levels[i] * h->slotu;
    return w;
}

/* Words of the extra pool as saved (compacted, see the format). */
static uint64_t extra_words_of(const qv_hnsw *h) {
    if (!h->xoff) return 0;
    uint64_t w = 1;
    for (uint32_t i = 0; i < h->n; i++) {
        uint32_t c = hnsw_xlinks(h, i)[0];
        if (c) w += 1 + (uint64_t)c;
    }
    return w > 1 ? w : 0;
}

/* The extra sections: offsets as the compacted pool will have them, then
 * the pool (the in-memory pool may hold garbage and lists in any order). */
static void write_extra(const qv_hnsw *h, hnsw_writer *w, const hnsw_header *hd) {
    static const unsigned char zero[8];
    w_put(w, zero, extra_pad(hd));
    uint64_t at = 1;
    for (uint32_t i = 0; i < h->n; i++) {
        uint32_t c = hnsw_xlinks(h, i)[0];
        uint64_t off = c ? at : 0;
        w_put(w, &off, sizeof off);
        if (c) at += 1 + (uint64_t)c;
    }
    w_put(w, zero, 4); /* the empty list */
    for (uint32_t i = 0; i < h->n; i++) {
        const uint32_t *lst = hnsw_xlinks(h, i);
        if (lst[0]) w_put(w, lst, (1 + (size_t)lst[0]) * sizeof *lst);
    }
}

/* Writes the whole file through w (header, sections, trailer). */
static void write_graph(const qv_hnsw *h, hnsw_writer *w) {
    hnsw_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, HNSW_MAGIC, 8);
    hd.version = HNSW_VERSION;
    hd.header_size = HNSW_HEADER_SIZE;
    hd.dim = (uint32_t)h->dim;
    hd.distance = (uint32_t)h->dist;
    hd.m = h->m;
    hd.ef_construct = h->ef_construct;
    hd.seed = h->seed;
    hd.n = h->n;
    hd.entry = h->entry;
    hd.max_level = h->max_level;
    hd.nblocks = h->nblocks;
    hd.upper_words = upper_words_of(h);
    hd.extra_words = extra_words_of(h);
    w_put(w, &hd, sizeof hd);
    w_put(w, h->levels, h->n);
    static const unsigned char zero[4];
    w_put(w, zero, pad4(h->n) - h->n);
    w_put(w, h->l0, (size_t)h->n * h->slot0 * sizeof(uint32_t));
    for (uint32_t i = 0; i < h->n; i++)
        if (h->levels[i]) w_put(w, h->upper[i], (size_t)h->levels[i] * h->slotu * sizeof(uint32_t));
    if (hd.extra_words) write_extra(h, w, &hd);
    uint32_t crc = w->crc;
    w_put(w, &crc, sizeof crc);
    w_flush(w);
}

qv_rc qv_hnsw_save(const qv_hnsw *h, const char *path, qv_err *err) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return qv_fail(err, QV_EIO, "hnsw: path too long");
    hnsw_writer *w = malloc(sizeof *w);
    if (!w) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory");
    w->crc = 0;
    w->len = 0;
    w->err = 0;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return qv_fail(err, QV_EIO, "hnsw: create %s: %s", tmp, strerror(e));
    }
    write_graph(h, w);
    if (!w->err && fsync(w->fd) != 0) w->err = errno;
    if (close(w->fd) != 0 && !w->err) w->err = errno;
    int e = w->err;
    free(w);
    if (e) {
        unlink(tmp);
        return qv_fail(err, QV_EIO, "hnsw: write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return qv_fail(err, QV_EIO, "hnsw: rename %s: %s", tmp, strerror(e));
    }
    return fsync_parent_dir(path, err);
}

/* =========================================================================
 * Loading
 * ========================================================================= */

/* Reads exactly n bytes at *off (advancing it) and checksums them. */
static qv_rc r_read(int fd, off_t *off, void *p, size_t n, uint32_t *crc, const char *path,
                    qv_err *err) {
    unsigned char *b = p;
    size_t left = n;
    while (left > 0) {
        ssize_t k = pread(fd, b, left, *off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return qv_fail(err, QV_EIO, "hnsw: read %s: %s", path, strerror(errno));
        if (k == 0) return qv_fail(err, QV_ECORRUPT, "hnsw: %s: truncated", path);
        b += k;
        *off += k;
        left -= (size_t)k;
    }
    if (crc) *crc = qv_crc32c(*crc, p, n);
    return QV_OK;
}

/* The header's own checks: magic, version and parameters in range. */
static qv_rc check_header(const hnsw_header *hd, const char *path, qv_err *err) {
    if (memcmp(hd->magic, HNSW_MAGIC, 8) != 0)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: not an HNSW graph file (bad magic)", path);
    if (hd->version != HNSW_VERSION && hd->version != 1)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: unsupported format version %u", path,
                       hd->version);
    bool v1 = hd->version == 1;
    if (hd->header_size != (v1 ? HNSW_V1_HEADER_SIZE : HNSW_HEADER_SIZE) || hd->dim == 0 ||
        hd->dim > (1u << 20) || hd->distance > QV_DIST_MANHATTAN ||
        (hd->m < 2 && (v1 || hd->m != 0)) || hd->m > QV_HNSW_MAX_M || hd->ef_construct == 0 ||
        hd->n > QV_HNSW_MAX_POINTS || hd->max_level > QV_HNSW_MAX_LEVEL || hd->max_level < -1 ||
        (hd->m == 0 && hd->max_level > 0) || (v1 && (hd->nblocks || hd->extra_words)))
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad header", path);
    if (hd->n == 0 ? (hd->entry != HNSW_NONE || hd->max_level != -1)
                   : (hd->entry >= hd->n || hd->max_level < 0))
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad entry point", path);
    return QV_OK;
}

/* Checks one loaded link list for anything a search could trip on. */
static bool list_ok(const qv_hnsw *h, uint32_t id, int level) {
    const uint32_t *lst = hnsw_links(h, id, level);
    uint32_t cnt = lst[0], cap = level ? h->m : h->m0;
    if (cnt > cap) return false;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t j = lst[1 + i];
        if (j >= h->n || h->levels[j] < level) return false;
    }
    return true;
}

/* Points upper[] into the loaded upper section and checks the structure. */
static qv_rc link_and_check(qv_hnsw *h, uint32_t *upper, uint64_t upper_words, const char *path,
                            qv_err *err) {
    uint64_t at = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        int lv = h->levels[i];
        if (lv > h->max_level)
            return qv_fail(err, QV_ECORRUPT, "hnsw: %s: node %u above the top level", path, i);
        if (lv == 0) continue;
        uint64_t words = (uint64_t)lv * h->slotu;
        if (at + words > upper_words)
            return qv_fail(err, QV_ECORRUPT, "hnsw: %s: levels and upper section disagree", path);
        h->upper[i] = upper + at;
        at += words;
    }
    if (at != upper_words)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: levels and upper section disagree", path);
    if (h->n && h->levels[h->entry] != h->max_level)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: entry point not on the top level", path);
    for (uint32_t i = 0; i < h->n; i++)
        for (int l = 0; l <= h->levels[i]; l++)
            if (!list_ok(h, i, l))
                return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad link list (node %u, level %d)",
                               path, i, l);
    return QV_OK;
}

/* Checks the loaded extra sections (h->xoff, h->xl of extra_words words):
 * the pool starts with the empty list and holds the lists of the nodes
 * that have one exactly back to back in id order (so none overlaps or
 * reads past the pool), with every id below n.  Then sets the pool's
 * bookkeeping (xmax, sizes). */
static qv_rc extra_check(qv_hnsw *h, uint64_t extra_words, const char *path, qv_err *err) {
    if (extra_words < 2 || h->xl[0] != 0)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad extra-link pool", path);
    uint64_t at = 1;
    for (uint32_t i = 0; i < h->n; i++) {
        uint64_t o = h->xoff[i];
        if (o == 0) continue;
        if (o != at || at >= extra_words || h->xl[at] == 0 || h->xl[at] > extra_words - at - 1)
            return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad extra-link offset (node %u)", path, i);
        uint32_t cnt = h->xl[at];
        for (uint32_t t = 0; t < cnt; t++)
            if (h->xl[at + 1 + t] >= h->n)
                return qv_fail(err, QV_ECORRUPT, "hnsw: %s: bad extra link (node %u)", path, i);
        if (cnt > h->xmax) h->xmax = cnt;
        at += 1 + (uint64_t)cnt;
    }
    if (at != extra_words)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: extra-link pool size disagrees", path);
    h->xl_words = h->xl_live = h->xl_cap = extra_words;
    return QV_OK;
}

/* Reads the extra sections (after the upper one) into new heap arrays. */
static qv_rc load_extra(qv_hnsw *h, int fd, off_t *off, const hnsw_header *hd, uint32_t *crc,
                        const char *path, qv_err *err) {
    unsigned char pad[8];
    h->xoff = malloc(((size_t)h->n + 1) * sizeof *h->xoff);
    h->xl = malloc((size_t)hd->extra_words * sizeof *h->xl);
    if (!h->xoff || !h->xl) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory loading %s", path);
    qv_rc rc = r_read(fd, off, pad, extra_pad(hd), crc, path, err);
    if (!rc) rc = r_read(fd, off, h->xoff, (size_t)h->n * 8, crc, path, err);
    if (!rc) rc = r_read(fd, off, h->xl, (size_t)hd->extra_words * 4, crc, path, err);
    return rc;
}

/* Reads the sections after the header into h and verifies them. */
static qv_rc load_body(qv_hnsw *h, int fd, const hnsw_header *hd, uint32_t crc, const char *path,
                       qv_err *err) {
    off_t off = hd->header_size;
    unsigned char pad[4];
    qv_rc rc = r_read(fd, &off, h->levels, h->n, &crc, path, err);
    if (!rc) rc = r_read(fd, &off, pad, pad4(h->n) - h->n, &crc, path, err);
    if (!rc) rc = r_read(fd, &off, h->l0, (size_t)h->n * h->slot0 * 4, &crc, path, err);
    uint32_t *upper = NULL;
    if (!rc && hd->upper_words) {
        upper = qv_arena_alloc(&h->upper_mem, hd->upper_words * 4);
        if (!upper) return qv_fail(err, QV_ENOMEM, "hnsw: out of memory loading %s", path);
        rc = r_read(fd, &off, upper, hd->upper_words * 4, &crc, path, err);
    }
    if (!rc && hd->extra_words) rc = load_extra(h, fd, &off, hd, &crc, path, err);
    uint32_t stored;
    if (!rc) rc = r_read(fd, &off, &stored, 4, NULL, path, err);
    if (rc) return rc;
    if (stored != crc)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: checksum mismatch (file damaged)", path);
    rc = link_and_check(h, upper, hd->upper_words, path, err);
    if (!rc && hd->extra_words) rc = extra_check(h, hd->extra_words, path, err);
    return rc;
}

/* Serves the graph from a read-only mapping of the file (see
 * qv_hnsw_load_placed): the file's sections are laid out as the index's
 * arrays, so levels, l0 and the upper blocks point into it.  The checksum
 * and link checks run over the mapping, as load_body's run over the heap. */
static qv_rc map_body(qv_hnsw *h, int fd, const hnsw_header *hd, size_t len, qv_hnsw_place place,
                      const char *path, qv_err *err) {
    unsigned char *m = mmap(NULL, len, PROT_READ,
                            MAP_SHARED | (place == QV_HNSW_MAP_CACHED ? MAP_POPULATE : 0), fd, 0);
    if (m == MAP_FAILED) return qv_fail(err, QV_EIO, "hnsw: map %s: %s", path, strerror(errno));
    free(h->l0);
    free(h->levels);
    h->map = m;
    h->map_len = len;
    h->levels = m + hd->header_size;
    h->l0 = (uint32_t *)(void *)(m + hd->header_size + pad4(h->n));
    if (hd->extra_words) { /* 8-byte aligned in the file, so in the page-aligned mapping */
        uint64_t at = main_bytes(hd) + extra_pad(hd);
        h->xoff = (uint64_t *)(void *)(m + at);
        h->xl = (uint32_t *)(void *)(m + at + (uint64_t)h->n * 8);
    }
    uint32_t stored;
    memcpy(&stored, m + len - 4, 4);
    if (qv_crc32c(0, m, len - 4) != stored)
        return qv_fail(err, QV_ECORRUPT, "hnsw: %s: checksum mismatch (file damaged)", path);
    qv_rc rc = link_and_check(h, h->l0 + (size_t)h->n * h->slot0, hd->upper_words, path, err);
    if (!rc && hd->extra_words) rc = extra_check(h, hd->extra_words, path, err);
    /* cold: the pages the checks read need not stay in this process */
    if (!rc && place == QV_HNSW_MAP_COLD) (void)madvise(m, len, MADV_DONTNEED);
    return rc;
}

bool qv_hnsw_mapped(const qv_hnsw *h) {
    return h->map != NULL;
}

qv_rc qv_hnsw_load(const char *path, const qv_hnsw_store *store, qv_hnsw **out, qv_err *err) {
    return qv_hnsw_load_placed(path, store, QV_HNSW_HEAP, out, err);
}

qv_rc qv_hnsw_load_placed(const char *path, const qv_hnsw_store *store, qv_hnsw_place place,
                          qv_hnsw **out, qv_err *err) {
    *out = NULL;
    if ((unsigned)place > QV_HNSW_MAP_CACHED)
        return qv_fail(err, QV_EBADINPUT, "hnsw: unknown placement %d", (int)place);
    if (!store || (!store->base && !store->get) || (unsigned)store->elem > QV_ELEM_U8 ||
        (store->elem != QV_ELEM_F32 && !store->base))
        return qv_fail(err, QV_EBADINPUT, "hnsw: bad vector store");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_fail(err, errno == ENOENT ? QV_ENOTFOUND : QV_EIO, "hnsw: open %s: %s", path,
                       strerror(errno));
    qv_hnsw *h = NULL;
    hnsw_header hd;
    uint32_t crc = 0;
    off_t off = 0;
    struct stat st;
    qv_rc rc = fstat(fd, &st) == 0 ? QV_OK : qv_fail(err, QV_EIO, "hnsw: stat %s", path);
    /* the version-1 header, then the rest of a later one */
    memset(&hd, 0, sizeof hd);
    if (!rc) rc = r_read(fd, &off, &hd, HNSW_V1_HEADER_SIZE, &crc, path, err);
    if (!rc && hd.version != 1)
        rc = r_read(fd, &off, (unsigned char *)&hd + HNSW_V1_HEADER_SIZE,
                    HNSW_HEADER_SIZE - HNSW_V1_HEADER_SIZE, &crc, path, err);
    if (!rc) rc = check_header(&hd, path, err);
    if (rc) goto fail;
    uint64_t want = file_bytes(&hd);
    if (hd.upper_words > (uint64_t)st.st_size || hd.extra_words > (uint64_t)st.st_size ||
        (uint64_t)st.st_size != want) {
        rc = qv_fail(err, QV_ECORRUPT, "hnsw: %s: size %lld, header says %llu (torn file?)", path,
                     (long long)st.st_size, (unsigned long long)want);
        goto fail;
    }
    if (store->base && store->stride < hd.dim) {
        rc = qv_fail(err, QV_EBADINPUT, "hnsw: store stride below the graph's dim");
        goto fail;
    }
    rc = hnsw_alloc(hd.dim, (qv_distance)hd.distance, hd.m, hd.ef_construct, hd.seed, store, &h,
                    err);
    if (!rc) rc = hnsw_grow(h, hd.n, err);
    if (rc) goto fail;
    h->n = hd.n;
    h->entry = hd.entry;
    h->max_level = hd.max_level;
    h->nblocks = hd.nblocks;
    rc = place == QV_HNSW_HEAP ? load_body(h, fd, &hd, crc, path, err)
                               : map_body(h, fd, &hd, (size_t)want, place, path, err);
    if (rc) goto fail;
    close(fd);
    *out = h;
    return QV_OK;
fail:
    close(fd);
    qv_hnsw_free(h);
    return rc;
}
