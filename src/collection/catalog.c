/*
 * catalog.c - the table of collections and the background flusher.
 *
 * The table is a small array guarded by one mutex (collections number in
 * the tens to thousands; lookups are a linear scan under the mutex, far
 * cheaper than the request around them).  Each entry holds a reference.
 *
 * The flush thread wakes every second: it fsyncs every WAL whose
 * flush_interval_sec has passed (so wait=false writes become durable
 * within that period, as Qdrant promises) and checkpoints collections
 * whose WAL grew past wal_capacity_mb.
 */
#include "collection/catalog.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collection/collection_impl.h"
#include "core/log.h"

struct qv_catalog {
    char *root; /* <storage>/collections */
    pthread_mutex_t mu;
    qv_collection **items;
    size_t n, cap;
    uint64_t flush_interval_sec;
    pthread_t flusher;
    pthread_cond_t wake;
    bool stopping, flusher_started;
};

qv_rc qv_catalog_check_name(const char *name, qv_err *err) {
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return qv_fail(err, QV_EVALIDATION,
                       "collection_name: length must be between 1 and 255 characters");
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return qv_fail(err, QV_EVALIDATION, "collection_name: invalid collection name");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || strchr("<>:\"/\\|?*", ch))
            return qv_fail(err, QV_EVALIDATION,
                           "collection_name: collection name cannot contain \"/\", \"\\\", "
                           "\"<\", \">\", \":\", \"\"\", \"|\", \"?\", \"*\" or control "
                           "characters");
    }
    return QV_OK;
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

static void flush_all(qv_catalog *cat) {
    pthread_mutex_lock(&cat->mu);
    size_t n = cat->n;
    qv_collection **list = malloc(sizeof(*list) * (n ? n : 1));
    for (size_t i = 0; list && i < n; i++) {
        list[i] = cat->items[i];
        atomic_fetch_add(&list[i]->refs, 1);
    }
    pthread_mutex_unlock(&cat->mu);
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
            QV_LOG_INFO("loaded collection %s (%u points)", c->name,
                        c->seg ? qv_segment_live_count(c->seg) : 0);
    }
    closedir(d);
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
    cat->flush_interval_sec = opts->flush_interval_sec ? opts->flush_interval_sec : 5;
    pthread_mutex_init(&cat->mu, NULL);
    pthread_cond_init(&cat->wake, NULL);
    qv_rc rc = mkdirs(cat->root, err);
    if (!rc) rc = load_all(cat, err);
    if (!rc && pthread_create(&cat->flusher, NULL, flusher_main, cat) != 0)
        rc = qv_fail(err, QV_EINTERNAL, "cannot start the flush thread");
    if (rc) {
        qv_catalog_close(cat);
        return rc;
    }
    cat->flusher_started = true;
    *out = cat;
    return QV_OK;
}

void qv_catalog_close(qv_catalog *cat) {
    if (!cat) return;
    pthread_mutex_lock(&cat->mu);
    cat->stopping = true;
    pthread_cond_broadcast(&cat->wake);
    pthread_mutex_unlock(&cat->mu);
    if (cat->flusher_started) pthread_join(cat->flusher, NULL);
    for (size_t i = 0; i < cat->n; i++) qv_collection_release(cat->items[i]);
    free(cat->items);
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

qv_rc qv_catalog_delete(qv_catalog *cat, const char *name, bool *existed, qv_err *err) {
    pthread_mutex_lock(&cat->mu);
    ssize_t i = find_locked(cat, name);
    *existed = i >= 0;
    if (i < 0) {
        pthread_mutex_unlock(&cat->mu);
        return QV_OK;
    }
    qv_collection *c = cat->items[i];
    cat->items[i] = cat->items[--cat->n];
    /* Rename first, so a crash before the removal finishes never brings
     * the collection back; the last reference removes the directory. */
    char gone[4400];
    qv_temp_sibling(c->dir, "delete", gone, sizeof gone);
    if (rename(c->dir, gone) == 0) {
        free(c->dir);
        c->dir = strdup(gone);
        qv_fsync_dir(cat->root);
    }
    atomic_store(&c->dropped, true);
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
    ssize_t i = find_locked(cat, name);
    qv_collection *c = i >= 0 ? cat->items[i] : NULL;
    if (c) atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&cat->mu);
    return c;
}

void qv_collection_release(qv_collection *c) {
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) qv_collection_destroy(c);
}
