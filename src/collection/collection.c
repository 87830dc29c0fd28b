/*
 * collection.c - a collection's lifecycle, its update pipeline and its
 * checkpoints (the concurrency model is in collection_impl.h).
 *
 * Directory layout of a collection:
 *   config.qvc                 the configuration: header + JSON (see below)
 *   wal/                       the write-ahead log (storage/wal.c)
 *   checkpoints/CURRENT        names the live checkpoint (see below)
 *   checkpoints/cp-<op>/       a checkpoint: the appendable segment
 *                              (storage/segment.c) at its top, indexes.qvi
 *                              (the declared field indexes), segments.qvm
 *                              (the other segments, below) and per segment
 *                              frozen-<uid>/ (saved whole) or dead-<uid>.dat
 *                              (the deletions of a persisted segment)
 *   segments/seg-<uid>/        a persisted immutable segment with its HNSW
 *                              graphs, written once by an optimizer
 *                              (optimizer.c)
 *
 * segments.qvm (envelope "QVSEGLST") lists the segments besides the
 * appendable one, in order: u32 count, then per segment u64 uid and u8 kind
 * (1 = persisted, 2 = frozen and saved whole).  A checkpoint without it
 * (written before segments existed) holds only the appendable segment.
 *
 * config.qvc and CURRENT share one small envelope:
 *   0  8  magic ("QVCOLCFG" or "QVCURRNT")
 *   8  4  format version (1)
 *   12 4  body length
 *   16 4  CRC-32C of the body
 *   20 .. body (config: JSON text; CURRENT: u64 op + the directory name)
 * Both are replaced by write-to-temp, fsync, rename, fsync(dir).
 *
 * Recovery: load the checkpoint CURRENT names (if any), then replay every
 * WAL record after its operation number.  A checkpoint is made by writing
 * cp-<op>.tmp, renaming it to cp-<op>, pointing CURRENT at it, and only
 * then deleting older checkpoints and truncating the WAL through <op>; a
 * crash at any step leaves either the old or the new checkpoint complete,
 * and the WAL still holds everything after it.  Segment directories the
 * live checkpoint does not name (an optimization cut short, a segment
 * swapped out) are removed when the collection opens.
 */
#include "collection/collection_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collection/payload_edit.h"
#include "core/buf.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "index/filter.h"
#include "index/hnsw.h"
#include "index/qcodes.h"

#define ENVELOPE_VERSION 1
#define CONFIG_MAGIC     "QVCOLCFG"
#define CURRENT_MAGIC    "QVCURRNT"
#define SEGLIST_MAGIC    "QVSEGLST"
#define SEG_PERSISTED    1
#define SEG_FROZEN       2

/* ---- small file helpers --------------------------------------------------- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

void qv_temp_sibling(const char *path, const char *what, char *out, size_t n) {
    static atomic_uint counter;
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    snprintf(out, n, "%.*s%s" QV_TEMP_PREFIX "%s:%d:%u", dirlen, path, slash ? "/" : "", what,
             (int)getpid(), atomic_fetch_add(&counter, 1));
}

void qv_rmtree(const char *path) {
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int qv_fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static qv_rc write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return QV_EIO;
        b += k;
        n -= (size_t)k;
    }
    return QV_OK;
}

/* Atomically replaces dir/name with an envelope holding body. */
qv_rc qv_envelope_write(const char *dir, const char *name, const char *magic, const void *body,
                        size_t len, qv_err *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint8_t hdr[20];
    memcpy(hdr, magic, 8);
    qv_store_u32le(hdr + 8, ENVELOPE_VERSION);
    qv_store_u32le(hdr + 12, (uint32_t)len);
    qv_store_u32le(hdr + 16, qv_crc32c(0, body, len));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return qv_fail(err, QV_EIO, "cannot create %s: %s", tmp, strerror(errno));
    qv_rc rc = write_all(fd, hdr, sizeof hdr);
    if (!rc) rc = write_all(fd, body, len);
    if (!rc && fsync(fd) != 0) rc = QV_EIO;
    close(fd);
    if (!rc && rename(tmp, path) != 0) rc = QV_EIO;
    if (!rc && qv_fsync_dir(dir) != 0) rc = QV_EIO;
    if (rc) return qv_fail(err, QV_EIO, "cannot write %s: %s", path, strerror(errno));
    return QV_OK;
}

/* Reads an envelope; *body is malloc'd (NUL-terminated for convenience). */
qv_rc qv_envelope_read(const char *path, const char *magic, char **body, size_t *len, qv_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return qv_fail(err, QV_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
    uint8_t hdr[20];
    char *b = NULL;
    qv_rc rc = QV_OK;
    if (fread(hdr, 1, 20, f) != 20 || memcmp(hdr, magic, 8) != 0 ||
        qv_load_u32le(hdr + 8) != ENVELOPE_VERSION) {
        rc = qv_fail(err, QV_ECORRUPT, "%s: bad magic or unsupported version", path);
        goto done;
    }
    uint32_t n = qv_load_u32le(hdr + 12);
    b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, n, f) != n || qv_crc32c(0, b, n) != qv_load_u32le(hdr + 16) ||
        fgetc(f) != EOF) {
        rc = qv_fail(err, QV_ECORRUPT, "%s: truncated or fails its checksum", path);
        goto done;
    }
    b[n] = '\0';
    *body = b;
    *len = n;
    b = NULL;
done:
    free(b);
    fclose(f);
    return rc;
}

/* ---- configuration file --------------------------------------------------- */

static qv_rc config_save(const char *dir, const qv_collection_config *cfg, qv_err *err) {
    jw w;
    jw_init(&w);
    qv_collection_config_write_json(&w, cfg);
    if (w.oom) {
        jw_free(&w);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    qv_rc rc = qv_envelope_write(dir, "config.qvc", CONFIG_MAGIC, w.buf, w.len, err);
    jw_free(&w);
    return rc;
}

static qv_rc config_load(const char *dir, qv_collection_config *cfg, qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.qvc", dir);
    char *body;
    size_t len;
    qv_rc rc = qv_envelope_read(path, CONFIG_MAGIC, &body, &len, err);
    if (rc) return rc;
    qv_arena a;
    qv_arena_init(&a);
    jv j;
    rc = jv_parse(&a, body, len, &j, err);
    if (rc == QV_OK)
        rc = qv_collection_config_read_json(&j, cfg, err);
    else
        rc = qv_fail(err, QV_ECORRUPT, "%s: %s", path, err ? err->msg : "bad JSON");
    qv_arena_free(&a);
    free(body);
    return rc;
}

/* ---- construction ---------------------------------------------------------- */

void qv_shard_dims(const qv_collection_config *cfg, uint32_t *dims) {
    for (uint32_t i = 0; i < cfg->nvectors; i++) dims[i] = cfg->vectors[i].size;
}

qv_segment *qv_shard_new_segment(const qv_collection_config *cfg) {
    uint32_t dims[QV_MAX_NAMED_VECTORS];
    qv_elem elems[QV_MAX_NAMED_VECTORS];
    qv_shard_dims(cfg, dims);
    for (uint32_t i = 0; i < cfg->nvectors; i++) {
        const qv_vector_params *vp = &cfg->vectors[i];
        elems[i] = QV_ELEM_F32;
        if (vp->datatype == QV_DT_FLOAT16) elems[i] = QV_ELEM_F16;
        if (vp->datatype == QV_DT_UINT8 && vp->distance != QV_DIST_COSINE) elems[i] = QV_ELEM_U8;
    }
    return qv_segment_new(cfg->nvectors, dims, elems);
}

static qv_collection *collection_alloc(const char *dir, const char *name) {
    qv_collection *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->name = strdup(name);
    c->dir = strdup(dir);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&c->cp_mutex, NULL);
    pthread_mutex_init(&c->order_mu, NULL);
    qv_strict_limiter_init(&c->limiter, &c->cfg.strict); /* off until the config is read */
    atomic_init(&c->refs, 1);
    atomic_init(&c->dropped, false);
    atomic_init(&c->wal_bytes, 0);
    if (!c->name || !c->dir) {
        free(c->name);
        free(c->dir);
        free(c);
        return NULL;
    }
    return c;
}

void qv_shard_seg_free(qv_shard_seg *s, uint32_t nvec) {
    for (uint32_t vi = 0; s->hnsw && vi < nvec; vi++) qv_hnsw_free(s->hnsw[vi]);
    free(s->hnsw);
    for (uint32_t vi = 0; s->qcodes && vi < nvec; vi++) qv_qcodes_free(s->qcodes[vi]);
    free(s->qcodes);
    qv_segment_free(s->seg);
    memset(s, 0, sizeof *s);
}

static void free_segments(qv_collection *c) {
    for (uint32_t i = 0; i < c->nsegs; i++) qv_shard_seg_free(&c->segs[i], c->cfg.nvectors);
    free(c->segs);
    c->segs = NULL;
    c->nsegs = 0;
    c->seg = NULL;
    free(c->retired);
    c->retired = NULL;
    c->nretired = 0;
}

bool qv_shard_find(const qv_collection *c, const qv_pointid *id, uint32_t *si, uint32_t *off) {
    for (uint32_t i = 0; i < c->nsegs; i++)
        if (qv_segment_find(c->segs[i].seg, id, off)) {
            *si = i;
            return true;
        }
    return false;
}

uint64_t qv_shard_live(const qv_collection *c) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->nsegs; i++) n += qv_segment_live_count(c->segs[i].seg);
    return n;
}

static void collection_free(qv_collection *c) {
    wal_close(c->wal);
    free_segments(c);
    qv_optim_state_free(c->optim);
    qv_index_set_free(&c->indexes);
    qv_collection_config_free(&c->cfg);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->cp_mutex);
    pthread_mutex_destroy(&c->order_mu);
    qv_strict_limiter_destroy(&c->limiter);
    free(c->name);
    free(c->dir);
    free(c);
}

static qv_rc apply_op(qv_collection *c, const qv_update_op *op, uint64_t opnum, qv_err *err);

typedef struct replay_ctx {
    qv_collection *c;
    uint64_t count;
} replay_ctx;

static qv_rc replay_one(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err) {
    replay_ctx *r = ctx;
    qv_arena a;
    qv_arena_init(&a);
    qv_update_op u;
    qv_rc rc = qv_op_decode(&a, body, len, &u, err);
    if (rc == QV_OK) rc = apply_op(r->c, &u, op, err);
    qv_arena_free(&a);
    if (rc) return qv_fail(err, rc, "replaying WAL operation %" PRIu64 ": %s", op, err->msg);
    r->c->applied_op = op;
    r->count++;
    return QV_OK;
}

/* Adds a segment entry (ownership of its members taken). */
static qv_rc add_segment(qv_collection *c, const qv_shard_seg *e, qv_err *err) {
    qv_shard_seg *n = realloc(c->segs, sizeof *n * (c->nsegs + 1));
    if (!n) return qv_fail(err, QV_ENOMEM, "out of memory");
    c->segs = n;
    c->segs[c->nsegs++] = *e;
    c->seg = c->segs[0].seg;
    if (e->uid >= c->next_uid) c->next_uid = e->uid + 1;
    return QV_OK;
}

/* Loads the segments segments.qvm of checkpoint cpdir lists (none if the
 * file is absent: a checkpoint of the single-segment format). */
static qv_rc load_seglist(qv_collection *c, const char *cpdir, const uint32_t *dims, qv_err *err) {
    char path[4400];
    snprintf(path, sizeof path, "%s/segments.qvm", cpdir);
    char *body;
    size_t len;
    qv_err e2;
    qv_rc rc = qv_envelope_read(path, SEGLIST_MAGIC, &body, &len, &e2);
    if (rc == QV_ENOTFOUND) {
        /* the single-segment format, which never had segment directories:
         * a finished one beside it means the list was lost, not absent */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/segments", c->dir);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (strncmp(e->d_name, "seg-", 4) == 0 &&
                (n < 4 || strcmp(e->d_name + n - 4, ".tmp"))) {
                qv_fail(err, QV_ECORRUPT, "%s is missing but %s/%s exists", path, dir, e->d_name);
                closedir(d); /* (e points into d) */
                return QV_ECORRUPT;
            }
        }
        if (d) closedir(d);
        return QV_OK;
    }
    if (rc) return qv_fail(err, rc, "%s", e2.msg);
    const uint8_t *b = (const uint8_t *)body;
    uint32_t n = len >= 4 ? qv_load_u32le(b) : 0;
    if (len < 4 || len != 4 + (size_t)n * 9) {
        free(body);
        return qv_fail(err, QV_ECORRUPT, "%s: malformed segment list", path);
    }
    for (uint32_t i = 0; rc == QV_OK && i < n; i++) {
        uint64_t uid = qv_load_u64le(b + 4 + i * 9);
        uint8_t kind = b[4 + i * 9 + 8];
        qv_shard_seg e = {.uid = uid};
        if (kind == SEG_PERSISTED) {
            rc = qv_segdir_load(c, uid, &e, err);
            snprintf(path, sizeof path, "%s/dead-%020" PRIu64 ".dat", cpdir, uid);
            if (!rc) rc = qv_segment_load_dead(e.seg, path, err);
        } else if (kind == SEG_FROZEN) {
            uint64_t op;
            snprintf(path, sizeof path, "%s/frozen-%020" PRIu64, cpdir, uid);
            rc = qv_segment_load(path, c->cfg.nvectors, dims, &e.seg, &op, err);
        } else {
            rc = qv_fail(err, QV_ECORRUPT, "%s: unknown segment kind %u", cpdir, kind);
        }
        if (!rc) rc = add_segment(c, &e, err);
        if (rc) qv_shard_seg_free(&e, c->cfg.nvectors);
    }
    free(body);
    return rc;
}

/* Reads CURRENT and loads the checkpoint it names; none yet is fine. */
static qv_rc load_checkpoint(qv_collection *c, const uint32_t *dims, qv_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoints/CURRENT", c->dir);
    char *body;
    size_t len;
    qv_err e2;
    qv_rc rc = qv_envelope_read(path, CURRENT_MAGIC, &body, &len, &e2);
    qv_shard_seg app = {0};
    if (rc == QV_ENOTFOUND) {
        app.seg = qv_shard_new_segment(&c->cfg);
        if (!app.seg) return qv_fail(err, QV_ENOMEM, "out of memory");
        return add_segment(c, &app, err);
    }
    if (rc) return qv_fail(err, rc, "%s", e2.msg);
    char cpdir[4200];
    uint64_t op = len >= 8 ? qv_load_u64le((uint8_t *)body) : 0;
    snprintf(cpdir, sizeof cpdir, "%s/checkpoints/%.*s", c->dir, (int)(len > 8 ? len - 8 : 0),
             body + 8);
    if (len <= 8 || len - 8 >= sizeof c->cp_name || memchr(body + 8, '/', len - 8) ||
        memchr(body + 8, '\0', len - 8)) {
        free(body);
        return qv_fail(err, QV_ECORRUPT, "%s names no checkpoint", path);
    }
    memcpy(c->cp_name, body + 8, len - 8);
    c->cp_name[len - 8] = '\0';
    free(body);
    uint64_t seg_op;
    rc = qv_segment_load(cpdir, c->cfg.nvectors, dims, &app.seg, &seg_op, err);
    if (rc == QV_OK && seg_op != op)
        rc = qv_fail(err, QV_ECORRUPT, "%s holds operation %" PRIu64 ", CURRENT says %" PRIu64,
                     cpdir, seg_op, op);
    if (rc == QV_OK) {
        rc = add_segment(c, &app, err);
        if (rc) qv_segment_free(app.seg);
    } else {
        qv_segment_free(app.seg);
    }
    if (rc == QV_OK) rc = load_seglist(c, cpdir, dims, err);
    if (rc == QV_OK) rc = qv_index_set_load(cpdir, &c->indexes, err);
    c->checkpoint_op = c->applied_op = op;
    return rc;
}

/* Removes leftovers of interrupted checkpoints (any cp-* but the live one). */
static void clean_checkpoints(qv_collection *c) {
    char dir[4096], path[4400];
    const char *keep = c->cp_name;
    snprintf(dir, sizeof dir, "%s/checkpoints", c->dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "cp-", 3) != 0 || strcmp(e->d_name, keep) == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        qv_rmtree(path);
    }
    closedir(d);
}

/* Removes segment directories no loaded segment is (an optimization cut
 * short by a crash, a segment swapped out before the crash). */
static void clean_segments(qv_collection *c) {
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s/segments", c->dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        bool keep = false;
        for (uint32_t i = 1; i < c->nsegs && !keep; i++) {
            char name[64];
            snprintf(name, sizeof name, "seg-%020" PRIu64, c->segs[i].uid);
            keep = c->segs[i].persisted && strcmp(e->d_name, name) == 0;
        }
        if (keep) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        qv_rmtree(path);
    }
    closedir(d);
}

static qv_rc open_storage(qv_collection *c, qv_err *err) {
    uint32_t dims[QV_MAX_NAMED_VECTORS];
    qv_shard_dims(&c->cfg, dims);
    qv_rc rc = load_checkpoint(c, dims, err);
    if (rc) return rc;
    for (uint32_t si = 0; si < c->nsegs; si++) qv_shard_sync_pindexes(c, c->segs[si].seg);
    clean_checkpoints(c);
    clean_segments(c);
    char wdir[4096];
    snprintf(wdir, sizeof wdir, "%s/wal", c->dir);
    size_t cap = (size_t)(c->cfg.wal.wal_capacity_mb ? c->cfg.wal.wal_capacity_mb : 32) << 20;
    rc = wal_open(wdir, cap, &c->wal, err);
    if (rc) return rc;
    if (wal_first_op(c->wal) > c->checkpoint_op + 1)
        return qv_fail(err, QV_ECORRUPT,
                       "WAL starts at operation %" PRIu64 " but the checkpoint ends at %" PRIu64,
                       wal_first_op(c->wal), c->checkpoint_op);
    replay_ctx r = {c, 0};
    rc = wal_replay(c->wal, c->checkpoint_op, replay_one, &r, err);
    if (rc) return rc;
    if (r.count)
        QV_LOG_INFO("collection %s: replayed %" PRIu64 " WAL operations", c->name, r.count);
    return QV_OK;
}

qv_rc qv_collection_open(const char *dir, const char *name, qv_collection **out, qv_err *err) {
    *out = NULL;
    qv_collection *c = collection_alloc(dir, name);
    if (!c) return qv_fail(err, QV_ENOMEM, "out of memory");
    qv_rc rc = config_load(dir, &c->cfg, err);
    if (rc) {
        collection_free(c);
        return rc;
    }
    qv_strict_limiter_reset(&c->limiter, &c->cfg.strict);
    rc = open_storage(c, err);
    if (rc) {
        /* Keep it, broken: the user sees status red instead of a dead server. */
        c->broken = true;
        snprintf(c->broken_msg, sizeof c->broken_msg, "%s", err ? err->msg : "recovery failed");
        wal_close(c->wal);
        c->wal = NULL;
        free_segments(c);
        qv_index_set_free(&c->indexes);
    }
    *out = c;
    return rc;
}

qv_rc qv_collection_create_at(const char *dir, const char *name, const qv_collection_config *cfg,
                              qv_collection **out, qv_err *err) {
    char tmp[4200], sub[4300];
    qv_temp_sibling(dir, "create", tmp, sizeof tmp);
    qv_rmtree(tmp);
    if (mkdir(tmp, 0755) != 0)
        return qv_fail(err, QV_EIO, "cannot create %s: %s", tmp, strerror(errno));
    snprintf(sub, sizeof sub, "%s/checkpoints", tmp);
    qv_rc rc = mkdir(sub, 0755) == 0 ? QV_OK : qv_fail(err, QV_EIO, "cannot create %s", sub);
    if (!rc) rc = config_save(tmp, cfg, err);
    if (!rc && rename(tmp, dir) != 0)
        rc = qv_fail(err, QV_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc) {
        qv_rmtree(tmp);
        return rc;
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    qv_fsync_dir(parent);
    rc = qv_collection_open(dir, name, out, err);
    if (rc && *out) {
        qv_collection_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------ */

/* Writes the segments besides the appendable one into checkpoint dir tmp:
 * frozen ones whole, persisted ones as deletion marks, and their list. */
static qv_rc save_seglist(const qv_collection *c, const char *tmp, qv_err *err) {
    char path[4400];
    size_t len = 4 + (size_t)(c->nsegs - 1) * 9;
    uint8_t *body = malloc(len);
    if (!body) return qv_fail(err, QV_ENOMEM, "out of memory");
    qv_store_u32le(body, c->nsegs - 1);
    qv_rc rc = QV_OK;
    for (uint32_t i = 1; rc == QV_OK && i < c->nsegs; i++) {
        const qv_shard_seg *e = &c->segs[i];
        qv_store_u64le(body + 4 + (i - 1) * 9, e->uid);
        body[4 + (i - 1) * 9 + 8] = e->persisted ? SEG_PERSISTED : SEG_FROZEN;
        if (e->persisted) {
            snprintf(path, sizeof path, "%s/dead-%020" PRIu64 ".dat", tmp, e->uid);
            rc = qv_segment_save_dead(e->seg, path, err);
        } else {
            snprintf(path, sizeof path, "%s/frozen-%020" PRIu64, tmp, e->uid);
            rc = mkdir(path, 0755) == 0 ? QV_OK : qv_fail(err, QV_EIO, "cannot create %s", path);
            if (!rc) rc = qv_segment_save(e->seg, path, 0, err);
            if (!rc && qv_fsync_dir(path) != 0) rc = qv_fail(err, QV_EIO, "fsync %s failed", path);
        }
    }
    if (rc == QV_OK) rc = qv_envelope_write(tmp, "segments.qvm", SEGLIST_MAGIC, body, len, err);
    free(body);
    return rc;
}

/* Removes the directories of segments swapped out before the checkpoint
 * that just became current (which no longer names them). */
static void drop_retired(qv_collection *c) {
    char path[4400];
    for (uint32_t i = 0; i < c->nretired; i++) {
        qv_segdir_path(c, c->retired[i], path, sizeof path);
        qv_rmtree(path);
    }
    c->nretired = 0;
}

/* Writes the segments as checkpoint cp-<op> and makes it current.  Caller
 * holds the read lock and cp_mutex. */
static qv_rc checkpoint_locked(qv_collection *c, qv_err *err) {
    uint64_t op = c->applied_op;
    char cpdir[4096], final[4096], tmp[4200], name[64];
    snprintf(cpdir, sizeof cpdir, "%s/checkpoints", c->dir);
    /* unique even when the op is unchanged (an optimizer's new layout) */
    snprintf(name, sizeof name, "cp-%020" PRIu64, op);
    while (strncmp(name, c->cp_name, strlen(name)) == 0)
        snprintf(name, sizeof name, "cp-%020" PRIu64 "-%" PRIu64, op, ++c->cp_seq);
    snprintf(final, sizeof final, "%s/%s", cpdir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", final);
    qv_rmtree(tmp);
    if (mkdir(tmp, 0755) != 0)
        return qv_fail(err, QV_EIO, "cannot create %s: %s", tmp, strerror(errno));
    qv_rc rc = qv_segment_save(c->seg, tmp, op, err);
    if (!rc) rc = save_seglist(c, tmp, err);
    if (!rc) rc = qv_index_set_save(&c->indexes, tmp, err);
    if (!rc && qv_fsync_dir(tmp) != 0) rc = qv_fail(err, QV_EIO, "fsync %s failed", tmp);
    if (!rc && rename(tmp, final) != 0) rc = qv_fail(err, QV_EIO, "cannot rename %s", tmp);
    if (!rc && qv_fsync_dir(cpdir) != 0) rc = qv_fail(err, QV_EIO, "fsync %s failed", cpdir);
    if (rc) {
        qv_rmtree(tmp);
        return rc;
    }
    uint8_t body[8 + 64];
    qv_store_u64le(body, op);
    size_t nlen = strlen(name);
    memcpy(body + 8, name, nlen);
    rc = qv_envelope_write(cpdir, "CURRENT", CURRENT_MAGIC, body, 8 + nlen, err);
    if (rc) return rc;
    c->checkpoint_op = op;
    snprintf(c->cp_name, sizeof c->cp_name, "%s", name);
    clean_checkpoints(c);
    drop_retired(c);
    atomic_store(&c->wal_bytes, 0);
    return wal_truncate_through(c->wal, op, err);
}

qv_rc qv_collection_checkpoint(qv_collection *c, qv_err *err) {
    if (c->broken) return QV_OK;
    pthread_mutex_lock(&c->cp_mutex);
    pthread_rwlock_rdlock(&c->lock);
    qv_rc rc = wal_sync(c->wal, wal_last_op(c->wal), err);
    if (rc == QV_OK) rc = checkpoint_locked(c, err);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->cp_mutex);
    return rc;
}

qv_rc qv_collection_flush(qv_collection *c, bool force_checkpoint, qv_err *err) {
    if (c->broken) return QV_OK;
    pthread_mutex_lock(&c->cp_mutex);
    pthread_rwlock_rdlock(&c->lock);
    qv_rc rc = wal_sync(c->wal, wal_last_op(c->wal), err);
    uint64_t cap = c->cfg.wal.wal_capacity_mb << 20;
    bool want =
        force_checkpoint ? c->applied_op != c->checkpoint_op : atomic_load(&c->wal_bytes) >= cap;
    if (rc == QV_OK && want) rc = checkpoint_locked(c, err);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->cp_mutex);
    return rc;
}

void qv_collection_destroy(qv_collection *c) {
    if (!c) return;
    if (atomic_load(&c->dropped)) {
        char *dir = strdup(c->dir);
        collection_free(c);
        if (dir) qv_rmtree(dir);
        free(dir);
        return;
    }
    qv_err err;
    if (qv_collection_flush(c, true, &err) != QV_OK)
        QV_LOG_ERROR("collection %s: final checkpoint failed: %s", c->name, err.msg);
    collection_free(c);
}

const char *qv_collection_name(const qv_collection *c) {
    return c->name;
}

const qv_collection_config *qv_collection_config_get(const qv_collection *c) {
    return &c->cfg;
}

/* ---- applying operations ------------------------------------------------------
 * apply_op runs both live (after validation and the WAL append) and during
 * replay; it must therefore depend only on the op and the state, and it
 * skips what it cannot find (a replayed op may refer to points a later
 * checkpoint already removed... which cannot happen with whole-state
 * checkpoints, but costs nothing to tolerate). */

/* vecs[vi] for the op's named vectors (others NULL). */
static void vec_table(const qv_collection *c, const qv_point_in *p, const float **vecs) {
    for (uint32_t vi = 0; vi < c->cfg.nvectors; vi++) vecs[vi] = NULL;
    for (uint32_t k = 0; k < p->nvec; k++) {
        int vi = qv_collection_config_vector(&c->cfg, p->vecs[k].name);
        if (vi >= 0) vecs[vi] = p->vecs[k].data;
    }
}

/* Finds a live point for a change: a point of a frozen segment is first
 * moved into the appendable one (vectors, payload and version kept), so
 * *off is always an offset of c->seg.  False if absent (or on OOM, with
 * *rc set). */
static bool locate_for_write(qv_collection *c, const qv_pointid *id, uint64_t opnum, uint32_t *off,
                             qv_rc *rc) {
    uint32_t si;
    *rc = QV_OK;
    if (!qv_shard_find(c, id, &si, off)) return false;
    if (si == 0) return true;
    qv_segment *from = c->segs[si].seg;
    const float *vecs[QV_MAX_NAMED_VECTORS];
    float *buf = NULL;
    if (!qv_segment_vectors_f32(from, *off, vecs, &buf)) {
        *rc = QV_ENOMEM;
        return false;
    }
    const jv *pl = qv_segment_payload(from, *off);
    qv_payload *doc = pl ? qv_payload_new(pl) : NULL;
    qv_pointid pid = *id;
    qv_rc prc = pl && !doc
                    ? QV_ENOMEM
                    : qv_segment_put(c->seg, qv_segment_version(from, *off), &pid, vecs, doc);
    free(buf);
    if (prc) {
        qv_payload_free(doc);
        *rc = QV_ENOMEM;
        return false;
    }
    qv_segment_delete_at(from, opnum, *off);
    return qv_segment_find(c->seg, &pid, off);
}

/* Deletes a point wherever it lives. */
static void delete_point(qv_collection *c, uint64_t opnum, const qv_pointid *id) {
    uint32_t si, off;
    if (qv_shard_find(c, id, &si, &off)) qv_segment_delete_at(c->segs[si].seg, opnum, off);
}

static qv_rc apply_points(qv_collection *c, const qv_update_op *op, uint64_t opnum, qv_err *err) {
    const float *vecs[QV_MAX_NAMED_VECTORS];
    for (uint32_t i = 0; i < op->npoints; i++) {
        const qv_point_in *p = &op->points[i];
        vec_table(c, p, vecs);
        if (op->kind == QV_OP_UPDATE_VECTORS) {
            uint32_t off;
            qv_rc rc;
            if (locate_for_write(c, &p->id, opnum, &off, &rc))
                qv_segment_set_vectors(c->seg, opnum, off, vecs, NULL);
            if (rc) return qv_fail(err, rc, "out of memory");
            continue;
        }
        uint32_t si, off;
        if (c->nsegs > 1 && qv_shard_find(c, &p->id, &si, &off) && si > 0)
            qv_segment_delete_at(c->segs[si].seg, opnum, off); /* replaced whole below */
        qv_payload *doc = NULL;
        if (p->has_payload && p->payload.type == JV_OBJ && p->payload.len > 0) {
            doc = qv_payload_new(&p->payload);
            if (!doc) return qv_fail(err, QV_ENOMEM, "out of memory");
        }
        qv_rc rc = qv_segment_put(c->seg, opnum, &p->id, vecs, doc);
        if (rc) {
            qv_payload_free(doc);
            return qv_fail(err, rc, "out of memory");
        }
    }
    return QV_OK;
}

static qv_rc parse_paths(qv_arena *a, const qv_update_op *op, const qv_keypath **paths,
                         qv_err *err) {
    for (uint32_t i = 0; i < op->nnames; i++) {
        qv_keypath *p;
        qv_rc rc = qv_keypath_parse(a, op->names[i], strlen(op->names[i]), &p, err);
        if (rc) return rc;
        paths[i] = p;
    }
    return QV_OK;
}

/* The new payload of the point at off for a payload op (NULL = none). */
static qv_rc payload_for(qv_collection *c, const qv_update_op *op, uint32_t off,
                         const qv_keypath *key, const qv_keypath **paths, qv_payload **out) {
    const jv *old = qv_segment_payload(c->seg, off);
    *out = NULL;
    switch (op->kind) {
    case QV_OP_SET_PAYLOAD:
        *out = qv_payload_merge(old, &op->payload, key);
        break;
    case QV_OP_OVERWRITE_PAYLOAD:
        *out = qv_payload_new(&op->payload);
        break;
    case QV_OP_DELETE_PAYLOAD:
        *out = qv_payload_remove(old, paths, op->nnames);
        break;
    default:
        return QV_OK; /* clear */
    }
    return *out ? QV_OK : QV_ENOMEM;
}

static qv_rc apply_payload(qv_collection *c, const qv_update_op *op, uint64_t opnum, qv_err *err) {
    qv_arena a;
    qv_arena_init(&a);
    const qv_keypath **paths = qv_arena_calloc(&a, sizeof(qv_keypath *) * (op->nnames + 1));
    qv_keypath *key = NULL;
    qv_rc rc = paths ? QV_OK : QV_ENOMEM;
    if (!rc && op->kind == QV_OP_DELETE_PAYLOAD) rc = parse_paths(&a, op, paths, err);
    if (!rc && op->kind == QV_OP_SET_PAYLOAD && op->key)
        rc = qv_keypath_parse(&a, op->key, strlen(op->key), &key, err);
    for (uint32_t i = 0; rc == QV_OK && i < op->nids; i++) {
        uint32_t off;
        if (!locate_for_write(c, &op->ids[i], opnum, &off, &rc)) continue;
        qv_payload *doc;
        rc = payload_for(c, op, off, key, paths, &doc);
        if (rc == QV_OK) qv_segment_set_payload(c->seg, opnum, off, doc);
    }
    qv_arena_free(&a);
    if (rc == QV_ENOMEM) return qv_fail(err, rc, "out of memory");
    return rc;
}

static qv_rc apply_delete_vectors(qv_collection *c, const qv_update_op *op, uint64_t opnum,
                                  qv_err *err) {
    bool remove[QV_MAX_NAMED_VECTORS] = {false};
    for (uint32_t k = 0; k < op->nnames; k++) {
        int vi = qv_collection_config_vector(&c->cfg, op->names[k]);
        if (vi >= 0) remove[vi] = true;
    }
    for (uint32_t i = 0; i < op->nids; i++) {
        uint32_t off;
        qv_rc rc;
        if (locate_for_write(c, &op->ids[i], opnum, &off, &rc))
            qv_segment_set_vectors(c->seg, opnum, off, NULL, remove);
        if (rc) return qv_fail(err, rc, "out of memory");
    }
    return QV_OK;
}

/* A field index declaration (field_index.h): recorded (or removed), then
 * every segment builds (or drops) its index from its payloads, under the
 * write lock, so the next read sees it complete. */
static qv_rc apply_index(qv_collection *c, const qv_update_op *op, qv_err *err) {
    if (op->kind == QV_OP_DELETE_INDEX) {
        qv_index_set_remove(&c->indexes, op->key);
    } else {
        const char *tname = op->nnames == 1 ? op->names[0] : "";
        uint32_t type = qv_payload_type_parse(tname, strlen(tname));
        if (!type) return qv_fail(err, QV_ECORRUPT, "unknown payload index type `%.60s`", tname);
        const jv *params = op->payload.type == JV_OBJ ? &op->payload : NULL;
        if (qv_index_set_put(&c->indexes, op->key, type, params))
            return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    for (uint32_t si = 0; si < c->nsegs; si++) qv_shard_sync_pindexes(c, c->segs[si].seg);
    return QV_OK;
}

static qv_rc apply_op(qv_collection *c, const qv_update_op *op, uint64_t opnum, qv_err *err) {
    switch (op->kind) {
    case QV_OP_UPSERT:
    case QV_OP_UPDATE_VECTORS:
        return apply_points(c, op, opnum, err);
    case QV_OP_DELETE:
        for (uint32_t i = 0; i < op->nids; i++) delete_point(c, opnum, &op->ids[i]);
        return QV_OK;
    case QV_OP_SET_PAYLOAD:
    case QV_OP_OVERWRITE_PAYLOAD:
    case QV_OP_DELETE_PAYLOAD:
    case QV_OP_CLEAR_PAYLOAD:
        return apply_payload(c, op, opnum, err);
    case QV_OP_DELETE_VECTORS:
        return apply_delete_vectors(c, op, opnum, err);
    case QV_OP_CREATE_INDEX:
    case QV_OP_DELETE_INDEX:
        return apply_index(c, op, err);
    }
    return qv_fail(err, QV_ECORRUPT, "unknown operation kind %u", op->kind);
}

/* ---- validation --------------------------------------------------------------- */

static qv_rc check_vector(qv_collection *c, qv_vec_in *v, qv_err *err) {
    int vi = qv_collection_config_vector(&c->cfg, v->name);
    if (vi < 0) return qv_fail(err, QV_EBADINPUT, "Not existing vector name error: %s", v->name);
    const qv_vector_params *vp = &c->cfg.vectors[vi];
    if (v->dim != vp->size)
        return qv_fail(err, QV_EBADINPUT, "Vector dimension error: expected dim: %u, got %u",
                       vp->size, v->dim);
    for (uint32_t k = 0; k < v->dim; k++)
        if (!isfinite(v->data[k]))
            return qv_fail(err, QV_EBADINPUT, "vector %s contains a non-finite value",
                           v->name[0] ? v->name : "(default)");
    return QV_OK;
}

static qv_rc not_found(const qv_pointid *id, qv_err *err) {
    char buf[48];
    qv_pointid_format(id, buf);
    return qv_fail(err, QV_ENOTFOUND, "No point with id %s found", buf);
}

static qv_rc check_points(qv_collection *c, qv_update_op *op, qv_err *err) {
    for (uint32_t i = 0; i < op->npoints; i++) {
        qv_point_in *p = &op->points[i];
        for (uint32_t k = 0; k < p->nvec; k++) {
            qv_rc rc = check_vector(c, &p->vecs[k], err);
            if (rc) return rc;
            for (uint32_t j = 0; j < k; j++)
                if (strcmp(p->vecs[j].name, p->vecs[k].name) == 0)
                    return qv_fail(err, QV_EBADINPUT, "vector %s given twice", p->vecs[k].name);
        }
        uint32_t si, off;
        if (op->kind == QV_OP_UPDATE_VECTORS && !qv_shard_find(c, &p->id, &si, &off))
            return not_found(&p->id, err);
    }
    return QV_OK;
}

/* float16: round to nearest even (GCC's _Float16 conversion), clamped to
 * the finite range so a huge input stays finite. */
static float round_f16(float x) {
#if defined(__FLT16_MAX__)
    if (x > 65504.0f) return 65504.0f;
    if (x < -65504.0f) return -65504.0f;
    return (float)(_Float16)x;
#else
    return x; /* no half-precision type: keep float32 (documented gap) */
#endif
}

void qv_vector_preprocess(const qv_vector_params *vp, float *v, uint32_t dim) {
    if (vp->datatype == QV_DT_UINT8) /* Rust's `as u8`: saturating, toward zero */
        for (uint32_t k = 0; k < dim; k++) v[k] = v[k] > 0 ? (v[k] >= 255 ? 255 : truncf(v[k])) : 0;
    if (vp->distance == QV_DIST_COSINE) qv_normalize(v, dim);
    if (vp->datatype == QV_DT_FLOAT16)
        for (uint32_t k = 0; k < dim; k++) v[k] = round_f16(v[k]);
}

static void preprocess_vectors(qv_collection *c, qv_update_op *op) {
    for (uint32_t i = 0; i < op->npoints; i++)
        for (uint32_t k = 0; k < op->points[i].nvec; k++) {
            qv_vec_in *v = &op->points[i].vecs[k];
            int vi = qv_collection_config_vector(&c->cfg, v->name);
            if (vi >= 0) qv_vector_preprocess(&c->cfg.vectors[vi], v->data, v->dim);
        }
}

/* Checks everything an op needs before it may enter the WAL; resolves a
 * filter to ids.  Caller holds the write lock. */
static qv_rc validate(qv_collection *c, qv_arena *a, qv_update_op *op, qv_err *err) {
    if (op->kind == QV_OP_CREATE_INDEX || op->kind == QV_OP_DELETE_INDEX) {
        /* the API layer checked the key path and the schema; deleting an
         * undeclared index is a no-op, as in Qdrant */
        if (!op->key || (op->kind == QV_OP_CREATE_INDEX && op->nnames != 1))
            return qv_fail(err, QV_EBADINPUT, "malformed field index operation");
        return QV_OK;
    }
    if (op->kind == QV_OP_UPSERT || op->kind == QV_OP_UPDATE_VECTORS) {
        qv_rc rc = check_points(c, op, err);
        if (rc) return rc;
        preprocess_vectors(c, op);
        return QV_OK;
    }
    if (op->filter) {
        qv_rc rc = qv_collection_select_ids(c, op->filter, a, &op->ids, &op->nids, err);
        if (rc) return rc;
        op->filter = NULL;
    } else if (op->kind != QV_OP_DELETE) {
        for (uint32_t i = 0; i < op->nids; i++) {
            uint32_t si, off;
            if (!qv_shard_find(c, &op->ids[i], &si, &off)) return not_found(&op->ids[i], err);
        }
    }
    if (op->kind == QV_OP_DELETE_VECTORS)
        for (uint32_t k = 0; k < op->nnames; k++)
            if (qv_collection_config_vector(&c->cfg, op->names[k]) < 0)
                return qv_fail(err, QV_EBADINPUT, "Not existing vector name error: %s",
                               op->names[k]);
    if ((op->kind == QV_OP_SET_PAYLOAD || op->kind == QV_OP_OVERWRITE_PAYLOAD) &&
        op->payload.type != JV_OBJ)
        return qv_fail(err, QV_EBADINPUT, "payload must be a JSON object");
    return QV_OK;
}

/* ---- strict mode ------------------------------------------------------------------ */

/* Bytes of vector storage now: live points times the size of all their
 * vectors (float32), the estimate Qdrant compares with
 * max_collection_vector_size_bytes. */
static uint64_t vector_bytes(const qv_collection *c) {
    uint64_t per_point = 0;
    for (uint32_t i = 0; i < c->cfg.nvectors; i++)
        per_point += (uint64_t)c->cfg.vectors[i].size * 4;
    return per_point * qv_shard_live(c);
}

/* Points an op touches, its write rate-limit cost (after validate, so a
 * filter has been resolved to ids). */
static uint64_t write_cost(const qv_update_op *op) {
    if (op->kind == QV_OP_UPSERT || op->kind == QV_OP_UPDATE_VECTORS) return op->npoints;
    if (op->kind == QV_OP_CREATE_INDEX || op->kind == QV_OP_DELETE_INDEX) return 1;
    return op->nids;
}

/* ---- the update pipeline -------------------------------------------------------- */

qv_rc qv_collection_update(qv_collection *c, qv_update_op *op, bool wait, uint64_t *op_num,
                           qv_write_status *status, qv_err *err) {
    if (c->broken)
        return qv_fail(err, QV_EUNAVAILABLE, "collection %s is broken: %s", c->name, c->broken_msg);
    qv_arena a;
    qv_arena_init(&a);
    pthread_rwlock_wrlock(&c->lock);
    const qv_strict_config *sc = &c->cfg.strict;
    qv_rc rc = qv_strict_check_update(sc, &c->indexes, op, qv_shard_live(c), vector_bytes(c), err);
    if (rc == QV_OK) rc = validate(c, &a, op, err);
    if (rc == QV_OK && qv_strict_enabled(sc))
        rc = qv_strict_charge(&c->limiter, true, write_cost(op), err);
    uint8_t *rec = NULL;
    size_t len = 0;
    uint64_t opnum = 0;
    if (rc == QV_OK) {
        rec = qv_op_encode(op, &len);
        rc = rec ? QV_OK : qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (rc == QV_OK) rc = wal_append(c->wal, rec, len, &opnum, err);
    if (rc == QV_OK) {
        atomic_fetch_add(&c->wal_bytes, len);
        rc = apply_op(c, op, opnum, err);
        atomic_store(&c->last_write_ms, qv_now_ms());
        if (rc == QV_OK)
            c->applied_op = opnum;
        else {
            /* Logged but not applied: only OOM gets here. Mark the collection
             * broken rather than diverge from its own WAL. */
            c->broken = true;
            snprintf(c->broken_msg, sizeof c->broken_msg, "apply failed: %s", err->msg);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    free(rec);
    qv_arena_free(&a);
    if (rc) return rc;
    if (wait) rc = wal_sync(c->wal, opnum, err);
    *op_num = opnum;
    *status = wait ? QV_WRITE_COMPLETED : QV_WRITE_ACKNOWLEDGED;
    return rc;
}

qv_rc qv_collection_update_config(qv_collection *c, qv_collection_config *newcfg, qv_err *err) {
    pthread_rwlock_wrlock(&c->lock);
    qv_rc rc = config_save(c->dir, newcfg, err);
    if (rc == QV_OK) {
        qv_collection_config old = c->cfg;
        c->cfg = *newcfg;
        qv_arena_init(&newcfg->arena);
        memset(newcfg, 0, sizeof *newcfg);
        qv_collection_config_free(&old);
        /* the rate limits restart with full buckets at the (new) limits, as
         * Qdrant recreates its rate limiters when a collection is updated */
        qv_strict_limiter_reset(&c->limiter, &c->cfg.strict);
    }
    pthread_rwlock_unlock(&c->lock);
    /* a changed `memory` placement applies to the mapped segments now */
    if (rc == QV_OK) qv_segments_readvise(c);
    return rc;
}
