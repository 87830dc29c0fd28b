#!/usr/bin/env bash
# bench/run.sh - the foundation benchmark, one command (a report, not a test).
#
# Builds the server (make BUILD=release) and the bench tools (loadgen,
# membw), sets up bench/.venv (numpy, faiss-cpu from PyPI; faiss is optional),
# then runs bench/bench.py, which starts servers on temporary storage on free
# loopback ports and writes bench/out/report.json and docs/benchmarks.md.
# About 10-15 minutes on the 2-core machine.  Sizes can be reduced for a quick
# try: BENCH_N384=20000 BENCH_N1536=10000 BENCH_SEARCH_SECONDS=2 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=bench/out
mkdir -p "$OUT"

echo "== building the server"
make -s -j2 BUILD=release build/release/quiver

echo "== building loadgen and membw"
cc -O2 -Wall -pthread bench/loadgen.c -o "$OUT/loadgen"
cc -O3 -march=native -Wall -pthread bench/membw.c -o "$OUT/membw"

echo "== python venv (bench/.venv)"
PYTHON=${PYTHON:-python3}
if [ ! -x bench/.venv/bin/python ]; then
    "$PYTHON" -m venv bench/.venv
fi
VPY=bench/.venv/bin/python
if ! "$VPY" -c 'import numpy' 2>/dev/null; then
    "$VPY" -m pip install -q --disable-pip-version-check numpy
fi
# grpcio and the message classes for bench/grpcload.py: the same client pin as tests/py
if ! "$VPY" -c 'import grpc, qdrant_client' 2>/dev/null; then
    "$VPY" -m pip install -q --disable-pip-version-check "$(grep '^qdrant-client' tests/py/requirements.txt)" ||
        echo "!! qdrant-client could not be installed (continuing without the gRPC measurements)"
fi
if ! "$VPY" -c 'import faiss' 2>/dev/null; then
    if ! "$VPY" -m pip install -q --disable-pip-version-check faiss-cpu 2>"$OUT/faiss-install.log"; then
        echo "!! faiss-cpu could not be installed (continuing without the faiss peer):"
        tail -5 "$OUT/faiss-install.log"
    fi
fi

echo "== running (log: $OUT/bench.log)"
"$VPY" bench/bench.py 2>&1 | tee "$OUT/bench.log"
