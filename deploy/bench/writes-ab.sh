#!/usr/bin/env bash
# Single-create write throughput of one control-plane binary, on a fresh
# embedded data dir: 10,000 creates with 256 callers into each of two zones.
# Usage: deploy/bench/writes-ab.sh CONTROLPLANE_BIN LABEL
# PIN=0 pins the control plane to core 0, as deploy/bench/run.sh does; unset,
# it uses every core. Run two binaries alternating for a before/after
# (docs/BENCHMARKS.md, "Control-plane writes"). Each zone's line ends with the
# control plane's CPU time (user+system, /proc) per 1,000 writes: on a shared
# machine a steadier figure than writes/s.
set -euo pipefail
cp=$1 label=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d "/tmp/writes-ab-$label.XXXX")
pin=()
[[ -n ${PIN:-} ]] && pin=(taskset -c "$PIN")
"${pin[@]}" "$cp" --embedded --data-dir "$d" --embedded-etcd-port 24792 --embedded-nats-port 43222 \
  --grpc-addr 127.0.0.1:50252 --extra-public-suffixes test >"$d.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$d" "$d.log"' EXIT
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/50252) 2>/dev/null && break; sleep 0.1; done
sleep 1
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # clock ticks
tick=$(getconf CLK_TCK)
for z in a b; do
  c0=$(cpu)
  out=$("$root/bin/benchload" -config "$d/dnsctl.json" -endpoint 127.0.0.1:50252 -zone "w$z.test." \
    -writes 10000 -concurrency 256 2>&1 | grep 'single creates' || true)
  c1=$(cpu)
  echo "$label: $out; control plane CPU $(( (c1 - c0) * 1000 / tick / 10 )) ms per 1,000 writes"
done
