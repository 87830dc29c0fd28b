/*
 * aliases.c - the alias table and aliases.qva (see aliases.h).
 *
 * A sorted array searched by bisection: nodes hold few aliases, listing
 * wants them in order, and the catalog copies the whole table for every
 * change (an alias update is all-or-nothing, see catalog.c).
 */
#include "collection/aliases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/collection_impl.h"
#include "core/json.h"

void qv_alias_table_free(qv_alias_table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].alias);
        free(t->items[i].collection);
    }
    free(t->items);
    memset(t, 0, sizeof *t);
}

bool qv_alias_table_copy(qv_alias_table *dst, const qv_alias_table *src) {
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n; i++)
        if (!qv_alias_table_set(dst, src->items[i].alias, src->items[i].collection)) {
            qv_alias_table_free(dst);
            return false;
        }
    return true;
}

/* Position of alias, or where it would be inserted (*found tells which). */
static size_t find(const qv_alias_table *t, const char *alias, bool *found) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->items[mid].alias, alias);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *qv_alias_table_get(const qv_alias_table *t, const char *alias) {
    bool found;
    size_t at = find(t, alias, &found);
    return found ? t->items[at].collection : NULL;
}

bool qv_alias_table_set(qv_alias_table *t, const char *alias, const char *collection) {
    bool found;
    size_t at = find(t, alias, &found);
    char *coll = strdup(collection);
    if (!coll) return false;
    if (found) { /* Qdrant repoints an existing alias silently */
        free(t->items[at].collection);
        t->items[at].collection = coll;
        return true;
    }
    char *a = strdup(alias);
    if (a && t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        qv_alias *items = realloc(t->items, cap * sizeof *items);
        if (items) t->items = items, t->cap = cap;
    }
    if (!a || t->n == t->cap) {
        free(a);
        free(coll);
        return false;
    }
    memmove(&t->items[at + 1], &t->items[at], (t->n - at) * sizeof *t->items);
    t->items[at] = (qv_alias){a, coll};
    t->n++;
    return true;
}

static void remove_at(qv_alias_table *t, size_t at) {
    free(t->items[at].alias);
    free(t->items[at].collection);
    memmove(&t->items[at], &t->items[at + 1], (t->n - at - 1) * sizeof *t->items);
    t->n--;
}

bool qv_alias_table_remove(qv_alias_table *t, const char *alias) {
    bool found;
    size_t at = find(t, alias, &found);
    if (found) remove_at(t, at);
    return found;
}

size_t qv_alias_table_remove_collection(qv_alias_table *t, const char *collection) {
    size_t k = 0;
    for (size_t i = t->n; i-- > 0;)
        if (strcmp(t->items[i].collection, collection) == 0) {
            remove_at(t, i);
            k++;
        }
    return k;
}

/* ---- the file ----------------------------------------------------------------- */

qv_rc qv_alias_table_save(const qv_alias_table *t, const char *dir, qv_err *err) {
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    for (size_t i = 0; i < t->n; i++) {
        jw_key(&w, t->items[i].alias);
        jw_str(&w, t->items[i].collection);
    }
    jw_obj_end(&w);
    qv_rc rc = w.oom ? qv_fail(err, QV_ENOMEM, "out of memory")
                     : qv_envelope_write(dir, QV_ALIASES_FILE, QV_ALIASES_MAGIC, w.buf, w.len, err);
    jw_free(&w);
    return rc;
}

/* A name as the file may hold one: non-empty, no NUL byte. */
static bool good_name(const char *s, size_t len) {
    return len > 0 && strlen(s) == len;
}

static qv_rc load_body(const char *path, const char *body, size_t len, qv_alias_table *out,
                       qv_err *err) {
    qv_arena a;
    qv_arena_init(&a);
    jv root;
    qv_err e2;
    qv_rc rc = jv_parse(&a, body, len, &root, &e2);
    if (rc || root.type != JV_OBJ) rc = qv_fail(err, QV_ECORRUPT, "%s: not a JSON object", path);
    for (uint32_t i = 0; !rc && i < root.len; i++) {
        const jv_member *m = &root.v.members[i];
        if (m->val.type != JV_STR || !good_name(m->key, m->klen) ||
            !good_name(m->val.v.s, m->val.len))
            rc = qv_fail(err, QV_ECORRUPT, "%s: malformed alias entry", path);
        else if (qv_alias_table_get(out, m->key))
            rc = qv_fail(err, QV_ECORRUPT, "%s: alias `%.200s` twice", path, m->key);
        else if (!qv_alias_table_set(out, m->key, m->val.v.s))
            rc = qv_fail(err, QV_ENOMEM, "out of memory");
    }
    qv_arena_free(&a);
    return rc;
}

qv_rc qv_alias_table_load(const char *dir, qv_alias_table *out, qv_err *err) {
    memset(out, 0, sizeof *out);
    char path[4200];
    snprintf(path, sizeof path, "%s/" QV_ALIASES_FILE, dir);
    char *body = NULL;
    size_t len = 0;
    qv_err e2;
    qv_rc rc = qv_envelope_read(path, QV_ALIASES_MAGIC, &body, &len, &e2);
    if (rc == QV_ENOTFOUND) return QV_OK; /* no alias was ever created */
    if (rc) return qv_fail(err, rc, "%s", e2.msg);
    rc = load_body(path, body, len, out, err);
    free(body);
    if (rc) qv_alias_table_free(out);
    return rc;
}
