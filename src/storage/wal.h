/*
 * wal.h - the write-ahead log of one shard.
 *
 * Every update to a shard is appended here, with the next operation number,
 * before it is applied; after a crash the shard replays the records newer
 * than its last checkpoint.  The record body is opaque to the WAL (the shard
 * encodes operations with storage/opcodec).
 *
 * The log is a directory of segment files, each holding a contiguous run of
 * operation numbers; a file is rolled when it passes the capacity given at
 * open.  File format and recovery rules: see the comment at the top of
 * wal.c and docs/storage-format.md.  Recovery truncates a torn or corrupt
 * tail (the records after the first bad one) instead of refusing to start;
 * damage in the middle of the log (a bad record followed by good ones in a
 * later file) is reported as QV_ECORRUPT.
 *
 * Threading: wal_append, wal_truncate_through and wal_close must be called by
 * one thread at a time (the shard's update pipeline holds its lock).
 * wal_sync may be called concurrently from any thread, including while
 * another thread appends: it implements group commit (one fdatasync covers
 * every record appended before it started).
 */
#ifndef QV_STORAGE_WAL_H
#define QV_STORAGE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct wal wal;

/* Largest record body accepted (a sanity bound checked on read too). */
#define WAL_MAX_RECORD (1u << 30)

/* Opens (creating if missing) the WAL in directory dir.  Scans every file,
 * verifies checksums, truncates a torn tail, and leaves the log ready to
 * append after its last good record.  segment_capacity: roll to a new file
 * once the current one reaches this many bytes (e.g. 32 MiB). */
qv_rc wal_open(const char *dir, size_t segment_capacity, wal **out, qv_err *err);

/* Closes the files (after an fdatasync) and frees w.  NULL is a no-op. */
void wal_close(wal *w);

/* Number of the last record in the log, or (first_op - 1) when empty.  A new
 * empty log starts at operation 1. */
uint64_t wal_last_op(const wal *w);

/* Number of the first record still in the log (records before it were
 * dropped by wal_truncate_through); last_op + 1 when the log is empty. */
uint64_t wal_first_op(const wal *w);

/* Appends one record with number wal_last_op()+1 (returned in *op) using
 * write(2), without fsync.  On failure nothing is appended: the file is cut
 * back to its previous length. */
qv_rc wal_append(wal *w, const void *body, size_t len, uint64_t *op, qv_err *err);

/* Makes every record up to and including op durable (fdatasync of the
 * files that hold them, and of the directory after a roll).  Returns at once
 * if they already are. */
qv_rc wal_sync(wal *w, uint64_t op, qv_err *err);

/* Calls cb for every record with number > after_op, in order.  cb returns
 * QV_OK to continue or an error to stop (which wal_replay returns). */
typedef qv_rc (*wal_replay_cb)(void *ctx, uint64_t op, const void *body, size_t len, qv_err *err);
qv_rc wal_replay(wal *w, uint64_t after_op, wal_replay_cb cb, void *ctx, qv_err *err);

/* Declares every record with number <= op checkpointed: whole files that
 * hold only such records are deleted.  Later records stay. If op is the last
 * record, the log starts a fresh file whose first number is op+1. */
qv_rc wal_truncate_through(wal *w, uint64_t op, qv_err *err);

/* ------------------------------------------------------------------------
 * Inspection (read-only; for tools/inspect.c, tests and the fuzzer).
 *
 * wal_scan_dir runs exactly the analysis wal_open runs before it repairs
 * anything, but never writes: it reports every file header and record it
 * reads to cb and says what wal_open would do.  Nothing is locked, so the
 * answer about a log in use by a live process is only a snapshot.
 * ------------------------------------------------------------------------ */

typedef enum wal_scan_kind {
    WAL_SCAN_FILE,   /* a segment file and its header */
    WAL_SCAN_RECORD, /* a record, good or (the last one reported) bad */
} wal_scan_kind;

/* One thing seen by the scan.  Pointers are borrowed: valid only during the
 * callback. */
typedef struct wal_scan_item {
    wal_scan_kind kind;
    const char *file;    /* segment file name, without the directory */
    uint64_t offset;     /* byte offset of the header or record in the file */
    int ok;              /* header / record accepted by recovery */
    const char *problem; /* why not, when !ok (else NULL) */
    /* WAL_SCAN_FILE (header fields are 0 when the file is too short) */
    uint64_t file_size;
    uint32_t version;
    uint32_t header_size;
    uint64_t first_op;
    /* WAL_SCAN_RECORD (fields as far as they could be read) */
    uint64_t op;
    uint32_t len;      /* body length field */
    int crc_ok;        /* checksum matched (whole record present) */
    int complete;      /* the whole record is in the file (so its checksum was tested) */
    const void *body;  /* the body bytes present in the file */
    size_t body_avail; /* how many (< len for a torn record) */
} wal_scan_item;

typedef void (*wal_scan_cb)(void *ctx, const wal_scan_item *item);

/* What wal_open would find and do. */
typedef struct wal_scan_verdict {
    int clean;         /* 1: wal_open would change nothing on disk */
    size_t files;      /* segment files found */
    uint64_t first_op; /* wal_first_op() after recovery */
    uint64_t last_op;  /* wal_last_op() after recovery */
    char action[256];  /* the repair wal_open would make, or "none" */
} wal_scan_verdict;

/* Scans the WAL in dir without modifying it, calling cb (may be NULL) for
 * every header and record in order, and fills *verdict.  Returns QV_OK when
 * wal_open would succeed (possibly after a repair described in the
 * verdict), QV_ECORRUPT with the message wal_open would give when it would
 * refuse, QV_EIO/QV_ENOMEM on a failure to read. */
qv_rc wal_scan_dir(const char *dir, wal_scan_cb cb, void *ctx, wal_scan_verdict *verdict,
                   qv_err *err);

#endif
