// Command controlplane runs the zonegrid control plane: the gRPC API
// (zones, records, settings) and the zone builder. With --embedded it also
// runs a real etcd and NATS server in-process, for development.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/devcreds"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/server"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parsePool reads an anycast pool flag, the edge's format: comma-separated
// addresses of one family.
func parsePool(s string, v4 bool) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range splitList(s) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("parse pool address: %w", err)
		}
		if a.Is4() != v4 {
			return nil, fmt.Errorf("%s is not of the pool's address family", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	var (
		cfg           server.Config
		etcdEndpoints = fs.String("etcd-endpoints", "127.0.0.1:2379", "comma-separated etcd endpoints")
		nameservers   = fs.String("nameservers", "", "comma-separated nameserver pool (default ns1..ns4.zonegrid.test.)")
		nsIPv4        = fs.String("nameserver-ipv4", "", "comma-separated IPv4 addresses given to custom nameserver names (the edges' anycast addresses; default documentation addresses)")
		nsIPv6        = fs.String("nameserver-ipv6", "", "comma-separated IPv6 addresses given to custom nameserver names (the edges' anycast addresses; default documentation addresses)")
		anycastV4     = fs.String("anycast-v4", "192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13", "the edges' IPv4 anycast pool, comma-separated, as given to every edge's --anycast-v4: A records may not point at it")
		anycastV6     = fs.String("anycast-v6", "2001:db8::10,2001:db8::11,2001:db8::12,2001:db8::13", "the edges' IPv6 anycast pool, comma-separated, as given to every edge's --anycast-v6: AAAA records may not point at it")
		advancedNS    = fs.String("advanced-nameserver-domains", "", "the three comma-separated domains of advanced (Foundation DNS style) nameservers, for Enterprise accounts whose zone defaults ask for them (default fdns-a,fdns-b,fdns-c.zonegrid.test.)")
		extraSuffixes = fs.String("extra-public-suffixes", "", "comma-separated public suffixes added to the Public Suffix List for zone names, e.g. test,example,internal (names under a TLD the list does not know are refused)")
		isEmbedded    = fs.Bool("embedded", false, "run an embedded etcd and NATS server (development)")
		dataDir       = fs.String("data-dir", "", "data directory of the embedded servers (default ./zonegrid-data)")
		etcdPort      = fs.Int("embedded-etcd-port", 0, "client port of the embedded etcd (0 = free port)")
		natsPort      = fs.Int("embedded-nats-port", 0, "port of the embedded NATS server (0 = free port)")
		debug         = fs.Bool("debug", false, "debug logging")
		operatorFile  = fs.String("operator-token-file", "", "file(s) holding the operator's bootstrap API token (every permission on every account), comma-separated to rotate; with --embedded, generated under the data dir when not given")
	)
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", "", "gRPC server certificate (PEM); with --embedded and no --tls-cert, a local CA and certificate are generated under the data dir")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", "", "gRPC server key (PEM)")
	fs.StringVar(&cfg.TLS.ClientCAFile, "tls-client-ca", "", "CA that client certificates must chain to (mutual TLS for machine callers)")
	fs.BoolVar(&cfg.TLS.RequireClientCert, "tls-require-client-cert", false, "refuse gRPC connections without a client certificate (needs --tls-client-ca)")
	fs.DurationVar(&cfg.AuditRetention, "audit-retention", 0, "how long audit log entries are kept (0 = 90 days = 2160h, negative = forever)")
	fs.DurationVar(&cfg.IdempotencyRetention, "idempotency-retention", 0, "how long request ids of mutating calls are remembered for safe retries (0 = 24h, negative = forever)")
	fs.BoolVar(&cfg.AllowPlaintext, "allow-plaintext", false, "allow a plaintext gRPC listener on a non-loopback address (tokens cross the network in the clear)")
	fs.IntVar(&cfg.MaxGroupWrites, "max-group-writes", 0, "record writes of one zone committed in one etcd transaction at most (0 = 500)")
	fs.IntVar(&cfg.MaxTxnOps, "max-txn-ops", 0, "etcd operations in one transaction at most; etcd's --max-txn-ops must allow it (0 = 65536)")
	fs.IntVar(&cfg.DeltaThreshold, "delta-threshold", 0, "records from which a zone's changes are published as deltas (0 = 5000, negative = never)")
	fs.DurationVar(&cfg.BuilderLeaseTTL, "builder-lease-ttl", 0, "builder election lease, whole seconds: a dead leader's successor publishes within about this long, and a leader's writes are fenced by it (0 = 2s; etcd's minimum is 1.5s with default timing)")
	fs.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", 0, "how often the leading builder compares what NATS holds with etcd and republishes what is missing or older (0 = 1m, negative = only on becoming leader)")
	fs.DurationVar(&cfg.EtcdTimeout, "etcd-timeout", 0, "server-side bound on every etcd call: an RPC whose etcd call gets no answer in time fails with Unavailable \"etcd unavailable\" (a group commit of record writes gets six times as long) (0 = 5s)")
	fs.DurationVar(&cfg.EtcdProbeInterval, "etcd-probe-interval", 0, "how often etcd is probed, and how long a probe may take; while probes fail gRPC health is NOT_SERVING and /ready on --metrics-addr answers 503 (0 = 1s)")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:50051", "gRPC listen address")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "Prometheus /metrics and /ready listen address (empty = off)")
	fs.StringVar(&cfg.EtcdTLS.CertFile, "etcd-cert", "", "etcd client certificate (PEM)")
	fs.StringVar(&cfg.EtcdTLS.KeyFile, "etcd-key", "", "etcd client key (PEM)")
	fs.StringVar(&cfg.EtcdTLS.CAFile, "etcd-ca", "", "etcd CA bundle (PEM)")
	fs.StringVar(&cfg.EtcdUsername, "etcd-username", "", "etcd user")
	// The environment is read after parsing, not as the flag's default:
	// -h prints defaults, and a password must not appear there.
	fs.StringVar(&cfg.EtcdPassword, "etcd-password", "", "etcd password (default $ZONEGRID_ETCD_PASSWORD)")
	fs.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS URL")
	fs.StringVar(&cfg.NATSTLS.CertFile, "nats-cert", "", "NATS client certificate (PEM)")
	fs.StringVar(&cfg.NATSTLS.KeyFile, "nats-key", "", "NATS client key (PEM)")
	fs.StringVar(&cfg.NATSTLS.CAFile, "nats-ca", "", "NATS CA bundle (PEM)")
	fs.StringVar(&cfg.NATSCredsFile, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&cfg.NATSNkeySeedFile, "nats-nkey-seed", "", "NATS nkey seed file (with --embedded: the generated DATA_DIR/credentials/controlplane.nk)")
	fs.StringVar(&cfg.SnapshotSigningKeyFile, "snapshot-signing-key", "", "PEM Ed25519 private key that signs every snapshot (with --embedded: generated as DATA_DIR/credentials/snapshot-signing.pem, public key next to it); empty without --embedded: snapshots unsigned")
	fs.StringVar(&cfg.Prefix, "prefix", "/zonegrid", "etcd key prefix")
	fs.StringVar(&cfg.SOARname, "soa-rname", "dns.zonegrid.test.", "SOA RNAME of every zone")
	fs.StringVar(&cfg.PartialSuffix, "partial-suffix", "cdn.zonegrid.test.", "suffix partial (CNAME) setups point hostnames at; its domain is reserved")
	fs.StringVar(&cfg.ActivationMode, "activation", "immediate", "zone activation: immediate | delegation")
	fs.StringVar(&cfg.ActivationResolver, "activation-resolver", "", "resolver host:port for delegation activation")
	fs.StringVar(&cfg.QuickScanResolver, "quick-scan-resolver", "", "resolver host:port that finds a zone's current nameservers for the records quick scan (empty = --activation-resolver; neither = no quick scan)")
	lifecycleDemo := fs.Bool("lifecycle-demo", false, "run the zone lifecycle in minutes instead of days (deleted 5 min after pending, moved/deleted zones after 1 min, checks every 5-10 s): for demonstrations only, never production")
	kekFiles := fs.String("dnssec-kek-file", "", "key-encryption key files (base64 of 32 random bytes, e.g. `head -c32 /dev/urandom | base64`) sealing every secret of the platform (DNSSEC private keys, zone transfer TSIG secrets; without one neither can be created), comma-separated: the first seals, all open; edges need the same files (embedded mode: generated under the data dir)")
	fs.DurationVar(&cfg.LifecycleInterval, "lifecycle-interval", 0, "how often the zone lifecycle leader looks for due timers (deletion after 28 days pending, 7 days moved, purge 7 days after deletion) and scheduled activation checks (0 = 10s)")
	fs.IntVar(&cfg.KVReplicas, "kv-replicas", 1, "replicas of the JetStream buckets")
	fs.StringVar(&cfg.NonProxiableFile, "non-proxiable-file", "", "CNAME targets that must not be proxied, one \"exact|exact-or-subdomain|subdomain NAME\" per line; replaces the built-in list (empty = built-in)")
	cfg.DNSSEC.RegisterFlags(fs) // --dnssec-zsk-prepublish and the other rollover durations
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.EtcdPassword == "" {
		cfg.EtcdPassword = os.Getenv("ZONEGRID_ETCD_PASSWORD")
	}
	cfg.EtcdEndpoints = splitList(*etcdEndpoints)
	cfg.NameserverPool = splitList(*nameservers)
	cfg.AdvancedNameserverDomains = splitList(*advancedNS)
	cfg.NameserverIPv4, cfg.NameserverIPv6 = splitList(*nsIPv4), splitList(*nsIPv6)
	var err error
	if cfg.AnycastIPv4, err = parsePool(*anycastV4, true); err != nil {
		return fmt.Errorf("--anycast-v4: %w", err)
	}
	if cfg.AnycastIPv6, err = parsePool(*anycastV6, false); err != nil {
		return fmt.Errorf("--anycast-v6: %w", err)
	}
	if *lifecycleDemo {
		cfg.Lifecycle = lifecycle.DemoPolicy()
		if cfg.LifecycleInterval == 0 {
			cfg.LifecycleInterval = time.Second
		}
	}
	cfg.ExtraPublicSuffixes = splitList(*extraSuffixes)

	zcfg := zap.NewProductionConfig()
	if *debug {
		zcfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := zcfg.Build()
	if err != nil {
		return fmt.Errorf("build logger: %w", err)
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var devCA string
	if *isEmbedded {
		dir := *dataDir
		if dir == "" {
			dir = "zonegrid-data"
		}
		if dir, err = filepath.Abs(dir); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir, EtcdClientPort: *etcdPort, NATSPort: *natsPort, Secure: true}, log.Named("embedded"))
		if err != nil {
			return err
		}
		defer srv.Close()
		cfg.EtcdEndpoints = srv.EtcdEndpoints()
		cfg.NATSURL = srv.NATSURL()
		// The embedded servers require credentials (generated under the
		// data dir); the edge's are there too, for deploy/local/run.sh.
		creds := srv.Credentials()
		cfg.EtcdUsername, cfg.EtcdPassword = creds.EtcdUsername, creds.EtcdPassword
		cfg.NATSNkeySeedFile = creds.ControlPlaneNkeySeedFile
		if cfg.SnapshotSigningKeyFile == "" {
			cfg.SnapshotSigningKeyFile = filepath.Join(creds.Dir, "snapshot-signing.pem")
			signer, err := snapshot.EnsureSigningKey(cfg.SnapshotSigningKeyFile, filepath.Join(creds.Dir, "snapshot-signing.pub.pem"))
			if err != nil {
				return err
			}
			log.Info("snapshot signing key", zap.String("key_id", signer.KeyID()),
				zap.String("trust_key_for_edges", filepath.Join(creds.Dir, "snapshot-signing.pub.pem")))
		}
		if *kekFiles == "" {
			*kekFiles = filepath.Join(creds.Dir, "dnssec.kek")
			if _, err := keyseal.EnsureFile(*kekFiles); err != nil {
				return err
			}
		}
		log.Info("embedded servers require credentials", zap.String("credentials_dir", creds.Dir),
			zap.String("edge_nkey_seed", creds.EdgeNkeySeedFile))
		if *operatorFile == "" {
			*operatorFile = filepath.Join(dir, "credentials", "operator.token")
			if _, err := devcreds.OperatorToken(*operatorFile); err != nil {
				return err
			}
		}
		if cfg.TLS.CertFile == "" {
			f, err := devcreds.ServerTLS(filepath.Join(dir, "tls"))
			if err != nil {
				return err
			}
			cfg.TLS.CertFile, cfg.TLS.KeyFile = f.Cert, f.Key
			devCA = f.CA
		}
	}
	cfg.DnssecKEKFiles = splitList(*kekFiles)
	for _, f := range splitList(*operatorFile) {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("operator token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if !strings.HasPrefix(tok, "zgt_operator_") || len(tok) < len("zgt_operator_")+32 {
			return fmt.Errorf("operator token %s: not of the form zgt_operator_<at least 32 random characters>", f)
		}
		cfg.OperatorTokens = append(cfg.OperatorTokens, tok)
	}

	if cfg.SnapshotSigningKeyFile == "" {
		log.Warn("snapshots are published unsigned (no --snapshot-signing-key): edges must run with --insecure-unsigned-snapshots")
	}
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		s.Stop()
		return err
	}
	log.Info("control plane ready",
		zap.Strings("etcd", cfg.EtcdEndpoints), zap.String("nats", cfg.NATSURL), zap.String("grpc", s.GRPCAddr()))
	fmt.Printf("etcd=%s nats=%s grpc=%s\n", strings.Join(cfg.EtcdEndpoints, ","), cfg.NATSURL, s.GRPCAddr())
	if *isEmbedded {
		// dnsctl finds this file (clientconfig.DefaultFiles) and needs no
		// flags: the endpoint, the operator token and the local CA.
		cc := clientconfig.Config{Endpoint: s.GRPCAddr(), TokenFile: splitList(*operatorFile)[0], TLS: devCA != "", CAFile: devCA}
		path := filepath.Join(*dataDir, "dnsctl.json")
		if *dataDir == "" {
			path = filepath.Join("zonegrid-data", "dnsctl.json")
		}
		if err := clientconfig.Save(path, cc); err != nil {
			return err
		}
		log.Info("client config written", zap.String("path", path))
	}

	<-ctx.Done()
	log.Info("shutting down")
	s.Stop()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
