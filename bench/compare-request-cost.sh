#!/usr/bin/env bash
# Before/after of bench/request-cost.ts on a shared, noisy machine: runs the "before" build (BASE,
# a built checkout of an earlier commit: `git archive <rev> | tar -x -C DIR`, node_modules linked,
# `npm run build`) and this checkout's build alternately, ROUNDS times each, so both see the same
# load, and prints the median server CPU per request of each kind.
#
# Run from the project's root:  BASE=/tmp/base bash bench/compare-request-cost.sh [--tls]
# Knobs (env): ROUNDS=5 N=2000
set -u
BASE=${BASE:?BASE=<a built checkout of the commit to compare with>}; ROUNDS=${ROUNDS:-5}; N=${N:-2000}
OUT=$(mktemp -d /tmp/compare-cost.XXXXXX); trap 'rm -rf "$OUT"' EXIT
npm run build --silent >/dev/null 2>&1 || { echo "FAIL: npm run build"; exit 1; }
for r in $(seq "$ROUNDS"); do
  (cd "$BASE" && node dist/bench/request-cost.js --n "$N" "$@") >"$OUT/before-$r.txt" 2>&1
  node dist/bench/request-cost.js --n "$N" "$@" >"$OUT/after-$r.txt" 2>&1
done
echo "$(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds of $N requests per kind ${*:-(http)}"
python3 - "$OUT" "$ROUNDS" <<'PY'
import re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rows(path):
    found = {}
    for line in open(path):
        m = re.match(r'\s+(\S.*?\S)\s{2,}(\d+)\s+(\d+)\s+(\d+)\s*$', line)
        if m: found[m.group(1)] = int(m.group(3))
    return found
data = {side: [rows(f'{out}/{side}-{r}.txt') for r in range(1, rounds + 1)] for side in ('before', 'after')}
kinds = list(data['before'][0].keys())
print(f"   {'request':<20} {'before µs':>10} {'after µs':>10} {'change':>8}   (median server CPU per request; all rounds: before | after)")
for k in kinds:
    b = [d[k] for d in data['before'] if k in d]; a = [d[k] for d in data['after'] if k in d]
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"   {k:<20} {mb:>10.0f} {ma:>10.0f} {100*(ma-mb)/mb:>+7.0f}%   {' '.join(map(str,b))} | {' '.join(map(str,a))}")
PY
