#!/usr/bin/env bash
# Throughput of three gateway replicas beside one, on one PostgreSQL, behind HAProxy — a benchmark,
# not a test. The same load generator as ../shared/tools/perf/vs-pebble.sh (acmeload), pointed at the
# load balancer; real http-01 (pebble-challtestsrv serves the key authorizations and answers DNS with
# 127.0.0.1); one standalone PCA simulator that every replica signs with (pca.kind ncp), as the
# multi-replica e2e (test/e2e/replicas.test.ts) and the README's "Several replicas" section set it up.
#
# Run from the project's root:   bash bench/replicas.sh
# Knobs (env): ORDERS=300 CONC=12 ROUNDS=2 ACCOUNTS=4 ACMELOAD=<dir of acmeload>
# Needs: node, npm, PostgreSQL's binaries (Debian postgresql), haproxy, pebble-challtestsrv, curl, python3.
# Each round runs, as a reference, one gateway on SQLite with no load balancer, then one replica and
# three replicas behind the same HAProxy configuration, each on a fresh database of one PostgreSQL
# cluster (default durability: fsync and synchronous_commit on). Prints each
# run's figures and the medians. "server CPU" is the gateway processes and the simulator; PostgreSQL's
# and HAProxy's CPU are not in it (they share the same two cores, as does the load generator).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
ORDERS=${ORDERS:-300}; CONC=${CONC:-12}; ROUNDS=${ROUNDS:-2}; ACCOUNTS=${ACCOUNTS:-4}
ACMELOAD=${ACMELOAD:-$ROOT/../shared/tools/perf/acmeload}
WORK=$(mktemp -d /tmp/bench-replicas.XXXXXX); chmod 755 "$WORK"; PIDS=()
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; done; sleep 0.5
  for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$PGBIN" ] && [ -d "$WORK/pg/data" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
[ -n "$PGBIN" ] || fail "install Debian's postgresql"
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || fail "install haproxy"
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
command -v pebble-challtestsrv >/dev/null || fail "install Debian's pebble (pebble-challtestsrv)"

# The load generator's dependencies go into a copy (shared/ is read-only).
LOAD="$WORK/acmeload"; cp -r "$ACMELOAD" "$LOAD"
(cd "$LOAD" && npm ci --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci of the load generator failed"
npm run build --silent >/dev/null 2>&1 || fail "npm run build failed"

# PostgreSQL: a throwaway cluster on loopback (trust authentication: nothing else can reach it).
PGPORT=$(port); mkdir -p "$WORK/pg"; [ "$(id -u)" -eq 0 ] && chown postgres: "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U acme -A trust -E UTF8 --locale=C >/dev/null 2>&1 || fail "initdb failed"
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $WORK/pg -c max_connections=200" start >/dev/null || fail "PostgreSQL did not start"

DNS=$(port); MGMT=$(port); H01=$(port)
pebble-challtestsrv -dns01 "127.0.0.1:$DNS" -management "127.0.0.1:$MGMT" -http01 "127.0.0.1:$H01" \
  -https01 "" -tlsalpn01 "" -defaultIPv6 "" >"$WORK/cts.log" 2>&1 & PIDS+=($!)
SIMP=$(port); AK=bench-ak; SK=bench-sk; TAG=0b1c2d3e-4f5a6b7c
node dist/src/main.js pca-simulator --listen "127.0.0.1:$SIMP" --data-dir "$WORK/sim" --access-key $AK --secret-key $SK --ca-tag $TAG \
  >"$WORK/sim.log" 2>&1 & SIM=$!; PIDS+=($SIM)
for _ in $(seq 100); do [ -f "$WORK/sim/root.pem" ] && curl -s -o /dev/null "http://127.0.0.1:$SIMP/api/v1/ca" && break; sleep 0.1; done
ROOTPEM="$WORK/sim/root.pem"; head -c 32 /dev/urandom | base64 >"$WORK/eab-kek.key"; chmod 600 "$WORK/eab-kek.key"
sleep 0.3

load() { # NAME DIRECTORY WATCH -> "orders/s server_cpu_ms_per_order p50 p99 completed failed"
  node "$LOAD/acmeload.mjs" --directory "$2" --ca-file "$ROOTPEM" \
    --orders "$ORDERS" --concurrency "$CONC" --accounts "$ACCOUNTS" --warmup 20 \
    --challenge http-01 --challtestsrv "http://127.0.0.1:$MGMT" --watch-pid "$3" \
    --max-seconds 180 --request-timeout-ms 15000 --max-failures 10 --label "$1" --out "$WORK/$1.json" >"$WORK/$1.log" 2>&1
  python3 - "$WORK/$1.json" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
w=sum(x.get('msPerCompletedOrder') or 0 for x in d.get('watched',[]))
l=d['latencyMs']
per=",".join(f"{x.get('name')}={(x.get('msPerCompletedOrder') or 0):.1f}" for x in d.get('watched',[]))
print(f"{d['ordersPerSecond']:.1f} {w:.1f} {l['p50']} {l['p99']} {d['ordersCompleted']} {d['ordersFailed']} {per}")
PY
  cp "$WORK/$1.json" "$ROOT/bench/results/replicas-$1.json" 2>/dev/null # git-ignored, for a closer look
}

sqlite_run() { # NAME: the reference, one gateway on SQLite with no load balancer, same PCA and clients
  local name=$1 p ap d="$WORK/$1"; p=$(port); ap=$(port); mkdir -p "$d"
  cat >"$d/gw.yaml" <<YAML
server: { listen: "127.0.0.1:$p", externalUrl: "https://localhost:$p", tls: { mode: pca } }
admin: { listen: "127.0.0.1:$ap", token: "bench-replicas-admin-token" }
storage: { sqlite: "$d/gateway.sqlite" }
validation: { httpPort: $H01, tlsAlpnPort: $(port), dnsResolvers: ["127.0.0.1:$DNS"], allowedCidrs: ["127.0.0.1/32"] }
pca: { kind: ncp, endpoint: "http://127.0.0.1:$SIMP", caTag: "$TAG", accessKey: "$AK", secretKey: "$SK", period: 30 }
logging: { level: warn }
YAML
  node dist/src/main.js serve --config "$d/gw.yaml" >"$d/gateway.log" 2>&1 & local gw=$!; PIDS+=($gw)
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$ap/readyz" && break; sleep 0.1; done
  load "$name" "https://localhost:$p/directory" "sim=$SIM,gw=$gw"
  kill "$gw" 2>/dev/null; wait "$gw" 2>/dev/null
}

run() { # NAME REPLICAS: that many replicas on a fresh PostgreSQL database behind HAProxy
  local name=$1 n=$2 db="bench_${1}" lb stats gw=() watch="sim=$SIM" i
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U acme "$db" || fail "createdb"
  lb=$(port); stats=$(port)
  local servers=""
  for i in $(seq "$n"); do
    local p ap; p=$(port); ap=$(port); local d="$WORK/$name/r$i"; mkdir -p "$d"; cp "$WORK/eab-kek.key" "$d/"
    cat >"$d/gw.yaml" <<YAML
server: { listen: "127.0.0.1:$p", externalUrl: "https://localhost:$lb", tls: { mode: pca } }
admin: { listen: "127.0.0.1:$ap", token: "bench-replicas-admin-token" }
storage: { postgres: "postgres://acme@127.0.0.1:$PGPORT/$db" }
acme: { eabKekFile: "$d/eab-kek.key" }
validation: { httpPort: $H01, tlsAlpnPort: $(port), dnsResolvers: ["127.0.0.1:$DNS"], allowedCidrs: ["127.0.0.1/32"] }
pca: { kind: ncp, endpoint: "http://127.0.0.1:$SIMP", caTag: "$TAG", accessKey: "$AK", secretKey: "$SK", period: 30 }
logging: { level: warn }
YAML
    node dist/src/main.js serve --config "$d/gw.yaml" >"$d/gateway.log" 2>&1 & gw+=($!); PIDS+=($!)
    servers+="    server r$i 127.0.0.1:$p port $ap"$'\n'
    watch+=",r$i=${gw[-1]}"
  done
  cat >"$WORK/$name/haproxy.cfg" <<CFG
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s
    retries 3
    option redispatch 1
frontend acme
    bind 127.0.0.1:$lb
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2
$servers
listen stats
    mode http
    bind 127.0.0.1:$stats
    stats enable
    stats uri /stats
CFG
  "$HAPROXY" -db -f "$WORK/$name/haproxy.cfg" >"$WORK/$name/haproxy.log" 2>&1 & local hp=$!; PIDS+=($hp)
  for _ in $(seq 300); do
    [ "$(curl -s "http://127.0.0.1:$stats/stats;csv" | grep -c '^gateways,r[0-9]*,.*,UP,')" -ge "$n" ] && break; sleep 0.2
  done
  load "$name" "https://localhost:$lb/directory" "$watch"
  kill "$hp" "${gw[@]}" 2>/dev/null; wait "$hp" "${gw[@]}" 2>/dev/null
}

one=(); three=(); ref=()
echo "bench/replicas.sh: $(date -u +%FT%TZ), $(nproc) cores, $(node --version), $("$PGBIN/postgres" --version), $("$HAPROXY" -v | head -1 | cut -d' ' -f1-3)"
echo "ORDERS=$ORDERS CONC=$CONC ACCOUNTS=$ACCOUNTS ROUNDS=$ROUNDS, http-01, tls.mode pca, pca.kind ncp (one standalone simulator), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  read -r t c p50 p99 ok f per < <(sqlite_run "r${r}_sqlite")
  echo "round $r, 1 gateway on SQLite, no load balancer: $ok/$ORDERS orders, $t orders/s, p50 $p50 ms, p99 $p99 ms, server CPU $c ms/order ($per), failed $f"
  ref+=("$t")
  for n in 1 3; do
    read -r t c p50 p99 ok f per < <(run "r${r}_n${n}" "$n")
    echo "round $r, $n replica(s) on PostgreSQL behind HAProxy: $ok/$ORDERS orders, $t orders/s, p50 $p50 ms, p99 $p99 ms, server CPU $c ms/order ($per), failed $f"
    if [ "$n" = 1 ]; then one+=("$t"); else three+=("$t"); fi
  done
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo "median orders/s over $ROUNDS round(s): SQLite reference $(med "${ref[@]}"), 1 replica $(med "${one[@]}"), 3 replicas $(med "${three[@]}") (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
