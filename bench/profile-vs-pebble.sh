#!/usr/bin/env bash
# The gateway half of ../shared/tools/perf/vs-pebble.sh (same acmeload, same knobs, same gateway
# configuration: SQLite file + embedded simulator, tls.mode pca, real http-01 through
# pebble-challtestsrv), with the gateway CPU-profiled over acmeload's timed phase by
# bench/cpu-sampler.ts and summarised per request kind by bench/profile-report.ts.
#
# Run from the project's root:  bash bench/profile-vs-pebble.sh
# Knobs (env): ORDERS=400 CONC=8 ACCOUNTS=4 OUT=bench/results/vs-pebble-profile
#   PERF_DIR (default ../shared/tools/perf, else ../../shared/tools/perf), ACMELOAD_DIR (a copy of
#   acmeload with its node_modules, reused between runs; made in a temp dir when unset),
#   DB (an existing SQLite file to start from, copied first: bench/fill-million.ts makes one),
#   GATEWAY_ARGS (extra node flags for the gateway), PROFILE=0 (per-kind CPU only: the V8 sampler's
#   own ticks cost CPU, so per-kind figures are best taken without it).
# Writes $OUT.cpuprofile (Chrome DevTools), $OUT.json (per-kind CPU), $OUT.load.json (acmeload's report).
set -u
ORDERS=${ORDERS:-400}; CONC=${CONC:-8}; ACCOUNTS=${ACCOUNTS:-4}; OUT=${OUT:-bench/results/vs-pebble-profile}
PERF_DIR=${PERF_DIR:-$( [ -d ../shared/tools/perf ] && echo ../shared/tools/perf || echo ../../shared/tools/perf )}
WORK=$(mktemp -d /tmp/gw-profile.XXXXXX); PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; done; sleep 0.3; for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=bench/vs-pebble-common.sh
. "$(dirname "$0")/vs-pebble-common.sh"
command -v pebble-challtestsrv >/dev/null || fail "install Debian's pebble (for pebble-challtestsrv)"
if [ -z "${ACMELOAD_DIR:-}" ]; then
  ACMELOAD_DIR="$WORK/acmeload"; cp -r "$PERF_DIR/acmeload" "$ACMELOAD_DIR"
  (cd "$ACMELOAD_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci of the load generator failed"
fi
npm run build --silent >/dev/null 2>&1 || fail "npm run build failed"
mkdir -p "$(dirname "$OUT")"

start_challtestsrv

mkdir -p "$WORK/data"
[ -n "${DB:-}" ] && { cp "$DB" "$WORK/data/gateway.sqlite"; for x in wal shm; do [ -f "$DB-$x" ] && cp "$DB-$x" "$WORK/data/gateway.sqlite-$x"; done; }
[ -n "${DB:-}" ] && [ -d "$(dirname "$DB")/pca-simulator" ] && cp -r "$(dirname "$DB")/pca-simulator" "$WORK/data/"
ADMIN=1 write_gateway_config
# shellcheck disable=SC2086
CPU_SAMPLER_OUT="$OUT" CPU_SAMPLER_PROFILE=${PROFILE:-1} node ${GATEWAY_ARGS:-} --import ./dist/bench/cpu-sampler.js dist/src/main.js serve --config "$WORK/gw.yaml" >"$WORK/gateway.log" 2>&1 & GW=$!; PIDS+=($GW)
wait_gateway_ready 600

rm -f "$OUT.json" "$OUT.cpuprofile"
node "$ACMELOAD_DIR/acmeload.mjs" --directory "https://localhost:$GP/directory" --orders "$ORDERS" --concurrency "$CONC" --accounts "$ACCOUNTS" --warmup 20 \
  --challenge http-01 --challtestsrv "http://127.0.0.1:$MGMT" --watch-pid "gateway=$GW" --ca-file "$WORK/data/pca-simulator/root.pem" \
  --max-seconds 300 --request-timeout-ms 10000 --max-failures 10 --out "$OUT.load.json" >/dev/null 2>"$WORK/load.err" & LOAD=$!
# Profile acmeload's timed phase only: it logs "timed: ..." right before the clock starts.
for _ in $(seq 3000); do grep -q '\] timed:' "$WORK/load.err" && break; kill -0 "$LOAD" 2>/dev/null || break; sleep 0.05; done
kill -USR2 "$GW"
wait "$LOAD"; rc=$?
kill -USR2 "$GW"
for _ in $(seq 200); do [ -f "$OUT.json" ] && break; sleep 0.1; done
kill "$GW"; wait "$GW" 2>/dev/null
[ -f "$OUT.json" ] || { cat "$WORK/load.err" "$WORK/gateway.log"; fail "no profile written"; }
[ "$rc" = 0 ] || { tail -20 "$WORK/load.err"; echo "acmeload exited $rc"; }
echo "c$CONC, $ORDERS orders, $ACCOUNTS accounts, $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
node dist/bench/profile-report.js "$OUT" "$OUT.load.json"
