/*
 * catalog.c - the table of collections and the background flusher.
 *
 * The table is a small array guarded by one mutex (collections number in
 * the tens to thousands; lookups are a linear scan under the mutex, far
 * cheaper than the request around them).  Each entry holds a reference.
 *
 * Aliases live in a second small table under the same mutex
 * (collection/aliases.h); see catalog.h for their rules.
 *
 * The flush thread wakes every second: it fsyncs every WAL whose
 * flush_interval_sec has passed (so wait=false writes become durable
 * within that period, as Qdrant promises) and checkpoints collections
 * whose WAL grew past wal_capacity_mb.
 *
 * The optimizer thread wakes every quarter second and runs, one at a time,
 * the optimizations collections have due (collection/optimizer.c); an
 * optimization builds its graphs on max_indexing_threads threads of its
 * own.  Shutdown waits for a running optimization to finish.
 */
#include "collection/catalog.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collection/aliases.h"
#include "collection/collection_impl.h"
#include "core/log.h"

struct qv_catalog {
    char *root;    /* <storage>/collections */
    char *storage; /* <storage>: aliases.qva lives here */
    pthread_mutex_t mu;
    qv_collection **items;
    size_t n, cap;
    qv_alias_table aliases; /* under mu */
    uint64_t flush_interval_sec;
    pthread_t flusher, optimizer;
    pthread_cond_t wake;
    bool stopping, flusher_started, optimizer_started;
};

/* The name rules of collections, for the request field `field`
 * ("collection_name", or "alias_name": an alias must be usable wherever a
 * collection name is, REST paths included). */
static qv_rc check_name_as(const char *name, const char *field, qv_err *err) {
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return qv_fail(err, QV_EVALIDATION, "%s: length must be between 1 and 255 characters",
                       field);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return qv_fail(err, QV_EVALIDATION, "%s: invalid collection name", field);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || strchr("<>:\"/\\|?*", ch))
            return qv_fail(err, QV_EVALIDATION,
                           "%s: collection name cannot contain \"/\", \"\\\", "
                           "\"<\", \">\", \":\", \"\"\", \"|\", \"?\", \"*\" or control "
                           "characters",
                           field);
    }
    return QV_OK;
}

qv_rc qv_catalog_check_name(const char *name, qv_err *err) {
    return check_name_as(name, "collection_name", err);
}

static ssize_t find_locked(qv_catalog *cat, const char *name) {
    for (size_t i = 0; i < cat->n; i++)
        if (strcmp(cat->items[i]->name, name) == 0) return (ssize_t)i;
    return -1;
}

static bool add_locked(qv_catalog *cat, qv_collection *c) {
    if (cat->n == cat->cap) {
        size_t cap = cat->cap ? cat->cap * 2 : 16;
        qv_collection **p = realloc(cat->items, sizeof(*p) * cap);
        if (!p) return false;
        cat->items = p;
        cat->cap = cap;
    }
    cat->items[cat->n++] = c;
    return true;
}

/* ---- flush thread ------------------------------------------------------------- */

/* The collections, each with a reference taken (NULL on OOM). */
static qv_collection **snapshot(qv_catalog *cat, size_t *n) {
    pthread_mutex_lock(&cat->mu);
    *n = cat->n;
    qv_collection **list = malloc(sizeof(*list) * (*n ? *n : 1));
    for (size_t i = 0; list && i < *n; i++) {
        list[i] = cat->items[i];
        atomic_fetch_add(&list[i]->refs, 1);
    }
    pthread_mutex_unlock(&cat->mu);
    return list;
}

static void flush_all(qv_catalog *cat) {
    size_t n;
    qv_collection **list = snapshot(cat, &n);
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        qv_err err;
        if (qv_collection_flush(list[i], false, &err) != QV_OK)
            QV_LOG_ERROR("collection %s: flush failed: %s", list[i]->name, err.msg);
        qv_collection_release(list[i]);
    }
    free(list);
}

static void *flusher_main(void *arg) {
    qv_catalog *cat = arg;
    time_t last = time(NULL);
    pthread_mutex_lock(&cat->mu);
    while (!cat->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&cat->wake, &cat->mu, &ts);
        if (cat->stopping) break;
        time_t now = time(NULL);
        if ((uint64_t)(now - last) < cat->flush_interval_sec) continue;
        last = now;
        pthread_mutex_unlock(&cat->mu);
        flush_all(cat);
        pthread_mutex_lock(&cat->mu);
    }
    pthread_mutex_unlock(&cat->mu);
    return NULL;
}

/* ---- optimizer thread ------------------------------------------------------------ */

static bool stopping(qv_catalog *cat) {
    pthread_mutex_lock(&cat->mu);
    bool s = cat->stopping;
    pthread_mutex_unlock(&cat->mu);
    return s;
}

static void *optimizer_main(void *arg) {
    qv_catalog *cat = arg;
    while (!stopping(cat)) {
        size_t n;
        qv_collection **list = snapshot(cat, &n);
        bool any = false;
        for (size_t i = 0; list && i < n; i++) {
            bool did = false;
            qv_err err;
            if (!stopping(cat) && qv_collection_optimize(list[i], &did, &err) != QV_OK)
                QV_LOG_ERROR("collection %s: optimization failed: %s", list[i]->name, err.msg);
            any |= did;
            qv_collection_release(list[i]);
        }
        free(list);
        if (any) continue; /* more may be due */
        pthread_mutex_lock(&cat->mu);
        if (!cat->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&cat->wake, &cat->mu, &ts);
        }
        pthread_mutex_unlock(&cat->mu);
    }
    return NULL;
}

/* ---- open / close -------------------------------------------------------------- */

static qv_rc mkdirs(const char *path, qv_err *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return qv_fail(err, QV_EIO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return qv_fail(err, QV_EIO, "cannot create %s: %s", buf, strerror(errno));
    return QV_OK;
}

/* Loads every collection directory; leftovers of interrupted creations and
 * deletions (QV_TEMP_PREFIX...) are removed. */
static qv_rc load_all(qv_catalog *cat, qv_err *err) {
    DIR *d = opendir(cat->root);
    if (!d) return qv_fail(err, QV_EIO, "cannot open %s: %s", cat->root, strerror(errno));
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", cat->root, e->d_name);
        if (strncmp(e->d_name, QV_TEMP_PREFIX, strlen(QV_TEMP_PREFIX)) == 0) {
            qv_rmtree(path); /* an interrupted creation or deletion */
            continue;
        }
        qv_collection *c;
        qv_err e2;
        qv_rc rc = qv_collection_open(path, e->d_name, &c, &e2);
        if (rc) QV_LOG_ERROR("collection %s failed to load: %s", e->d_name, e2.msg);
        if (c && !add_locked(cat, c))
            qv_collection_destroy(c);
        else if (c)
            QV_LOG_INFO("loaded collection %s (%" PRIu64 " points, %u segments)", c->name,
                        c->broken ? 0 : qv_shard_live(c), c->nsegs);
    }
    closedir(d);
    return QV_OK;
}

/* Reads aliases.qva.  A damaged file stops the start (the aliases would
 * otherwise be lost silently); an alias whose collection is gone (it cannot
 * happen through the API: deletion removes aliases first) is dropped. */
static qv_rc load_aliases(qv_catalog *cat, qv_err *err) {
    qv_rc rc = qv_alias_table_load(cat->storage, &cat->aliases, err);
    if (rc) return rc;
    for (size_t i = cat->aliases.n; i-- > 0;) {
        const qv_alias *a = &cat->aliases.items[i];
        if (find_locked(cat, a->collection) >= 0) continue;
        QV_LOG_ERROR("alias %s names the missing collection %s: dropped", a->alias, a->collection);
        qv_alias_table_remove(&cat->aliases, a->alias);
    }
    return QV_OK;
}

qv_rc qv_catalog_open(const qv_catalog_opts *opts, qv_catalog **out, qv_err *err) {
    qv_catalog *cat = calloc(1, sizeof *cat);
    if (!cat) return qv_fail(err, QV_ENOMEM, "out of memory");
    size_t n = strlen(opts->storage_path) + 16;
    cat->root = malloc(n);
    if (!cat->root) {
        free(cat);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    snprintf(cat->root, n, "%s/collections", opts->storage_path);
    cat->storage = strdup(opts->storage_path);
    cat->flush_interval_sec = opts->flush_interval_sec ? opts->flush_interval_sec : 5;
    pthread_mutex_init(&cat->mu, NULL);
    pthread_cond_init(&cat->wake, NULL);
    qv_rc rc = cat->storage ? mkdirs(cat->root, err) : qv_fail(err, QV_ENOMEM, "out of memory");
    if (!rc) rc = load_all(cat, err);
    if (!rc) rc = load_aliases(cat, err);
    if (!rc && pthread_create(&cat->flusher, NULL, flusher_main, cat) != 0)
        rc = qv_fail(err, QV_EINTERNAL, "cannot start the flush thread");
    if (rc) {
        qv_catalog_close(cat);
        return rc;
    }
    cat->flusher_started = true;
    if (pthread_create(&cat->optimizer, NULL, optimizer_main, cat) != 0) {
        qv_catalog_close(cat);
        return qv_fail(err, QV_EINTERNAL, "cannot start the optimizer thread");
    }
    cat->optimizer_started = true;
    *out = cat;
    return QV_OK;
}

void qv_catalog_close(qv_catalog *cat) {
    if (!cat) return;
    pthread_mutex_lock(&cat->mu);
    cat->stopping = true;
    /* a graph build in progress stops within an insert instead of finishing */
    for (size_t i = 0; i < cat->n; i++) atomic_store(&cat->items[i]->halt, true);
    pthread_cond_broadcast(&cat->wake);
    pthread_mutex_unlock(&cat->mu);
    if (cat->flusher_started) pthread_join(cat->flusher, NULL);
    if (cat->optimizer_started) pthread_join(cat->optimizer, NULL);
    for (size_t i = 0; i < cat->n; i++) qv_collection_release(cat->items[i]);
    free(cat->items);
    qv_alias_table_free(&cat->aliases);
    free(cat->storage);
    pthread_mutex_destroy(&cat->mu);
    pthread_cond_destroy(&cat->wake);
    free(cat->root);
    free(cat);
}

/* ---- the table ----------------------------------------------------------------- */

qv_rc qv_catalog_create(qv_catalog *cat, const char *name, qv_collection_config *cfg, qv_err *err) {
    qv_rc rc = qv_catalog_check_name(name, err);
    if (rc) return rc;
    pthread_mutex_lock(&cat->mu);
    if (find_locked(cat, name) >= 0) {
        pthread_mutex_unlock(&cat->mu);
        return qv_fail(err, QV_EEXISTS, "Collection `%s` already exists!", name);
    }
    if (qv_alias_table_get(&cat->aliases, name)) {
        pthread_mutex_unlock(&cat->mu);
        return qv_fail(err, QV_EBADINPUT,
                       "Can't create collection with name %s. Alias with the same name already "
                       "exists",
                       name);
    }
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/%s", cat->root, name);
    qv_collection *c = NULL;
    rc = qv_collection_create_at(dir, name, cfg, &c, err);
    if (rc == QV_OK && !add_locked(cat, c)) {
        atomic_store(&c->dropped, true);
        qv_collection_destroy(c);
        rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&cat->mu);
    if (rc == QV_OK) qv_collection_config_free(cfg);
    return rc;
}

/* Removes the aliases of collection name and saves the table if any went. */
static qv_rc drop_aliases_locked(qv_catalog *cat, const char *name, qv_err *err) {
    qv_alias_table next;
    if (!qv_alias_table_copy(&next, &cat->aliases)) return qv_fail(err, QV_ENOMEM, "out of memory");
    qv_rc rc = QV_OK;
    if (qv_alias_table_remove_collection(&next, name) > 0)
        rc = qv_alias_table_save(&next, cat->storage, err);
    if (rc == QV_OK) {
        qv_alias_table_free(&cat->aliases);
        cat->aliases = next;
    } else {
        qv_alias_table_free(&next);
    }
    return rc;
}

qv_rc qv_catalog_delete(qv_catalog *cat, const char *name, bool *existed, qv_err *err) {
    pthread_mutex_lock(&cat->mu);
    ssize_t i = find_locked(cat, name);
    *existed = i >= 0;
    if (i < 0) {
        pthread_mutex_unlock(&cat->mu);
        return QV_OK;
    }
    /* Its aliases go first (one durable write), as in Qdrant; if that
     * write fails nothing has changed. */
    qv_rc rc = drop_aliases_locked(cat, name, err);
    if (rc) {
        pthread_mutex_unlock(&cat->mu);
        return rc;
    }
    qv_collection *c = cat->items[i];
    cat->items[i] = cat->items[--cat->n];
    /* Rename first, so a crash before the removal finishes never brings
     * the collection back; the last reference removes the directory. */
    char gone[4400];
    qv_temp_sibling(c->dir, "delete", gone, sizeof gone);
    /* c->dir changes under the collection's lock: its users (checkpoints,
     * an optimizer taking its copy) hold that lock while they read it */
    pthread_rwlock_wrlock(&c->lock);
    char *moved = strdup(gone);
    if (moved && rename(c->dir, gone) == 0) {
        free(c->dir);
        c->dir = moved;
        moved = NULL;
        qv_fsync_dir(cat->root);
    }
    free(moved);
    atomic_store(&c->dropped, true);
    atomic_store(&c->halt, true);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&cat->mu);
    qv_collection_release(c);
    return QV_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **qv_catalog_names(qv_catalog *cat, size_t *n) {
    pthread_mutex_lock(&cat->mu);
    char **names = calloc(cat->n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; names && i < cat->n; i++)
        if ((names[k] = strdup(cat->items[i]->name))) k++;
    pthread_mutex_unlock(&cat->mu);
    if (names) qsort(names, k, sizeof(char *), cmp_str);
    *n = k;
    return names;
}

void qv_catalog_names_free(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

qv_collection *qv_catalog_acquire(qv_catalog *cat, const char *name) {
    pthread_mutex_lock(&cat->mu);
    const char *target = qv_alias_table_get(&cat->aliases, name);
    ssize_t i = find_locked(cat, target ? target : name);
    qv_collection *c = i >= 0 ? cat->items[i] : NULL;
    if (c) atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&cat->mu);
    return c;
}

void qv_collection_release(qv_collection *c) {
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) qv_collection_destroy(c);
}

/* ---- aliases -------------------------------------------------------------------- */

/* Applies one action to next (the copy being built). */
static qv_rc alias_apply_locked(qv_catalog *cat, qv_alias_table *next, const qv_alias_action *a,
                                qv_err *err) {
    const char *name = a->kind == QV_ALIAS_RENAME ? a->new_alias_name : a->alias_name;
    if (!a->alias_name || (a->kind == QV_ALIAS_CREATE && !a->collection_name) ||
        (a->kind == QV_ALIAS_RENAME && !name))
        return qv_fail(err, QV_EBADINPUT, "incomplete alias operation");
    qv_rc rc = a->kind == QV_ALIAS_DELETE ? QV_OK : check_name_as(name, "alias_name", err);
    if (rc) return rc;
    switch (a->kind) {
    case QV_ALIAS_CREATE:
        /* the target must be a collection, not an alias */
        if (find_locked(cat, a->collection_name) < 0)
            return qv_fail(err, QV_ENOTFOUND, "Collection `%.300s` doesn't exist!",
                           a->collection_name);
        break;
    case QV_ALIAS_DELETE:
        qv_alias_table_remove(next, a->alias_name); /* "delete alias if exists" */
        return QV_OK;
    case QV_ALIAS_RENAME:
        if (!qv_alias_table_get(next, a->alias_name))
            return qv_fail(err, QV_ENOTFOUND, "Alias %.300s does not exists!", a->alias_name);
        break;
    default:
        return qv_fail(err, QV_EBADINPUT, "unknown alias operation");
    }
    /* An alias never shadows a collection.  (Qdrant checks this on create
     * only; a rename onto a collection name would make that collection
     * unreachable by its own name, so it is refused the same way.) */
    if (find_locked(cat, name) >= 0)
        return qv_fail(err, QV_EEXISTS, "Collection `%.300s` already exists!", name);
    const char *target =
        a->kind == QV_ALIAS_CREATE ? a->collection_name : qv_alias_table_get(next, a->alias_name);
    char *t = strdup(target);
    bool ok = t && qv_alias_table_set(next, name, t);
    if (ok && a->kind == QV_ALIAS_RENAME && strcmp(a->alias_name, name) != 0)
        qv_alias_table_remove(next, a->alias_name);
    free(t);
    return ok ? QV_OK : qv_fail(err, QV_ENOMEM, "out of memory");
}

qv_rc qv_catalog_update_aliases(qv_catalog *cat, const qv_alias_action *acts, size_t n,
                                qv_err *err) {
    qv_alias_table next;
    pthread_mutex_lock(&cat->mu);
    qv_rc rc = qv_alias_table_copy(&next, &cat->aliases) ? QV_OK
                                                         : qv_fail(err, QV_ENOMEM, "out of memory");
    for (size_t i = 0; rc == QV_OK && i < n; i++)
        rc = alias_apply_locked(cat, &next, &acts[i], err);
    if (rc == QV_OK) rc = qv_alias_table_save(&next, cat->storage, err);
    if (rc == QV_OK) {
        qv_alias_table_free(&cat->aliases);
        cat->aliases = next;
    } else {
        qv_alias_table_free(&next);
    }
    pthread_mutex_unlock(&cat->mu);
    return rc;
}

qv_alias_desc *qv_catalog_aliases(qv_catalog *cat, const char *collection, size_t *n) {
    pthread_mutex_lock(&cat->mu);
    const qv_alias_table *t = &cat->aliases;
    qv_alias_desc *out = calloc(t->n + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; out && i < t->n; i++) {
        if (collection && strcmp(t->items[i].collection, collection) != 0) continue;
        out[k].alias_name = strdup(t->items[i].alias);
        out[k].collection_name = strdup(t->items[i].collection);
        if (out[k].alias_name && out[k].collection_name) {
            k++;
        } else {
            free(out[k].alias_name);
            free(out[k].collection_name);
        }
    }
    pthread_mutex_unlock(&cat->mu);
    *n = k;
    return out;
}

void qv_catalog_aliases_free(qv_alias_desc *a, size_t n) {
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].alias_name);
        free(a[i].collection_name);
    }
    free(a);
}
