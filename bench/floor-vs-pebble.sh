#!/usr/bin/env bash
# vs-pebble.sh's load against Pebble and against bench/floor-server.ts (an ACME server doing only the
# parts issue 11's targets cannot do without: Node's HTTPS, ES256 JWS, the real http-01 validation,
# the CSR check, the embedded PCA simulator's signature through the NCP client; no database), same
# acmeload, same knobs, alternate rounds. What the targets would read for a server at that floor.
# GATEWAY=1 runs the gateway as vs-pebble.sh does in each round as well, so the three are compared
# in the same minutes of a noisy machine.
# FLOOR_ARGS=--in-process-ca: the floor signs in its own thread as Pebble's CA does (no PCA REST call).
#
# Run from the project's root:  bash bench/floor-vs-pebble.sh
# Knobs (env): ORDERS=400 CONC=8 ROUNDS=2 ACCOUNTS=4 ACMELOAD_DIR (a copy of acmeload with its
#   node_modules, reused between runs), PERF_DIR (default ../shared/tools/perf).
set -u
ORDERS=${ORDERS:-400}; CONC=${CONC:-8}; ROUNDS=${ROUNDS:-2}; ACCOUNTS=${ACCOUNTS:-4}
PERF_DIR=${PERF_DIR:-$( [ -d ../shared/tools/perf ] && echo ../shared/tools/perf || echo ../../shared/tools/perf )}
WORK=$(mktemp -d /tmp/floor-vs-pebble.XXXXXX); PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; done; sleep 0.3; for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=bench/vs-pebble-common.sh
. "$(dirname "$0")/vs-pebble-common.sh"
command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || fail "install Debian's pebble"
if [ -z "${ACMELOAD_DIR:-}" ]; then
  ACMELOAD_DIR="$WORK/acmeload"; cp -r "$PERF_DIR/acmeload" "$ACMELOAD_DIR"
  (cd "$ACMELOAD_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci of the load generator failed"
fi
npm run build --silent >/dev/null 2>&1 || fail "npm run build failed"

start_challtestsrv

load() { # NAME DIRECTORY PID -> "orders/s cpu_ms_per_order p99 completed failed"
  local name=$1 dir=$2 pid=$3
  node "$ACMELOAD_DIR/acmeload.mjs" --directory "$dir" --orders "$ORDERS" --concurrency "$CONC" --accounts "$ACCOUNTS" --warmup 20 \
    --challenge http-01 --challtestsrv "http://127.0.0.1:$MGMT" --watch-pid "$name=$pid" --insecure \
    --max-seconds 120 --request-timeout-ms 10000 --max-failures 10 --out "$WORK/$name.json" >"$WORK/$name.log" 2>&1
  python3 - "$WORK/$name.json" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
w=sum(x.get('msPerCompletedOrder') or 0 for x in d.get('watched',[]))
print(f"{d['ordersPerSecond']:.1f} {w:.2f} {d['latencyMs']['p99']} {d['ordersCompleted']} {d['ordersFailed']}")
PY
}

for r in $(seq "$ROUNDS"); do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout "$WORK/pk.pem" \
    -out "$WORK/pc.pem" -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  PP=$(port); PM=$(port)
  echo "{\"pebble\":{\"listenAddress\":\"127.0.0.1:$PP\",\"managementListenAddress\":\"127.0.0.1:$PM\",\"certificate\":\"$WORK/pc.pem\",\"privateKey\":\"$WORK/pk.pem\",\"httpPort\":$H01,\"tlsPort\":5001,\"ocspResponderURL\":\"\",\"externalAccountBindingRequired\":false}}" >"$WORK/p.json"
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 pebble -config "$WORK/p.json" -dnsserver "127.0.0.1:$DNS" >"$WORK/pebble.log" 2>&1 &
  PEB=$!; PIDS+=($PEB); sleep 1
  read -r pt pc pp pok pf < <(load pebble "https://localhost:$PP/dir" "$PEB")
  kill "$PEB"; wait "$PEB" 2>/dev/null
  echo "round $r pebble: $pok/$ORDERS orders, $pt orders/s, p99 $pp ms, server CPU $pc ms/order, failed $pf"

  FP=$(port)
  # shellcheck disable=SC2086
  node dist/bench/floor-server.js --listen "127.0.0.1:$FP" --dns "127.0.0.1:$DNS" --http-port "$H01" ${FLOOR_ARGS:-} >"$WORK/floor.log" 2>&1 & FL=$!; PIDS+=($FL)
  for _ in $(seq 300); do grep -q 'floor server at' "$WORK/floor.log" && break; sleep 0.1; done
  read -r ft fc fp fok ff < <(load floor "https://localhost:$FP/directory" "$FL")
  kill "$FL"; wait "$FL" 2>/dev/null
  echo "round $r floor:  $fok/$ORDERS orders, $ft orders/s, p99 $fp ms, server CPU $fc ms/order, failed $ff"
  [ "$fok" = 0 ] && { tail -5 "$WORK/floor.log" "$WORK/floor.log"; python3 -c "import json;print(json.load(open('$WORK/floor.json'))['errors'])"; }
  echo "round $r floor/pebble: orders/s $(python3 -c "print(round($ft/max($pt,0.001),2))"), CPU/order $(python3 -c "print(round($fc/max($pc,0.001),2))")"

  [ "${GATEWAY:-0}" = 1 ] || continue
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"; write_gateway_config
  node dist/src/main.js serve --config "$WORK/gw.yaml" >"$WORK/gateway.log" 2>&1 & GW=$!; PIDS+=($GW)
  wait_gateway_ready
  read -r gt gc gp gok gf < <(load gateway "https://localhost:$GP/directory" "$GW")
  kill "$GW"; wait "$GW" 2>/dev/null
  echo "round $r gateway: $gok/$ORDERS orders, $gt orders/s, p99 $gp ms, server CPU $gc ms/order, failed $gf"
  echo "round $r gateway/pebble: orders/s $(python3 -c "print(round($gt/max($pt,0.001),2))"), CPU/order $(python3 -c "print(round($gc/max($pc,0.001),2))"); gateway/floor: CPU/order $(python3 -c "print(round($gc/max($fc,0.001),2))")"
done
