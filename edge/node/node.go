// Package node wires an edge together as a library: the in-memory zones,
// the follower that fills them from NATS, the answer engine, the DNS
// listeners and the metrics endpoint. cmd/edge and the end-to-end tests
// both run edges through it.
package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/dnsserver"
	"github.com/zonegrid/zonegrid/edge/follow"
	"github.com/zonegrid/zonegrid/edge/resolver"
	"github.com/zonegrid/zonegrid/edge/rrl"
	"github.com/zonegrid/zonegrid/edge/xfrout"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Config configures a Node.
type Config struct {
	// UDPAddr and TCPAddr are the DNS listen addresses ("127.0.0.1:0"
	// picks a free port); TCPAddr defaults to UDPAddr.
	UDPAddr, TCPAddr string
	// MetricsAddr serves /metrics over HTTP; "" turns it off.
	MetricsAddr string
	// NATSURL is the NATS server (comma-separated for a cluster).
	NATSURL       string
	NATSTLS       TLSFiles
	NATSCredsFile string
	// NATSNkeySeedFile authenticates to NATS with an nkey (a file holding
	// the user's seed, "SU…"), as the embedded server of `make run` and
	// the permissions in pkg/natsauth expect.
	NATSNkeySeedFile string
	// SnapshotTrustKeyFiles are PEM files of the Ed25519 public keys whose
	// signatures the edge accepts (several during a key rotation). Empty
	// accepts unsigned snapshots: the library default, for tests; the edge
	// command refuses to start so unless told --insecure-unsigned-snapshots.
	SnapshotTrustKeyFiles []string
	// Anycast pools proxied names answer with.
	AnycastIPv4, AnycastIPv6 []netip.Addr
	// TunnelDomain is the platform's tunnel domain (answer.Config); empty
	// for none.
	TunnelDomain string
	// Upstreams are host:port resolvers for flattening external targets.
	Upstreams []string
	// UDPSockets is how many SO_REUSEPORT sockets serve UDPAddr (Linux),
	// each with its own reader loop; 0 means GOMAXPROCS.
	UDPSockets int
	// UDPPlainSyscalls serves UDP with plain rather than raw system calls
	// (dnsserver.Options.UDPPlainSyscalls; Linux).
	UDPPlainSyscalls bool
	// AnswerCacheSlots sizes the packed-answer cache; 0 means
	// dnsserver.DefaultCacheSlots, negative turns it off.
	AnswerCacheSlots int
	// TCPMaxConns, TCPMaxConnsPerSource and TCPIdleTimeout bound the TCP
	// connections (dnsserver.Options; 0 means the dnsserver defaults: 1024,
	// 64 per IPv4 address or IPv6 /64, 10 s).
	TCPMaxConns, TCPMaxConnsPerSource int
	TCPIdleTimeout                    time.Duration
	// RRL is response rate limiting of UDP answers; its zero value (Rate
	// 0) is off, the library default for tests. The edge command turns it
	// on with rrl's defaults.
	RRL rrl.Config
	// Pprof serves net/http/pprof under /debug/pprof/ on MetricsAddr, for
	// profiling a running edge. Off by default: profiles expose internals
	// and cost CPU while taken.
	Pprof bool
	// DNSSECKEKFiles are the key-encryption key files that open zones'
	// DNSSEC private keys (the control plane's --dnssec-kek-file; the
	// first seals there, all open here). Empty: zones with DNSSEC are
	// served unsigned.
	DNSSECKEKFiles []string
	// Now is the clock DNSSEC signatures are made with; nil is time.Now.
	// Tests set it to make an edge whose signatures are expired.
	Now func() time.Time
	// XFRAddr is the outgoing zone transfer listener (TCP and UDP: SOA,
	// AXFR, IXFR from other providers' secondaries, edge/xfrout); "" (the
	// default) turns it off.
	XFRAddr string
	// FollowTrace receives the follower's per-value stage times
	// (follow.Config.Trace); library only, for the propagation benchmark;
	// nil: off.
	FollowTrace follow.TraceFunc
}

// TLSFiles names PEM files for a TLS connection; all empty means no TLS.
type TLSFiles struct{ CertFile, KeyFile, CAFile string }

// Node is one running edge.
type Node struct {
	cfg      Config
	log      *zap.Logger
	reg      *prometheus.Registry
	zones    *zonecache.Set
	accounts *zonecache.Accounts
	handler  *dnsserver.Handler
	resolver *resolver.Resolver
	rrl      *rrl.Limiter
	xfr      *xfrout.Server

	// noticeConn is where accepted NOTIFY notices are published (notify.go).
	noticeConn *noticeConn

	// verifier checks snapshot signatures; nil accepts unsigned ones.
	verifier *snapshot.Verifier

	ready       chan struct{}
	server      *dnsserver.Server
	nc          *nats.Conn
	metrics     *http.Server
	metricsAddr string
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closed      sync.Once
}

// New checks cfg and builds a Node; Start runs it.
func New(cfg Config, log *zap.Logger) (*Node, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.UDPAddr == "" {
		return nil, errors.New("edge config: UDPAddr is required")
	}
	if cfg.TCPAddr == "" {
		cfg.TCPAddr = cfg.UDPAddr
	}
	if cfg.NATSURL == "" {
		return nil, errors.New("edge config: NATSURL is required")
	}
	for _, a := range cfg.AnycastIPv4 {
		if !a.Is4() {
			return nil, fmt.Errorf("edge config: anycast IPv4 pool holds %s", a)
		}
	}
	for _, a := range cfg.AnycastIPv6 {
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("edge config: anycast IPv6 pool holds %s", a)
		}
	}
	limiter, err := rrl.New(cfg.RRL)
	if err != nil {
		return nil, fmt.Errorf("edge config: %w", err)
	}
	if limiter != nil {
		log.Info("response rate limiting on", zap.Int("rate", cfg.RRL.Rate), zap.Int("slip", cfg.RRL.Slip),
			zap.Duration("window", cfg.RRL.Window), zap.Int("ipv4_prefix", cfg.RRL.IPv4PrefixLen), zap.Int("ipv6_prefix", cfg.RRL.IPv6PrefixLen))
	}
	var verifier *snapshot.Verifier
	if len(cfg.SnapshotTrustKeyFiles) > 0 {
		v, err := snapshot.LoadVerifier(cfg.SnapshotTrustKeyFiles...)
		if err != nil {
			return nil, fmt.Errorf("edge config: %w", err)
		}
		verifier = v
		log.Info("snapshot signatures verified", zap.Strings("trusted_key_ids", v.KeyIDs()))
	} else {
		log.Warn("snapshot signatures not verified: whoever can write to NATS can change answers")
	}
	var opener *dnssec.Opener
	var ring *keyseal.Ring
	if len(cfg.DNSSECKEKFiles) > 0 {
		if ring, err = keyseal.LoadFiles(cfg.DNSSECKEKFiles...); err != nil {
			return nil, fmt.Errorf("edge config: dnssec kek files: %w", err)
		}
		opener = dnssec.NewOpener(ring)
		log.Info("dnssec live signing on", zap.Int("kek_files", len(cfg.DNSSECKEKFiles)))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n := &Node{
		cfg: cfg, log: log, reg: reg, verifier: verifier, rrl: limiter,
		zones: zonecache.NewSet(), accounts: zonecache.NewAccounts(),
		ready: make(chan struct{}),
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signing := dnssecPreparer(opener, log.Named("dnssec"), reg, cfg.Now)
	transfers := transferPreparer(ring, log.Named("xfr"), reg)
	n.zones.SetPrepare(func(z *zonecache.Zone) {
		signing(z)
		transfers(z)
	})
	var res answer.Resolver
	if len(cfg.Upstreams) > 0 {
		r, err := resolver.New(resolver.Config{Upstreams: cfg.Upstreams, Log: log.Named("resolver"), Registerer: reg})
		if err != nil {
			return nil, fmt.Errorf("edge config: %w", err)
		}
		n.resolver = r
		res = r
	}
	engine := answer.New(answer.Config{
		Zones: n.zones, Accounts: n.accounts,
		AnycastIPv4: cfg.AnycastIPv4, AnycastIPv6: cfg.AnycastIPv6,
		Resolver: res, TunnelDomain: cfg.TunnelDomain, Now: cfg.Now,
	})
	notices, nconn := newNotices(log.Named("notify"), reg)
	n.noticeConn = nconn
	opts := []dnsserver.Option{dnsserver.WithNotify(n.zones, notices, reg)}
	if cfg.AnswerCacheSlots != 0 {
		opts = append(opts, dnsserver.WithAnswerCache(max(cfg.AnswerCacheSlots, 0)))
	}
	n.handler = dnsserver.NewHandler(engine, dnsserver.NewMetrics(reg), opts...)
	if cfg.XFRAddr != "" {
		if n.xfr, err = xfrout.New(xfrout.Config{Addr: cfg.XFRAddr, Engine: engine, Zones: n.zones,
			Registerer: reg, Log: log.Named("xfrout")}); err != nil {
			return nil, fmt.Errorf("edge config: %w", err)
		}
		n.zones.SetInstalled(n.xfr.Installed)
	}
	return n, nil
}

// Start binds the listeners, connects to NATS and starts following; it
// does not wait for the zones (see Ready). NATS being unreachable is not
// an error: the connection keeps retrying. ctx is for the start only (its
// values are kept); the node runs until Close.
func (n *Node) Start(ctx context.Context) error {
	srv, err := dnsserver.ListenOptions(dnsserver.Options{
		UDPAddr: n.cfg.UDPAddr, TCPAddr: n.cfg.TCPAddr, UDPSockets: n.cfg.UDPSockets,
		UDPPlainSyscalls: n.cfg.UDPPlainSyscalls,
		TCPMaxConns:      n.cfg.TCPMaxConns, TCPMaxConnsPerSource: n.cfg.TCPMaxConnsPerSource,
		TCPIdleTimeout: n.cfg.TCPIdleTimeout, RRL: n.rrl,
	}, n.handler, n.log.Named("dns"))
	if err != nil {
		return err
	}
	if n.xfr != nil {
		if err := n.xfr.Start(ctx); err != nil {
			srv.Close()
			return err
		}
	}
	// The connection exists before the follower it feeds; the callback
	// may run on another goroutine at any time, hence the atomic.
	var follower atomic.Pointer[follow.Follower]
	opts, err := n.natsOptions(func() {
		if f := follower.Load(); f != nil {
			f.Reconnected()
		}
	})
	if err != nil {
		srv.Close()
		return err
	}
	nc, err := nats.Connect(n.cfg.NATSURL, opts...)
	if err != nil {
		srv.Close()
		return fmt.Errorf("connect to nats %q: %w", n.cfg.NATSURL, err)
	}
	n.noticeConn.nc.Store(nc)
	f, err := follow.New(follow.Config{Conn: nc, Zones: n.zones, Accounts: n.accounts, Log: n.log.Named("follow"),
		Registerer: n.reg, Verifier: n.verifier, Trace: n.cfg.FollowTrace})
	if err != nil {
		nc.Close()
		srv.Close()
		return err
	}
	follower.Store(f)
	if n.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", n.cfg.MetricsAddr)
		if err != nil {
			nc.Close()
			srv.Close()
			return fmt.Errorf("listen metrics %q: %w", n.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
			select {
			case <-n.ready:
				fmt.Fprintln(w, "ready")
			default:
				http.Error(w, "loading", http.StatusServiceUnavailable)
			}
		})
		if n.cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		n.metricsAddr = ln.Addr().String()
		n.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("metrics server failed", zap.Error(err))
			}
		}()
	}
	// ctx bounds the start only: callers commonly pass a setup deadline.
	// The node runs until Close.
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.server, n.nc = srv, nc
	srv.Start(ctx)
	n.wg.Add(2)
	loading := startLoadGC()
	go func() { defer n.wg.Done(); f.Run(ctx) }()
	go func() {
		defer n.wg.Done()
		defer loading.done()
		select {
		case <-f.Ready():
			n.handler.SetReady(true)
			close(n.ready)
			n.log.Info("edge ready", zap.Int("zones", n.zones.Len()))
		case <-ctx.Done():
		}
	}()
	n.log.Info("edge listening", zap.String("udp", srv.UDPAddr()), zap.String("tcp", srv.TCPAddr()),
		zap.String("metrics", n.cfg.MetricsAddr), zap.String("nats", n.cfg.NATSURL))
	return nil
}

func (n *Node) natsOptions(reconnected func()) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("zonegrid-edge"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("nats disconnected; answering from memory", zap.Error(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("nats reconnected", zap.String("url", c.ConnectedUrl()))
			reconnected()
		}),
	}
	if n.cfg.NATSCredsFile != "" {
		opts = append(opts, nats.UserCredentials(n.cfg.NATSCredsFile))
	}
	if n.cfg.NATSNkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(n.cfg.NATSNkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey seed %q: %w", n.cfg.NATSNkeySeedFile, err)
		}
		opts = append(opts, o)
	}
	t := n.cfg.NATSTLS
	if t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.CertFile != "" || t.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("load nats client certificate %q: %w", t.CertFile, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read nats ca %q: %w", t.CAFile, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("nats ca %q holds no certificate", t.CAFile)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// Ready is closed after the initial load of zones and account settings.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// UDPAddr is the bound UDP address (after Start).
func (n *Node) UDPAddr() string { return n.server.UDPAddr() }

// TCPAddr is the bound TCP address (after Start).
func (n *Node) TCPAddr() string { return n.server.TCPAddr() }

// XFRAddr is the bound outgoing transfer address ("" when off).
func (n *Node) XFRAddr() string {
	if n.xfr == nil {
		return ""
	}
	return n.xfr.Addr()
}

// MetricsAddr is the bound metrics address ("" when off).
func (n *Node) MetricsAddr() string { return n.metricsAddr }

// Registry exposes the node's metrics (for tests and embedding).
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Close stops everything Start started.
func (n *Node) Close() error {
	var err error
	n.closed.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.server != nil {
			err = errors.Join(err, n.server.Close())
		}
		if n.xfr != nil {
			err = errors.Join(err, n.xfr.Close())
		}
		if n.metrics != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = errors.Join(err, n.metrics.Shutdown(ctx))
			cancel()
		}
		if n.nc != nil {
			n.nc.Close()
		}
		n.wg.Wait()
		if n.resolver != nil {
			n.resolver.Close()
		}
	})
	return err
}
