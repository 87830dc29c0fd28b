/*
 * aliases.h - the alias table of a node (alias name -> collection name) and
 * its file, aliases.qva in the storage directory.
 *
 * What: a sorted array of pairs with copy / set / remove / rename, and the
 * load and save of the whole table.  The catalog (catalog.c) owns the one
 * live table, changes a copy, saves the copy and only then swaps it in, so a
 * failed validation or a failed write changes nothing.
 *
 * File: the envelope of collection_impl.h (magic "QVALIASE", version 1,
 * body length, CRC-32C of the body) around a JSON object
 * {"<alias>": "<collection>", ...}, replaced atomically (tmp, fsync, rename,
 * fsync(dir)).  A missing file is an empty table; a wrong magic or version,
 * a truncated file, a bad checksum, a body that is not an object of
 * non-empty strings without NUL bytes, or a repeated alias is QV_ECORRUPT:
 * the table is never half-read.
 *
 * Threading: none; the catalog's mutex protects the live table.
 */
#ifndef QV_COLLECTION_ALIASES_H
#define QV_COLLECTION_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define QV_ALIASES_FILE  "aliases.qva"
#define QV_ALIASES_MAGIC "QVALIASE"

typedef struct qv_alias {
    char *alias;
    char *collection;
} qv_alias;

/* Sorted by alias; each alias at most once. */
typedef struct qv_alias_table {
    qv_alias *items;
    size_t n, cap;
} qv_alias_table;

void qv_alias_table_free(qv_alias_table *t);
/* Deep copy into dst (uninitialised); false on OOM (dst left empty). */
bool qv_alias_table_copy(qv_alias_table *dst, const qv_alias_table *src);

/* The collection alias names, or NULL (borrowed from the table). */
const char *qv_alias_table_get(const qv_alias_table *t, const char *alias);
/* Adds or repoints alias; false on OOM (table unchanged). */
bool qv_alias_table_set(qv_alias_table *t, const char *alias, const char *collection);
/* Removes alias; false when there was none. */
bool qv_alias_table_remove(qv_alias_table *t, const char *alias);
/* Removes every alias of collection; returns how many. */
size_t qv_alias_table_remove_collection(qv_alias_table *t, const char *collection);

/* Reads dir/aliases.qva into *out (uninitialised); no file = empty. */
qv_rc qv_alias_table_load(const char *dir, qv_alias_table *out, qv_err *err);
/* Replaces dir/aliases.qva with t, durably. */
qv_rc qv_alias_table_save(const qv_alias_table *t, const char *dir, qv_err *err);

#endif
