#!/bin/sh
# Run every fuzz harness for RUNS executions (default 1000000) on two cores: the
# MIKEY one (the slowest) on one, the others one after another on the second.
# New interesting inputs go to a work directory, not to the committed seeds;
# crashes are written to fuzz/artifacts/. Usage: fuzz/run.sh [RUNS] [WORKDIR]
set -eu
cd "$(dirname "$0")"
RUNS=${1:-1000000}
WORK=${2:-${TMPDIR:-/tmp}/mbms-fuzz}
mkdir -p artifacts
for t in mikey bmsc srtp reader flute; do mkdir -p "$WORK/$t"; done
one() {
  python "fuzz_$1.py" "$WORK/$1" "corpus/$1" -runs="$RUNS" -artifact_prefix="artifacts/$1-" \
    -print_final_stats=1 > "$WORK/$1.log" 2>&1 || echo "fuzz_$1: crashed, see $WORK/$1.log"
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$WORK/$1.log" | sed "s/^/$1: /"
}
one mikey &
(one bmsc; one srtp; one reader; one flute) &
wait
