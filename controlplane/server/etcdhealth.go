package server

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/zonegrid/zonegrid/controlplane/store"
)

// Defaults of the etcd fault handling; Config fields override them.
const (
	// defaultEtcdProbeInterval is how often the store is probed, and how
	// long one probe may take before etcd counts as unreachable.
	defaultEtcdProbeInterval = time.Second
	// etcdReconnectMaxDelay caps the etcd client's reconnect backoff.
	// gRPC's default cap is 120 s and the backoff grows with the outage,
	// so after a long one the control plane kept failing writes for up to
	// two minutes after etcd was back; with a 1 s cap it reconnects within
	// about a second (plus 20% jitter) of etcd answering again.
	etcdReconnectMaxDelay = time.Second
	// etcdMinConnectTimeout is how long one connection attempt may take:
	// against an unreachable host (packets dropped) an attempt blocks the
	// next one for this long, gRPC's default being 20 s.
	etcdMinConnectTimeout = 2 * time.Second
	// etcdKeepAliveTime and etcdKeepAliveTimeout detect a connection to an
	// etcd that stopped answering (hung process, dead host without a
	// reset), so the client reconnects instead of waiting on it. etcd
	// refuses pings more often than every 5 s (--grpc-keepalive-min-time).
	etcdKeepAliveTime    = 10 * time.Second
	etcdKeepAliveTimeout = 3 * time.Second
)

// tuneEtcdClient sets the etcd client's connection behaviour for fast
// recovery: bounded reconnect backoff and connection attempts, and
// keepalives on a silent connection.
func tuneEtcdClient(c *clientv3.Config) {
	c.DialOptions = append(c.DialOptions, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   etcdReconnectMaxDelay,
		},
		MinConnectTimeout: etcdMinConnectTimeout,
	}))
	c.DialKeepAliveTime = etcdKeepAliveTime
	c.DialKeepAliveTimeout = etcdKeepAliveTimeout
}

// etcdProbe reads etcd every interval and reports whether it answers: the
// gRPC health service says NOT_SERVING, /ready 503 and the etcd_up gauge 0
// while it does not, so load balancers and orchestrators send writes to a
// control plane that can store them.
type etcdProbe struct {
	st       *store.Store
	health   *health.Server
	interval time.Duration
	log      *zap.Logger

	up       atomic.Bool
	upGauge  prometheus.Gauge
	failures prometheus.Counter
}

func newEtcdProbe(st *store.Store, hs *health.Server, interval time.Duration, reg prometheus.Registerer, log *zap.Logger) *etcdProbe {
	if interval <= 0 {
		interval = defaultEtcdProbeInterval
	}
	p := &etcdProbe{
		st: st, health: hs, interval: interval, log: log,
		upGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_controlplane_etcd_up",
			Help: "1 while the control plane's etcd probe succeeds (the control plane is ready), 0 while etcd is unreachable or hung.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_controlplane_etcd_probe_failures_total",
			Help: "etcd probes that got no answer within the probe interval.",
		}),
	}
	reg.MustRegister(p.upGauge, p.failures)
	// New has just read etcd: it starts up.
	p.up.Store(true)
	p.upGauge.Set(1)
	return p
}

// Up reports whether the last probe got an answer.
func (p *etcdProbe) Up() bool { return p.up.Load() }

// run probes until ctx ends.
func (p *etcdProbe) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.probe(ctx)
	}
}

// probe reads the current revision: a linearizable read, so it needs a
// reachable etcd with a leader, as a write does.
func (p *etcdProbe) probe(ctx context.Context) {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, p.interval)
	_, err := p.st.CurrentRevision(pctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: not etcd's fault
	}
	if err != nil {
		p.failures.Inc()
	}
	up := err == nil
	if p.up.Swap(up) == up {
		return
	}
	if up {
		p.upGauge.Set(1)
		p.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		p.log.Info("etcd answers again: serving", zap.Duration("probe", time.Since(start)))
		return
	}
	p.upGauge.Set(0)
	p.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	p.log.Warn("etcd unreachable: not serving until it answers", zap.Duration("probe_timeout", p.interval), zap.Error(err))
}

// serveReady is the control plane's readiness endpoint: 200 while started
// and etcd answers, 503 otherwise (before Start, while etcd is away, once
// stopping).
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	switch {
	case stopped:
		http.Error(w, "stopping", http.StatusServiceUnavailable)
	case !s.probe.Up():
		http.Error(w, "etcd unavailable", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ready")
	}
}
