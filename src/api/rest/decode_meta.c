/*
 * decode_meta.c - REST bodies of the collection meta operations: alias
 * changes (POST /collections/aliases) and payload field index declarations
 * (PUT /collections/{c}/index, DELETE /collections/{c}/index/{field}).
 *
 * Both APIs decode through here.  gRPC builds its UpdateAliases actions
 * directly (the struct has one string per protobuf field) but turns
 * CreateFieldIndexCollection into the REST body {"field_name",
 * "field_schema"} and calls qv_rest_decode_create_index, so the schema rules
 * and the canonical parameters live in this file only.
 *
 * Field schemas.  `field_schema` is a type name ("keyword") or an object
 * with `type` and the parameters of that type (Qdrant's PayloadSchemaParams).
 * The object is re-written canonically - keys in the order of Qdrant's
 * structs, aliases resolved ("en" -> "english"), stop-word sets sorted and
 * de-duplicated, defaults Qdrant always prints filled in (`tokenizer`), the
 * Option fields Qdrant prints as null when unset (integer `lookup`, `range`,
 * `is_principal`; float and datetime `is_principal`) written as null - so
 * that collection info echoes it exactly as Qdrant serialises it.  Unknown
 * keys are ignored, as serde ignores them; a value of the wrong type makes
 * the whole schema "data did not match any variant of untagged enum
 * PayloadFieldSchema", which is what serde reports for an untagged enum.
 *
 * What it does not do: look at the collection.  Whether the field has data,
 * and of which type, does not matter to a declaration (Qdrant does not check
 * either).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/decode.h"
#include "collection/field_index.h"
#include "index/filter.h"

/* ======================================================================
 * Aliases
 * ====================================================================== */

static qv_rc qv_rest_alias_bad(qv_err *err) {
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum AliasOperations");
}

/* A required string member of o (no NUL bytes: no name can hold one). */
static qv_rc qv_rest_alias_str(const jv *o, const char *key, const char **out, qv_err *err) {
    const jv *v = jv_get(o, key);
    if (!v || v->type != JV_STR) return qv_rest_alias_bad(err);
    if (strlen(v->v.s) != v->len)
        return qv_fail(err, QV_EBADINPUT, "`%s` must not contain a NUL character", key);
    *out = v->v.s;
    return QV_OK;
}

static qv_rc qv_rest_alias_action(const jv *v, qv_alias_action *act, qv_err *err) {
    memset(act, 0, sizeof *act);
    const jv *o;
    if (v->type != JV_OBJ) return qv_rest_alias_bad(err);
    /* serde's untagged enum tries CreateAlias, DeleteAlias, RenameAlias in turn */
    if ((o = jv_get(v, "create_alias")) && o->type == JV_OBJ) {
        act->kind = QV_ALIAS_CREATE;
        qv_rc rc = qv_rest_alias_str(o, "collection_name", &act->collection_name, err);
        return rc ? rc : qv_rest_alias_str(o, "alias_name", &act->alias_name, err);
    }
    if ((o = jv_get(v, "delete_alias")) && o->type == JV_OBJ) {
        act->kind = QV_ALIAS_DELETE;
        return qv_rest_alias_str(o, "alias_name", &act->alias_name, err);
    }
    if ((o = jv_get(v, "rename_alias")) && o->type == JV_OBJ) {
        act->kind = QV_ALIAS_RENAME;
        qv_rc rc = qv_rest_alias_str(o, "old_alias_name", &act->alias_name, err);
        return rc ? rc : qv_rest_alias_str(o, "new_alias_name", &act->new_alias_name, err);
    }
    return qv_rest_alias_bad(err);
}

qv_rc qv_rest_decode_alias_actions(qv_arena *a, const jv *body, qv_alias_action **out, size_t *n,
                                   qv_err *err) {
    *out = NULL;
    *n = 0;
    if (!body || body->type != JV_OBJ)
        return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected struct ChangeAliasesOperation",
                       body && body->type == JV_ARR ? "sequence" : "value");
    const jv *acts = jv_get(body, "actions");
    if (qv_rest_absent(acts)) return qv_fail(err, QV_EFORMAT, "missing field `actions`");
    if (acts->type != JV_ARR)
        return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected a sequence",
                       acts->type == JV_OBJ ? "map" : "value");
    qv_alias_action *list = qv_arena_calloc(a, sizeof *list * (acts->len ? acts->len : 1));
    if (!list) return qv_fail(err, QV_ENOMEM, "out of memory while decoding the request");
    for (uint32_t i = 0; i < acts->len; i++) {
        qv_rc rc = qv_rest_alias_action(&acts->v.items[i], &list[i], err);
        if (rc) return rc;
    }
    *out = list;
    *n = acts->len;
    return QV_OK;
}

/* ======================================================================
 * Field schemas
 * ====================================================================== */

/* How one parameter is read and printed. */
typedef enum qv_rest_pkind {
    QV_PK_BOOL = 1,  /* optional bool, omitted when unset */
    QV_PK_BOOL_NULL, /* optional bool Qdrant prints as null when unset */
    QV_PK_UINT,      /* optional usize */
    QV_PK_MEMORY,    /* "cold" | "cached" | "pinned" */
    QV_PK_TOKENIZER, /* always printed; default "word" */
    QV_PK_STOPWORDS, /* a language or {languages, custom} */
    QV_PK_STEMMER,   /* {"type":"snowball","language"} | {"type":"none"} */
} qv_rest_pkind;

typedef struct qv_rest_pspec {
    const char *key;
    uint32_t kind; /* qv_rest_pkind */
} qv_rest_pspec;

/* The parameters of each type, in the order Qdrant's structs print them
 * (openapi.json lists them in the same order). */
static const qv_rest_pspec qv_rest_keyword_params[] = {
    {"is_tenant", QV_PK_BOOL},   {"on_disk", QV_PK_BOOL}, {"memory", QV_PK_MEMORY},
    {"enable_hnsw", QV_PK_BOOL}, {"prefix", QV_PK_BOOL},  {NULL, 0},
};
static const qv_rest_pspec qv_rest_integer_params[] = {
    {"lookup", QV_PK_BOOL_NULL},
    {"range", QV_PK_BOOL_NULL},
    {"is_principal", QV_PK_BOOL_NULL},
    {"on_disk", QV_PK_BOOL},
    {"memory", QV_PK_MEMORY},
    {"enable_hnsw", QV_PK_BOOL},
    {NULL, 0},
};
static const qv_rest_pspec qv_rest_principal_params[] = {
    /* float, datetime */
    {"is_principal", QV_PK_BOOL_NULL},
    {"on_disk", QV_PK_BOOL},
    {"memory", QV_PK_MEMORY},
    {"enable_hnsw", QV_PK_BOOL},
    {NULL, 0},
};
static const qv_rest_pspec qv_rest_plain_params[] = {
    /* geo, bool */
    {"on_disk", QV_PK_BOOL},
    {"memory", QV_PK_MEMORY},
    {"enable_hnsw", QV_PK_BOOL},
    {NULL, 0},
};
static const qv_rest_pspec qv_rest_text_params[] = {
    {"tokenizer", QV_PK_TOKENIZER}, {"min_token_len", QV_PK_UINT}, {"max_token_len", QV_PK_UINT},
    {"lowercase", QV_PK_BOOL},      {"ascii_folding", QV_PK_BOOL}, {"phrase_matching", QV_PK_BOOL},
    {"stopwords", QV_PK_STOPWORDS}, {"on_disk", QV_PK_BOOL},       {"memory", QV_PK_MEMORY},
    {"stemmer", QV_PK_STEMMER},     {"enable_hnsw", QV_PK_BOOL},   {NULL, 0},
};
static const qv_rest_pspec qv_rest_uuid_params[] = {
    {"is_tenant", QV_PK_BOOL},
    {"on_disk", QV_PK_BOOL},
    {"memory", QV_PK_MEMORY},
    {"enable_hnsw", QV_PK_BOOL},
    {NULL, 0},
};

static const qv_rest_pspec *qv_rest_params_of(uint32_t type) {
    switch (type) {
    case QV_PT_KEYWORD:
        return qv_rest_keyword_params;
    case QV_PT_INTEGER:
        return qv_rest_integer_params;
    case QV_PT_FLOAT:
    case QV_PT_DATETIME:
        return qv_rest_principal_params;
    case QV_PT_TEXT:
        return qv_rest_text_params;
    case QV_PT_UUID:
        return qv_rest_uuid_params;
    default:
        return qv_rest_plain_params;
    }
}

/* Stop-word languages (Qdrant's Language: snake_case names, then the short
 * aliases serde also accepts), in the enum's (alphabetical) order. */
static const char *const qv_rest_languages[][2] = {
    {"arabic", "ar"},     {"azerbaijani", "az"}, {"basque", "eu"},      {"bengali", "bn"},
    {"catalan", "ca"},    {"chinese", "zh"},     {"danish", "da"},      {"dutch", "nl"},
    {"english", "en"},    {"finnish", "fi"},     {"french", "fr"},      {"german", "de"},
    {"greek", "el"},      {"hebrew", "he"},      {"hinglish", "hi-en"}, {"hungarian", "hu"},
    {"indonesian", "id"}, {"italian", "it"},     {"japanese", "jp"},    {"kazakh", "kk"},
    {"nepali", "ne"},     {"norwegian", "no"},   {"portuguese", "pt"},  {"romanian", "ro"},
    {"russian", "ru"},    {"slovene", "sl"},     {"spanish", "es"},     {"swedish", "sv"},
    {"tajik", "tg"},      {"turkish", "tr"},
};

/* Snowball stemmer languages and their aliases. */
static const char *const qv_rest_snowball[][2] = {
    {"arabic", "ar"},     {"armenian", "hy"},  {"danish", "da"},  {"dutch", "nl"},
    {"english", "en"},    {"finnish", "fi"},   {"french", "fr"},  {"german", "de"},
    {"greek", "el"},      {"hungarian", "hu"}, {"italian", "it"}, {"norwegian", "no"},
    {"portuguese", "pt"}, {"romanian", "ro"},  {"russian", "ru"}, {"spanish", "es"},
    {"swedish", "sv"},    {"tamil", "ta"},     {"turkish", "tr"},
};

/* Index of v's name or alias in a table of n (name, alias) rows, or -1. */
static int qv_rest_lookup(const char *const (*table)[2], size_t n, const jv *v) {
    if (!v || v->type != JV_STR) return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->v.s, table[i][0]) == 0 || strcmp(v->v.s, table[i][1]) == 0) return (int)i;
    return -1;
}

static int qv_rest_word(const jv *v, const char *const *words, size_t n) {
    if (!v || v->type != JV_STR) return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->v.s, words[i]) == 0) return (int)i;
    return -1;
}

#define QV_NLANG     (sizeof qv_rest_languages / sizeof *qv_rest_languages)
#define QV_NSNOWBALL (sizeof qv_rest_snowball / sizeof *qv_rest_snowball)

static int qv_rest_cmp_str(const void *a, const void *b) {
    const jv *x = a, *y = b;
    return strcmp(x->v.s, y->v.s);
}

/* {languages, custom}: each a set (sorted, unique), printed when given. */
static bool qv_rest_stopword_set(qv_arena *a, const jv *v, jw *w) {
    const jv *langs = jv_get(v, "languages"), *custom = jv_get(v, "custom");
    jw_obj_begin(w);
    if (!qv_rest_absent(langs)) {
        if (langs->type != JV_ARR) return false;
        bool seen[QV_NLANG] = {false};
        for (uint32_t i = 0; i < langs->len; i++) {
            int k = qv_rest_lookup(qv_rest_languages, QV_NLANG, &langs->v.items[i]);
            if (k < 0) return false;
            seen[k] = true;
        }
        jw_key(w, "languages");
        jw_arr_begin(w);
        for (size_t k = 0; k < QV_NLANG; k++)
            if (seen[k]) jw_str(w, qv_rest_languages[k][0]);
        jw_arr_end(w);
    }
    if (!qv_rest_absent(custom)) {
        if (custom->type != JV_ARR) return false;
        jv *words = qv_arena_alloc(a, sizeof(jv) * (custom->len ? custom->len : 1));
        if (!words) return false;
        for (uint32_t i = 0; i < custom->len; i++) {
            if (custom->v.items[i].type != JV_STR) return false;
            words[i] = custom->v.items[i];
        }
        qsort(words, custom->len, sizeof(jv), qv_rest_cmp_str);
        jw_key(w, "custom");
        jw_arr_begin(w);
        for (uint32_t i = 0; i < custom->len; i++)
            if (i == 0 || strcmp(words[i].v.s, words[i - 1].v.s) != 0)
                jw_strn(w, words[i].v.s, words[i].len);
        jw_arr_end(w);
    }
    jw_obj_end(w);
    return true;
}

/* Reads one parameter of the spec and prints it canonically; false when
 * its value does not deserialise. */
static bool qv_rest_param(qv_arena *a, const qv_rest_pspec *p, const jv *v, jw *w) {
    static const char *const memory[] = {"cold", "cached", "pinned"};
    static const char *const tokenizers[] = {"prefix", "whitespace", "word", "multilingual"};
    bool absent = qv_rest_absent(v);
    uint64_t u;
    int k;
    if (absent && p->kind != QV_PK_BOOL_NULL && p->kind != QV_PK_TOKENIZER) return true;
    jw_key(w, p->key);
    switch (p->kind) {
    case QV_PK_BOOL_NULL:
        if (absent) {
            jw_null(w);
            return true;
        }
        /* fall through */
    case QV_PK_BOOL:
        if (v->type != JV_BOOL) return false;
        jw_bool(w, v->v.b != 0);
        return true;
    case QV_PK_UINT:
        if (!jv_to_u64(v, &u)) return false;
        jw_u64(w, u);
        return true;
    case QV_PK_MEMORY:
        if ((k = qv_rest_word(v, memory, 3)) < 0) return false;
        jw_str(w, memory[k]);
        return true;
    case QV_PK_TOKENIZER:
        k = absent ? 2 : qv_rest_word(v, tokenizers, 4);
        if (k < 0) return false;
        jw_str(w, tokenizers[k]);
        return true;
    case QV_PK_STOPWORDS:
        if (v->type == JV_OBJ) return qv_rest_stopword_set(a, v, w);
        if ((k = qv_rest_lookup(qv_rest_languages, QV_NLANG, v)) < 0) return false;
        jw_str(w, qv_rest_languages[k][0]);
        return true;
    case QV_PK_STEMMER: {
        const jv *t = jv_get(v, "type");
        jw_obj_begin(w);
        jw_key(w, "type");
        if (t && t->type == JV_STR && strcmp(t->v.s, "none") == 0) {
            jw_str(w, "none");
        } else {
            if (!t || t->type != JV_STR || strcmp(t->v.s, "snowball") != 0) return false;
            k = qv_rest_lookup(qv_rest_snowball, QV_NSNOWBALL, jv_get(v, "language"));
            if (k < 0) return false;
            jw_str(w, "snowball");
            jw_key(w, "language");
            jw_str(w, qv_rest_snowball[k][0]);
        }
        jw_obj_end(w);
        return true;
    }
    default:
        return false;
    }
}

static qv_rc qv_rest_schema_bad(qv_err *err) {
    return qv_fail(err, QV_EFORMAT,
                   "data did not match any variant of untagged enum PayloadFieldSchema");
}

/* The object form: *params becomes the canonical object (in a). */
static qv_rc qv_rest_schema_object(qv_arena *a, const jv *s, uint32_t *type, jv *params,
                                   qv_err *err) {
    const jv *t = jv_get(s, "type");
    *type = t && t->type == JV_STR ? qv_payload_type_parse(t->v.s, t->len) : 0;
    if (!*type) return qv_rest_schema_bad(err);
    jw w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "type");
    jw_str(&w, qv_payload_type_name(*type));
    bool ok = true;
    for (const qv_rest_pspec *p = qv_rest_params_of(*type); ok && p->key; p++)
        ok = qv_rest_param(a, p, jv_get(s, p->key), &w);
    jw_obj_end(&w);
    qv_rc rc = QV_OK;
    if (!ok)
        rc = qv_rest_schema_bad(err);
    else if (w.oom)
        rc = qv_fail(err, QV_ENOMEM, "out of memory while decoding the request");
    else if (jv_parse(a, w.buf, w.len, params, err) == QV_OK)
        jv_resolve_numbers(params);
    else
        rc = qv_fail(err, QV_EINTERNAL, "canonical index parameters do not parse");
    jw_free(&w);
    if (rc) return rc;
    /* validator: IntegerIndexParams */
    const jv *lookup = jv_get(params, "lookup"), *range = jv_get(params, "range");
    if (*type == QV_PT_INTEGER && lookup && lookup->type == JV_BOOL && !lookup->v.b && range &&
        range->type == JV_BOOL && !range->v.b)
        return qv_fail(err, QV_EVALIDATION,
                       "field_schema.lookup: the 'lookup' and 'range' capabilities can't be both "
                       "disabled");
    return QV_OK;
}

qv_rc qv_rest_decode_field_schema(qv_arena *a, const jv *schema, uint32_t *type, jv *params,
                                  qv_err *err) {
    memset(params, 0, sizeof *params);
    params->type = JV_NULL;
    if (qv_rest_absent(schema))
        return qv_fail(
            err, QV_EBADREQUEST,
            "Can't auto-detect field type, please specify `field_schema` in the request");
    if (schema->type == JV_STR) {
        *type = qv_payload_type_parse(schema->v.s, schema->len);
        return *type ? QV_OK : qv_rest_schema_bad(err);
    }
    if (schema->type != JV_OBJ) return qv_rest_schema_bad(err);
    return qv_rest_schema_object(a, schema, type, params, err);
}

/* ======================================================================
 * Index operations
 * ====================================================================== */

/* The field must be a key path (Qdrant's JsonPath). */
static qv_rc qv_rest_index_field(qv_arena *a, const char *field, size_t len, qv_rc kind,
                                 qv_err *err) {
    qv_keypath *kp;
    if (strlen(field) != len || qv_keypath_parse(a, field, len, &kp, NULL) != QV_OK)
        return qv_fail(err, kind, "Invalid JSON path `%.200s`", field);
    return QV_OK;
}

qv_rc qv_rest_decode_create_index(qv_arena *a, const jv *body, qv_update_op *op, qv_err *err) {
    memset(op, 0, sizeof *op);
    op->kind = QV_OP_CREATE_INDEX;
    op->payload.type = JV_NULL;
    if (!body || body->type != JV_OBJ)
        return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected struct CreateFieldIndex",
                       body && body->type == JV_ARR ? "sequence" : "value");
    const jv *field = jv_get(body, "field_name");
    if (qv_rest_absent(field)) return qv_fail(err, QV_EFORMAT, "missing field `field_name`");
    if (field->type != JV_STR)
        return qv_fail(err, QV_EFORMAT, "invalid type: %s, expected a string",
                       field->type == JV_OBJ ? "map" : "value");
    uint32_t type = 0;
    qv_rc rc = qv_rest_index_field(a, field->v.s, field->len, QV_EFORMAT, err);
    if (rc || (rc = qv_rest_decode_field_schema(a, jv_get(body, "field_schema"), &type,
                                                &op->payload, err)))
        return rc;
    const char **names = qv_arena_alloc(a, sizeof *names);
    if (!names) return qv_fail(err, QV_ENOMEM, "out of memory while decoding the request");
    names[0] = qv_payload_type_name(type);
    op->names = names;
    op->nnames = 1;
    op->key = field->v.s;
    return QV_OK;
}

qv_rc qv_rest_decode_delete_index(qv_arena *a, const char *field, size_t len, qv_update_op *op,
                                  qv_err *err) {
    memset(op, 0, sizeof *op);
    op->kind = QV_OP_DELETE_INDEX;
    op->payload.type = JV_NULL;
    qv_rc rc = qv_rest_index_field(a, field, len, QV_EBADINPUT, err);
    if (rc) return rc;
    op->key = qv_arena_strndup(a, field, len);
    return op->key ? QV_OK : qv_fail(err, QV_ENOMEM, "out of memory while decoding the request");
}
