#!/usr/bin/env bash
# The gateway under ../shared/tools/perf/vs-pebble.sh's load (same acmeload, same knobs, same
# configuration: SQLite file + embedded simulator, tls.mode pca, real http-01 through
# pebble-challtestsrv), recorded with Linux `perf` over acmeload's timed phase: CPU per thread
# (main, simulator, V8's compiler and GC helpers) and, on the main thread, what the CPU is spent in
# (SQLite, OpenSSL, TLS records, libuv, libc, the kernel, JavaScript). Unlike the V8 sampler of
# bench/profile-vs-pebble.sh, perf counts CPU time, not wall time: a sample never lands on a
# thread that is waiting for the core, so a syscall that lets the load generator run is not
# charged with the load generator's time.
#
# Run from the project's root:  bash bench/perf-vs-pebble.sh      Needs: perf, pebble, python3.
# Knobs (env): ORDERS=600 CONC=8 ACCOUNTS=4 OUT=bench/results/perf-vs-pebble GATEWAY_ARGS (node flags)
set -u
ORDERS=${ORDERS:-600}; CONC=${CONC:-8}; ACCOUNTS=${ACCOUNTS:-4}; OUT=${OUT:-bench/results/perf-vs-pebble}
PERF_DIR=${PERF_DIR:-$( [ -d ../shared/tools/perf ] && echo ../shared/tools/perf || echo ../../shared/tools/perf )}
WORK=$(mktemp -d /tmp/gw-perf.XXXXXX); PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; done; sleep 0.3; for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=bench/vs-pebble-common.sh
. "$(dirname "$0")/vs-pebble-common.sh"
command -v perf >/dev/null || fail "install perf (Debian: linux-perf)"
command -v pebble-challtestsrv >/dev/null || fail "install Debian's pebble (for pebble-challtestsrv)"
cp -r "$PERF_DIR/acmeload" "$WORK/acmeload" && (cd "$WORK/acmeload" && npm ci --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci of the load generator failed"
npm run build --silent >/dev/null 2>&1 || fail "npm run build failed"
mkdir -p "$(dirname "$OUT")"

start_challtestsrv
mkdir -p "$WORK/data"; ADMIN=1 write_gateway_config
# --perf-basic-prof: V8 writes /tmp/perf-PID.map, so perf names the JavaScript frames.
# shellcheck disable=SC2086
node --perf-basic-prof --logfile="$WORK/v8.log" ${GATEWAY_ARGS:-} dist/src/main.js serve --config "$WORK/gw.yaml" >"$WORK/gateway.log" 2>&1 & GW=$!; PIDS+=($GW)
wait_gateway_ready
node "$WORK/acmeload/acmeload.mjs" --directory "https://localhost:$GP/directory" --orders "$ORDERS" --concurrency "$CONC" --accounts "$ACCOUNTS" --warmup 20 \
  --challenge http-01 --challtestsrv "http://127.0.0.1:$MGMT" --watch-pid "gateway=$GW" --ca-file "$WORK/data/pca-simulator/root.pem" \
  --max-seconds 300 --request-timeout-ms 10000 --max-failures 10 --out "$OUT.load.json" >/dev/null 2>"$WORK/load.err" & LOAD=$!
for _ in $(seq 3000); do grep -q '\] timed:' "$WORK/load.err" && break; kill -0 "$LOAD" 2>/dev/null || break; sleep 0.05; done
perf record -F 2000 -g -p "$GW" -o "$OUT.perf.data" >/dev/null 2>&1 & PERF=$!
wait "$LOAD"; rc=$?
kill -INT "$PERF"; wait "$PERF" 2>/dev/null
[ "$rc" = 0 ] || { tail -20 "$WORK/load.err"; echo "acmeload exited $rc"; }
echo "c$CONC, $ORDERS orders, $ACCOUNTS accounts, $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat >"$WORK/report.py" <<'PY'
import collections, json, re, sys
load = json.load(open(sys.argv[1])); main_tid = sys.argv[2]
done = load['ordersCompleted']; cpu = sum(w.get('msPerCompletedOrder') or 0 for w in load.get('watched', []))
print(f"acmeload: {load['ordersPerSecond']:.1f} orders/s, gateway CPU {cpu:.2f} ms/order (all threads), p99 {load['latencyMs']['p99']} ms")
samples, cur = [], None
for line in sys.stdin:
    if not line.strip():
        if cur: samples.append(cur)
        cur = None
    elif not line.startswith('\t'):
        cur = [line.split()[0]]
    elif cur is not None:
        parts = line.strip().split(None, 1)
        cur.append(parts[1] if len(parts) > 1 else parts[0])
if cur: samples.append(cur)
# Threads: the main one by its id; the others by what they mostly run.
by_tid = collections.defaultdict(list)
for s in samples: by_tid[s[0]].append(s[1:])
def role(tid, stacks):
    if tid == main_tid: return 'main thread'
    text = ' '.join(f for st in stacks[:200] for f in st)
    if 'worker::Worker' in text:
        # Two worker threads: the embedded simulator, and the WAL checkpointer (store/sqlite/checkpointer.ts).
        whole = ' '.join(f for st in stacks for f in st)
        if 'pca/simulator' in whole: return 'worker thread (the simulator)'
        if 'pragma' in whole or 'wal' in whole.lower(): return 'worker thread (WAL checkpoints)'
        return 'worker thread (other)'
    if 'compiler' in text or 'PlatformWorker' in text: return "V8 helper (compiler, GC)"
    return 'other'
total = len(samples) or 1
roles = collections.Counter()
for tid, st in by_tid.items(): roles[role(tid, st)] += len(st)
print('\nCPU by thread (share of the gateway process, and ms per order):')
for r, n in roles.most_common(): print(f"  {100*n/total:5.1f}%  {cpu*n/total:5.2f} ms  {r}")
# Main thread: the native code a sample is in, from the leaf up to the first JavaScript frame.
rules = [('SQLite (better-sqlite3)', r'better_sqlite3'), ('TLS records (OpenSSL SSL_write/SSL_read)', r'\bSSL_write|ssl3_write|\bSSL_read|ssl3_read|tls13_|TLSWrap'),
         ('OpenSSL crypto (keys, X.509, signatures, hashes)', r'OSSL|ossl_|EVP_|X509|d2i_|i2d_|PEM_|ecp_|node::crypto|BN_|ASN1|CRYPTO_|OPENSSL_'),
         ('V8 GC', r'v8::internal::(Heap|Scavenger|MarkCompact|Mark|Sweeper|Concurrent|GC)'), ('V8 compiler', r'v8::internal::(compiler|maglev|Compiler|baseline)'),
         ('HTTP parser (llhttp)', r'llhttp'), ('libuv, streams', r'uv_|uv__|LibuvStreamWrap|node::StreamBase|TCPWrap'), ('kernel (syscalls)', r'\[kernel'),
         ('JavaScript (V8 builtins, runtime)', r'v8::|Builtin'), ('libc (malloc, free, memcpy)', r'libc')]
cats = collections.Counter(); main = by_tid.get(main_tid, [])
for st in main:
    region = []
    for f in st:
        if f.startswith('JS:') or 'perf-' in f: break
        region.append(f)
    text = ' | '.join(region); c = 'JavaScript (JIT code)' if not region else 'other native'
    for name, rx in rules:
        if region and re.search(rx, text): c = name; break
    cats[c] += 1
m = len(main) or 1; main_ms = cpu * len(main) / total
print(f'\nMain thread ({main_ms:.2f} ms per order), by what it runs:')
for c, n in cats.most_common(): print(f"  {100*n/m:5.1f}%  {main_ms*n/m:5.2f} ms  {c}")
print(f"\n({len(samples)} samples at 2 kHz; perf report -i {sys.argv[1].replace('.load.json', '.perf.data')} for more.)")
PY
perf script -i "$OUT.perf.data" -F tid,ip,sym,dso 2>/dev/null | python3 "$WORK/report.py" "$OUT.load.json" "$GW"
