/*
 * text_params.c - canonical text-index params JSON -> qv_text_opts (see
 * text_params.h).
 *
 * The params were validated when the index was declared (decode_meta.c), so
 * a failure here means a params object from elsewhere (a hand-edited or
 * corrupted checkpoint, a future version): every field is still checked and
 * the message names it, rather than trusting the shape.  Pure function of
 * its input; no locks, any thread.
 */
#include "collection/text_params.h"

#include <string.h>

/* Qdrant's Language aliases ("en" for english, ...), by qv_text_lang. */
static const char *const lang_alias[QV_LANG_COUNT] = {
    "ar", "az", "eu", "bn", "ca", "zh", "da", "nl", "en", "fi", "fr", "de", "el", "he", "hi-en",
    "hu", "id", "it", "jp", "kk", "ne", "no", "pt", "ro", "ru", "sl", "es", "sv", "tg", "tr",
};

/* SnowballLanguage names and their aliases. */
static const char *const snowball[][2] = {
    {"arabic", "ar"},     {"armenian", "hy"},  {"danish", "da"},  {"dutch", "nl"},
    {"english", "en"},    {"finnish", "fi"},   {"french", "fr"},  {"german", "de"},
    {"greek", "el"},      {"hungarian", "hu"}, {"italian", "it"}, {"norwegian", "no"},
    {"portuguese", "pt"}, {"romanian", "ro"},  {"russian", "ru"}, {"spanish", "es"},
    {"swedish", "sv"},    {"tamil", "ta"},     {"turkish", "tr"},
};

static bool absent(const jv *v) {
    return !v || v->type == JV_NULL;
}

static qv_rc bad(qv_err *err, const char *key, const char *what) {
    return qv_fail(err, QV_EBADINPUT, "text index parameter `%s`: %s", key, what);
}

static bool lang_of(const jv *v, qv_text_lang *out) {
    if (!v || v->type != JV_STR) return false;
    if (qv_text_lang_parse(v->v.s, v->len, out)) return true;
    for (int l = 0; l < QV_LANG_COUNT; l++)
        if (strcmp(v->v.s, lang_alias[l]) == 0) {
            *out = (qv_text_lang)l;
            return true;
        }
    return false;
}

static qv_rc read_bool(const jv *params, const char *key, bool *out, qv_err *err) {
    const jv *v = jv_get(params, key);
    if (absent(v)) return QV_OK;
    if (v->type != JV_BOOL) return bad(err, key, "must be true or false");
    *out = v->v.b != 0;
    return QV_OK;
}

static qv_rc read_len(const jv *params, const char *key, bool *has, size_t *out, qv_err *err) {
    const jv *v = jv_get(params, key);
    uint64_t u;
    if (absent(v)) return QV_OK;
    if (!jv_to_u64(v, &u) || u > SIZE_MAX) return bad(err, key, "must be a non-negative integer");
    *has = true;
    *out = (size_t)u;
    return QV_OK;
}

static qv_rc read_tokenizer(const jv *params, qv_text_opts *o, qv_err *err) {
    static const char *const names[] = {"word", "whitespace", "prefix", "multilingual"};
    const jv *v = jv_get(params, "tokenizer");
    if (absent(v)) return QV_OK;
    for (int t = 0; v->type == JV_STR && t < 4; t++)
        if (strcmp(v->v.s, names[t]) == 0) {
            o->tokenizer = (qv_text_tokenizer)t;
            return QV_OK;
        }
    return bad(err, "tokenizer", "must be one of prefix, whitespace, word, multilingual");
}

/* A language, or {languages, custom}. */
static qv_rc read_stopwords(const jv *params, qv_arena *a, qv_text_opts *o, qv_err *err) {
    const jv *v = jv_get(params, "stopwords"), *langs, *custom;
    qv_text_lang l;
    if (absent(v)) return QV_OK;
    if (v->type == JV_STR) {
        if (!lang_of(v, &l)) return bad(err, "stopwords", "unknown language");
        o->stopword_langs |= 1u << l;
        return QV_OK;
    }
    if (v->type != JV_OBJ) return bad(err, "stopwords", "must be a language or an object");
    if (!absent(langs = jv_get(v, "languages"))) {
        if (langs->type != JV_ARR) return bad(err, "stopwords.languages", "must be an array");
        for (uint32_t i = 0; i < langs->len; i++) {
            if (!lang_of(&langs->v.items[i], &l))
                return bad(err, "stopwords.languages", "unknown language");
            o->stopword_langs |= 1u << l;
        }
    }
    if (!absent(custom = jv_get(v, "custom"))) {
        if (custom->type != JV_ARR) return bad(err, "stopwords.custom", "must be an array");
        qv_text_str *words = qv_arena_alloc(a, sizeof *words * (custom->len ? custom->len : 1));
        if (!words) return qv_fail(err, QV_ENOMEM, "out of memory reading text index params");
        for (uint32_t i = 0; i < custom->len; i++) {
            const jv *w = &custom->v.items[i];
            if (w->type != JV_STR) return bad(err, "stopwords.custom", "must hold strings");
            words[i] = (qv_text_str){w->v.s, w->len};
        }
        o->custom_stopwords = words;
        o->n_custom_stopwords = custom->len;
    }
    return QV_OK;
}

/* {"type":"snowball","language":L} or {"type":"none"}. */
static qv_rc read_stemmer(const jv *params, qv_text_opts *o, qv_err *err) {
    const jv *v = jv_get(params, "stemmer");
    if (absent(v)) return QV_OK;
    const jv *t = jv_get(v, "type"), *lang = jv_get(v, "language");
    if (!t || t->type != JV_STR) return bad(err, "stemmer", "must be an object with a `type`");
    if (strcmp(t->v.s, "none") == 0) return QV_OK;
    if (strcmp(t->v.s, "snowball") != 0)
        return bad(err, "stemmer", "type must be snowball or none");
    for (size_t i = 0; lang && lang->type == JV_STR && i < sizeof snowball / sizeof *snowball; i++)
        if (strcmp(lang->v.s, snowball[i][0]) == 0 || strcmp(lang->v.s, snowball[i][1]) == 0) {
            o->stemmer = snowball[i][0];
            return QV_OK;
        }
    return bad(err, "stemmer.language", "unknown Snowball language");
}

qv_rc qv_text_params_parse(const jv *params, qv_arena *a, qv_text_opts *o, qv_err *err) {
    qv_text_opts_init(o);
    if (absent(params)) return QV_OK;
    if (params->type != JV_OBJ) return bad(err, "params", "must be an object");
    const jv *type = jv_get(params, "type");
    if (type && (type->type != JV_STR || strcmp(type->v.s, "text") != 0))
        return bad(err, "type", "must be \"text\"");
    qv_rc rc;
    if ((rc = read_tokenizer(params, o, err)) ||
        (rc = read_len(params, "min_token_len", &o->has_min_token_len, &o->min_token_len, err)) ||
        (rc = read_len(params, "max_token_len", &o->has_max_token_len, &o->max_token_len, err)) ||
        (rc = read_bool(params, "lowercase", &o->lowercase, err)) ||
        (rc = read_bool(params, "ascii_folding", &o->ascii_folding, err)) ||
        (rc = read_bool(params, "phrase_matching", &o->phrase_matching, err)) ||
        (rc = read_stopwords(params, a, o, err)) || (rc = read_stemmer(params, o, err)))
        return rc;
    return QV_OK;
}

qv_text_analyzer *qv_text_params_analyzer(const char *params_json, qv_err *err) {
    qv_arena a;
    qv_arena_init(&a);
    qv_text_analyzer *an = NULL;
    jv params = {.type = JV_NULL};
    qv_text_opts o;
    qv_err perr;
    if (params_json && jv_parse(&a, params_json, strlen(params_json), &params, &perr) != QV_OK) {
        qv_fail(err, QV_EBADINPUT, "text index params do not parse: %s", perr.msg);
    } else if (qv_text_params_parse(&params, &a, &o, err) == QV_OK) {
        an = qv_text_analyzer_new(&o, err);
    }
    qv_arena_free(&a);
    return an;
}
