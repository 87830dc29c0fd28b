/*
 * quant_config.c - Qdrant's quantization configuration: JSON in and out,
 * protobuf in and out (see quant_config.h for the contract).
 *
 * Parsing mirrors serde's untagged enum: each variant ({"scalar": ...},
 * {"product": ...}, {"binary": ...}, {"turbo": ...}) is a try that either
 * fills the struct or reports "no match"; the first match wins, and when
 * none does the whole value gets serde's one message for the enum.  Inside
 * a variant, absent and null options are the same (Option<T>), unknown keys
 * are ignored, and a present option of the wrong type fails the variant.
 * The quantile range is a validator rule, checked after the variant parsed.
 *
 * The string tables below are indexed by the enums' values, which are the
 * protobuf enum numbers, so the gRPC conversions are range checks.
 */
#include "collection/quant_config.h"

#include <stdio.h>
#include <string.h>

#include "collections.pb-c.h"

static const char *const qv_qmem_names[] = {NULL, "cold", "cached", "pinned"};
static const char *const qv_pq_names[] = {"x4", "x8", "x16", "x32", "x64"};
static const char *const qv_bq_enc_names[] = {"one_bit", "two_bits", "one_and_half_bits"};
static const char *const qv_bq_query_names[] = {"default", "binary", "scalar4bits", "scalar8bits"};
static const char *const qv_tq_bits_names[] = {"bits1", "bits1_5", "bits2", "bits4"};

#define QV_NELEM(a) (sizeof(a) / sizeof(*(a)))

/* ======================================================================
 * Memory placement names (shared, see quant_config.h)
 * ====================================================================== */

const char *qv_memory_name(uint8_t m) {
    return m < QV_NELEM(qv_qmem_names) ? qv_qmem_names[m] : NULL;
}

uint8_t qv_memory_parse(const jv *v) {
    if (!v || v->type != JV_STR) return QV_QMEM_UNSET;
    for (size_t i = 1; i < QV_NELEM(qv_qmem_names); i++)
        if (strcmp(qv_qmem_names[i], v->v.s) == 0) return (uint8_t)i;
    return QV_QMEM_UNSET;
}

/* ======================================================================
 * JSON -> struct
 * ====================================================================== */

/* A member that is present and not null. */
static const jv *qv_qc_field(const jv *obj, const char *key) {
    const jv *v = jv_get(obj, key);
    return (v && v->type != JV_NULL) ? v : NULL;
}

/* Index of a string in names[0..n) (NULL entries never match), or -1. */
static int qv_qc_lookup(const jv *v, const char *const *names, size_t n) {
    if (v->type != JV_STR) return -1;
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], v->v.s) == 0) return (int)i;
    return -1;
}

/* An optional enum option; false when present but not one of names. */
static bool qv_qc_opt_enum(const jv *obj, const char *key, const char *const *names, size_t n,
                           bool *has, uint8_t *out) {
    const jv *v = qv_qc_field(obj, key);
    *has = false;
    if (!v) return true;
    int i = qv_qc_lookup(v, names, n);
    if (i < 0) return false;
    *has = true;
    *out = (uint8_t)i;
    return true;
}

/* The options every variant has: always_ram and memory. */
static bool qv_qc_common(const jv *obj, qv_quant_config *c) {
    const jv *ar = qv_qc_field(obj, "always_ram");
    if (ar) {
        if (ar->type != JV_BOOL) return false;
        c->has_always_ram = true;
        c->always_ram = ar->v.b != 0;
    }
    bool has = false;
    uint8_t mem = 0;
    if (!qv_qc_opt_enum(obj, "memory", qv_qmem_names, QV_NELEM(qv_qmem_names), &has, &mem))
        return false;
    c->memory = has ? mem : QV_QMEM_UNSET;
    return true;
}

/* The variant's inner object: the member must exist and be an object. */
static const jv *qv_qc_inner(const jv *v, const char *key) {
    const jv *x = jv_get(v, key);
    return (x && x->type == JV_OBJ) ? x : NULL;
}

static bool qv_qc_try_scalar(const jv *v, qv_quant_config *c) {
    const jv *s = qv_qc_inner(v, "scalar");
    if (!s) return false;
    const jv *t = jv_get(s, "type");
    if (!t || t->type != JV_STR || strcmp(t->v.s, "int8") != 0) return false;
    const jv *q = qv_qc_field(s, "quantile");
    if (q) {
        if (!jv_to_f32(q, &c->quantile)) return false;
        c->has_quantile = true;
    }
    c->kind = QV_QUANT_SCALAR;
    return qv_qc_common(s, c);
}

static bool qv_qc_try_product(const jv *v, qv_quant_config *c) {
    const jv *p = qv_qc_inner(v, "product");
    if (!p) return false;
    const jv *cr = jv_get(p, "compression");
    int i = cr ? qv_qc_lookup(cr, qv_pq_names, QV_NELEM(qv_pq_names)) : -1;
    if (i < 0) return false;
    c->compression = (uint8_t)i;
    c->kind = QV_QUANT_PRODUCT;
    return qv_qc_common(p, c);
}

static bool qv_qc_try_binary(const jv *v, qv_quant_config *c) {
    const jv *b = qv_qc_inner(v, "binary");
    if (!b) return false;
    c->kind = QV_QUANT_BINARY;
    return qv_qc_common(b, c) &&
           qv_qc_opt_enum(b, "encoding", qv_bq_enc_names, QV_NELEM(qv_bq_enc_names),
                          &c->has_encoding, &c->encoding) &&
           qv_qc_opt_enum(b, "query_encoding", qv_bq_query_names, QV_NELEM(qv_bq_query_names),
                          &c->has_query_encoding, &c->query_encoding);
}

static bool qv_qc_try_turbo(const jv *v, qv_quant_config *c) {
    const jv *t = qv_qc_inner(v, "turbo");
    if (!t) return false;
    c->kind = QV_QUANT_TURBO;
    return qv_qc_common(t, c) && qv_qc_opt_enum(t, "bits", qv_tq_bits_names,
                                                QV_NELEM(qv_tq_bits_names), &c->has_bits, &c->bits);
}

qv_rc qv_quant_config_parse(const jv *v, bool allow_disabled, const char *path,
                            qv_quant_config *out, qv_err *err) {
    static bool (*const tries[])(const jv *, qv_quant_config *) = {
        qv_qc_try_scalar, qv_qc_try_product, qv_qc_try_binary, qv_qc_try_turbo};
    memset(out, 0, sizeof *out);
    if (allow_disabled && v && v->type == JV_STR && strcmp(v->v.s, "Disabled") == 0) return QV_OK;
    bool ok = false;
    for (size_t i = 0; !ok && v && v->type == JV_OBJ && i < QV_NELEM(tries); i++) {
        memset(out, 0, sizeof *out);
        ok = tries[i](v, out);
    }
    if (!ok) {
        memset(out, 0, sizeof *out);
        return qv_fail(err, QV_EFORMAT, "data did not match any variant of untagged enum %s",
                       allow_disabled ? "QuantizationConfigDiff" : "QuantizationConfig");
    }
    if (out->has_quantile && !(out->quantile >= 0.5f && out->quantile <= 1.0f)) {
        char num[40];
        fmt_f32(num, out->quantile);
        memset(out, 0, sizeof *out);
        return qv_fail(err, QV_EVALIDATION,
                       "%.200s.scalar.quantile: value %s invalid, must be from 0.5 to 1.0",
                       path && *path ? path : "quantization_config", num);
    }
    return QV_OK;
}

/* ======================================================================
 * struct -> JSON
 * ====================================================================== */

static const char *qv_qc_kind_key(uint8_t kind) {
    switch (kind) {
    case QV_QUANT_SCALAR:
        return "scalar";
    case QV_QUANT_PRODUCT:
        return "product";
    case QV_QUANT_BINARY:
        return "binary";
    case QV_QUANT_TURBO:
        return "turbo";
    default:
        return NULL;
    }
}

static void qv_qc_write_common(jw *w, const qv_quant_config *c) {
    if (c->has_always_ram) {
        jw_key(w, "always_ram");
        jw_bool(w, c->always_ram);
    }
    if (c->memory > QV_QMEM_UNSET && c->memory < QV_NELEM(qv_qmem_names)) {
        jw_key(w, "memory");
        jw_str(w, qv_qmem_names[c->memory]);
    }
}

/* Writes one enum option when set and in range. */
static void qv_qc_write_enum(jw *w, const char *key, bool has, uint8_t v, const char *const *names,
                             size_t n) {
    if (!has || v >= n) return;
    jw_key(w, key);
    jw_str(w, names[v]);
}

void qv_quant_config_write_json(jw *w, const qv_quant_config *c) {
    const char *key = qv_qc_kind_key(c->kind);
    if (!key) {
        jw_null(w);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, key);
    jw_obj_begin(w);
    switch (c->kind) {
    case QV_QUANT_SCALAR:
        jw_key(w, "type");
        jw_str(w, "int8");
        if (c->has_quantile) {
            jw_key(w, "quantile");
            jw_f32(w, c->quantile);
        }
        qv_qc_write_common(w, c);
        break;
    case QV_QUANT_PRODUCT:
        qv_qc_write_enum(w, "compression", true, c->compression, qv_pq_names,
                         QV_NELEM(qv_pq_names));
        qv_qc_write_common(w, c);
        break;
    case QV_QUANT_BINARY:
        qv_qc_write_common(w, c);
        qv_qc_write_enum(w, "encoding", c->has_encoding, c->encoding, qv_bq_enc_names,
                         QV_NELEM(qv_bq_enc_names));
        qv_qc_write_enum(w, "query_encoding", c->has_query_encoding, c->query_encoding,
                         qv_bq_query_names, QV_NELEM(qv_bq_query_names));
        break;
    default: /* QV_QUANT_TURBO */
        qv_qc_write_common(w, c);
        qv_qc_write_enum(w, "bits", c->has_bits, c->bits, qv_tq_bits_names,
                         QV_NELEM(qv_tq_bits_names));
        break;
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

/* ---- jv tree ----------------------------------------------------------------- */

static jv *qv_qc_jadd(jv *o, const char *key) {
    jv_member *m = &o->v.members[o->len++];
    m->key = key;
    m->klen = (uint32_t)strlen(key);
    memset(&m->val, 0, sizeof m->val);
    return &m->val;
}

static void qv_qc_jstr(jv *v, const char *s) {
    v->type = JV_STR;
    v->v.s = s;
    v->len = (uint32_t)strlen(s);
}

static void qv_qc_jenum(jv *o, const char *key, bool has, uint8_t v, const char *const *names,
                        size_t n) {
    if (has && v < n) qv_qc_jstr(qv_qc_jadd(o, key), names[v]);
}

bool qv_quant_config_to_jv(qv_arena *a, const qv_quant_config *c, jv *out) {
    memset(out, 0, sizeof *out);
    const char *key = qv_qc_kind_key(c->kind);
    if (!key) {
        qv_qc_jstr(out, "Disabled");
        return true;
    }
    jv_member *outer = qv_arena_calloc(a, sizeof(jv_member));
    jv_member *inner = qv_arena_calloc(a, 6 * sizeof(jv_member));
    if (!outer || !inner) return false;
    out->type = JV_OBJ;
    out->v.members = outer;
    jv *o = qv_qc_jadd(out, key);
    o->type = JV_OBJ;
    o->v.members = inner;
    if (c->kind == QV_QUANT_SCALAR) {
        qv_qc_jstr(qv_qc_jadd(o, "type"), "int8");
        if (c->has_quantile) {
            jv *q = qv_qc_jadd(o, "quantile");
            q->type = JV_DBL;
            q->v.d = c->quantile;
        }
    }
    if (c->kind == QV_QUANT_PRODUCT)
        qv_qc_jenum(o, "compression", true, c->compression, qv_pq_names, QV_NELEM(qv_pq_names));
    if (c->has_always_ram) {
        jv *b = qv_qc_jadd(o, "always_ram");
        b->type = JV_BOOL;
        b->v.b = c->always_ram;
    }
    qv_qc_jenum(o, "memory", c->memory != QV_QMEM_UNSET, c->memory, qv_qmem_names,
                QV_NELEM(qv_qmem_names));
    if (c->kind == QV_QUANT_BINARY) {
        qv_qc_jenum(o, "encoding", c->has_encoding, c->encoding, qv_bq_enc_names,
                    QV_NELEM(qv_bq_enc_names));
        qv_qc_jenum(o, "query_encoding", c->has_query_encoding, c->query_encoding,
                    qv_bq_query_names, QV_NELEM(qv_bq_query_names));
    }
    if (c->kind == QV_QUANT_TURBO)
        qv_qc_jenum(o, "bits", c->has_bits, c->bits, qv_tq_bits_names, QV_NELEM(qv_tq_bits_names));
    return true;
}

bool qv_quant_config_equal(const qv_quant_config *a, const qv_quant_config *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == QV_QUANT_NONE) return true;
    if (a->memory != b->memory || a->has_always_ram != b->has_always_ram ||
        (a->has_always_ram && a->always_ram != b->always_ram))
        return false;
    switch (a->kind) {
    case QV_QUANT_SCALAR:
        return a->has_quantile == b->has_quantile &&
               (!a->has_quantile || a->quantile == b->quantile);
    case QV_QUANT_PRODUCT:
        return a->compression == b->compression;
    case QV_QUANT_BINARY:
        return a->has_encoding == b->has_encoding &&
               (!a->has_encoding || a->encoding == b->encoding) &&
               a->has_query_encoding == b->has_query_encoding &&
               (!a->has_query_encoding || a->query_encoding == b->query_encoding);
    default:
        return a->has_bits == b->has_bits && (!a->has_bits || a->bits == b->bits);
    }
}

/* ======================================================================
 * gRPC
 * ====================================================================== */

/* always_ram is deprecated in the protocol (and so in protobuf-c). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

qv_rc qv_memory_from_grpc(bool present, int v, uint8_t *out, qv_err *err) {
    if (!present || v == QDRANT__MEMORY__MemoryUnknown) return QV_OK;
    if (v < 0 || (size_t)v >= QV_NELEM(qv_qmem_names))
        return qv_fail(err, QV_EBADINPUT, "Unknown memory placement: %d", v);
    *out = (uint8_t)v;
    return QV_OK;
}

static qv_rc qv_qc_memory_in(bool has, int v, qv_quant_config *c, qv_err *err) {
    return qv_memory_from_grpc(has, v, &c->memory, err);
}

static qv_rc qv_qc_scalar_in(const Qdrant__ScalarQuantization *s, qv_quant_config *c, qv_err *err) {
    if (s->type != QDRANT__QUANTIZATION_TYPE__Int8)
        return qv_fail(err, QV_EBADINPUT, "Unknown quantization type");
    c->kind = QV_QUANT_SCALAR;
    if (s->_quantile_case) c->has_quantile = true, c->quantile = s->quantile;
    if (s->_always_ram_case) c->has_always_ram = true, c->always_ram = s->always_ram != 0;
    return qv_qc_memory_in(s->_memory_case != 0, (int)s->memory, c, err);
}

static qv_rc qv_qc_product_in(const Qdrant__ProductQuantization *p, qv_quant_config *c,
                              qv_err *err) {
    int cr = (int)p->compression;
    if (cr < 0 || (size_t)cr >= QV_NELEM(qv_pq_names))
        return qv_fail(err, QV_EBADINPUT, "Unknown compression ratio");
    c->kind = QV_QUANT_PRODUCT;
    c->compression = (uint8_t)cr;
    if (p->_always_ram_case) c->has_always_ram = true, c->always_ram = p->always_ram != 0;
    return qv_qc_memory_in(p->_memory_case != 0, (int)p->memory, c, err);
}

static qv_rc qv_qc_binary_in(const Qdrant__BinaryQuantization *b, qv_quant_config *c, qv_err *err) {
    c->kind = QV_QUANT_BINARY;
    if (b->_always_ram_case) c->has_always_ram = true, c->always_ram = b->always_ram != 0;
    if (b->_encoding_case) {
        int e = (int)b->encoding;
        if (e < 0 || (size_t)e >= QV_NELEM(qv_bq_enc_names))
            return qv_fail(err, QV_EBADINPUT, "Unknown binary quantization encoding");
        c->has_encoding = true;
        c->encoding = (uint8_t)e;
    }
    if (b->_query_encoding_case) {
        const Qdrant__BinaryQuantizationQueryEncoding *q = b->query_encoding;
        if (!q || q->variant_case != QDRANT__BINARY_QUANTIZATION_QUERY_ENCODING__VARIANT_SETTING)
            return qv_fail(err, QV_EBADINPUT, "Malformed `BinaryQuantizationQueryEncoding`");
        int s = (int)q->setting;
        if (s < 0 || (size_t)s >= QV_NELEM(qv_bq_query_names))
            return qv_fail(err, QV_EBADINPUT,
                           "Invalid `BinaryQuantizationQueryEncoding` setting: %d", s);
        c->has_query_encoding = true;
        c->query_encoding = (uint8_t)s;
    }
    return qv_qc_memory_in(b->_memory_case != 0, (int)b->memory, c, err);
}

static qv_rc qv_qc_turbo_in(const Qdrant__TurboQuantization *t, qv_quant_config *c, qv_err *err) {
    c->kind = QV_QUANT_TURBO;
    if (t->_always_ram_case) c->has_always_ram = true, c->always_ram = t->always_ram != 0;
    if (t->_bits_case) {
        int b = (int)t->bits;
        if (b < 0 || (size_t)b >= QV_NELEM(qv_tq_bits_names))
            return qv_fail(err, QV_EBADINPUT, "Unknown TurboQuant bit size: %d", b);
        c->has_bits = true;
        c->bits = (uint8_t)b;
    }
    return qv_qc_memory_in(t->_memory_case != 0, (int)t->memory, c, err);
}

static qv_rc qv_qc_unset(qv_err *err) {
    return qv_fail(err, QV_EBADINPUT, "Unable to convert quantization config");
}

qv_rc qv_quant_config_from_grpc(const Qdrant__QuantizationConfig *m, qv_quant_config *out,
                                qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc;
    switch (m ? m->quantization_case : QDRANT__QUANTIZATION_CONFIG__QUANTIZATION__NOT_SET) {
    case QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_SCALAR:
        rc = m->scalar ? qv_qc_scalar_in(m->scalar, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_PRODUCT:
        rc = m->product ? qv_qc_product_in(m->product, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_BINARY:
        rc = m->binary ? qv_qc_binary_in(m->binary, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_TURBOQUANT:
        rc = m->turboquant ? qv_qc_turbo_in(m->turboquant, out, err) : qv_qc_unset(err);
        break;
    default:
        rc = qv_qc_unset(err);
    }
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

qv_rc qv_quant_config_diff_from_grpc(const Qdrant__QuantizationConfigDiff *m, qv_quant_config *out,
                                     qv_err *err) {
    memset(out, 0, sizeof *out);
    qv_rc rc;
    switch (m ? m->quantization_case : QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION__NOT_SET) {
    case QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_SCALAR:
        rc = m->scalar ? qv_qc_scalar_in(m->scalar, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_PRODUCT:
        rc = m->product ? qv_qc_product_in(m->product, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_BINARY:
        rc = m->binary ? qv_qc_binary_in(m->binary, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_TURBOQUANT:
        rc = m->turboquant ? qv_qc_turbo_in(m->turboquant, out, err) : qv_qc_unset(err);
        break;
    case QDRANT__QUANTIZATION_CONFIG_DIFF__QUANTIZATION_DISABLED:
        rc = QV_OK; /* kind QV_QUANT_NONE */
        break;
    default:
        rc = qv_qc_unset(err);
    }
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

/* A zeroed message of type T initialised by init, in a. */
#define QV_QC_NEW(a, T, init)                                                                      \
    __extension__({                                                                                \
        T *m_ = qv_arena_calloc((a), sizeof(T));                                                   \
        if (m_) init(m_);                                                                          \
        m_;                                                                                        \
    })

Qdrant__QuantizationConfig *qv_quant_config_to_grpc(qv_arena *a, const qv_quant_config *c) {
    if (c->kind == QV_QUANT_NONE) return NULL;
    Qdrant__QuantizationConfig *m =
        QV_QC_NEW(a, Qdrant__QuantizationConfig, qdrant__quantization_config__init);
    if (!m) return NULL;
    bool ram = c->has_always_ram;
    protobuf_c_boolean ramv = c->always_ram;
    bool mem = c->memory != QV_QMEM_UNSET;
    Qdrant__Memory memv = (Qdrant__Memory)c->memory;
    switch (c->kind) {
    case QV_QUANT_SCALAR: {
        Qdrant__ScalarQuantization *s =
            QV_QC_NEW(a, Qdrant__ScalarQuantization, qdrant__scalar_quantization__init);
        if (!s) return NULL;
        s->type = QDRANT__QUANTIZATION_TYPE__Int8;
        if (c->has_quantile)
            s->_quantile_case = QDRANT__SCALAR_QUANTIZATION___QUANTILE_QUANTILE,
            s->quantile = c->quantile;
        if (ram)
            s->_always_ram_case = QDRANT__SCALAR_QUANTIZATION___ALWAYS_RAM_ALWAYS_RAM,
            s->always_ram = ramv;
        if (mem) s->_memory_case = QDRANT__SCALAR_QUANTIZATION___MEMORY_MEMORY, s->memory = memv;
        m->quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_SCALAR;
        m->scalar = s;
        break;
    }
    case QV_QUANT_PRODUCT: {
        Qdrant__ProductQuantization *p =
            QV_QC_NEW(a, Qdrant__ProductQuantization, qdrant__product_quantization__init);
        if (!p) return NULL;
        p->compression = (Qdrant__CompressionRatio)c->compression;
        if (ram)
            p->_always_ram_case = QDRANT__PRODUCT_QUANTIZATION___ALWAYS_RAM_ALWAYS_RAM,
            p->always_ram = ramv;
        if (mem) p->_memory_case = QDRANT__PRODUCT_QUANTIZATION___MEMORY_MEMORY, p->memory = memv;
        m->quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_PRODUCT;
        m->product = p;
        break;
    }
    case QV_QUANT_BINARY: {
        Qdrant__BinaryQuantization *b =
            QV_QC_NEW(a, Qdrant__BinaryQuantization, qdrant__binary_quantization__init);
        if (!b) return NULL;
        if (ram)
            b->_always_ram_case = QDRANT__BINARY_QUANTIZATION___ALWAYS_RAM_ALWAYS_RAM,
            b->always_ram = ramv;
        if (c->has_encoding)
            b->_encoding_case = QDRANT__BINARY_QUANTIZATION___ENCODING_ENCODING,
            b->encoding = (Qdrant__BinaryQuantizationEncoding)c->encoding;
        if (c->has_query_encoding) {
            Qdrant__BinaryQuantizationQueryEncoding *q =
                QV_QC_NEW(a, Qdrant__BinaryQuantizationQueryEncoding,
                          qdrant__binary_quantization_query_encoding__init);
            if (!q) return NULL;
            q->variant_case = QDRANT__BINARY_QUANTIZATION_QUERY_ENCODING__VARIANT_SETTING;
            q->setting = (Qdrant__BinaryQuantizationQueryEncoding__Setting)c->query_encoding;
            b->_query_encoding_case = QDRANT__BINARY_QUANTIZATION___QUERY_ENCODING_QUERY_ENCODING;
            b->query_encoding = q;
        }
        if (mem) b->_memory_case = QDRANT__BINARY_QUANTIZATION___MEMORY_MEMORY, b->memory = memv;
        m->quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_BINARY;
        m->binary = b;
        break;
    }
    default: {
        Qdrant__TurboQuantization *t =
            QV_QC_NEW(a, Qdrant__TurboQuantization, qdrant__turbo_quantization__init);
        if (!t) return NULL;
        if (ram)
            t->_always_ram_case = QDRANT__TURBO_QUANTIZATION___ALWAYS_RAM_ALWAYS_RAM,
            t->always_ram = ramv;
        if (c->has_bits)
            t->_bits_case = QDRANT__TURBO_QUANTIZATION___BITS_BITS,
            t->bits = (Qdrant__TurboQuantBitSize)c->bits;
        if (mem) t->_memory_case = QDRANT__TURBO_QUANTIZATION___MEMORY_MEMORY, t->memory = memv;
        m->quantization_case = QDRANT__QUANTIZATION_CONFIG__QUANTIZATION_TURBOQUANT;
        m->turboquant = t;
        break;
    }
    }
    return m;
}

#pragma GCC diagnostic pop
