/*
 * catalog.h - the table of collections and of their aliases on one node.
 *
 * Storage layout under storage_path:
 *   .quiver.lock                 held while a server runs (storage/lockfile)
 *   aliases.qva                  the alias table (collection/aliases.h)
 *   collections/<name>/          one directory per collection (see shard.c)
 *
 * Collection names are validated here (1-255 bytes, no `< > : " / \ | ? *`,
 * no NUL or control characters, not "." or ".."), so a name can never escape
 * the storage directory.  Creation writes the collection's directory under a
 * temporary name and renames it into place, so a crash never leaves a
 * half-created collection; deletion renames the directory away first, then
 * removes it.
 *
 * Aliases (Qdrant semantics): an alias is a second name for a collection,
 * accepted wherever a request names a collection to use it (points,
 * queries, info, exists, indexes: qv_catalog_acquire resolves it), but not
 * by creation and deletion of collections, which take real names.  An alias
 * never equals a collection name (creating either over the other fails), so
 * resolution is unambiguous.  Deleting a collection deletes its aliases.
 *
 * Threading: one mutex guards both tables; collections are
 * reference-counted, so a request keeps using a collection that another
 * request deletes.  Alias changes write aliases.qva under the mutex (they
 * are rare; Qdrant also locks every collection for them), so no request
 * ever sees a half-applied change.
 */
#ifndef QV_COLLECTION_CATALOG_H
#define QV_COLLECTION_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "collection/collection.h"
#include "core/err.h"

#include <stdint.h>

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

/* Deletes a collection (a real name, never an alias) and its aliases;
 * *existed tells whether there was one. */
qv_rc qv_catalog_delete(qv_catalog *cat, const char *name, bool *existed, qv_err *err);

/* The names of all collections, sorted; free with qv_catalog_names_free. */
char **qv_catalog_names(qv_catalog *cat, size_t *n);
void qv_catalog_names_free(char **names, size_t n);

/* ---- aliases ------------------------------------------------------------ */

typedef enum qv_alias_action_kind {
    QV_ALIAS_CREATE = 1, /* collection_name, alias_name */
    QV_ALIAS_DELETE = 2, /* alias_name (a missing alias is no error) */
    QV_ALIAS_RENAME = 3, /* alias_name (old), new_alias_name */
} qv_alias_action_kind;

/* One action of POST /collections/aliases (REST) or UpdateAliases (gRPC);
 * the strings are borrowed. */
typedef struct qv_alias_action {
    uint32_t kind; /* qv_alias_action_kind */
    const char *collection_name;
    const char *alias_name;
    const char *new_alias_name;
} qv_alias_action;

/* Applies the actions in order, all or nothing: each is validated against
 * the state the previous ones left, and only if every one succeeds is the
 * new table written (one durable write) and published.  Errors as Qdrant:
 * creating an alias of a missing collection -> QV_ENOTFOUND "Collection `x`
 * doesn't exist!"; an alias named like a collection -> QV_EEXISTS
 * "Collection `x` already exists!"; renaming a missing alias ->
 * QV_ENOTFOUND "Alias x does not exists!".  New alias names follow the
 * collection name rules (QV_EVALIDATION "alias_name: ..."), since an alias
 * stands in for a collection name in REST paths. */
qv_rc qv_catalog_update_aliases(qv_catalog *cat, const qv_alias_action *acts, size_t n,
                                qv_err *err);

typedef struct qv_alias_desc {
    char *alias_name;
    char *collection_name;
} qv_alias_desc;

/* The aliases of collection (NULL = of every collection), sorted by alias;
 * free with qv_catalog_aliases_free.  NULL with *n = 0 when there are none
 * or memory ran out. */
qv_alias_desc *qv_catalog_aliases(qv_catalog *cat, const char *collection, size_t *n);
void qv_catalog_aliases_free(qv_alias_desc *a, size_t n);

/* ---- lookups ---------------------------------------------------------------- */

/* A counted reference to a collection by name or alias, or NULL if
 * neither exists. */
qv_collection *qv_catalog_acquire(qv_catalog *cat, const char *name);
void qv_collection_release(qv_collection *c);

#endif
