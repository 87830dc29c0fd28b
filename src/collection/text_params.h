/*
 * text_params.h - a text index's declared parameters -> the analyzer's
 * options (index/text.h).
 *
 * The input is the canonical params object that field_index.c keeps for a
 * declaration (decode_meta.c writes it: {"type":"text","tokenizer":"word",
 * "min_token_len":2,"lowercase":true,"stopwords":{"languages":["english"],
 * "custom":["foo"]},"stemmer":{"type":"snowball","language":"english"},
 * ...}).  Storage-only keys (on_disk, memory, enable_hnsw) are ignored;
 * language names are also accepted in their short alias form ("en"), so
 * params written by any version read back.  A declaration by type name only
 * (no params object) gives Qdrant's defaults.
 */
#ifndef QV_COLLECTION_TEXT_PARAMS_H
#define QV_COLLECTION_TEXT_PARAMS_H

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "index/text.h"

/* Fills *o from params (NULL or JSON null = defaults).  Custom stop words
 * are an array allocated in `a` whose strings point into params; the
 * stemmer name is static.  So *o is valid while both params and `a` live.
 * QV_EBADINPUT with a message naming the parameter when a value is not what
 * Qdrant accepts; QV_ENOMEM. */
qv_rc qv_text_params_parse(const jv *params, qv_arena *a, qv_text_opts *o, qv_err *err);

/* The analyzer for a declaration's canonical params JSON text (as
 * qv_field_index.params holds it; NULL = declared by type name).  NULL on
 * failure with err set (QV_EBADINPUT for params that do not parse or are
 * invalid, and as qv_text_analyzer_new). */
qv_text_analyzer *qv_text_params_analyzer(const char *params_json, qv_err *err);

#endif
