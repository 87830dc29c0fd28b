/*
 * json.c - strict JSON parser, value access and number conversions.
 *
 * Design:
 *  - One recursive-descent pass over the input.  Recursion depth is bounded
 *    by JV_MAX_DEPTH, so the C stack use is small and fixed.
 *  - No malloc per token.  Children of an array/object are collected on a
 *    growable scratch stack (which starts inside the parser struct, so small
 *    documents never touch malloc) and copied into the arena once when the
 *    container closes.  String and number texts are packed back to back into
 *    arena blocks ("char blocks"), unaligned, so a 1536-element vector costs
 *    a handful of arena calls, not 1536.
 *  - Numbers stay as their source text (JV_NUM) until the decoder knows the
 *    wanted type; conversions below are exact (u64/i64) or strtod-exact
 *    (f64, and f32 through f64 as serde does), with fast paths (Clinger, and
 *    x87 extended precision for 16-19 digits) before strtod.
 *  - Error texts and positions follow serde_json: "<what> at line L column
 *    C", where C counts bytes on the line up to and including the offending
 *    byte (or the whole last line at EOF).  serde computes this lazily from
 *    the index; so do we (only on error).
 *  - Nesting: serde counts down from 128 and fails when the count reaches 0,
 *    so it accepts 127 nested containers and rejects the 128th; we match that
 *    (a container at depth JV_MAX_DEPTH is rejected).
 */
#include "core/json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- parser state ----------------------------------------------------- */

#define JP_VINIT     128
#define JP_MINIT     64
#define JP_CHARBLOCK 4096

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    qv_arena *a;
    qv_err *err;
    int depth;
    jv *vs; /* scratch stack of array items */
    size_t vlen, vcap;
    jv_member *ms; /* scratch stack of object members */
    size_t mlen, mcap;
    char *cb; /* current char block */
    size_t cleft;
    jv vinit[JP_VINIT];
    jv_member minit[JP_MINIT];
} jp;

/* Byte classes for the string fast path: 1 = plain ASCII that needs no
 * attention (not '"', '\\', control or non-ASCII). */
static unsigned char plain_tab[256];
static int plain_tab_ready;

static void init_plain_tab(void) {
    if (plain_tab_ready) return; /* racy but idempotent: same bytes written */
    for (int c = 0; c < 256; c++) plain_tab[c] = (c >= 0x20 && c < 0x80 && c != '"' && c != '\\');
    plain_tab_ready = 1;
}

/* serde's position_of_index(min(len, off + 1)). */
static void jp_position(const jp *p, size_t off, size_t *line, size_t *col) {
    size_t end = off + 1 > p->n ? p->n : off + 1;
    size_t ln = 1, lstart = 0;
    for (size_t k = 0; k < end; k++) {
        if (p->s[k] == '\n') {
            ln++;
            lstart = k + 1;
        }
    }
    *line = ln;
    *col = end - lstart;
}

/* Records "<what> at line L column C" for the byte at off (n = EOF). */
static int jp_fail(jp *p, size_t off, const char *what) {
    size_t line, col;
    jp_position(p, off, &line, &col);
    qv_fail(p->err, QV_EFORMAT, "%s at line %zu column %zu", what, line, col);
    return 0;
}

static int jp_oom(jp *p) {
    qv_fail(p->err, QV_ENOMEM, "out of memory while parsing JSON");
    return 0;
}

/* Returns room for `need` bytes of text: the free tail of the current char
 * block, a fresh block, or (for long texts) a dedicated allocation so that
 * a block is never abandoned half empty.  jp_claim() then takes what was
 * used. */
static char *jp_room(jp *p, size_t need) {
    if (need <= p->cleft) return p->cb;
    if (need > JP_CHARBLOCK / 4) return qv_arena_alloc(p->a, need);
    char *b = qv_arena_alloc(p->a, JP_CHARBLOCK);
    if (!b) return NULL;
    p->cb = b;
    p->cleft = JP_CHARBLOCK;
    return b;
}

static void jp_claim(jp *p, const char *r, size_t used) {
    if (r == p->cb) {
        p->cb += used;
        p->cleft -= used;
    }
}

/* Copies n bytes plus a NUL into the arena (packed, unaligned). */
static char *jp_chars(jp *p, const void *src, size_t n) {
    char *out = jp_room(p, n + 1);
    if (!out) return NULL;
    memcpy(out, src, n);
    out[n] = '\0';
    jp_claim(p, out, n + 1);
    return out;
}

static int push_item(jp *p, const jv *v) {
    if (p->vlen == p->vcap) {
        size_t nc = p->vcap * 2;
        jv *ns = p->vs == p->vinit ? malloc(nc * sizeof *ns) : realloc(p->vs, nc * sizeof *ns);
        if (!ns) return jp_oom(p);
        if (p->vs == p->vinit) memcpy(ns, p->vinit, sizeof p->vinit);
        p->vs = ns;
        p->vcap = nc;
    }
    p->vs[p->vlen++] = *v;
    return 1;
}

static int push_member(jp *p, const char *k, size_t klen, const jv *v) {
    if (p->mlen == p->mcap) {
        size_t nc = p->mcap * 2;
        jv_member *ns =
            p->ms == p->minit ? malloc(nc * sizeof *ns) : realloc(p->ms, nc * sizeof *ns);
        if (!ns) return jp_oom(p);
        if (p->ms == p->minit) memcpy(ns, p->minit, sizeof p->minit);
        p->ms = ns;
        p->mcap = nc;
    }
    jv_member *m = &p->ms[p->mlen++];
    m->key = k;
    m->klen = (uint32_t)klen;
    m->val = *v;
    return 1;
}

static inline void skip_ws(jp *p) {
    const unsigned char *s = p->s;
    size_t i = p->i, n = p->n;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    p->i = i;
}

static inline int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..n) starting with a byte >=
 * 0x80, or 0 when invalid (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p->i (serde: EOF if fewer than 4 bytes remain,
 * "invalid escape" positioned after the four bytes otherwise). */
static int read_hex4(jp *p, unsigned *out) {
    if (p->n - p->i < 4) return jp_fail(p, p->n, "EOF while parsing a string");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + k]);
        if (h < 0) return jp_fail(p, p->i + 3, "invalid escape");
        v = v << 4 | (unsigned)h;
    }
    p->i += 4;
    *out = v;
    return 1;
}

/* Validates the escape at p->i (a backslash) and advances past it; on
 * success *cp is the code point for \u escapes, else the escaped byte. */
static int scan_escape(jp *p, unsigned *cp) {
    size_t n = p->n;
    p->i++; /* backslash */
    if (p->i >= n) return jp_fail(p, n, "EOF while parsing a string");
    unsigned char c = p->s[p->i++];
    switch (c) {
    case '"':
        *cp = '"';
        return 1;
    case '\\':
        *cp = '\\';
        return 1;
    case '/':
        *cp = '/';
        return 1;
    case 'b':
        *cp = '\b';
        return 1;
    case 'f':
        *cp = '\f';
        return 1;
    case 'n':
        *cp = '\n';
        return 1;
    case 'r':
        *cp = '\r';
        return 1;
    case 't':
        *cp = '\t';
        return 1;
    case 'u':
        break;
    default:
        return jp_fail(p, p->i - 1, "invalid escape");
    }
    unsigned u;
    if (!read_hex4(p, &u)) return 0;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return jp_fail(p, p->i - 1, "lone leading surrogate in hex escape");
    if (u < 0xD800 || u > 0xDBFF) {
        *cp = u;
        return 1;
    }
    /* A leading surrogate must be followed by \u and a trailing one. */
    if (p->i >= n) return jp_fail(p, n, "EOF while parsing a string");
    if (p->s[p->i] != '\\') return jp_fail(p, p->i, "unexpected end of hex escape");
    p->i++;
    if (p->i >= n) return jp_fail(p, n, "EOF while parsing a string");
    if (p->s[p->i] != 'u') return jp_fail(p, p->i, "unexpected end of hex escape");
    p->i++;
    unsigned u2;
    if (!read_hex4(p, &u2)) return 0;
    if (u2 < 0xDC00 || u2 > 0xDFFF)
        return jp_fail(p, p->i - 1, "lone leading surrogate in hex escape");
    *cp = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Second pass over an already validated string body with escapes: the
 * output is never longer than the source (an escape shrinks or keeps). */
static char *unescape(jp *p, size_t st, size_t end, size_t *olen) {
    size_t raw = end - st;
    char *o = jp_room(p, raw + 1);
    if (!o) return NULL;
    size_t k = 0;
    size_t save = p->i;
    p->i = st;
    while (p->i < end) {
        unsigned char c = p->s[p->i];
        if (c != '\\') {
            o[k++] = (char)c;
            p->i++;
            continue;
        }
        unsigned cp = 0;
        scan_escape(p, &cp); /* cannot fail: validated in pass one */
        k += put_utf8(o + k, cp);
    }
    p->i = save;
    o[k] = '\0';
    jp_claim(p, o, k + 1);
    *olen = k;
    return o;
}

/* Parses the string whose opening quote is at p->i. */
static int parse_string(jp *p, const char **out, size_t *olen) {
    const unsigned char *s = p->s;
    size_t n = p->n;
    size_t st = ++p->i;
    int esc = 0;
    for (;;) {
        size_t i = p->i;
        while (i < n && plain_tab[s[i]]) i++;
        p->i = i;
        if (i >= n) return jp_fail(p, n, "EOF while parsing a string");
        unsigned char c = s[i];
        if (c == '"') break;
        if (c == '\\') {
            unsigned cp;
            esc = 1;
            if (!scan_escape(p, &cp)) return 0;
        } else if (c < 0x20) {
            return jp_fail(p, i,
                           "control character (\\u0000-\\u001F) found while parsing a string");
        } else {
            size_t k = utf8_seq(s + i, n - i);
            if (!k) return jp_fail(p, i, "invalid unicode code point");
            p->i = i + k;
        }
    }
    size_t end = p->i;
    p->i++; /* closing quote */
    if (end - st > UINT32_MAX) return jp_fail(p, end, "string too long");
    char *r = esc ? unescape(p, st, end, olen) : jp_chars(p, s + st, end - st);
    if (!r) return jp_oom(p);
    if (!esc) *olen = end - st;
    *out = r;
    return 1;
}

/* ---- numbers ---------------------------------------------------------- */

static int scan_digits(jp *p) {
    size_t i = p->i, st = i;
    while (i < p->n && is_digit(p->s[i])) i++;
    p->i = i;
    return (int)(i - st > 100000 ? 100000 : i - st);
}

/* Validates the number grammar at p->i and stores its text as JV_NUM.
 * Like serde, a literal whose double value overflows is rejected ("number
 * out of range"); strtod only runs for texts with a large decimal
 * exponent, so ordinary numbers cost one scan and one copy. */
static int parse_number(jp *p, jv *out) {
    size_t st = p->i, n = p->n;
    const unsigned char *s = p->s;
    if (s[p->i] == '-') p->i++;
    if (p->i >= n) return jp_fail(p, n, "invalid number");
    int intdigits = 0;
    if (s[p->i] == '0') {
        p->i++;
        if (p->i < n && is_digit(s[p->i])) return jp_fail(p, p->i, "invalid number");
    } else if (is_digit(s[p->i])) {
        intdigits = scan_digits(p);
    } else {
        return jp_fail(p, p->i, "invalid number");
    }
    if (p->i < n && s[p->i] == '.') {
        p->i++;
        if (p->i >= n || !is_digit(s[p->i])) return jp_fail(p, p->i, "invalid number");
        scan_digits(p);
    }
    long expv = 0;
    if (p->i < n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        int neg = 0;
        if (p->i < n && (s[p->i] == '+' || s[p->i] == '-')) neg = s[p->i++] == '-';
        if (p->i >= n || !is_digit(s[p->i])) return jp_fail(p, p->i, "invalid number");
        while (p->i < n && is_digit(s[p->i])) {
            if (expv < 100000) expv = expv * 10 + (s[p->i] - '0');
            p->i++;
        }
        if (neg) expv = -expv;
    }
    size_t len = p->i - st;
    if (len > UINT32_MAX) return jp_fail(p, p->i - 1, "invalid number");
    char *t = jp_chars(p, s + st, len);
    if (!t) return jp_oom(p);
    if (intdigits + expv > 300) {
        double d = strtod(t, NULL);
        if (isinf(d)) return jp_fail(p, p->i - 1, "number out of range");
    }
    out->type = JV_NUM;
    out->len = (uint32_t)len;
    out->v.s = t;
    return 1;
}

/* ---- values ----------------------------------------------------------- */

static int parse_value(jp *p, jv *out);

static int parse_literal(jp *p, const char *lit, size_t len) {
    for (size_t k = 1; k < len; k++) {
        if (p->i + k >= p->n) return jp_fail(p, p->n, "EOF while parsing a value");
        if (p->s[p->i + k] != (unsigned char)lit[k]) return jp_fail(p, p->i + k, "expected ident");
    }
    p->i += len;
    return 1;
}

static int enter(jp *p) {
    if (++p->depth >= JV_MAX_DEPTH) return jp_fail(p, p->i, "recursion limit exceeded");
    p->i++;
    return 1;
}

/* Moves the top `count` scratch items into one arena array. */
static int close_array(jp *p, size_t mark, jv *out) {
    size_t cnt = p->vlen - mark;
    jv *items = NULL;
    if (cnt) {
        items = qv_arena_alloc(p->a, cnt * sizeof *items);
        if (!items) return jp_oom(p);
        memcpy(items, p->vs + mark, cnt * sizeof *items);
    }
    p->vlen = mark;
    out->type = JV_ARR;
    out->len = (uint32_t)cnt;
    out->v.items = items;
    p->depth--;
    return 1;
}

static int parse_array(jp *p, jv *out) {
    if (!enter(p)) return 0;
    size_t mark = p->vlen;
    for (int first = 1;; first = 0) {
        skip_ws(p);
        if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing a list");
        unsigned char c = p->s[p->i];
        if (c == ']') break;
        if (!first) {
            if (c != ',') return jp_fail(p, p->i, "expected `,` or `]`");
            p->i++;
            skip_ws(p);
            if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing a value");
            if (p->s[p->i] == ']') return jp_fail(p, p->i, "trailing comma");
        }
        jv item;
        if (!parse_value(p, &item) || !push_item(p, &item)) return 0;
        if (p->vlen - mark > UINT32_MAX) return jp_fail(p, p->i, "array too long");
    }
    p->i++;
    return close_array(p, mark, out);
}

static int close_object(jp *p, size_t mark, jv *out) {
    size_t cnt = p->mlen - mark;
    jv_member *ms = NULL;
    if (cnt) {
        ms = qv_arena_alloc(p->a, cnt * sizeof *ms);
        if (!ms) return jp_oom(p);
        memcpy(ms, p->ms + mark, cnt * sizeof *ms);
    }
    p->mlen = mark;
    out->type = JV_OBJ;
    out->len = (uint32_t)cnt;
    out->v.members = ms;
    p->depth--;
    return 1;
}

/* One "key": value pair; p->i is at the opening quote of the key. */
static int parse_member(jp *p) {
    const char *key;
    size_t klen;
    if (!parse_string(p, &key, &klen)) return 0;
    skip_ws(p);
    if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing an object");
    if (p->s[p->i] != ':') return jp_fail(p, p->i, "expected `:`");
    p->i++;
    jv val;
    if (!parse_value(p, &val)) return 0;
    return push_member(p, key, klen, &val);
}

static int parse_object(jp *p, jv *out) {
    if (!enter(p)) return 0;
    size_t mark = p->mlen;
    for (int first = 1;; first = 0) {
        skip_ws(p);
        if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing an object");
        unsigned char c = p->s[p->i];
        if (c == '}') break;
        if (!first) {
            if (c != ',') return jp_fail(p, p->i, "expected `,` or `}`");
            p->i++;
            skip_ws(p);
            if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing a value");
            c = p->s[p->i];
            if (c == '}') return jp_fail(p, p->i, "trailing comma");
        }
        if (c != '"') return jp_fail(p, p->i, "key must be a string");
        if (!parse_member(p)) return 0;
        if (p->mlen - mark > UINT32_MAX) return jp_fail(p, p->i, "object too long");
    }
    p->i++;
    return close_object(p, mark, out);
}

static int parse_value(jp *p, jv *out) {
    skip_ws(p);
    if (p->i >= p->n) return jp_fail(p, p->n, "EOF while parsing a value");
    memset(out, 0, sizeof *out);
    switch (p->s[p->i]) {
    case 'n':
        return parse_literal(p, "null", 4);
    case 't':
        out->type = JV_BOOL;
        out->v.b = 1;
        return parse_literal(p, "true", 4);
    case 'f':
        out->type = JV_BOOL;
        return parse_literal(p, "false", 5);
    case '"': {
        const char *str;
        size_t len;
        if (!parse_string(p, &str, &len)) return 0;
        out->type = JV_STR;
        out->len = (uint32_t)len;
        out->v.s = str;
        return 1;
    }
    case '[':
        return parse_array(p, out);
    case '{':
        return parse_object(p, out);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(p, out);
    default:
        return jp_fail(p, p->i, "expected value");
    }
}

qv_rc jv_parse(qv_arena *arena, const char *text, size_t len, jv *out, qv_err *err) {
    init_plain_tab();
    jp *p = malloc(sizeof *p); /* ~8 KiB of inline stacks: keep off the C stack */
    memset(out, 0, sizeof *out);
    if (!p) return qv_fail(err, QV_ENOMEM, "out of memory while parsing JSON");
    p->s = (const unsigned char *)text;
    p->n = len;
    p->i = 0;
    p->a = arena;
    p->err = err;
    p->depth = 0;
    p->vs = p->vinit;
    p->vlen = 0;
    p->vcap = JP_VINIT;
    p->ms = p->minit;
    p->mlen = 0;
    p->mcap = JP_MINIT;
    p->cb = NULL;
    p->cleft = 0;
    int ok = parse_value(p, out);
    if (ok) {
        skip_ws(p);
        if (p->i < p->n) ok = jp_fail(p, p->i, "trailing characters");
    }
    if (p->vs != p->vinit) free(p->vs);
    if (p->ms != p->minit) free(p->ms);
    free(p);
    if (!ok) {
        memset(out, 0, sizeof *out);
        return err ? err->kind : QV_EFORMAT;
    }
    return QV_OK;
}

/* ---- access ----------------------------------------------------------- */

const jv *jv_getn(const jv *obj, const char *key, size_t klen) {
    if (!obj || obj->type != JV_OBJ) return NULL;
    for (uint32_t k = obj->len; k-- > 0;) {
        const jv_member *m = &obj->v.members[k];
        if (m->klen == klen && memcmp(m->key, key, klen) == 0) return &m->val;
    }
    return NULL;
}

const jv *jv_get(const jv *obj, const char *key) {
    return jv_getn(obj, key, strlen(key));
}

bool jv_is_number(const jv *v) {
    return v && (v->type == JV_NUM || v->type == JV_INT || v->type == JV_UINT || v->type == JV_DBL);
}

/* ---- number conversions ----------------------------------------------- */

/* An unresolved number text is "integral" when it has no '.', 'e' or 'E';
 * the grammar was validated by the parser (or the text came from a trusted
 * producer), so a digit scan suffices. */
static bool text_is_integer(const char *s, size_t len) {
    for (size_t k = 0; k < len; k++)
        if (s[k] == '.' || s[k] == 'e' || s[k] == 'E') return false;
    return true;
}

/* Parses the digits of s[0..len) into *mag, false on overflow or junk. */
static bool digits_u64(const char *s, size_t len, uint64_t *mag) {
    uint64_t m = 0;
    if (len == 0) return false;
    for (size_t k = 0; k < len; k++) {
        unsigned d = (unsigned)(s[k] - '0');
        if (d > 9) return false;
        if (m > (UINT64_MAX - d) / 10) return false;
        m = m * 10 + d;
    }
    *mag = m;
    return true;
}

bool jv_to_u64(const jv *v, uint64_t *out) {
    if (!v) return false;
    switch (v->type) {
    case JV_INT:
        if (v->v.i < 0) return false;
        *out = (uint64_t)v->v.i;
        return true;
    case JV_UINT:
        *out = v->v.u;
        return true;
    case JV_NUM:
        return v->len && v->v.s[0] != '-' && digits_u64(v->v.s, v->len, out);
    default:
        return false;
    }
}

/* serde reads "-0" as the float -0.0, so it is not an i64 (nor a u64). */
bool jv_to_i64(const jv *v, int64_t *out) {
    if (!v) return false;
    switch (v->type) {
    case JV_INT:
        *out = v->v.i;
        return true;
    case JV_NUM: {
        uint64_t mag;
        if (!v->len || !text_is_integer(v->v.s, v->len)) return false;
        if (v->v.s[0] != '-') {
            if (!digits_u64(v->v.s, v->len, &mag) || mag > (uint64_t)INT64_MAX) return false;
            *out = (int64_t)mag;
            return true;
        }
        if (!digits_u64(v->v.s + 1, v->len - 1, &mag) || mag == 0) return false;
        if (mag > (uint64_t)INT64_MAX + 1) return false;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        return true;
    }
    default:
        return false;
    }
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x87 extended precision (64-bit significand), when the compiler has it:
 * the second fast path below needs exactly that format. */
#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64
#define QV_X87_LONG_DOUBLE 1
static const long double pow10_ld[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,
                                         1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L,
                                         1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L,
                                         1e24L, 1e25L, 1e26L, 1e27L}; /* 5^27 < 2^64: all exact */

/* Up to 19 significant digits and |scale| <= 27 (the texts clients send
 * for float32 vectors, printed as doubles with 16-17 digits, land here;
 * strtod costs ~10x more).  w and 10^|scale| are exact in the 64-bit
 * significand, so one x87 multiply or divide gives L, the exact value x
 * rounded to 64 bits (|L - x| <= 1/2 ulp64).  Rounding L to double then
 * equals rounding x to double unless a double-rounding boundary lies
 * between them; the only such boundaries are halfway points between
 * doubles, whose 64-bit significands end in the 11 bits 100 0000 0000, and
 * as |L - x| <= 1/2 ulp64, x and L can straddle one only if L is that point
 * itself.  Those texts (about 1 in 2048) go to strtod. */
static bool ext_f64(uint64_t w, int scale, double *out) {
    /* Emulators may do x87 arithmetic in double precision (valgrind does):
     * check at run time that 1 + 2^-63 survives, else use strtod.  Every
     * thread computes the same answer, so a relaxed atomic suffices. */
    static _Atomic int ext_ok = -1;
    int ok = atomic_load_explicit(&ext_ok, memory_order_relaxed);
    if (ok < 0) {
        volatile long double one = 1.0L, tiny = 0x1p-63L;
        long double sum = one + tiny;
        ok = sum - one == tiny;
        atomic_store_explicit(&ext_ok, ok, memory_order_relaxed);
    }
    if (!ok) return false;
    long double x = (long double)w;
    x = scale < 0 ? x / pow10_ld[-scale] : x * pow10_ld[scale];
    uint64_t sig;
    memcpy(&sig, &x, sizeof sig); /* x86 layout: the significand first */
    if ((sig & 0x7ff) == 0x400) return false;
    *out = (double)x;
    return true;
}
#endif

/* Splits a number text into sign, significand w (at most maxdigits
 * significant digits) and decimal scale.  False when the text has more
 * digits or an exponent beyond 1000. */
static inline bool split_decimal(const char *s, size_t len, int maxdigits, bool *neg, uint64_t *w,
                                 int *scale) {
    size_t k = 0;
    *neg = false;
    if (s[k] == '-') {
        *neg = true;
        k++;
    }
    uint64_t m = 0;
    int nd = 0, sc = 0;
    for (; k < len && is_digit((unsigned char)s[k]); k++) {
        if (m || s[k] != '0') nd++;
        m = m * 10 + (uint64_t)(s[k] - '0');
        if (nd > maxdigits) return false;
    }
    if (k < len && s[k] == '.') {
        for (k++; k < len && is_digit((unsigned char)s[k]); k++) {
            if (m || s[k] != '0') nd++;
            m = m * 10 + (uint64_t)(s[k] - '0');
            sc--;
            if (nd > maxdigits) return false;
        }
    }
    if (k < len) { /* exponent */
        k++;
        bool eneg = false;
        if (k < len && (s[k] == '+' || s[k] == '-')) eneg = s[k++] == '-';
        int e = 0;
        for (; k < len; k++) {
            if (!is_digit((unsigned char)s[k])) return false;
            e = e * 10 + (s[k] - '0');
            if (e > 1000) return false;
        }
        sc += eneg ? -e : e;
    }
    *w = m;
    *scale = sc;
    return true;
}

/* 16-19 significant digits: ext_f64 where the platform has it (kept out
 * of line so the common short texts keep a tight loop). */
__attribute__((noinline)) static bool long_f64(const char *s, size_t len, double *out) {
#ifdef QV_X87_LONG_DOUBLE
    bool neg;
    uint64_t w;
    int scale;
    double d;
    if (!split_decimal(s, len, 19, &neg, &w, &scale) || scale < -27 || scale > 27 ||
        !ext_f64(w, scale, &d))
        return false;
    *out = neg ? -d : d;
    return true;
#else
    (void)s;
    (void)len;
    (void)out;
    return false;
#endif
}

/* Clinger's fast path: when the decimal significand fits 2^53 (here: at
 * most 15 digits) and the power of ten is exact (|e| <= 22), one IEEE
 * multiply or divide gives the correctly rounded double, i.e. exactly what
 * strtod returns; longer significands take long_f64.  Returns false when
 * the text is outside both paths. */
static bool fast_f64(const char *s, size_t len, double *out) {
    bool neg;
    uint64_t w;
    int scale;
    if (!split_decimal(s, len, 15, &neg, &w, &scale)) return long_f64(s, len, out);
    if (scale < -22 || scale > 22) return long_f64(s, len, out);
    double d = (double)w;
    d = scale < 0 ? d / pow10_tab[-scale] : d * pow10_tab[scale];
    *out = neg ? -d : d;
    return true;
}

static double text_to_f64(const char *s, size_t len) {
    double d;
    if (len && fast_f64(s, len, &d)) return d;
    return strtod(s, NULL);
}

bool jv_to_f64(const jv *v, double *out) {
    if (!v) return false;
    switch (v->type) {
    case JV_INT:
        *out = (double)v->v.i;
        return true;
    case JV_UINT:
        *out = (double)v->v.u;
        return true;
    case JV_DBL:
        *out = v->v.d;
        return isfinite(v->v.d);
    case JV_NUM:
        *out = text_to_f64(v->v.s, v->len);
        return isfinite(*out);
    default:
        return false;
    }
}

bool jv_to_f32(const jv *v, float *out) {
    double d;
    if (!jv_to_f64(v, &d)) return false;
    float f = (float)d;
    if (!isfinite(f)) return false;
    *out = f;
    return true;
}

/* ---- resolve, copy, equal --------------------------------------------- */

/* serde_json's split: non-negative integers as u64 (ours: INT if it fits
 * int64, else UINT), negative ones as i64, "-0" and anything that
 * overflows or has a fraction/exponent as f64. */
static void resolve_num(jv *v) {
    const char *s = v->v.s;
    size_t len = v->len;
    uint64_t mag;
    if (text_is_integer(s, len)) {
        bool neg = s[0] == '-';
        if (digits_u64(s + neg, len - neg, &mag) && !(neg && mag == 0)) {
            if (!neg && mag <= (uint64_t)INT64_MAX) {
                v->type = JV_INT;
                v->v.i = (int64_t)mag;
                return;
            }
            if (!neg) {
                v->type = JV_UINT;
                v->v.u = mag;
                return;
            }
            if (mag <= (uint64_t)INT64_MAX + 1) {
                v->type = JV_INT;
                v->v.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
                return;
            }
        }
    }
    v->type = JV_DBL;
    v->v.d = text_to_f64(s, len);
    v->len = 0;
}

void jv_resolve_numbers(jv *v) {
    switch (v->type) {
    case JV_NUM:
        resolve_num(v);
        break;
    case JV_ARR:
        for (uint32_t k = 0; k < v->len; k++) jv_resolve_numbers(&v->v.items[k]);
        break;
    case JV_OBJ:
        for (uint32_t k = 0; k < v->len; k++) jv_resolve_numbers(&v->v.members[k].val);
        break;
    default:
        break;
    }
}

bool jv_copy(qv_arena *arena, const jv *v, jv *out) {
    *out = *v;
    switch (v->type) {
    case JV_STR:
    case JV_NUM: {
        char *s = qv_arena_strndup(arena, v->v.s, v->len);
        if (!s) return false;
        out->v.s = s;
        return true;
    }
    case JV_ARR: {
        if (!v->len) return true;
        jv *items = qv_arena_alloc(arena, v->len * sizeof *items);
        if (!items) return false;
        for (uint32_t k = 0; k < v->len; k++)
            if (!jv_copy(arena, &v->v.items[k], &items[k])) return false;
        out->v.items = items;
        return true;
    }
    case JV_OBJ: {
        if (!v->len) return true;
        jv_member *ms = qv_arena_alloc(arena, v->len * sizeof *ms);
        if (!ms) return false;
        for (uint32_t k = 0; k < v->len; k++) {
            const jv_member *m = &v->v.members[k];
            char *key = qv_arena_strndup(arena, m->key, m->klen);
            if (!key) return false;
            ms[k].key = key;
            ms[k].klen = m->klen;
            if (!jv_copy(arena, &m->val, &ms[k].val)) return false;
        }
        out->v.members = ms;
        return true;
    }
    default:
        return true;
    }
}

/* Mirrors jv_copy's allocations exactly (each one rounded by the arena). */
size_t jv_copy_size(const jv *v) {
    size_t n = 0;
    switch (v->type) {
    case JV_STR:
    case JV_NUM:
        return qv_arena_need((size_t)v->len + 1);
    case JV_ARR:
        if (!v->len) return 0;
        n = qv_arena_need(v->len * sizeof(jv));
        for (uint32_t k = 0; k < v->len; k++) n += jv_copy_size(&v->v.items[k]);
        return n;
    case JV_OBJ:
        if (!v->len) return 0;
        n = qv_arena_need(v->len * sizeof(jv_member));
        for (uint32_t k = 0; k < v->len; k++) {
            n += qv_arena_need((size_t)v->v.members[k].klen + 1);
            n += jv_copy_size(&v->v.members[k].val);
        }
        return n;
    default:
        return 0;
    }
}

/* A number in resolved form (a JV_NUM is resolved into a copy). */
static jv resolved(const jv *v) {
    jv r = *v;
    if (r.type == JV_NUM) resolve_num(&r);
    return r;
}

static bool num_equal(const jv *a, const jv *b) {
    jv x = resolved(a), y = resolved(b);
    if (x.type != y.type) return false;
    switch (x.type) {
    case JV_INT:
        return x.v.i == y.v.i;
    case JV_UINT:
        return x.v.u == y.v.u;
    default:
        return x.v.d == y.v.d;
    }
}

/* True when member k is the last one with its key (the one that counts). */
static bool is_last_key(const jv *obj, uint32_t k) {
    const jv_member *m = &obj->v.members[k];
    for (uint32_t j = k + 1; j < obj->len; j++) {
        const jv_member *o = &obj->v.members[j];
        if (o->klen == m->klen && memcmp(o->key, m->key, m->klen) == 0) return false;
    }
    return true;
}

static uint32_t distinct_keys(const jv *obj) {
    uint32_t c = 0;
    for (uint32_t k = 0; k < obj->len; k++) c += is_last_key(obj, k);
    return c;
}

static bool obj_equal(const jv *a, const jv *b) {
    if (distinct_keys(a) != distinct_keys(b)) return false;
    for (uint32_t k = 0; k < a->len; k++) {
        if (!is_last_key(a, k)) continue;
        const jv_member *m = &a->v.members[k];
        const jv *o = jv_getn(b, m->key, m->klen);
        if (!o || !jv_equal(&m->val, o)) return false;
    }
    return true;
}

bool jv_equal(const jv *a, const jv *b) {
    if (jv_is_number(a) && jv_is_number(b)) return num_equal(a, b);
    if (a->type != b->type) return false;
    switch (a->type) {
    case JV_NULL:
        return true;
    case JV_BOOL:
        return !a->v.b == !b->v.b;
    case JV_STR:
        return a->len == b->len && memcmp(a->v.s, b->v.s, a->len) == 0;
    case JV_ARR:
        if (a->len != b->len) return false;
        for (uint32_t k = 0; k < a->len; k++)
            if (!jv_equal(&a->v.items[k], &b->v.items[k])) return false;
        return true;
    case JV_OBJ:
        return obj_equal(a, b);
    default:
        return false;
    }
}
