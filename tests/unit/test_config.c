/*
 * test_config.c - configuration (cli/config), logging (core/log) and the
 * storage directory lock (storage/lockfile).
 *
 * The environment is always a constructed envp array, never the process
 * environment, so the tests do not depend on (or change) how they are run.
 * Temporary files live under /tmp (mkstemp/mkdtemp) and are removed by the
 * test that made them.  The lock tests fork: a child process is the only
 * honest "another Quiver process"; the child reports through its exit code
 * and never calls cmocka.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/config.h"
#include "core/log.h"
#include "storage/lockfile.h"

/* ---- helpers ---------------------------------------------------------- */

/* Writes text to a new /tmp file; returns its malloc'd path. */
static char *write_temp_yaml(const char *text) {
    char *path = strdup("/tmp/qv_test_config_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void drop_temp(char *path) {
    unlink(path);
    free(path);
}

/* Loads yaml text (may be NULL = no file) and env into a fresh config. */
static qv_rc load_text(qv_config *c, const char *yaml, char **envp, qv_err *err) {
    qv_config_defaults(c);
    if (!yaml) return qv_config_load(c, "/dev/null", envp, err);
    char *path = write_temp_yaml(yaml);
    qv_rc rc = qv_config_load(c, path, envp, err);
    drop_temp(path);
    return rc;
}

/* Returns qv_config_log's output (timestamps stripped), malloc'd. */
static char *dump_config(const qv_config *c) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    qv_log_set_fd(p[1]);
    qv_log_set_level(QV_LOG_LVL_DEBUG);
    qv_config_log(c);
    qv_log_set_level(QV_LOG_LVL_INFO);
    qv_log_set_fd(STDERR_FILENO);
    close(p[1]);
    static char raw[65536];
    size_t n = 0;
    ssize_t r;
    while ((r = read(p[0], raw + n, sizeof raw - 1 - n)) > 0) n += (size_t)r;
    close(p[0]);
    raw[n] = '\0';
    char *out = malloc(n + 1), *o = out;
    assert_non_null(out);
    for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n"))
        o += sprintf(o, "%s\n", strlen(line) > 24 ? line + 24 : line);
    *o = '\0';
    return out;
}

/* ---- defaults --------------------------------------------------------- */

static void test_defaults(void **state) {
    qv_config c;
    qv_config_defaults(&c);
    assert_string_equal(c.log_level, "INFO");
    assert_string_equal(c.storage.storage_path, "./storage");
    assert_string_equal(c.storage.snapshots_path, "./snapshots");
    assert_int_equal(c.storage.wal.wal_capacity_mb, 32);
    assert_int_equal(c.storage.wal.wal_segments_ahead, 0);
    assert_int_equal(c.storage.performance.max_search_threads, 0);
    assert_true(c.storage.optimizers.deleted_threshold == 0.2);
    assert_int_equal(c.storage.optimizers.vacuum_min_vector_number, 1000);
    assert_int_equal(c.storage.optimizers.default_segment_number, 0);
    assert_false(c.storage.optimizers.has_max_segment_size);
    assert_false(c.storage.optimizers.has_memmap_threshold);
    assert_true(c.storage.optimizers.has_indexing_threshold);
    assert_int_equal(c.storage.optimizers.indexing_threshold, 10000);
    assert_int_equal(c.storage.optimizers.flush_interval_sec, 5);
    assert_false(c.storage.optimizers.has_max_optimization_threads);
    assert_int_equal(c.storage.hnsw_index.m, 16);
    assert_int_equal(c.storage.hnsw_index.ef_construct, 100);
    assert_int_equal(c.storage.hnsw_index.full_scan_threshold, 10000);
    assert_int_equal(c.storage.hnsw_index.max_indexing_threads, 0);
    assert_false(c.storage.hnsw_index.on_disk);
    assert_false(c.storage.hnsw_index.has_payload_m);
    assert_true(c.storage.on_disk_payload);
    assert_string_equal(c.service.host, "0.0.0.0");
    assert_int_equal(c.service.http_port, 6333);
    assert_true(c.service.has_grpc_port);
    assert_int_equal(c.service.grpc_port, 6334);
    assert_int_equal(c.service.max_request_size_mb, 32);
    assert_int_equal(c.service.max_workers, 0);
    assert_true(c.service.enable_cors);
    assert_null(c.service.api_key);
    assert_null(c.service.read_only_api_key);
    assert_false(c.service.enable_tls);
    assert_false(c.cluster.enabled);
    assert_false(c.telemetry_disabled);
    qv_config_free(&c);
    qv_config_free(&c); /* idempotent */
}

/* The real config/config.yaml shipped with Qdrant 1.19 (abridged, but with
 * its _kb spellings and nulls) must load to the defaults. */
static void test_qdrant_default_file_is_identity(void **state) {
    const char *yaml = "log_level: INFO\n"
                       "storage:\n"
                       "  storage_path: ./storage\n"
                       "  snapshots_path: ./snapshots\n"
                       "  snapshots_config:\n"
                       "    snapshots_storage: local\n"
                       "  temp_path: null\n"
                       "  on_disk_payload: true\n"
                       "  update_concurrency: null\n"
                       "  wal:\n"
                       "    wal_capacity_mb: 32\n"
                       "    wal_segments_ahead: 0\n"
                       "  node_type: \"Normal\"\n"
                       "  performance:\n"
                       "    max_search_threads: 0\n"
                       "    optimizer_cpu_budget: 0\n"
                       "    update_rate_limit: null\n"
                       "  optimizers:\n"
                       "    deleted_threshold: 0.2\n"
                       "    vacuum_min_vector_number: 1000\n"
                       "    default_segment_number: 0\n"
                       "    max_segment_size_kb: null\n"
                       "    indexing_threshold_kb: 10000\n"
                       "    flush_interval_sec: 5\n"
                       "    max_optimization_threads: null\n"
                       "  hnsw_index:\n"
                       "    m: 16\n"
                       "    ef_construct: 100\n"
                       "    full_scan_threshold_kb: 10000\n"
                       "    max_indexing_threads: 0\n"
                       "    on_disk: false\n"
                       "    payload_m: null\n"
                       "  shard_transfer_method: null\n"
                       "  collection:\n"
                       "    replication_factor: 1\n"
                       "    write_consistency_factor: 1\n"
                       "    vectors:\n"
                       "      on_disk: null\n"
                       "    quantization: null\n"
                       "  max_collections: null\n"
                       "service:\n"
                       "  max_request_size_mb: 32\n"
                       "  max_workers: 0\n"
                       "  host: 0.0.0.0\n"
                       "  http_port: 6333\n"
                       "  grpc_port: 6334\n"
                       "  enable_cors: true\n"
                       "  enable_tls: false\n"
                       "  verify_https_client_certificate: false\n"
                       "cluster:\n"
                       "  enabled: false\n"
                       "  p2p:\n"
                       "    port: 6335\n"
                       "    enable_tls: false\n"
                       "  consensus:\n"
                       "    tick_period_ms: 100\n"
                       "    compact_wal_entries: 128\n"
                       "telemetry_disabled: false\n"
                       "per_collection_metrics_enabled: true\n"
                       "tls:\n"
                       "  cert: ./tls/cert.pem\n"
                       "  key: ./tls/key.pem\n"
                       "  ca_cert: ./tls/cacert.pem\n"
                       "  cert_ttl: 3600\n";
    qv_config c, d;
    qv_err err;
    assert_int_equal(load_text(&c, yaml, NULL, &err), QV_OK);
    qv_config_defaults(&d);
    /* Compare through the debug dump: it covers every key in one go and
     * is immune to struct padding. */
    char *dump_c = dump_config(&c), *dump_d = dump_config(&d);
    assert_string_equal(dump_c, dump_d);
    free(dump_c);
    free(dump_d);
    qv_config_free(&c);
    qv_config_free(&d);
}

/* ---- YAML ------------------------------------------------------------- */

static void test_yaml_overrides(void **state) {
    const char *yaml = "log_level: debug\n"
                       "unknown_top: [1, 2, {a: b}]\n"
                       "storage:\n"
                       "  storage_path: /data/q\n"
                       "  mystery: 3\n"
                       "  wal:\n"
                       "    wal_capacity_mb: 64\n"
                       "  optimizers:\n"
                       "    deleted_threshold: 0.5\n"
                       "    max_segment_size_kb: 200000\n"
                       "    indexing_threshold: ~\n"
                       "    flush_interval_sec: 1\n"
                       "    max_optimization_threads: 2\n"
                       "  hnsw_index:\n"
                       "    M: 32\n"
                       "    on_disk: yes\n"
                       "    payload_m: 8\n"
                       "  performance:\n"
                       "    optimizer_cpu_budget: -2\n"
                       "service:\n"
                       "  http_port: \"7000\"\n"
                       "  grpc_port: null\n"
                       "  enable_cors: off\n"
                       "  api_key: s3cret\n"
                       "cluster:\n";
    qv_config c;
    qv_err err;
    assert_int_equal(load_text(&c, yaml, NULL, &err), QV_OK);
    assert_string_equal(c.log_level, "debug");
    assert_string_equal(c.storage.storage_path, "/data/q");
    assert_int_equal(c.storage.wal.wal_capacity_mb, 64);
    assert_true(c.storage.optimizers.deleted_threshold == 0.5);
    assert_true(c.storage.optimizers.has_max_segment_size);
    assert_int_equal(c.storage.optimizers.max_segment_size, 200000);
    assert_false(c.storage.optimizers.has_indexing_threshold);
    assert_int_equal(c.storage.optimizers.flush_interval_sec, 1);
    assert_true(c.storage.optimizers.has_max_optimization_threads);
    assert_int_equal(c.storage.optimizers.max_optimization_threads, 2);
    assert_int_equal(c.storage.hnsw_index.m, 32);
    assert_true(c.storage.hnsw_index.on_disk);
    assert_int_equal(c.storage.hnsw_index.payload_m, 8);
    assert_int_equal(c.storage.performance.optimizer_cpu_budget, -2);
    assert_int_equal(c.service.http_port, 7000);
    assert_false(c.service.has_grpc_port);
    assert_false(c.service.enable_cors);
    assert_string_equal(c.service.api_key, "s3cret");
    /* untouched keys keep their defaults */
    assert_string_equal(c.storage.snapshots_path, "./snapshots");
    assert_int_equal(c.storage.hnsw_index.ef_construct, 100);
    qv_config_free(&c);
}

static void test_yaml_empty_and_quoted_null(void **state) {
    qv_config c;
    qv_err err;
    assert_int_equal(load_text(&c, "", NULL, &err), QV_OK);
    assert_int_equal(c.service.http_port, 6333);
    qv_config_free(&c);

    /* A quoted "null" is the string null, not YAML null. */
    assert_int_equal(load_text(&c, "service:\n  api_key: \"null\"\n", NULL, &err), QV_OK);
    assert_string_equal(c.service.api_key, "null");
    qv_config_free(&c);
}

/* Loads yaml expecting QV_EBADINPUT with every one of the needles in the
 * message. */
static void expect_yaml_error(const char *yaml, const char *needle1, const char *needle2) {
    qv_config c;
    qv_err err;
    qv_err_clear(&err);
    qv_config_defaults(&c);
    char *path = write_temp_yaml(yaml);
    qv_rc rc = qv_config_load(&c, path, NULL, &err);
    if (rc != QV_EBADINPUT || !strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        print_error("yaml %s -> rc %d msg '%s'\n", yaml, rc, err.msg);
    assert_int_equal(rc, QV_EBADINPUT);
    assert_non_null(strstr(err.msg, needle1));
    if (needle2) assert_non_null(strstr(err.msg, needle2));
    char where[300];
    snprintf(where, sizeof where, "%s:", path);
    assert_non_null(strstr(err.msg, where)); /* names the file */
    drop_temp(path);
    qv_config_free(&c);
}

static void test_yaml_type_errors(void **state) {
    expect_yaml_error("service:\n  http_port: abc\n", "service.http_port", ":2:");
    expect_yaml_error("service:\n  http_port: 65536\n", "service.http_port", "65535");
    expect_yaml_error("service:\n  http_port: -1\n", "service.http_port", NULL);
    expect_yaml_error("service:\n  http_port: 63.5\n", "service.http_port", NULL);
    expect_yaml_error("service:\n  http_port:\n", "service.http_port", "null");
    expect_yaml_error("service:\n  enable_cors: maybe\n", "service.enable_cors", "boolean");
    expect_yaml_error("storage:\n  wal:\n    wal_capacity_mb: 0\n", "storage.wal.wal_capacity_mb",
                      ":3:");
    expect_yaml_error("storage:\n  wal:\n    wal_capacity_mb: 1_000\n",
                      "storage.wal.wal_capacity_mb", NULL);
    expect_yaml_error("storage:\n  optimizers:\n    deleted_threshold: 1.5\n",
                      "storage.optimizers.deleted_threshold", NULL);
    expect_yaml_error("storage:\n  optimizers:\n    deleted_threshold: .nan\n",
                      "storage.optimizers.deleted_threshold", NULL);
    expect_yaml_error("storage:\n  optimizers:\n    flush_interval_sec: 0x10\n",
                      "storage.optimizers.flush_interval_sec", NULL);
    expect_yaml_error("storage:\n  storage_path: {a: 1}\n", "storage.storage_path", "mapping");
    expect_yaml_error("storage:\n  storage_path: \"\"\n", "storage.storage_path", "non-empty");
    expect_yaml_error("storage: 5\n", "storage", "mapping");
    expect_yaml_error("log_level: loud\n", "log_level", NULL);
    expect_yaml_error("- a\n- b\n", "top level", NULL);
    expect_yaml_error("service:\n  http_port: [1\n", "invalid YAML", NULL);
}

static void test_yaml_missing_file(void **state) {
    qv_config c;
    qv_err err;
    qv_config_defaults(&c);
    assert_int_equal(qv_config_load(&c, "/tmp/qv-definitely-missing/config.yaml", NULL, &err),
                     QV_EIO);
    assert_non_null(strstr(err.msg, "/tmp/qv-definitely-missing/config.yaml"));
    qv_config_free(&c);
}

/* yaml_path NULL reads config/config.yaml from the working directory when
 * it exists and silently skips it otherwise. */
static void test_default_config_path(void **state) {
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char dir[] = "/tmp/qv_test_cwd_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);

    qv_config c;
    qv_err err;
    qv_config_defaults(&c);
    assert_int_equal(qv_config_load(&c, NULL, NULL, &err), QV_OK);
    assert_int_equal(c.service.http_port, 6333);

    assert_int_equal(mkdir("config", 0755), 0);
    FILE *f = fopen("config/config.yaml", "w");
    assert_non_null(f);
    fputs("service:\n  http_port: 6400\n", f);
    fclose(f);
    assert_int_equal(qv_config_load(&c, NULL, NULL, &err), QV_OK);
    assert_int_equal(c.service.http_port, 6400);
    qv_config_free(&c);

    unlink("config/config.yaml");
    rmdir("config");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);
}

/* ---- environment ------------------------------------------------------ */

static void test_env_overrides_yaml(void **state) {
    const char *yaml = "log_level: WARN\n"
                       "service:\n  http_port: 7000\n"
                       "storage:\n  storage_path: /from/yaml\n"
                       "  optimizers:\n    flush_interval_sec: 9\n";
    char *envp[] = {
        "PATH=/usr/bin",
        "QDRANT_URL=http://x", /* single underscore: not ours */
        "QDRANT__SERVICE__HTTP_PORT=7333",
        "QDRANT__STORAGE__STORAGE_PATH=/data",
        "QDRANT__LOG_LEVEL=DEBUG",
        "QDRANT__STORAGE__WAL__WAL_CAPACITY_MB=64",
        "QDRANT__STORAGE__OPTIMIZERS__DELETED_THRESHOLD=0.3",
        "QDRANT__STORAGE__OPTIMIZERS__INDEXING_THRESHOLD_KB=20000",
        "QDRANT__STORAGE__OPTIMIZERS__MAX_OPTIMIZATION_THREADS=3",
        "QDRANT__SERVICE__ENABLE_CORS=false",
        "QDRANT__SERVICE__API_KEY=key=with=equals",
        "QDRANT__SERVICE__GRPC_PORT=null",
        "QDRANT__STORAGE__NOT_A_KEY=whatever",
        "QDRANT__STORAGE=ignored",
        NULL,
    };
    qv_config c;
    qv_err err;
    assert_int_equal(load_text(&c, yaml, envp, &err), QV_OK);
    assert_int_equal(c.service.http_port, 7333);
    assert_string_equal(c.storage.storage_path, "/data");
    assert_string_equal(c.log_level, "DEBUG");
    assert_int_equal(c.storage.wal.wal_capacity_mb, 64);
    assert_true(c.storage.optimizers.deleted_threshold == 0.3);
    assert_int_equal(c.storage.optimizers.indexing_threshold, 20000);
    assert_int_equal(c.storage.optimizers.max_optimization_threads, 3);
    assert_true(c.storage.optimizers.has_max_optimization_threads);
    assert_int_equal(c.storage.optimizers.flush_interval_sec, 9); /* from YAML */
    assert_false(c.service.enable_cors);
    assert_string_equal(c.service.api_key, "key=with=equals");
    assert_false(c.service.has_grpc_port);
    qv_config_free(&c);
}

static void test_env_case_insensitive(void **state) {
    char *envp[] = {"qdrant__service__http_port=7001", "Qdrant__Storage__Wal__Wal_Capacity_MB=5",
                    "QDRANT__service__HOST=127.0.0.1", NULL};
    qv_config c;
    qv_err err;
    assert_int_equal(load_text(&c, NULL, envp, &err), QV_OK);
    assert_int_equal(c.service.http_port, 7001);
    assert_int_equal(c.storage.wal.wal_capacity_mb, 5);
    assert_string_equal(c.service.host, "127.0.0.1");
    qv_config_free(&c);
}

static void expect_env_error(const char *entry, const char *key, const char *var) {
    char *envp[] = {(char *)entry, NULL};
    qv_config c;
    qv_err err;
    qv_err_clear(&err);
    assert_int_equal(load_text(&c, NULL, envp, &err), QV_EBADINPUT);
    assert_non_null(strstr(err.msg, key));
    assert_non_null(strstr(err.msg, var));
    assert_non_null(strstr(err.msg, "environment variable"));
    qv_config_free(&c);
}

static void test_env_type_errors(void **state) {
    expect_env_error("QDRANT__SERVICE__HTTP_PORT=abc", "service.http_port",
                     "QDRANT__SERVICE__HTTP_PORT");
    expect_env_error("QDRANT__SERVICE__HTTP_PORT= 7333", "service.http_port",
                     "QDRANT__SERVICE__HTTP_PORT");
    expect_env_error("QDRANT__SERVICE__HTTP_PORT=", "service.http_port",
                     "QDRANT__SERVICE__HTTP_PORT");
    expect_env_error("QDRANT__SERVICE__HTTP_PORT=null", "service.http_port",
                     "QDRANT__SERVICE__HTTP_PORT");
    expect_env_error("QDRANT__SERVICE__ENABLE_TLS=sure", "service.enable_tls",
                     "QDRANT__SERVICE__ENABLE_TLS");
    expect_env_error("QDRANT__STORAGE__OPTIMIZERS__DELETED_THRESHOLD=x",
                     "storage.optimizers.deleted_threshold", "DELETED_THRESHOLD");
    expect_env_error("QDRANT__STORAGE__WAL__WAL_CAPACITY_MB=-5", "storage.wal.wal_capacity_mb",
                     "WAL_CAPACITY_MB");
    expect_env_error("QDRANT__STORAGE__WAL__WAL_CAPACITY_MB=99999999999999999999",
                     "storage.wal.wal_capacity_mb", "WAL_CAPACITY_MB");
    expect_env_error("QDRANT__LOG_LEVEL=chatty", "log_level", "QDRANT__LOG_LEVEL");
}

/* A failed load leaves the previous configuration intact. */
static void test_failed_load_keeps_config(void **state) {
    char *good[] = {"QDRANT__SERVICE__HTTP_PORT=7100", NULL};
    char *bad[] = {"QDRANT__STORAGE__STORAGE_PATH=/x", "QDRANT__SERVICE__GRPC_PORT=99999", NULL};
    qv_config c;
    qv_err err;
    assert_int_equal(load_text(&c, NULL, good, &err), QV_OK);
    assert_int_equal(qv_config_load(&c, "/dev/null", bad, &err), QV_EBADINPUT);
    assert_int_equal(c.service.http_port, 7100);
    assert_string_equal(c.storage.storage_path, "./storage");
    qv_config_free(&c);
}

/* ---- command line ----------------------------------------------------- */

static void test_args(void **state) {
    char *argv[] = {"quiver",      "--config-path", "/etc/q.yaml",         "--uri=http://a:6335",
                    "--bootstrap", "http://b:6335", "--disable-telemetry", "--stacktrace",
                    NULL};
    qv_config c;
    qv_err err;
    const char *path = NULL;
    qv_config_defaults(&c);
    assert_int_equal(qv_config_parse_args(&c, 8, argv, &path, &err), QV_OK);
    assert_string_equal(path, "/etc/q.yaml");
    assert_string_equal(c.args.uri, "http://a:6335");
    assert_string_equal(c.args.bootstrap, "http://b:6335");
    assert_true(c.args.disable_telemetry);
    assert_false(c.args.exit_requested);

    /* args survive a load, and --disable-telemetry beats the file/env */
    char *envp[] = {"QDRANT__TELEMETRY_DISABLED=false", NULL};
    assert_int_equal(qv_config_load(&c, "/dev/null", envp, &err), QV_OK);
    assert_true(c.telemetry_disabled);
    assert_string_equal(c.args.uri, "http://a:6335");
    qv_config_free(&c);

    char *argv2[] = {"quiver", "--config-path=/x.yaml", NULL};
    qv_config_defaults(&c);
    assert_int_equal(qv_config_parse_args(&c, 2, argv2, &path, &err), QV_OK);
    assert_string_equal(path, "/x.yaml");
    assert_null(c.args.uri);
    qv_config_free(&c);
}

static void test_args_errors_and_version(void **state) {
    qv_config c;
    qv_err err;
    const char *path = "unchanged";
    qv_config_defaults(&c);
    char *unknown[] = {"quiver", "--frobnicate", NULL};
    assert_int_equal(qv_config_parse_args(&c, 2, unknown, &path, &err), QV_EBADINPUT);
    assert_non_null(strstr(err.msg, "--frobnicate"));
    char *missing[] = {"quiver", "--config-path", NULL};
    assert_int_equal(qv_config_parse_args(&c, 2, missing, &path, &err), QV_EBADINPUT);
    assert_non_null(strstr(err.msg, "--config-path"));
    char *positional[] = {"quiver", "serve", NULL};
    assert_int_equal(qv_config_parse_args(&c, 2, positional, &path, &err), QV_EBADINPUT);
    assert_string_equal(path, "unchanged");

    char *version[] = {"quiver", "--version", NULL};
    assert_int_equal(qv_config_parse_args(&c, 2, version, &path, &err), QV_OK);
    assert_true(c.args.exit_requested);
    assert_null(path);
    qv_config_free(&c);
}

/* ---- logging ---------------------------------------------------------- */

static void test_log_parse_level(void **state) {
    assert_int_equal(qv_log_parse_level("INFO"), QV_LOG_LVL_INFO);
    assert_int_equal(qv_log_parse_level("info"), QV_LOG_LVL_INFO);
    assert_int_equal(qv_log_parse_level("Debug"), QV_LOG_LVL_DEBUG);
    assert_int_equal(qv_log_parse_level("trace"), QV_LOG_LVL_TRACE);
    assert_int_equal(qv_log_parse_level("WARN"), QV_LOG_LVL_WARN);
    assert_int_equal(qv_log_parse_level("warning"), QV_LOG_LVL_WARN);
    assert_int_equal(qv_log_parse_level("error"), QV_LOG_LVL_ERROR);
    assert_int_equal(qv_log_parse_level("off"), QV_LOG_OFF);
    assert_int_equal(qv_log_parse_level(" debug "), QV_LOG_LVL_DEBUG);
    assert_int_equal(qv_log_parse_level("debug,actix=warn"), QV_LOG_LVL_DEBUG);
    assert_int_equal(qv_log_parse_level("actix=warn, trace"), QV_LOG_LVL_TRACE);
    assert_int_equal(qv_log_parse_level("actix=warn"), QV_LOG_LVL_INFO);
    assert_int_equal(qv_log_parse_level("loud"), QV_LOG_INVALID);
    assert_int_equal(qv_log_parse_level("infos"), QV_LOG_INVALID);
    assert_int_equal(qv_log_parse_level(""), QV_LOG_INVALID);
    assert_int_equal(qv_log_parse_level(NULL), QV_LOG_INVALID);
}

static int side_effects;

static int bump(void) {
    return ++side_effects;
}

/* Reads whatever is in the pipe's read end (non-blocking). */
static size_t drain(int fd, char *buf, size_t cap) {
    ssize_t n = read(fd, buf, cap - 1);
    if (n < 0) n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

static void test_log_format_and_levels(void **state) {
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    qv_log_set_fd(p[1]);
    qv_log_set_level(QV_LOG_LVL_INFO);
    char buf[8192];

    QV_LOG_INFO("hello %d", 42);
    size_t n = drain(p[0], buf, sizeof buf);
    /* 2026-11-25T20:01:02.123Z  INFO quiver: hello 42 */
    assert_true(n > 26);
    assert_int_equal(buf[4], '-');
    assert_int_equal(buf[10], 'T');
    assert_int_equal(buf[19], '.');
    assert_int_equal(buf[23], 'Z');
    assert_string_equal(buf + 24, "  INFO quiver: hello 42\n");

    QV_LOG_ERROR("bad");
    drain(p[0], buf, sizeof buf);
    assert_string_equal(buf + 24, " ERROR quiver: bad\n");

    /* disabled: nothing written, arguments not evaluated */
    side_effects = 0;
    QV_LOG_DEBUG("x %d", bump());
    assert_int_equal(side_effects, 0);
    assert_int_equal(drain(p[0], buf, sizeof buf), 0);

    /* truncation keeps one line */
    char big[QV_LOG_LINE_MAX * 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    QV_LOG_WARN("%s", big);
    n = drain(p[0], buf, sizeof buf);
    assert_int_equal(n, QV_LOG_LINE_MAX - 1);
    assert_int_equal(buf[n - 1], '\n');
    assert_memory_equal(buf + n - 4, "...", 3);

    /* the config dump hides secrets */
    qv_config c;
    qv_err err;
    char *envp[] = {"QDRANT__SERVICE__API_KEY=topsecret", NULL};
    assert_int_equal(load_text(&c, NULL, envp, &err), QV_OK);
    qv_log_set_level(QV_LOG_LVL_DEBUG);
    qv_config_log(&c);
    drain(p[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "DEBUG config: service.http_port = 6333\n"));
    assert_non_null(strstr(buf, "service.api_key = <set>"));
    assert_null(strstr(buf, "topsecret"));
    qv_config_free(&c);

    qv_log_set_level(QV_LOG_LVL_INFO);
    qv_log_set_fd(STDERR_FILENO);
    close(p[0]);
    close(p[1]);
}

/* ---- storage lock ----------------------------------------------------- */

/* In a child: tries to lock dir; exits 0 if the outcome matches `expect`
 * (and, for a refusal, the message names the holder's pid). */
static int lock_in_child(const char *dir, qv_rc expect, pid_t holder) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd;
        qv_err err;
        qv_rc rc = qv_storage_lock(dir, &fd, &err);
        if (rc != expect) _exit(1);
        if (rc == QV_OK) {
            qv_storage_unlock(fd);
            _exit(0);
        }
        char want[64];
        snprintf(want, sizeof want, "(pid %ld)", (long)holder);
        _exit(strstr(err.msg, want) && strstr(err.msg, dir) && fd == -1 ? 0 : 2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_storage_lock(void **state) {
    char base[] = "/tmp/qv_test_lock_XXXXXX";
    assert_non_null(mkdtemp(base));
    char dir[256];
    snprintf(dir, sizeof dir, "%s/a/b/storage", base); /* mkdir -p */

    int fd;
    qv_err err;
    assert_int_equal(qv_storage_lock(dir, &fd, &err), QV_OK);
    assert_true(fd >= 0);

    /* held: another process is refused, and so is a second open here */
    assert_int_equal(lock_in_child(dir, QV_EUNAVAILABLE, getpid()), 0);
    int fd2;
    assert_int_equal(qv_storage_lock(dir, &fd2, &err), QV_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "already in use"));
    assert_int_equal(fd2, -1);

    qv_storage_unlock(fd);
    assert_int_equal(lock_in_child(dir, QV_OK, 0), 0);
    assert_int_equal(qv_storage_lock(dir, &fd, &err), QV_OK);
    qv_storage_unlock(fd);
    qv_storage_unlock(-1); /* no-op */

    /* a file where the directory should be */
    char file[300];
    snprintf(file, sizeof file, "%s/plain", base);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    char under[320];
    snprintf(under, sizeof under, "%s/sub", file);
    assert_int_equal(qv_storage_lock(under, &fd, &err), QV_EIO);
    assert_int_equal(qv_storage_lock("", &fd, &err), QV_EBADINPUT);

    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, QV_STORAGE_LOCK_NAME);
    unlink(path);
    unlink(file);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/a/b", base);
    rmdir(path);
    snprintf(path, sizeof path, "%s/a", base);
    rmdir(path);
    assert_int_equal(rmdir(base), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_qdrant_default_file_is_identity),
        cmocka_unit_test(test_yaml_overrides),
        cmocka_unit_test(test_yaml_empty_and_quoted_null),
        cmocka_unit_test(test_yaml_type_errors),
        cmocka_unit_test(test_yaml_missing_file),
        cmocka_unit_test(test_default_config_path),
        cmocka_unit_test(test_env_overrides_yaml),
        cmocka_unit_test(test_env_case_insensitive),
        cmocka_unit_test(test_env_type_errors),
        cmocka_unit_test(test_failed_load_keeps_config),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_args_errors_and_version),
        cmocka_unit_test(test_log_parse_level),
        cmocka_unit_test(test_log_format_and_levels),
        cmocka_unit_test(test_storage_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
