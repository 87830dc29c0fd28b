/*
 * json_write.c - the streaming JSON writer (jw_*).
 *
 * Design:
 *  - One growable malloc'd buffer; errors (OOM, nesting beyond first[]) are
 *    sticky in w->oom so callers check once at the end.
 *  - Commas are placed automatically: first[depth] says whether the current
 *    container is still empty, and after_key says the next value belongs to
 *    the key just written (no comma before it).
 *  - Output is compact (no spaces), like serde_json::to_vec, which is what
 *    Qdrant sends.
 *  - Strings are escaped the way serde_json does: '"' and '\\', the short
 *    forms \b \f \n \r \t, other control bytes as \u00XX (lowercase hex),
 *    everything else (including non-ASCII UTF-8 and DEL) verbatim.
 */
#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ----------------------------------------------------------- */

static int jw_grow(jw *w, size_t extra) {
    if (w->oom) return 0;
    if (w->cap - w->len > extra) return 1; /* keeps room for the final NUL */
    size_t nc = w->cap ? w->cap : 256;
    while (nc - w->len <= extra) {
        if (nc > SIZE_MAX / 2) {
            w->oom = 1;
            return 0;
        }
        nc *= 2;
    }
    char *nb = realloc(w->buf, nc);
    if (!nb) {
        w->oom = 1;
        return 0;
    }
    w->buf = nb;
    w->cap = nc;
    return 1;
}

static void put(jw *w, const char *s, size_t n) {
    if (!jw_grow(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void putc1(jw *w, char c) {
    if (!jw_grow(w, 1)) return;
    w->buf[w->len++] = c;
}

void jw_init(jw *w) {
    memset(w, 0, sizeof *w);
    w->first[0] = 1;
}

void jw_free(jw *w) {
    free(w->buf);
    jw_init(w);
}

void jw_reset(jw *w) {
    jw_free(w);
}

char *jw_take(jw *w, size_t *len) {
    char *b = NULL;
    size_t n = 0;
    if (!w->oom && jw_grow(w, 0)) {
        w->buf[w->len] = '\0';
        b = w->buf;
        n = w->len;
        w->buf = NULL;
    }
    jw_free(w);
    if (len) *len = n;
    return b;
}

/* ---- structure -------------------------------------------------------- */

/* Called before every value and key: writes the separating comma. */
static void jw_sep(jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth]) putc1(w, ',');
    w->first[w->depth] = 0;
}

static void jw_open(jw *w, char c) {
    jw_sep(w);
    putc1(w, c);
    if (w->depth + 1 >= (int)sizeof w->first) {
        w->oom = 1; /* too deep: refuse rather than overrun first[] */
        return;
    }
    w->depth++;
    w->first[w->depth] = 1;
}

static void jw_close(jw *w, char c) {
    putc1(w, c);
    if (w->depth > 0) w->depth--;
    w->after_key = 0;
}

void jw_obj_begin(jw *w) {
    jw_open(w, '{');
}

void jw_obj_end(jw *w) {
    jw_close(w, '}');
}

void jw_arr_begin(jw *w) {
    jw_open(w, '[');
}

void jw_arr_end(jw *w) {
    jw_close(w, ']');
}

/* ---- strings ---------------------------------------------------------- */

/* 0: verbatim; otherwise the short escape letter, or 'u' for \u00XX. */
static const char esc_tab[256] = {
    ['\b'] = 'b',  ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['"'] = '"',
    ['\\'] = '\\', [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
    [0x05] = 'u',  [0x06] = 'u', [0x07] = 'u', [0x0B] = 'u', [0x0E] = 'u', [0x0F] = 'u',
    [0x10] = 'u',  [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',
    [0x16] = 'u',  [0x17] = 'u', [0x18] = 'u', [0x19] = 'u', [0x1A] = 'u', [0x1B] = 'u',
    [0x1C] = 'u',  [0x1D] = 'u', [0x1E] = 'u', [0x1F] = 'u',
};

static void put_escaped(jw *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    putc1(w, '"');
    size_t run = 0; /* start of the pending verbatim run */
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        char e = esc_tab[c];
        if (!e) continue;
        put(w, s + run, k - run);
        run = k + 1;
        if (e == 'u') {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, 6);
        } else {
            char b[2] = {'\\', e};
            put(w, b, 2);
        }
    }
    put(w, s + run, n - run);
    putc1(w, '"');
}

void jw_keyn(jw *w, const char *key, size_t len) {
    jw_sep(w);
    put_escaped(w, key, len);
    putc1(w, ':');
    w->after_key = 1;
}

void jw_key(jw *w, const char *key) {
    jw_keyn(w, key, strlen(key));
}

void jw_strn(jw *w, const char *s, size_t len) {
    jw_sep(w);
    put_escaped(w, s, len);
}

void jw_str(jw *w, const char *s) {
    jw_strn(w, s, strlen(s));
}

/* ---- scalars ---------------------------------------------------------- */

void jw_null(jw *w) {
    jw_sep(w);
    put(w, "null", 4);
}

void jw_bool(jw *w, bool b) {
    jw_sep(w);
    if (b)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

/* Writes the decimal digits of x right-aligned ending at end; returns the
 * first digit.  Two digits per division to halve the divisions. */
static char *u64_digits(char *end, uint64_t x) {
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char *p = end;
    while (x >= 100) {
        unsigned r = (unsigned)(x % 100);
        x /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (x >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * x, 2);
    } else {
        *--p = (char)('0' + x);
    }
    return p;
}

void jw_u64(jw *w, uint64_t x) {
    char b[24];
    char *p = u64_digits(b + sizeof b, x);
    jw_sep(w);
    put(w, p, (size_t)(b + sizeof b - p));
}

void jw_i64(jw *w, int64_t x) {
    char b[24];
    uint64_t mag = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    char *p = u64_digits(b + sizeof b, mag);
    if (x < 0) *--p = '-';
    jw_sep(w);
    put(w, p, (size_t)(b + sizeof b - p));
}

void jw_f32(jw *w, float x) {
    char b[32];
    int n = fmt_f32(b, x);
    jw_sep(w);
    put(w, b, (size_t)n);
}

void jw_f64(jw *w, double x) {
    char b[32];
    int n = fmt_f64(b, x);
    jw_sep(w);
    put(w, b, (size_t)n);
}

void jw_raw(jw *w, const char *json, size_t len) {
    jw_sep(w);
    put(w, json, len);
}

/* ---- trees ------------------------------------------------------------ */

void jw_value(jw *w, const jv *v) {
    switch (v->type) {
    case JV_NULL:
        jw_null(w);
        break;
    case JV_BOOL:
        jw_bool(w, v->v.b != 0);
        break;
    case JV_NUM:
        jw_raw(w, v->v.s, v->len);
        break;
    case JV_INT:
        jw_i64(w, v->v.i);
        break;
    case JV_UINT:
        jw_u64(w, v->v.u);
        break;
    case JV_DBL:
        jw_f64(w, v->v.d);
        break;
    case JV_STR:
        jw_strn(w, v->v.s, v->len);
        break;
    case JV_ARR:
        jw_arr_begin(w);
        for (uint32_t k = 0; k < v->len && !w->oom; k++) jw_value(w, &v->v.items[k]);
        jw_arr_end(w);
        break;
    case JV_OBJ:
        jw_obj_begin(w);
        for (uint32_t k = 0; k < v->len && !w->oom; k++) {
            jw_keyn(w, v->v.members[k].key, v->v.members[k].klen);
            jw_value(w, &v->v.members[k].val);
        }
        jw_obj_end(w);
        break;
    default:
        jw_null(w);
        break;
    }
}
