/*
 * inspect.c - quiver-inspect: read-only dumps of Quiver's on-disk files.
 *
 *   quiver-inspect wal DIR      every WAL segment header and record in DIR,
 *                               then what recovery (wal_open) would do
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
#include "storage/wal.h"

#include <inttypes.h>
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

/* ---- dispatch ---- */

typedef struct subcommand {
    const char *name;
    const char *args;
    const char *help;
    int (*run)(int argc, char **argv); /* argv after the subcommand name */
} subcommand;

static const subcommand commands[] = {
    {"wal", "DIR", "dump a write-ahead log directory and its recovery verdict", cmd_wal},
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
