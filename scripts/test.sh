#!/usr/bin/env bash
# Builds Quiver and runs every test suite (see README "Tests").  Installs
# what is missing first: Debian packages, a virtualenv in .venv with the
# pinned Python client, node_modules in tests/js from package-lock.json.
#
# Environment knobs: FUZZ_SECONDS (default 15 per fuzz target),
# QV_SKIP_VALGRIND=1, QV_SKIP_FUZZ=1 (for quick local runs; CI runs all).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
passed=0
failed=0
stage() { echo; echo "=== $* ==="; }
ok() { passed=$((passed + 1)); }

scripts/deps.sh --test

stage "format check"
make -s format-check && ok

stage "release build + unit tests"
make -s -j"$JOBS" BUILD=release all
make -s -j"$JOBS" BUILD=release unit && ok

stage "ASan+UBSan build + unit tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
make -s -j"$JOBS" BUILD=asan all
make -s -j"$JOBS" BUILD=asan unit && ok

stage "ThreadSanitizer build + unit tests (concurrency)"
TSAN_OPTIONS=halt_on_error=1 make -s -j"$JOBS" BUILD=tsan unit && ok

if [ "${QV_SKIP_VALGRIND:-0}" != 1 ]; then
  stage "valgrind on unit tests"
  make -s BUILD=release valgrind && ok
else
  echo "valgrind skipped: QV_SKIP_VALGRIND=1"
fi

if [ "${QV_SKIP_FUZZ:-0}" != 1 ]; then
  stage "fuzz targets (${FUZZ_SECONDS:-15}s each)"
  make -s -j"$JOBS" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}" && ok
else
  echo "fuzzing skipped: QV_SKIP_FUZZ=1"
fi

stage "Python client suite (qdrant-client, pytest)"
if [ ! -x .venv/bin/pytest ] || ! cmp -s tests/py/requirements.txt .venv/.requirements; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/py/requirements.txt
  cp tests/py/requirements.txt .venv/.requirements
fi
QUIVER_BIN="$ROOT/build/release/quiver" .venv/bin/pytest -q tests/py && ok

if [ -f tests/js/package.json ]; then
  stage "JavaScript client suite (@qdrant/js-client-rest, node:test)"
  (cd tests/js && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
     QUIVER_BIN="$ROOT/build/release/quiver" node --test) && ok
fi

echo
echo "test suites: $passed passed, $failed failed"
