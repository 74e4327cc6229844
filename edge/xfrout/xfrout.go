// Package xfrout is the edge's outgoing zone transfer listener: other
// providers' servers (BIND, Knot, NSD) configured as secondaries of our
// zones send it SOA queries and AXFR/IXFR requests. It answers only for
// zones with outgoing transfers enabled, only to the sources the zone's
// policy allows (edge/xfrauth: linked peers and the account's ACL ranges)
// and, when a TSIG key is linked, only to requests signed with it; every
// message of the reply is then signed. What goes out is what the edge
// answers (edge/answer, transfer.go). IXFR is answered from a bounded
// in-memory history of differences between the versions this edge
// installed, AXFR-style when the client's serial is not in it.
//
// It listens on its own address (node.Config.XFRAddr, --xfr-listen), apart
// from the query path, which it never slows down: the only work it adds
// there is the zone set's install hook, which queues (old, new) pairs.
package xfrout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// Addr is the TCP and UDP address to listen on ("127.0.0.1:0" picks a
	// free port for both).
	Addr string
	// Engine renders the zones (its anycast pools, resolver and account
	// settings); Zones is the set it answers from.
	Engine *answer.Engine
	Zones  *zonecache.Set
	// MaxTransfers bounds the AXFR/IXFR replies being sent at once (16);
	// a request beyond it is REFUSED, as BIND does past transfers-out.
	MaxTransfers int
	// MaxConns bounds the TCP connections (128), MaxConnsPerSource those
	// of one address (8); more are closed at once.
	MaxConns, MaxConnsPerSource int
	// IdleTimeout is how long a TCP connection may wait for a request
	// (10 s); WriteTimeout how long one reply message may take to be
	// written (10 s): a client that stops reading is dropped.
	IdleTimeout, WriteTimeout time.Duration
	// HistoryVersions (64) and HistoryRecords (100,000) bound the
	// differences kept per zone: the oldest go first.
	HistoryVersions, HistoryRecords int
	// FlattenTimeout bounds the upstream lookup of one flattened name
	// while a version is rendered (2 s).
	FlattenTimeout time.Duration
	Registerer     prometheus.Registerer
	Log            *zap.Logger
}

// Server is the transfer listener.
type Server struct {
	cfg    Config
	log    *zap.Logger
	engine *answer.Engine
	zones  *zonecache.Set
	m      *metrics

	mu     sync.RWMutex
	states map[string]*served

	qmu      sync.Mutex
	queue    []event
	overflow bool
	wake     chan struct{}

	slots chan struct{}

	cmu     sync.Mutex
	conns   map[net.Conn]struct{}
	perSrc  map[string]int
	tcp     net.Listener
	udp     net.PacketConn
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// New returns a Server; install Installed as the zone set's hook before
// zones are loaded, then Start it.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Zones == nil {
		return nil, errors.New("xfrout: Engine and Zones are required")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxTransfers, 16)
	def(&cfg.MaxConns, 128)
	def(&cfg.MaxConnsPerSource, 8)
	def(&cfg.HistoryVersions, 64)
	def(&cfg.HistoryRecords, 100_000)
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defd(&cfg.IdleTimeout, 10*time.Second)
	defd(&cfg.WriteTimeout, 10*time.Second)
	defd(&cfg.FlattenTimeout, 2*time.Second)
	return &Server{
		cfg: cfg, log: cfg.Log, engine: cfg.Engine, zones: cfg.Zones,
		m:      newMetrics(cfg.Registerer),
		states: map[string]*served{},
		wake:   make(chan struct{}, 1),
		slots:  make(chan struct{}, cfg.MaxTransfers),
		conns:  map[net.Conn]struct{}{},
		perSrc: map[string]int{},
	}, nil
}

// Start binds TCP and UDP on Addr and serves until Close. The history
// worker starts too; events queued before Start are applied then.
func (s *Server) Start(ctx context.Context) error {
	tcp, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("xfrout: listen tcp %s: %w", s.cfg.Addr, err)
	}
	// UDP on the same port as TCP (a ":0" address picks TCP's port).
	udp, err := net.ListenPacket("udp", tcp.Addr().String())
	if err != nil {
		tcp.Close()
		return fmt.Errorf("xfrout: listen udp %s: %w", tcp.Addr(), err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cmu.Lock()
	s.tcp, s.udp, s.cancel, s.started = tcp, udp, cancel, true
	s.cmu.Unlock()
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.runHistory(ctx) }()
	go func() { defer s.wg.Done(); s.serveTCP(ctx, tcp) }()
	go func() { defer s.wg.Done(); s.serveUDP(ctx, udp) }()
	s.log.Info("outgoing transfer listener", zap.String("addr", tcp.Addr().String()))
	return nil
}

// Addr is the bound address (after Start).
func (s *Server) Addr() string {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

// Close stops the listeners, drops the connections and waits.
func (s *Server) Close() error {
	s.cmu.Lock()
	if !s.started {
		s.cmu.Unlock()
		return nil
	}
	s.started = false
	s.cancel()
	err := errors.Join(s.tcp.Close(), s.udp.Close())
	for c := range s.conns {
		c.Close()
	}
	s.cmu.Unlock()
	s.wg.Wait()
	return err
}

// state is the served state of a zone, nil when it does not transfer out
// (or the history worker has not seen it yet).
func (s *Server) state(name string) *served {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.states[name]
}

type metrics struct {
	requests      *prometheus.CounterVec
	records       prometheus.Counter
	inFlight      prometheus.Gauge
	resets        *prometheus.CounterVec
	flattenFailed prometheus.Counter
	historyApply  prometheus.Histogram
	duration      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "requests_total",
			Help: "Requests to the outgoing transfer listener, by type (soa, axfr, ixfr, other) and result (axfr, ixfr, uptodate, soa, refused, notauth, formerr, busy, error).",
		}, []string{"type", "result"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "records_sent_total",
			Help: "Records sent in AXFR and IXFR replies (SOA included).",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "transfers_in_flight",
			Help: "AXFR/IXFR replies being sent.",
		}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "history_resets_total",
			Help: "Times a zone's IXFR history started over, by reason (gap, serial, settings, size, overflow).",
		}, []string{"reason"}),
		flattenFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "flatten_failures_total",
			Help: "Flattened names whose target did not resolve while a version was rendered (their addresses left out).",
		}),
		historyApply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "history_apply_seconds",
			Help:    "Time to derive a zone version's transfer state and difference.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "zonegrid", Subsystem: "edge_xfr", Name: "transfer_seconds",
			Help:    "Time to send one AXFR or IXFR reply, by result (axfr, ixfr).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.records, m.inFlight, m.resets, m.flattenFailed, m.historyApply, m.duration)
	}
	return m
}
