#!/bin/sh
# hnsw_run.sh - the same-run peer comparison of the HNSW index (issue 4, "Benchmark"):
# Quiver's index in-process against hnswlib, faiss-cpu (IndexHNSWFlat) and usearch from PyPI,
# on man-lsa-384 and bench/gen.py's synthetic 100k x 384 and 100k x 1536, M=16, ef_construct=100;
# and, in the same run, Quiver's quantized search (int8 and binary codes + float rescoring) and its
# resident memory against the f32 figures (bench/hnsw_peers.py, "Quantization"): RssAnon and RssFile of
# search-only processes, and each code set's search-only process again inside a cgroup v1 memory group
# capped at 0.4x the f32 process's VmRSS (needs root and /sys/fs/cgroup/memory; skipped, with the reason
# in the report, otherwise; BENCH_HNSW_CAP=none skips it, =0.5 changes the cap).
# Writes bench/out/hnsw-report.json, docs/benchmarks-hnsw.md and docs/benchmarks-hnsw.png.
# A report, never a test.  Run it on a quiet machine (check `uptime`); about 20 minutes on 2 cores.
#
#   bench/hnsw_run.sh                       the full run
#   BENCH_HNSW_N=20000 bench/hnsw_run.sh    a quick development run (labelled as such in the report)
#   BENCH_HNSW_QUANT=none bench/hnsw_run.sh  without the quantization part (or e.g. =int8,binary)
#   B=build/mine bench/hnsw_run.sh          the binary goes to $B/hnsw_bench (default build/release)
# Other knobs (BENCH_HNSW_DATASETS, _ENGINES, _THREADS, _PASSES, _BUDGET, _OUT, _MD, _QUANT, _CAP,
# _CGROUP): bench/hnsw_peers.py.
#
# The worker is compiled from the index's own sources with the release flags of the Makefile, not
# linked against libquiver.a, so a run does not depend on the rest of the tree building.
set -eu
cd "$(dirname "$0")/.."
B="${B:-build/release}"
mkdir -p "$B"
cc -std=c11 -D_GNU_SOURCE -pthread -Isrc -g -O2 -fno-strict-aliasing -Wall -Wextra -Werror \
    -Wno-unused-parameter -Wno-format-truncation \
    bench/hnsw_bench.c src/index/hnsw*.c src/index/qcodes.c src/core/arena.c src/core/crc32c.c src/core/elem.c \
    src/core/distance*.c src/core/quant*.c src/core/err.c -lm -o "$B/hnsw_bench"
export BENCH_HNSW_QUIVER="$PWD/$B/hnsw_bench"
VENV=bench/.venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
mkdir -p bench/out
for pkg in numpy hnswlib faiss-cpu usearch matplotlib; do
    mod=$pkg
    [ "$pkg" = faiss-cpu ] && mod=faiss
    if ! "$VENV/bin/python" -c "import $mod" 2>/dev/null; then
        "$VENV/bin/pip" install -q "$pkg" >>bench/out/hnsw-pip.log 2>&1 ||
            echo "hnsw_run.sh: pip install $pkg failed (see bench/out/hnsw-pip.log); continuing without it" >&2
    fi
done
ENGINES=quiver
for e in hnswlib faiss usearch; do
    "$VENV/bin/python" -c "import $e" 2>/dev/null && ENGINES="$ENGINES,$e"
done
echo "load: $(uptime)" >&2
BENCH_HNSW_ENGINES="${BENCH_HNSW_ENGINES:-$ENGINES}" exec "$VENV/bin/python" bench/hnsw_peers.py
