/*
 * main.c - the quiver server: configuration, the storage lock, the
 * catalog, the API servers, and a clean stop on SIGTERM/SIGINT.
 *
 * Start-up order matters: the storage lock is taken before anything reads
 * the storage (a second instance must refuse before it replays a WAL the
 * first one is writing), the catalog is loaded (WAL replay) before the
 * port opens, so the first request sees recovered data.
 *
 * Shutdown: the signal handler only writes to a self-pipe; the main thread
 * then stops the HTTP server (in-flight requests finish), closes the
 * catalog (which fsyncs the WALs and checkpoints every collection),
 * releases the lock and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/grpc/grpc_server.h"
#include "api/rest/rest.h"
#include "cli/config.h"
#include "collection/catalog.h"
#include "core/distance.h"
#include "core/log.h"
#include "core/pool.h"
#include "storage/lockfile.h"

extern char **environ;

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    char c = (char)sig;
    ssize_t r = write(stop_pipe[1], &c, 1);
    (void)r;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int wait_for_stop(void) {
    char c = 0;
    for (;;) {
        ssize_t r = read(stop_pipe[0], &c, 1);
        if (r == 1) return c;
        if (r < 0 && errno == EINTR) continue;
        return 0;
    }
}

static int load_config(qv_config *cfg, int argc, char **argv) {
    qv_err err;
    const char *path = NULL;
    qv_config_defaults(cfg);
    if (qv_config_parse_args(cfg, argc, argv, &path, &err) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err.msg);
        return 2;
    }
    if (cfg->args.exit_requested) return 0;
    if (qv_config_load(cfg, path, environ, &err) != QV_OK) {
        fprintf(stderr, "quiver: configuration error: %s\n", err.msg);
        return 2;
    }
    return -1;
}

/* The API servers: gRPC first, so that once REST answers /readyz both are
 * up (test harnesses and orchestrators poll REST only). */
typedef struct servers {
    qv_grpc_server *grpc;
    qv_rest_server *rest;
    qv_auth *auth; /* API keys, shared by both; NULL = none */
} servers;

static int start_servers(qv_config *cfg, qv_catalog *cat, servers *sv) {
    qv_err err;
    bool oom = false;
    sv->auth = qv_auth_new(cfg->service.api_key, cfg->service.read_only_api_key, &oom);
    if (oom) {
        QV_LOG_ERROR("out of memory");
        return 1;
    }
    if (sv->auth) QV_LOG_INFO("API keys are required (service.api_key / read_only_api_key)");
    if (cfg->service.jwt_rbac)
        QV_LOG_WARN("service.jwt_rbac is not supported yet: only the API keys themselves are "
                    "accepted, JWTs are refused");
    qv_grpc_opts gopts = {cfg->service.host, cfg->service.grpc_port, sv->auth};
    /* grpc_port: null disables gRPC, as in Qdrant */
    if (cfg->service.has_grpc_port && qv_grpc_start(&gopts, cat, &sv->grpc, &err) != QV_OK) {
        QV_LOG_ERROR("cannot start the gRPC server on %s:%u: %s", cfg->service.host, gopts.port,
                     err.msg);
        return 1;
    }
    qv_rest_opts ropts = {cfg->service.host, cfg->service.http_port,
                          (size_t)cfg->service.max_request_size_mb << 20, sv->auth};
    if (qv_rest_start(&ropts, cat, &sv->rest, &err) != QV_OK) {
        QV_LOG_ERROR("cannot start the REST server on %s:%u: %s", cfg->service.host,
                     cfg->service.http_port, err.msg);
        qv_grpc_stop(sv->grpc);
        return 1;
    }
    return 0;
}

static int serve(qv_config *cfg) {
    qv_err err;
    int lockfd = -1;
    if (qv_storage_lock(cfg->storage.storage_path, &lockfd, &err) != QV_OK) {
        QV_LOG_ERROR("%s", err.msg);
        return 1;
    }
    qv_kernels_init();
    QV_LOG_INFO("distance kernels: %s", qv_kernels_best()->name);
    qv_catalog_opts copts = {cfg->storage.storage_path, cfg->storage.optimizers.flush_interval_sec,
                             cfg->storage.wal.wal_capacity_mb};
    qv_catalog *cat = NULL;
    if (qv_catalog_open(&copts, &cat, &err) != QV_OK) {
        QV_LOG_ERROR("cannot open storage %s: %s", cfg->storage.storage_path, err.msg);
        qv_storage_unlock(lockfd);
        return 1;
    }
    servers sv = {NULL, NULL, NULL};
    int rc = start_servers(cfg, cat, &sv);
    if (rc == 0) {
        QV_LOG_INFO("Quiver %s (Qdrant API 1.19) listening on %s: REST %u, gRPC %s, storage %s",
                    QV_VERSION, cfg->service.host, cfg->service.http_port,
                    sv.grpc ? "on" : "disabled", cfg->storage.storage_path);
        int sig = wait_for_stop();
        QV_LOG_INFO("signal %d: stopping", sig);
        qv_rest_stop(sv.rest);
        qv_grpc_stop(sv.grpc);
    }
    qv_auth_free(sv.auth);
    qv_catalog_close(cat);
    qv_pool_search_shutdown();
    qv_storage_unlock(lockfd);
    if (rc == 0) QV_LOG_INFO("stopped cleanly");
    return rc;
}

int main(int argc, char **argv) {
    if (pipe(stop_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    install_signals();
    qv_config cfg;
    int rc = load_config(&cfg, argc, argv);
    if (rc >= 0) {
        qv_config_free(&cfg);
        return rc;
    }
    qv_log_level lvl = qv_log_parse_level(cfg.log_level);
    qv_log_set_level(lvl == QV_LOG_INVALID ? QV_LOG_LVL_INFO : lvl);
    rc = serve(&cfg);
    qv_config_free(&cfg);
    return rc;
}
