#!/bin/sh
# filter_run.sh - the filtered-search benchmark (issue 5), one command.
# Quiver's release server end to end (bench/loadgen.c, keep-alive REST) and qdrant-edge-py (Qdrant's
# engine in-process, PyPI) on man-lsa-384 (real vectors, natural payload + generated fields) and
# bench/gen.py's synthetic 100k x 1536, with keyword filters at 1/10/50% selectivity, an integer range at
# the same selectivities, a geo radius (~10%) and a keyword correlated with the vectors' clusters:
# recall@10 against numpy's exact filtered top-10 and QPS over an hnsw_ef curve, the same filtered
# queries with params.exact=true, and the unfiltered curve of the same queries.
# Writes docs/benchmarks-filter.json, docs/benchmarks-filter.md and docs/benchmarks-filter.png.
# A report, never a test.  Run it on a quiet machine (check `uptime`); about 20 minutes on 2 cores.
#
#   bench/filter_run.sh                            the full run
#   BENCH_FILTER_QUICK=1 bench/filter_run.sh       a quick development run (man-lsa-384 only, 100 queries,
#                                                  3 ef values; labelled as such in the report)
#   BENCH_FILTER_ENGINES=quiver bench/filter_run.sh  without the qdrant-edge peer
#   B=build/mine bench/filter_run.sh               the server is built in $B (default build/release)
# Other knobs (BENCH_FILTER_DATASETS, _N, _QUERIES, _EFS, _FILTERS, _CONNS, _SECONDS, _BUDGET,
# _EDGE_PAYLOAD_HNSW, _OUT, _MD): bench/filter_bench.py.
#
# The server runs from a private copy (bench/out/quiver-filter-under-test): a rebuild by someone else
# during the run cannot change the code under test.
set -eu
cd "$(dirname "$0")/.."
B="${B:-build/release}"
mkdir -p bench/out
echo "== building the server ($B/quiver) and loadgen" >&2
make -s -j2 BUILD=release B="$B" GEN="$B-gen" "$B/quiver"
cp "$B/quiver" bench/out/quiver-filter-under-test
cc -O2 -Wall -pthread bench/loadgen.c -o bench/out/loadgen-filter
VENV=bench/.venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# numpy and matplotlib as the other benchmarks install them; the peer from bench/requirements-filter.txt
for pkg in numpy matplotlib; do
    if ! "$VENV/bin/python" -c "import $pkg" 2>/dev/null; then
        "$VENV/bin/pip" install -q "$pkg" >>bench/out/filter-pip.log 2>&1 ||
            echo "filter_run.sh: pip install $pkg failed (see bench/out/filter-pip.log)" >&2
    fi
done
ENGINES=quiver
if ! "$VENV/bin/python" -c "import qdrant_edge" 2>/dev/null; then
    "$VENV/bin/pip" install -q -r bench/requirements-filter.txt >>bench/out/filter-pip.log 2>&1 ||
        echo "filter_run.sh: qdrant-edge-py did not install (see bench/out/filter-pip.log); continuing without it" >&2
fi
"$VENV/bin/python" -c "import qdrant_edge" 2>/dev/null && ENGINES="$ENGINES,qdrant-edge"
echo "load: $(uptime)" >&2
export BENCH_FILTER_QUIVER="$PWD/bench/out/quiver-filter-under-test"
export BENCH_FILTER_LOADGEN="$PWD/bench/out/loadgen-filter"
BENCH_FILTER_ENGINES="${BENCH_FILTER_ENGINES:-$ENGINES}" exec "$VENV/bin/python" bench/filter_bench.py
