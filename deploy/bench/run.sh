#!/usr/bin/env bash
# Benchmark harness: our edge next to NSD, Knot and CoreDNS on one reference
# zone, in one run; then signed (DNSSEC, queries with DO): our edge signing
# live next to Knot's online signing (mod-onlinesign) and NSD serving the zone
# pre-signed by dnssec-signzone. See docs/BENCHMARKS.md for what it measures
# and how to read it. Usage: deploy/bench/run.sh [--duration SECONDS] [--names N]
# [--runs N] [--mix lower|mixed|both] [--queries-only] [--no-signed] [--signed-only]
# [--client dnsperf|kxdpgun]
#
# Every server answers two query mixes: the reference mix as generated (lower
# case) and the same queries with every name's letters in random case
# (queries-mixed.txt, as 0x20 resolvers ask); --mix picks one. For each server
# and mix the table gives queries/s and CPU time per answered query: the
# server's user+system time (/proc/PID/stat of each of its processes, which
# sums their threads, read before and after the dnsperf run) divided by
# dnsperf's "Queries completed", and both as ratios to NSD of the same run.
# --runs N repeats the whole query part N times in a row (the servers stay
# up) and prints every run's ratios, then a summary of all runs. --queries-only
# skips the control-plane writes and the propagation benchmark.
# PERF_RECORD=1 records each server's call graphs (perf record -g, on the
# client core) during its first query run into $BENCH_DIR/perf-LABEL.data
# (the sampling costs the server some CPU: not for figures).
# EDGE_BIN runs another edge binary than bin/edge; BASE_EDGE_BIN runs a second
# edge (say, one built from an earlier commit) next to it, fed by the same
# control plane, measured in the same query runs as "zonegrid-base": a
# before/after in one run. BENCH_HOLD=1 starts the servers, loads the zone,
# prints their ports and pids and waits (Ctrl-C stops them): for measuring
# or profiling by hand.
#
# --signed-only measures our edge unsigned, then the signed run, without the
# other peers, the write and the propagation benchmarks. EDGE_ANSWER_CACHE sets
# the edge's --answer-cache (slots; default the edge's own); BENCH_NO_BUILD=1
# uses the binaries in bin/ as they are.
#
# Every server is pinned to core $SERVER_CPU (taskset) and limited to one
# thread/worker; the client runs on core $CLIENT_CPU.
#
# --client picks the load generator of the query runs. dnsperf (the default)
# is one process on one core: on a 2-core machine it is the ceiling before
# the faster servers are (every server at 100-125k answers/s, the client's
# core at 100 %), so its queries/s compare the client, not the servers.
# --client kxdpgun uses Knot's XDP load generator (Debian's knot-dnsutils):
# it builds and reads frames through an AF_XDP socket, no system call per
# query, and sends at a fixed rate ($KX_QPS, default 400,000/s) above every
# server's capacity; a server's queries/s is then what it answers on its one
# core, and the queries it drops under that overload are its lost column.
# kxdpgun needs a real Ethernet device: the harness makes a network namespace
# ($KX_NS) with a veth pair, the client end inside (10.99.0.2), the servers'
# end (10.99.0.1) outside, where every server listens. Root only. Latency
# (avg_ms, p99_ms) is dnsperf's at 20k queries/s in both modes; kxdpgun gives
# none. The signed run always uses dnsperf (kxdpgun's D flag would do, but the
# signed run compares signing costs, which dnsperf reaches).
#
# BENCH_HOG=1 runs a busy loop on the server core while each server is
# measured (its queries/s and latency runs): the servers then share their
# core with a process that never sleeps, as on a machine busy with other
# work. CPU per answer still counts the server's own time only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

DURATION=15
NAMES=10000
RUNS=1
MIX=both
QUERIES_ONLY=0
MILLION=0
SIGNED=1
SIGNED_ONLY=0
EDGE_ANSWER_CACHE=${EDGE_ANSWER_CACHE:-0}
CLIENT=dnsperf
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --names) NAMES=$2; shift 2 ;;
    --million) MILLION=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --mix) MIX=$2; shift 2 ;;
    --mixed-case) MIX=mixed; shift ;;
    --queries-only) QUERIES_ONLY=1; shift ;;
    --no-signed) SIGNED=0; shift ;;
    --signed-only) SIGNED_ONLY=1; shift ;;
    --client) CLIENT=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${BENCH_DIR:-$ROOT/.bench}
ZONE=bench.test.
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
case $MIX in lower) MIXES=(lower) ;; mixed) MIXES=(mixed) ;; both) MIXES=(lower mixed) ;;
  *) echo "--mix must be lower, mixed or both" >&2; exit 2 ;; esac
# PORT_BASE moves every port of the harness, so that two harnesses (two
# checkouts) can run on one machine.
PORT_BASE=${PORT_BASE:-5300}
PORT_EDGE=$PORT_BASE PORT_NSD=$((PORT_BASE+1)) PORT_KNOT=$((PORT_BASE+2)) PORT_COREDNS=$((PORT_BASE+3))
PORT_KNOT_SIGNED=$((PORT_BASE+4)) PORT_NSD_SIGNED=$((PORT_BASE+5)) PORT_EDGE_BASE=$((PORT_BASE+6))
EDGE_BIN=${EDGE_BIN:-bin/edge}
BASE_EDGE_BIN=${BASE_EDGE_BIN:-}
EDGE_METRICS=127.0.0.1:$((PORT_BASE+4053))
GRPC=127.0.0.1:$((PORT_BASE+44851))
PORT_ETCD=$((PORT_BASE+18491)) PORT_NATS=$((PORT_BASE+36921))
CLK_TCK=$(getconf CLK_TCK)
KX_QPS=${KX_QPS:-400000}
KX_NS=${KX_NS:-zgbench-client}
case $CLIENT in
  dnsperf) DNS_ADDR=127.0.0.1 ;;
  kxdpgun) DNS_ADDR=10.99.0.1 ;;
  *) echo "--client must be dnsperf or kxdpgun" >&2; exit 2 ;;
esac
# The edges' IPv6 anycast pool: the default (2001:db8::10-13) is among the
# reference zone's AAAA addresses (2001:db8::<i>), which the control plane
# refuses (records may not point at the pool).
ANYCAST_V6=2001:db8:ffff::10,2001:db8:ffff::11,2001:db8:ffff::12,2001:db8:ffff::13

log() { printf '== %s\n' "$*" >&2; }

install_tools() {
  local need=()
  command -v dnsperf >/dev/null || need+=(dnsperf)
  command -v nsd >/dev/null || [[ -x /usr/sbin/nsd ]] || need+=(nsd)
  command -v knotd >/dev/null || [[ -x /usr/sbin/knotd ]] || need+=(knot)
  command -v taskset >/dev/null || need+=(util-linux)
  command -v dnssec-signzone >/dev/null || need+=(bind9-utils)
  command -v curl >/dev/null || need+=(curl)
  if [[ $CLIENT == kxdpgun ]]; then
    command -v kxdpgun >/dev/null || [[ -x /usr/sbin/kxdpgun ]] || need+=(knot-dnsutils)
    command -v ip >/dev/null || need+=(iproute2)
  fi
  if ((${#need[@]})); then
    log "installing ${need[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if [[ ! -x bin/coredns ]]; then
    log "building CoreDNS $COREDNS_VERSION"
    GOBIN=$ROOT/bin go install "github.com/coredns/coredns@$COREDNS_VERSION"
  fi
  if [[ ${BENCH_NO_BUILD:-0} == 1 ]]; then
    log "BENCH_NO_BUILD=1: using the binaries already in bin/"
    return
  fi
  log "building zonegrid"
  make -s build
  go build -o bin/ ./e2e/cmd/benchzone ./e2e/cmd/benchload ./e2e/cmd/bigzone
}

pids=()
cleanup() {
  [[ -n ${HOG_PID:-} ]] && kill "$HOG_PID" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ $CLIENT == kxdpgun ]] && ip netns del "$KX_NS" 2>/dev/null || true
}

# client_net: for kxdpgun, the client's network namespace and the veth pair
# (zgb0 outside with $DNS_ADDR, zgb1 inside); deleting the namespace removes
# both ends.
client_net() {
  [[ $CLIENT == kxdpgun ]] || return 0
  ip netns del "$KX_NS" 2>/dev/null || true
  ip link del zgb0 2>/dev/null || true
  ip netns add "$KX_NS"
  ip link add zgb0 type veth peer name zgb1
  ip link set zgb1 netns "$KX_NS"
  ip addr add "$DNS_ADDR/24" dev zgb0
  ip link set zgb0 up
  ip netns exec "$KX_NS" ip addr add 10.99.0.2/24 dev zgb1
  ip netns exec "$KX_NS" ip link set zgb1 up
  ip netns exec "$KX_NS" ip link set lo up
}
trap cleanup EXIT

wait_answer() { # port name
  for _ in $(seq 1 600); do
    if dig +short +time=1 +tries=1 @$DNS_ADDR -p "$1" "$2" A 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 never answered $2" >&2; return 1
}

# rss_kb PID: resident memory of PID and all its descendants (NSD forks its
# server processes), in KiB.
rss_kb() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    if [[ $p != "$1" ]]; then total=$((total + $(rss_kb "$p"))); continue; fi
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

start_nsd() {
  local d=$OUT/nsd; mkdir -p "$d"
  cat >"$d/nsd.conf" <<CONF
server:
  ip-address: $DNS_ADDR@$PORT_NSD
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$OUT"
  database: ""
  zonelistfile: "$d/zone.list"
  xfrdfile: "$d/xfrd.state"
  pidfile: "$d/nsd.pid"
  logfile: "$d/nsd.log"
  hide-version: yes
  # Debian's NSD limits each client /24 to 200 answers/s (RRL): off, as in
  # Knot and CoreDNS, or dnsperf measures the rate limiter.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  receive-buffer-size: 8388608
  send-buffer-size: 8388608
  # Answers with the sections ours and Knot's have: NSD's default adds the
  # zone's NS set (authority) and their addresses to every answer, twice the
  # bytes (126 against 68 on the reference mix) and more work per answer.
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: $ZONE
  zonefile: zone.db
CONF
  taskset -c "$SERVER_CPU" nsd -d -c "$d/nsd.conf" & pids+=($!); NSD_PID=$!
}

# sign_zone pre-signs the reference zone for NSD as an operator would:
# dnssec-signzone (BIND 9) with an ECDSA P-256 KSK and ZSK (algorithm 13, as
# ours), NSEC, the default 30-day validity.
sign_zone() {
  local d=$OUT/signed; rm -rf "$d"; mkdir -p "$d"
  dnssec-keygen -q -K "$d" -a ECDSAP256SHA256 -f KSK "$ZONE" >/dev/null
  dnssec-keygen -q -K "$d" -a ECDSAP256SHA256 "$ZONE" >/dev/null
  dnssec-signzone -q -S -K "$d" -d "$d" -o "$ZONE" -f "$d/zone.signed" "$OUT/zone.db" >/dev/null
}

start_nsd_signed() {
  local d=$OUT/nsd-signed; mkdir -p "$d"
  sed -e "s|$DNS_ADDR@$PORT_NSD|$DNS_ADDR@$PORT_NSD_SIGNED|" -e "s|$OUT/nsd/|$d/|g" \
      -e 's|zonefile: zone.db|zonefile: signed/zone.signed|' "$OUT/nsd/nsd.conf" >"$d/nsd.conf"
  taskset -c "$SERVER_CPU" nsd -d -c "$d/nsd.conf" & pids+=($!); NSD_SIGNED_PID=$!
}

# Knot signing live: mod-onlinesign with its default policy (ECDSA P-256,
# one combined key; compact "black lies" NSEC like ours).
start_knot_signed() {
  local d=$OUT/knot-signed; rm -rf "$d"; mkdir -p "$d"
  cat >"$d/knot.conf" <<CONF
server:
  listen: $DNS_ADDR@$PORT_KNOT_SIGNED
  rundir: "$d"
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$d"
log:
  - target: stderr
    any: error
zone:
  - domain: $ZONE
    file: "$OUT/zone.db"
    journal-content: none
    zonefile-load: whole
    module: mod-onlinesign
CONF
  taskset -c "$SERVER_CPU" knotd -c "$d/knot.conf" & pids+=($!); KNOT_SIGNED_PID=$!
}

# pin_threads PID: every thread of PID onto the server core again. Knot
# binds each UDP worker thread to a CPU of its own choosing when it starts
# it (the first worker to CPU 0), whatever taskset gave the process: before
# this, Knot's one UDP worker answered from the client's core, sharing it
# with the client, in every run of this harness.
pin_threads() {
  taskset -a -p -c "$SERVER_CPU" "$1" >/dev/null
}

start_knot() {
  local d=$OUT/knot; mkdir -p "$d"
  cat >"$d/knot.conf" <<CONF
server:
  listen: $DNS_ADDR@$PORT_KNOT
  rundir: "$d"
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$d"
log:
  - target: stderr
    any: error
zone:
  - domain: $ZONE
    file: "$OUT/zone.db"
    journal-content: none
    zonefile-load: whole
CONF
  taskset -c "$SERVER_CPU" knotd -c "$d/knot.conf" & pids+=($!); KNOT_PID=$!
}

start_coredns() {
  local d=$OUT/coredns; mkdir -p "$d"
  cat >"$d/Corefile" <<CONF
$ZONE:$PORT_COREDNS {
  bind $DNS_ADDR
  file $OUT/zone.db
}
CONF
  (cd "$d" && GOMAXPROCS=1 exec taskset -c "$SERVER_CPU" "$ROOT/bin/coredns" -conf Corefile -quiet) & pids+=($!); COREDNS_PID=$!
}

# start_edge BINARY PORT METRICS_ADDR LOGNAME (in the background: $! is its pid)
start_edge() {
  GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$1" --listen $DNS_ADDR:$2 --rrl-rate 0 --anycast-v6 $ANYCAST_V6 --answer-cache "$EDGE_ANSWER_CACHE" \
    --dnssec-kek-file "$OUT/zonegrid/credentials/dnssec.kek" --metrics-addr "$3" \
    --nats-url nats://127.0.0.1:$PORT_NATS --nats-nkey-seed "$OUT/zonegrid/credentials/edge.nk" \
    --snapshot-trust-keys "$OUT/zonegrid/credentials/snapshot-signing.pub.pem" \
    >"$OUT/$4.log" 2>&1 & pids+=($!)
}

start_zonegrid() {
  rm -rf "$OUT/zonegrid"
  # The control plane (with embedded etcd and NATS) runs on the client core so
  # the edge has its core to itself, as the peers do.
  taskset -c "$CLIENT_CPU" bin/controlplane --embedded --data-dir "$OUT/zonegrid" \
    --embedded-etcd-port $PORT_ETCD --embedded-nats-port $PORT_NATS --grpc-addr $GRPC \
    --extra-public-suffixes test --anycast-v6 $ANYCAST_V6 >"$OUT/controlplane.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/${GRPC##*:}) 2>/dev/null && break; sleep 0.1; done
  # The edge's NATS credential and the key it verifies snapshots with were
  # generated by the control plane under its data dir, as `make run` does.
  # Response rate limiting off (--rrl-rate 0), as NSD's above: dnsperf is one
  # client asking the same names thousands of times a second.
  # The DNSSEC key-encryption key is the control plane's (generated under its
  # data dir): the edge opens the zone's keys with it for the signed run.
  start_edge "$EDGE_BIN" $PORT_EDGE $EDGE_METRICS edge; EDGE_PID=$!
  if [[ -n $BASE_EDGE_BIN ]]; then
    start_edge "$BASE_EDGE_BIN" $PORT_EDGE_BASE 127.0.0.1:$((PORT_BASE+4054)) edge-base; BASE_EDGE_PID=$!
  fi
  log "loading the zone through the API"
  bin/benchload -config "$OUT/zonegrid/dnsctl.json" -endpoint $GRPC -zone "$ZONE" -zone-file "$OUT/zone.db" -edge $DNS_ADDR:$PORT_EDGE \
    -proxied-every 20 | tee "$OUT/load.txt" >&2
}

# cpu_ticks PID: user+system clock ticks of PID and its descendants (NSD
# forks its server processes). /proc/PID/stat of a process sums all its
# threads, those that ended included.
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    if [[ $p != "$1" ]]; then total=$((total + $(cpu_ticks "$p"))); continue; fi
    # Fields after the command name, which may hold spaces: utime, stime are
    # the 12th and 13th.
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{t=$12+$13} END {print t+0}')))
  done
  echo "$total"
}

# core_stat: "busy softirq total" clock ticks of the server core so far
# (/proc/stat): whether a server had its core to the full during its run, and
# how much of the core went to packet work in softirq, which no process is
# charged with.
core_stat() {
  awk -v c="cpu$SERVER_CPU" '$1==c {t=0; for (i=2; i<=NF; i++) t+=$i; print t-$5-$6, $8, t}' /proc/stat
}

# perf port label pid [dnsperf flags] -> prints "label qps avg_ms p99_ms lost
# completed cpu_us_per_answer" (-D: queries with the DO bit, for the signed
# run). QUERY_FILE is the query mix (default the lower-case one).
perf() {
  local port=$1 label=$2 pid=$3 res qf=${QUERY_FILE:-$OUT/queries.txt}
  shift 3
  local t0 t1
  local rec=
  if [[ ${PERF_RECORD:-0} == 1 && ! -e $OUT/perf-$label.data ]]; then
    taskset -c "$CLIENT_CPU" perf record -q -g -p "$(echo $pid $(pgrep -P "$pid") | tr ' ' ,)" -o "$OUT/perf-$label.data" -- sleep $((DURATION > 4 ? DURATION - 2 : DURATION)) \
      >/dev/null 2>&1 & rec=$!
  fi
  local qps avg= lost ncomp cpu c0 c1 busy
  if [[ ${BENCH_HOG:-0} == 1 ]]; then
    # timeout: it ends by itself should this subshell be killed.
    timeout $((DURATION + 30)) taskset -c "$SERVER_CPU" sh -c 'while :; do :; done' & HOG_PID=$!
  fi
  if [[ $CLIENT == kxdpgun && $# == 0 ]]; then
    t0=$(cpu_ticks "$pid"); c0=$(core_stat)
    res=$(ip netns exec "$KX_NS" kxdpgun -t "$DURATION" -Q "$KX_QPS" -F "$CLIENT_CPU" -p "$port" \
          -i "$qf" -I zgb1 "$DNS_ADDR" 2>&1)
    t1=$(cpu_ticks "$pid"); c1=$(core_stat)
    echo "$res" >"$OUT/kxdpgun-$label.txt"
    # "total replies:     759080 (151816 pps) (37%)"
    qps=$(awk '/^total replies/ {gsub(/[()]/, "", $4); print $4}' <<<"$res")
    ncomp=$(awk '/^total replies/ {print $3}' <<<"$res")
    lost=$(awk '/^total queries/ {q=$3} /^total replies/ {r=$3} END {print q-r}' <<<"$res")
  else
    t0=$(cpu_ticks "$pid"); c0=$(core_stat)
    res=$(taskset -c "$CLIENT_CPU" dnsperf -s $DNS_ADDR -p "$port" -d "$qf" \
          -l "$DURATION" -c 8 -q 200 -t 2 "$@" 2>&1)
    t1=$(cpu_ticks "$pid"); c1=$(core_stat)
    echo "$res" >"$OUT/dnsperf-$label.txt"
    qps=$(awk '/Queries per second/ {print $4}' <<<"$res")
    avg=$(awk '/Average Latency/ {print $4*1000}' <<<"$res")
    lost=$(awk '/Queries lost/ {print $3}' <<<"$res")
    ncomp=$(awk '/Queries completed/ {print $3}' <<<"$res")
  fi
  [[ -n $rec ]] && wait "$rec"
  cpu=$(awk -v t=$((t1-t0)) -v hz="$CLK_TCK" -v n="${ncomp:-0}" 'BEGIN {if (n>0) printf "%.2f", t/hz*1e6/n; else print "n/a"}')
  busy=$(awk -v a="$c0" -v b="$c1" 'BEGIN {split(a, x, " "); split(b, y, " "); t=y[3]-x[3]
    if (t>0) printf "%.0f/%.0f", 100*(y[1]-x[1])/t, 100*(y[2]-x[2])/t; else print "n/a"}')
  # p99 at a fixed, moderate rate (dnsperf 2.10 has no histogram): per-query
  # latencies from -v over a short run at 20k qps.
  local p99 lat
  lat=$(taskset -c "$CLIENT_CPU" dnsperf -s $DNS_ADDR -p "$port" -d "$qf" \
        -l 3 -Q 20000 -c 4 -v "$@" 2>/dev/null | awk '$1==">" {print $NF*1000}' | sort -n)
  p99=$(awk '{a[NR]=$1} END {if (NR) print a[int(NR*0.99)]; else print "n/a"}' <<<"$lat")
  [[ -z $avg ]] && avg=$(awk '{s+=$1} END {if (NR) printf "%.3f", s/NR; else print "n/a"}' <<<"$lat")
  if [[ -n ${HOG_PID:-} ]]; then kill "$HOG_PID"; wait "$HOG_PID" 2>/dev/null || true; HOG_PID=; fi
  printf '%s %s %s %s %s %s %s %s\n' "$label" "${qps:-0}" "${avg:-n/a}" "${p99:-n/a}" "${lost:-n/a}" "${ncomp:-0}" "$cpu" "$busy"
}

# table TITLE REF RESULTS: prints the results of perf with, for each server,
# ours/peer for queries/s and CPU per answer against server REF's row, then
# the two ratios against REF that the targets are about.
table() {
  local title=$1 ref=$2 results=$3 ours_label=${4:-zonegrid} targets=${5:-targets}
  echo "# $title"
  printf '%-14s %12s %9s %9s %7s %10s %9s %12s %12s %9s %9s\n' server qps avg_ms p99_ms lost answers us_cpu/ans "qps_ours/it" "cpu_ours/it" rss_MiB "core%/sirq%"
  local ours ours_cpu
  ours=$(awk -v l="$ours_label" '$1==l {print $2}' <<<"$results")
  ours_cpu=$(awk -v l="$ours_label" '$1==l {print $7}' <<<"$results")
  while read -r label qps avg p99 lost ncomp cpu busy; do
    local pid r c rss
    pid=$(pid_of "$label")
    r=$(awk -v a="$ours" -v b="$qps" 'BEGIN {if (b>0) printf "%.2f", a/b; else print "n/a"}')
    c=$(awk -v a="$ours_cpu" -v b="$cpu" 'BEGIN {if (b>0) printf "%.2f", a/b; else print "n/a"}')
    rss=$(awk -v k="$(rss_kb "$pid" 2>/dev/null || echo 0)" 'BEGIN {printf "%.1f", k/1024}')
    printf '%-14s %12s %9s %9s %7s %10s %9s %12s %12s %9s %9s\n' "$label" "$qps" "$avg" "$p99" "$lost" "$ncomp" "$cpu" "$r" "$c" "$rss" "$busy"
  done <<<"$results"
  local refq refc
  refq=$(awk -v l="$ref" '$1==l {print $2}' <<<"$results")
  refc=$(awk -v l="$ref" '$1==l {print $7}' <<<"$results")
  awk -v t="$title" -v r="$ref" -v a="$ours" -v b="$refq" -v c="$ours_cpu" -v d="$refc" -v o="$ours_label" -v tg="$targets" 'BEGIN {
    q = (b>0) ? a/b : 0; u = (d>0) ? c/d : 0
    if (tg != "targets") { printf "# %s/%s: qps %.2f, cpu/answer %.2f\n", o, r, q, u; exit }
    printf "RATIO %s: %s/%s qps %.2f (target >= 1.2: %s), cpu/answer %.2f (target <= 0.8: %s)\n", t, o, r, q, (q>=1.2) ? "met" : "NOT met", u, (u>0 && u<=0.8) ? "met" : "NOT met"
  }'
}

pid_of() {
  case $1 in
    zonegrid-base) echo "$BASE_EDGE_PID" ;; zonegrid*) echo "$EDGE_PID" ;; nsd-presigned) echo "$NSD_SIGNED_PID" ;; nsd*) echo "$NSD_PID" ;;
    knot-online) echo "$KNOT_SIGNED_PID" ;; knot*) echo "$KNOT_PID" ;; coredns*) echo "$COREDNS_PID" ;;
  esac
}

# edge_cache prints the edge's packed-answer cache "hits misses" so far.
edge_cache() {
  curl -s "http://$EDGE_METRICS/metrics" | awk '
    /^zonegrid_edge_answer_cache_lookups_total\{result="hit"\}/ {h=$2}
    /^zonegrid_edge_answer_cache_lookups_total\{result="miss"\}/ {m=$2}
    END {printf "%d %d\n", h, m}'
}

# signed_run UNSIGNED_RESULTS: DNSSEC on for the reference zone through the
# API (the edge signs live), Knot signing online and NSD serving the zone
# pre-signed; every query with DO, same mix, same pinning.
signed_run() {
  local unsigned=$1 query_client=$CLIENT
  # dnsperf for the signed run in both modes (the usage above says why).
  local CLIENT=dnsperf
  log "signed run: pre-signing the zone for NSD (dnssec-signzone), Knot with mod-onlinesign"
  sign_zone
  start_nsd_signed; start_knot_signed
  bin/dnsctl --config "$OUT/zonegrid/dnsctl.json" --account bench dnssec enable "${ZONE%.}" >"$OUT/dnssec-enable.txt"
  for _ in $(seq 1 300); do
    dig +dnssec +norec +time=1 +tries=1 @$DNS_ADDR -p $PORT_EDGE "$ZONE" DNSKEY 2>/dev/null | grep -q RRSIG && break
    sleep 0.1
  done
  for p in $PORT_NSD_SIGNED $PORT_KNOT_SIGNED; do wait_answer "$p" "host00000.$ZONE"; done
  pin_threads "$KNOT_SIGNED_PID"
  for p in $PORT_EDGE $PORT_NSD_SIGNED $PORT_KNOT_SIGNED; do
    dig +dnssec +norec @$DNS_ADDR -p "$p" "host00000.$ZONE" A | grep -q 'RRSIG' || { echo "port $p: no signed answer" >&2; return 1; }
  done
  log "dnsperf with DO, $DURATION s per server"
  local results c0 c1
  c0=$(edge_cache)
  results=$( perf $PORT_EDGE zonegrid-do "$EDGE_PID" -D )
  c1=$(edge_cache)
  results+=$'\n'$( perf $PORT_EDGE zonegrid-nodo "$EDGE_PID"; perf $PORT_KNOT_SIGNED knot-online "$KNOT_SIGNED_PID" -D
                    perf $PORT_NSD_SIGNED nsd-presigned "$NSD_SIGNED_PID" -D )
  {
    table "signed: every query with DO (zonegrid-nodo: the same signed zone asked without DO)" nsd-presigned "$results" zonegrid-do no-targets
    local ours unsigned_qps
    ours=$(awk '$1=="zonegrid-do" {print $2}' <<<"$results")
    unsigned_qps=$(awk '$1=="zonegrid" {print $2}' <<<"$unsigned")
    # Unsigned queries/s from kxdpgun are not comparable with dnsperf's.
    [[ $query_client == dnsperf ]] || unsigned_qps=0
    awk -v s="$ours" -v u="$unsigned_qps" 'BEGIN {if (u>0) printf "# zonegrid signed (DO) / zonegrid unsigned (first run): %.2f\n", s/u}'
    read -r h0 m0 <<<"$c0"; read -r h1 m1 <<<"$c1"
    awk -v h=$((h1-h0)) -v m=$((m1-m0)) 'BEGIN {if (h+m>0) printf "# zonegrid packed-answer cache during the DO runs: %d hits, %d misses, hit rate %.4f\n", h, m, h/(h+m)}'
  } | tee -a "$OUT/results.txt"
}

# query_runs: --runs times, each mix: every server in turn, one table each.
query_runs() {
  local run mix qf results
  for run in $(seq 1 "$RUNS"); do
    for mix in "${MIXES[@]}"; do
      qf=$OUT/queries.txt
      [[ $mix == mixed ]] && qf=$OUT/queries-mixed.txt
      log "run $run/$RUNS, $mix-case mix: $CLIENT, $DURATION s per server, servers on core $SERVER_CPU, $CLIENT on core $CLIENT_CPU"
      # With a second edge, the two take turns at going first (the load
      # of a shared machine drifts).
      results=$( export QUERY_FILE=$qf
        if [[ -n $BASE_EDGE_BIN ]] && ((run % 2 == 0)); then
          perf $PORT_EDGE_BASE zonegrid-base "$BASE_EDGE_PID"; perf $PORT_EDGE zonegrid "$EDGE_PID"
        else
          perf $PORT_EDGE zonegrid "$EDGE_PID"
          [[ -n $BASE_EDGE_BIN ]] && perf $PORT_EDGE_BASE zonegrid-base "$BASE_EDGE_PID"
        fi
        perf $PORT_NSD nsd "$NSD_PID"
        perf $PORT_KNOT knot "$KNOT_PID"; perf $PORT_COREDNS coredns "$COREDNS_PID" )
      [[ $run == 1 && $mix == "${MIXES[0]}" ]] && FIRST_RESULTS=$results
      {
        echo "# $(date -u +%FT%TZ) run $run of $RUNS, $mix-case mix ($(basename "$qf"))"
        table "run $run $mix" nsd "$results"
      } | tee -a "$OUT/results.txt"
    done
  done
  if ((RUNS > 1)); then
    echo "# summary of the $RUNS runs (zonegrid/nsd)" | tee -a "$OUT/results.txt"
    grep '^RATIO run ' "$OUT/results.txt" | tee -a "$OUT/results-summary.txt"
  fi
}

main() {
  install_tools
  mkdir -p "$OUT"
  client_net
  log "generating the reference zone ($NAMES names) and query mix"
  bin/benchzone -out "$OUT" -names "$NAMES"
  # benchzone's IPv4 addresses are 10.x; the record API refuses to proxy a
  # private address (services/records, proxiableAddress) and benchload
  # proxies every 20th record: move them to 11.x, public, for every server.
  sed -i -E 's/ IN A 10\./ IN A 11./' "$OUT/zone.db"
  {
    echo "# $(date -u +%FT%TZ) $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
    echo "# zone: $NAMES names; queries: $(wc -l <"$OUT/queries.txt") per mix; $DURATION s per server; $RUNS run(s); mixes: ${MIXES[*]}; client: $CLIENT$([[ $CLIENT == kxdpgun ]] && echo " at $KX_QPS queries/s")"
  } | tee "$OUT/results.txt"
  rm -f "$OUT/results-summary.txt"
  if ((SIGNED_ONLY)); then
    start_nsd; start_zonegrid # NSD's configuration is the signed NSD's template
    wait_answer $PORT_EDGE "host00000.$ZONE"
    local unsigned
    unsigned=$(CLIENT=dnsperf perf $PORT_EDGE zonegrid "$EDGE_PID")
    echo "# unsigned: $unsigned" | tee -a "$OUT/results.txt"
    signed_run "$unsigned"
    return
  fi
  start_nsd; start_knot; start_coredns; start_zonegrid
  for p in $PORT_NSD $PORT_KNOT $PORT_COREDNS $PORT_EDGE; do wait_answer "$p" "host00000.$ZONE"; done
  pin_threads "$KNOT_PID"
  if [[ -n $BASE_EDGE_BIN ]]; then
    wait_answer $PORT_EDGE_BASE "host00000.$ZONE"
    # The whole zone, as on the edge the loader waited for.
    wait_answer $PORT_EDGE_BASE "$(awk '$3=="A" {n=$1} END {print n}' "$OUT/zone.db").$ZONE"
  fi

  if [[ ${BENCH_HOLD:-0} == 1 ]]; then
    echo "HOLD edge=$PORT_EDGE/$EDGE_PID base=$PORT_EDGE_BASE/${BASE_EDGE_PID:-} nsd=$PORT_NSD/$NSD_PID knot=$PORT_KNOT/$KNOT_PID coredns=$PORT_COREDNS/$COREDNS_PID queries=$OUT/queries.txt"
    while :; do sleep 60; done
  fi
  FIRST_RESULTS=
  query_runs

  ((SIGNED)) && signed_run "$FIRST_RESULTS"
  ((QUERIES_ONLY)) && return

  log "control-plane writes: single creates into one zone, 256 callers"
  bin/benchload -config "$OUT/zonegrid/dnsctl.json" -endpoint $GRPC -zone writes.test. -writes 10000 -concurrency 256 | tee -a "$OUT/results.txt"
  cleanup; pids=()

  log "propagation: API acknowledgement → every edge answers (1, 2, 3 edges)"
  go test -run '^$' -bench BenchmarkPropagation -benchtime 200x ./e2e/ | grep Benchmark | tee -a "$OUT/results.txt"

  if ((MILLION)); then
    log "a zone of 1,000,000 names (about 1.3M records): edge vs NSD memory, cold start, one change"
    bin/bigzone -names 1000000 -dir "$OUT/million" -wait-full=false | tee -a "$OUT/results.txt"
  fi
}

main
