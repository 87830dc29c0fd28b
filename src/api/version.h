/*
 * version.h - the versions Quiver reports.
 *
 * QV_QDRANT_API_VERSION is the Qdrant release whose API Quiver implements;
 * clients compare it with their own version (same major, minor within one),
 * so it goes where Qdrant puts its version (GET /, telemetry, gRPC health
 * check).  QV_VERSION is Quiver's own, reported in extra fields.
 * QV_COMMIT is the 40-hex-digit commit Qdrant reports; the build may
 * override it with -DQV_COMMIT="...".
 */
#ifndef QV_API_VERSION_H
#define QV_API_VERSION_H

#define QV_VERSION            "0.1.0"
#define QV_QDRANT_API_VERSION "1.19.0"

#ifndef QV_COMMIT
#define QV_COMMIT "0000000000000000000000000000000000000000"
#endif

#endif
