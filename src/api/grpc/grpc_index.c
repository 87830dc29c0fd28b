/*
 * grpc_index.c - PayloadIndexParams <-> the REST parameters object, and
 * payload_schema for CollectionInfo.
 *
 * How: the *IndexParams messages name their fields as the REST objects do
 * (is_tenant, lookup, min_token_len, memory, ...), so both directions walk
 * protobuf-c's descriptors instead of listing every field of every type:
 * bools and integers map to themselves, enums (Memory, TokenizerType) to
 * their value names in lower case ("Cold" -> "cold"), and the three message
 * fields by hand: `prefix` (an empty message = true), `stopwords` (a
 * StopwordsSet = {languages, custom}) and `stemmer` (snowball / disabled =
 * {"type":"snowball","language"} / {"type":"none"}).  Incoming parameters
 * are then validated and made canonical by the REST decoder
 * (qv_rest_decode_create_index), so both APIs accept and store exactly the
 * same declarations.
 *
 * What it does not do: enum value 0 (MemoryUnknown, Unknown tokenizer)
 * means "not set", as Qdrant's conversions treat it.
 */
#include "api/grpc/grpc_index.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/rest/decode.h"
#include "collection/field_index.h"

/* ======================================================================
 * protobuf -> JSON (for the REST decoder)
 * ====================================================================== */

/* Lower-cased enum value name of field f's value v, or NULL for 0/unknown. */
static const char *qv_grpc_enum_word(const ProtobufCFieldDescriptor *f, int v, char *buf,
                                     size_t n) {
    const ProtobufCEnumValue *ev =
        v ? protobuf_c_enum_descriptor_get_value(f->descriptor, v) : NULL;
    if (!ev) return NULL;
    size_t i = 0;
    for (; ev->name[i] && i + 1 < n; i++) buf[i] = (char)tolower((unsigned char)ev->name[i]);
    buf[i] = '\0';
    return buf;
}

static void qv_grpc_strings_json(jw *w, const char *key, size_t n, char **s) {
    if (!n) return;
    jw_key(w, key);
    jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) jw_str(w, s[i] ? s[i] : "");
    jw_arr_end(w);
}

/* The message fields: prefix, stopwords, stemmer. */
static void qv_grpc_param_msg_json(jw *w, const ProtobufCFieldDescriptor *f,
                                   const ProtobufCMessage *sub) {
    if (strcmp(f->name, "prefix") == 0) {
        jw_key(w, "prefix");
        jw_bool(w, true);
    } else if (sub->descriptor == &qdrant__stopwords_set__descriptor) {
        const Qdrant__StopwordsSet *s = (const Qdrant__StopwordsSet *)sub;
        jw_key(w, f->name);
        jw_obj_begin(w);
        qv_grpc_strings_json(w, "languages", s->n_languages, s->languages);
        qv_grpc_strings_json(w, "custom", s->n_custom, s->custom);
        jw_obj_end(w);
    } else if (sub->descriptor == &qdrant__stemming_algorithm__descriptor) {
        const Qdrant__StemmingAlgorithm *s = (const Qdrant__StemmingAlgorithm *)sub;
        jw_key(w, f->name);
        jw_obj_begin(w);
        jw_key(w, "type");
        if (s->stemming_params_case == QDRANT__STEMMING_ALGORITHM__STEMMING_PARAMS_SNOWBALL &&
            s->snowball) {
            jw_str(w, "snowball");
            jw_key(w, "language");
            jw_str(w, s->snowball->language ? s->snowball->language : "");
        } else {
            jw_str(w, "none");
        }
        jw_obj_end(w);
    }
}

/* Every set field of one *IndexParams message, under its own name. */
static void qv_grpc_params_json(jw *w, const ProtobufCMessage *m, const char *type) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    jw_obj_begin(w);
    jw_key(w, "type");
    jw_str(w, type);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        char word[64];
        const char *s;
        switch (f->type) {
        case PROTOBUF_C_TYPE_BOOL:
            jw_key(w, f->name);
            jw_bool(w, *(const protobuf_c_boolean *)p != 0);
            break;
        case PROTOBUF_C_TYPE_UINT64:
            jw_key(w, f->name);
            jw_u64(w, *(const uint64_t *)p);
            break;
        case PROTOBUF_C_TYPE_ENUM:
            if ((s = qv_grpc_enum_word(f, *(const int *)p, word, sizeof word))) {
                jw_key(w, f->name);
                jw_str(w, s);
            }
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            if (*(ProtobufCMessage *const *)p)
                qv_grpc_param_msg_json(w, f, *(ProtobufCMessage *const *)p);
            break;
        default:
            break;
        }
    }
    jw_obj_end(w);
}

/* The set index_params of p (message and its type), or NULL. */
static const ProtobufCMessage *qv_grpc_index_params(const Qdrant__PayloadIndexParams *p,
                                                    uint32_t *type) {
    if (!p) return NULL;
    const ProtobufCMessageDescriptor *d = p->base.descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((uint32_t)p->index_params_case != f->id) continue;
        /* "keyword_index_params" -> keyword */
        const char *cut = strstr(f->name, "_index_params");
        *type = cut ? qv_payload_type_parse(f->name, (size_t)(cut - f->name)) : 0;
        return *type ? *(ProtobufCMessage *const *)((const char *)p + f->offset) : NULL;
    }
    return NULL;
}

qv_rc qv_grpc_create_index_body(qv_grpc_req *rq, const Qdrant__CreateFieldIndexCollection *q,
                                jv *body, qv_err *err) {
    uint32_t ptype = 0, ftype = 0;
    const ProtobufCMessage *params =
        q->_field_index_params_case ? qv_grpc_index_params(q->field_index_params, &ptype) : NULL;
    if (q->_field_type_case) {
        ftype = (uint32_t)q->field_type + 1; /* FieldType counts from Keyword = 0 */
        if (!qv_payload_type_name(ftype))
            return qv_fail(err, QV_EBADINPUT, "cannot convert field_type %d", (int)q->field_type);
    }
    if (params && ftype && ftype != ptype)
        return qv_fail(err, QV_EBADINPUT, "field_type (%s) and field_index_params do not match",
                       qv_payload_type_name(ftype));
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "field_name");
    jw_str(&w, q->field_name ? q->field_name : "");
    if (params) {
        jw_key(&w, "field_schema");
        qv_grpc_params_json(&w, params, qv_payload_type_name(ptype));
    } else if (ftype) {
        jw_key(&w, "field_schema");
        jw_str(&w, qv_payload_type_name(ftype));
    }
    jw_obj_end(&w);
    qv_rc rc = w.oom ? qv_fail(err, QV_ENOMEM, "out of memory")
                     : jv_parse(&rq->arena, w.buf, w.len, body, err);
    jw_free(&w);
    return rc;
}

/* ======================================================================
 * canonical JSON -> PayloadIndexParams (collection info)
 * ====================================================================== */

static ProtobufCMessage *qv_grpc_new_msg(qv_grpc_req *rq, const ProtobufCMessageDescriptor *d) {
    ProtobufCMessage *m = qv_grpc_alloc(rq, d->sizeof_message);
    d->message_init(m);
    return m;
}

/* Sets message field f of m to sub (and its oneof case). */
static void qv_grpc_set_msg(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            ProtobufCMessage *sub) {
    *(ProtobufCMessage **)((char *)m + f->offset) = sub;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
}

static char **qv_grpc_str_list(qv_grpc_req *rq, const jv *arr, size_t *n) {
    *n = arr && arr->type == JV_ARR ? arr->len : 0;
    char **out = qv_grpc_alloc(rq, (*n ? *n : 1) * sizeof *out);
    for (size_t i = 0; i < *n; i++)
        out[i] = qv_grpc_strdup(rq, arr->v.items[i].v.s, arr->v.items[i].len);
    return out;
}

static ProtobufCMessage *qv_grpc_stopwords_out(qv_grpc_req *rq, const jv *v) {
    Qdrant__StopwordsSet *s =
        (Qdrant__StopwordsSet *)qv_grpc_new_msg(rq, &qdrant__stopwords_set__descriptor);
    if (v->type == JV_STR) { /* one language */
        s->n_languages = 1;
        s->languages = qv_grpc_alloc(rq, sizeof *s->languages);
        s->languages[0] = qv_grpc_strdup(rq, v->v.s, v->len);
    } else {
        s->languages = qv_grpc_str_list(rq, jv_get(v, "languages"), &s->n_languages);
        s->custom = qv_grpc_str_list(rq, jv_get(v, "custom"), &s->n_custom);
    }
    return &s->base;
}

static ProtobufCMessage *qv_grpc_stemmer_out(qv_grpc_req *rq, const jv *v) {
    Qdrant__StemmingAlgorithm *s =
        (Qdrant__StemmingAlgorithm *)qv_grpc_new_msg(rq, &qdrant__stemming_algorithm__descriptor);
    const jv *lang = jv_get(v, "language");
    if (lang && lang->type == JV_STR) {
        Qdrant__SnowballParams *sp =
            (Qdrant__SnowballParams *)qv_grpc_new_msg(rq, &qdrant__snowball_params__descriptor);
        sp->language = qv_grpc_strdup(rq, lang->v.s, lang->len);
        s->stemming_params_case = QDRANT__STEMMING_ALGORITHM__STEMMING_PARAMS_SNOWBALL;
        s->snowball = sp;
    } else {
        s->stemming_params_case = QDRANT__STEMMING_ALGORITHM__STEMMING_PARAMS_DISABLED;
        s->disabled =
            (Qdrant__DisabledStemmer *)qv_grpc_new_msg(rq, &qdrant__disabled_stemmer__descriptor);
    }
    return &s->base;
}

/* The enum value of f whose lower-cased name is word (0 if none). */
static int qv_grpc_enum_of_word(const ProtobufCFieldDescriptor *f, const char *word) {
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    for (unsigned i = 0; i < ed->n_values; i++)
        if (strcasecmp(ed->values[i].name, word) == 0) return ed->values[i].value;
    return 0;
}

/* One member of the canonical object onto the *IndexParams message m. */
static void qv_grpc_param_out(qv_grpc_req *rq, ProtobufCMessage *m, const jv_member *mb) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, mb->key);
    if (!f || mb->val.type == JV_NULL) return;
    char *p = (char *)m + f->offset;
    uint64_t u;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (mb->val.type != JV_BOOL) return;
        *(protobuf_c_boolean *)p = mb->val.v.b != 0;
        break;
    case PROTOBUF_C_TYPE_UINT64:
        if (!jv_to_u64(&mb->val, &u)) return;
        *(uint64_t *)p = u;
        break;
    case PROTOBUF_C_TYPE_ENUM:
        if (mb->val.type != JV_STR) return;
        *(int *)p = qv_grpc_enum_of_word(f, mb->val.v.s);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        if (strcmp(f->name, "prefix") == 0) {
            if (mb->val.type == JV_BOOL && mb->val.v.b)
                qv_grpc_set_msg(m, f, qv_grpc_new_msg(rq, f->descriptor));
        } else if (strcmp(f->name, "stopwords") == 0) {
            qv_grpc_set_msg(m, f, qv_grpc_stopwords_out(rq, &mb->val));
        } else if (strcmp(f->name, "stemmer") == 0) {
            qv_grpc_set_msg(m, f, qv_grpc_stemmer_out(rq, &mb->val));
        }
        return;
    default:
        return;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
}

static Qdrant__PayloadIndexParams *qv_grpc_params_out(qv_grpc_req *rq, uint32_t type,
                                                      const char *params) {
    jv obj;
    qv_err e;
    if (jv_parse(&rq->arena, params, strlen(params), &obj, &e) || obj.type != JV_OBJ) return NULL;
    char name[64];
    snprintf(name, sizeof name, "%s_index_params", qv_payload_type_name(type));
    Qdrant__PayloadIndexParams *pip =
        QV_GRPC_NEW(rq, Qdrant__PayloadIndexParams, qdrant__payload_index_params__init);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(pip->base.descriptor, name);
    if (!f) return NULL;
    ProtobufCMessage *m = qv_grpc_new_msg(rq, f->descriptor);
    qv_grpc_set_msg(&pip->base, f, m);
    for (uint32_t i = 0; i < obj.len; i++) qv_grpc_param_out(rq, m, &obj.v.members[i]);
    return pip;
}

/* ======================================================================
 * payload_schema
 * ====================================================================== */

typedef struct qv_grpc_schema_ctx {
    qv_grpc_req *rq;
    Qdrant__CollectionInfo *info;
    size_t cap;
} qv_grpc_schema_ctx;

/* Runs under the collection's read lock: copies into the arena only. */
static void qv_grpc_schema_entry(void *ctx, const char *field, uint32_t type, const char *params,
                                 uint64_t points) {
    qv_grpc_schema_ctx *x = ctx;
    qv_grpc_req *rq = x->rq;
    Qdrant__CollectionInfo *info = x->info;
    if (info->n_payload_schema == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 8;
        Qdrant__CollectionInfo__PayloadSchemaEntry **grown = qv_grpc_alloc(rq, cap * sizeof *grown);
        if (info->n_payload_schema)
            memcpy(grown, info->payload_schema, info->n_payload_schema * sizeof *grown);
        info->payload_schema = grown;
        x->cap = cap;
    }
    Qdrant__PayloadSchemaInfo *psi =
        QV_GRPC_NEW(rq, Qdrant__PayloadSchemaInfo, qdrant__payload_schema_info__init);
    psi->data_type = (Qdrant__PayloadSchemaType)type; /* same numbering */
    psi->_points_case = QDRANT__PAYLOAD_SCHEMA_INFO___POINTS_POINTS;
    psi->points = points;
    if (params && (psi->params = qv_grpc_params_out(rq, type, params)))
        psi->_params_case = QDRANT__PAYLOAD_SCHEMA_INFO___PARAMS_PARAMS;
    Qdrant__CollectionInfo__PayloadSchemaEntry *e =
        QV_GRPC_NEW(rq, Qdrant__CollectionInfo__PayloadSchemaEntry,
                    qdrant__collection_info__payload_schema_entry__init);
    e->key = qv_grpc_strdup(rq, field, strlen(field));
    e->value = psi;
    info->payload_schema[info->n_payload_schema++] = e;
}

void qv_grpc_payload_schema_out(qv_grpc_req *rq, qv_collection *c, Qdrant__CollectionInfo *info) {
    qv_grpc_schema_ctx x = {rq, info, 0};
    qv_collection_payload_schema(c, qv_grpc_schema_entry, &x);
}
