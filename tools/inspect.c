/*
 * inspect.c - quiver-inspect: read-only dumps of Quiver's on-disk files.
 *
 *   quiver-inspect wal DIR      every WAL segment header and record in DIR,
 *                               then what recovery (wal_open) would do
 *   quiver-inspect checkpoint DIR
 *                               a segment checkpoint (checkpoints/cp-<op>):
 *                               headers, checksums, point count, first IDs
 *
 * Like LMDB's mdb_dump or Qdrant's wal_inspector, it is for people looking
 * at a data directory after something went wrong, so it never writes: it
 * uses wal_scan_dir, the analysis half of wal_open, never wal_open itself
 * (which truncates a torn tail).  It is safe to run against the directory
 * of a live server, though what it shows is then only a snapshot.
 *
 * Exit status: 0 the data is clean; 1 recovery would repair it (e.g. cut a
 * torn WAL tail); 2 it is corrupt or unreadable (the server would refuse
 * to open it); 64 usage error.
 *
 * Subcommands live in a table so that more (segment dumps, ...) slot in
 * beside "wal" without touching main().
 */
#include "storage/segment.h"
#include "storage/wal.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define EXIT_CLEAN   0
#define EXIT_REPAIR  1
#define EXIT_CORRUPT 2
#define EXIT_USAGE   64
#define HEX_PREVIEW  16 /* body bytes shown per record */

/* ---- wal ---- */

typedef struct wal_dump {
    uint64_t records;
} wal_dump;

static void print_hex(const void *p, size_t avail, uint32_t len) {
    const uint8_t *b = p;
    size_t n = avail < HEX_PREVIEW ? avail : HEX_PREVIEW;
    for (size_t i = 0; i < n; i++) printf("%s%02x", i ? " " : "", b[i]);
    if (len > n) printf("%s...", n ? " " : "");
}

static void print_file(const wal_scan_item *it) {
    printf("file %s  size %" PRIu64, it->file, it->file_size);
    if (it->file_size >= 32)
        printf("  version %" PRIu32 "  header %" PRIu32 "  first_op %" PRIu64, it->version,
               it->header_size, it->first_op);
    printf("  header %s", it->ok ? "ok" : "BAD");
    if (it->problem) printf(" (%s)", it->problem);
    printf("\n");
}

static void print_record(const wal_scan_item *it) {
    /* A record cut short or with an absurd length has no checksum to test. */
    const char *crc = it->crc_ok ? "ok" : it->complete ? "BAD" : "-";
    printf("  @%-10" PRIu64 " op %-12" PRIu64 " len %-8" PRIu32 " crc %-3s ", it->offset, it->op,
           it->len, crc);
    print_hex(it->body, it->body_avail, it->len);
    printf("\n");
    if (!it->ok) printf("  ^ record rejected: %s\n", it->problem);
}

static void wal_item(void *ctx, const wal_scan_item *it) {
    wal_dump *d = ctx;
    if (it->kind == WAL_SCAN_FILE) {
        print_file(it);
    } else {
        print_record(it);
        if (it->ok) d->records++;
    }
}

static int cmd_wal(int argc, char **argv) {
    wal_dump d = {0};
    wal_scan_verdict v;
    qv_err err;
    if (argc != 1) return EXIT_USAGE;
    qv_rc rc = wal_scan_dir(argv[0], wal_item, &d, &v, &err);
    if (rc != QV_OK) {
        printf("verdict: %s: %s\n",
               rc == QV_ECORRUPT ? "CORRUPT (the server would refuse it)" : "cannot read", err.msg);
        return EXIT_CORRUPT;
    }
    printf("files: %zu  good records: %" PRIu64 "  ops after recovery: ", v.files, d.records);
    if (v.last_op >= v.first_op)
        printf("%" PRIu64 "..%" PRIu64 "\n", v.first_op, v.last_op);
    else
        printf("none (next op %" PRIu64 ")\n", v.last_op + 1);
    printf("verdict: %s%s\n", v.clean ? "clean" : "recovery would ", v.clean ? "" : v.action);
    return v.clean ? EXIT_CLEAN : EXIT_REPAIR;
}

/* ---- checkpoint ---- */

/* Reads the 32-byte header of a checkpoint file (no trust needed: the
 * loader checks everything again). */
static bool read_header(const char *path, uint8_t hdr[32]) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fread(hdr, 1, 32, f) == 32;
    fclose(f);
    return ok;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int cmd_checkpoint(int argc, char **argv) {
    if (argc != 1) return EXIT_USAGE;
    char path[4096];
    uint8_t hdr[32];
    snprintf(path, sizeof path, "%s/points.dat", argv[0]);
    if (!read_header(path, hdr)) {
        printf("%s: unreadable or shorter than its header\n", path);
        return EXIT_CORRUPT;
    }
    uint32_t nvec = le32(hdr + 12);
    printf("points.dat  magic %.8s  version %u  vectors %u\n", (const char *)hdr, le32(hdr + 8),
           nvec);
    if (nvec > 64) return EXIT_CORRUPT;
    uint32_t dims[64];
    for (uint32_t vi = 0; vi < nvec; vi++) {
        snprintf(path, sizeof path, "%s/vectors-%u.dat", argv[0], vi);
        if (!read_header(path, hdr)) {
            printf("%s: unreadable or shorter than its header\n", path);
            return EXIT_CORRUPT;
        }
        dims[vi] = le32(hdr + 16);
        printf("vectors-%u.dat  magic %.8s  version %u  datatype %u  dim %u\n", vi,
               (const char *)hdr, le32(hdr + 8), le32(hdr + 12), dims[vi]);
    }
    qv_segment *seg;
    uint64_t op;
    qv_err err;
    if (qv_segment_load(argv[0], nvec, dims, &seg, &op, &err) != QV_OK) {
        printf("verdict: corrupt: %s\n", err.msg);
        return EXIT_CORRUPT;
    }
    printf("checkpoint op %" PRIu64 "  points %u\n", op, qv_segment_live_count(seg));
    for (uint32_t off = 0; off < qv_segment_size(seg) && off < 10; off++) {
        char id[48];
        qv_pointid_format(qv_segment_id(seg, off), id);
        printf("  %s  version %" PRIu64 "  payload %s\n", id, qv_segment_version(seg, off),
               qv_segment_payload(seg, off) ? "yes" : "no");
    }
    qv_segment_free(seg);
    printf("verdict: clean (every checksum verified)\n");
    return EXIT_CLEAN;
}

/* ---- dispatch ---- */

typedef struct subcommand {
    const char *name;
    const char *args;
    const char *help;
    int (*run)(int argc, char **argv); /* argv after the subcommand name */
} subcommand;

static const subcommand commands[] = {
    {"wal", "DIR", "dump a write-ahead log directory and its recovery verdict", cmd_wal},
    {"checkpoint", "DIR", "check and summarise a segment checkpoint (cp-<op>)", cmd_checkpoint},
};

static int usage(FILE *out) {
    fprintf(out, "usage: quiver-inspect COMMAND ARGS...  (read-only)\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %-6s %s\n", commands[i].name, commands[i].args, commands[i].help);
    fprintf(out, "exit status: 0 clean, 1 would be repaired on open, 2 corrupt or unreadable\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return usage(stdout), EXIT_CLEAN;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        int rc = commands[i].run(argc - 2, argv + 2);
        if (rc == EXIT_USAGE)
            fprintf(stderr, "usage: quiver-inspect %s %s\n", commands[i].name, commands[i].args);
        return rc;
    }
    fprintf(stderr, "quiver-inspect: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
