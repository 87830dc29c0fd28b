/*
 * config.c - Qdrant-compatible configuration (see config.h for the sources
 * and their order).
 *
 * Design: one table, key_specs[], describes every known key - its dotted
 * path, an optional alias, its type, where it lives in qv_config (offsetof)
 * and its bounds.  The YAML walk, the environment overrides and the debug
 * dump are all generic loops over that table, so adding a key is one line
 * plus a struct field, and the three can never disagree about a key's type.
 *
 * YAML is read with libyaml's document API (yaml_parser_load): the whole file
 * becomes a node graph, which we walk from the root mapping, building the
 * dotted path as we descend.  We only descend into mappings whose path is a
 * prefix of some known key, which both implements "unknown keys are ignored"
 * and bounds the walk (anchors/aliases cannot blow it up: we never visit
 * more than the few known sections).  Node start marks give the line numbers
 * for error messages.
 *
 * Values are parsed from their text whatever their YAML style, because
 * Qdrant's config crate does the same ("6333" quoted is still a port); the
 * only style-dependent case is null, which must be a plain ~, null or empty
 * scalar (a quoted "null" is the string null).  Numbers are strict: decimal
 * digits with an optional sign, no underscores, hex, spaces or trailing
 * junk; floats also reject inf/nan.
 *
 * Failure atomicity: qv_config_load builds the new config in a local and
 * only moves it into the caller's struct when every source was applied.
 */
#define QV_LOG_COMPONENT "config"

#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/log.h"

/* ======================================================================
 * The key table
 * ====================================================================== */

typedef enum key_kind {
    K_STR,      /* char *, malloc'd */
    K_LOGLEVEL, /* char *, must satisfy qv_log_parse_level */
    K_BOOL,     /* bool */
    K_U16,      /* uint16_t (ports) */
    K_U64,      /* uint64_t (Rust usize/u64) */
    K_I64,      /* int64_t */
    K_F64,      /* double */
} key_kind;

enum {
    F_NULLABLE = 1, /* null allowed: clears the has_ flag, or NULLs a string */
    F_SECRET = 2,   /* never printed */
    F_NONEMPTY = 4, /* a string that must not be empty */
};

#define NO_HAS SIZE_MAX

typedef struct key_spec {
    const char *path;  /* dotted, lower case */
    const char *alias; /* second accepted path, or NULL */
    key_kind kind;
    int flags;
    size_t off;        /* offsetof the value in qv_config */
    size_t has_off;    /* offsetof its bool has_ flag, or NO_HAS */
    uint64_t umin;     /* K_U64: smallest accepted value */
    double fmin, fmax; /* K_F64: accepted closed range */
} key_spec;

#define OFF(f) offsetof(qv_config, f)
#define KEY(p, kind, fl, f)                                                                        \
    { p, NULL, kind, fl, OFF(f), NO_HAS, 0, 0, 0 }
#define KSTR(p, f)         KEY(p, K_STR, F_NONEMPTY, f)
#define KSTR_OPT(p, f, fl) KEY(p, K_STR, F_NULLABLE | (fl), f)
#define KBOOL(p, f)        KEY(p, K_BOOL, 0, f)
#define KU16(p, f)         KEY(p, K_U16, 0, f)
#define KU64(p, f, mn)                                                                             \
    { p, NULL, K_U64, 0, OFF(f), NO_HAS, mn, 0, 0 }
#define KU64_OPT(p, al, f, hasf)                                                                   \
    { p, al, K_U64, F_NULLABLE, OFF(f), OFF(hasf), 0, 0, 0 }

static const key_spec key_specs[] = {
    KEY("log_level", K_LOGLEVEL, F_NONEMPTY, log_level),
    KBOOL("telemetry_disabled", telemetry_disabled),
    KBOOL("per_collection_metrics_enabled", per_collection_metrics_enabled),

    KSTR("storage.storage_path", storage.storage_path),
    KSTR("storage.snapshots_path", storage.snapshots_path),
    KSTR_OPT("storage.temp_path", storage.temp_path, 0),
    KBOOL("storage.on_disk_payload", storage.on_disk_payload),
    KU64_OPT("storage.update_concurrency", NULL, storage.update_concurrency,
             storage.has_update_concurrency),
    KU64_OPT("storage.max_collections", NULL, storage.max_collections, storage.has_max_collections),
    KU64("storage.wal.wal_capacity_mb", storage.wal.wal_capacity_mb, 1),
    KU64("storage.wal.wal_segments_ahead", storage.wal.wal_segments_ahead, 0),
    KU64("storage.performance.max_search_threads", storage.performance.max_search_threads, 0),
    KEY("storage.performance.optimizer_cpu_budget", K_I64, 0,
        storage.performance.optimizer_cpu_budget),
    {"storage.optimizers.deleted_threshold", NULL, K_F64, 0,
     OFF(storage.optimizers.deleted_threshold), NO_HAS, 0, 0.0, 1.0},
    KU64("storage.optimizers.vacuum_min_vector_number", storage.optimizers.vacuum_min_vector_number,
         0),
    KU64("storage.optimizers.default_segment_number", storage.optimizers.default_segment_number, 0),
    KU64_OPT("storage.optimizers.max_segment_size", "storage.optimizers.max_segment_size_kb",
             storage.optimizers.max_segment_size, storage.optimizers.has_max_segment_size),
    KU64_OPT("storage.optimizers.memmap_threshold", "storage.optimizers.memmap_threshold_kb",
             storage.optimizers.memmap_threshold, storage.optimizers.has_memmap_threshold),
    KU64_OPT("storage.optimizers.indexing_threshold", "storage.optimizers.indexing_threshold_kb",
             storage.optimizers.indexing_threshold, storage.optimizers.has_indexing_threshold),
    KU64("storage.optimizers.flush_interval_sec", storage.optimizers.flush_interval_sec, 0),
    KU64_OPT("storage.optimizers.max_optimization_threads", NULL,
             storage.optimizers.max_optimization_threads,
             storage.optimizers.has_max_optimization_threads),
    KU64("storage.hnsw_index.m", storage.hnsw_index.m, 0),
    KU64("storage.hnsw_index.ef_construct", storage.hnsw_index.ef_construct, 4),
    {"storage.hnsw_index.full_scan_threshold", "storage.hnsw_index.full_scan_threshold_kb", K_U64,
     0, OFF(storage.hnsw_index.full_scan_threshold), NO_HAS, 0, 0, 0},
    KU64("storage.hnsw_index.max_indexing_threads", storage.hnsw_index.max_indexing_threads, 0),
    KBOOL("storage.hnsw_index.on_disk", storage.hnsw_index.on_disk),
    KU64_OPT("storage.hnsw_index.payload_m", NULL, storage.hnsw_index.payload_m,
             storage.hnsw_index.has_payload_m),
    KU64("storage.collection.replication_factor", storage.collection.replication_factor, 1),
    KU64("storage.collection.write_consistency_factor", storage.collection.write_consistency_factor,
         1),

    KSTR("service.host", service.host),
    KU16("service.http_port", service.http_port),
    {"service.grpc_port", NULL, K_U16, F_NULLABLE, OFF(service.grpc_port),
     OFF(service.has_grpc_port), 0, 0, 0},
    KU64("service.max_request_size_mb", service.max_request_size_mb, 1),
    KU64("service.max_workers", service.max_workers, 0),
    KBOOL("service.enable_cors", service.enable_cors),
    KBOOL("service.enable_tls", service.enable_tls),
    KBOOL("service.verify_https_client_certificate", service.verify_https_client_certificate),
    KSTR_OPT("service.api_key", service.api_key, F_SECRET),
    KSTR_OPT("service.read_only_api_key", service.read_only_api_key, F_SECRET),
    KBOOL("service.jwt_rbac", service.jwt_rbac),
    KBOOL("service.hardware_reporting", service.hardware_reporting),

    KBOOL("cluster.enabled", cluster.enabled),
    KU16("cluster.p2p.port", cluster.p2p_port),
    KBOOL("cluster.p2p.enable_tls", cluster.p2p_enable_tls),
    KU64("cluster.consensus.tick_period_ms", cluster.tick_period_ms, 1),
    KU64("cluster.consensus.compact_wal_entries", cluster.compact_wal_entries, 0),

    KSTR_OPT("tls.cert", tls.cert, 0),
    KSTR_OPT("tls.key", tls.key, 0),
    KSTR_OPT("tls.ca_cert", tls.ca_cert, 0),
    KU64_OPT("tls.cert_ttl", NULL, tls.cert_ttl, tls.has_cert_ttl),
};

#define N_KEYS (sizeof key_specs / sizeof key_specs[0])

/* Longest dotted path we build; longer paths cannot be known keys. */
#define PATH_MAX_LEN 128

static const key_spec *find_key(const char *path) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_spec *k = &key_specs[i];
        if (strcmp(k->path, path) == 0 || (k->alias && strcmp(k->alias, path) == 0)) return k;
    }
    return NULL;
}

static bool has_prefix_dot(const char *s, const char *prefix, size_t plen) {
    return s && strncmp(s, prefix, plen) == 0 && s[plen] == '.';
}

/* True when path names a section ("storage", "storage.wal") holding keys. */
static bool is_section(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (has_prefix_dot(key_specs[i].path, path, n) ||
            has_prefix_dot(key_specs[i].alias, path, n))
            return true;
    }
    return false;
}

static void *field_ptr(qv_config *c, size_t off) {
    return (char *)c + off;
}

static const void *field_cptr(const qv_config *c, size_t off) {
    return (const char *)c + off;
}

/* ======================================================================
 * Defaults and lifetime
 * ====================================================================== */

/* Sets *slot to a copy of s; returns false on out-of-memory. */
static bool set_str(char **slot, const char *s) {
    char *copy = NULL;
    if (s && !(copy = strdup(s))) return false;
    free(*slot);
    *slot = copy;
    return true;
}

static qv_rc config_init(qv_config *c) {
    memset(c, 0, sizeof *c);
    qv_config_storage *s = &c->storage;
    s->on_disk_payload = true;
    s->wal.wal_capacity_mb = 32;
    s->optimizers.deleted_threshold = 0.2;
    s->optimizers.vacuum_min_vector_number = 1000;
    s->optimizers.has_indexing_threshold = true;
    s->optimizers.indexing_threshold = 10000;
    s->optimizers.flush_interval_sec = 5;
    s->hnsw_index.m = 16;
    s->hnsw_index.ef_construct = 100;
    s->hnsw_index.full_scan_threshold = 10000;
    s->collection.replication_factor = 1;
    s->collection.write_consistency_factor = 1;

    qv_config_service *v = &c->service;
    v->http_port = 6333;
    v->has_grpc_port = true;
    v->grpc_port = 6334;
    v->max_request_size_mb = 32;
    v->enable_cors = true;

    c->per_collection_metrics_enabled = true;
    c->cluster.p2p_port = 6335;
    c->cluster.tick_period_ms = 100;
    c->cluster.compact_wal_entries = 128;
    c->tls.has_cert_ttl = true;
    c->tls.cert_ttl = 3600;

    bool ok = set_str(&c->log_level, "INFO") && set_str(&s->storage_path, "./storage") &&
              set_str(&s->snapshots_path, "./snapshots") && set_str(&v->host, "0.0.0.0") &&
              set_str(&c->tls.cert, "./tls/cert.pem") && set_str(&c->tls.key, "./tls/key.pem") &&
              set_str(&c->tls.ca_cert, "./tls/cacert.pem");
    if (!ok) {
        qv_config_free(c);
        return QV_ENOMEM;
    }
    return QV_OK;
}

void qv_config_defaults(qv_config *c) {
    if (config_init(c) != QV_OK) {
        fprintf(stderr, "quiver: out of memory initialising the configuration\n");
        abort();
    }
}

void qv_config_free(qv_config *c) {
    if (!c) return;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (key_specs[i].kind == K_STR || key_specs[i].kind == K_LOGLEVEL) {
            char **slot = field_ptr(c, key_specs[i].off);
            free(*slot);
        }
    }
    free(c->args.uri);
    free(c->args.bootstrap);
    memset(c, 0, sizeof *c);
}

/* ======================================================================
 * Scalar parsing (shared by YAML and the environment)
 * ====================================================================== */

/* YAML 1.1's yes/no and on/off are accepted besides true/false, and so
 * are 1/0, because Qdrant's config crate accepts them from the environment
 * and people copy such values between the two. */
static bool parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

/* Decimal digits with an optional '+'; strtoull alone would accept spaces
 * and "-1" (wrapping it), so the first character is checked by hand. */
static bool parse_u64(const char *s, uint64_t *out) {
    if (*s == '+') s++;
    if (!isdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out) {
    const char *p = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!isdigit((unsigned char)*p)) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* Plain decimal or exponent notation only: strtod would also take hex
 * floats, "inf", "nan" and leading blanks, none of which belong in a
 * config value. */
static bool parse_f64(const char *s, double *out) {
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s) || !strpbrk(s, "0123456789")) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* ======================================================================
 * Assigning one value to one key
 * ====================================================================== */

/* Where a value came from, for messages: "at FILE:LINE" or
 * "in environment variable NAME". */
typedef struct value_src {
    char where[320];
} value_src;

static qv_rc bad_value(const key_spec *k, const value_src *src, const char *expected,
                       const char *text, qv_err *err) {
    if (!text)
        return qv_fail(err, QV_EBADINPUT, "invalid value for %s %s: expected %s, got null", k->path,
                       src->where, expected);
    return qv_fail(err, QV_EBADINPUT, "invalid value for %s %s: expected %s, got \"%.80s\"",
                   k->path, src->where, expected, text);
}

static const char *kind_expectation(const key_spec *k, char *buf, size_t cap) {
    switch (k->kind) {
    case K_BOOL:
        return "a boolean (true or false)";
    case K_U16:
        return "an integer between 0 and 65535";
    case K_I64:
        return "an integer";
    case K_LOGLEVEL:
        return "a log level (TRACE, DEBUG, INFO, WARN or ERROR)";
    case K_STR:
        return (k->flags & F_NONEMPTY) ? "a non-empty string" : "a string";
    case K_U64:
        if (k->umin == 0) return "a non-negative integer";
        snprintf(buf, cap, "an integer >= %" PRIu64, k->umin);
        return buf;
    case K_F64:
        snprintf(buf, cap, "a number between %g and %g", k->fmin, k->fmax);
        return buf;
    }
    return "a value";
}

/* Parses text per k->kind into a scratch union; true when it fits. */
static bool parse_for_kind(const key_spec *k, const char *text, uint64_t *u, int64_t *i, double *f,
                           bool *b) {
    switch (k->kind) {
    case K_BOOL:
        return parse_bool(text, b);
    case K_U16:
        return parse_u64(text, u) && *u <= UINT16_MAX;
    case K_U64:
        return parse_u64(text, u) && *u >= k->umin;
    case K_I64:
        return parse_i64(text, i);
    case K_F64:
        return parse_f64(text, f) && *f >= k->fmin && *f <= k->fmax;
    case K_LOGLEVEL:
        return qv_log_parse_level(text) != QV_LOG_INVALID;
    case K_STR:
        return !(k->flags & F_NONEMPTY) || *text;
    }
    return false;
}

/* Assigns text (NULL = null) to key k of c.  On error c is unchanged. */
static qv_rc assign(qv_config *c, const key_spec *k, const char *text, const value_src *src,
                    qv_err *err) {
    char buf[64];
    if (!text && !(k->flags & F_NULLABLE))
        return bad_value(k, src, kind_expectation(k, buf, sizeof buf), NULL, err);
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    bool b = false;
    if (text && !parse_for_kind(k, text, &u, &i, &f, &b))
        return bad_value(k, src, kind_expectation(k, buf, sizeof buf), text, err);

    void *slot = field_ptr(c, k->off);
    if (k->kind == K_STR || k->kind == K_LOGLEVEL) {
        if (!set_str(slot, text)) return qv_fail(err, QV_ENOMEM, "out of memory reading config");
        return QV_OK;
    }
    if (k->has_off != NO_HAS) *(bool *)field_ptr(c, k->has_off) = text != NULL;
    if (!text) return QV_OK;
    switch (k->kind) {
    case K_BOOL:
        *(bool *)slot = b;
        break;
    case K_U16:
        *(uint16_t *)slot = (uint16_t)u;
        break;
    case K_U64:
        *(uint64_t *)slot = u;
        break;
    case K_I64:
        *(int64_t *)slot = i;
        break;
    case K_F64:
        *(double *)slot = f;
        break;
    default:
        break;
    }
    return QV_OK;
}

/* ======================================================================
 * YAML
 * ====================================================================== */

typedef struct yaml_walk {
    qv_config *c;
    yaml_document_t *doc;
    const char *file;
    qv_err *err;
} yaml_walk;

static void src_at_node(value_src *src, const yaml_walk *w, const yaml_node_t *n) {
    snprintf(src->where, sizeof src->where, "at %s:%zu", w->file, n->start_mark.line + 1);
}

/* A YAML null: plain (unquoted) "", "~", "null", "Null" or "NULL". */
static bool scalar_is_null(const yaml_node_t *n) {
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* Appends ".key" (lower-cased) to path; false if the key cannot be part of
 * a known path (too long, or containing a dot, which would fake nesting). */
static bool path_push(char *path, size_t len, const yaml_node_t *key) {
    if (key->type != YAML_SCALAR_NODE) return false;
    size_t klen = key->data.scalar.length;
    const char *k = (const char *)key->data.scalar.value;
    if (klen == 0 || memchr(k, '.', klen) || memchr(k, '\0', klen)) return false;
    if (len + 1 + klen + 1 > PATH_MAX_LEN) return false;
    if (len) path[len++] = '.';
    for (size_t i = 0; i < klen; i++) path[len + i] = (char)tolower((unsigned char)k[i]);
    path[len + klen] = '\0';
    return true;
}

static qv_rc walk_mapping(yaml_walk *w, const yaml_node_t *map, char *path, size_t len);

/* Handles one "key: value" pair whose full path is `path`. */
static qv_rc walk_value(yaml_walk *w, const yaml_node_t *val, char *path) {
    const key_spec *k = find_key(path);
    value_src src;
    src_at_node(&src, w, val);
    if (k) {
        if (val->type != YAML_SCALAR_NODE)
            return qv_fail(w->err, QV_EBADINPUT,
                           "invalid value for %s %s: expected a scalar, got a %s", k->path,
                           src.where, val->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
        const char *text = scalar_is_null(val) ? NULL : (const char *)val->data.scalar.value;
        return assign(w->c, k, text, &src, w->err);
    }
    if (!is_section(path)) return QV_OK; /* unknown key: ignored, as Qdrant does */
    if (val->type == YAML_MAPPING_NODE) return walk_mapping(w, val, path, strlen(path));
    if (val->type == YAML_SCALAR_NODE && scalar_is_null(val)) return QV_OK; /* "storage:" */
    return qv_fail(w->err, QV_EBADINPUT, "invalid value for section %s %s: expected a mapping",
                   path, src.where);
}

static qv_rc walk_mapping(yaml_walk *w, const yaml_node_t *map, char *path, size_t len) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *key = yaml_document_get_node(w->doc, p->key);
        const yaml_node_t *val = yaml_document_get_node(w->doc, p->value);
        if (!key || !val || !path_push(path, len, key)) continue;
        qv_rc rc = walk_value(w, val, path);
        path[len] = '\0';
        if (rc != QV_OK) return rc;
    }
    return QV_OK;
}

/* Formats libyaml's parser error as "FILE:LINE: problem (context)". */
static qv_rc yaml_syntax_error(const yaml_parser_t *p, const char *file, qv_err *err) {
    if (p->error == YAML_MEMORY_ERROR)
        return qv_fail(err, QV_ENOMEM, "out of memory reading config");
    size_t line = p->problem_mark.line + 1;
    if (p->context)
        return qv_fail(err, QV_EBADINPUT, "config file %s:%zu: invalid YAML: %s %s", file, line,
                       p->problem ? p->problem : "syntax error", p->context);
    return qv_fail(err, QV_EBADINPUT, "config file %s:%zu: invalid YAML: %s", file, line,
                   p->problem ? p->problem : "syntax error");
}

static qv_rc apply_document(qv_config *c, yaml_document_t *doc, const char *file, qv_err *err) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return QV_OK; /* empty file */
    if (root->type == YAML_SCALAR_NODE && scalar_is_null(root)) return QV_OK;
    if (root->type != YAML_MAPPING_NODE)
        return qv_fail(err, QV_EBADINPUT, "config file %s:%zu: expected a mapping at the top level",
                       file, root->start_mark.line + 1);
    yaml_walk w = {c, doc, file, err};
    char path[PATH_MAX_LEN] = "";
    return walk_mapping(&w, root, path, 0);
}

/* Parses the open file fp (named file) and applies its first document. */
static qv_rc apply_yaml_stream(qv_config *c, FILE *fp, const char *file, qv_err *err) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return qv_fail(err, QV_ENOMEM, "out of memory");
    yaml_parser_set_input_file(&parser, fp);
    qv_rc rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_syntax_error(&parser, file, err);
    } else {
        rc = apply_document(c, &doc, file, err);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

#define DEFAULT_CONFIG_FILE "config/config.yaml"

/* Applies yaml_path, or the default file when yaml_path is NULL and it
 * exists.  A missing default file is normal (most deployments use env). */
static qv_rc apply_yaml_file(qv_config *c, const char *yaml_path, qv_err *err) {
    const char *file = yaml_path ? yaml_path : DEFAULT_CONFIG_FILE;
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        if (!yaml_path && (errno == ENOENT || errno == ENOTDIR)) return QV_OK;
        return qv_fail(err, QV_EIO, "cannot read config file %s: %s", file, strerror(errno));
    }
    qv_rc rc = apply_yaml_stream(c, fp, file, err);
    if (rc == QV_OK && ferror(fp))
        rc = qv_fail(err, QV_EIO, "cannot read config file %s: read error", file);
    fclose(fp);
    return rc;
}

/* ======================================================================
 * Environment
 * ====================================================================== */

#define ENV_PREFIX     "QDRANT__"
#define ENV_PREFIX_LEN 8

/* Turns "STORAGE__WAL__WAL_CAPACITY_MB" (name without prefix, n bytes)
 * into "storage.wal.wal_capacity_mb"; false if it cannot be a known path. */
static bool env_name_to_path(const char *name, size_t n, char *path) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 2 > PATH_MAX_LEN) return false;
        if (name[i] == '_' && i + 1 < n && name[i + 1] == '_') {
            path[o++] = '.';
            i++;
        } else {
            path[o++] = (char)tolower((unsigned char)name[i]);
        }
    }
    path[o] = '\0';
    return o > 0;
}

/* Applies one "NAME=value" entry if NAME is QDRANT__<known key>. */
static qv_rc apply_env_entry(qv_config *c, const char *entry, qv_err *err) {
    const char *eq = strchr(entry, '=');
    if (!eq || strncasecmp(entry, ENV_PREFIX, ENV_PREFIX_LEN) != 0) return QV_OK;
    size_t name_len = (size_t)(eq - entry);
    char path[PATH_MAX_LEN];
    if (name_len <= ENV_PREFIX_LEN ||
        !env_name_to_path(entry + ENV_PREFIX_LEN, name_len - ENV_PREFIX_LEN, path))
        return QV_OK;
    const key_spec *k = find_key(path);
    if (!k) return QV_OK;

    value_src src;
    snprintf(src.where, sizeof src.where, "in environment variable %.*s", (int)name_len, entry);
    const char *text = eq + 1;
    /* An environment variable cannot be YAML null; "null" unsets optional
     * numbers (e.g. QDRANT__SERVICE__GRPC_PORT=null disables gRPC), while
     * optional strings keep the literal text. */
    bool is_null = (k->flags & F_NULLABLE) && k->kind != K_STR && strcasecmp(text, "null") == 0;
    return assign(c, k, is_null ? NULL : text, &src, err);
}

static qv_rc apply_env(qv_config *c, char **envp, qv_err *err) {
    for (size_t i = 0; envp && envp[i]; i++) {
        qv_rc rc = apply_env_entry(c, envp[i], err);
        if (rc != QV_OK) return rc;
    }
    return QV_OK;
}

/* ======================================================================
 * Loading
 * ====================================================================== */

qv_rc qv_config_load(qv_config *c, const char *yaml_path, char **envp, qv_err *err) {
    qv_config tmp;
    if (config_init(&tmp) != QV_OK) return qv_fail(err, QV_ENOMEM, "out of memory");
    qv_rc rc = apply_yaml_file(&tmp, yaml_path, err);
    if (rc == QV_OK) rc = apply_env(&tmp, envp, err);
    if (rc != QV_OK) {
        qv_config_free(&tmp);
        return rc;
    }
    /* Commit: keep the caller's command-line args, replace the rest. */
    tmp.args = c->args;
    memset(&c->args, 0, sizeof c->args);
    qv_config_free(c);
    *c = tmp;
    if (c->args.disable_telemetry) c->telemetry_disabled = true;
    return QV_OK;
}

/* ======================================================================
 * Command line
 * ====================================================================== */

static const char usage_text[] =
    "Quiver - a Qdrant-compatible vector database\n"
    "\n"
    "Usage: quiver [OPTIONS]\n"
    "\n"
    "Options:\n"
    "      --uri <URI>            Uri of the current peer (cluster mode, not yet supported)\n"
    "      --bootstrap <URI>      Uri of a peer to bootstrap from (cluster mode, not yet "
    "supported)\n"
    "      --config-path <PATH>   Path to an alternative configuration file\n"
    "                             (default: config/config.yaml if present)\n"
    "      --disable-telemetry    Disable telemetry sending to developers\n"
    "      --stacktrace           Accepted for compatibility with Qdrant; ignored\n"
    "  -h, --help                 Print help\n"
    "  -V, --version              Print version\n"
    "\n"
    "Settings are also read from QDRANT__SECTION__KEY environment variables,\n"
    "e.g. QDRANT__SERVICE__HTTP_PORT=6333.\n";

/* If argv[*i] is `name` or `name=value`, stores the value (taking the next
 * argument in the first form) and returns 1; returns 0 if it is another
 * flag, -1 if the value is missing. */
static int take_value(const char *name, int argc, char **argv, int *i, const char **out) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        *out = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *out = argv[++*i];
    return 1;
}

typedef struct parsed_args {
    const char *config_path, *uri, *bootstrap;
    bool disable_telemetry, help, version;
} parsed_args;

/* Recognises argv[*i]; QV_EBADINPUT for anything unknown or incomplete. */
static qv_rc parse_one_arg(parsed_args *a, int argc, char **argv, int *i, qv_err *err) {
    static const char *const valued[] = {"--config-path", "--uri", "--bootstrap"};
    const char **slots[] = {&a->config_path, &a->uri, &a->bootstrap};
    const char *arg = argv[*i];
    for (size_t k = 0; k < 3; k++) {
        int r = take_value(valued[k], argc, argv, i, slots[k]);
        if (r < 0) return qv_fail(err, QV_EBADINPUT, "a value is required for '%s'", valued[k]);
        if (r > 0) return QV_OK;
    }
    if (!strcmp(arg, "--disable-telemetry"))
        a->disable_telemetry = true;
    else if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
        a->help = true;
    else if (!strcmp(arg, "--version") || !strcmp(arg, "-V"))
        a->version = true;
    else if (strcmp(arg, "--stacktrace") != 0)
        return qv_fail(err, QV_EBADINPUT, "unexpected argument '%s' (see --help)", arg);
    return QV_OK;
}

qv_rc qv_config_parse_args(qv_config *c, int argc, char **argv, const char **config_path_out,
                           qv_err *err) {
    parsed_args a = {0};
    for (int i = 1; i < argc; i++) {
        qv_rc rc = parse_one_arg(&a, argc, argv, &i, err);
        if (rc != QV_OK) return rc;
    }
    char *uri = NULL, *bootstrap = NULL;
    if (!set_str(&uri, a.uri) || !set_str(&bootstrap, a.bootstrap)) {
        free(uri);
        return qv_fail(err, QV_ENOMEM, "out of memory");
    }
    if (a.help)
        fputs(usage_text, stdout);
    else if (a.version)
        printf("quiver %s\n", QV_VERSION);
    if (a.help || a.version) fflush(stdout);

    free(c->args.uri);
    free(c->args.bootstrap);
    c->args.uri = uri;
    c->args.bootstrap = bootstrap;
    c->args.disable_telemetry = a.disable_telemetry;
    c->args.exit_requested = a.help || a.version;
    if (a.disable_telemetry) c->telemetry_disabled = true;
    *config_path_out = a.config_path;
    return QV_OK;
}

/* ======================================================================
 * Debug dump
 * ====================================================================== */

/* Renders the current value of k into buf. */
static void format_value(const qv_config *c, const key_spec *k, char *buf, size_t cap) {
    const void *slot = field_cptr(c, k->off);
    if (k->has_off != NO_HAS && !*(const bool *)field_cptr(c, k->has_off)) {
        snprintf(buf, cap, "null");
        return;
    }
    switch (k->kind) {
    case K_STR:
    case K_LOGLEVEL: {
        const char *s = *(char *const *)slot;
        if (!s)
            snprintf(buf, cap, "null");
        else if (k->flags & F_SECRET)
            snprintf(buf, cap, "<set>");
        else
            snprintf(buf, cap, "\"%s\"", s);
        break;
    }
    case K_BOOL:
        snprintf(buf, cap, "%s", *(const bool *)slot ? "true" : "false");
        break;
    case K_U16:
        snprintf(buf, cap, "%u", (unsigned)*(const uint16_t *)slot);
        break;
    case K_U64:
        snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)slot);
        break;
    case K_I64:
        snprintf(buf, cap, "%" PRId64, *(const int64_t *)slot);
        break;
    case K_F64:
        snprintf(buf, cap, "%g", *(const double *)slot);
        break;
    }
}

void qv_config_log(const qv_config *c) {
    if (!qv_log_enabled(QV_LOG_LVL_DEBUG)) return;
    char buf[256];
    for (size_t i = 0; i < N_KEYS; i++) {
        format_value(c, &key_specs[i], buf, sizeof buf);
        QV_LOG_DEBUG("%s = %s", key_specs[i].path, buf);
    }
    QV_LOG_DEBUG("--uri = %s", c->args.uri ? c->args.uri : "null");
    QV_LOG_DEBUG("--bootstrap = %s", c->args.bootstrap ? c->args.bootstrap : "null");
}
