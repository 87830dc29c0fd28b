#!/usr/bin/env bash
# Runs unit test binaries under valgrind, as many at once as there are cores
# (valgrind runs a program on one core, and this stage is the longest of the
# test run), each one's output kept apart and printed whole, in the order
# given, when it is done.  Exits non-zero if any failed.
#   scripts/valgrind_units.sh build/release/tests/test_a build/release/tests/test_b ...
set -u
jobs=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run_one() { # index binary
    if QV_UNDER_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$2" > "$out/$1.log" 2>&1; then
        echo ok > "$out/$1.rc"
    else
        echo failed > "$out/$1.rc"
    fi
}
i=0
for t in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_one "$i" "$t" &
    i=$((i + 1))
done
wait
fail=0
i=0
for t in "$@"; do
    echo "== valgrind $t"
    cat "$out/$i.log"
    if [ "$(cat "$out/$i.rc" 2>/dev/null)" != ok ]; then
        echo "** $t failed"
        fail=1
    fi
    i=$((i + 1))
done
exit $fail
