/*
 * json.h - JSON values, a strict parser and a streaming writer.
 *
 * Why not a library: every DOM library in Debian stores numbers as double,
 * which loses u64 point IDs above 2^53 and i64 payload values, and converts
 * every vector element twice.  This parser keeps each number as its source
 * text (JV_NUM) until the decoder knows what it must be: an f32 vector
 * element, a u64 point ID, or an i64/f64 payload value.
 *
 * Values (jv) are 16 bytes and live in a qv_arena owned by the caller; a
 * parsed document is released by freeing its arena.  Strings are unescaped,
 * valid UTF-8 and NUL-terminated (their length excludes the NUL; they may
 * contain NUL bytes written as \u0000).  Object members keep their source
 * order and duplicates; jv_get returns the last one with a key (as serde's
 * map does).
 *
 * Parsing is strict RFC 8259 (no comments, no trailing commas, no NaN or
 * Infinity literals, no leading zeros, UTF-8 validated, surrogates paired)
 * with a nesting limit.  Error messages copy serde_json's wording, which is
 * what Qdrant prints after "Format error in JSON body: ", e.g.
 *   "expected value at line 1 column 1"
 *   "EOF while parsing an object at line 1 column 12"
 *   "trailing characters at line 1 column 5"
 *
 * Payload numbers: jv_resolve_numbers() turns every JV_NUM of a tree into
 * JV_INT (an integer that fits int64), JV_UINT (an integer in
 * (INT64_MAX, UINT64_MAX]) or JV_DBL (anything else, as strtod reads it),
 * which is how serde_json's Value keeps them.  Stored payloads are always
 * resolved.
 */
#ifndef QV_CORE_JSON_H
#define QV_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

typedef enum jv_type {
    JV_NULL = 0,
    JV_BOOL,
    JV_NUM,  /* unresolved number: v.s/len hold its source text */
    JV_INT,  /* resolved integer fitting int64 */
    JV_UINT, /* resolved integer above INT64_MAX */
    JV_DBL,  /* resolved non-integer (or out-of-range integer) */
    JV_STR,
    JV_ARR,
    JV_OBJ,
} jv_type;

typedef struct jv jv;
typedef struct jv_member jv_member;

struct jv {
    uint32_t type; /* jv_type */
    uint32_t len;  /* JV_STR/JV_NUM: bytes; JV_ARR: items; JV_OBJ: members */
    union {
        int b;              /* JV_BOOL */
        int64_t i;          /* JV_INT */
        uint64_t u;         /* JV_UINT */
        double d;           /* JV_DBL */
        const char *s;      /* JV_STR, JV_NUM (text, NUL-terminated) */
        jv *items;          /* JV_ARR */
        jv_member *members; /* JV_OBJ */
    } v;
};

struct jv_member {
    const char *key; /* unescaped, NUL-terminated */
    uint32_t klen;
    jv val;
};

/* Deepest nesting of arrays/objects the parser accepts (serde uses 128). */
#define JV_MAX_DEPTH 128

/* ---- Parsing ---------------------------------------------------------- */

/* Parses exactly one JSON value from text[0..len) (surrounding whitespace
 * allowed) into *out, allocating in arena.  On error returns QV_EFORMAT with a
 * serde_json-style message (no prefix); *out is then JV_NULL and the arena may
 * hold garbage that is freed with it. */
qv_rc jv_parse(qv_arena *arena, const char *text, size_t len, jv *out, qv_err *err);

/* ---- Access ----------------------------------------------------------- */

/* Last member of obj named key, or NULL (also when obj is not an object). */
const jv *jv_get(const jv *obj, const char *key);
const jv *jv_getn(const jv *obj, const char *key, size_t klen);

/* True for JV_NUM, JV_INT, JV_UINT, JV_DBL. */
bool jv_is_number(const jv *v);

/* Number conversions; each accepts unresolved and resolved numbers and
 * returns false when v is not a number of the requested kind:
 *  jv_to_u64: an integer in [0, 2^64) written without fraction or exponent;
 *  jv_to_i64: an integer in [-2^63, 2^63);
 *  jv_to_f64: any number, as strtod rounds it (false if it overflows to inf);
 *  jv_to_f32: (float)jv_to_f64, as serde does for f32 (false if not finite). */
bool jv_to_u64(const jv *v, uint64_t *out);
bool jv_to_i64(const jv *v, int64_t *out);
bool jv_to_f64(const jv *v, double *out);
bool jv_to_f32(const jv *v, float *out);

/* Resolves every JV_NUM in the tree in place (see the top of this file). */
void jv_resolve_numbers(jv *v);

/* Deep copy of v into arena (strings, members and items copied); returns
 * false on OOM. */
bool jv_copy(qv_arena *arena, const jv *v, jv *out);

/* Arena bytes jv_copy(v) will consume (for qv_arena_init_cap). */
size_t jv_copy_size(const jv *v);

/* Structural equality: numbers compare by value across kinds (1 == 1.0 is
 * false, as serde_json::Value compares them: ints with ints, floats with
 * floats); objects compare as maps. */
bool jv_equal(const jv *a, const jv *b);

/* ---- Writing ---------------------------------------------------------- */

/* A growable output buffer that writes JSON with commas placed
 * automatically.  Errors (OOM) are sticky: check jw.oom at the end. */
typedef struct jw {
    char *buf;
    size_t len, cap;
    int oom;
    int depth;
    uint8_t first[JV_MAX_DEPTH + 8]; /* per level: nothing written yet */
    uint8_t after_key;
} jw;

void jw_init(jw *w);
void jw_free(jw *w);
/* Hands the buffer (NUL-terminated) to the caller, who frees it; resets w. */
char *jw_take(jw *w, size_t *len);
void jw_reset(jw *w);

void jw_obj_begin(jw *w);
void jw_obj_end(jw *w);
void jw_arr_begin(jw *w);
void jw_arr_end(jw *w);
void jw_key(jw *w, const char *key);
void jw_keyn(jw *w, const char *key, size_t len);
void jw_str(jw *w, const char *s);
void jw_strn(jw *w, const char *s, size_t len);
void jw_null(jw *w);
void jw_bool(jw *w, bool b);
void jw_i64(jw *w, int64_t x);
void jw_u64(jw *w, uint64_t x);
void jw_f32(jw *w, float x);  /* shortest round-trip; non-finite -> null */
void jw_f64(jw *w, double x); /* shortest round-trip; non-finite -> null */
/* Writes a value tree; JV_NUM is copied as its source text. */
void jw_value(jw *w, const jv *v);
/* Writes pre-encoded JSON text as one value. */
void jw_raw(jw *w, const char *json, size_t len);

/* ---- Float formatting (used by jw_f32/jw_f64, exported for tests) ----- */

/* Writes the shortest decimal that reads back to exactly x (for f32:
 * through (float)strtod, as serde and the clients read it), NUL-terminated,
 * into buf (at least 32 bytes); returns its length.  Integral values print
 * with ".0" ("1.0"), large/small magnitudes in exponent form ("1e20",
 * "1.5e-7"), as serde_json does.  Non-finite values print "null". */
int fmt_f32(char *buf, float x);
int fmt_f64(char *buf, double x);

#endif
