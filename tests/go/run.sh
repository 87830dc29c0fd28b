#!/usr/bin/env bash
# run.sh - the Go gRPC acceptance stage (issue 3): `cd tests/go && ./run.sh`
# with QUIVER_BIN naming the server binary (default ../../build/release/quiver).
#
# Design: 1) fetch the pinned modules through the Go module proxy into the
# default module cache (go mod download); 2) check gofmt; 3) run this
# module's own suite (grpcapi: the official Go client against a Quiver it
# starts itself) with `go test -count=1 -v ./...`; 4) run the go-client's own
# qdrant_test package from the module cache against a Quiver started by
# cmd/clientsuite, with testcontainers-go replaced by ./containerstub (see
# go.mod), judging failures against known_failures.txt.  Exits non-zero if
# any step fails.  Nothing here is timing-sensitive.
set -u
cd "$(dirname "$0")"
HERE=$(pwd)
ROOT=$(cd ../.. && pwd)

if ! command -v go >/dev/null 2>&1; then
  echo "run.sh: SKIP: no 'go' command on PATH (the Go gRPC acceptance needs Go >= 1.24)"
  exit 0
fi
# Never let go.mod's go line trigger a toolchain download.
export GOTOOLCHAIN=local

BIN=${QUIVER_BIN:-$ROOT/build/release/quiver}
case "$BIN" in
  /*) ;;
  *) if [ -e "$BIN" ]; then BIN="$HERE/$BIN"; else BIN="$ROOT/$BIN"; fi ;;
esac
if [ ! -x "$BIN" ]; then
  echo "run.sh: FAIL: quiver binary not found or not executable: $BIN (set QUIVER_BIN or run make)"
  exit 1
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
export QUIVER_BIN="$BIN"
echo "run.sh: go $(go env GOVERSION), quiver $QUIVER_BIN"

echo "run.sh: go mod download"
if ! go mod download; then
  echo "run.sh: FAIL: go mod download"
  exit 1
fi

status=0
unformatted=$(gofmt -l . 2>&1)
if [ -n "$unformatted" ]; then
  echo "run.sh: FAIL: gofmt -l reports:"
  echo "$unformatted"
  status=1
fi

echo "run.sh: own suite: go test -count=1 -v ./..."
if go test -count=1 -v ./...; then
  own=ok
else
  own=FAILED
  status=1
fi

echo "run.sh: go-client's own qdrant_test package against Quiver"
if go run ./cmd/clientsuite -known known_failures.txt; then
  cs=ok
else
  cs=FAILED
  status=1
fi

echo "run.sh: own suite $own; go-client suite $cs"
exit $status
