# Sourced by bench/profile-vs-pebble.sh, perf-vs-pebble.sh and floor-vs-pebble.sh: the pieces of
# ../shared/tools/perf/vs-pebble.sh they repeat, so that the gateway each of them measures runs as the
# yardstick runs it. Expects WORK (a temp dir) and PIDS (an array) in the caller.

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

# pebble-challtestsrv as vs-pebble.sh starts it: DNS answering 127.0.0.1, http-01 on H01. Sets DNS, MGMT, H01.
start_challtestsrv() {
  DNS=$(port); MGMT=$(port); H01=$(port)
  pebble-challtestsrv -dns01 "127.0.0.1:$DNS" -management "127.0.0.1:$MGMT" -http01 "127.0.0.1:$H01" \
    -https01 "" -tlsalpn01 "" -defaultIPv6 "" >"$WORK/cts.log" 2>&1 & PIDS+=($!)
  sleep 0.5
}

# The gateway's configuration in vs-pebble.sh (SQLite file + embedded simulator, tls.mode pca) at
# $WORK/gw.yaml, with its data in $WORK/data; ADMIN=1 adds the admin listener. Sets GP (its port).
write_gateway_config() {
  GP=$(port); local sp; sp=$(port)
  cat >"$WORK/gw.yaml" <<YAML
server: { listen: "127.0.0.1:$GP", externalUrl: "https://localhost:$GP", tls: { mode: pca } }
storage: { sqlite: "$WORK/data/gateway.sqlite" }
validation: { httpPort: $H01, tlsAlpnPort: $(port), dnsResolvers: ["127.0.0.1:$DNS"] }
pca: { kind: simulator, period: 30 }
simulator: { listen: "127.0.0.1:$sp", dataDir: "$WORK/data/pca-simulator" }
logging: { level: warn }
YAML
  [ "${ADMIN:-0}" = 1 ] && echo "admin: { listen: \"127.0.0.1:$(port)\", tokenFile: \"$WORK/data/admin.token\" }" >>"$WORK/gw.yaml"
  return 0
}

# Until the gateway on GP answers its directory over the simulator's root (or about TRIES/10 s).
wait_gateway_ready() {
  for _ in $(seq "${1:-300}"); do
    [ -f "$WORK/data/pca-simulator/root.pem" ] && curl -s -o /dev/null --cacert "$WORK/data/pca-simulator/root.pem" "https://localhost:$GP/directory" && return 0
    sleep 0.1
  done
  return 1
}
