/*
 * opcodec.c - binary encoding of update operations for the WAL.
 *
 * Layout (all varints are LEB128, floats IEEE-754 little-endian):
 *
 *   u8  codec version (1)
 *   u8  kind (qv_op_kind; 9 and 10 are index create / delete, which use only
 *       key = field, names = [payload type] and payload = parameters)
 *   varint npoints, then per point:
 *       pointid  (u8 0 + varint number | u8 1 + 16 bytes big-endian UUID)
 *       u8 has_payload, [jvbin payload]
 *       varint nvec, then per vector:
 *           str name, u8 vector kind (0 = dense f32), varint dim, dim x f32
 *   varint nids, then nids x pointid
 *   u8 has_payload, [jvbin payload]
 *   u8 has_key, [str key]
 *   varint nnames, then nnames x str
 *
 * (str = varint length + bytes.)  The decoder trusts nothing: every count
 * is checked against the bytes left before anything is allocated, so a
 * corrupt record costs at most its own size in memory.
 */
#include "storage/ops.h"

#include <string.h>

#include "core/buf.h"
#include "core/jvbin.h"

#define OPCODEC_VERSION 1
#define VEC_KIND_DENSE  0

static void put_id(qv_buf *b, const qv_pointid *id) {
    if (!id->is_uuid) {
        qv_buf_put_u8(b, 0);
        qv_buf_put_varint(b, id->lo);
        return;
    }
    qv_buf_put_u8(b, 1);
    uint8_t t[16];
    qv_pointid_uuid_bytes(id, t);
    qv_buf_put(b, t, 16);
}

static void put_json(qv_buf *b, const jv *v) {
    size_t n = jvbin_size(v);
    uint8_t *d = qv_buf_reserve(b, n);
    if (!d) return;
    jvbin_write(v, d);
    b->len += n;
}

static void put_point(qv_buf *b, const qv_point_in *p) {
    put_id(b, &p->id);
    qv_buf_put_u8(b, p->has_payload);
    if (p->has_payload) put_json(b, &p->payload);
    qv_buf_put_varint(b, p->nvec);
    for (uint32_t i = 0; i < p->nvec; i++) {
        const qv_vec_in *v = &p->vecs[i];
        qv_buf_put_str(b, v->name, strlen(v->name));
        qv_buf_put_u8(b, VEC_KIND_DENSE);
        qv_buf_put_varint(b, v->dim);
        uint8_t *d = qv_buf_reserve(b, (size_t)v->dim * 4);
        if (!d) return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(d, v->data, (size_t)v->dim * 4); /* already the wire's byte order */
#else
        for (uint32_t k = 0; k < v->dim; k++) {
            uint32_t bits;
            memcpy(&bits, &v->data[k], 4);
            qv_store_u32le(d + 4 * k, bits);
        }
#endif
        b->len += (size_t)v->dim * 4;
    }
}

uint8_t *qv_op_encode(const qv_update_op *op, size_t *len) {
    qv_buf b;
    qv_buf_init(&b);
    /* Reserve the vectors' bytes up front: a 256-point 1536-d upsert is
     * 1.5 MB, which doubling from empty would copy a dozen times over. */
    size_t guess = 64;
    for (uint32_t i = 0; i < op->npoints; i++)
        for (uint32_t k = 0; k < op->points[i].nvec; k++)
            guess += 32 + (size_t)op->points[i].vecs[k].dim * 4;
    (void)qv_buf_reserve(&b, guess); /* on failure the puts below see b.oom */
    qv_buf_put_u8(&b, OPCODEC_VERSION);
    qv_buf_put_u8(&b, (uint8_t)op->kind);
    qv_buf_put_varint(&b, op->npoints);
    for (uint32_t i = 0; i < op->npoints; i++) put_point(&b, &op->points[i]);
    qv_buf_put_varint(&b, op->nids);
    for (uint32_t i = 0; i < op->nids; i++) put_id(&b, &op->ids[i]);
    bool has_payload = op->payload.type == JV_OBJ;
    qv_buf_put_u8(&b, has_payload);
    if (has_payload) put_json(&b, &op->payload);
    qv_buf_put_u8(&b, op->key != NULL);
    if (op->key) qv_buf_put_str(&b, op->key, strlen(op->key));
    qv_buf_put_varint(&b, op->nnames);
    for (uint32_t i = 0; i < op->nnames; i++)
        qv_buf_put_str(&b, op->names[i], strlen(op->names[i]));
    if (b.oom) {
        qv_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* ---- decoding ----------------------------------------------------------- */

static bool get_id(qv_rd *r, qv_pointid *id) {
    uint8_t kind = qv_rd_u8(r);
    if (kind == 0) {
        *id = qv_pointid_num(qv_rd_varint(r));
        return !r->bad;
    }
    const uint8_t *t = kind == 1 ? qv_rd_bytes(r, 16) : NULL;
    if (!t) return false;
    *id = qv_pointid_from_uuid_bytes(t);
    return true;
}

static const char *get_str(qv_arena *a, qv_rd *r) {
    uint64_t n = qv_rd_varint(r);
    if (r->bad || n > qv_rd_left(r)) return NULL;
    const uint8_t *p = qv_rd_bytes(r, (size_t)n);
    if (!p || memchr(p, 0, (size_t)n)) return NULL;
    return qv_arena_strndup(a, (const char *)p, (size_t)n);
}

static bool get_json(qv_arena *a, qv_rd *r, jv *out) {
    size_t used = 0;
    qv_err e;
    if (jvbin_read(a, r->p, qv_rd_left(r), &used, out, &e) != QV_OK) return false;
    if (out->type != JV_OBJ) return false;
    r->p += used;
    return true;
}

/* A count read from the record must be payable by the bytes left, at
 * min_bytes per element, before we allocate for it. */
static bool get_count(qv_rd *r, size_t min_bytes, uint32_t *out) {
    uint64_t n = qv_rd_varint(r);
    if (r->bad || n > UINT32_MAX || n * min_bytes > qv_rd_left(r)) return false;
    *out = (uint32_t)n;
    return true;
}

static bool get_vec(qv_arena *a, qv_rd *r, qv_vec_in *v) {
    v->name = get_str(a, r);
    if (!v->name || qv_rd_u8(r) != VEC_KIND_DENSE) return false;
    uint64_t dim = qv_rd_varint(r);
    if (r->bad || dim == 0 || dim > qv_rd_left(r) / 4) return false;
    v->dim = (uint32_t)dim;
    v->data = qv_arena_alloc(a, dim * 4);
    const uint8_t *p = qv_rd_bytes(r, dim * 4);
    if (!v->data || !p) return false;
    for (uint32_t k = 0; k < v->dim; k++) {
        uint32_t bits = qv_load_u32le(p + 4 * k);
        memcpy(&v->data[k], &bits, 4);
    }
    return true;
}

static bool get_point(qv_arena *a, qv_rd *r, qv_point_in *p) {
    memset(p, 0, sizeof *p);
    if (!get_id(r, &p->id)) return false;
    uint8_t hp = qv_rd_u8(r);
    if (hp > 1) return false;
    p->has_payload = hp;
    if (hp && !get_json(a, r, &p->payload)) return false;
    if (!get_count(r, 3, &p->nvec)) return false;
    p->vecs = qv_arena_calloc(a, sizeof(qv_vec_in) * (p->nvec ? p->nvec : 1));
    if (!p->vecs) return false;
    for (uint32_t i = 0; i < p->nvec; i++)
        if (!get_vec(a, r, &p->vecs[i])) return false;
    return true;
}

static bool decode_body(qv_arena *a, qv_rd *r, qv_update_op *op) {
    if (qv_rd_u8(r) != OPCODEC_VERSION) return false;
    op->kind = qv_rd_u8(r);
    if (op->kind < QV_OP_UPSERT || op->kind > QV_OP_DELETE_INDEX) return false;
    if (!get_count(r, 3, &op->npoints)) return false;
    op->points = qv_arena_calloc(a, sizeof(qv_point_in) * (op->npoints ? op->npoints : 1));
    if (!op->points) return false;
    for (uint32_t i = 0; i < op->npoints; i++)
        if (!get_point(a, r, &op->points[i])) return false;
    if (!get_count(r, 2, &op->nids)) return false;
    op->ids = qv_arena_calloc(a, sizeof(qv_pointid) * (op->nids ? op->nids : 1));
    if (!op->ids) return false;
    for (uint32_t i = 0; i < op->nids; i++)
        if (!get_id(r, &op->ids[i])) return false;
    uint8_t hp = qv_rd_u8(r);
    if (hp > 1 || (hp && !get_json(a, r, &op->payload))) return false;
    uint8_t hk = qv_rd_u8(r);
    if (hk > 1 || (hk && !(op->key = get_str(a, r)))) return false;
    if (!get_count(r, 1, &op->nnames)) return false;
    op->names = qv_arena_calloc(a, sizeof(char *) * (op->nnames ? op->nnames : 1));
    if (!op->names) return false;
    for (uint32_t i = 0; i < op->nnames; i++)
        if (!(op->names[i] = get_str(a, r))) return false;
    if ((op->kind == QV_OP_CREATE_INDEX || op->kind == QV_OP_DELETE_INDEX) && !op->key)
        return false; /* an index operation always names its field */
    if (op->kind == QV_OP_CREATE_INDEX && op->nnames != 1) return false;
    return !r->bad && qv_rd_left(r) == 0;
}

qv_rc qv_op_decode(qv_arena *a, const uint8_t *buf, size_t len, qv_update_op *op, qv_err *err) {
    memset(op, 0, sizeof *op);
    qv_rd r;
    qv_rd_init(&r, buf, len);
    if (!decode_body(a, &r, op)) {
        memset(op, 0, sizeof *op);
        return qv_fail(err, QV_ECORRUPT, "malformed operation record (%zu bytes)", len);
    }
    return QV_OK;
}
