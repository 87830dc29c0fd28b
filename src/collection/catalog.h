/*
 * catalog.h - the table of collections (and, later, aliases) of one node.
 *
 * Storage layout under storage_path:
 *   .quiver.lock                 held while a server runs (storage/lockfile)
 *   collections/<name>/          one directory per collection (see shard.c)
 *
 * Collection names are validated here (1-255 bytes, no `< > : " / \ | ? *`,
 * no NUL or control characters, not "." or ".."), so a name can never escape
 * the storage directory.  Creation writes the collection's directory under a
 * temporary name and renames it into place, so a crash never leaves a
 * half-created collection; deletion renames the directory away first, then
 * removes it.
 *
 * Threading: one mutex guards the table; collections are reference-counted,
 * so a request keeps using a collection that another request deletes.
 */
#ifndef QV_COLLECTION_CATALOG_H
#define QV_COLLECTION_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "collection/collection.h"
#include "core/err.h"

typedef struct qv_catalog qv_catalog;

typedef struct qv_catalog_opts {
    const char *storage_path;
    uint64_t flush_interval_sec; /* WAL fsync period for wait=false writes */
    uint64_t wal_capacity_mb;    /* default WAL segment size */
} qv_catalog_opts;

/* Loads every collection found in storage (replaying WALs).  A collection
 * that fails to load is kept in the table as broken (status red) rather
 * than stopping the server. Starts the background flush thread. */
qv_rc qv_catalog_open(const qv_catalog_opts *opts, qv_catalog **out, qv_err *err);

/* Stops the flush thread, checkpoints and closes every collection. */
void qv_catalog_close(qv_catalog *cat);

/* Validates a collection name for creation (see the top of this file). */
qv_rc qv_catalog_check_name(const char *name, qv_err *err);

/* Creates a collection; QV_EEXISTS if the name is taken.  Takes ownership
 * of *cfg's contents on success (cfg is left empty). */
qv_rc qv_catalog_create(qv_catalog *cat, const char *name, qv_collection_config *cfg, qv_err *err);

/* Deletes a collection; *existed tells whether there was one. */
qv_rc qv_catalog_delete(qv_catalog *cat, const char *name, bool *existed, qv_err *err);

/* The names of all collections, sorted; free with qv_catalog_names_free. */
char **qv_catalog_names(qv_catalog *cat, size_t *n);
void qv_catalog_names_free(char **names, size_t n);

/* A counted reference to a collection by name, or NULL if absent. */
qv_collection *qv_catalog_acquire(qv_catalog *cat, const char *name);
void qv_collection_release(qv_collection *c);

#endif
