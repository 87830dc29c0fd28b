/*
 * jvbin.h - compact binary encoding of resolved JSON value trees.
 *
 * Used by the WAL and segment files to store payloads without re-parsing
 * JSON text.  The format carries no version: the enclosing file or record
 * format versions it.  Layout (all integers LEB128 varints, canonical,
 * i.e. without redundant 0x80 continuation bytes):
 *
 *   0 null | 1 false | 2 true
 *   3 int    zigzag(i64)
 *   4 uint   u64 (always > INT64_MAX, as JV_UINT is)
 *   5 double 8 bytes, IEEE-754 little endian
 *   6 string len, bytes (valid UTF-8, may contain NUL)
 *   7 array  count, count values
 *   8 object count, count x (klen, key bytes, value)
 *
 * JV_NUM (unresolved) input is encoded as the number it resolves to (see
 * jv_resolve_numbers), so the encoding of a tree equals the encoding of
 * its resolved form; jvbin_read therefore never returns JV_NUM.
 */
#ifndef QV_CORE_JVBIN_H
#define QV_CORE_JVBIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"

/* Bytes jvbin_write will produce for v. */
size_t jvbin_size(const jv *v);

/* Encodes v into out (at least jvbin_size(v) bytes); returns bytes written. */
size_t jvbin_write(const jv *v, uint8_t *out);

/* Decodes one value from in[0..len) into *out (strings, arrays and members
 * allocated in a) and sets *used to the bytes consumed.  The input is
 * untrusted: every length is checked against the remaining bytes, nesting
 * is limited as in jv_parse, strings must be valid UTF-8, and anything bad
 * returns QV_ECORRUPT with a message (QV_ENOMEM on arena exhaustion). */
qv_rc jvbin_read(qv_arena *a, const uint8_t *in, size_t len, size_t *used, jv *out, qv_err *err);

#endif
