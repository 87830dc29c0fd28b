/*
 * text.h - full-text analysis for the text payload index: tokenizers,
 * token normalisation and the match.text / text_any / phrase matcher,
 * behaving as Qdrant 1.19's full-text index does (text.c's design comment
 * says how, and where it can only approximate).
 *
 * Use:
 *   qv_text_opts o;  qv_text_opts_init(&o);  o.tokenizer = QV_TEXT_PREFIX; ...
 *   qv_text_analyzer *an = qv_text_analyzer_new(&o, &err);   // once per index
 *   qv_text_doc_tokens(an, s, len, cb, ctx);     // what the index stores
 *   qv_text_query *q;
 *   qv_text_query_new(an, QV_TEXT_MATCH_TEXT, "quick fox", 9, &q);
 *   qv_text_query_match(q, doc, dlen, &hit);     // one condition, one value
 *
 * Strings are UTF-8 with explicit lengths (they may hold NUL bytes).  Input
 * that is not valid UTF-8 never fails and is never read out of bounds: each
 * maximal ill-formed subsequence reads as U+FFFD (as Rust's
 * String::from_utf8_lossy does), so every token handed out is valid UTF-8.
 *
 * Threading: an analyzer and a prepared query are immutable once built, and
 * every function taking a const pointer to them may run on many threads at
 * once (Snowball stemmers and ICU break iterators, which are not
 * thread-safe, come from a small per-analyzer pool, one per concurrent
 * caller).  _free must not race with anything else using the object.
 */
#ifndef QV_INDEX_TEXT_H
#define QV_INDEX_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- configuration (Qdrant's TextIndexParams) ----------------------------- */

typedef enum qv_text_tokenizer {
    QV_TEXT_WORD = 0,     /* split on anything not alphanumeric (default) */
    QV_TEXT_WHITESPACE,   /* split on Unicode white space */
    QV_TEXT_PREFIX,       /* word split; documents index every prefix */
    QV_TEXT_MULTILINGUAL, /* script-aware word segmentation (CJK, Thai, ...) */
} qv_text_tokenizer;

/* Qdrant's stop-word `Language`, in the enum's order (also the order of
 * qv_text_stoplists in text_data.h). */
typedef enum qv_text_lang {
    QV_LANG_ARABIC = 0,
    QV_LANG_AZERBAIJANI,
    QV_LANG_BASQUE,
    QV_LANG_BENGALI,
    QV_LANG_CATALAN,
    QV_LANG_CHINESE,
    QV_LANG_DANISH,
    QV_LANG_DUTCH,
    QV_LANG_ENGLISH,
    QV_LANG_FINNISH,
    QV_LANG_FRENCH,
    QV_LANG_GERMAN,
    QV_LANG_GREEK,
    QV_LANG_HEBREW,
    QV_LANG_HINGLISH,
    QV_LANG_HUNGARIAN,
    QV_LANG_INDONESIAN,
    QV_LANG_ITALIAN,
    QV_LANG_JAPANESE,
    QV_LANG_KAZAKH,
    QV_LANG_NEPALI,
    QV_LANG_NORWEGIAN,
    QV_LANG_PORTUGUESE,
    QV_LANG_ROMANIAN,
    QV_LANG_RUSSIAN,
    QV_LANG_SLOVENE,
    QV_LANG_SPANISH,
    QV_LANG_SWEDISH,
    QV_LANG_TAJIK,
    QV_LANG_TURKISH,
    QV_LANG_COUNT,
} qv_text_lang;

/* A borrowed UTF-8 string with its length. */
typedef struct qv_text_str {
    const char *s;
    size_t len;
} qv_text_str;

typedef struct qv_text_opts {
    qv_text_tokenizer tokenizer;
    bool lowercase;                            /* default true */
    bool ascii_folding;                        /* default false */
    bool phrase_matching;                      /* default false: the index keeps no positions */
    bool has_min_token_len, has_max_token_len; /* unset = no limit */
    size_t min_token_len, max_token_len;       /* in characters (code points) */
    uint32_t stopword_langs;                   /* bit (1u << qv_text_lang) per language */
    const qv_text_str *custom_stopwords;       /* borrowed; copied by _new */
    size_t n_custom_stopwords;
    const char *stemmer; /* Snowball language ("english", ...), NULL = none; borrowed */
} qv_text_opts;

/* Qdrant's defaults: word tokenizer, lowercase, nothing else. */
void qv_text_opts_init(qv_text_opts *o);

/* "arabic", ... for a language; NULL when out of range. */
const char *qv_text_lang_name(qv_text_lang lang);
/* The language named s[0..len) (snake_case name only); false if none. */
bool qv_text_lang_parse(const char *s, size_t len, qv_text_lang *out);
/* Whether name is one of Qdrant's SnowballLanguage values ("english", ...). */
bool qv_text_snowball_known(const char *name);

/* ---- the analyzer ------------------------------------------------------------ */

typedef struct qv_text_analyzer qv_text_analyzer;

/* Builds an analyzer for o (which it copies, custom stop words included).
 * NULL on failure with err set: QV_EBADINPUT for an unknown tokenizer or
 * stemmer language, QV_ENOMEM, QV_EINTERNAL when ICU cannot be used. */
qv_text_analyzer *qv_text_analyzer_new(const qv_text_opts *o, qv_err *err);
void qv_text_analyzer_free(qv_text_analyzer *an);

/* The options the analyzer was built with (custom_stopwords is NULL: the
 * words live in the analyzer's stop-word set; stemmer is a static string). */
const qv_text_opts *qv_text_analyzer_opts(const qv_text_analyzer *an);

/* Called once per token, in order; `pos` counts the tokens handed out so far
 * for this string (0, 1, 2, ...: the token's position in Qdrant's ordered
 * document, stop words and length-filtered tokens leaving no gap).  The
 * token (tok[0..len), valid UTF-8, not NUL-terminated) is only valid during
 * the call.  Return false to stop early. */
typedef bool (*qv_text_token_cb)(void *ctx, const char *tok, size_t len, uint32_t pos);

/* The tokens Qdrant indexes for one document value: for the prefix
 * tokenizer every prefix of every word (`hello` with max_token_len 4:
 * h, he, hel, hell).  The same token may come more than once.
 * QV_ENOMEM / QV_ETOOLARGE (over 256 MiB) / QV_EINTERNAL (ICU) on failure;
 * stopping early is not a failure. */
qv_rc qv_text_doc_tokens(const qv_text_analyzer *an, const char *s, size_t len, qv_text_token_cb cb,
                         void *ctx);

/* The tokens of a match.text / text_any query string: as documents, except
 * that the prefix tokenizer yields each word once, cut to max_token_len,
 * and keeps stop words (a typed prefix such as "the" must still find
 * "theory"). */
qv_rc qv_text_query_tokens(const qv_text_analyzer *an, const char *s, size_t len,
                           qv_text_token_cb cb, void *ctx);

/* ---- matching ---------------------------------------------------------------- */

typedef enum qv_text_match_kind {
    QV_TEXT_MATCH_TEXT = 0, /* match.text: every query token is in the document */
    QV_TEXT_MATCH_ANY,      /* match.text_any: at least one query token is */
    QV_TEXT_MATCH_PHRASE,   /* match.phrase: the query's tokens, consecutive, in order */
} qv_text_match_kind;

/* A query tokenized once, to test against many documents.  It borrows the
 * analyzer, which must outlive it. */
typedef struct qv_text_query qv_text_query;

/* Prepares q[0..qlen) as a condition of the given kind: text and text_any
 * use the query tokenizer, phrase the document tokenizer (as Qdrant parses
 * a phrase).  A query that tokenizes to nothing matches nothing, and so does
 * a phrase query on an analyzer without phrase_matching (Qdrant's index has
 * no positions then).  QV_ENOMEM / QV_ETOOLARGE / QV_EINTERNAL. */
qv_rc qv_text_query_new(const qv_text_analyzer *an, qv_text_match_kind kind, const char *q,
                        size_t qlen, qv_text_query **out);
void qv_text_query_free(qv_text_query *q);

qv_text_match_kind qv_text_query_kind(const qv_text_query *q);
/* True when the query can match no document at all. */
bool qv_text_query_matches_nothing(const qv_text_query *q);
/* The query's distinct tokens (first-seen order), for an inverted index:
 * count, then each token (NUL-terminated, *len set when len != NULL). */
size_t qv_text_query_ntokens(const qv_text_query *q);
const char *qv_text_query_token(const qv_text_query *q, size_t i, size_t *len);
/* Phrase queries: the phrase as indexes into the distinct tokens, in order
 * (repeats included); *n gets its length.  NULL for the other kinds. */
const uint32_t *qv_text_query_phrase(const qv_text_query *q, size_t *n);

/* Whether one document value satisfies the condition. */
qv_rc qv_text_query_match(const qv_text_query *q, const char *doc, size_t dlen, bool *out);

/* Whether a point whose field holds the n strings vals satisfies it, as
 * Qdrant's index decides: the tokens of all values form one document, in
 * order (so a phrase may run from the end of one value into the next). */
qv_rc qv_text_query_match_values(const qv_text_query *q, const qv_text_str *vals, size_t n,
                                 bool *out);

/* One-shot form: prepares the query, matches one document, frees it.  Any
 * failure (out of memory, oversized input) reads as "no match". */
bool qv_text_match(const qv_text_analyzer *an, qv_text_match_kind kind, const char *q, size_t qlen,
                   const char *doc, size_t dlen);

/* Releases ICU's process-wide caches (u_cleanup).  Only at process exit with
 * no analyzer left and no other ICU user (tests and valgrind runs). */
void qv_text_shutdown(void);

#endif
