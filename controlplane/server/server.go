// Package server wires the control plane together as a library: etcd and
// NATS clients, the store, the gRPC services (zones, records, settings),
// health, reflection, metrics and the zone builder. cmd/controlplane and
// the end-to-end tests both run it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/zonegrid/zonegrid/controlplane/auditsweep"
	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/authz"
	"github.com/zonegrid/zonegrid/controlplane/builder"
	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/grpccodec"
	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/notifyin"
	"github.com/zonegrid/zonegrid/controlplane/quickscan"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/controlplane/xfrin"
	"github.com/zonegrid/zonegrid/controlplane/xfrout"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/auditlog"
	"github.com/zonegrid/zonegrid/services/customns"
	dnssecsvc "github.com/zonegrid/zonegrid/services/dnssec"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/settings"
	"github.com/zonegrid/zonegrid/services/tenants"
	"github.com/zonegrid/zonegrid/services/tokens"
	"github.com/zonegrid/zonegrid/services/transfers"
	"github.com/zonegrid/zonegrid/services/zones"
)

// ServerTLS configures TLS on the gRPC listener; an empty CertFile means
// plaintext (allowed on loopback addresses only, unless AllowPlaintext).
type ServerTLS struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, verifies client certificates against this
	// CA: mutual TLS for machine callers. RequireClientCert refuses
	// connections without one; otherwise a presented certificate must
	// verify and an absent one is allowed. Either way every call still
	// needs an API token.
	ClientCAFile      string
	RequireClientCert bool
}

// TLSFiles names PEM files for a TLS client; all empty means no TLS.
type TLSFiles struct{ CertFile, KeyFile, CAFile string }

func (t TLSFiles) enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// Config configures the control plane.
type Config struct {
	GRPCAddr      string // e.g. "127.0.0.1:0"
	MetricsAddr   string // "" = off
	EtcdEndpoints []string
	EtcdTLS       TLSFiles
	EtcdUsername  string
	EtcdPassword  string
	NATSURL       string
	NATSTLS       TLSFiles
	NATSCredsFile string
	Prefix        string // etcd key prefix; "" = store.DefaultPrefix
	// NATSNkeySeedFile authenticates to NATS with an nkey seed (the
	// control plane's user of pkg/natsauth).
	NATSNkeySeedFile string
	// SnapshotSigningKeyFile is the PEM Ed25519 private key the builder
	// signs every snapshot with; "" publishes unsigned snapshots.
	SnapshotSigningKeyFile string
	// NameserverPool; empty = nameservers.DefaultPool.
	NameserverPool []string
	// NameserverIPv4 and NameserverIPv6 are the addresses custom
	// nameserver names are given (the edges' anycast addresses); empty =
	// documentation addresses for development.
	NameserverIPv4, NameserverIPv6 []string
	// QuickScanResolver (host:port) finds a zone's current nameservers for
	// the records quick scan; empty = ActivationResolver; neither = no
	// quick scan.
	QuickScanResolver string
	// AdvancedNameserverDomains are the three domains of advanced
	// nameservers; empty = nameservers.DefaultAdvancedDomains.
	AdvancedNameserverDomains []string
	// SOARname of every zone; "" = "dns.zonegrid.test.".
	SOARname string
	// ExtraPublicSuffixes are added to the Public Suffix List for zone
	// names (e.g. "test" for testing TLDs); a name under a TLD the list
	// does not know is refused otherwise.
	ExtraPublicSuffixes []string
	// PartialSuffix is the partial-setup suffix; its domain is reserved
	// like the nameservers' and the SOA contact's. "" =
	// zones.DefaultPartialSuffix.
	PartialSuffix string
	// ActivationMode is "immediate" (default) or "delegation".
	ActivationMode string
	// ActivationResolver is host:port for delegation mode.
	ActivationResolver string
	// Lifecycle is the zone lifecycle's policy (timers, check schedule,
	// the on-demand check's rate limit); zero fields are the documented
	// defaults (controlplane/lifecycle).
	Lifecycle lifecycle.Policy
	// LifecycleInterval is how often the lifecycle leader looks for due
	// timers and checks; 0 = 10 s.
	LifecycleInterval time.Duration
	// DnssecKEKFiles are the key-encryption keys (pkg/keyseal files) that
	// seal DNSSEC private keys and TSIG secrets: the first seals, all open
	// (a KEK rotation lists the new one first). Empty: DNSSEC cannot be
	// enabled and TSIG keys cannot be created.
	DnssecKEKFiles []string
	// DNSSEC times key rollovers and DS checks; zero fields are the
	// defaults (controlplane/dnssec).
	DNSSEC cpdnssec.Policy
	// KVReplicas of the JetStream buckets; 0 = 1.
	KVReplicas int
	// DisableBuilder runs only the API (for API-only replicas and tests).
	DisableBuilder bool
	// AnycastIPv4 and AnycastIPv6 are the edges' anycast pools (their
	// --anycast-v4 and --anycast-v6): an A or AAAA record whose content is
	// one of them is refused. Empty: no address is refused on that ground.
	AnycastIPv4, AnycastIPv6 []netip.Addr
	// NonProxiableFile names the list of CNAME targets that must not be
	// proxied, in the format of records.ParseNonProxiable; it replaces the
	// built-in list. "" = records.DefaultNonProxiable.
	NonProxiableFile string
	// MaxGroupWrites and MaxTxnOps bound one group commit of a zone's record
	// writes; 0 = the store's defaults (500 writes, 10,000 operations).
	// etcd's --max-txn-ops must allow MaxTxnOps.
	MaxGroupWrites int
	MaxTxnOps      int
	// DeltaThreshold is the record count from which a zone's changes travel
	// as deltas; 0 = the builder's default (5,000), negative = never.
	DeltaThreshold int
	// BuilderLeaseTTL is the builder's election lease in whole seconds: a
	// dead leader's successor publishes within about this long, and every
	// write of a leader is fenced by it. 0 = the builder's default (2 s).
	BuilderLeaseTTL time.Duration
	// ReconcileInterval is how often the leading builder compares what NATS
	// holds with etcd and republishes what is missing or older; 0 = the
	// builder's default (1 min), negative = only when it becomes leader.
	ReconcileInterval time.Duration
	// BuilderTrace receives the builder's per-batch stage times
	// (builder.Config.Trace); library only, for the propagation benchmark;
	// nil: off.
	BuilderTrace builder.TraceFunc
	// OperatorTokens are the bootstrap credentials (secrets as made by
	// authn.NewOperatorSecret): every permission on every account, to
	// create the first account tokens. Kept in memory as hashes only.
	OperatorTokens []string
	// DisableAuth serves every RPC without authentication or
	// authorization. Library only (benchmarks measuring the cost of auth);
	// no flag exposes it.
	DisableAuth bool
	// TLS of the gRPC listener.
	TLS ServerTLS
	// AuditRetention is how long audit entries are kept; 0 =
	// store.DefaultAuditRetention (90 days), negative = forever.
	AuditRetention time.Duration
	// IdempotencyRetention is how long request ids are remembered; 0 =
	// store.DefaultIdempotencyRetention (24 h), negative = forever.
	IdempotencyRetention time.Duration
	// AllowPlaintext permits a plaintext gRPC listener on a non-loopback
	// address (bearer tokens then cross the network in the clear).
	AllowPlaintext bool
	// EtcdTimeout bounds every etcd call of the store, server-side: an RPC
	// whose etcd call gets no answer in time fails with Unavailable ("etcd
	// unavailable: ...") instead of hanging for as long as its client
	// waits. A group commit of record writes gets six times as long in all
	// (its reads, commit and conflict retries). 0 =
	// store.DefaultCallTimeout (5 s).
	EtcdTimeout time.Duration
	// EtcdProbeInterval is how often etcd is probed, and how long one probe
	// may take; while probes fail, gRPC health says NOT_SERVING and /ready
	// 503. 0 = 1 s.
	EtcdProbeInterval time.Duration
}

// etcdMaxSend matches the embedded etcd's request limit
// (embedded.MaxRequestBytes) so that the largest record write, a 256 KiB
// zone-file import, fits one transaction.
const etcdMaxSend = 32 << 20

// Server is a running (or ready to run) control plane.
type Server struct {
	cfg     Config
	log     *zap.Logger
	etcd    *clientv3.Client
	nc      *nats.Conn
	st      *store.Store
	grpc    *grpc.Server
	health  *health.Server
	probe   *etcdProbe
	reg     *prometheus.Registry
	builder *builder.Builder
	authn   *authn.Verifier
	life    *lifecycle.Worker
	xfrin   *xfrin.Worker
	// notifyin takes the edges' NOTIFY notices (nil without NATS).
	notifyin *notifyin.Receiver
	xfrout   *xfrout.Worker // nil without NATS

	mu      sync.Mutex
	lis     net.Listener
	metrics *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool

	// metricsAddr is where the metrics listener listens (after Start).
	metricsAddr string
}

// New connects to etcd and NATS and builds every service. Nothing listens
// until Start.
func New(ctx context.Context, cfg Config, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.EtcdEndpoints) == 0 {
		return nil, errors.New("server: at least one etcd endpoint is required")
	}
	if cfg.NATSURL == "" && !cfg.DisableBuilder {
		return nil, errors.New("server: a NATS URL is required")
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	pool, err := nameservers.NewPool(orDefault(cfg.NameserverPool, nameservers.DefaultPool()))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// Read before connecting anything: a bad list is a configuration error
	// that must stop the start, not surface later as wrong answers.
	nonProxiable, err := loadNonProxiable(cfg.NonProxiableFile)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ecfg := clientv3.Config{
		Endpoints:          cfg.EtcdEndpoints,
		DialTimeout:        5 * time.Second,
		Username:           cfg.EtcdUsername,
		Password:           cfg.EtcdPassword,
		MaxCallSendMsgSize: etcdMaxSend,
		// The client's retry warnings are noise in our logs; errors reach
		// us through return values anyway.
		Logger: log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	}
	tuneEtcdClient(&ecfg)
	if cfg.EtcdTLS.enabled() {
		if ecfg.TLS, err = tlsConfig(cfg.EtcdTLS); err != nil {
			return nil, fmt.Errorf("server: etcd tls: %w", err)
		}
	}
	cli, err := clientv3.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("server: connect etcd %v: %w", cfg.EtcdEndpoints, err)
	}
	s := &Server{cfg: cfg, log: log, etcd: cli, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.st = store.NewWithConfig(cli, store.Config{
		Prefix: cfg.Prefix, Registerer: s.reg,
		MaxGroupWrites: cfg.MaxGroupWrites, MaxTxnOps: cfg.MaxTxnOps,
		AuditRetention: cfg.AuditRetention, IdempotencyRetention: cfg.IdempotencyRetention, CallTimeout: cfg.EtcdTimeout,
	}, log.Named("store"))
	// Fail at startup, with a clear error, rather than on the first RPC.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = s.st.CurrentRevision(pctx)
	cancel()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("server: reach etcd %v: %w", cfg.EtcdEndpoints, err)
	}

	if cfg.NATSURL != "" {
		opts := []nats.Option{nats.Name("zonegrid-controlplane"), nats.MaxReconnects(-1)}
		if cfg.NATSTLS.enabled() {
			tc, err := tlsConfig(cfg.NATSTLS)
			if err != nil {
				cli.Close()
				return nil, fmt.Errorf("server: nats tls: %w", err)
			}
			opts = append(opts, nats.Secure(tc))
		}
		if cfg.NATSCredsFile != "" {
			opts = append(opts, nats.UserCredentials(cfg.NATSCredsFile))
		}
		if cfg.NATSNkeySeedFile != "" {
			o, err := nats.NkeyOptionFromSeed(cfg.NATSNkeySeedFile)
			if err != nil {
				cli.Close()
				return nil, fmt.Errorf("server: nats nkey seed %s: %w", cfg.NATSNkeySeedFile, err)
			}
			opts = append(opts, o)
		}
		if s.nc, err = nats.Connect(cfg.NATSURL, opts...); err != nil {
			cli.Close()
			return nil, fmt.Errorf("server: connect nats %s: %w", cfg.NATSURL, err)
		}
	}
	if !cfg.DisableBuilder {
		var signer *snapshot.Signer
		if cfg.SnapshotSigningKeyFile != "" {
			if signer, err = snapshot.LoadSigner(cfg.SnapshotSigningKeyFile); err != nil {
				s.closeClients()
				return nil, fmt.Errorf("server: %w", err)
			}
		}
		if s.builder, err = builder.New(s.st, s.nc, builder.Config{
			SOARname: cfg.SOARname, KVReplicas: cfg.KVReplicas, Registerer: s.reg,
			PartialSuffix:  orDefaultString(cfg.PartialSuffix, zones.DefaultPartialSuffix),
			DeltaThreshold: cfg.DeltaThreshold, Signer: signer,
			SessionTTL:        int((cfg.BuilderLeaseTTL + time.Second - 1) / time.Second),
			ReconcileInterval: cfg.ReconcileInterval,
			Trace:             cfg.BuilderTrace,
		}, log.Named("builder")); err != nil {
			s.closeClients()
			return nil, err
		}
	}

	var checker lifecycle.Checker
	if cfg.ActivationMode == zones.ModeDelegation {
		if cfg.ActivationResolver == "" {
			s.closeClients()
			return nil, errors.New("server: delegation activation needs --activation-resolver")
		}
		checker = &lifecycle.DNSChecker{Resolver: cfg.ActivationResolver}
	}
	var ring *keyseal.Ring
	var also []func(context.Context, time.Time) error
	if len(cfg.DnssecKEKFiles) > 0 {
		if ring, err = keyseal.LoadFiles(cfg.DnssecKEKFiles...); err != nil {
			s.closeClients()
			return nil, fmt.Errorf("server: dnssec: %w", err)
		}
		var resolver string
		if cfg.ActivationMode == zones.ModeDelegation {
			resolver = cfg.ActivationResolver
		}
		dw := cpdnssec.NewWorker(s.st, ring, cpdnssec.WorkerConfig{Policy: cfg.DNSSEC, Resolver: resolver, Registerer: s.reg}, log.Named("dnssec"))
		also = append(also, dw.Step)
		log.Info("dnssec keys sealed", zap.String("kek_id", ring.ID()))
	}
	// Secondary zones refresh under the same election (TSIG secrets are
	// opened with the same ring, which may be absent: peers without TSIG
	// still work).
	xw := xfrin.NewWorker(s.st, xfrin.WorkerConfig{
		OpenTsig:   func(t *dnsv1.StoredTsig) ([]byte, error) { return transfers.OpenTsigSecret(ring, t) },
		Registerer: s.reg,
	}, log.Named("xfrin"))
	also = append(also, xw.Step)
	s.xfrin = xw
	host, _ := os.Hostname()
	if s.nc != nil {
		// NOTIFY to the secondaries of outgoing zones, after each version is
		// published (its own election: it follows NATS, not a timer).
		s.xfrout = xfrout.New(s.st, s.nc, xfrout.Config{
			OpenTsig: func(t *dnsv1.StoredTsig) ([]byte, error) { return transfers.OpenTsigSecret(ring, t) },
			ID:       fmt.Sprintf("%s-%d", host, os.Getpid()), Registerer: s.reg,
		}, log.Named("xfrout"))
	}
	// Unique per Server (tests run several in one process): notifyin
	// compares it with the election's value to know whether it leads.
	lifeID := fmt.Sprintf("%s-%d-%p", host, os.Getpid(), s)
	s.life = lifecycle.New(s.st, lifecycle.Config{
		Policy: cfg.Lifecycle, Checker: checker, Interval: cfg.LifecycleInterval,
		ID: lifeID, Registerer: s.reg, Also: also,
	}, log.Named("lifecycle"))
	if s.nc != nil {
		s.notifyin = notifyin.New(notifyin.Config{Conn: s.nc, Store: s.st, Refresher: xw, LeaderID: lifeID, Registerer: s.reg},
			log.Named("notifyin"))
	}
	recordSvc := records.New(s.st, records.Options{
		NonProxiable: nonProxiable, Registerer: s.reg, SOARname: cfg.SOARname,
		Anycast: append(slices.Clone(cfg.AnycastIPv4), cfg.AnycastIPv6...),
	}, log.Named("records"))
	var scanner *quickscan.Scanner
	if r := orDefaultString(cfg.QuickScanResolver, cfg.ActivationResolver); r != "" {
		scanner = &quickscan.Scanner{Resolver: r}
	}
	zoneSvc, err := zones.New(s.st, zones.Options{
		Scanner: scanner, Records: recordSvc,
		Pool: pool, ActivationMode: cfg.ActivationMode, Resolver: cfg.ActivationResolver,
		ExtraSuffixes: cfg.ExtraPublicSuffixes, SOARname: cfg.SOARname,
		PartialSuffix: cfg.PartialSuffix, Lifecycle: s.life, Policy: cfg.Lifecycle,
		AdvancedDomains: cfg.AdvancedNameserverDomains,
		NameserverIPv4:  cfg.NameserverIPv4, NameserverIPv6: cfg.NameserverIPv6,
	}, log.Named("zones"))
	if err != nil {
		s.closeClients()
		return nil, fmt.Errorf("server: %w", err)
	}
	rpcMetrics := newRPCMetrics(s.reg)
	unary := []grpc.UnaryServerInterceptor{rpcMetrics.unary, loggingInterceptor(log.Named("grpc")), grpccodec.UnaryInterceptor}
	var stream []grpc.StreamServerInterceptor
	if !cfg.DisableAuth {
		s.authn = authn.New(s.st, authn.Options{OperatorSecrets: cfg.OperatorTokens}, log.Named("authn"))
		az := authz.New(s.authn, s.st, log.Named("authz"))
		unary = append(unary, az.Unary)
		stream = append(stream, az.Stream)
	}
	gopts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(etcdMaxSend),
	}
	gopts = append(gopts, grpccodec.ServerOptions()...) // invalid UTF-8: InvalidArgument naming the field
	creds, err := serverCredentials(cfg.TLS)
	if err != nil {
		s.closeClients()
		return nil, fmt.Errorf("server: grpc tls: %w", err)
	}
	if creds != nil {
		gopts = append(gopts, grpc.Creds(creds))
	} else if !cfg.AllowPlaintext && !loopback(cfg.GRPCAddr) {
		s.closeClients()
		return nil, fmt.Errorf("server: refusing a plaintext gRPC listener on %s: API tokens would cross the network in the clear; give a TLS certificate (--tls-cert, --tls-key) or --allow-plaintext", cfg.GRPCAddr)
	}
	s.grpc = grpc.NewServer(gopts...)
	dnsv1.RegisterZoneServiceServer(s.grpc, zoneSvc)
	dnsv1.RegisterSettingsServiceServer(s.grpc, settings.New(s.st, log.Named("settings")))
	dnsv1.RegisterRecordServiceServer(s.grpc, recordSvc)
	v4, v6 := nameservers.DefaultAddresses()
	if cfg.NameserverIPv4 != nil {
		v4 = cfg.NameserverIPv4
	}
	if cfg.NameserverIPv6 != nil {
		v6 = cfg.NameserverIPv6
	}
	nsAddrs, err := nameservers.NewAddresses(v4, v6)
	if err != nil {
		s.closeClients()
		return nil, fmt.Errorf("server: %w", err)
	}
	dnsv1.RegisterCustomNameserverServiceServer(s.grpc, customns.New(s.st, nsAddrs, log.Named("customns")))
	dnsv1.RegisterTenantServiceServer(s.grpc, tenants.New(s.st, nsAddrs, log.Named("tenants")))
	dnsv1.RegisterTokenServiceServer(s.grpc, tokens.New(s.st, log.Named("tokens")))
	dnsv1.RegisterAuditServiceServer(s.grpc, auditlog.New(s.st, log.Named("auditlog")))
	dnsv1.RegisterDnssecServiceServer(s.grpc, dnssecsvc.New(s.st, ring, cfg.DNSSEC, log.Named("dnssec")))
	dnsv1.RegisterZoneTransferServiceServer(s.grpc, transfers.New(s.st, ring, log.Named("transfers"))) // the same ring seals TSIG secrets
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.probe = newEtcdProbe(s.st, s.health, cfg.EtcdProbeInterval, s.reg, log.Named("etcd-probe"))
	reflection.Register(s.grpc)
	return s, nil
}

// loadNonProxiable reads the non-proxiable CNAME target list from path; ""
// means the built-in list.
func loadNonProxiable(path string) (records.NonProxiable, error) {
	if path == "" {
		return records.DefaultNonProxiable(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return records.NonProxiable{}, fmt.Errorf("open non-proxiable list: %w", err)
	}
	defer f.Close()
	np, err := records.ParseNonProxiable(f)
	if err != nil {
		return records.NonProxiable{}, fmt.Errorf("non-proxiable list %s: %w", path, err)
	}
	return np, nil
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

func tlsConfig(f TLSFiles) (*tls.Config, error) {
	// Cert and key are optional: a CA alone authenticates the server only.
	info := transport.TLSInfo{CertFile: f.CertFile, KeyFile: f.KeyFile, TrustedCAFile: f.CAFile}
	return info.ClientConfig()
}

// Start listens for gRPC (and metrics), and starts the builder. It does not
// block.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis != nil {
		return errors.New("server: already started")
	}
	lis, err := net.Listen("tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("server: listen grpc %s: %w", s.cfg.GRPCAddr, err)
	}
	if s.cfg.MetricsAddr != "" {
		mlis, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			lis.Close()
			return fmt.Errorf("server: listen metrics %s: %w", s.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
		mux.HandleFunc("/ready", s.serveReady)
		s.metricsAddr = mlis.Addr().String()
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.metrics.Serve(mlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("metrics server failed", zap.Error(err))
			}
		}()
		s.log.Info("metrics listening", zap.String("addr", mlis.Addr().String()))
	}
	s.lis = lis
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	// Every control plane sweeps expired audit entries; concurrent sweeps
	// are safe, and one left running keeps etcd bounded.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = auditsweep.New(s.st, 0, s.log.Named("auditsweep")).Run(bctx)
	}()
	if s.authn != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.authn.Run(bctx)
		}()
	}
	if s.builder != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.builder.Run(bctx)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.life.Run(bctx)
	}()
	if s.notifyin != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.notifyin.Run(bctx); err != nil {
				s.log.Error("NOTIFY receiver stopped: secondary zones refresh on schedule only", zap.Error(err))
			}
		}()
	}
	if s.xfrout != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.xfrout.Run(bctx)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc server failed", zap.Error(err))
		}
	}()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	// After SERVING is set, so that a failed probe is not overwritten.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.probe.run(bctx)
	}()
	s.log.Info("control plane listening", zap.String("grpc", lis.Addr().String()))
	return nil
}

// GRPCAddr is the address gRPC listens on (after Start).
func (s *Server) GRPCAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// MetricsAddr is the address of the metrics and /ready listener (after
// Start; "" when off).
func (s *Server) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metricsAddr
}

// GRPCServer lets other packages register services before Start.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Store is the control plane's store.
func (s *Server) Store() *store.Store { return s.st }

// Registry holds the control plane's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// stopGrace bounds how long Stop waits for in-flight RPCs.
const stopGrace = 10 * time.Second

// Stop drains in-flight RPCs (up to a grace period), stops the builder and
// closes the clients. It is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()

	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopGrace):
		s.grpc.Stop()
		<-done
	}
	if s.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.metrics.Shutdown(ctx)
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.closeClients()
	s.log.Info("control plane stopped")
}

func (s *Server) closeClients() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.etcd != nil {
		_ = s.etcd.Close()
	}
}

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// RefreshSecondary checks a secondary zone's primaries now, whatever its
// refresh interval says, and transfers what is newer: what a NOTIFY from
// a primary leads to (the edges' NOTIFY handling is issue 12's next part).
func (s *Server) RefreshSecondary(ctx context.Context, zoneID string) error {
	return s.xfrin.Refresh(ctx, zoneID, time.Now(), true)
}
