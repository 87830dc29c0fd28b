#!/bin/sh
# run.sh - CI stage: the Rust gRPC acceptance suite (qdrant-client crate).
#
# Usage:  cd tests/rust && QUIVER_BIN=/path/to/quiver ./run.sh [cargo test args]
#
# Builds the test crate with the committed Cargo.lock (--locked; crates come
# from crates.io through the default ~/.cargo caches, the target dir is
# tests/rust/target) and runs `cargo test`.  Every test starts its own
# server from $QUIVER_BIN (default ../../build/release/quiver; a relative
# path is tried from the current directory, then from the repository root),
# so tests run in parallel.  CARGO_BUILD_JOBS / RUST_TEST_THREADS default to 2.
# Exits non-zero when the build or any test fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

# A relative QUIVER_BIN is taken relative to the current directory, else to
# the repository root (as tests/py does).
: "${QUIVER_BIN:=$root/build/release/quiver}"
case "$QUIVER_BIN" in
/*) ;;
*)
    if [ -e "$QUIVER_BIN" ]; then
        QUIVER_BIN="$(cd "$(dirname "$QUIVER_BIN")" && pwd)/$(basename "$QUIVER_BIN")"
    else
        QUIVER_BIN="$root/$QUIVER_BIN"
    fi
    ;;
esac
export QUIVER_BIN
cd "$here"
if [ ! -x "$QUIVER_BIN" ]; then
    echo "run.sh: server binary $QUIVER_BIN not found or not executable (set QUIVER_BIN)" >&2
    exit 2
fi

: "${CARGO_BUILD_JOBS:=2}"
: "${RUST_TEST_THREADS:=2}"
export CARGO_BUILD_JOBS RUST_TEST_THREADS
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

start=$(date +%s)
cargo fetch --locked
cargo build --locked --tests
built=$(date +%s)
echo "run.sh: build took $((built - start)) s"

status=0
cargo test --locked -- "$@" || status=$?
echo "run.sh: tests took $(($(date +%s) - built)) s (exit $status)"
exit $status
