/*
 * text.c - full-text analysis as Qdrant 1.19's text index does it: split a
 * string into tokens, normalise them, and decide match.text / text_any /
 * phrase conditions (API and ownership in text.h).
 *
 * What Qdrant does (learned from its tokenizer and inverted-index sources;
 * this file re-implements the behaviour, it copies no code):
 *
 *  1. Split.  `word` and `prefix` split on every character that is not
 *     alphanumeric (Unicode Alphabetic, or general category Nd/Nl/No: Rust's
 *     char::is_alphanumeric), so "Multivac's" gives "Multivac" and "s".
 *     `whitespace` splits on Unicode White_Space only, punctuation stays in
 *     the token.  `multilingual` segments with charabia (below).  Empty
 *     pieces are dropped.
 *  2. Each piece, in this order: ASCII folding when enabled (a fixed map
 *     from Lucene's ASCIIFoldingFilter: "ação" -> "acao", "ß" -> "ss",
 *     "Œ" -> "OE"; unlisted characters stay), then lowercasing when enabled
 *     (full Unicode lowercase, final sigma included), then the stop-word
 *     check (exact membership in the set built from the chosen languages and
 *     custom words, those lowercased too when lowercase is on; note the set
 *     is not folded), then Snowball stemming, then the length limits, in
 *     characters: shorter than min_token_len or longer than max_token_len
 *     drops the token.  Dropped tokens leave no gap: a document is just the
 *     ordered list of surviving tokens, which is what phrase positions are.
 *  3. `prefix`, documents: the processed word (stop words and min_token_len
 *     applied, max_token_len not) yields its prefixes of n characters for n
 *     = min_token_len (default 1) .. max_token_len (default unbounded),
 *     ending with the whole word once n reaches its length; with max 4,
 *     "hello" gives h he hel hell.  (min_token_len 0 yields an empty first
 *     prefix, as Qdrant's loop does.)  Queries: each word is folded,
 *     lowercased and stemmed but NOT stop-word filtered (typing "the" must
 *     still find "theory"), dropped below min_token_len, and cut to
 *     max_token_len characters; one token per word.
 *  4. Matching (the index's ParsedQuery): text = the query's distinct
 *     tokens must all be in the document's token set; text_any = at least
 *     one of them; phrase = the phrase, tokenized as a DOCUMENT (so prefix
 *     n-grams and stop-word removal apply to it too), must occur as a
 *     contiguous run of the document's ordered tokens.  A query with no
 *     tokens matches nothing (the index short-circuits an empty token set
 *     and an empty phrase), as does any query token the index never saw.
 *     Without phrase_matching the index stores no positions and a phrase
 *     matches nothing.  A point whose field holds several strings is
 *     indexed as ONE document, the values' tokens concatenated in order
 *     (qv_text_query_match_values); Qdrant issue #8937 reports that a phrase
 *     can therefore run across two array elements.
 *
 * Multilingual.  Qdrant segments with charabia (script runs, separator
 * characters, jieba for Chinese, a dictionary for Thai) and, when the whole
 * input is Japanese (mostly CJK script with kana present), with vaporetto
 * instead.  Neither dictionary exists here; ICU does the dictionary work,
 * so this is an approximation that agrees on most text:
 *   - Japanese input: ICU word break over the whole string; every segment
 *     with an alphabetic character is processed as in (2), no other change.
 *   - Otherwise: script runs (characters of Common/Inherited script join the
 *     current run; Han, Hiragana and Katakana are one run, as charabia's
 *     `Cj`), split at separators (categories Pc Pd Ps Pe Pi Pf Po Sm Zs Zl
 *     Zp, NUL, tab, CR, LF and '`', as charabia's list); the pieces of Cj
 *     and Thai runs are segmented by ICU's dictionary word break; a piece of
 *     Arabic script starting with the article (ال أل إل آل ٱل) and longer
 *     than it is split after it.  Each piece is normalised as charabia's
 *     lossy normaliser does (NFKD; control characters removed; lowercased
 *     whatever `lowercase` says; æ -> ae, œ -> oe; Greek final sigma ->
 *     sigma; Arabic alef variants -> alef, alef maksura -> yeh, teh marbuta
 *     -> heh, tatweel removed; nonspacing marks removed in Latin, Greek,
 *     Hebrew, Thai and Arabic runs, so "café" is "cafe"), dropped when it
 *     has no alphabetic character (numbers, punctuation), then processed as
 *     in (2).  Where ICU's dictionary and jieba/vaporetto cut differently
 *     ("今天是星期一": jieba 今天|是|星期|一, ICU 今天是|星期一) tokens differ;
 *     they are consistent between documents and queries, so matching still
 *     works for whole-word queries.  Chinese is not turned into pinyin.
 *
 * Stemming uses Debian's libstemmer (the same Snowball algorithms as the
 * rust-stemmers crate Qdrant links; both expect lowercase input).  Lists:
 * text_data.c (generated; see scripts/gen_text_data.py).
 *
 * Invalid UTF-8 is read as U+FFFD per maximal ill-formed subsequence, which
 * is neither alphanumeric nor white space nor a separator: it splits words
 * for `word`/`prefix` and stays inside `whitespace` and `multilingual`
 * pieces.  Qdrant never sees such input (JSON strings are valid UTF-8); the
 * rule only has to be total and safe.
 *
 * Threading.  The analyzer is read-only after _new.  What is not
 * thread-safe (a Snowball stemmer, an ICU break iterator) and the scratch
 * buffers live in a `worker`; each call takes one from the analyzer's free
 * list under `lock` (or makes a new one) and gives it back when done, so
 * concurrent readers never share one and the pool never exceeds the number
 * of threads that ever called at once.  ICU's case map, normaliser and
 * property lookups are safe to share.  Alternatives rejected: one mutex
 * around all work (serialises every filter), thread-local stemmers (no
 * owner to free them when an analyzer dies before its threads).
 */
#include "index/text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/ucasemap.h>
#include <unicode/uclean.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "index/text_data.h"

/* Inputs above this are refused (ICU lengths are int32; tokens grow when
 * lowercased or folded). */
#define QV_TEXT_MAX_INPUT ((size_t)256 << 20)
/* A worker keeps scratch buffers up to this size between calls. */
#define QV_TEXT_KEEP_BUF  ((size_t)1 << 20)

#define QV_NO_TOKEN UINT32_MAX

/* ======================================================================
 * Growable scratch buffers
 * ====================================================================== */

/* Grows *p (elements of `size` bytes, capacity *cap) to hold at least
 * `need` elements; false when out of memory (*p unchanged). */
static bool grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static bool tb_put(tbuf *b, const void *s, size_t n) {
    if (!grow((void **)&b->p, &b->cap, b->len + n, 1)) return false;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

/* Drops a buffer that grew past QV_TEXT_KEEP_BUF (one huge document must
 * not pin its memory in the pool for ever). */
static void trim(void **p, size_t *cap, size_t size) {
    if (*cap * size > QV_TEXT_KEEP_BUF) {
        free(*p);
        *p = NULL;
        *cap = 0;
    }
}

/* ======================================================================
 * UTF-8
 * ====================================================================== */

/* Decodes the code point at s[*i] (*i < n) and advances *i; an ill-formed
 * sequence reads as U+FFFD and consumes its maximal subpart (at least one
 * byte).  *bad, when given, is set for an ill-formed sequence. */
static uint32_t u8_next(const unsigned char *s, size_t n, size_t *i, bool *bad) {
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t need;
    uint32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        (*i)++;
        if (bad) *bad = true;
        return 0xFFFD;
    }
    size_t j = *i + 1;
    for (size_t k = 0; k < need; k++, j++) {
        if (j >= n || s[j] < lo || s[j] > hi) {
            *i = j;
            if (bad) *bad = true;
            return 0xFFFD;
        }
        lo = 0x80, hi = 0xBF;
        cp = cp << 6 | (s[j] & 0x3F);
    }
    *i = j;
    return cp;
}

/* Appends cp as UTF-8. */
static bool u8_put(tbuf *b, uint32_t cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    return tb_put(b, o, n);
}

/* Characters in valid UTF-8. */
static size_t u8_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Bytes of the first k characters of valid UTF-8 s[0..n) (n if shorter). */
static size_t u8_prefix(const char *s, size_t n, size_t k) {
    size_t i = 0;
    for (; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && k-- == 0) break;
    return i;
}

static bool is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

/* ======================================================================
 * Character classes (Rust's char predicates, through ICU)
 * ====================================================================== */

static bool is_alpha(uint32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return u_hasBinaryProperty((UChar32)c, UCHAR_ALPHABETIC);
}

static bool is_alnum(uint32_t c) {
    if (c < 0x80) return is_alpha(c) || (c >= '0' && c <= '9');
    if (is_alpha(c)) return true;
    int t = u_charType((UChar32)c);
    return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

static bool is_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return u_isUWhiteSpace((UChar32)c);
}

/* charabia's separators: punctuation, math symbols, spaces, and a few. */
static bool ml_is_sep(uint32_t c) {
    if (c == 0 || c == '\t' || c == '\n' || c == '\r' || c == '`') return true;
    switch (u_charType((UChar32)c)) {
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_MATH_SYMBOL:
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
        return true;
    default:
        return false;
    }
}

/* Script classes for multilingual runs: an ICU UScriptCode, or these. */
#define SC_OTHER (-1) /* Common, Inherited, Unknown: joins the current run */
#define SC_CJ    (-2) /* Han, Hiragana, Katakana */

static int script_class(uint32_t c) {
    if (c < 0x80) return is_alpha(c) ? USCRIPT_LATIN : SC_OTHER;
    UErrorCode ec = U_ZERO_ERROR;
    UScriptCode s = uscript_getScript((UChar32)c, &ec);
    if (U_FAILURE(ec) || s == USCRIPT_COMMON || s == USCRIPT_INHERITED || s == USCRIPT_UNKNOWN)
        return SC_OTHER;
    if (s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA) return SC_CJ;
    return (int)s;
}

static bool is_kana(uint32_t c) {
    UErrorCode ec = U_ZERO_ERROR;
    UScriptCode s = uscript_getScript((UChar32)c, &ec);
    return U_SUCCESS(ec) && (s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA);
}

/* ======================================================================
 * A set of byte strings (stop words, query tokens)
 * ====================================================================== */

typedef struct strset {
    char **str; /* owned, NUL-terminated */
    size_t *len;
    size_t n, cap;  /* entries in str/len */
    uint32_t *slot; /* open addressing: index + 1, 0 = empty */
    size_t nslot;   /* power of two */
} strset;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void strset_free(strset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->str[i]);
    free(s->str);
    free(s->len);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* Index of s[0..n) in the set, or QV_NO_TOKEN. */
static uint32_t strset_find(const strset *set, const char *s, size_t n) {
    if (!set->nslot) return QV_NO_TOKEN;
    size_t m = set->nslot - 1;
    for (size_t i = hash_bytes(s, n) & m;; i = (i + 1) & m) {
        uint32_t v = set->slot[i];
        if (!v) return QV_NO_TOKEN;
        if (set->len[v - 1] == n && memcmp(set->str[v - 1], s, n) == 0) return v - 1;
    }
}

static bool strset_rehash(strset *set, size_t nslot) {
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) return false;
    for (size_t k = 0; k < set->n; k++) {
        size_t i = hash_bytes(set->str[k], set->len[k]) & (nslot - 1);
        while (slot[i]) i = (i + 1) & (nslot - 1);
        slot[i] = (uint32_t)k + 1;
    }
    free(set->slot);
    set->slot = slot;
    set->nslot = nslot;
    return true;
}

/* Adds s[0..n) unless present; *id gets its index.  False on OOM. */
static bool strset_add(strset *set, const char *s, size_t n, uint32_t *id) {
    uint32_t k = strset_find(set, s, n);
    if (k != QV_NO_TOKEN) {
        if (id) *id = k;
        return true;
    }
    if (set->n >= UINT32_MAX - 1) return false;
    if ((set->n + 1) * 2 > set->nslot && !strset_rehash(set, set->nslot ? set->nslot * 2 : 16))
        return false;
    size_t cap = set->cap;
    if (!grow((void **)&set->str, &cap, set->n + 1, sizeof *set->str)) return false;
    if (!grow((void **)&set->len, &set->cap, set->n + 1, sizeof *set->len)) return false;
    char *copy = malloc(n + 1);
    if (!copy) return false;
    memcpy(copy, s, n);
    copy[n] = '\0';
    set->str[set->n] = copy;
    set->len[set->n] = n;
    size_t i = hash_bytes(s, n) & (set->nslot - 1);
    while (set->slot[i]) i = (i + 1) & (set->nslot - 1);
    set->slot[i] = (uint32_t)set->n + 1;
    if (id) *id = (uint32_t)set->n;
    set->n++;
    return true;
}

/* ======================================================================
 * Options, languages
 * ====================================================================== */

static const char *const snowball_langs[] = {
    "arabic",  "armenian", "danish",    "dutch",   "english",   "finnish",    "french",
    "german",  "greek",    "hungarian", "italian", "norwegian", "portuguese", "romanian",
    "russian", "spanish",  "swedish",   "tamil",   "turkish",
};

void qv_text_opts_init(qv_text_opts *o) {
    memset(o, 0, sizeof *o);
    o->tokenizer = QV_TEXT_WORD;
    o->lowercase = true;
}

const char *qv_text_lang_name(qv_text_lang lang) {
    return (unsigned)lang < QV_LANG_COUNT && (size_t)lang < qv_text_nstoplists
               ? qv_text_stoplists[lang].name
               : NULL;
}

bool qv_text_lang_parse(const char *s, size_t len, qv_text_lang *out) {
    for (size_t i = 0; i < qv_text_nstoplists && i < QV_LANG_COUNT; i++) {
        const char *name = qv_text_stoplists[i].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            *out = (qv_text_lang)i;
            return true;
        }
    }
    return false;
}

/* The static name of a Snowball language, or NULL. */
static const char *snowball_name(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof snowball_langs / sizeof *snowball_langs; i++)
        if (strcmp(name, snowball_langs[i]) == 0) return snowball_langs[i];
    return NULL;
}

bool qv_text_snowball_known(const char *name) {
    return snowball_name(name) != NULL;
}

/* ======================================================================
 * Analyzer and its worker pool
 * ====================================================================== */

/* Scratch of one caller: not thread-safe state plus reusable buffers. */
typedef struct worker {
    struct worker *next;
    struct sb_stemmer *stem; /* NULL without stemming */
    UBreakIterator *brk;     /* multilingual only */
    tbuf clean;              /* the input with ill-formed UTF-8 replaced */
    tbuf a, b;               /* token processing, ping-pong */
    tbuf seg;                /* one multilingual piece, normalised */
    uint32_t *cps;           /* the input as code points ... */
    uint32_t *cpoff;         /* ... and each one's byte offset in the input */
    size_t cps_cap, cpoff_cap;
    UChar *u1, *u2; /* UTF-16 scratch for ICU */
    size_t u1_cap, u2_cap;
    UChar *bt;     /* the text ICU's word break runs over ... */
    int32_t *bmap; /* ... and the code point index of each of its units */
    size_t bt_cap, bmap_cap;
} worker;

struct qv_text_analyzer {
    qv_text_opts o; /* custom_stopwords cleared; stemmer points to a static name */
    strset stop;
    UCaseMap *casemap;
    const UNormalizer2 *nfkd;
    pthread_mutex_t lock; /* guards idle */
    worker *idle;
};

static void worker_free(worker *w) {
    if (!w) return;
    sb_stemmer_delete(w->stem);
    if (w->brk) ubrk_close(w->brk);
    free(w->clean.p);
    free(w->a.p);
    free(w->b.p);
    free(w->seg.p);
    free(w->cps);
    free(w->cpoff);
    free(w->u1);
    free(w->u2);
    free(w->bt);
    free(w->bmap);
    free(w);
}

static qv_rc worker_new(const qv_text_analyzer *an, worker **out) {
    worker *w = calloc(1, sizeof *w);
    if (!w) return QV_ENOMEM;
    if (an->o.stemmer && !(w->stem = sb_stemmer_new(an->o.stemmer, "UTF_8"))) {
        worker_free(w);
        return QV_ENOMEM;
    }
    if (an->o.tokenizer == QV_TEXT_MULTILINGUAL) {
        UErrorCode ec = U_ZERO_ERROR;
        w->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &ec);
        if (U_FAILURE(ec)) {
            worker_free(w);
            return ec == U_MEMORY_ALLOCATION_ERROR ? QV_ENOMEM : QV_EINTERNAL;
        }
    }
    *out = w;
    return QV_OK;
}

static qv_rc worker_get(const qv_text_analyzer *an, worker **out) {
    qv_text_analyzer *m = (qv_text_analyzer *)an; /* the pool is the one mutable part */
    pthread_mutex_lock(&m->lock);
    worker *w = m->idle;
    if (w) m->idle = w->next;
    pthread_mutex_unlock(&m->lock);
    if (w) {
        *out = w;
        return QV_OK;
    }
    return worker_new(an, out);
}

static void worker_put(const qv_text_analyzer *an, worker *w) {
    trim((void **)&w->clean.p, &w->clean.cap, 1);
    trim((void **)&w->a.p, &w->a.cap, 1);
    trim((void **)&w->b.p, &w->b.cap, 1);
    trim((void **)&w->seg.p, &w->seg.cap, 1);
    trim((void **)&w->cps, &w->cps_cap, sizeof *w->cps);
    trim((void **)&w->cpoff, &w->cpoff_cap, sizeof *w->cpoff);
    trim((void **)&w->u1, &w->u1_cap, sizeof *w->u1);
    trim((void **)&w->u2, &w->u2_cap, sizeof *w->u2);
    trim((void **)&w->bt, &w->bt_cap, sizeof *w->bt);
    trim((void **)&w->bmap, &w->bmap_cap, sizeof *w->bmap);
    if (w->brk) { /* it may point into bt: give it an empty text */
        UErrorCode ec = U_ZERO_ERROR;
        ubrk_setText(w->brk, NULL, 0, &ec);
    }
    qv_text_analyzer *m = (qv_text_analyzer *)an;
    pthread_mutex_lock(&m->lock);
    w->next = m->idle;
    m->idle = w;
    pthread_mutex_unlock(&m->lock);
}

/* ======================================================================
 * Token normalisation (step 2 of the design comment)
 * ====================================================================== */

static const char *fold_lookup(uint32_t cp) {
    size_t lo = 0, hi = qv_text_fold_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (qv_text_fold_table[mid].cp == cp) return qv_text_fold_table[mid].to;
        if (qv_text_fold_table[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* dst = ASCII-folded s (valid UTF-8). */
static qv_rc fold(tbuf *dst, const char *s, size_t n) {
    dst->len = 0;
    for (size_t i = 0; i < n;) {
        size_t at = i;
        uint32_t cp = u8_next((const unsigned char *)s, n, &i, NULL);
        const char *to = cp >= 0x80 ? fold_lookup(cp) : NULL;
        if (!(to ? tb_put(dst, to, strlen(to)) : tb_put(dst, s + at, i - at))) return QV_ENOMEM;
    }
    return QV_OK;
}

/* dst = Unicode lowercase of s (valid UTF-8), as Rust's str::to_lowercase. */
static qv_rc lower(const qv_text_analyzer *an, tbuf *dst, const char *s, size_t n) {
    dst->len = 0;
    if (is_ascii(s, n)) {
        if (!grow((void **)&dst->p, &dst->cap, n, 1)) return QV_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            dst->p[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        dst->len = n;
        return QV_OK;
    }
    for (size_t want = n + 16;;) {
        if (!grow((void **)&dst->p, &dst->cap, want, 1)) return QV_ENOMEM;
        UErrorCode ec = U_ZERO_ERROR;
        int32_t got =
            ucasemap_utf8ToLower(an->casemap, dst->p, (int32_t)dst->cap, s, (int32_t)n, &ec);
        if (ec == U_BUFFER_OVERFLOW_ERROR) {
            want = (size_t)got + 1;
            continue;
        }
        if (U_FAILURE(ec)) return ec == U_MEMORY_ALLOCATION_ERROR ? QV_ENOMEM : QV_EINTERNAL;
        dst->len = (size_t)got;
        return QV_OK;
    }
}

static qv_rc stem(worker *w, tbuf *dst, const char *s, size_t n) {
    const sb_symbol *r = sb_stemmer_stem(w->stem, (const sb_symbol *)s, (int)n);
    if (!r) return QV_ENOMEM;
    dst->len = 0;
    return tb_put(dst, r, (size_t)sb_stemmer_length(w->stem)) ? QV_OK : QV_ENOMEM;
}

/* Folds, lowercases, checks stop words (when use_stop) and stems one piece
 * as the options say.  *out, *outn: the result (into w->a or w->b, or s
 * itself); *keep false for a stop word. */
static qv_rc normalize(const qv_text_analyzer *an, worker *w, const char *s, size_t n,
                       bool use_stop, const char **out, size_t *outn, bool *keep) {
    tbuf *bufs[2] = {&w->a, &w->b};
    int next = 0;
    qv_rc rc;
    if (an->o.ascii_folding && !is_ascii(s, n)) {
        if ((rc = fold(bufs[next], s, n))) return rc;
        s = bufs[next]->p, n = bufs[next]->len, next ^= 1;
    }
    if (an->o.lowercase) {
        if ((rc = lower(an, bufs[next], s, n))) return rc;
        s = bufs[next]->p, n = bufs[next]->len, next ^= 1;
    }
    *keep = !(use_stop && strset_find(&an->stop, s, n) != QV_NO_TOKEN);
    if (*keep && w->stem && n <= (size_t)INT32_MAX) {
        if ((rc = stem(w, bufs[next], s, n))) return rc;
        s = bufs[next]->p, n = bufs[next]->len;
    }
    *out = s;
    *outn = n;
    return QV_OK;
}

/* ======================================================================
 * Emitting tokens
 * ====================================================================== */

typedef struct emitter {
    qv_text_token_cb cb;
    void *ctx;
    uint32_t pos;
    bool stop; /* the callback asked to stop */
} emitter;

static void emit(emitter *e, const char *t, size_t n) {
    if (e->stop) return;
    if (!e->cb(e->ctx, t, n, e->pos++)) e->stop = true;
}

/* What one run of a tokenizer needs. */
typedef struct run {
    const qv_text_analyzer *an;
    worker *w;
    emitter *e;
} run;

/* A piece of a word/whitespace/multilingual split: step 2, then both
 * length limits. */
static qv_rc piece_plain(run *r, const char *s, size_t n) {
    const qv_text_opts *o = &r->an->o;
    const char *t;
    size_t tn;
    bool keep;
    if (!n) return QV_OK;
    qv_rc rc = normalize(r->an, r->w, s, n, true, &t, &tn, &keep);
    if (rc || !keep) return rc;
    if (o->has_min_token_len || o->has_max_token_len) {
        size_t chars = u8_count(t, tn);
        if (o->has_min_token_len && chars < o->min_token_len) return QV_OK;
        if (o->has_max_token_len && chars > o->max_token_len) return QV_OK;
    }
    emit(r->e, t, tn);
    return QV_OK;
}

/* A word of the prefix tokenizer in a document: every prefix. */
static qv_rc piece_prefix_doc(run *r, const char *s, size_t n) {
    const qv_text_opts *o = &r->an->o;
    const char *t;
    size_t tn;
    bool keep;
    if (!n) return QV_OK;
    qv_rc rc = normalize(r->an, r->w, s, n, true, &t, &tn, &keep);
    if (rc || !keep) return rc;
    size_t chars = u8_count(t, tn);
    if (o->has_min_token_len && chars < o->min_token_len) return QV_OK;
    size_t lo = o->has_min_token_len ? o->min_token_len : 1;
    size_t hi = o->has_max_token_len ? o->max_token_len : SIZE_MAX;
    /* i: bytes of the first k characters, advanced one character per step
     * (a long word costs linear time, not quadratic) */
    size_t i = u8_prefix(t, tn, lo);
    for (size_t k = lo; k <= hi && !r->e->stop; k++) {
        if (chars <= k) {
            emit(r->e, t, tn);
            break;
        }
        emit(r->e, t, i);
        if (k == SIZE_MAX) break;
        for (i++; i < tn && ((unsigned char)t[i] & 0xC0) == 0x80; i++) {
        }
    }
    return QV_OK;
}

/* A word of the prefix tokenizer in a query: no stop words, min length,
 * cut to max_token_len. */
static qv_rc piece_prefix_query(run *r, const char *s, size_t n) {
    const qv_text_opts *o = &r->an->o;
    const char *t;
    size_t tn;
    bool keep;
    if (!n) return QV_OK;
    qv_rc rc = normalize(r->an, r->w, s, n, false, &t, &tn, &keep);
    if (rc) return rc;
    size_t chars = u8_count(t, tn);
    if (o->has_min_token_len && chars < o->min_token_len) return QV_OK;
    if (o->has_max_token_len && chars > o->max_token_len) tn = u8_prefix(t, tn, o->max_token_len);
    emit(r->e, t, tn);
    return QV_OK;
}

/* ======================================================================
 * word, whitespace, prefix: split valid UTF-8 into maximal runs of
 * characters that `keep` accepts
 * ====================================================================== */

static qv_rc split_runs(run *r, const char *s, size_t n, bool (*keep)(uint32_t),
                        qv_rc (*piece)(run *, const char *, size_t)) {
    size_t start = 0, i = 0;
    bool in = false;
    while (i < n && !r->e->stop) {
        size_t at = i;
        uint32_t cp = u8_next((const unsigned char *)s, n, &i, NULL);
        if (keep(cp)) {
            if (!in) start = at, in = true;
            continue;
        }
        if (in) {
            in = false;
            qv_rc rc = piece(r, s + start, at - start);
            if (rc) return rc;
        }
    }
    if (in && !r->e->stop) return piece(r, s + start, n - start);
    return QV_OK;
}

static bool not_space(uint32_t c) {
    return !is_space(c);
}

/* ======================================================================
 * multilingual (see the design comment)
 * ====================================================================== */

/* (*dst)[0..*len) = UTF-16 of cps[a..b); with map, (*map)[k] = index of the
 * code point unit k belongs to. */
static qv_rc to_utf16(worker *w, size_t a, size_t b, UChar **dst, size_t *dcap, int32_t **map,
                      size_t *mcap, int32_t *len) {
    size_t need = 2 * (b - a) + 1;
    if (!grow((void **)dst, dcap, need, sizeof **dst) ||
        (map && !grow((void **)map, mcap, need, sizeof **map)))
        return QV_ENOMEM;
    int32_t k = 0;
    for (size_t i = a; i < b; i++) {
        uint32_t c = w->cps[i];
        if (map) (*map)[k] = (int32_t)i;
        if (c >= 0x10000) {
            (*dst)[k++] = U16_LEAD(c);
            if (map) (*map)[k] = (int32_t)i;
            (*dst)[k++] = U16_TRAIL(c);
        } else {
            (*dst)[k++] = (UChar)c;
        }
    }
    *len = k;
    return QV_OK;
}

/* Runs an ICU normalisation/case function into w->u2, growing it. */
typedef int32_t (*u16_fn)(const qv_text_analyzer *an, UChar *dst, int32_t cap, const UChar *src,
                          int32_t len, UErrorCode *ec);

static int32_t do_nfkd(const qv_text_analyzer *an, UChar *dst, int32_t cap, const UChar *src,
                       int32_t len, UErrorCode *ec) {
    return unorm2_normalize(an->nfkd, src, len, dst, cap, ec);
}

static int32_t do_lower(const qv_text_analyzer *an, UChar *dst, int32_t cap, const UChar *src,
                        int32_t len, UErrorCode *ec) {
    return u_strToLower(dst, cap, src, len, "", ec);
}

static qv_rc u16_apply(const qv_text_analyzer *an, worker *w, u16_fn fn, int32_t *len) {
    for (size_t want = (size_t)*len * 2 + 16;;) {
        if (!grow((void **)&w->u2, &w->u2_cap, want, sizeof *w->u2)) return QV_ENOMEM;
        UErrorCode ec = U_ZERO_ERROR;
        int32_t got = fn(an, w->u2, (int32_t)w->u2_cap, w->u1, *len, &ec);
        if (ec == U_BUFFER_OVERFLOW_ERROR) {
            want = (size_t)got + 1;
            continue;
        }
        if (U_FAILURE(ec)) return ec == U_MEMORY_ALLOCATION_ERROR ? QV_ENOMEM : QV_EINTERNAL;
        /* the result becomes the next input */
        UChar *t = w->u1;
        size_t tc = w->u1_cap;
        w->u1 = w->u2, w->u1_cap = w->u2_cap;
        w->u2 = t, w->u2_cap = tc;
        *len = got;
        return QV_OK;
    }
}

static bool strips_marks(int sc) {
    return sc == USCRIPT_LATIN || sc == USCRIPT_GREEK || sc == USCRIPT_HEBREW ||
           sc == USCRIPT_THAI || sc == USCRIPT_ARABIC;
}

/* One character of a normalised piece: appended to w->seg (possibly
 * changed, possibly dropped); *alpha set when it is alphabetic. */
static bool ml_put(worker *w, int sc, uint32_t c, bool *alpha) {
    int t = u_charType((UChar32)c);
    if (t == U_CONTROL_CHAR) return true;
    if (t == U_NON_SPACING_MARK && strips_marks(sc)) return true;
    if (c == 0x00E6) return tb_put(&w->seg, "ae", 2) && (*alpha = true);
    if (c == 0x0153) return tb_put(&w->seg, "oe", 2) && (*alpha = true);
    if (sc == USCRIPT_GREEK && c == 0x03C2) c = 0x03C3; /* final sigma */
    if (sc == USCRIPT_ARABIC) {
        if (c == 0x0640) return true; /* tatweel */
        if (c == 0x0622 || c == 0x0623 || c == 0x0625 || c == 0x0671) c = 0x0627;
        if (c == 0x0649) c = 0x064A;
        if (c == 0x0629) c = 0x0647;
    }
    if (is_alpha(c)) *alpha = true;
    return u8_put(&w->seg, c);
}

/* cps[a..b), one piece of a run of class sc: charabia's normalisation into
 * w->seg, then step 2. */
static qv_rc ml_piece(run *r, int sc, size_t a, size_t b) {
    worker *w = r->w;
    int32_t len;
    qv_rc rc = to_utf16(w, a, b, &w->u1, &w->u1_cap, NULL, NULL, &len);
    if (!rc) rc = u16_apply(r->an, w, do_nfkd, &len);
    if (!rc) rc = u16_apply(r->an, w, do_lower, &len);
    if (rc) return rc;
    bool alpha = false;
    w->seg.len = 0;
    for (int32_t i = 0; i < len;) {
        UChar32 c;
        U16_NEXT(w->u1, i, len, c);
        if (!ml_put(w, sc, (uint32_t)c, &alpha)) return QV_ENOMEM;
    }
    if (!alpha) return QV_OK;
    return piece_plain(r, w->seg.p, w->seg.len);
}

/* cps[a..b) split by ICU's word break; each segment goes to ml_piece (or,
 * raw, to piece_plain when japanese).  The text being broken lives in
 * w->bt/w->bmap, which ml_piece does not touch. */
static qv_rc ml_break(run *r, int sc, size_t a, size_t b, bool japanese) {
    worker *w = r->w;
    int32_t len;
    qv_rc rc = to_utf16(w, a, b, &w->bt, &w->bt_cap, &w->bmap, &w->bmap_cap, &len);
    if (rc) return rc;
    UErrorCode ec = U_ZERO_ERROR;
    ubrk_setText(w->brk, w->bt, len, &ec);
    if (U_FAILURE(ec)) return QV_EINTERNAL;
    int32_t from = ubrk_first(w->brk);
    for (int32_t to; !rc && from != UBRK_DONE && !r->e->stop; from = to) {
        if ((to = ubrk_next(w->brk)) == UBRK_DONE) break;
        size_t ca = (size_t)w->bmap[from], cb = to < len ? (size_t)w->bmap[to] : b;
        if (!japanese) {
            rc = ml_piece(r, sc, ca, cb);
            continue;
        }
        bool alpha = false;
        w->seg.len = 0;
        for (size_t i = ca; i < cb && !rc; i++) {
            alpha |= is_alpha(w->cps[i]);
            if (!u8_put(&w->seg, w->cps[i])) rc = QV_ENOMEM;
        }
        if (!rc && alpha) rc = piece_plain(r, w->seg.p, w->seg.len);
    }
    return rc;
}

/* The Arabic article: ال أل إل آل ٱل */
static bool arabic_article(const uint32_t *c) {
    return c[1] == 0x0644 &&
           (c[0] == 0x0627 || c[0] == 0x0623 || c[0] == 0x0625 || c[0] == 0x0622 || c[0] == 0x0671);
}

/* A chunk (no separators) of a run of class sc. */
static qv_rc ml_chunk(run *r, int sc, size_t a, size_t b) {
    worker *w = r->w;
    if (sc == SC_CJ || sc == USCRIPT_THAI) return ml_break(r, sc, a, b, false);
    if (sc == USCRIPT_ARABIC && b - a >= 2 && arabic_article(w->cps + a) &&
        w->cpoff[b] - w->cpoff[a] > 4) {
        qv_rc rc = ml_piece(r, sc, a, a + 2);
        return rc || r->e->stop ? rc : ml_piece(r, sc, a + 2, b);
    }
    return ml_piece(r, sc, a, b);
}

/* Whether Qdrant would hand the whole input to its Japanese segmenter:
 * the most frequent script among letters is CJK and kana occur. */
static bool ml_is_japanese(const worker *w, size_t n) {
    size_t counts[256] = {0}, cj = 0, kana = 0, best = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = w->cps[i];
        if (!is_alpha(c)) continue;
        int sc = script_class(c);
        if (sc == SC_CJ) {
            cj++;
            kana += is_kana(c);
        } else if (sc >= 0 && sc < 256 && ++counts[sc] > best) {
            best = counts[sc];
        }
    }
    return kana > 0 && cj > best;
}

static qv_rc tokenize_multilingual(run *r, const char *s, size_t n) {
    worker *w = r->w;
    if (!grow((void **)&w->cps, &w->cps_cap, n + 1, sizeof *w->cps) ||
        !grow((void **)&w->cpoff, &w->cpoff_cap, n + 1, sizeof *w->cpoff))
        return QV_ENOMEM;
    size_t nc = 0;
    for (size_t i = 0; i < n;) {
        w->cpoff[nc] = (uint32_t)i;
        w->cps[nc++] = u8_next((const unsigned char *)s, n, &i, NULL);
    }
    w->cpoff[nc] = (uint32_t)n;
    if (ml_is_japanese(w, nc)) return ml_break(r, SC_CJ, 0, nc, true);

    /* script runs; inside each, chunks between separators */
    int run_sc = SC_OTHER;
    size_t chunk = SIZE_MAX; /* start of the open chunk */
    for (size_t i = 0; i <= nc && !r->e->stop; i++) {
        bool end = i == nc, sep = !end && ml_is_sep(w->cps[i]);
        int sc = end || sep ? SC_OTHER : script_class(w->cps[i]);
        bool new_run = sc != SC_OTHER && sc != run_sc && run_sc != SC_OTHER;
        if (chunk != SIZE_MAX && (end || sep || new_run)) {
            qv_rc rc = ml_chunk(r, run_sc, chunk, i);
            if (rc) return rc;
            chunk = SIZE_MAX;
        }
        if (sc != SC_OTHER) run_sc = sc;
        if (!end && !sep && chunk == SIZE_MAX) chunk = i;
    }
    return QV_OK;
}

/* ======================================================================
 * Entry points
 * ====================================================================== */

/* s with ill-formed UTF-8 replaced (into w->clean when needed). */
static qv_rc clean_input(worker *w, const char **s, size_t *n) {
    bool bad = false;
    for (size_t i = 0; i < *n && !bad;) u8_next((const unsigned char *)*s, *n, &i, &bad);
    if (!bad) return QV_OK;
    w->clean.len = 0;
    for (size_t i = 0; i < *n;)
        if (!u8_put(&w->clean, u8_next((const unsigned char *)*s, *n, &i, NULL))) return QV_ENOMEM;
    *s = w->clean.p;
    *n = w->clean.len;
    return QV_OK;
}

/* Tokenizes s into e (query: query tokenization) with worker w. */
static qv_rc tokenize_with(const qv_text_analyzer *an, worker *w, const char *s, size_t n,
                           bool query, emitter *e) {
    if (n > QV_TEXT_MAX_INPUT) return QV_ETOOLARGE;
    qv_rc rc = clean_input(w, &s, &n);
    if (rc) return rc;
    run r = {an, w, e};
    switch (an->o.tokenizer) {
    case QV_TEXT_WHITESPACE:
        return split_runs(&r, s, n, not_space, piece_plain);
    case QV_TEXT_PREFIX:
        return split_runs(&r, s, n, is_alnum, query ? piece_prefix_query : piece_prefix_doc);
    case QV_TEXT_MULTILINGUAL:
        return tokenize_multilingual(&r, s, n);
    default:
        return split_runs(&r, s, n, is_alnum, piece_plain);
    }
}

static qv_rc tokenize(const qv_text_analyzer *an, const char *s, size_t n, bool query, emitter *e) {
    worker *w;
    qv_rc rc = worker_get(an, &w);
    if (rc) return rc;
    rc = tokenize_with(an, w, s, n, query, e);
    worker_put(an, w);
    return rc;
}

qv_rc qv_text_doc_tokens(const qv_text_analyzer *an, const char *s, size_t len, qv_text_token_cb cb,
                         void *ctx) {
    emitter e = {cb, ctx, 0, false};
    return tokenize(an, s, len, false, &e);
}

qv_rc qv_text_query_tokens(const qv_text_analyzer *an, const char *s, size_t len,
                           qv_text_token_cb cb, void *ctx) {
    emitter e = {cb, ctx, 0, false};
    return tokenize(an, s, len, true, &e);
}

/* Adds every stop word of o to an->stop (lowercased when lowercase is on,
 * as Qdrant builds its set). */
static qv_rc build_stopwords(qv_text_analyzer *an, const qv_text_opts *o, worker *w) {
    tbuf *t = &w->a;
    for (size_t l = 0; l < QV_LANG_COUNT && l < qv_text_nstoplists; l++) {
        if (!(o->stopword_langs & (1u << l))) continue;
        const qv_text_stoplist *sl = &qv_text_stoplists[l];
        for (size_t i = 0; i < sl->n; i++) {
            const char *s = sl->words[i];
            size_t n = strlen(s);
            if (o->lowercase) {
                qv_rc rc = lower(an, t, s, n);
                if (rc) return rc;
                s = t->p, n = t->len;
            }
            if (!strset_add(&an->stop, s, n, NULL)) return QV_ENOMEM;
        }
    }
    for (size_t i = 0; i < o->n_custom_stopwords; i++) {
        const char *s = o->custom_stopwords[i].s;
        size_t n = o->custom_stopwords[i].len;
        if (!s) continue;
        if (n > QV_TEXT_MAX_INPUT) return QV_ETOOLARGE;
        qv_rc rc = clean_input(w, &s, &n);
        if (!rc && o->lowercase) {
            rc = lower(an, t, s, n);
            s = t->p, n = t->len;
        }
        if (rc) return rc;
        if (!strset_add(&an->stop, s, n, NULL)) return QV_ENOMEM;
    }
    return QV_OK;
}

qv_text_analyzer *qv_text_analyzer_new(const qv_text_opts *o, qv_err *err) {
    if ((unsigned)o->tokenizer > QV_TEXT_MULTILINGUAL) {
        qv_fail(err, QV_EBADINPUT, "unknown tokenizer %d", (int)o->tokenizer);
        return NULL;
    }
    const char *stemmer = snowball_name(o->stemmer);
    if (o->stemmer && !stemmer) {
        qv_fail(err, QV_EBADINPUT, "unknown Snowball stemmer language \"%s\"", o->stemmer);
        return NULL;
    }
    qv_text_analyzer *an = calloc(1, sizeof *an);
    if (!an) {
        qv_fail(err, QV_ENOMEM, "out of memory building a text analyzer");
        return NULL;
    }
    an->o = *o;
    an->o.custom_stopwords = NULL;
    an->o.n_custom_stopwords = 0;
    an->o.stemmer = stemmer;
    pthread_mutex_init(&an->lock, NULL);
    UErrorCode ec = U_ZERO_ERROR;
    an->casemap = ucasemap_open("", 0, &ec);
    if (U_SUCCESS(ec)) an->nfkd = unorm2_getNFKDInstance(&ec);
    if (U_FAILURE(ec)) {
        qv_fail(err, QV_EINTERNAL, "ICU unavailable: %s", u_errorName(ec));
        qv_text_analyzer_free(an);
        return NULL;
    }
    /* one worker now: proves the stemmer and break iterator can be made */
    worker *w;
    qv_rc rc = worker_new(an, &w);
    if (rc) {
        qv_fail(err, rc, "cannot create the text analyzer's stemmer or word breaker");
        qv_text_analyzer_free(an);
        return NULL;
    }
    rc = build_stopwords(an, o, w);
    worker_put(an, w);
    if (rc) {
        qv_fail(err, rc, "cannot build the stop-word set");
        qv_text_analyzer_free(an);
        return NULL;
    }
    return an;
}

void qv_text_analyzer_free(qv_text_analyzer *an) {
    if (!an) return;
    while (an->idle) {
        worker *w = an->idle;
        an->idle = w->next;
        worker_free(w);
    }
    strset_free(&an->stop);
    if (an->casemap) ucasemap_close(an->casemap);
    pthread_mutex_destroy(&an->lock);
    free(an);
}

const qv_text_opts *qv_text_analyzer_opts(const qv_text_analyzer *an) {
    return &an->o;
}

void qv_text_shutdown(void) {
    u_cleanup();
}

/* ======================================================================
 * Prepared queries
 * ====================================================================== */

struct qv_text_query {
    const qv_text_analyzer *an;
    qv_text_match_kind kind;
    bool nothing;  /* matches no document */
    strset tokens; /* distinct tokens */
    uint32_t *seq; /* phrase: token ids in order */
    size_t nseq, seq_cap;
    uint32_t *fail; /* phrase: KMP failure function over seq */
};

typedef struct collect {
    qv_text_query *q;
    bool oom;
} collect;

static bool collect_cb(void *ctx, const char *tok, size_t len, uint32_t pos) {
    collect *c = ctx;
    qv_text_query *q = c->q;
    uint32_t id;
    if (!strset_add(&q->tokens, tok, len, &id)) {
        c->oom = true;
        return false;
    }
    if (q->kind != QV_TEXT_MATCH_PHRASE) return true;
    if (!grow((void **)&q->seq, &q->seq_cap, q->nseq + 1, sizeof *q->seq)) {
        c->oom = true;
        return false;
    }
    q->seq[q->nseq++] = id;
    return true;
}

/* KMP failure function: fail[i] = length of the longest proper border of
 * seq[0..i]. */
static bool build_fail(qv_text_query *q) {
    if (!q->nseq) return true;
    if (!(q->fail = malloc(q->nseq * sizeof *q->fail))) return false;
    q->fail[0] = 0;
    for (size_t i = 1, k = 0; i < q->nseq; i++) {
        while (k && q->seq[i] != q->seq[k]) k = q->fail[k - 1];
        if (q->seq[i] == q->seq[k]) k++;
        q->fail[i] = (uint32_t)k;
    }
    return true;
}

qv_rc qv_text_query_new(const qv_text_analyzer *an, qv_text_match_kind kind, const char *s,
                        size_t n, qv_text_query **out) {
    *out = NULL;
    if ((unsigned)kind > QV_TEXT_MATCH_PHRASE) return QV_EBADINPUT;
    qv_text_query *q = calloc(1, sizeof *q);
    if (!q) return QV_ENOMEM;
    q->an = an;
    q->kind = kind;
    collect c = {q, false};
    emitter e = {collect_cb, &c, 0, false};
    qv_rc rc = tokenize(an, s, n, kind != QV_TEXT_MATCH_PHRASE, &e);
    if (!rc && c.oom) rc = QV_ENOMEM;
    if (!rc && !build_fail(q)) rc = QV_ENOMEM;
    if (rc) {
        qv_text_query_free(q);
        return rc;
    }
    q->nothing = q->tokens.n == 0 || (kind == QV_TEXT_MATCH_PHRASE && !an->o.phrase_matching);
    *out = q;
    return QV_OK;
}

void qv_text_query_free(qv_text_query *q) {
    if (!q) return;
    strset_free(&q->tokens);
    free(q->seq);
    free(q->fail);
    free(q);
}

qv_text_match_kind qv_text_query_kind(const qv_text_query *q) {
    return q->kind;
}

bool qv_text_query_matches_nothing(const qv_text_query *q) {
    return q->nothing;
}

size_t qv_text_query_ntokens(const qv_text_query *q) {
    return q->tokens.n;
}

const char *qv_text_query_token(const qv_text_query *q, size_t i, size_t *len) {
    if (i >= q->tokens.n) return NULL;
    if (len) *len = q->tokens.len[i];
    return q->tokens.str[i];
}

const uint32_t *qv_text_query_phrase(const qv_text_query *q, size_t *n) {
    if (q->kind != QV_TEXT_MATCH_PHRASE) return NULL;
    if (n) *n = q->nseq;
    return q->seq;
}

/* Matching state over a stream of document tokens. */
typedef struct matcher {
    const qv_text_query *q;
    bool *seen; /* text: which query tokens occurred */
    size_t nseen;
    size_t state; /* phrase: KMP state (matched prefix length) */
    bool hit;
} matcher;

static bool match_cb(void *ctx, const char *tok, size_t len, uint32_t pos) {
    matcher *m = ctx;
    const qv_text_query *q = m->q;
    uint32_t id = strset_find(&q->tokens, tok, len);
    switch (q->kind) {
    case QV_TEXT_MATCH_ANY:
        m->hit = id != QV_NO_TOKEN;
        break;
    case QV_TEXT_MATCH_TEXT:
        if (id != QV_NO_TOKEN && !m->seen[id]) {
            m->seen[id] = true;
            m->hit = ++m->nseen == q->tokens.n;
        }
        break;
    default:
        if (id == QV_NO_TOKEN) {
            m->state = 0;
            break;
        }
        while (m->state && q->seq[m->state] != id) m->state = q->fail[m->state - 1];
        if (q->seq[m->state] == id) m->state++;
        m->hit = m->state == q->nseq;
        break;
    }
    return !m->hit;
}

qv_rc qv_text_query_match_values(const qv_text_query *q, const qv_text_str *vals, size_t n,
                                 bool *out) {
    *out = false;
    if (q->nothing) return QV_OK;
    matcher m = {q, NULL, 0, 0, false};
    bool small[64];
    if (q->kind == QV_TEXT_MATCH_TEXT) {
        if (q->tokens.n <= 64) {
            memset(small, 0, sizeof small);
            m.seen = small;
        } else if (!(m.seen = calloc(q->tokens.n, sizeof *m.seen))) {
            return QV_ENOMEM;
        }
    }
    worker *w = NULL;
    qv_rc rc = worker_get(q->an, &w);
    for (size_t i = 0; !rc && i < n && !m.hit; i++) {
        emitter e = {match_cb, &m, 0, false};
        rc = tokenize_with(q->an, w, vals[i].s, vals[i].len, false, &e);
    }
    if (w) worker_put(q->an, w);
    if (m.seen != small) free(m.seen);
    *out = !rc && m.hit;
    return rc;
}

qv_rc qv_text_query_match(const qv_text_query *q, const char *doc, size_t dlen, bool *out) {
    qv_text_str v = {doc, dlen};
    return qv_text_query_match_values(q, &v, 1, out);
}

bool qv_text_match(const qv_text_analyzer *an, qv_text_match_kind kind, const char *q, size_t qlen,
                   const char *doc, size_t dlen) {
    qv_text_query *pq;
    bool hit = false;
    if (qv_text_query_new(an, kind, q, qlen, &pq)) return false;
    if (qv_text_query_match(pq, doc, dlen, &hit)) hit = false;
    qv_text_query_free(pq);
    return hit;
}
