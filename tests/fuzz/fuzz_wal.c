/*
 * fuzz_wal.c - libFuzzer target for WAL recovery (storage/wal.c).
 *
 * Input format (so that the fuzzer can reach past the checksums):
 *
 *   byte 0        flags: bit 0 = recompute the header checksum and every
 *                 record checksum the harness can find (lengths are taken
 *                 as they are), so mutations of lengths, op numbers and
 *                 bodies reach the logic behind the CRC check;
 *                 bit 1 = the data is two segment files, split at the
 *                 offset given by bytes 1-2 (little-endian, modulo length)
 *   rest          the segment file(s)
 *
 * Each file is named after the first_op in its header when it has one
 * (else op 1, or the first file's op + 1), so valid inputs are valid logs.
 *
 * Per input: wal_scan_dir and wal_open must agree (same verdict, same last
 * op); the recovered log must replay exactly first_op..last_op in order;
 * one appended record must survive close and reopen, and after wal_open
 * repaired the directory, a second scan must find it clean.  Any
 * disagreement aborts.  The directory lives in /dev/shm (no disk fsyncs)
 * and is emptied between inputs.
 */
#include "core/crc32c.h"
#include "storage/wal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_dir[64];

static void fz_clean(void) {
    DIR *d = opendir(fz_dir);
    struct dirent *e;
    char p[256];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void fz_atexit(void) {
    fz_clean();
    rmdir(fz_dir);
}

static void fz_init(void) {
    if (fz_dir[0]) return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/qv-fuzz-wal-XXXXXX", base);
    if (!mkdtemp(fz_dir)) abort();
    atexit(fz_atexit);
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_wal: check failed: %s (line %d)\n", #c, __LINE__);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) {
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the checksums of a file image in place (see the format in
 * wal.c): header CRC over bytes 0..27 at 28; each record's CRC over its
 * length, op, body and padding at +4. */
static void fix_crcs(uint8_t *b, size_t n) {
    if (n < 32) return;
    wr32(b + 28, qv_crc32c(0, b, 28));
    size_t pos = 32;
    while (n - pos >= 16) {
        uint64_t len = rd32(b + pos);
        uint64_t total = 16 + len + ((8 - len % 8) % 8);
        if (total > n - pos) break;
        uint32_t c = qv_crc32c(0, b + pos, 4);
        c = qv_crc32c(c, b + pos + 8, 8);
        c = qv_crc32c(c, b + pos + 16, (size_t)(total - 16));
        wr32(b + pos + 4, c);
        pos += (size_t)total;
    }
}

/* Writes one file image under a name derived from its header. */
static uint64_t put_file(uint8_t *b, size_t n, uint64_t dflt, uint64_t avoid, int fix) {
    char p[256];
    uint64_t op = n >= 32 ? rd64(b + 16) : dflt;
    if (op == 0 || op > 9999999999999999999ull || op == avoid) op = dflt;
    if (fix) fix_crcs(b, n);
    snprintf(p, sizeof p, "%s/%020llu.wal", fz_dir, (unsigned long long)op);
    FILE *fp = fopen(p, "wb");
    CHECK(fp != NULL);
    CHECK(fwrite(b, 1, n, fp) == n || n == 0);
    fclose(fp);
    return op;
}

typedef struct seq {
    uint64_t next, count;
} seq;

static qv_rc seq_cb(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err) {
    seq *s = ctx;
    if (s->count && op != s->next) abort();
    CHECK(len <= WAL_MAX_RECORD);
    s->next = op + 1;
    s->count++;
    return QV_OK;
}

static qv_rc last_cb(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err) {
    static const char want[] = "fuzz-record";
    CHECK(len == sizeof want - 1 && memcmp(body, want, len) == 0);
    (*(int *)ctx)++;
    return QV_OK;
}

/* Recovers, replays, appends one record, and checks it after a reopen. */
static void exercise(void) {
    wal_scan_verdict v;
    qv_err err, err2;
    wal *w = NULL;
    qv_rc src = wal_scan_dir(fz_dir, NULL, NULL, &v, &err);
    qv_rc orc = wal_open(fz_dir, 256, &w, &err2);
    CHECK(src == orc);
    if (orc != QV_OK) {
        CHECK(orc == QV_ECORRUPT);
        return;
    }
    CHECK(wal_last_op(w) == v.last_op && wal_first_op(w) == v.first_op);
    seq s = {0};
    CHECK(wal_replay(w, 0, seq_cb, &s, &err) == QV_OK);
    CHECK(s.count == wal_last_op(w) + 1 - wal_first_op(w));
    CHECK(s.count == 0 || s.next == wal_last_op(w) + 1);
    uint64_t op = 0, before = wal_last_op(w);
    qv_rc arc = wal_append(w, "fuzz-record", 11, &op, &err);
    if (arc != QV_OK) { /* only the numbering can run out */
        CHECK(before == UINT64_MAX);
        wal_close(w);
        return;
    }
    CHECK(op == before + 1);
    CHECK(wal_sync(w, op, &err) == QV_OK);
    wal_close(w);
    CHECK(wal_scan_dir(fz_dir, NULL, NULL, &v, &err) == QV_OK && v.clean && v.last_op == op);
    CHECK(wal_open(fz_dir, 256, &w, &err) == QV_OK);
    CHECK(wal_last_op(w) == op);
    int seen = 0;
    CHECK(wal_replay(w, op - 1, last_cb, &seen, &err) == QV_OK && seen == 1);
    wal_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init();
    fz_clean();
    if (size < 1) return 0;
    int fix = data[0] & 1, two = data[0] & 2;
    size_t hdr = two ? 3 : 1;
    if (size < hdr) return 0;
    size_t n = size - hdr;
    uint8_t *b = malloc(n ? n : 1);
    CHECK(b != NULL);
    if (n) memcpy(b, data + hdr, n);
    if (two) {
        size_t split = n ? ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1) : 0;
        uint64_t first = put_file(b, split, 1, 0, fix);
        put_file(b + split, n - split, first + 1, first, fix);
    } else {
        put_file(b, n, 1, 0, fix);
    }
    free(b);
    exercise();
    return 0;
}
