/*
 * payload_edit.c - copy-on-write edits of payload documents (see header).
 *
 * Both edits walk the key path and rebuild only the spine they touch: at
 * each level the object (or array) is copied member by member into the new
 * document's arena, with the member on the path replaced by the edited
 * child.  A `[]` segment applies the rest of the path to every element of
 * an array, `[n]` to one element.
 */
#include "collection/payload_edit.h"

#include <stdlib.h>
#include <string.h>

typedef struct edit {
    qv_arena *a;
    const jv *patch; /* merge: members to set */
    bool remove;     /* remove the last segment instead of merging */
    bool oom;
} edit;

static jv empty_object(void) {
    jv o;
    memset(&o, 0, sizeof o);
    o.type = JV_OBJ;
    return o;
}

/* Shallow merge: obj's members not in patch, then patch's members. */
static jv merge_members(edit *e, const jv *obj) {
    const jv *patch = e->patch;
    uint32_t n = 0, cap = obj->len + patch->len;
    jv out = empty_object();
    jv_member *m = qv_arena_alloc(e->a, sizeof(jv_member) * (cap ? cap : 1));
    if (!m) {
        e->oom = true;
        return out;
    }
    for (uint32_t i = 0; i < obj->len; i++) {
        const jv_member *om = &obj->v.members[i];
        if (jv_getn(patch, om->key, om->klen)) continue;
        m[n++] = *om;
    }
    for (uint32_t i = 0; i < patch->len; i++) {
        bool dup = false; /* keep the last of duplicate keys only */
        for (uint32_t k = i + 1; k < patch->len && !dup; k++)
            dup = patch->v.members[k].klen == patch->v.members[i].klen &&
                  memcmp(patch->v.members[k].key, patch->v.members[i].key,
                         patch->v.members[i].klen) == 0;
        if (!dup) m[n++] = patch->v.members[i];
    }
    out.len = n;
    out.v.members = m;
    return out;
}

static jv edit_at(edit *e, const jv *node, const qv_keypath *p, uint32_t i);

/* Replaces (or adds, or with remove drops) member name of obj. */
static jv edit_member(edit *e, const jv *obj, const qv_keypath *p, uint32_t i) {
    const qv_keypath_seg *seg = &p->segs[i];
    bool last = i + 1 == p->nseg;
    jv out = empty_object();
    jv_member *m = qv_arena_alloc(e->a, sizeof(jv_member) * (obj->len + 1));
    if (!m) {
        e->oom = true;
        return out;
    }
    uint32_t n = 0;
    bool found = false;
    for (uint32_t k = 0; k < obj->len; k++) {
        const jv_member *om = &obj->v.members[k];
        bool hit = om->klen == seg->len && memcmp(om->key, seg->name, seg->len) == 0;
        if (!hit) {
            m[n++] = *om;
            continue;
        }
        found = true;
        if (e->remove && last) continue;
        m[n] = *om;
        m[n++].val = edit_at(e, &om->val, p, i + 1);
    }
    if (!found && !e->remove) {
        jv nothing;
        memset(&nothing, 0, sizeof nothing);
        m[n].key = seg->name;
        m[n].klen = seg->len;
        m[n++].val = edit_at(e, &nothing, p, i + 1);
    }
    out.len = n;
    out.v.members = m;
    return out;
}

static jv edit_elements(edit *e, const jv *arr, const qv_keypath *p, uint32_t i) {
    const qv_keypath_seg *seg = &p->segs[i];
    jv out = *arr;
    jv *items = qv_arena_alloc(e->a, sizeof(jv) * (arr->len ? arr->len : 1));
    if (!items) {
        e->oom = true;
        return out;
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < arr->len; k++) {
        bool hit = seg->kind == QV_KEYPATH_ALL || seg->index == k;
        if (hit && e->remove && i + 1 == p->nseg) continue;
        items[n++] = hit ? edit_at(e, &arr->v.items[k], p, i + 1) : arr->v.items[k];
    }
    out.len = n;
    out.v.items = items;
    return out;
}

/* The edited version of node, where node sits at path segment i. */
static jv edit_at(edit *e, const jv *node, const qv_keypath *p, uint32_t i) {
    if (!p || i == p->nseg) {
        if (e->remove) return *node; /* unreachable: removal happens one level up */
        jv base = node->type == JV_OBJ ? *node : empty_object();
        return merge_members(e, &base);
    }
    const qv_keypath_seg *seg = &p->segs[i];
    if (seg->kind == QV_KEYPATH_KEY) {
        if (node->type == JV_OBJ) return edit_member(e, node, p, i);
        if (e->remove) return *node;
        jv base = empty_object();
        return edit_member(e, &base, p, i);
    }
    if (node->type == JV_ARR) return edit_elements(e, node, p, i);
    if (e->remove) return *node; /* [] or [n] on a non-array: nothing to remove */
    /* setting through [] or [n] where there is no array makes it an empty
     * one (as Qdrant's JSON paths do): no element to set into */
    jv arr;
    memset(&arr, 0, sizeof arr);
    arr.type = JV_ARR;
    return arr;
}

static qv_payload *finish(qv_arena *a, jv root) {
    qv_payload *doc = qv_payload_new(&root);
    qv_arena_free(a);
    return doc;
}

qv_payload *qv_payload_merge(const jv *old, const jv *patch, const qv_keypath *key) {
    qv_arena a;
    qv_arena_init(&a);
    edit e = {&a, patch, false, false};
    jv base = old ? *old : empty_object();
    jv root = edit_at(&e, &base, key, 0);
    if (e.oom) {
        qv_arena_free(&a);
        return NULL;
    }
    return finish(&a, root);
}

qv_payload *qv_payload_remove(const jv *old, const qv_keypath *const *paths, size_t n) {
    qv_arena a;
    qv_arena_init(&a);
    edit e = {&a, NULL, true, false};
    jv root = old ? *old : empty_object();
    for (size_t k = 0; k < n && !e.oom; k++)
        if (paths[k]->nseg > 0) root = edit_at(&e, &root, paths[k], 0);
    if (e.oom) {
        qv_arena_free(&a);
        return NULL;
    }
    return finish(&a, root);
}
