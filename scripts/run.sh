#!/usr/bin/env bash
# Builds Quiver and runs the server in the foreground with storage in
# ./storage (override with QDRANT__STORAGE__STORAGE_PATH or --config-path).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)" BUILD=release
exec build/release/quiver "$@"
