#!/usr/bin/env bash
# Soak: the edge under steady load for a long time while the zone changes.
# See docs/BENCHMARKS.md, "Soak (issue 8)". Usage:
#
#   deploy/soak/run.sh [--duration 10m] [--fraction 0.8] [--peak QPS]
#                      [--peak-duration 15] [--write-interval 100ms] [--names N]
#
# EDGE_BIN runs another edge binary than bin/edge; EDGE_FLAGS adds flags to
# its command line (e.g. --udp-raw-syscalls); EDGE_GOMAXPROCS sets its
# GOMAXPROCS (default 1).
#
# 1. Starts the system as `make run` does (control plane with embedded etcd and
#    NATS, one edge) and loads the reference zone of `make bench` through the
#    API (e2e/cmd/benchzone, e2e/cmd/benchload; every 20th A/AAAA/CNAME record
#    proxied, so the answer-time rules run).
# 2. Measures the edge's peak queries/s with dnsperf (as deploy/bench does),
#    unless --peak gives it.
# 3. Runs dnsperf at --fraction of that peak (-Q) for --duration while
#    e2e/cmd/soakwriter makes one record write every --write-interval
#    (create → update → delete cycling over 100 names, so the zone's size
#    stays stable), and samples the RSS of the edge and of the control plane
#    (VmRSS in /proc/PID/status) every 10 s, with a heap profile of the edge
#    at the reference minute and at the end.
# 4. Reports queries sent/answered, response codes, achieved q/s, RSS at minute
#    2 and at the end, writes acknowledged/failed/lost, and whether the edge
#    answers the last write. Exits 1 when a SERVFAIL was answered, the edge's
#    RSS grew more than 10% from minute 2 to the end, or a write failed or was
#    lost. (Runs shorter than 4 minutes take the reference at a quarter of the
#    duration instead of minute 2.)
#
# The edge runs with response rate limiting off (--rrl-rate 0): the load comes
# from one source (dnsperf on loopback) asking the same names thousands of
# times a second, which is exactly what the limiter drops; we measure the
# server, not the limiter. The edge is pinned to core $SERVER_CPU with
# GOMAXPROCS=1; dnsperf, the control plane and the writer run on core
# $CLIENT_CPU. Output files: $SOAK_DIR (default .bench/soak).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

DURATION=10m
FRACTION=0.8
PEAK=
PEAK_DURATION=15
WRITE_INTERVAL=100ms
NAMES=10000
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --fraction) FRACTION=$2; shift 2 ;;
    --peak) PEAK=$2; shift 2 ;;
    --peak-duration) PEAK_DURATION=$2; shift 2 ;;
    --write-interval) WRITE_INTERVAL=$2; shift 2 ;;
    --names) NAMES=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${SOAK_DIR:-$ROOT/.bench/soak}
ZONE=bench.test.
# Ports of their own, so a soak can run next to `make run` and `make bench`.
PORT_EDGE=${PORT_EDGE:-5310}
GRPC=${GRPC:-127.0.0.1:50161}
ETCD_PORT=${ETCD_PORT:-23795}
NATS_PORT=${NATS_PORT:-42225}
EDGE_METRICS=${EDGE_METRICS:-127.0.0.1:9363}
CP_METRICS=${CP_METRICS:-127.0.0.1:9362}
RSS_EVERY=10 # seconds between RSS samples
MAX_GROWTH=1.10

log() { printf '== %s\n' "$*" >&2; }

seconds() { # 10m, 30s, 1h or plain seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
DUR_S=$(seconds "$DURATION")
if ((DUR_S >= 240)); then REF_S=120; else REF_S=$((DUR_S / 4 / RSS_EVERY * RSS_EVERY)); ((REF_S >= RSS_EVERY)) || REF_S=$RSS_EVERY; fi

install_tools() {
  local need=()
  command -v dnsperf >/dev/null || need+=(dnsperf)
  command -v dig >/dev/null || need+=(bind9-dnsutils)
  command -v taskset >/dev/null || need+=(util-linux)
  command -v curl >/dev/null || need+=(curl)
  if ((${#need[@]})); then
    log "installing ${need[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  log "building zonegrid"
  make -s build
  go build -o bin/ ./e2e/cmd/benchzone ./e2e/cmd/benchload ./e2e/cmd/soakwriter
}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

mib() { awk -v k="${1:-0}" 'BEGIN {printf "%.1f", k/1024}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# heap_inuse URL: go_memstats_heap_inuse_bytes from a /metrics page, in KiB.
heap_kb() {
  curl -s --max-time 2 "http://$1/metrics" 2>/dev/null |
    awk '$1=="go_memstats_heap_inuse_bytes" {printf "%d", $2/1024; f=1} END {if (!f) print "n/a"}'
}

# The edges' IPv6 anycast pool, as deploy/bench's: the default
# (2001:db8::10-13) is among the reference zone's AAAA addresses, which the
# control plane refuses (records may not point at the pool).
ANYCAST_V6=2001:db8:ffff::10,2001:db8:ffff::11,2001:db8:ffff::12,2001:db8:ffff::13

start_zonegrid() {
  rm -rf "$OUT/zonegrid"
  taskset -c "$CLIENT_CPU" bin/controlplane --embedded --data-dir "$OUT/zonegrid" \
    --embedded-etcd-port "$ETCD_PORT" --embedded-nats-port "$NATS_PORT" --grpc-addr "$GRPC" \
    --metrics-addr "$CP_METRICS" --extra-public-suffixes test --anycast-v6 "$ANYCAST_V6" >"$OUT/controlplane.log" 2>&1 & pids+=($!); CP_PID=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/${GRPC##*:}") 2>/dev/null && break; sleep 0.1; done
  # Response rate limiting off (--rrl-rate 0): see the top of this file.
  GOMAXPROCS=${EDGE_GOMAXPROCS:-1} taskset -c "$SERVER_CPU" "${EDGE_BIN:-bin/edge}" --listen "127.0.0.1:$PORT_EDGE" --rrl-rate 0 --anycast-v6 "$ANYCAST_V6" \
    --nats-url "nats://127.0.0.1:$NATS_PORT" --nats-nkey-seed "$OUT/zonegrid/credentials/edge.nk" \
    --snapshot-trust-keys "$OUT/zonegrid/credentials/snapshot-signing.pub.pem" \
    --metrics-addr "$EDGE_METRICS" --pprof ${EDGE_FLAGS:-} \
    >"$OUT/edge.log" 2>&1 & pids+=($!); EDGE_PID=$!
  log "loading the zone through the API"
  bin/benchload -config "$OUT/zonegrid/dnsctl.json" -endpoint "$GRPC" -zone "$ZONE" -zone-file "$OUT/zone.db" \
    -edge "127.0.0.1:$PORT_EDGE" -proxied-every 20 | tee "$OUT/load.txt" >&2
}

wait_answer() { # port name
  for _ in $(seq 1 600); do
    if dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" A 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 never answered $2" >&2; return 1
}

# dnsperf_field FILE FIELD: a count from dnsperf's summary.
dnsperf_field() {
  case $2 in
    sent) awk '/Queries sent:/ {print $3}' "$1" ;;
    completed) awk '/Queries completed:/ {print $3}' "$1" ;;
    lost) awk '/Queries lost:/ {print $3}' "$1" ;;
    qps) awk '/Queries per second:/ {printf "%.0f", $4}' "$1" ;;
    avg) awk '/Average Latency/ {printf "%.3f", $4*1000}' "$1" ;;
    rcodes) sed -n 's/^ *Response codes: *//p' "$1" ;;
    SERVFAIL) { grep -o 'SERVFAIL [0-9]*' "$1" || true; } | awk '{s+=$2} END {print s+0}' ;;
  esac
}

# sampler: every $RSS_EVERY s one line "seconds edge_rss_kb cp_rss_kb
# edge_heap_inuse_kb" until the file $OUT/.stop-sampler exists; the edge's heap
# profile at the reference second.
sampler() {
  local t0=$1 t
  printf '%s\t%s\t%s\t%s\t%s\n' seconds edge_rss_kb controlplane_rss_kb edge_heap_inuse_kb loadavg1 >"$OUT/rss.tsv"
  while [[ ! -e $OUT/.stop-sampler ]]; do
    t=$(($(date +%s) - t0))
    printf '%d\t%s\t%s\t%s\t%s\n' "$t" "$(rss_kb "$EDGE_PID")" "$(rss_kb "$CP_PID")" "$(heap_kb "$EDGE_METRICS")" \
      "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/rss.tsv"
    if ((t >= REF_S)) && [[ ! -e $OUT/heap-ref.pb.gz ]]; then
      curl -s --max-time 5 "http://$EDGE_METRICS/debug/pprof/heap" -o "$OUT/heap-ref.pb.gz" || true
      # What else runs on the machine (the soak assumes it has it to itself).
      ps -eo pcpu,pid,comm --sort=-pcpu | head -15 >"$OUT/ps-ref.txt" || true
    fi
    # Sleep to the next multiple of RSS_EVERY, in steps, so a stop is quick.
    for _ in $(seq 1 $((RSS_EVERY * 5))); do
      [[ -e $OUT/.stop-sampler ]] && break
      (( ($(date +%s) - t0) >= t + RSS_EVERY )) && break
      sleep 0.2
    done
  done
}

main() {
  install_tools
  mkdir -p "$OUT"
  rm -f "$OUT"/{rss.tsv,ps-ref.txt,heap-ref.pb.gz,heap-end.pb.gz,writer.txt,dnsperf-*.txt,results.txt,.stop-sampler}
  log "generating the reference zone ($NAMES names) and query mix"
  bin/benchzone -out "$OUT" -names "$NAMES"
  # benchzone's IPv4 addresses are 10.x and the record API refuses to proxy
  # a private address (every 20th record is proxied): 11.x, as deploy/bench.
  sed -i -E 's/ IN A 10\./ IN A 11./' "$OUT/zone.db"
  start_zonegrid
  wait_answer "$PORT_EDGE" "host00000.$ZONE"

  local PEAK_FROM="given with --peak"
  if [[ -z $PEAK ]]; then
    log "peak: dnsperf for $PEAK_DURATION s, edge on core $SERVER_CPU, dnsperf on core $CLIENT_CPU"
    taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT_EDGE" -d "$OUT/queries.txt" \
      -l "$PEAK_DURATION" -c 8 -q 200 -t 2 >"$OUT/dnsperf-peak.txt" 2>&1
    PEAK=$(dnsperf_field "$OUT/dnsperf-peak.txt" qps)
    PEAK_FROM="dnsperf $PEAK_DURATION s, 8 clients, 200 in flight, no rate limit: dnsperf-peak.txt"
    [[ -n $PEAK && $PEAK -gt 0 ]] || { echo "no peak measured; see $OUT/dnsperf-peak.txt" >&2; exit 1; }
  fi
  local rate
  rate=$(awk -v p="$PEAK" -v f="$FRACTION" 'BEGIN {printf "%d", p*f}')
  log "soak: $DURATION at $rate q/s ($FRACTION of $PEAK), a write every $WRITE_INTERVAL"

  local t0 wpid spid
  t0=$(date +%s)
  sampler "$t0" & spid=$!; pids+=($spid)
  taskset -c "$CLIENT_CPU" bin/soakwriter -config "$OUT/zonegrid/dnsctl.json" -endpoint "$GRPC" -zone "$ZONE" \
    -edge "127.0.0.1:$PORT_EDGE" -interval "$WRITE_INTERVAL" -duration "${DUR_S}s" \
    >"$OUT/writer.txt" 2>"$OUT/writer.log" & wpid=$!; pids+=($wpid)
  local perf_rc=0
  taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT_EDGE" -d "$OUT/queries.txt" \
    -l "$DUR_S" -Q "$rate" -c 8 -q 200 -t 2 -S 60 >"$OUT/dnsperf-soak.txt" 2>&1 || perf_rc=$?
  local end_s edge_end cp_end
  end_s=$(($(date +%s) - t0))
  edge_end=$(rss_kb "$EDGE_PID"); cp_end=$(rss_kb "$CP_PID")
  printf '%d\t%s\t%s\t%s\t%s\n' "$end_s" "$edge_end" "$cp_end" "$(heap_kb "$EDGE_METRICS")" "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/rss.tsv"
  curl -s --max-time 5 "http://$EDGE_METRICS/debug/pprof/heap" -o "$OUT/heap-end.pb.gz" || true
  touch "$OUT/.stop-sampler"
  local writer_rc=0
  wait "$wpid" || writer_rc=$?
  wait "$spid" 2>/dev/null || true

  # Reference: the first sample at or after REF_S.
  local edge_ref cp_ref ref_at
  read -r ref_at edge_ref cp_ref < <(awk -v r="$REF_S" 'NR>1 && $1>=r {print $1, $2, $3; exit}' "$OUT/rss.tsv") || true
  local sent completed lost qps servfail rcodes growth cp_growth
  sent=$(dnsperf_field "$OUT/dnsperf-soak.txt" sent)
  completed=$(dnsperf_field "$OUT/dnsperf-soak.txt" completed)
  lost=$(dnsperf_field "$OUT/dnsperf-soak.txt" lost)
  qps=$(dnsperf_field "$OUT/dnsperf-soak.txt" qps)
  servfail=$(dnsperf_field "$OUT/dnsperf-soak.txt" SERVFAIL)
  rcodes=$(dnsperf_field "$OUT/dnsperf-soak.txt" rcodes)
  growth=$(awk -v a="${edge_end:-0}" -v b="${edge_ref:-0}" 'BEGIN {if (b>0) printf "%.3f", a/b; else print "n/a"}')
  cp_growth=$(awk -v a="${cp_end:-0}" -v b="${cp_ref:-0}" 'BEGIN {if (b>0) printf "%.3f", a/b; else print "n/a"}')
  local writer
  writer=$(tail -n 1 "$OUT/writer.txt" 2>/dev/null || true)
  local failures=()
  ((perf_rc == 0)) || failures+=("dnsperf exited $perf_rc")
  [[ -n $sent ]] || failures+=("no dnsperf summary")
  ((${servfail:-0} == 0)) || failures+=("$servfail SERVFAIL answers")
  if [[ $growth == n/a ]] || awk -v g="$growth" -v m="$MAX_GROWTH" 'BEGIN {exit !(g > m)}'; then
    failures+=("edge RSS grew $growth× from second $ref_at to the end (limit $MAX_GROWTH)")
  fi
  ((writer_rc == 0)) || failures+=("writer: a write failed or was lost (exit $writer_rc; see writer.log)")

  {
    echo "# soak $(date -u +%FT%TZ) $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
    echo "# zone: $NAMES names; queries: $(wc -l <"$OUT/queries.txt"); edge on core $SERVER_CPU (GOMAXPROCS=${EDGE_GOMAXPROCS:-1}, --rrl-rate 0${EDGE_FLAGS:+, $EDGE_FLAGS}); dnsperf, control plane, writer on core $CLIENT_CPU"
    echo "peak_qps=$PEAK ($PEAK_FROM)"
    echo "soak: duration=${DUR_S}s target_qps=$rate (${FRACTION} of peak) write_interval=$WRITE_INTERVAL"
    echo "queries: sent=$sent answered=$completed lost=$lost achieved_qps=$qps avg_latency_ms=$(dnsperf_field "$OUT/dnsperf-soak.txt" avg)"
    echo "achieved: $(awk -v q="${qps:-0}" -v p="$PEAK" -v r="$rate" 'BEGIN {printf "%.2f of the peak, %.2f of the target", q/p, q/r}')$(awk -v q="${qps:-0}" -v r="$rate" 'BEGIN {if (q < 0.95*r) print " (dnsperf fell short: it shares its core with the control plane and the writer)"}')"
    echo "rcodes: $rcodes"
    echo "servfail=${servfail:-n/a}"
    echo "edge_rss: ref(s=$ref_at)=$(mib "$edge_ref") MiB end(s=$end_s)=$(mib "$edge_end") MiB ratio=$growth"
    echo "controlplane_rss: ref(s=$ref_at)=$(mib "$cp_ref") MiB end(s=$end_s)=$(mib "$cp_end") MiB ratio=$cp_growth (reported, not a criterion; it holds the embedded etcd and NATS)"
    echo "edge_rss_range: min=$(awk 'NR>1 {if (!m || $2<m) m=$2} END {printf "%.1f", m/1024}' "$OUT/rss.tsv") MiB max=$(awk 'NR>1 {if ($2>m) m=$2} END {printf "%.1f", m/1024}' "$OUT/rss.tsv") MiB (every ${RSS_EVERY}s: rss.tsv)"
    echo "writer: ${writer:-no summary (see writer.log)}"
    echo "load average (1 min) during the soak: $(awk 'NR>1 {s+=$5; n++; if ($5>m) m=$5} END {if (n) printf "mean %.2f, max %.2f", s/n, m}' "$OUT/rss.tsv") on $(nproc) cores (the soak's own processes load both cores; more is other work)"
    if ((${#failures[@]})); then
      printf 'FAIL: %s\n' "${failures[@]}"
    else
      echo "PASS: 0 SERVFAIL, edge RSS within 10% of the reference, every write acknowledged and on the edge"
    fi
  } | tee "$OUT/results.txt"
  ((${#failures[@]} == 0))
}

main
