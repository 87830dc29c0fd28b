/*
 * test_wal.c - the write-ahead log (storage/wal) and its checksum (core/crc32c).
 *
 * Every test works in a fresh temporary directory (mkdtemp under /tmp) that
 * it removes at the end.  Crashes are simulated the blunt way: by editing
 * the segment files between a close and a reopen (cutting them at every
 * byte, flipping bytes, zeroing headers), which covers every state a torn
 * write can leave behind and more.  The log's bytes are snapshotted once and
 * restored before each damaged variant, so each variant starts from the
 * same known-good log.
 *
 * The byte-exhaustive loops run on a small last record, which keeps the
 * file under a few seconds even under valgrind; the concurrency test shrinks
 * when QV_UNDER_VALGRIND is set (make valgrind sets it).
 */
#include "harness.h"

#include "core/crc32c.h"
#include "storage/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR 32 /* file header size, from the format comment in wal.c */

/* ---------------------------------------------------------------------
 * Temp directories, files and snapshots
 * --------------------------------------------------------------------- */

typedef struct fixture {
    char root[64]; /* mkdtemp directory */
    char dir[96];  /* root/wal: the WAL itself (created by wal_open) */
} fixture;

static int fx_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->root, "/tmp/qv-test-wal-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->dir, sizeof f->dir, "%s/wal", f->root);
    *state = f;
    return 0;
}

static void rm_dir_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static int fx_teardown(void **state) {
    fixture *f = *state;
    rm_dir_files(f->dir);
    rmdir(f->dir);
    rmdir(f->root);
    free(f);
    return 0;
}

static void seg_path(char *out, size_t n, const char *dir, uint64_t first_op) {
    snprintf(out, n, "%s/%020llu.wal", dir, (unsigned long long)first_op);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *b, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, len, fp), len);
    fclose(fp);
}

/* The files of a WAL directory, by first op, with their bytes. */
typedef struct snapshot {
    size_t n;
    uint64_t first[64];
    uint8_t *data[64];
    size_t len[64];
} snapshot;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void snap_take(snapshot *s, const char *dir) {
    char p[512];
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    s->n = 0;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".wal")) s->first[s->n++] = strtoull(e->d_name, NULL, 10);
    closedir(d);
    qsort(s->first, s->n, sizeof s->first[0], cmp_u64);
    for (size_t i = 0; i < s->n; i++) {
        seg_path(p, sizeof p, dir, s->first[i]);
        s->data[i] = read_file(p, &s->len[i]);
    }
}

/* Rewrites the directory as in the snapshot, except that file `which` is
 * cut to `cut` bytes (SIZE_MAX: whole) and its byte `flip_at` is xored with
 * `flip` (flip 0: none). */
static void snap_restore(const snapshot *s, const char *dir, size_t which, size_t cut,
                         size_t flip_at, uint8_t flip) {
    char p[512];
    rm_dir_files(dir);
    for (size_t i = 0; i < s->n; i++) {
        size_t len = s->len[i];
        uint8_t *b = malloc(len ? len : 1);
        assert_non_null(b);
        memcpy(b, s->data[i], len);
        if (i == which && cut < len) len = cut;
        if (i == which && flip && flip_at < len) b[flip_at] ^= flip;
        seg_path(p, sizeof p, dir, s->first[i]);
        write_file(p, b, len);
        free(b);
    }
}

static void snap_free(snapshot *s) {
    for (size_t i = 0; i < s->n; i++) free(s->data[i]);
    s->n = 0;
}

/* ---------------------------------------------------------------------
 * Records: deterministic bodies, and a replay collector that checks them
 * --------------------------------------------------------------------- */

/* Body of op n: length varies 0..41 (so every padding occurs), bytes
 * depend on n so a record from the wrong op never matches. */
static size_t body_for(uint64_t n, uint8_t *buf) {
    size_t len = (size_t)((n * 7) % 42);
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(n * 31 + i * 7 + 1);
    return len;
}

static void append_n(wal *w, uint64_t count) {
    uint8_t buf[64];
    qv_err err;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t op = 0, want = wal_last_op(w) + 1;
        size_t len = body_for(want, buf);
        assert_int_equal(wal_append(w, buf, len, &op, &err), QV_OK);
        assert_int_equal(op, want);
    }
}

typedef struct collect {
    uint64_t first, next; /* first op seen, next op expected */
    uint64_t count;
} collect;

static qv_rc collect_cb(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err) {
    collect *c = ctx;
    uint8_t want[64];
    if (c->count == 0) c->first = c->next = op;
    assert_int_equal(op, c->next);
    size_t wlen = body_for(op, want);
    assert_int_equal(len, wlen);
    if (len) assert_memory_equal(body, want, len);
    c->next++;
    c->count++;
    return QV_OK;
}

/* Replays everything after after_op and checks it is exactly the records
 * from max(after_op + 1, first_op) through last, with their bodies. */
static void check_replay(wal *w, uint64_t after_op, uint64_t last) {
    collect c = {0};
    qv_err err;
    uint64_t from = after_op + 1 > wal_first_op(w) ? after_op + 1 : wal_first_op(w);
    assert_int_equal(wal_replay(w, after_op, collect_cb, &c, &err), QV_OK);
    assert_int_equal(c.count, last >= from ? last - from + 1 : 0);
    if (c.count) assert_int_equal(c.first, from);
}

static wal *open_ok(const char *dir, size_t cap) {
    wal *w = NULL;
    qv_err err;
    qv_err_clear(&err);
    qv_rc rc = wal_open(dir, cap, &w, &err);
    if (rc != QV_OK) fail_msg("wal_open: %s", err.msg);
    return w;
}

static qv_rc open_expect_fail(const char *dir, qv_err *err) {
    wal *w = NULL;
    qv_rc rc = wal_open(dir, 1 << 20, &w, err);
    if (rc == QV_OK) wal_close(w);
    return rc;
}

/* ---------------------------------------------------------------------
 * CRC-32C
 * --------------------------------------------------------------------- */

static void test_crc32c(void **state) {
    (void)state;
    uint8_t buf[300];
    assert_int_equal(qv_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(qv_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(qv_crc32c(0, "", 0), 0);
    /* 32 bytes of zeros: a published iSCSI (RFC 3720) test vector. */
    memset(buf, 0, 32);
    assert_int_equal(qv_crc32c(0, buf, 32), 0x8A9136AAu);
    assert_int_equal(qv_crc32c(qv_crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 151 + 7);
    /* Dispatched (SSE4.2 here) and portable agree at every alignment. */
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 16)
            assert_int_equal(qv_crc32c(0, buf + off, n), qv_crc32c_portable(0, buf + off, n));
}

/* ---------------------------------------------------------------------
 * Basic behaviour
 * --------------------------------------------------------------------- */

static void test_empty_log(void **state) {
    fixture *f = *state;
    qv_err err;
    wal *w = open_ok(f->dir, 1 << 20);
    assert_int_equal(wal_last_op(w), 0);
    assert_int_equal(wal_first_op(w), 1);
    check_replay(w, 0, 0);
    assert_int_equal(wal_sync(w, 0, &err), QV_OK);
    assert_int_equal(wal_sync(w, 1, &err), QV_EBADINPUT);
    assert_int_equal(wal_truncate_through(w, 1, &err), QV_EBADINPUT);
    wal_close(w);
    wal_close(NULL);
    w = open_ok(f->dir, 1 << 20);
    assert_int_equal(wal_last_op(w), 0);
    wal_close(w);
}

static void test_roundtrip_rolls(void **state) {
    fixture *f = *state;
    qv_err err;
    char p[512];
    wal *w = open_ok(f->dir, 256);
    append_n(w, 200);
    assert_int_equal(wal_last_op(w), 200);
    assert_int_equal(wal_sync(w, 200, &err), QV_OK);
    check_replay(w, 0, 200);
    check_replay(w, 137, 200);
    check_replay(w, 200, 200);
    wal_close(w);

    snapshot s;
    snap_take(&s, f->dir);
    assert_true(s.n > 10);                                             /* rolled many times */
    for (size_t i = 0; i + 1 < s.n; i++) assert_true(s.len[i] >= 256); /* full before roll */
    snap_free(&s);

    w = open_ok(f->dir, 256);
    assert_int_equal(wal_first_op(w), 1);
    assert_int_equal(wal_last_op(w), 200);
    append_n(w, 5);
    check_replay(w, 0, 205);
    wal_close(w);
    /* A record larger than the capacity still goes in (never split), and
     * the next one starts a new file. */
    w = open_ok(f->dir, 64);
    uint8_t big[1000] = {0};
    uint64_t op;
    assert_int_equal(wal_append(w, big, sizeof big, &op, &err), QV_OK);
    assert_int_equal(op, 206);
    assert_int_equal(wal_append(w, big, 1, &op, &err), QV_OK);
    seg_path(p, sizeof p, f->dir, 207);
    assert_int_equal(file_size(p), HDR + 16 + 8);
    wal_close(w);
}

static void test_empty_bodies(void **state) {
    fixture *f = *state;
    qv_err err;
    uint64_t op;
    wal *w = open_ok(f->dir, 128);
    for (int i = 0; i < 20; i++) assert_int_equal(wal_append(w, NULL, 0, &op, &err), QV_OK);
    assert_int_equal(op, 20);
    wal_close(w);
    w = open_ok(f->dir, 128);
    assert_int_equal(wal_last_op(w), 20);
    wal_close(w);
}

static qv_rc stop_cb(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err) {
    int *seen = ctx;
    (*seen)++;
    if (op == 5) return qv_fail(err, QV_EINTERNAL, "stop");
    return QV_OK;
}

static void test_limits_and_errors(void **state) {
    fixture *f = *state;
    qv_err err;
    uint64_t op;
    uint8_t b[8] = {0};
    int seen = 0;
    wal *w = open_ok(f->dir, 1 << 20);
    assert_int_equal(wal_append(w, b, (size_t)WAL_MAX_RECORD + 1, &op, &err), QV_ETOOLARGE);
    assert_int_equal(wal_append(w, NULL, 3, &op, &err), QV_EBADINPUT);
    assert_int_equal(wal_last_op(w), 0);
    append_n(w, 10);
    assert_int_equal(wal_replay(w, 0, stop_cb, &seen, &err), QV_EINTERNAL);
    assert_int_equal(seen, 5);
    /* A second opener is refused while the log is open. */
    wal *w2 = NULL;
    assert_int_equal(wal_open(f->dir, 1 << 20, &w2, &err), QV_EUNAVAILABLE);
    assert_null(w2);
    wal_close(w);
}

/* ---------------------------------------------------------------------
 * Truncation after checkpoints
 * --------------------------------------------------------------------- */

static void test_truncate_through(void **state) {
    fixture *f = *state;
    qv_err err;
    wal *w = open_ok(f->dir, 256);
    append_n(w, 100);
    /* Partial: whole files <= 10 go, the file holding 11 stays. */
    assert_int_equal(wal_truncate_through(w, 10, &err), QV_OK);
    uint64_t first = wal_first_op(w);
    assert_true(first <= 11);
    check_replay(w, first - 1, 100);
    assert_int_equal(wal_truncate_through(w, 55, &err), QV_OK);
    assert_true(wal_first_op(w) <= 56 && wal_first_op(w) > first);
    first = wal_first_op(w);
    assert_int_equal(wal_truncate_through(w, 3, &err), QV_OK); /* below: no-op */
    assert_int_equal(wal_first_op(w), first);
    wal_close(w);

    w = open_ok(f->dir, 256); /* the numbering survives reopen */
    assert_int_equal(wal_first_op(w), first);
    assert_int_equal(wal_last_op(w), 100);
    check_replay(w, first - 1, 100);
    /* Whole: nothing left but the numbering. */
    assert_int_equal(wal_truncate_through(w, 100, &err), QV_OK);
    assert_int_equal(wal_first_op(w), 101);
    assert_int_equal(wal_last_op(w), 100);
    check_replay(w, 0, 0);
    assert_int_equal(wal_truncate_through(w, 100, &err), QV_OK); /* idempotent */
    assert_int_equal(wal_truncate_through(w, 101, &err), QV_EBADINPUT);
    wal_close(w);

    w = open_ok(f->dir, 256);
    assert_int_equal(wal_first_op(w), 101);
    assert_int_equal(wal_last_op(w), 100);
    append_n(w, 30);
    assert_int_equal(wal_last_op(w), 130);
    check_replay(w, 100, 130);
    assert_int_equal(wal_truncate_through(w, 130, &err), QV_OK);
    append_n(w, 2);
    wal_close(w);
    w = open_ok(f->dir, 256);
    assert_int_equal(wal_first_op(w), 131);
    assert_int_equal(wal_last_op(w), 132);
    check_replay(w, 0, 132); /* 131..132: nothing before first_op */
    wal_close(w);
}

/* ---------------------------------------------------------------------
 * Crash recovery
 * --------------------------------------------------------------------- */

/* Builds a multi-file log whose last record (op `n`) is small and alone at
 * the end of the last file; returns its offset in that file. */
static size_t build_log(const char *dir, uint64_t n, size_t cap) {
    wal *w = open_ok(dir, cap);
    append_n(w, n - 1);
    uint8_t b[64];
    size_t len = body_for(n, b);
    uint64_t op;
    qv_err err;
    char p[512];
    assert_true(len % 8 != 0); /* exercise the padding too */
    assert_int_equal(wal_append(w, b, len, &op, &err), QV_OK);
    assert_int_equal(op, n);
    wal_close(w);
    snapshot s;
    snap_take(&s, dir);
    seg_path(p, sizeof p, dir, s.first[s.n - 1]);
    size_t rec = 16 + len + (8 - len % 8) % 8;
    size_t off = (size_t)file_size(p) - rec;
    snap_free(&s);
    return off;
}

/* Opens the damaged log, checks it holds exactly 1..n-1 and that the last
 * file (last_path) was cut on disk at the start of the bad record (off),
 * appends op n again, and checks that survives a reopen. */
static void check_recovered(const char *dir, uint64_t n, const char *last_path, size_t off) {
    wal *w = open_ok(dir, 128);
    assert_int_equal(wal_last_op(w), n - 1);
    assert_int_equal(file_size(last_path), (long)off);
    check_replay(w, 0, n - 1);
    append_n(w, 1);
    wal_close(w);
    wal_scan_verdict v;
    qv_err err;
    assert_int_equal(wal_scan_dir(dir, NULL, NULL, &v, &err), QV_OK);
    assert_true(v.clean);
    w = open_ok(dir, 128);
    assert_int_equal(wal_last_op(w), n);
    check_replay(w, 0, n);
    wal_close(w);
}

static void test_torn_tail_every_byte(void **state) {
    fixture *f = *state;
    /* Op 13's body is 7 bytes: a 32-byte record with padding. */
    size_t off = build_log(f->dir, 13, 128);
    snapshot s;
    snap_take(&s, f->dir);
    size_t last = s.n - 1, end = s.len[last];
    char p[512];
    seg_path(p, sizeof p, f->dir, s.first[last]);
    assert_true(s.n >= 2);
    for (size_t cut = off; cut < end; cut++) {
        snap_restore(&s, f->dir, last, cut, 0, 0);
        check_recovered(f->dir, 13, p, off);
    }
    snap_free(&s);
}

static void test_flip_every_byte(void **state) {
    fixture *f = *state;
    size_t off = build_log(f->dir, 13, 128);
    snapshot s;
    snap_take(&s, f->dir);
    size_t last = s.n - 1, end = s.len[last];
    char p[512];
    seg_path(p, sizeof p, f->dir, s.first[last]);
    static const uint8_t flips[] = {0x01, 0x80, 0xFF};
    for (size_t at = off; at < end; at++)
        for (size_t k = 0; k < sizeof flips; k++) {
            snap_restore(&s, f->dir, last, SIZE_MAX, at, flips[k]);
            check_recovered(f->dir, 13, p, off);
        }
    snap_free(&s);
}

/* A record with a good checksum but the wrong number (here: the last record
 * written twice, as a stale copy would be) ends the log too. */
static void test_out_of_sequence_record(void **state) {
    fixture *f = *state;
    char p[512];
    size_t off = build_log(f->dir, 13, 128);
    snapshot s;
    snap_take(&s, f->dir);
    size_t last = s.n - 1, len = s.len[last];
    seg_path(p, sizeof p, f->dir, s.first[last]);
    uint8_t *b = malloc(len + (len - off));
    assert_non_null(b);
    memcpy(b, s.data[last], len);
    memcpy(b + len, s.data[last] + off, len - off); /* op 13 again */
    write_file(p, b, len + (len - off));
    free(b);
    wal *w = open_ok(f->dir, 128);
    assert_int_equal(wal_last_op(w), 13);
    assert_int_equal(file_size(p), (long)len);
    check_replay(w, 0, 13);
    wal_close(w);
    snap_free(&s);
}

static void test_scan_dir_read_only(void **state) {
    fixture *f = *state;
    qv_err err;
    wal_scan_verdict v;
    size_t off = build_log(f->dir, 13, 128);
    snapshot s;
    snap_take(&s, f->dir);
    size_t last = s.n - 1;
    char p[512];
    assert_int_equal(wal_scan_dir(f->dir, NULL, NULL, &v, &err), QV_OK);
    assert_true(v.clean);
    assert_int_equal(v.first_op, 1);
    assert_int_equal(v.last_op, 13);
    assert_int_equal(v.files, s.n);
    snap_restore(&s, f->dir, last, off + 5, 0, 0);
    assert_int_equal(wal_scan_dir(f->dir, NULL, NULL, &v, &err), QV_OK);
    assert_false(v.clean);
    assert_int_equal(v.last_op, 12);
    assert_non_null(strstr(v.action, "truncate"));
    seg_path(p, sizeof p, f->dir, s.first[last]);
    assert_int_equal(file_size(p), (long)(off + 5)); /* untouched */
    assert_int_equal(wal_scan_dir("/nonexistent/qv", NULL, NULL, &v, &err), QV_ENOTFOUND);
    snap_free(&s);
}

static void test_corrupt_non_last_file(void **state) {
    fixture *f = *state;
    qv_err err;
    wal_scan_verdict v;
    build_log(f->dir, 40, 128);
    snapshot s;
    snap_take(&s, f->dir);
    assert_true(s.n >= 3);
    /* A flipped byte in a record of the first file. */
    snap_restore(&s, f->dir, 0, SIZE_MAX, HDR + 20, 0x10);
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "is corrupt at offset 32"));
    assert_int_equal(wal_scan_dir(f->dir, NULL, NULL, &v, &err), QV_ECORRUPT);
    /* A middle file cut short. */
    snap_restore(&s, f->dir, 1, s.len[1] - 3, 0, 0);
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "is corrupt at offset"));
    /* A middle file missing. */
    snap_restore(&s, f->dir, 99, SIZE_MAX, 0, 0);
    char p[512];
    seg_path(p, sizeof p, f->dir, s.first[1]);
    unlink(p);
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "not contiguous"));
    /* A non-last file shorter than its header. */
    snap_restore(&s, f->dir, 0, 10, 0, 0);
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    /* Nothing was modified by the refusals. */
    snap_restore(&s, f->dir, 0, SIZE_MAX, HDR + 20, 0x10);
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    snapshot after;
    snap_take(&after, f->dir);
    assert_int_equal(after.n, s.n);
    for (size_t i = 0; i < s.n; i++) assert_int_equal(after.len[i], s.len[i]);
    snap_free(&after);
    snap_free(&s);
}

static void test_bad_header(void **state) {
    fixture *f = *state;
    qv_err err;
    wal *w = open_ok(f->dir, 1 << 20);
    append_n(w, 3);
    wal_close(w);
    snapshot s;
    snap_take(&s, f->dir);
    snap_restore(&s, f->dir, 0, SIZE_MAX, 0, 0x20); /* magic */
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "magic"));
    snap_restore(&s, f->dir, 0, SIZE_MAX, 8, 0x03); /* version 1 -> 2 */
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "version 2"));
    snap_restore(&s, f->dir, 0, SIZE_MAX, 24, 0x01); /* reserved: checksum */
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    snap_restore(&s, f->dir, 0, SIZE_MAX, 16, 0x02); /* first_op vs name */
    assert_int_equal(open_expect_fail(f->dir, &err), QV_ECORRUPT);
    snap_free(&s);
}

/* The last file lost its header (crash during a roll): it is recreated. */
static void test_torn_header_last_file(void **state) {
    fixture *f = *state;
    char p[512];
    build_log(f->dir, 13, 128);
    snapshot s;
    snap_take(&s, f->dir);
    size_t last = s.n - 1;
    uint64_t lost_from = s.first[last];
    for (size_t cut = 0; cut < HDR; cut += 5) {
        snap_restore(&s, f->dir, last, cut, 0, 0);
        wal *w = open_ok(f->dir, 128);
        assert_int_equal(wal_last_op(w), lost_from - 1);
        check_replay(w, 0, lost_from - 1);
        append_n(w, 2);
        wal_close(w);
        w = open_ok(f->dir, 128);
        assert_int_equal(wal_last_op(w), lost_from + 1);
        check_replay(w, 0, lost_from + 1);
        wal_close(w);
    }
    /* An all-zero header (size set, data never written) is torn too. */
    snap_restore(&s, f->dir, 99, SIZE_MAX, 0, 0);
    uint8_t zeros[HDR] = {0};
    seg_path(p, sizeof p, f->dir, lost_from);
    write_file(p, zeros, HDR);
    wal *w = open_ok(f->dir, 128);
    assert_int_equal(wal_last_op(w), lost_from - 1);
    wal_close(w);
    snap_free(&s);
    /* The only file, empty: the log keeps its numbering from the name. */
    rm_dir_files(f->dir);
    seg_path(p, sizeof p, f->dir, 77);
    write_file(p, "", 0);
    w = open_ok(f->dir, 128);
    assert_int_equal(wal_first_op(w), 77);
    assert_int_equal(wal_last_op(w), 76);
    append_n(w, 1);
    assert_int_equal(wal_last_op(w), 77);
    wal_close(w);
}

/* ---------------------------------------------------------------------
 * Group commit under concurrency
 * --------------------------------------------------------------------- */

typedef struct sync_ctx {
    wal *w;
    atomic_uint_fast64_t published; /* last op returned by wal_append */
    atomic_int done;
    atomic_int failures;
    atomic_long syncs;
} sync_ctx;

static void *syncer(void *arg) {
    sync_ctx *c = arg;
    qv_err err;
    while (!atomic_load(&c->done)) {
        uint64_t op = atomic_load(&c->published);
        if (wal_sync(c->w, op, &err) != QV_OK) atomic_fetch_add(&c->failures, 1);
        atomic_fetch_add(&c->syncs, 1);
    }
    return NULL;
}

static void test_concurrent_sync(void **state) {
    fixture *f = *state;
    const uint64_t n = getenv("QV_UNDER_VALGRIND") ? 2000 : 10000;
    sync_ctx c = {.w = open_ok(f->dir, 64 * 1024)};
    pthread_t th[4];
    qv_err err;
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, syncer, &c), 0);
    uint8_t buf[64];
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t op;
        size_t len = body_for(i, buf);
        assert_int_equal(wal_append(c.w, buf, len, &op, &err), QV_OK);
        atomic_store(&c.published, op);
        if (i % 1000 == 0) assert_int_equal(wal_sync(c.w, op, &err), QV_OK);
    }
    atomic_store(&c.done, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&c.failures), 0);
    assert_true(atomic_load(&c.syncs) > 0);
    wal_close(c.w);
    wal *w = open_ok(f->dir, 64 * 1024);
    assert_int_equal(wal_last_op(w), n);
    check_replay(w, 0, n);
    wal_close(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_empty_log, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_rolls, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_bodies, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncate_through, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_byte, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_every_byte, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_sequence_record, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scan_dir_read_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_non_last_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_header, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_header_last_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_sync, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
