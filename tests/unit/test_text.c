/*
 * test_text.c - the full-text analyzer (index/text) and the text index
 * params reader (collection/text_params).
 *
 * Expected tokens come from Qdrant 1.19's behaviour: its tokenizer unit
 * tests (word / prefix / multilingual examples, stop-word and stemming
 * cases), its documented matching rules (text = all tokens, text_any = any,
 * phrase = consecutive tokens of the document tokenization) and the
 * Snowball stemmers' published examples.  Where the multilingual tokenizer
 * can only approximate Qdrant (ICU's dictionaries instead of jieba and
 * vaporetto) the cases are ones both segment the same way.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/text_params.h"
#include "core/json.h"
#include "index/text.h"
#include "index/text_data.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct joined {
    char buf[4096];
    size_t len;
    uint32_t next_pos;
    int limit; /* stop after this many tokens (0 = never) */
} joined;

static bool join_cb(void *ctx, const char *tok, size_t len, uint32_t pos) {
    joined *j = ctx;
    assert_int_equal(pos, j->next_pos); /* positions are 0, 1, 2, ... */
    j->next_pos++;
    if (pos) j->buf[j->len++] = '|';
    assert_true(j->len + len < sizeof j->buf);
    memcpy(j->buf + j->len, tok, len);
    j->len += len;
    j->buf[j->len] = '\0';
    return j->limit == 0 || (int)j->next_pos < j->limit;
}

/* The document (or query) tokens of s joined with '|'. */
static const char *toks_n(const qv_text_analyzer *an, const char *s, size_t n, bool query) {
    static joined j;
    memset(&j, 0, sizeof j);
    qv_rc rc = query ? qv_text_query_tokens(an, s, n, join_cb, &j)
                     : qv_text_doc_tokens(an, s, n, join_cb, &j);
    assert_int_equal(rc, QV_OK);
    return j.buf;
}

static const char *doc(const qv_text_analyzer *an, const char *s) {
    return toks_n(an, s, strlen(s), false);
}

static const char *query(const qv_text_analyzer *an, const char *s) {
    return toks_n(an, s, strlen(s), true);
}

static qv_text_analyzer *make(const qv_text_opts *o) {
    qv_err e;
    qv_text_analyzer *an = qv_text_analyzer_new(o, &e);
    if (!an) fail_msg("analyzer: %s", e.msg);
    return an;
}

static qv_text_analyzer *make_tok(qv_text_tokenizer t) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.tokenizer = t;
    return make(&o);
}

static bool match(const qv_text_analyzer *an, qv_text_match_kind k, const char *q, const char *d) {
    return qv_text_match(an, k, q, strlen(q), d, strlen(d));
}

/* ---- tokenizers --------------------------------------------------------------- */

static void test_word(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "hello, world! Привет, мир!"), "hello|world|привет|мир");
    assert_string_equal(doc(an, "Multivac's underground chambers"),
                        "multivac|s|underground|chambers");
    assert_string_equal(doc(an, "abc123 4.5 x_y"), "abc123|4|5|x|y");
    /* letters and digits of any script are word characters (Rust's is_alphanumeric) */
    assert_string_equal(doc(an, "Ⅻ½ δοκιμή—١٢٣"), "ⅻ½|δοκιμή|١٢٣");
    qv_text_analyzer_free(an);

    o.lowercase = false;
    an = make(&o);
    assert_string_equal(doc(an, "hello, world! Привет, мир!"), "hello|world|Привет|мир");
    qv_text_analyzer_free(an);
}

static void test_whitespace(void **state) {
    qv_text_analyzer *an = make_tok(QV_TEXT_WHITESPACE);
    assert_string_equal(doc(an, "hello world"), "hello|world");
    /* punctuation stays in the token; any Unicode white space splits */
    assert_string_equal(doc(an, "Hello, world!\ttab\nnew\xc2\xa0nbsp\xe3\x80\x80ideo"),
                        "hello,|world!|tab|new|nbsp|ideo");
    assert_string_equal(doc(an, "you'll"), "you'll");
    qv_text_analyzer_free(an);
}

static void test_prefix_document(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.has_min_token_len = o.has_max_token_len = true;
    o.min_token_len = 1, o.max_token_len = 4;
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "hello, мир!"), "h|he|hel|hell|м|ми|мир");
    assert_string_equal(doc(an, "Hello, Мир!"), "h|he|hel|hell|м|ми|мир");
    qv_text_analyzer_free(an);

    /* no limits: every prefix up to the whole word */
    o.has_min_token_len = o.has_max_token_len = false;
    an = make(&o);
    assert_string_equal(doc(an, "hello"), "h|he|hel|hell|hello");
    qv_text_analyzer_free(an);

    /* min 2: shorter words vanish, prefixes start at 2 */
    o.has_min_token_len = true, o.min_token_len = 2;
    an = make(&o);
    assert_string_equal(doc(an, "a hello"), "he|hel|hell|hello");
    qv_text_analyzer_free(an);

    /* min 0 starts with the empty prefix, as Qdrant's loop does */
    o.min_token_len = 0;
    an = make(&o);
    assert_string_equal(doc(an, "ab"), "|a|ab");
    qv_text_analyzer_free(an);

    /* min above max: nothing */
    o.min_token_len = 3, o.has_max_token_len = true, o.max_token_len = 2;
    an = make(&o);
    assert_string_equal(doc(an, "hello"), "");
    qv_text_analyzer_free(an);
}

static void test_prefix_query(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.has_max_token_len = true, o.max_token_len = 4;
    qv_text_analyzer *an = make(&o);
    /* one token per word, cut to max_token_len */
    assert_string_equal(query(an, "hello, мир!"), "hell|мир");
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "hel", "Hello world"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "hellooo", "hello")); /* both cut to "hell" */
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "help", "hello"));
    qv_text_analyzer_free(an);

    /* queries keep stop words: typing "the" must find "theory" */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.stopword_langs = 1u << QV_LANG_ENGLISH;
    an = make(&o);
    assert_string_equal(doc(an, "the theory"), "t|th|the|theo|theor|theory");
    assert_string_equal(query(an, "the"), "the");
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "the", "the theory"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "theo", "the theory"));
    qv_text_analyzer_free(an);

    /* below min_token_len a query word is dropped (no such token exists) */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.has_min_token_len = true, o.min_token_len = 3;
    an = make(&o);
    assert_string_equal(query(an, "he hel"), "hel");
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "he", "hello"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "he hel", "hello"));
    qv_text_analyzer_free(an);
}

/* Qdrant's "you'll be in town" case: the English list catches the pieces
 * whichever tokenizer splits them. */
static void test_apostrophes_and_stop_words(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.stopword_langs = 1u << QV_LANG_ENGLISH;
    o.tokenizer = QV_TEXT_WORD;
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "you'll be in town"), "town");
    qv_text_analyzer_free(an);
    o.tokenizer = QV_TEXT_WHITESPACE;
    an = make(&o);
    assert_string_equal(doc(an, "you'll be in town"), "town");
    assert_string_equal(doc(an, "mustn't stop"), "stop");
    qv_text_analyzer_free(an);
    o.tokenizer = QV_TEXT_PREFIX;
    an = make(&o);
    assert_string_equal(doc(an, "you'll be in town"), "t|to|tow|town");
    qv_text_analyzer_free(an);
}

/* ---- normalisation -------------------------------------------------------------- */

static void test_lowercase(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    qv_text_analyzer *an = make(&o);
    /* full Unicode lowercase: final sigma, dotted capital I, German */
    assert_string_equal(doc(an, "ΟΔΟΣ ΣΟΦΟΣ"), "οδος|σοφος");
    assert_string_equal(doc(an, "İstanbul STRASSE ÄÖÜ"), "i\xcc\x87stanbul|strasse|äöü");
    qv_text_analyzer_free(an);
    o.lowercase = false;
    an = make(&o);
    assert_string_equal(doc(an, "ΟΔΟΣ Straße"), "ΟΔΟΣ|Straße");
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "straße", "Straße"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "Straße", "Straße"));
    qv_text_analyzer_free(an);
}

static void test_ascii_folding(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "ação café jalapeño Über"), "ação|café|jalapeño|über");
    qv_text_analyzer_free(an);

    o.ascii_folding = true;
    an = make(&o);
    assert_string_equal(doc(an, "ação café jalapeño Über"), "acao|cafe|jalapeno|uber");
    assert_string_equal(doc(an, "Æsop Œuvre straße Łódź"), "aesop|oeuvre|strasse|lodz");
    /* folding comes before lowercasing: Ǆ folds to "DZ", then "dz" */
    assert_string_equal(doc(an, "\xc7\x84"), "dz");
    /* documents and queries meet whatever accents either side has */
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "cafe", "Café crème"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "CAFÉ", "cafe"));
    /* non-Latin letters are not folded */
    assert_string_equal(doc(an, "日本語 мир"), "日本語|мир");
    qv_text_analyzer_free(an);

    /* whitespace tokens keep punctuation, which folds too */
    o.tokenizer = QV_TEXT_WHITESPACE;
    an = make(&o);
    assert_string_equal(
        doc(an, "\xe2\x80\x9cquote\xe2\x80\x9d \xe2\x80\x94 \xef\xbc\x91\xe2\x91\xa1\xe2\x92\x8a"),
        "\"quote\"|-|123.");
    qv_text_analyzer_free(an);

    /* prefix: the prefixes of the folded word */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.ascii_folding = true;
    o.has_min_token_len = o.has_max_token_len = true;
    o.min_token_len = 1, o.max_token_len = 4;
    an = make(&o);
    assert_string_equal(doc(an, "ação"), "a|ac|aca|acao");
    qv_text_analyzer_free(an);

    /* the stop-word set is not folded: French "été" survives as "ete" */
    qv_text_opts_init(&o);
    o.ascii_folding = true;
    o.stopword_langs = 1u << QV_LANG_FRENCH;
    an = make(&o);
    assert_string_equal(doc(an, "été à Paris"), "ete|a|paris");
    qv_text_analyzer_free(an);
}

static void test_token_lengths(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.has_min_token_len = true, o.min_token_len = 3;
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "a ab abc abcd"), "abc|abcd");
    qv_text_analyzer_free(an);
    qv_text_opts_init(&o);
    o.has_max_token_len = true, o.max_token_len = 3;
    an = make(&o);
    assert_string_equal(doc(an, "a ab abc abcd"), "a|ab|abc");
    /* characters, not bytes */
    assert_string_equal(doc(an, "ééé éééé"), "ééé");
    /* a long query token cannot match: it is dropped, leaving an empty query */
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "abcd", "abcd"));
    qv_text_analyzer_free(an);

    /* max_token_len 0 keeps nothing */
    o.max_token_len = 0;
    an = make(&o);
    assert_string_equal(doc(an, "a ab"), "");
    qv_text_analyzer_free(an);

    /* limits apply after stemming: "living" -> "live" (4) is too short for 5 */
    qv_text_opts_init(&o);
    o.stemmer = "english";
    o.has_min_token_len = true, o.min_token_len = 5;
    an = make(&o);
    assert_string_equal(doc(an, "living proceeding"), "proceed");
    qv_text_analyzer_free(an);
}

/* ---- stop words ------------------------------------------------------------------- */

static void test_stop_words_every_language(void **state) {
    /* Qdrant's own check: one common stop word per language */
    static const char *const word[QV_LANG_COUNT] = {
        "في", "və",  "eta", "এবং", "i",   "的", "og",  "en",  "and", "ja",
        "et", "und", "και", "את",  "aur", "és", "dan", "e",   "の",  "жоқ",
        "र",  "og",  "e",   "ar",  "и",   "in", "y",   "och", "ва",  "ve",
    };
    static const size_t sizes[QV_LANG_COUNT] = {
        754, 165, 326, 398, 279, 841, 94,  101, 179, 235, 157,  232, 265, 221, 1036,
        199, 758, 279, 149, 324, 255, 176, 207, 356, 151, 1784, 313, 114, 163, 53,
    };
    assert_int_equal(qv_text_nstoplists, QV_LANG_COUNT);
    for (int l = 0; l < QV_LANG_COUNT; l++) {
        qv_text_lang back;
        const char *name = qv_text_lang_name((qv_text_lang)l);
        assert_non_null(name);
        assert_true(qv_text_lang_parse(name, strlen(name), &back));
        assert_int_equal(back, l);
        assert_int_equal(qv_text_stoplists[l].n, sizes[l]);

        qv_text_opts o;
        qv_text_opts_init(&o);
        o.tokenizer = QV_TEXT_WHITESPACE;
        o.stopword_langs = 1u << l;
        qv_text_analyzer *an = make(&o);
        char text[64];
        snprintf(text, sizeof text, "qdrant %s", word[l]);
        assert_string_equal(doc(an, text), "qdrant");
        qv_text_analyzer_free(an);
    }
    qv_text_lang l;
    assert_false(qv_text_lang_parse("klingon", 7, &l));
    assert_null(qv_text_lang_name(QV_LANG_COUNT));
}

static void test_stop_words_sets(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.stopword_langs = 1u << QV_LANG_ENGLISH | 1u << QV_LANG_SPANISH;
    qv_text_str custom[] = {{"I'd", 3}};
    o.custom_stopwords = custom, o.n_custom_stopwords = 1;
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "The quick brown fox jumps over the lazy dog I'd y de"),
                        "quick|brown|fox|jumps|lazy|dog");
    qv_text_analyzer_free(an);

    qv_text_str the_a[] = {{"as", 2}, {"the", 3}, {"a", 1}};
    qv_text_opts_init(&o);
    o.custom_stopwords = the_a, o.n_custom_stopwords = 3;
    an = make(&o);
    assert_string_equal(doc(an, "The quick brown fox jumps over the lazy dog as a test"),
                        "quick|brown|fox|jumps|over|lazy|dog|test");
    qv_text_analyzer_free(an);

    /* lowercase off: stop words match exactly, case included */
    qv_text_str cased[] = {{"the", 3}, {"The", 3}, {"LAZY", 4}};
    qv_text_opts_init(&o);
    o.lowercase = false;
    o.custom_stopwords = cased, o.n_custom_stopwords = 3;
    an = make(&o);
    assert_string_equal(doc(an, "The quick brown fox jumps over the lazy dog"),
                        "quick|brown|fox|jumps|over|lazy|dog");
    qv_text_analyzer_free(an);
    qv_text_opts_init(&o);
    o.lowercase = false;
    o.stopword_langs = 1u << QV_LANG_ENGLISH;
    an = make(&o);
    assert_string_equal(doc(an, "The cat and THE dog"), "The|cat|THE|dog");
    qv_text_analyzer_free(an);

    /* lowercase on: custom words are lowercased too */
    qv_text_str hello[] = {{"Hello", 5}, {"World", 5}};
    qv_text_opts_init(&o);
    o.custom_stopwords = hello, o.n_custom_stopwords = 2;
    an = make(&o);
    assert_string_equal(doc(an, "HELLO big World"), "big");
    qv_text_analyzer_free(an);

    /* French, German, Russian */
    qv_text_opts_init(&o);
    o.stopword_langs = 1u << QV_LANG_FRENCH | 1u << QV_LANG_GERMAN | 1u << QV_LANG_RUSSIAN;
    an = make(&o);
    assert_string_equal(doc(an, "Le chat et la souris"), "chat|souris");
    assert_string_equal(doc(an, "Der Hund und die Katze"), "hund|katze");
    assert_string_equal(doc(an, "Кошка и собака не друзья"), "кошка|собака|друзья");
    qv_text_analyzer_free(an);
}

/* ---- stemming ------------------------------------------------------------------------ */

static void test_stemming(void **state) {
    static const qv_text_tokenizer all[] = {QV_TEXT_WHITESPACE, QV_TEXT_WORD, QV_TEXT_MULTILINGUAL};
    qv_text_opts o;
    for (size_t i = 0; i < 3; i++) {
        qv_text_opts_init(&o);
        o.tokenizer = all[i];
        o.stemmer = "english";
        qv_text_analyzer *an = make(&o);
        assert_string_equal(doc(an, "interestingly proceeding living"), "interest|proceed|live");
        qv_text_analyzer_free(an);
    }
    /* prefix: the prefixes of the stem (min 3, max 4) */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.stemmer = "english";
    o.has_min_token_len = o.has_max_token_len = true;
    o.min_token_len = 3, o.max_token_len = 4;
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "interestingly proceeding living"), "int|inte|pro|proc|liv|live");
    qv_text_analyzer_free(an);

    /* other languages (Snowball's published examples) */
    static const struct {
        const char *lang, *in, *out;
    } cases[] = {
        {"french", "continuellement heureuse", "continuel|heureux"},
        {"german", "aufeinanderfolgenden kategorisch", "aufeinanderfolg|kategor"},
        {"russian", "вагоне важнейшие", "вагон|важн"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qv_text_opts_init(&o);
        o.stemmer = cases[i].lang;
        an = make(&o);
        assert_string_equal(doc(an, cases[i].in), cases[i].out);
        qv_text_analyzer_free(an);
    }
    /* stemming joins forms of a word for matching */
    qv_text_opts_init(&o);
    o.stemmer = "english";
    an = make(&o);
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "interesting", "Interestingly, it works"));
    qv_text_analyzer_free(an);

    /* every Snowball language Qdrant offers exists; others are refused */
    static const char *const langs[] = {
        "arabic",  "armenian", "danish",    "dutch",   "english",   "finnish",    "french",
        "german",  "greek",    "hungarian", "italian", "norwegian", "portuguese", "romanian",
        "russian", "spanish",  "swedish",   "tamil",   "turkish",
    };
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        assert_true(qv_text_snowball_known(langs[i]));
        qv_text_opts_init(&o);
        o.stemmer = langs[i];
        qv_text_analyzer_free(make(&o));
    }
    qv_err e;
    qv_text_opts_init(&o);
    o.stemmer = "porter";
    assert_null(qv_text_analyzer_new(&o, &e));
    assert_int_equal(e.kind, QV_EBADINPUT);
}

/* ---- multilingual -------------------------------------------------------------------- */

static void test_multilingual(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_MULTILINGUAL;
    o.lowercase = false; /* charabia lowercases Latin text regardless */
    qv_text_analyzer *an = make(&o);
    assert_string_equal(doc(an, "This is a test"), "this|is|a|test");
    assert_string_equal(
        doc(an, "This is english text. It's being used within Qdrant's code in a unit test."),
        "this|is|english|text|it|s|being|used|within|qdrant|s|code|in|a|unit|test");
    assert_string_equal(doc(an, "Dies ist ein Test"), "dies|ist|ein|test");
    assert_string_equal(doc(an, "What are you waiting for?"), "what|are|you|waiting|for");
    /* Japanese: segmented as a whole, tokens kept as they are */
    assert_string_equal(doc(an, "これはテストです"), "これ|は|テスト|です");
    assert_string_equal(doc(an, "本日の日付は"), "本日|の|日付|は");
    /* Chinese */
    assert_string_equal(doc(an, "我喜欢吃苹果"), "我|喜欢|吃|苹果");
    /* Thai: dictionary words, nonspacing marks removed */
    assert_string_equal(doc(an, "มาทำงานกันเถอะ"), "มา|ทางาน|กน|เถอะ");
    /* mixed scripts split where the script changes */
    assert_string_equal(doc(an, "hello世界мир"), "hello|世界|мир");
    /* numbers and punctuation are not tokens; accents go in Latin text */
    assert_string_equal(doc(an, "Route 66, 2024: Café crème!"), "route|cafe|creme");
    qv_text_analyzer_free(an);

    /* stop words apply to the segments */
    qv_text_str ja[] = {{"の", 3}, {"は", 3}};
    o.custom_stopwords = ja, o.n_custom_stopwords = 2;
    an = make(&o);
    assert_string_equal(doc(an, "本日の日付は"), "本日|日付");
    qv_text_analyzer_free(an);
    qv_text_str zh[] = {{"吃", 3}};
    o.custom_stopwords = zh, o.n_custom_stopwords = 1;
    an = make(&o);
    assert_string_equal(doc(an, "我喜欢吃苹果"), "我|喜欢|苹果");
    qv_text_analyzer_free(an);

    /* stemming after segmentation */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_MULTILINGUAL;
    o.stemmer = "english";
    an = make(&o);
    assert_string_equal(doc(an, "Testing this"), "test|this");
    /* matching works across the segmenter */
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "苹果", "我喜欢吃苹果"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "テスト", "これはテストです"));
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "苹", "我喜欢吃苹果"));
    qv_text_analyzer_free(an);
}

/* ---- matching --------------------------------------------------------------------------- */

static void test_text_and_text_any(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.stopword_langs = 1u << QV_LANG_ENGLISH;
    qv_text_analyzer *an = make(&o);
    const char *d = "The quick brown fox";
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "fox quick", d));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "FOX", d));
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "fox cat", d));
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "fo", d)); /* whole tokens only */
    assert_true(match(an, QV_TEXT_MATCH_ANY, "fox cat", d));
    assert_false(match(an, QV_TEXT_MATCH_ANY, "cat dog", d));
    /* a query that tokenizes to nothing matches nothing */
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "", d));
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "  ,,, \t", d));
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "the", d));
    assert_false(match(an, QV_TEXT_MATCH_ANY, "the of", d));
    /* stop words in a query are ignored, not required */
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "the fox", d));
    /* an empty document matches nothing */
    assert_false(match(an, QV_TEXT_MATCH_TEXT, "fox", ""));
    assert_false(match(an, QV_TEXT_MATCH_ANY, "fox", "   "));

    /* the prepared form: distinct tokens, first-seen order */
    qv_text_query *q;
    assert_int_equal(qv_text_query_new(an, QV_TEXT_MATCH_TEXT, "fox Fox the quick", 17, &q), QV_OK);
    assert_int_equal(qv_text_query_kind(q), QV_TEXT_MATCH_TEXT);
    assert_false(qv_text_query_matches_nothing(q));
    assert_int_equal(qv_text_query_ntokens(q), 2);
    size_t len;
    assert_string_equal(qv_text_query_token(q, 0, &len), "fox");
    assert_int_equal(len, 3);
    assert_string_equal(qv_text_query_token(q, 1, NULL), "quick");
    assert_null(qv_text_query_token(q, 2, NULL));
    assert_null(qv_text_query_phrase(q, &len));
    bool hit;
    static const char *const docs[] = {"quick fox", "fox", "a quick brown fox", "QUICK? FOX!"};
    static const bool want[] = {true, false, true, true};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(qv_text_query_match(q, docs[i], strlen(docs[i]), &hit), QV_OK);
        assert_int_equal(hit, want[i]);
    }
    qv_text_query_free(q);
    assert_int_equal(qv_text_query_new(an, QV_TEXT_MATCH_ANY, "the", 3, &q), QV_OK);
    assert_true(qv_text_query_matches_nothing(q));
    assert_int_equal(qv_text_query_match(q, "the", 3, &hit), QV_OK);
    assert_false(hit);
    qv_text_query_free(q);
    qv_text_analyzer_free(an);
}

static void test_phrase(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.phrase_matching = true;
    qv_text_analyzer *an = make(&o);
    const char *d = "The quick brown fox";
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "quick brown", d));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "QUICK, brown!", d));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "the quick brown fox", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "brown quick", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "quick fox", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "fox jumps", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "", d));
    /* repeated tokens: the match may start inside a failed partial one */
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "a b c", "a b a b c"));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "la land", "la la land"));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "b a b", "a b a b c"));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "b a b a", "a b a b c"));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "go go", "go go go"));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "go go go", "go go"));

    qv_text_query *q;
    size_t n;
    assert_int_equal(qv_text_query_new(an, QV_TEXT_MATCH_PHRASE, "la la land", 10, &q), QV_OK);
    const uint32_t *seq = qv_text_query_phrase(q, &n);
    assert_int_equal(n, 3);
    assert_int_equal(qv_text_query_ntokens(q), 2);
    assert_int_equal(seq[0], 0);
    assert_int_equal(seq[1], 0);
    assert_int_equal(seq[2], 1);
    qv_text_query_free(q);
    qv_text_analyzer_free(an);

    /* stop words leave no gap, in documents and phrases alike */
    o.stopword_langs = 1u << QV_LANG_ENGLISH;
    an = make(&o);
    d = "The Lord of the Rings";
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "lord of the rings", d));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "lord rings", d));
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "lord and rings", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "rings lord", d));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "of the", d)); /* nothing left */
    qv_text_analyzer_free(an);

    /* without phrase_matching the index has no positions: no phrase matches */
    qv_text_opts_init(&o);
    an = make(&o);
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "quick brown", "quick brown"));
    assert_true(match(an, QV_TEXT_MATCH_TEXT, "quick brown", "quick brown"));
    qv_text_analyzer_free(an);

    /* prefix: a phrase is tokenized as a document (all prefixes) */
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_PREFIX;
    o.phrase_matching = true;
    an = make(&o);
    assert_true(match(an, QV_TEXT_MATCH_PHRASE, "hello world", "hello world again"));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "hel wor", "hello world"));
    assert_false(match(an, QV_TEXT_MATCH_PHRASE, "world hello", "hello world"));
    qv_text_analyzer_free(an);
}

/* Several values of one point are one document, as Qdrant indexes them. */
static void test_match_values(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.phrase_matching = true;
    qv_text_analyzer *an = make(&o);
    qv_text_str vals[] = {{"quick brown", 11}, {"fox jumps", 9}};
    static const struct {
        qv_text_match_kind k;
        const char *q;
        bool joined, each;
    } cases[] = {
        {QV_TEXT_MATCH_TEXT, "quick jumps", true, false},
        {QV_TEXT_MATCH_TEXT, "quick cat", false, false},
        {QV_TEXT_MATCH_ANY, "cat jumps", true, true},
        {QV_TEXT_MATCH_PHRASE, "brown fox", true, false},
        {QV_TEXT_MATCH_PHRASE, "fox jumps", true, true},
        {QV_TEXT_MATCH_PHRASE, "jumps quick", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qv_text_query *q;
        bool hit, any = false;
        assert_int_equal(qv_text_query_new(an, cases[i].k, cases[i].q, strlen(cases[i].q), &q),
                         QV_OK);
        assert_int_equal(qv_text_query_match_values(q, vals, 2, &hit), QV_OK);
        assert_int_equal(hit, cases[i].joined);
        for (size_t v = 0; v < 2; v++) {
            assert_int_equal(qv_text_query_match(q, vals[v].s, vals[v].len, &hit), QV_OK);
            any |= hit;
        }
        assert_int_equal(any, cases[i].each);
        assert_int_equal(qv_text_query_match_values(q, vals, 0, &hit), QV_OK);
        assert_false(hit);
        qv_text_query_free(q);
    }
    qv_text_analyzer_free(an);
}

/* ---- edge input ------------------------------------------------------------------------- */

static void test_empty_and_blank(void **state) {
    for (int t = QV_TEXT_WORD; t <= QV_TEXT_MULTILINGUAL; t++) {
        qv_text_analyzer *an = make_tok((qv_text_tokenizer)t);
        assert_string_equal(toks_n(an, "", 0, false), "");
        assert_string_equal(toks_n(an, NULL, 0, true), "");
        assert_string_equal(doc(an, " \t\n\r  \xe3\x80\x80 "), "");
        assert_false(match(an, QV_TEXT_MATCH_ANY, " ", " "));
        qv_text_analyzer_free(an);
    }
}

/* Ill-formed UTF-8 reads as U+FFFD per maximal ill-formed subsequence. */
static void test_invalid_utf8(void **state) {
    qv_text_analyzer *an = make_tok(QV_TEXT_WORD);
    assert_string_equal(toks_n(an,
                               "\xff\xfe"
                               "abc\xc3",
                               6, false),
                        "abc");
    assert_string_equal(toks_n(an,
                               "ab\xed\xa0\x80"
                               "cd",
                               7, false),
                        "ab|cd"); /* surrogate */
    qv_text_analyzer_free(an);

    an = make_tok(QV_TEXT_WHITESPACE);
    /* each lone bad byte, an overlong pair, a truncated sequence: one U+FFFD each */
    assert_string_equal(toks_n(an,
                               "ab\xff"
                               "cd",
                               5, false),
                        "ab\xef\xbf\xbd"
                        "cd");
    assert_string_equal(toks_n(an, "\xc0\xaf", 2, false), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(toks_n(an, "x\xe2\x82", 3, false), "x\xef\xbf\xbd");
    assert_string_equal(toks_n(an,
                               "x\xf0\x9f\x98"
                               "y",
                               5, false),
                        "x\xef\xbf\xbdy");
    /* a NUL byte is an ordinary character */
    joined j;
    memset(&j, 0, sizeof j);
    assert_int_equal(qv_text_doc_tokens(an, "a\0b c", 5, join_cb, &j), QV_OK);
    assert_int_equal(j.len, 5);
    assert_memory_equal(j.buf, "a\0b|c", 5);
    qv_text_analyzer_free(an);

    /* every tokenizer survives garbage and hands out valid UTF-8 */
    static const char junk[] = "\x80\xbf\xc2\xe0\x80\xf5\xff \xe3\x81\xd0\xf4\x90\x80\x80 q";
    for (int t = QV_TEXT_WORD; t <= QV_TEXT_MULTILINGUAL; t++) {
        qv_text_opts o;
        qv_text_opts_init(&o);
        o.tokenizer = (qv_text_tokenizer)t;
        o.ascii_folding = true;
        o.stemmer = "english";
        an = make(&o);
        const char *got = toks_n(an, junk, sizeof junk - 1, false);
        assert_true(strlen(got) >= 1);
        assert_true(match(an, QV_TEXT_MATCH_ANY, "q", junk));
        qv_text_analyzer_free(an);
    }
}

static void test_early_stop(void **state) {
    qv_text_analyzer *an = make_tok(QV_TEXT_PREFIX);
    joined j;
    memset(&j, 0, sizeof j);
    j.limit = 3;
    assert_int_equal(qv_text_doc_tokens(an, "hello world", 11, join_cb, &j), QV_OK);
    assert_string_equal(j.buf, "h|he|hel");
    qv_text_analyzer_free(an);
}

static void test_bad_options(void **state) {
    qv_text_opts o;
    qv_err e;
    qv_text_opts_init(&o);
    o.tokenizer = (qv_text_tokenizer)7;
    assert_null(qv_text_analyzer_new(&o, &e));
    assert_int_equal(e.kind, QV_EBADINPUT);
    /* options are copied: the caller's custom words may go away */
    char word[] = "secret";
    qv_text_str custom[] = {{word, 6}};
    qv_text_opts_init(&o);
    o.custom_stopwords = custom, o.n_custom_stopwords = 1;
    qv_text_analyzer *an = make(&o);
    memset(word, 'x', 6);
    assert_string_equal(doc(an, "top secret"), "top");
    assert_null(qv_text_analyzer_opts(an)->custom_stopwords);
    qv_text_analyzer_free(an);
    qv_text_analyzer_free(NULL);
    qv_text_query_free(NULL);
}

/* ---- threads ---------------------------------------------------------------------------- */

typedef struct thread_arg {
    const qv_text_analyzer *an;
    const qv_text_query *q;
    int hits;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *a = p;
    static const char *const docs[] = {"Interesting tests, testing interests", "我喜欢吃苹果",
                                       "nothing here", "これはテストです"};
    for (int i = 0; i < 200; i++) {
        bool hit = false;
        const char *d = docs[i % 4];
        if (qv_text_query_match(a->q, d, strlen(d), &hit) == QV_OK && hit) a->hits++;
        if (match(a->an, QV_TEXT_MATCH_ANY, "苹果", docs[1])) a->hits++;
    }
    return NULL;
}

/* Many readers share one analyzer and one prepared query. */
static void test_threads(void **state) {
    qv_text_opts o;
    qv_text_opts_init(&o);
    o.tokenizer = QV_TEXT_MULTILINGUAL;
    o.stemmer = "english";
    qv_text_analyzer *an = make(&o);
    qv_text_query *q;
    assert_int_equal(qv_text_query_new(an, QV_TEXT_MATCH_TEXT, "interest test", 13, &q), QV_OK);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){an, q, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].hits, 50 + 200);
    }
    qv_text_query_free(q);
    qv_text_analyzer_free(an);
}

/* ---- text_params ------------------------------------------------------------------------- */

static qv_rc params(qv_arena *a, const char *json, qv_text_opts *o, qv_err *e) {
    jv v;
    if (jv_parse(a, json, strlen(json), &v, e) != QV_OK) fail_msg("bad test JSON %s", json);
    jv_resolve_numbers(&v);
    return qv_text_params_parse(&v, a, o, e);
}

static void test_text_params(void **state) {
    qv_arena a;
    qv_arena_init(&a);
    qv_text_opts o;
    qv_err e;
    assert_int_equal(params(&a,
                            "{\"type\":\"text\",\"tokenizer\":\"prefix\",\"min_token_len\":2,"
                            "\"max_token_len\":10,\"lowercase\":false,\"ascii_folding\":true,"
                            "\"phrase_matching\":true,\"stopwords\":{\"languages\":[\"english\","
                            "\"fr\"],\"custom\":[\"foo\",\"Bar\"]},\"on_disk\":true,"
                            "\"memory\":\"cold\",\"stemmer\":{\"type\":\"snowball\","
                            "\"language\":\"english\"},\"enable_hnsw\":false}",
                            &o, &e),
                     QV_OK);
    assert_int_equal(o.tokenizer, QV_TEXT_PREFIX);
    assert_true(o.has_min_token_len && o.min_token_len == 2);
    assert_true(o.has_max_token_len && o.max_token_len == 10);
    assert_false(o.lowercase);
    assert_true(o.ascii_folding && o.phrase_matching);
    assert_int_equal(o.stopword_langs, 1u << QV_LANG_ENGLISH | 1u << QV_LANG_FRENCH);
    assert_int_equal(o.n_custom_stopwords, 2);
    assert_memory_equal(o.custom_stopwords[1].s, "Bar", 3);
    assert_string_equal(o.stemmer, "english");

    /* defaults: no params, JSON null, or a bare {"type":"text"} */
    assert_int_equal(qv_text_params_parse(NULL, &a, &o, &e), QV_OK);
    assert_int_equal(o.tokenizer, QV_TEXT_WORD);
    assert_true(o.lowercase && !o.ascii_folding && !o.phrase_matching && !o.stemmer);
    assert_int_equal(params(&a, "{\"type\":\"text\",\"tokenizer\":\"word\"}", &o, &e), QV_OK);
    assert_false(o.has_min_token_len || o.has_max_token_len || o.stopword_langs);
    assert_int_equal(params(&a, "{\"stopwords\":\"ru\",\"stemmer\":{\"type\":\"none\"}}", &o, &e),
                     QV_OK);
    assert_int_equal(o.stopword_langs, 1u << QV_LANG_RUSSIAN);
    assert_null(o.stemmer);
    assert_int_equal(params(&a,
                            "{\"stopwords\":\"japanese\",\"stemmer\":{\"type\":\"snowball\","
                            "\"language\":\"de\"},\"min_token_len\":null}",
                            &o, &e),
                     QV_OK);
    assert_int_equal(o.stopword_langs, 1u << QV_LANG_JAPANESE);
    assert_string_equal(o.stemmer, "german");
    assert_false(o.has_min_token_len);

    /* errors name the parameter */
    static const struct {
        const char *json, *key;
    } bad[] = {
        {"{\"tokenizer\":\"words\"}", "`tokenizer`"},
        {"{\"type\":\"keyword\"}", "`type`"},
        {"{\"min_token_len\":-1}", "`min_token_len`"},
        {"{\"max_token_len\":1.5}", "`max_token_len`"},
        {"{\"lowercase\":\"yes\"}", "`lowercase`"},
        {"{\"stopwords\":\"klingon\"}", "`stopwords`"},
        {"{\"stopwords\":{\"languages\":[\"english\",3]}}", "`stopwords.languages`"},
        {"{\"stopwords\":{\"custom\":[1]}}", "`stopwords.custom`"},
        {"{\"stopwords\":7}", "`stopwords`"},
        {"{\"stemmer\":{\"type\":\"snowball\",\"language\":\"klingon\"}}", "`stemmer.language`"},
        {"{\"stemmer\":{\"type\":\"lancaster\"}}", "`stemmer`"},
        {"[]", "`params`"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(params(&a, bad[i].json, &o, &e), QV_EBADINPUT);
        if (!strstr(e.msg, bad[i].key)) fail_msg("%s: message %s", bad[i].json, e.msg);
    }
    qv_arena_free(&a);

    /* straight from the canonical text field_index keeps */
    qv_text_analyzer *an = qv_text_params_analyzer(
        "{\"type\":\"text\",\"tokenizer\":\"word\",\"stopwords\":{\"languages\":[\"english\"],"
        "\"custom\":[\"Quick\"]},\"stemmer\":{\"type\":\"snowball\",\"language\":\"english\"}}",
        &e);
    assert_non_null(an);
    assert_string_equal(doc(an, "The quick brown foxes"), "brown|fox");
    qv_text_analyzer_free(an);
    an = qv_text_params_analyzer(NULL, &e);
    assert_non_null(an);
    assert_string_equal(doc(an, "Hello World"), "hello|world");
    qv_text_analyzer_free(an);
    assert_null(qv_text_params_analyzer("{\"tokenizer\":", &e));
    assert_int_equal(e.kind, QV_EBADINPUT);
    assert_null(qv_text_params_analyzer("{\"tokenizer\":\"nope\"}", &e));
    assert_int_equal(e.kind, QV_EBADINPUT);
}

static int group_teardown(void **state) {
    qv_text_shutdown();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_prefix_document),
        cmocka_unit_test(test_prefix_query),
        cmocka_unit_test(test_apostrophes_and_stop_words),
        cmocka_unit_test(test_lowercase),
        cmocka_unit_test(test_ascii_folding),
        cmocka_unit_test(test_token_lengths),
        cmocka_unit_test(test_stop_words_every_language),
        cmocka_unit_test(test_stop_words_sets),
        cmocka_unit_test(test_stemming),
        cmocka_unit_test(test_multilingual),
        cmocka_unit_test(test_text_and_text_any),
        cmocka_unit_test(test_phrase),
        cmocka_unit_test(test_match_values),
        cmocka_unit_test(test_empty_and_blank),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_text_params),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, group_teardown);
}
