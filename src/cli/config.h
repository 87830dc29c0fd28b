/*
 * config.h - Quiver's configuration, read the way Qdrant reads its own.
 *
 * Sources, later ones winning:
 *   1. built-in defaults, equal to Qdrant 1.19's config/config.yaml;
 *   2. one YAML file with Qdrant's layout: the --config-path file if given,
 *      otherwise config/config.yaml relative to the working directory if it
 *      exists;
 *   3. environment variables QDRANT__SECTION__KEY=value, where "__" separates
 *      nesting levels (QDRANT__STORAGE__WAL__WAL_CAPACITY_MB=64);
 *   4. the --disable-telemetry command-line flag.
 *
 * Keys are matched case-insensitively in both the file and the environment
 * (Qdrant's config crate lowercases them).  Unknown keys are ignored, as
 * Qdrant ignores them; a known key with a value of the wrong type or out of
 * range is an error naming the key and where the value came from.  Qdrant's
 * "_kb" spellings of size keys (indexing_threshold_kb, max_segment_size_kb,
 * memmap_threshold_kb, full_scan_threshold_kb) are accepted as aliases of
 * the plain names, as Qdrant's serde aliases do.
 *
 * Ownership: every string in qv_config is malloc'd and owned by the struct;
 * release them all with qv_config_free.  An optional value ("null" in
 * Qdrant's file) has a has_<name> flag next to it; its value is meaningful
 * only when the flag is true.  Optional strings are simply NULL when unset.
 *
 * docs/configuration.md lists the keys and which ones Quiver acts on yet.
 */
#ifndef QV_CLI_CONFIG_H
#define QV_CLI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#ifndef QV_VERSION
#define QV_VERSION "0.1.0"
#endif

/* storage.wal */
typedef struct qv_config_wal {
    uint64_t wal_capacity_mb;    /* 32, >= 1 */
    uint64_t wal_segments_ahead; /* 0 */
} qv_config_wal;

/* storage.performance */
typedef struct qv_config_performance {
    uint64_t max_search_threads;  /* 0 = auto */
    int64_t optimizer_cpu_budget; /* 0 = auto, < 0 = all but N CPUs */
} qv_config_performance;

/* storage.optimizers - sizes are in kilobytes, as in Qdrant. */
typedef struct qv_config_optimizers {
    double deleted_threshold;          /* 0.2, in [0, 1] */
    uint64_t vacuum_min_vector_number; /* 1000 */
    uint64_t default_segment_number;   /* 0 = auto */
    bool has_max_segment_size;         /* null = auto */
    uint64_t max_segment_size;         /* alias max_segment_size_kb */
    bool has_memmap_threshold;         /* null (deprecated in Qdrant) */
    uint64_t memmap_threshold;         /* alias memmap_threshold_kb */
    bool has_indexing_threshold;       /* set, 10000 */
    uint64_t indexing_threshold;       /* alias indexing_threshold_kb; 0 disables */
    uint64_t flush_interval_sec;       /* 5 */
    bool has_max_optimization_threads; /* null = no limit */
    uint64_t max_optimization_threads;
} qv_config_optimizers;

/* storage.hnsw_index */
typedef struct qv_config_hnsw {
    uint64_t m;                    /* 16 */
    uint64_t ef_construct;         /* 100, >= 4 */
    uint64_t full_scan_threshold;  /* 10000, alias full_scan_threshold_kb */
    uint64_t max_indexing_threads; /* 0 = auto */
    bool on_disk;                  /* false */
    bool has_payload_m;            /* null = use m */
    uint64_t payload_m;
} qv_config_hnsw;

/* storage.collection */
typedef struct qv_config_collection {
    uint64_t replication_factor;       /* 1, >= 1 */
    uint64_t write_consistency_factor; /* 1, >= 1 */
} qv_config_collection;

typedef struct qv_config_storage {
    char *storage_path;   /* "./storage" */
    char *snapshots_path; /* "./snapshots" */
    char *temp_path;      /* NULL (null) = <storage>/snapshots_temp */
    bool on_disk_payload; /* true */
    bool has_update_concurrency;
    uint64_t update_concurrency; /* null = unlimited */
    bool has_max_collections;
    uint64_t max_collections; /* null = no limit */
    qv_config_wal wal;
    qv_config_performance performance;
    qv_config_optimizers optimizers;
    qv_config_hnsw hnsw_index;
    qv_config_collection collection;
} qv_config_storage;

typedef struct qv_config_service {
    char *host;                           /* "0.0.0.0" */
    uint16_t http_port;                   /* 6333 */
    bool has_grpc_port;                   /* true; null disables gRPC, as in Qdrant */
    uint16_t grpc_port;                   /* 6334 */
    uint64_t max_request_size_mb;         /* 32, >= 1 */
    uint64_t max_workers;                 /* 0 = number of cores */
    bool enable_cors;                     /* true */
    bool enable_tls;                      /* false */
    bool verify_https_client_certificate; /* false */
    char *api_key;                        /* NULL = no auth */
    char *read_only_api_key;              /* NULL = none */
    bool jwt_rbac;                        /* false */
    bool hardware_reporting;              /* false */
} qv_config_service;

typedef struct qv_config_cluster {
    bool enabled;                 /* false */
    uint16_t p2p_port;            /* cluster.p2p.port, 6335 */
    bool p2p_enable_tls;          /* cluster.p2p.enable_tls, false */
    uint64_t tick_period_ms;      /* cluster.consensus.tick_period_ms, 100 */
    uint64_t compact_wal_entries; /* cluster.consensus.compact_wal_entries, 128 */
} qv_config_cluster;

typedef struct qv_config_tls {
    char *cert;    /* "./tls/cert.pem" */
    char *key;     /* "./tls/key.pem" */
    char *ca_cert; /* "./tls/cacert.pem" */
    bool has_cert_ttl;
    uint64_t cert_ttl; /* 3600 s; null = no reload */
} qv_config_tls;

/* What came from the command line (see qv_config_parse_args).  These survive
 * qv_config_load, which starts over from the defaults for everything else. */
typedef struct qv_config_args {
    char *uri;              /* --uri: this peer's URI (cluster mode, later) */
    char *bootstrap;        /* --bootstrap: a peer to join (cluster mode, later) */
    bool disable_telemetry; /* --disable-telemetry */
    bool exit_requested;    /* --help or --version was handled: exit 0 */
} qv_config_args;

typedef struct qv_config {
    char *log_level;                     /* "INFO"; validated with qv_log_parse_level */
    bool telemetry_disabled;             /* false */
    bool per_collection_metrics_enabled; /* true */
    qv_config_storage storage;
    qv_config_service service;
    qv_config_cluster cluster;
    qv_config_tls tls;
    qv_config_args args;
} qv_config;

/* Fills *c (need not be initialised) with Qdrant's defaults.  Aborts on
 * out-of-memory: it allocates a few short strings once at startup. */
void qv_config_defaults(qv_config *c);

/* Parses the command line into c->args (c must hold a config, e.g. from
 * qv_config_defaults).  Accepts --config-path PATH, --disable-telemetry,
 * --uri URI, --bootstrap URI (also in --flag=value form), --stacktrace
 * (accepted and ignored, as it is Qdrant's), --help/-h and --version/-V,
 * which print to stdout and set c->args.exit_requested.  *config_path_out
 * is set to the --config-path argument (borrowed from argv) or NULL.
 * Unknown or incomplete flags and positional arguments: QV_EBADINPUT,
 * c unchanged. */
qv_rc qv_config_parse_args(qv_config *c, int argc, char **argv, const char **config_path_out,
                           qv_err *err);

/* Builds the effective configuration: defaults, then the YAML file, then the
 * QDRANT__* entries of envp (NULL-terminated "NAME=value" strings; may be
 * NULL), then c->args.  c must hold a config (qv_config_defaults or a
 * previous load); its args are kept, everything else is replaced.
 * yaml_path NULL means "config/config.yaml if it exists".  Errors:
 *   QV_EIO        yaml_path given but unreadable (or config/config.yaml
 *                 exists but cannot be read)
 *   QV_EBADINPUT  YAML syntax error, or a known key with a bad value; the
 *                 message names the key and "file:line" or the variable
 *   QV_ENOMEM
 * On failure *c is unchanged. */
qv_rc qv_config_load(qv_config *c, const char *yaml_path, char **envp, qv_err *err);

/* Frees every string in *c and leaves it zeroed (safe to free twice). */
void qv_config_free(qv_config *c);

/* Logs one debug line per effective setting ("config: service.http_port =
 * 6333"); API keys are shown as "<set>", never their value. */
void qv_config_log(const qv_config *c);

#endif
