/*
 * text_data.h - data tables of the full-text tokenizer (index/text.c).
 *
 * The tables live in text_data.c, which scripts/gen_text_data.py generates;
 * they are facts reproduced as data, not code: Qdrant 1.19's ASCII-folding
 * map and its built-in stop-word lists.  Read-only, so any thread may read
 * them.
 */
#ifndef QV_INDEX_TEXT_DATA_H
#define QV_INDEX_TEXT_DATA_H

#include <stddef.h>
#include <stdint.h>

/* One ASCII-folding rule: code point cp becomes the ASCII string `to`.
 * qv_text_fold_table is sorted by cp (binary search); a code point that is
 * not in it is kept as it is. */
typedef struct qv_text_fold {
    uint32_t cp;
    const char *to;
} qv_text_fold;

extern const qv_text_fold qv_text_fold_table[];
extern const size_t qv_text_fold_count;

/* The stop words of one language (UTF-8, as Qdrant lists them), in the order
 * of Qdrant's `Language` enum, which is also qv_text_lang's (index/text.h). */
typedef struct qv_text_stoplist {
    const char *name; /* "arabic", ... */
    const char *const *words;
    size_t n;
} qv_text_stoplist;

extern const qv_text_stoplist qv_text_stoplists[];
extern const size_t qv_text_nstoplists;

#endif
