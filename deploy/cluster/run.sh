#!/usr/bin/env bash
# The chaos layout on one machine, every component a real process:
# 3 etcd members (one cluster), 3 nats-server (one JetStream cluster, R3
# buckets), 2 control planes (one builder leads, elected through etcd) and
# 3 edges. e2e/chaos_test.go starts the same layout with the same flags.
#
#   deploy/cluster/run.sh [up]             build, start everything, wait; Ctrl-C stops all
#   deploy/cluster/run.sh status           which component runs (pid), who leads
#   deploy/cluster/run.sh kill NAME        kill -9 (NAME: etcd0..2 nats0..2 cp0..1 edge0..2)
#   deploy/cluster/run.sh stop|cont NAME   SIGSTOP / SIGCONT
#   deploy/cluster/run.sh start NAME       start a killed component again
#   deploy/cluster/run.sh wipe natsN       kill -9 a NATS server, delete its JetStream store, start it
#
# Plain loopback: etcd and NATS without auth or TLS, the gRPC API in
# plaintext on 127.0.0.1 with an operator token, snapshots signed. Not for
# anything but loopback. Environment: DATA_DIR (.data/cluster), BASE_PORT (24000).
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA_DIR=${DATA_DIR:-$PWD/.data/cluster}
BASE=${BASE_PORT:-24000}
BIN=$PWD/bin
LOGS=$DATA_DIR/logs
RUN=$DATA_DIR/run

etcd_client() { echo "127.0.0.1:$((BASE + $1 * 2))"; }
etcd_peer() { echo "127.0.0.1:$((BASE + $1 * 2 + 1))"; }
nats_client() { echo "127.0.0.1:$((BASE + 10 + $1 * 3))"; }
nats_route() { echo "127.0.0.1:$((BASE + 11 + $1 * 3))"; }
nats_monitor() { echo "127.0.0.1:$((BASE + 12 + $1 * 3))"; }
cp_grpc() { echo "127.0.0.1:$((BASE + 20 + $1 * 2))"; }
cp_metrics() { echo "127.0.0.1:$((BASE + 21 + $1 * 2))"; }
edge_dns() { echo "127.0.0.1:$((BASE + 30 + $1 * 2))"; }
edge_metrics() { echo "127.0.0.1:$((BASE + 31 + $1 * 2))"; }

join() { local IFS=,; echo "$*"; }
ETCD_ENDPOINTS=$(join "$(etcd_client 0)" "$(etcd_client 1)" "$(etcd_client 2)")
NATS_URLS=$(join "nats://$(nats_client 0)" "nats://$(nats_client 1)" "nats://$(nats_client 2)")
INITIAL_CLUSTER=$(join "e0=http://$(etcd_peer 0)" "e1=http://$(etcd_peer 1)" "e2=http://$(etcd_peer 2)")
ROUTES="nats://$(nats_route 0), nats://$(nats_route 1), nats://$(nats_route 2)"
CREDS=$DATA_DIR/credentials

# cmdline NAME prints the component's command line, one argument a line.
cmdline() {
  local name=$1 i=${1: -1}
  case $name in
  etcd?)
    printf '%s\n' "$BIN/etcd" --name "e$i" --data-dir "$DATA_DIR/etcd$i" \
      --listen-client-urls "http://$(etcd_client "$i")" --advertise-client-urls "http://$(etcd_client "$i")" \
      --listen-peer-urls "http://$(etcd_peer "$i")" --initial-advertise-peer-urls "http://$(etcd_peer "$i")" \
      --initial-cluster "$INITIAL_CLUSTER" --initial-cluster-token zonegrid-chaos --initial-cluster-state new \
      --max-txn-ops 65536 --max-request-bytes 33554432 --warning-apply-duration 5s --warning-unary-request-duration 5s --log-level warn ;;
  nats?)
    printf '%s\n' "$BIN/nats-server" -c "$DATA_DIR/nats$i.conf" ;;
  cp?)
    printf '%s\n' "$BIN/controlplane" --grpc-addr "$(cp_grpc "$i")" --metrics-addr "$(cp_metrics "$i")" \
      --etcd-endpoints "$ETCD_ENDPOINTS" --nats-url "$NATS_URLS" --kv-replicas 3 \
      --operator-token-file "$CREDS/operator.token" --snapshot-signing-key "$CREDS/snapshot-signing.pem" \
      --extra-public-suffixes test,example ;;
  edge?)
    printf '%s\n' "$BIN/edge" --listen "$(edge_dns "$i")" --metrics-addr "$(edge_metrics "$i")" \
      --nats-url "$NATS_URLS" --snapshot-trust-keys "$CREDS/snapshot-signing.pub.pem" ;;
  *) echo "unknown component $name" >&2; exit 2 ;;
  esac
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

start() {
  local name=$1
  if alive "$name"; then echo "$name already runs (pid $(pid_of "$name"))"; return; fi
  mapfile -t cmd < <(cmdline "$name")
  # setsid: its own process group, so kill/stop reach the whole component.
  setsid "${cmd[@]}" >>"$LOGS/$name.log" 2>&1 &
  disown
  echo $! >"$RUN/$name.pid"
  echo "$name started (pid $!, log $LOGS/$name.log)"
}

signal() { local p; p=$(pid_of "$2"); [[ -n $p ]] && kill "-$1" -- "-$p" 2>/dev/null || kill "-$1" "$p" 2>/dev/null || true; }

wait_http() { # URL [seconds]
  for _ in $(seq 1 $((${2:-60} * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

wait_tcp() { # host:port
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

all=(etcd0 etcd1 etcd2 nats0 nats1 nats2 cp0 cp1 edge0 edge1 edge2)

stop_all() {
  trap - EXIT INT TERM
  for n in "${all[@]}"; do signal CONT "$n"; signal KILL "$n"; done
  echo "stopped; data and logs stay in $DATA_DIR (rm -rf it to start afresh)"
  exit 0
}

status() {
  for n in "${all[@]}"; do
    if alive "$n"; then echo "$n pid $(pid_of "$n")"; else echo "$n down"; fi
  done
  for i in 0 1; do
    # grep without -q reads the whole body (pipefail and SIGPIPE).
    curl -fsS "http://$(cp_metrics "$i")/metrics" 2>/dev/null | grep '^zonegrid_builder_leader 1' >/dev/null && echo "builder leader: cp$i"
  done
  for i in 0 1 2; do
    # etcd's /metrics: etcd_server_is_leader
    curl -fsS "http://$(etcd_client "$i")/metrics" 2>/dev/null | grep '^etcd_server_is_leader 1' >/dev/null && echo "etcd leader: etcd$i"
  done
  return 0
}

up() {
  mkdir -p "$DATA_DIR" "$LOGS" "$RUN" "$CREDS" "$BIN"
  echo "building controlplane, dnsctl, edge, etcd and nats-server into $BIN"
  go build -o "$BIN/" ./controlplane/cmd/controlplane ./controlplane/cmd/dnsctl
  go build -o "$BIN/" ./edge/cmd/edge
  (cd e2e && go build -o "$BIN/etcd" go.etcd.io/etcd/server/v3 && go build -o "$BIN/nats-server" github.com/nats-io/nats-server/v2)

  if [[ ! -f $CREDS/operator.token ]]; then
    (umask 077; printf 'zgt_operator_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >"$CREDS/operator.token")
  fi
  if [[ ! -f $CREDS/snapshot-signing.pem ]]; then
    (umask 077; openssl genpkey -algorithm ed25519 -out "$CREDS/snapshot-signing.pem")
    openssl pkey -in "$CREDS/snapshot-signing.pem" -pubout -out "$CREDS/snapshot-signing.pub.pem"
  fi
  for i in 0 1 2; do
    cat >"$DATA_DIR/nats$i.conf" <<CONF
server_name: n$i
listen: $(nats_client "$i")
http: $(nats_monitor "$i")
jetstream {
  store_dir: "$DATA_DIR/nats$i"
}
cluster {
  name: zonegrid-chaos
  listen: $(nats_route "$i")
  routes: [$ROUTES]
}
CONF
  done
  printf '{"endpoint": "%s", "token_file": "%s"}\n' "$(cp_grpc 0)" "$CREDS/operator.token" >"$DATA_DIR/dnsctl.json"

  trap stop_all EXIT INT TERM
  for n in etcd0 etcd1 etcd2 nats0 nats1 nats2; do start "$n"; done
  for i in 0 1 2; do wait_tcp "$(etcd_client "$i")"; wait_http "http://$(nats_monitor "$i")/healthz"; done
  for n in cp0 cp1; do start "$n"; done
  for i in 0 1; do wait_http "http://$(cp_metrics "$i")/ready"; done
  for n in edge0 edge1 edge2; do start "$n"; done
  for i in 0 1 2; do wait_http "http://$(edge_metrics "$i")/ready"; done

  cat <<MSG

zonegrid cluster layout is running (data and logs in $DATA_DIR):
  etcd        $ETCD_ENDPOINTS
  NATS        $NATS_URLS   (monitoring http://$(nats_monitor 0) ...)
  gRPC        $(cp_grpc 0) $(cp_grpc 1)   (plaintext, token $CREDS/operator.token)
  edges DNS   $(edge_dns 0) $(edge_dns 1) $(edge_dns 2)   (/ready and /metrics on $(edge_metrics 0) ...)

Try (another terminal):
  export ZONEGRID_CONFIG=$DATA_DIR/dnsctl.json
  bin/dnsctl zone create example.com --account acme
  bin/dnsctl record create example.com --account acme --name www --type A --content 192.0.2.1
  dig @127.0.0.1 -p $((BASE + 30)) www.example.com A        # edge0
  deploy/cluster/run.sh status; deploy/cluster/run.sh kill cp0; deploy/cluster/run.sh start cp0

Ctrl-C stops everything.
MSG
  # wait returns on a signal, so the trap runs at once.
  while true; do sleep 3600 & wait $!; done
}

cmd=${1:-up}
case $cmd in
up) up ;;
status) status ;;
start) start "$2" ;;
kill) signal CONT "$2"; signal KILL "$2" ;;
stop) signal STOP "$2" ;;
cont) signal CONT "$2" ;;
wipe)
  [[ $2 == nats? ]] || { echo "wipe takes a NATS server (nats0..2)" >&2; exit 2; }
  signal KILL "$2"; sleep 0.2; rm -rf "$DATA_DIR/${2}"; start "$2" ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac
