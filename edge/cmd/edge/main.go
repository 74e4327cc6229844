// Command edge runs one zonegrid edge: an authoritative DNS server that
// answers from zone snapshots it follows over NATS JetStream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/edge/dnsserver"
	"github.com/zonegrid/zonegrid/edge/heapgoal"
	"github.com/zonegrid/zonegrid/edge/node"
	"github.com/zonegrid/zonegrid/edge/rrl"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

// settings are the command line, parsed and checked.
type settings struct {
	cfg      node.Config
	headroom float64 // --heap-headroom
	debug    bool
}

// parseFlags turns the command line into the node's configuration, or an
// error naming the flag at fault.
func parseFlags(args []string) (settings, error) {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	var (
		listen   = fs.String("listen", "127.0.0.1:8053", "UDP and TCP listen address (shorthand for --udp-addr and --tcp-addr)")
		udpAddr  = fs.String("udp-addr", "", "UDP listen address (default: --listen)")
		tcpAddr  = fs.String("tcp-addr", "", "TCP listen address (default: the UDP address)")
		metrics  = fs.String("metrics-addr", "", "HTTP address for /metrics and /ready (empty: off)")
		natsURL  = fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
		natsCert = fs.String("nats-cert", "", "NATS client certificate (PEM)")
		natsKey  = fs.String("nats-key", "", "NATS client key (PEM)")
		natsCA   = fs.String("nats-ca", "", "CA bundle for the NATS server (PEM)")
		creds    = fs.String("nats-creds", "", "NATS credentials file")
		nkeySeed = fs.String("nats-nkey-seed", "", "NATS nkey seed file (the edge user of the embedded server: DATA_DIR/credentials/edge.nk)")
		trust    = fs.String("snapshot-trust-keys", "", "PEM Ed25519 public keys whose snapshot signatures are accepted, comma-separated files (several during a key rotation)")
		insecure = fs.Bool("insecure-unsigned-snapshots", false, "accept snapshots without verifying signatures (anyone who can write to NATS can change answers)")
		v4       = fs.String("anycast-v4", "192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13", "IPv4 anycast pool for proxied names, comma-separated")
		v6       = fs.String("anycast-v6", "2001:db8::10,2001:db8::11,2001:db8::12,2001:db8::13", "IPv6 anycast pool for proxied names, comma-separated")
		tunnel   = fs.String("tunnel-domain", "cfargotunnel.com", "the platform's tunnel domain: proxied CNAMEs to names below it stay proxied under enforce DNS-only (empty: none)")
		upstream = fs.String("upstream", "", "host:port resolvers for flattening external CNAME targets, comma-separated")
		sockets  = fs.Int("udp-sockets", 0, "SO_REUSEPORT UDP sockets, one reader each (0: GOMAXPROCS; Linux only)")
		rawUDP   = fs.Bool("udp-raw-syscalls", true, "call recvmmsg/sendmmsg as raw system calls the Go scheduler does not see (Linux): less CPU per answer and more queries/s; false (plain calls) for an edge sharing its cgroup with other busy processes, where raw calls slow the propagation of changes at saturation (edge/dnsserver/README.md)")
		cache    = fs.Int("answer-cache", 0, "slots of the packed-answer cache (0: default, negative: off)")
		tcpMax   = fs.Int("tcp-max-conns", dnsserver.DefaultTCPMaxConns, "TCP connections open at once; when full, a new one evicts the connection idle longest")
		tcpPer   = fs.Int("tcp-max-conns-per-source", dnsserver.DefaultTCPMaxConnsPerSource, "TCP connections per IPv4 address or IPv6 /64 (more are refused; negative: no limit)")
		tcpIdle  = fs.Duration("tcp-idle-timeout", dnsserver.DefaultTCPIdleTimeout, "how long a TCP connection may wait for its next query (shrinks to 500ms as the connections fill up)")
		rrlRate  = fs.Int("rrl-rate", rrl.DefaultRate, "response rate limiting: UDP responses a second per client prefix, response class and name (0: off)")
		rrlSlip  = fs.Int("rrl-slip", rrl.DefaultSlip, "every Nth response over the rate is sent truncated (TC) instead of dropped (0: drop all)")
		rrlWin   = fs.Duration("rrl-window", rrl.DefaultWindow, "response rate limiting window: rate × window responses per window")
		rrlV4    = fs.Int("rrl-ipv4-prefix", rrl.DefaultIPv4PrefixLen, "IPv4 prefix length clients are grouped by for rate limiting")
		rrlV6    = fs.Int("rrl-ipv6-prefix", rrl.DefaultIPv6PrefixLen, "IPv6 prefix length clients are grouped by for rate limiting")
		rrlTable = fs.Int("rrl-table-size", rrl.DefaultTableSize, "rate limiting counters (32 bytes each)")
		kekFiles = fs.String("dnssec-kek-file", "", "key-encryption key files opening zones' DNSSEC keys, comma-separated (the control plane's --dnssec-kek-file: DATA_DIR/credentials/dnssec.kek); empty: zones are served unsigned")
		pprofOn  = fs.Bool("pprof", false, "serve /debug/pprof/ on --metrics-addr")
		xfrAddr  = fs.String("xfr-listen", "", "outgoing zone transfers: TCP and UDP address answering SOA, AXFR and IXFR for zones with outgoing transfers enabled (docs/ZONE_TRANSFERS.md); empty: off")
		headroom = fs.Float64("heap-headroom", heapgoal.DefaultConfig.Headroom, "once ready, GOGC is set so the heap grows at most this fraction over its live data (at least 8 MiB) between collections (edge/heapgoal); 0: the runtime's GOGC (also when GOGC is set in the environment)")
		debug    = fs.Bool("debug", false, "debug logging")
	)
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	cfg := node.Config{
		UDPAddr: *udpAddr, TCPAddr: *tcpAddr, MetricsAddr: *metrics,
		NATSURL:               *natsURL,
		NATSTLS:               node.TLSFiles{CertFile: *natsCert, KeyFile: *natsKey, CAFile: *natsCA},
		NATSCredsFile:         *creds,
		NATSNkeySeedFile:      *nkeySeed,
		SnapshotTrustKeyFiles: splitList(*trust),
		DNSSECKEKFiles:        splitList(*kekFiles),
		Upstreams:             splitList(*upstream),
		UDPSockets:            *sockets, UDPPlainSyscalls: !*rawUDP, AnswerCacheSlots: *cache, Pprof: *pprofOn,
		XFRAddr:     *xfrAddr,
		TCPMaxConns: *tcpMax, TCPMaxConnsPerSource: *tcpPer, TCPIdleTimeout: *tcpIdle,
		RRL: rrl.Config{Rate: *rrlRate, Slip: *rrlSlip, Window: *rrlWin,
			IPv4PrefixLen: *rrlV4, IPv6PrefixLen: *rrlV6, TableSize: *rrlTable},
	}
	if *tcpMax <= 0 || *tcpIdle <= 0 {
		return settings{}, errors.New("--tcp-max-conns and --tcp-idle-timeout must be positive")
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = *listen
	}
	if cfg.TCPAddr == "" {
		if *udpAddr == "" {
			cfg.TCPAddr = *listen
		} else {
			cfg.TCPAddr = cfg.UDPAddr
		}
	}
	if len(cfg.SnapshotTrustKeyFiles) == 0 && !*insecure {
		return settings{}, errors.New("--snapshot-trust-keys is required (the control plane's public key; " +
			"`make run` writes it to DATA_DIR/credentials/snapshot-signing.pub.pem), or --insecure-unsigned-snapshots")
	}
	if len(cfg.SnapshotTrustKeyFiles) > 0 && *insecure {
		return settings{}, errors.New("--snapshot-trust-keys and --insecure-unsigned-snapshots exclude each other")
	}
	var err error
	if cfg.AnycastIPv4, err = parseAddrs(*v4); err != nil {
		return settings{}, fmt.Errorf("--anycast-v4: %w", err)
	}
	if cfg.AnycastIPv6, err = parseAddrs(*v6); err != nil {
		return settings{}, fmt.Errorf("--anycast-v6: %w", err)
	}
	if _, ok := dns.IsDomainName(*tunnel); *tunnel != "" && !ok {
		return settings{}, fmt.Errorf("--tunnel-domain: %q is not a domain name", *tunnel)
	}
	cfg.TunnelDomain = *tunnel
	return settings{cfg: cfg, headroom: *headroom, debug: *debug}, nil
}

func run(args []string) error {
	set, err := parseFlags(args)
	if err != nil {
		return err
	}
	cfg := set.cfg
	zc := zap.NewProductionConfig()
	if set.debug {
		zc.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := zc.Build()
	if err != nil {
		return fmt.Errorf("logger: %w", err)
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do at exit

	n, err := node.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("edge listening on udp %s tcp %s\n", n.UDPAddr(), n.TCPAddr())
	go func() {
		select {
		case <-n.Ready():
			hc := heapgoal.DefaultConfig
			hc.Headroom = set.headroom
			heapgoal.Run(ctx, hc, log.Named("heapgoal"))
		case <-ctx.Done():
		}
	}()
	<-ctx.Done()
	log.Info("shutting down")
	return n.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseAddrs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range splitList(s) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
