#!/usr/bin/env bash
# Builds Quiver and runs every test suite (see README "Tests").  Installs
# what is missing first: Debian packages, a virtualenv in .venv with the
# pinned Python client, node_modules in tests/js and tests/js-grpc from their
# package-lock.json, crates (tests/rust, Cargo.lock) and Go modules (tests/go,
# go.sum) into the default Cargo and Go caches.
#
# Every stage runs even when an earlier one failed, so one run reports all
# failures; the script exits non-zero if any stage failed.
#
# Environment knobs: FUZZ_SECONDS (default 15 per fuzz target),
# QV_SKIP_VALGRIND=1, QV_SKIP_FUZZ=1 (for quick local runs; CI runs all).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
passed=0
failed=0
failures=()

# run NAME CMD...: one stage; its result is counted, never fatal.
run() {
    local name=$1
    shift
    echo
    echo "=== $name ==="
    local t0=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "*** stage failed: $name"
    fi
    echo "--- $name: $((SECONDS - t0)) s"
}

skip() { echo; echo "=== $1 === skipped: $2"; }

scripts/deps.sh --test || exit 1

run "format check" make -s format-check
run "release build" make -s -j"$JOBS" BUILD=release all
run "release unit tests" make -s -j"$JOBS" BUILD=release unit
run "ASan+UBSan build" make -s -j"$JOBS" BUILD=asan all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 run "ASan+UBSan unit tests" \
    make -s -j"$JOBS" BUILD=asan unit
run "TSan build" make -s -j"$JOBS" BUILD=tsan all
TSAN_OPTIONS=halt_on_error=1 run "TSan unit tests" make -s -j"$JOBS" BUILD=tsan unit

if [ "${QV_SKIP_VALGRIND:-0}" != 1 ]; then
    run "valgrind on unit tests" make -s BUILD=release valgrind
else
    skip "valgrind on unit tests" "QV_SKIP_VALGRIND=1"
fi

if [ "${QV_SKIP_FUZZ:-0}" != 1 ]; then
    run "fuzz targets (${FUZZ_SECONDS:-15}s each)" \
        make -s -j"$JOBS" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
else
    skip "fuzz targets" "QV_SKIP_FUZZ=1"
fi

setup_venv() {
    if [ ! -x .venv/bin/pytest ] || ! cmp -s tests/py/requirements.txt .venv/.requirements; then
        python3 -m venv .venv &&
            .venv/bin/pip install -q --disable-pip-version-check -r tests/py/requirements.txt &&
            cp tests/py/requirements.txt .venv/.requirements
    fi
}
run "Python virtualenv (tests/py/requirements.txt)" setup_venv
QUIVER_BIN="$ROOT/build/release/quiver" run "Python client suite (qdrant-client, pytest)" \
    .venv/bin/pytest -q tests/py
QUIVER_PREFER_GRPC=1 QUIVER_BIN="$ROOT/build/release/quiver" \
    run "Python client suite again over gRPC (prefer_grpc=True)" .venv/bin/pytest -q -rs tests/py
run "gRPC .proto files match Qdrant's wire contract" .venv/bin/pytest -q tests/proto
QUIVER_BIN="$ROOT/build/release/quiver" run "gRPC API through qdrant-client (prefer_grpc) and grpcio" \
    .venv/bin/pytest -q tests/grpc
QUIVER_BIN="$ROOT/build/tsan/quiver" run "server under ThreadSanitizer, many client threads" \
    .venv/bin/pytest -q tests/tsan

# node_suite DIR: npm ci from the lock file when needed, then node:test.
node_suite() {
    (cd "$1" || exit 1
     if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
         npm ci --no-audit --no-fund --loglevel=error || exit 1
     fi
     QUIVER_BIN="$ROOT/build/release/quiver" node --test)
}
run "JavaScript REST client suite (@qdrant/js-client-rest, node:test)" node_suite tests/js
run "JavaScript gRPC client suite (@qdrant/js-client-grpc, node:test)" node_suite tests/js-grpc
QUIVER_BIN="$ROOT/build/release/quiver" run "Rust gRPC client suite (qdrant-client crate, cargo test)" \
    tests/rust/run.sh
QUIVER_GO_STRICT=1 QUIVER_BIN="$ROOT/build/release/quiver" \
    run "Go gRPC client suite (github.com/qdrant/go-client, and its own qdrant_test package)" tests/go/run.sh

echo
for f in "${failures[@]}"; do echo "failed stage: $f"; done
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
