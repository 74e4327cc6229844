#!/usr/bin/env bash
# Starts the whole system on one machine: the control plane with embedded etcd
# and NATS (real servers, run as libraries) and one edge. Ctrl-C stops both.
# Every address is overridable through the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA_DIR=${DATA_DIR:-$PWD/.data}
GRPC_ADDR=${GRPC_ADDR:-127.0.0.1:50051}
DNS_ADDR=${DNS_ADDR:-127.0.0.1:8053}
ETCD_PORT=${ETCD_PORT:-23790}
NATS_PORT=${NATS_PORT:-42220}
CP_METRICS=${CP_METRICS:-127.0.0.1:9152}
EDGE_METRICS=${EDGE_METRICS:-127.0.0.1:9153}
# Outgoing zone transfers (SOA, AXFR, IXFR to the secondaries of zones with
# outgoing transfers enabled, docs/ZONE_TRANSFERS.md); empty turns it off.
XFR_ADDR=${XFR_ADDR-127.0.0.1:8054}
# The edges answer proxied names with these pools and the control plane
# refuses A/AAAA records pointing at them: both get the same values.
ANYCAST_V4=${ANYCAST_V4:-192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13}
ANYCAST_V6=${ANYCAST_V6:-2001:db8::10,2001:db8::11,2001:db8::12,2001:db8::13}

mkdir -p "$DATA_DIR"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# ACTIVATION=delegation: zones activate only when "the public DNS" delegates
# them, played by bin/testparent answering from $DATA_DIR/parent.zone (edit
# it to delegate or move a zone), with the lifecycle's timers in minutes
# instead of days (docs/ZONE_LIFECYCLE.md, "Walk a zone through its life").
ACTIVATION=${ACTIVATION:-immediate}
PARENT_ADDR=${PARENT_ADDR:-127.0.0.1:8054}
activation=(--activation immediate)
if [ "$ACTIVATION" = delegation ]; then
  touch "$DATA_DIR/parent.zone"
  bin/testparent --listen "$PARENT_ADDR" --file "$DATA_DIR/parent.zone" &
  pids+=($!)
  activation=(--activation delegation --activation-resolver "$PARENT_ADDR" --lifecycle-demo)
fi

bin/controlplane --embedded --data-dir "$DATA_DIR" \
  --embedded-etcd-port "$ETCD_PORT" --embedded-nats-port "$NATS_PORT" \
  --grpc-addr "$GRPC_ADDR" --metrics-addr "$CP_METRICS" "${activation[@]}" \
  --anycast-v4 "$ANYCAST_V4" --anycast-v6 "$ANYCAST_V6" &
pids+=($!)

# The edge needs NATS; wait until the control plane (and so NATS) listens.
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/${GRPC_ADDR%:*}/${GRPC_ADDR##*:}") 2>/dev/null && break
  sleep 0.1
done

# The embedded NATS admits only known users and the edge verifies every
# snapshot: the control plane wrote the edge's nkey seed and its snapshot
# public key under $DATA_DIR/credentials before it started listening, and
# the key-encryption key that opens zones' DNSSEC keys (live signing).
xfr=()
if [ -n "$XFR_ADDR" ]; then xfr=(--xfr-listen "$XFR_ADDR"); fi
bin/edge --listen "$DNS_ADDR" --nats-url "nats://127.0.0.1:$NATS_PORT" \
  --nats-nkey-seed "$DATA_DIR/credentials/edge.nk" \
  --snapshot-trust-keys "$DATA_DIR/credentials/snapshot-signing.pub.pem" \
  --dnssec-kek-file "$DATA_DIR/credentials/dnssec.kek" \
  --anycast-v4 "$ANYCAST_V4" --anycast-v6 "$ANYCAST_V6" \
  --metrics-addr "$EDGE_METRICS" "${xfr[@]}" &
pids+=($!)

cat <<MSG

zonegrid is running (data in $DATA_DIR):
  control plane gRPC  $GRPC_ADDR   (TLS with the local CA $DATA_DIR/tls/ca.pem; reflection: grpcurl -cacert $DATA_DIR/tls/ca.pem $GRPC_ADDR list)
  API token           $DATA_DIR/credentials/operator.token (the operator's; dnsctl reads $DATA_DIR/dnsctl.json)
  edge DNS            $DNS_ADDR    (UDP and TCP)
  edge transfers      ${XFR_ADDR:-off}    (SOA/AXFR/IXFR for zones with outgoing transfers)
  etcd                http://127.0.0.1:$ETCD_PORT
  NATS                nats://127.0.0.1:$NATS_PORT
  metrics             http://$CP_METRICS/metrics  http://$EDGE_METRICS/metrics

Try (from this directory; elsewhere first: export ZONEGRID_CONFIG=$DATA_DIR/dnsctl.json):
  bin/dnsctl zone create example.com --account acme
  bin/dnsctl record create example.com --account acme --name www --type A --content 192.0.2.1
  dig @${DNS_ADDR%:*} -p ${DNS_ADDR##*:} www.example.com A

MSG
wait -n "${pids[@]}"
