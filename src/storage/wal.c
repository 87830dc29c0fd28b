/*
 * wal.c - the write-ahead log: segment files, recovery, group commit.
 *
 * ON-DISK FORMAT (version 1)
 *
 * A WAL is a directory holding segment files and nothing else of ours.  A
 * segment is named after the number of the first operation it holds, as 20
 * decimal digits and ".wal" ("00000000000000000001.wal"), so that sorting
 * names sorts the log.  Other names in the directory are ignored.
 * Consecutive segments hold consecutive operation numbers: a segment ends
 * with op N exactly when the next one is named N+1.  Every integer is
 * little-endian and is encoded byte by byte (never by dumping a struct), so
 * files are portable between hosts.
 *
 * A segment starts with a 32-byte header:
 *
 *     offset size  field
 *          0    8  magic "QVWAL\0\0\0"
 *          8    4  format version (1)
 *         12    4  header size in bytes (32)
 *         16    8  first_op: number of the first record (= the file name)
 *         24    4  reserved, 0
 *         28    4  CRC-32C of bytes 0..27
 *
 * (The checksum comes last so that it covers every other header byte,
 * including the reserved ones.)  Records follow back to back from offset 32;
 * each starts on an 8-byte boundary:
 *
 *     offset size  field
 *          0    4  body length L (at most WAL_MAX_RECORD)
 *          4    4  CRC-32C of: bytes 0..3, then bytes 8..15, then the body
 *                  and the padding (i.e. of everything but itself)
 *          8    8  op: operation number; first_op for the first record of
 *                  the file, previous op + 1 for each one after it
 *         16    L  body (opaque to the WAL)
 *       16+L    P  zero padding, P = (8 - L % 8) % 8
 *
 * A record occupies 16 + L + P bytes.  The padding is covered by the
 * checksum so that every byte of a record is verified.  There is no footer
 * and no length in the header: a segment ends where its file ends.
 *
 * RECOVERY (wal_open; wal_scan_dir reports the same analysis read-only)
 *
 * The files are read in name order.  Every header must have the right magic,
 * a known version, header size 32, a good checksum and first_op equal to its
 * name; every file must start at the op after the previous file's last one.
 * Violations are QV_ECORRUPT, with two exceptions for the LAST file, which
 * is the one being written when a crash happens:
 *
 *  - A last file shorter than its header, or whose 32 bytes are all zero
 *    (a roll interrupted between creating the file and its header reaching
 *    the disk), is rewritten in place as an empty segment of the same name.
 *  - In the last file, the first record that is cut short by the end of the
 *    file, has an absurd length, a bad checksum or an op number out of
 *    sequence ends the log: the file is truncated there (ftruncate, fsync).
 *    This is the torn tail of a crash.  It cannot hold anything that was
 *    synced: wal_sync returned only after fdatasync covered every byte
 *    before the synced records, and a crash can only damage the unsynced
 *    bytes after them, so cutting at the first bad byte never loses an
 *    acknowledged-durable record, even if good records follow the damage
 *    (page writeback is unordered, so a hole may precede written pages).
 *
 * A bad record in any other file is real corruption (bit rot, a truncated
 * copy, an edit): a file is fdatasync'ed in full before the next one is
 * created, so a crash cannot damage it.  wal_open then fails with
 * "WAL file X is corrupt at offset Y: ..." and changes nothing.
 *
 * WHAT IS DELIBERATELY NOT HERE
 *
 * No preallocation or segment recycling (each roll creates a fresh file, so
 * stale records from an older life of a file can never be mistaken for new
 * ones; the op number check would catch them anyway).  No compression.  No
 * attempt to salvage records after damage in the last file (see above: they
 * were never durable).
 *
 * THREADING (see also wal.h)
 *
 * One appender at a time (wal_append, wal_truncate_through, wal_close are
 * serialised by the caller); wal_sync from any thread.  Group commit: under
 * w->mu the appender publishes appended_op after each write; a syncer that
 * needs op > synced_op either waits for a sync already in flight (which may
 * cover it) or becomes the syncer: it notes target = appended_op, drops the
 * lock, fdatasync()s the current file, and publishes synced_op = target.
 * One fdatasync therefore covers every record appended before it started,
 * however many threads were waiting for them.
 *
 * Rolling to a new file first fdatasyncs the old one, then creates the new
 * file (header written and fsynced, directory fsynced), and only swaps the
 * descriptor once no sync is in flight.  So at most one file (the current
 * one) ever holds unsynced records, syncers never touch a closed descriptor,
 * and the recovery rule above ("only the last file can be torn") holds.  The
 * cost is one extra fdatasync per segment (every 32 MiB or so), paid by the
 * appender; the alternative, keeping old descriptors open until a
 * syncer gets to them, was rejected as more state for no real gain.
 *
 * A failed fdatasync or a failed repair after a failed write leaves the
 * state of the file unknown (after an fsync error Linux may have dropped the
 * dirty pages), so the log is then marked broken and every later append or
 * sync fails with QV_EIO; reopening it runs recovery from what is on disk.
 */
#include "storage/wal.h"

#include "core/crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define WAL_MAGIC       "QVWAL\0\0\0"
#define WAL_VERSION     1
#define WAL_HDR_SIZE    32
#define WAL_REC_HDR     16
#define WAL_NAME_DIGITS 20
#define WAL_NAME_SIZE   (WAL_NAME_DIGITS + sizeof ".wal") /* with the NUL */
#define WAL_READ_CHUNK  (64u * 1024)

struct wal {
    char *dir;           /* path, for messages */
    int dirfd;           /* the directory: openat, unlinkat, fsync, flock */
    size_t capacity;     /* roll once the current file reaches this size */
    uint64_t *seg_first; /* first op of each segment, ascending; last = current */
    size_t nseg, seg_cap;
    int fd;            /* the current segment, read-write */
    uint64_t cur_size; /* its length in bytes */
    uint64_t last_op;  /* last record appended (appender thread only) */

    /* Group commit state, all under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t appended_op; /* last record written to the file */
    uint64_t synced_op;   /* last record known durable */
    int syncing;          /* an fdatasync is in flight (on fd) */
    int broken;           /* errno of a failure that makes the log unusable */
};

/* ======================================================================
 * Little-endian codec and format helpers
 * ====================================================================== */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static size_t rec_pad(size_t len) {
    return (8 - (len & 7)) & 7;
}

static uint64_t rec_total(uint32_t len) {
    return WAL_REC_HDR + (uint64_t)len + rec_pad(len);
}

static void seg_name(char out[WAL_NAME_SIZE], uint64_t first_op) {
    snprintf(out, WAL_NAME_SIZE, "%020llu.wal", (unsigned long long)first_op);
}

/* Parses a segment file name; returns 0 (not ours) or its first op. */
static uint64_t seg_parse_name(const char *name) {
    if (strlen(name) != WAL_NAME_DIGITS + 4 || strcmp(name + WAL_NAME_DIGITS, ".wal") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < WAL_NAME_DIGITS; i++) {
        unsigned d = (unsigned)(name[i] - '0');
        if (d > 9) return 0;
        if (v > (UINT64_MAX - d) / 10) return 0; /* overflows: not a name we write */
        v = v * 10 + d;
    }
    return v;
}

static void hdr_encode(uint8_t h[WAL_HDR_SIZE], uint64_t first_op) {
    memcpy(h, WAL_MAGIC, 8);
    put_u32(h + 8, WAL_VERSION);
    put_u32(h + 12, WAL_HDR_SIZE);
    put_u64(h + 16, first_op);
    put_u32(h + 24, 0);
    put_u32(h + 28, qv_crc32c(0, h, 28));
}

/* Checks a header against the file's name; NULL if good, else writes why.
 * The version is checked before the checksum: a future version may lay the
 * header out differently, and "unsupported version" is the useful message. */
static const char *hdr_check(const uint8_t *h, uint64_t name_op, char *why, size_t n) {
    if (memcmp(h, WAL_MAGIC, 8) != 0) {
        snprintf(why, n, "bad magic number (not a Quiver WAL file)");
    } else if (get_u32(h + 8) != WAL_VERSION) {
        snprintf(why, n, "unsupported format version %u (this build reads version %u)",
                 get_u32(h + 8), WAL_VERSION);
    } else if (get_u32(h + 12) != WAL_HDR_SIZE) {
        snprintf(why, n, "bad header size %u (expected %u)", get_u32(h + 12), WAL_HDR_SIZE);
    } else if (get_u32(h + 28) != qv_crc32c(0, h, 28)) {
        snprintf(why, n, "header checksum mismatch");
    } else if (get_u64(h + 16) != name_op) {
        snprintf(why, n, "header says first op %llu but the file name says %llu",
                 (unsigned long long)get_u64(h + 16), (unsigned long long)name_op);
    } else {
        return NULL;
    }
    return why;
}

/* CRC of a record: its length and op fields, then body and padding (which
 * may be given separately, as on the write path, or together). */
static uint32_t rec_crc(const uint8_t hdr[WAL_REC_HDR], const void *body, size_t body_len,
                        const void *pad, size_t pad_len) {
    uint32_t c = qv_crc32c(0, hdr, 4);
    c = qv_crc32c(c, hdr + 8, 8);
    c = qv_crc32c(c, body, body_len);
    return qv_crc32c(c, pad, pad_len);
}

/* ======================================================================
 * Small I/O helpers (EINTR and short transfers handled here)
 * ====================================================================== */

static int pread_full(int fd, void *buf, size_t n, uint64_t off) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) { /* the file shrank under us */
            errno = EIO;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Writes all of iov at off, continuing after short writes (disk nearly
 * full, signals).  iov is consumed.  Empty entries must not be passed. */
static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off) {
    while (cnt > 0) {
        ssize_t r = pwritev(fd, iov, cnt, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            errno = ENOSPC;
            return -1;
        }
        off += (uint64_t)r;
        size_t done = (size_t)r;
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* ======================================================================
 * Segment reader: sequential, buffered record parsing shared by recovery,
 * replay and inspection.
 * ====================================================================== */

typedef struct seg_reader {
    int fd;
    uint64_t size; /* bytes of the file to consider */
    uint64_t pos;  /* offset of the next record */
    uint8_t *buf;  /* holds file bytes [buf_off, buf_off + buf_len) */
    uint64_t buf_off;
    size_t buf_len, buf_cap;
} seg_reader;

typedef enum rec_status {
    REC_OK,
    REC_EOF,    /* clean end: pos == size */
    REC_TORN,   /* cut short by the end of the file */
    REC_BADLEN, /* length above WAL_MAX_RECORD */
    REC_BADCRC,
    REC_BADOP, /* checksum good, number out of sequence */
    REC_IOERR, /* errno says why */
} rec_status;

/* A record as parsed; body points into the reader's buffer. */
typedef struct rec_view {
    uint64_t offset, op;
    uint32_t len;
    int crc_ok, complete;
    const uint8_t *body;
    size_t body_avail;
} rec_view;

static void rd_init(seg_reader *r, int fd, uint64_t size, uint64_t pos) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->size = size;
    r->pos = pos;
}

static void rd_free(seg_reader *r) {
    free(r->buf);
    r->buf = NULL;
}

/* Makes file bytes [pos, pos + n) available in the buffer (the caller has
 * checked they are inside r->size) and returns them, or NULL with errno. */
static const uint8_t *rd_need(seg_reader *r, size_t n) {
    if (r->pos >= r->buf_off && r->pos + n <= r->buf_off + r->buf_len)
        return r->buf + (r->pos - r->buf_off);
    /* Refill from pos: at least n bytes, usually a 64 KiB chunk. */
    size_t want = n > WAL_READ_CHUNK ? n : WAL_READ_CHUNK;
    if (want > r->size - r->pos) want = (size_t)(r->size - r->pos);
    if (want > r->buf_cap) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb) return NULL; /* errno = ENOMEM */
        r->buf = nb;
        r->buf_cap = want;
    }
    r->buf_off = r->pos;
    r->buf_len = 0;
    if (pread_full(r->fd, r->buf, want, r->pos) != 0) return NULL;
    r->buf_len = want;
    return r->buf;
}

/* Parses the record at r->pos, which must be numbered expect_op, and on
 * REC_OK advances past it.  *v is filled as far as the record could be read
 * (for the inspector). */
static rec_status rd_next(seg_reader *r, uint64_t expect_op, rec_view *v) {
    memset(v, 0, sizeof *v);
    v->offset = r->pos;
    uint64_t left = r->size - r->pos;
    if (left == 0) return REC_EOF;
    if (left < WAL_REC_HDR) return REC_TORN;
    const uint8_t *h = rd_need(r, WAL_REC_HDR);
    if (!h) return REC_IOERR;
    v->len = get_u32(h);
    v->op = get_u64(h + 8);
    if (v->len > WAL_MAX_RECORD) return REC_BADLEN;
    uint64_t total = rec_total(v->len);
    if (total > left) { /* torn: show what body there is */
        if (!(h = rd_need(r, (size_t)left))) return REC_IOERR;
        v->body = h + WAL_REC_HDR;
        v->body_avail = (size_t)(left - WAL_REC_HDR);
        if (v->body_avail > v->len) v->body_avail = v->len;
        return REC_TORN;
    }
    if (!(h = rd_need(r, (size_t)total))) return REC_IOERR;
    v->body = h + WAL_REC_HDR;
    v->body_avail = v->len;
    v->complete = 1;
    v->crc_ok = rec_crc(h, v->body, (size_t)(total - WAL_REC_HDR), NULL, 0) == get_u32(h + 4);
    if (!v->crc_ok) return REC_BADCRC;
    if (v->op != expect_op) return REC_BADOP;
    r->pos += total;
    return REC_OK;
}

static const char *rec_problem(rec_status st, const rec_view *v, uint64_t expect_op, char *buf,
                               size_t n) {
    switch (st) {
    case REC_TORN:
        snprintf(buf, n, "record cut short by the end of the file");
        break;
    case REC_BADLEN:
        snprintf(buf, n, "absurd record length %u (limit %u)", v->len, WAL_MAX_RECORD);
        break;
    case REC_BADCRC:
        snprintf(buf, n, "record checksum mismatch");
        break;
    case REC_BADOP:
        snprintf(buf, n, "record has op %llu, expected %llu", (unsigned long long)v->op,
                 (unsigned long long)expect_op);
        break;
    default:
        snprintf(buf, n, "read error: %s", strerror(errno));
        break;
    }
    return buf;
}

/* ======================================================================
 * Analysis: what is in the directory and what recovery must do.  Pure
 * reading; wal_open applies the plan, wal_scan_dir only reports it.
 * ====================================================================== */

typedef struct wal_plan {
    uint64_t *first; /* first op of each segment (from the names), sorted */
    size_t n;
    uint64_t last_op;   /* last good record of the whole log */
    uint64_t tail_size; /* size of the last file after recovery */
    int tail_recreate;  /* last file has a torn header: recreate it */
    int tail_cut;       /* last file must be truncated to tail_size */
    char action[256];   /* the repair, in words ("" when none) */
} wal_plan;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Lists the segment files of the directory open as dirfd, sorted. */
static qv_rc list_segments(int dirfd, const char *dir, wal_plan *p, qv_err *err) {
    size_t cap = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return qv_fail(err, QV_EIO, "cannot list WAL directory %s: %s", dir, strerror(errno));
    }
    rewinddir(d); /* the dup shares its position with dirfd */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t op = seg_parse_name(e->d_name);
        if (op == 0) continue;
        if (p->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint64_t *nf = realloc(p->first, ncap * sizeof *nf);
            if (!nf) {
                closedir(d);
                return qv_fail(err, QV_ENOMEM, "out of memory listing WAL directory %s", dir);
            }
            p->first = nf;
            cap = ncap;
        }
        p->first[p->n++] = op;
    }
    closedir(d);
    if (p->n > 1) qsort(p->first, p->n, sizeof *p->first, cmp_u64);
    return QV_OK;
}

/* Shared state of one analysis pass. */
typedef struct scan_ctx {
    int dirfd;
    const char *dir;
    wal_scan_cb cb;
    void *cb_ctx;
    wal_plan *plan;
    qv_err *err;
} scan_ctx;

static void emit(scan_ctx *s, const wal_scan_item *it) {
    if (s->cb) s->cb(s->cb_ctx, it);
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Reads and checks the header of segment i (fd open, size known).  Returns
 * QV_OK with *torn set when the last file's header never reached the disk. */
static qv_rc scan_header(scan_ctx *s, size_t i, const char *name, int fd, uint64_t size,
                         int *torn) {
    wal_plan *p = s->plan;
    int last = i + 1 == p->n;
    uint8_t h[WAL_HDR_SIZE] = {0};
    char why[160];
    wal_scan_item it = {.kind = WAL_SCAN_FILE, .file = name, .file_size = size};
    if (size >= WAL_HDR_SIZE && pread_full(fd, h, WAL_HDR_SIZE, 0) != 0)
        return qv_fail(s->err, QV_EIO, "cannot read WAL file %s/%s: %s", s->dir, name,
                       strerror(errno));
    it.version = get_u32(h + 8);
    it.header_size = get_u32(h + 12);
    it.first_op = get_u64(h + 16);
    *torn = size < WAL_HDR_SIZE || (size == WAL_HDR_SIZE && all_zero(h, WAL_HDR_SIZE));
    if (*torn) {
        snprintf(why, sizeof why, "%s (%llu bytes, no complete header)",
                 last ? "torn file header" : "truncated file", (unsigned long long)size);
        it.problem = why;
        emit(s, &it);
        if (!last)
            return qv_fail(s->err, QV_ECORRUPT, "WAL file %s/%s is corrupt at offset 0: %s", s->dir,
                           name, why);
        return QV_OK;
    }
    it.problem = hdr_check(h, p->first[i], why, sizeof why);
    it.ok = it.problem == NULL;
    emit(s, &it);
    if (!it.ok)
        return qv_fail(s->err, QV_ECORRUPT, "WAL file %s/%s is corrupt at offset 0: %s", s->dir,
                       name, why);
    return QV_OK;
}

/* Reads the records of segment i from offset 32, numbered from first_op.
 * In the last file the first bad record becomes the plan's cut point. */
static qv_rc scan_records(scan_ctx *s, size_t i, const char *name, int fd, uint64_t size) {
    wal_plan *p = s->plan;
    int last = i + 1 == p->n;
    uint64_t expect = p->first[i];
    seg_reader r;
    rec_view v;
    rec_status st;
    char why[160];
    qv_rc rc = QV_OK;
    rd_init(&r, fd, size, WAL_HDR_SIZE);
    while ((st = rd_next(&r, expect, &v)) == REC_OK) {
        wal_scan_item it = {.kind = WAL_SCAN_RECORD,
                            .file = name,
                            .offset = v.offset,
                            .ok = 1,
                            .op = v.op,
                            .len = v.len,
                            .crc_ok = 1,
                            .complete = 1,
                            .body = v.body,
                            .body_avail = v.body_avail};
        emit(s, &it);
        expect++;
    }
    if (st == REC_IOERR) {
        rc = qv_fail(s->err, errno == ENOMEM ? QV_ENOMEM : QV_EIO, "cannot read WAL file %s/%s: %s",
                     s->dir, name, strerror(errno));
        goto done;
    }
    p->last_op = expect - 1;
    p->tail_size = r.pos;
    if (st == REC_EOF) goto done;
    wal_scan_item it = {.kind = WAL_SCAN_RECORD,
                        .file = name,
                        .offset = v.offset,
                        .op = v.op,
                        .len = v.len,
                        .crc_ok = v.crc_ok,
                        .complete = v.complete,
                        .body = v.body,
                        .body_avail = v.body_avail};
    it.problem = rec_problem(st, &v, expect, why, sizeof why);
    emit(s, &it);
    if (!last) {
        rc = qv_fail(s->err, QV_ECORRUPT, "WAL file %s/%s is corrupt at offset %llu: %s", s->dir,
                     name, (unsigned long long)v.offset, why);
        goto done;
    }
    p->tail_cut = 1;
    snprintf(p->action, sizeof p->action, "truncate %s at offset %llu (%s), dropping %llu bytes",
             name, (unsigned long long)v.offset, why, (unsigned long long)(size - v.offset));
done:
    rd_free(&r);
    return rc;
}

/* Checks segment i: header, continuity with the previous file, records. */
static qv_rc scan_segment(scan_ctx *s, size_t i) {
    wal_plan *p = s->plan;
    char name[WAL_NAME_SIZE];
    struct stat st;
    int torn = 0;
    qv_rc rc;
    seg_name(name, p->first[i]);
    if (i > 0 && p->first[i] != p->last_op + 1)
        return qv_fail(s->err, QV_ECORRUPT,
                       "WAL files are not contiguous: %s/%s should start at op %llu", s->dir, name,
                       (unsigned long long)(p->last_op + 1));
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = qv_fail(s->err, QV_EIO, "cannot open WAL file %s/%s: %s", s->dir, name,
                     strerror(errno));
        goto done;
    }
    if ((rc = scan_header(s, i, name, fd, (uint64_t)st.st_size, &torn)) != QV_OK) goto done;
    if (torn) { /* last file, per scan_header: recreate it empty */
        p->tail_recreate = 1;
        p->last_op = p->first[i] - 1;
        p->tail_size = WAL_HDR_SIZE;
        snprintf(p->action, sizeof p->action, "recreate %s (torn header, %llu bytes)", name,
                 (unsigned long long)st.st_size);
        goto done;
    }
    rc = scan_records(s, i, name, fd, (uint64_t)st.st_size);
done:
    if (fd >= 0) close(fd);
    return rc;
}

static void plan_free(wal_plan *p) {
    free(p->first);
    p->first = NULL;
}

/* Runs the whole analysis of the directory open as dirfd. */
static qv_rc wal_analyze(int dirfd, const char *dir, wal_scan_cb cb, void *ctx, wal_plan *p,
                         qv_err *err) {
    scan_ctx s = {dirfd, dir, cb, ctx, p, err};
    memset(p, 0, sizeof *p);
    qv_rc rc = list_segments(dirfd, dir, p, err);
    if (rc != QV_OK) return rc;
    if (p->n == 0) {
        snprintf(p->action, sizeof p->action, "create a new log starting at op 1");
        return QV_OK;
    }
    for (size_t i = 0; i < p->n && rc == QV_OK; i++) rc = scan_segment(&s, i);
    return rc;
}

/* ======================================================================
 * Opening, recovery, closing
 * ====================================================================== */

static qv_rc sync_dir(wal *w, qv_err *err) {
    if (fsync(w->dirfd) != 0)
        return qv_fail(err, QV_EIO, "fsync of WAL directory %s failed: %s", w->dir,
                       strerror(errno));
    return QV_OK;
}

/* Creates segment first_op with its header, durable (file and directory
 * fsynced) before it is used.  On failure nothing is left behind.  With
 * replace, an existing (torn) file of that name is rewritten in place
 * instead: never removing it first means no crash can leave the directory
 * without the file that carries the log's numbering. */
static qv_rc create_segment(wal *w, uint64_t first_op, int replace, int *out, qv_err *err) {
    char name[WAL_NAME_SIZE];
    uint8_t h[WAL_HDR_SIZE];
    struct iovec iov = {h, sizeof h};
    seg_name(name, first_op);
    hdr_encode(h, first_op);
    int fd =
        openat(w->dirfd, name, O_RDWR | O_CREAT | (replace ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0644);
    if (fd < 0)
        return qv_fail(err, QV_EIO, "cannot create WAL file %s/%s: %s", w->dir, name,
                       strerror(errno));
    qv_rc rc;
    if (pwritev_full(fd, &iov, 1, 0) != 0 || fsync(fd) != 0) {
        rc = qv_fail(err, QV_EIO, "cannot write WAL file %s/%s: %s", w->dir, name, strerror(errno));
        goto fail;
    }
    if ((rc = sync_dir(w, err)) != QV_OK) goto fail;
    *out = fd;
    return QV_OK;
fail:
    close(fd);
    if (!replace) unlinkat(w->dirfd, name, 0); /* a replaced one stays torn */
    return rc;
}

/* Applies the repair the analysis asked for to the last file and opens it
 * for appending. */
static qv_rc open_tail(wal *w, const wal_plan *p, qv_err *err) {
    char name[WAL_NAME_SIZE];
    uint64_t first = w->seg_first[w->nseg - 1];
    seg_name(name, first);
    if (p->tail_recreate) return create_segment(w, first, 1, &w->fd, err);
    w->fd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC);
    if (w->fd < 0)
        return qv_fail(err, QV_EIO, "cannot open WAL file %s/%s: %s", w->dir, name,
                       strerror(errno));
    if (p->tail_cut && ftruncate(w->fd, (off_t)p->tail_size) != 0)
        return qv_fail(err, QV_EIO, "cannot truncate WAL file %s/%s: %s", w->dir, name,
                       strerror(errno));
    /* Whatever we found may still be only in the page cache (a clean exit
     * without sync); make it durable so that synced_op = last_op is true. */
    if (fdatasync(w->fd) != 0)
        return qv_fail(err, QV_EIO, "fdatasync of WAL file %s/%s failed: %s", w->dir, name,
                       strerror(errno));
    return QV_OK;
}

/* Opens (creating it if needed) the directory and locks it against a second
 * opener: two processes appending to one log would interleave records. */
static qv_rc open_dir(wal *w, qv_err *err) {
    if (mkdir(w->dir, 0755) != 0 && errno != EEXIST)
        return qv_fail(err, QV_EIO, "cannot create WAL directory %s: %s", w->dir, strerror(errno));
    w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0)
        return qv_fail(err, QV_EIO, "cannot open WAL directory %s: %s", w->dir, strerror(errno));
    if (flock(w->dirfd, LOCK_EX | LOCK_NB) != 0)
        return qv_fail(err, errno == EWOULDBLOCK ? QV_EUNAVAILABLE : QV_EIO,
                       "WAL directory %s is in use (%s)", w->dir, strerror(errno));
    return QV_OK;
}

/* Turns the analysis into the in-memory state and repairs the tail. */
static qv_rc recover(wal *w, wal_plan *p, qv_err *err) {
    int fresh = p->n == 0;
    if (fresh) { /* an empty directory: a new log starting at op 1 */
        p->first = malloc(sizeof *p->first);
        if (!p->first) return qv_fail(err, QV_ENOMEM, "out of memory opening WAL %s", w->dir);
        p->first[0] = 1;
        p->n = 1;
        p->last_op = 0;
        p->tail_size = WAL_HDR_SIZE;
    }
    w->seg_first = p->first;
    w->nseg = w->seg_cap = p->n;
    p->first = NULL; /* now owned by w */
    w->last_op = w->appended_op = w->synced_op = p->last_op;
    w->cur_size = p->tail_size;
    return fresh ? create_segment(w, 1, 0, &w->fd, err) : open_tail(w, p, err);
}

qv_rc wal_open(const char *dir, size_t segment_capacity, wal **out, qv_err *err) {
    wal_plan plan = {0};
    qv_rc rc;
    wal *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return qv_fail(err, QV_ENOMEM, "out of memory opening WAL %s", dir);
    }
    w->dirfd = w->fd = -1;
    w->capacity = segment_capacity;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if ((rc = open_dir(w, err)) != QV_OK) goto fail;
    if ((rc = wal_analyze(w->dirfd, dir, NULL, NULL, &plan, err)) != QV_OK) goto fail;
    if ((rc = recover(w, &plan, err)) != QV_OK) goto fail;
    *out = w;
    return QV_OK;
fail:
    plan_free(&plan);
    w->broken = EIO; /* keep wal_close from syncing a half-open log */
    wal_close(w);
    return rc;
}

void wal_close(wal *w) {
    if (!w) return;
    if (w->fd >= 0) {
        if (!w->broken) fdatasync(w->fd); /* best effort: nobody to tell */
        close(w->fd);
    }
    if (w->dirfd >= 0) close(w->dirfd); /* also releases the flock */
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->seg_first);
    free(w->dir);
    free(w);
}

uint64_t wal_last_op(const wal *w) {
    return w->last_op;
}

uint64_t wal_first_op(const wal *w) {
    return w->seg_first[0];
}

/* ======================================================================
 * Appending and rolling
 * ====================================================================== */

static qv_rc broken_err(wal *w, qv_err *err) {
    return qv_fail(err, QV_EIO, "WAL %s is unusable after an earlier I/O failure (%s)", w->dir,
                   strerror(w->broken));
}

static void mark_broken(wal *w, int e) {
    pthread_mutex_lock(&w->mu);
    if (!w->broken) w->broken = e ? e : EIO;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int is_broken(wal *w) {
    pthread_mutex_lock(&w->mu);
    int b = w->broken;
    pthread_mutex_unlock(&w->mu);
    return b;
}

/* Starts a new segment at last_op + 1 (see THREADING above for the order
 * of operations and why the old file is synced here). */
static qv_rc wal_roll(wal *w, qv_err *err) {
    int nfd;
    if (w->last_op == UINT64_MAX)
        return qv_fail(err, QV_EINTERNAL, "WAL %s has run out of operation numbers", w->dir);
    if (w->nseg == w->seg_cap) {
        size_t ncap = w->seg_cap * 2;
        uint64_t *nf = realloc(w->seg_first, ncap * sizeof *nf);
        if (!nf) return qv_fail(err, QV_ENOMEM, "out of memory rolling WAL %s", w->dir);
        w->seg_first = nf;
        w->seg_cap = ncap;
    }
    if (fdatasync(w->fd) != 0) {
        int e = errno;
        mark_broken(w, e);
        return qv_fail(err, QV_EIO, "fdatasync of WAL %s failed: %s", w->dir, strerror(e));
    }
    qv_rc rc = create_segment(w, w->last_op + 1, 0, &nfd, err);
    if (rc != QV_OK) return rc;
    pthread_mutex_lock(&w->mu);
    while (w->syncing) pthread_cond_wait(&w->cv, &w->mu);
    int old = w->fd;
    w->fd = nfd;
    if (w->synced_op < w->last_op) w->synced_op = w->last_op;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    close(old);
    w->seg_first[w->nseg++] = w->last_op + 1;
    w->cur_size = WAL_HDR_SIZE;
    return QV_OK;
}

/* Undoes a partly written record.  If even that fails the file may end in
 * garbage that a later append would bury mid-log: stop using the log. */
static qv_rc append_failed(wal *w, int e, qv_err *err) {
    if (ftruncate(w->fd, (off_t)w->cur_size) != 0) mark_broken(w, errno);
    return qv_fail(err, QV_EIO, "write to WAL %s failed: %s", w->dir, strerror(e));
}

qv_rc wal_append(wal *w, const void *body, size_t len, uint64_t *op, qv_err *err) {
    static const uint8_t zeros[8];
    uint8_t h[WAL_REC_HDR];
    struct iovec iov[3];
    int n = 0;
    if (is_broken(w)) return broken_err(w, err);
    if (len > WAL_MAX_RECORD)
        return qv_fail(err, QV_ETOOLARGE, "WAL record of %zu bytes exceeds the limit of %u", len,
                       WAL_MAX_RECORD);
    if (!body && len) return qv_fail(err, QV_EBADINPUT, "WAL record body is NULL");
    if (w->last_op == UINT64_MAX) /* only a forged file name can get here */
        return qv_fail(err, QV_EINTERNAL, "WAL %s has run out of operation numbers", w->dir);
    /* Roll only a file that holds records, so every record fits somewhere
     * even when it is larger than the capacity. */
    if (w->cur_size >= w->capacity && w->cur_size > WAL_HDR_SIZE) {
        qv_rc rc = wal_roll(w, err);
        if (rc != QV_OK) return rc;
    }
    uint64_t num = w->last_op + 1;
    size_t pad = rec_pad(len);
    put_u32(h, (uint32_t)len);
    put_u64(h + 8, num);
    put_u32(h + 4, rec_crc(h, body, len, zeros, pad));
    iov[n++] = (struct iovec){h, sizeof h};
    if (len) iov[n++] = (struct iovec){(void *)body, len};
    if (pad) iov[n++] = (struct iovec){(void *)zeros, pad};
    if (pwritev_full(w->fd, iov, n, w->cur_size) != 0) return append_failed(w, errno, err);
    w->cur_size += rec_total((uint32_t)len);
    w->last_op = num;
    pthread_mutex_lock(&w->mu);
    w->appended_op = num;
    pthread_mutex_unlock(&w->mu);
    if (op) *op = num;
    return QV_OK;
}

/* ======================================================================
 * Group commit
 * ====================================================================== */

qv_rc wal_sync(wal *w, uint64_t op, qv_err *err) {
    qv_rc rc = QV_OK;
    pthread_mutex_lock(&w->mu);
    if (op > w->appended_op) {
        rc = qv_fail(err, QV_EBADINPUT, "cannot sync WAL %s through op %llu: last op is %llu",
                     w->dir, (unsigned long long)op, (unsigned long long)w->appended_op);
        goto out;
    }
    for (;;) {
        if (w->broken) {
            int e = w->broken;
            rc = qv_fail(err, QV_EIO, "WAL %s is unusable after an I/O failure (%s)", w->dir,
                         strerror(e));
            goto out;
        }
        if (w->synced_op >= op) goto out;
        if (w->syncing) { /* a sync in flight may cover us: wait, re-check */
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        /* Become the syncer for everything appended so far. */
        uint64_t target = w->appended_op;
        int fd = w->fd; /* the roll waits for syncing == 0 before closing it */
        w->syncing = 1;
        pthread_mutex_unlock(&w->mu);
        int r = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&w->mu);
        w->syncing = 0;
        if (r == 0 && w->synced_op < target) w->synced_op = target;
        if (r != 0 && !w->broken) w->broken = e ? e : EIO;
        pthread_cond_broadcast(&w->cv);
    }
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* ======================================================================
 * Replay
 * ====================================================================== */

/* Replays the records of segment i with number > after_op. */
static qv_rc replay_segment(wal *w, size_t i, uint64_t after_op, wal_replay_cb cb, void *ctx,
                            qv_err *err) {
    char name[WAL_NAME_SIZE], why[160];
    uint64_t expect = w->seg_first[i];
    int last = i + 1 == w->nseg;
    struct stat st;
    seg_reader r;
    rec_view v;
    rec_status s;
    qv_rc rc = QV_OK;
    seg_name(name, expect);
    rd_init(&r, -1, 0, WAL_HDR_SIZE);
    r.fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0 || fstat(r.fd, &st) != 0) {
        rc = qv_fail(err, QV_EIO, "cannot open WAL file %s/%s: %s", w->dir, name, strerror(errno));
        goto done;
    }
    /* The current file's length is ours to know; an older one's is fixed. */
    r.size = last ? w->cur_size : (uint64_t)st.st_size;
    while ((s = rd_next(&r, expect, &v)) == REC_OK) {
        if (v.op > after_op && (rc = cb(ctx, v.op, v.body, v.len, err)) != QV_OK) goto done;
        expect++;
    }
    if (s != REC_EOF) /* verified at open, so this is damage since */
        rc = qv_fail(err, s == REC_IOERR ? QV_EIO : QV_ECORRUPT,
                     "WAL file %s/%s is corrupt at offset %llu: %s", w->dir, name,
                     (unsigned long long)v.offset, rec_problem(s, &v, expect, why, sizeof why));
done:
    if (r.fd >= 0) close(r.fd);
    rd_free(&r);
    return rc;
}

qv_rc wal_replay(wal *w, uint64_t after_op, wal_replay_cb cb, void *ctx, qv_err *err) {
    for (size_t i = 0; i < w->nseg; i++) {
        uint64_t seg_last = i + 1 < w->nseg ? w->seg_first[i + 1] - 1 : w->last_op;
        if (seg_last <= after_op) continue; /* nothing wanted in this file */
        qv_rc rc = replay_segment(w, i, after_op, cb, ctx, err);
        if (rc != QV_OK) return rc;
    }
    return QV_OK;
}

/* ======================================================================
 * Truncation after a checkpoint
 * ====================================================================== */

qv_rc wal_truncate_through(wal *w, uint64_t op, qv_err *err) {
    char name[WAL_NAME_SIZE];
    size_t k = 0;
    qv_rc rc = QV_OK;
    if (op > w->last_op)
        return qv_fail(err, QV_EBADINPUT, "cannot truncate WAL %s through op %llu: last op is %llu",
                       w->dir, (unsigned long long)op, (unsigned long long)w->last_op);
    if (is_broken(w)) return broken_err(w, err);
    /* The current file is wholly covered: start a fresh one so that it can
     * go too, and so that the numbering survives with no records left. */
    if (op == w->last_op && w->cur_size > WAL_HDR_SIZE && (rc = wal_roll(w, err)) != QV_OK)
        return rc;
    /* Oldest first: a crash midway leaves a contiguous log. */
    while (k + 1 < w->nseg && w->seg_first[k + 1] - 1 <= op) {
        seg_name(name, w->seg_first[k]);
        if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT) {
            rc = qv_fail(err, QV_EIO, "cannot remove WAL file %s/%s: %s", w->dir, name,
                         strerror(errno));
            break;
        }
        k++;
    }
    if (k == 0) return rc;
    memmove(w->seg_first, w->seg_first + k, (w->nseg - k) * sizeof *w->seg_first);
    w->nseg -= k;
    qv_rc rc2 = sync_dir(w, err);
    return rc != QV_OK ? rc : rc2;
}

/* ======================================================================
 * Inspection
 * ====================================================================== */

qv_rc wal_scan_dir(const char *dir, wal_scan_cb cb, void *ctx, wal_scan_verdict *verdict,
                   qv_err *err) {
    wal_plan p;
    memset(verdict, 0, sizeof *verdict);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return qv_fail(err, errno == ENOENT ? QV_ENOTFOUND : QV_EIO,
                       "cannot open WAL directory %s: %s", dir, strerror(errno));
    qv_rc rc = wal_analyze(dirfd, dir, cb, ctx, &p, err);
    close(dirfd);
    verdict->files = p.n;
    if (rc == QV_OK) {
        verdict->first_op = p.n ? p.first[0] : 1;
        verdict->last_op = p.last_op;
        verdict->clean = p.action[0] == '\0';
        snprintf(verdict->action, sizeof verdict->action, "%s", verdict->clean ? "none" : p.action);
    }
    plan_free(&p);
    return rc;
}
