/*
 * fuzz_text.c - libFuzzer target for the full-text analyzer (index/text).
 *
 * Input layout: byte 0 picks one of eight analyzers (each tokenizer, with
 * Qdrant's defaults or with every option switched on: no lowercase, ASCII
 * folding, English stemming, English + custom stop words, token lengths 2..5);
 * byte 1 says where the rest splits into a query and a document.  Both are
 * arbitrary bytes (ill-formed UTF-8 included) and go through document and
 * query tokenization and all three match kinds.  Checked besides memory
 * safety: every token is valid UTF-8, positions count 0, 1, 2, ...; a string
 * matched against itself as text (non-prefix tokenizers) or as a phrase
 * matches exactly when it has tokens; a text match implies a text_any match;
 * several values match like their concatenation with a space for text_any.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what) {
    fprintf(stderr, "fuzz_text: %s\n", what);
    abort();
}

static qv_text_analyzer *analyzers[8];

static void init(void) {
    static qv_text_str custom[] = {{"Foo", 3}, {"\xc3\xa9t\xc3\xa9", 5}, {"", 0}};
    for (int i = 0; i < 8; i++) {
        qv_text_opts o;
        qv_text_opts_init(&o);
        o.tokenizer = (qv_text_tokenizer)(i % 4);
        o.phrase_matching = true;
        if (i >= 4) {
            o.lowercase = false;
            o.ascii_folding = true;
            o.stemmer = "english";
            o.stopword_langs = 1u << QV_LANG_ENGLISH;
            o.custom_stopwords = custom;
            o.n_custom_stopwords = 3;
            o.has_min_token_len = o.has_max_token_len = true;
            o.min_token_len = 2, o.max_token_len = 5;
        }
        qv_err e;
        if (!(analyzers[i] = qv_text_analyzer_new(&o, &e))) die(e.msg);
    }
}

static bool valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= need) return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += need + 1;
    }
    return true;
}

typedef struct check {
    uint32_t next;
} check;

static bool check_cb(void *ctx, const char *tok, size_t len, uint32_t pos) {
    check *c = ctx;
    if (pos != c->next++) die("positions are not 0, 1, 2, ...");
    if (!valid_utf8((const unsigned char *)tok, len)) die("token is not valid UTF-8");
    return true;
}

/* Number of document tokens of s. */
static uint32_t doc_count(const qv_text_analyzer *an, const char *s, size_t n) {
    check c = {0};
    if (qv_text_doc_tokens(an, s, n, check_cb, &c)) die("document tokenization failed");
    check q = {0};
    if (qv_text_query_tokens(an, s, n, check_cb, &q)) die("query tokenization failed");
    return c.next;
}

static bool matches(const qv_text_analyzer *an, qv_text_match_kind k, const char *q, size_t qn,
                    const qv_text_str *vals, size_t nvals) {
    qv_text_query *pq;
    bool hit;
    if (qv_text_query_new(an, k, q, qn, &pq)) die("query_new failed");
    if (qv_text_query_match_values(pq, vals, nvals, &hit)) die("match failed");
    size_t nt = qv_text_query_ntokens(pq);
    for (size_t i = 0; i < nt; i++) {
        size_t len;
        const char *t = qv_text_query_token(pq, i, &len);
        if (!t || t[len] != '\0' || !valid_utf8((const unsigned char *)t, len))
            die("bad query token");
    }
    if (nt == 0 && hit) die("an empty query matched");
    qv_text_query_free(pq);
    return hit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!analyzers[0]) init();
    if (size < 2) return 0;
    const qv_text_analyzer *an = analyzers[data[0] % 8];
    const qv_text_opts *o = qv_text_analyzer_opts(an);
    const char *rest = (const char *)data + 2;
    size_t n = size - 2, cut = n ? (size_t)data[1] * n / 255 : 0;
    const char *q = rest, *d = rest + cut;
    size_t qn = cut, dn = n - cut;

    uint32_t dtoks = doc_count(an, d, dn);
    doc_count(an, q, qn);
    qv_text_str one = {d, dn}, two[2] = {{q, qn}, {d, dn}};

    bool text = matches(an, QV_TEXT_MATCH_TEXT, q, qn, &one, 1);
    bool any = matches(an, QV_TEXT_MATCH_ANY, q, qn, &one, 1);
    bool phrase = matches(an, QV_TEXT_MATCH_PHRASE, q, qn, &one, 1);
    if (text && !any) die("text matched but text_any did not");
    if (phrase && !text && o->tokenizer != QV_TEXT_PREFIX) die("phrase matched but text did not");

    /* a string against itself */
    if (matches(an, QV_TEXT_MATCH_PHRASE, d, dn, &one, 1) != (dtoks > 0))
        die("a phrase does not match its own text");
    if (o->tokenizer != QV_TEXT_PREFIX &&
        matches(an, QV_TEXT_MATCH_TEXT, d, dn, &one, 1) != (dtoks > 0))
        die("a text query does not match its own text");

    /* several values: text_any over values is any over each value */
    bool any_each = matches(an, QV_TEXT_MATCH_ANY, q, qn, &two[0], 1) || any;
    if (matches(an, QV_TEXT_MATCH_ANY, q, qn, two, 2) != any_each)
        die("text_any over values differs from any value matching");
    matches(an, QV_TEXT_MATCH_PHRASE, q, qn, two, 2);
    return 0;
}
