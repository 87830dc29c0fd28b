/*
 * quant_config.h - a typed quantization configuration (Qdrant's
 * QuantizationConfig / QuantizationConfigDiff), collection-wide and per
 * named vector.
 *
 * What: one value struct for the four kinds Qdrant 1.19 knows - scalar
 * (int8, `quantile` in [0.5, 1]), product (`compression` x4..x64), binary
 * (`encoding`, `query_encoding`) and turbo (`bits`) - plus the options they
 * share (`always_ram`, deprecated, and `memory`).  Optional fields keep a
 * has_ flag: Qdrant skips unset options when it serialises the stored
 * config, so GET /collections/{name} echoes only what the user gave.
 *
 * How: qv_quant_config_parse reads the REST JSON (also the persisted form,
 * which is the same JSON) the way serde reads Qdrant's untagged enum - the
 * variants are tried in order (scalar, product, binary, turbo) and the first
 * that deserialises wins; unknown keys are ignored; a value no variant
 * accepts is QV_EFORMAT "data did not match any variant of untagged enum
 * QuantizationConfig" (...Diff for PATCH) - and then applies validator's
 * range check on `quantile` (QV_EVALIDATION "<path>.scalar.quantile: value
 * .. invalid, must be from 0.5 to 1.0").  The gRPC conversions map the
 * protobuf messages (QuantizationConfig, QuantizationConfigDiff with its
 * `disabled` arm, and the enums, whose numbers the C enums below reuse) with
 * Qdrant's INVALID_ARGUMENT texts for unknown enum values; the quantile
 * range is left to the REST decoder the gRPC layer funnels into.
 *
 * The struct is plain data (no pointers): copy it by assignment.
 *
 * What it does not do: quantize anything.  collection/optimizer.c reads
 * this struct to decide which codes a segment gets (index/qcodes.h) and
 * where they live (`memory`, else `always_ram`, else the original vectors'
 * placement).
 */
#ifndef QV_COLLECTION_QUANT_CONFIG_H
#define QV_COLLECTION_QUANT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"

typedef enum qv_quant_kind {
    QV_QUANT_NONE = 0, /* no quantization (also the "Disabled" diff) */
    QV_QUANT_SCALAR,
    QV_QUANT_PRODUCT,
    QV_QUANT_BINARY,
    QV_QUANT_TURBO,
} qv_quant_kind;

/* Memory placement (Qdrant's `Memory`, gRPC enum Memory numbers): of the
 * quantized vectors here, and shared by VectorParams.memory and
 * HnswConfig(Diff).memory (collection.h), which use the same values and the
 * qv_memory_* helpers below. */
typedef enum qv_quant_memory {
    QV_QMEM_UNSET = 0, /* not given (gRPC MemoryUnknown) */
    QV_QMEM_COLD = 1,
    QV_QMEM_CACHED = 2,
    QV_QMEM_PINNED = 3,
} qv_quant_memory;

/* "cold", "cached", "pinned" for a set value, NULL for QV_QMEM_UNSET or a
 * value out of range. */
const char *qv_memory_name(uint8_t m);
/* A JSON string naming a placement -> its value; 0 (QV_QMEM_UNSET) when v
 * is not a string or not one of the three names. */
uint8_t qv_memory_parse(const jv *v);
/* A gRPC Memory value (present = its oneof case is set) into *out: absent
 * and MemoryUnknown leave *out untouched; values outside the enum are
 * QV_EBADINPUT "Unknown memory placement: <n>". */
qv_rc qv_memory_from_grpc(bool present, int v, uint8_t *out, qv_err *err);

/* Product quantization compression (gRPC CompressionRatio numbers). */
typedef enum qv_pq_compression {
    QV_PQ_X4 = 0,
    QV_PQ_X8 = 1,
    QV_PQ_X16 = 2,
    QV_PQ_X32 = 3,
    QV_PQ_X64 = 4,
} qv_pq_compression;

/* Binary quantization storage encoding (gRPC BinaryQuantizationEncoding). */
typedef enum qv_bq_encoding {
    QV_BQ_ONE_BIT = 0,
    QV_BQ_TWO_BITS = 1,
    QV_BQ_ONE_AND_HALF_BITS = 2,
} qv_bq_encoding;

/* Binary quantization query encoding (gRPC ...QueryEncoding.Setting). */
typedef enum qv_bq_query_encoding {
    QV_BQ_QUERY_DEFAULT = 0,
    QV_BQ_QUERY_BINARY = 1,
    QV_BQ_QUERY_SCALAR4BITS = 2,
    QV_BQ_QUERY_SCALAR8BITS = 3,
} qv_bq_query_encoding;

/* TurboQuant bits per element (gRPC TurboQuantBitSize numbers). */
typedef enum qv_tq_bits {
    QV_TQ_BITS1 = 0,
    QV_TQ_BITS1_5 = 1,
    QV_TQ_BITS2 = 2,
    QV_TQ_BITS4 = 3,
} qv_tq_bits;

typedef struct qv_quant_config {
    uint8_t kind;                    /* qv_quant_kind */
    uint8_t memory;                  /* qv_quant_memory; every kind */
    bool has_always_ram, always_ram; /* every kind (deprecated by memory) */
    bool has_quantile;               /* scalar (type is always int8) */
    float quantile;                  /* [0.5, 1] */
    uint8_t compression;             /* product: qv_pq_compression (required) */
    bool has_encoding;               /* binary */
    uint8_t encoding;                /* qv_bq_encoding */
    bool has_query_encoding;         /* binary */
    uint8_t query_encoding;          /* qv_bq_query_encoding */
    bool has_bits;                   /* turbo */
    uint8_t bits;                    /* qv_tq_bits */
} qv_quant_config;

/* Parses a non-null JSON value into *out (zeroed first).  allow_disabled:
 * the value is a QuantizationConfigDiff, where the string "Disabled" is
 * accepted and gives kind QV_QUANT_NONE.  path names the field in the
 * validation message ("quantization_config", "vectors.a.quantization_config").
 * On error *out is left QV_QUANT_NONE. */
qv_rc qv_quant_config_parse(const jv *v, bool allow_disabled, const char *path,
                            qv_quant_config *out, qv_err *err);

/* Writes the config exactly as GET /collections/{name} shows it: the
 * object ({"scalar": {...}} ...) with only the options that are set, or
 * null for QV_QUANT_NONE. */
void qv_quant_config_write_json(jw *w, const qv_quant_config *c);

/* The same as a jv tree allocated in a (QV_QUANT_NONE gives the string
 * "Disabled", the diff that removes quantization).  False on OOM. */
bool qv_quant_config_to_jv(qv_arena *a, const qv_quant_config *c, jv *out);

bool qv_quant_config_equal(const qv_quant_config *a, const qv_quant_config *b);

/* ---- gRPC (qdrant.QuantizationConfig / QuantizationConfigDiff) ----------- */

struct Qdrant__QuantizationConfig;
struct Qdrant__QuantizationConfigDiff;

/* Message -> struct.  Enum values outside the protocol and a config with no
 * variant set are QV_EBADINPUT with Qdrant's texts ("Unknown compression
 * ratio", "Unable to convert quantization config", ...). */
qv_rc qv_quant_config_from_grpc(const struct Qdrant__QuantizationConfig *m, qv_quant_config *out,
                                qv_err *err);
/* The diff: `disabled` gives QV_QUANT_NONE. */
qv_rc qv_quant_config_diff_from_grpc(const struct Qdrant__QuantizationConfigDiff *m,
                                     qv_quant_config *out, qv_err *err);

/* Struct -> message allocated (zeroed) in a; NULL for QV_QUANT_NONE or on
 * OOM. */
struct Qdrant__QuantizationConfig *qv_quant_config_to_grpc(qv_arena *a, const qv_quant_config *c);

#endif
