// Package resolver looks up external CNAME flattening targets at upstream
// recursive resolvers, caches the answers by TTL and serves them stale when
// an upstream is slow or failing, refreshing in the background: the answer
// path then stays fast and a broken upstream does not break the zone.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// Defaults of Config.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultStaleAfter = 400 * time.Millisecond
	DefaultMaxStale   = 24 * time.Hour
	DefaultMaxEntries = 100_000
	// negativeTTL caches NXDOMAIN/NODATA without a usable SOA.
	negativeTTL = 60 * time.Second
	// staleTTL is the TTL of records served stale (RFC 8767 suggests 30s).
	staleTTL = 30
)

// ErrUpstream is returned when no upstream gave a usable answer and no
// stale one is cached.
var ErrUpstream = errors.New("upstream resolution failed")

// Config configures a Resolver.
type Config struct {
	// Upstreams are host:port recursive resolvers, tried in turn.
	Upstreams []string
	// Timeout bounds one whole upstream lookup (all upstreams).
	Timeout time.Duration
	// StaleAfter is how long a query waits for a refresh before it is
	// answered from an expired entry.
	StaleAfter time.Duration
	// MaxStale is how long past expiry an entry may still be served.
	MaxStale time.Duration
	// MaxEntries bounds the cache.
	MaxEntries int
	Log        *zap.Logger
	Registerer prometheus.Registerer
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

type entry struct {
	rrs     []dns.RR // answer section, TTLs as received
	stored  time.Time
	expires time.Time
}

// Resolver resolves and caches. It is safe for concurrent use.
type Resolver struct {
	cfg    Config
	log    *zap.Logger
	now    func() time.Time
	udp    *dns.Client
	tcp    *dns.Client
	next   atomic.Uint32
	flight singleflight.Group

	mu    sync.RWMutex
	cache map[string]*entry

	bg     context.Context
	cancel context.CancelFunc
	m      *metrics
}

// New returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("resolver: no upstreams")
	}
	for _, u := range cfg.Upstreams {
		if _, _, err := splitHostPort(u); err != nil {
			return nil, fmt.Errorf("resolver upstream %q: %w", u, err)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	bg, cancel := context.WithCancel(context.Background())
	return &Resolver{
		cfg: cfg, log: cfg.Log, now: cfg.Now,
		udp:   &dns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: 1232},
		tcp:   &dns.Client{Net: "tcp", Timeout: cfg.Timeout},
		cache: map[string]*entry{},
		bg:    bg, cancel: cancel,
		m: newMetrics(cfg.Registerer),
	}, nil
}

// Close stops background refreshes.
func (r *Resolver) Close() { r.cancel() }

// Resolve returns the answer section for name/qtype: from the cache while
// fresh; otherwise from the upstreams, falling back to the expired entry
// when the refresh fails or takes longer than StaleAfter (the refresh then
// completes in the background). Concurrent misses share one lookup.
func (r *Resolver) Resolve(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	key := dns.CanonicalName(name) + "/" + strconv.Itoa(int(qtype))
	now := r.now()
	r.mu.RLock()
	e := r.cache[key]
	r.mu.RUnlock()
	if e != nil && now.Before(e.expires) {
		r.m.lookups.WithLabelValues("hit").Inc()
		return withTTL(e.rrs, now.Sub(e.stored), 0), nil
	}
	stale := e != nil && now.Sub(e.expires) < r.cfg.MaxStale

	ch := r.flight.DoChan(key, func() (any, error) {
		// Detached from the query: a refresh outlives the query that
		// started it, so the next query finds the cache filled.
		ctx, cancel := context.WithTimeout(r.bg, r.cfg.Timeout)
		defer cancel()
		return r.refresh(ctx, key, dns.Fqdn(name), qtype)
	})
	var timer <-chan time.Time
	if stale {
		t := time.NewTimer(r.cfg.StaleAfter)
		defer t.Stop()
		timer = t.C
	}
	select {
	case res := <-ch:
		if res.Err == nil {
			r.m.lookups.WithLabelValues("miss").Inc()
			return res.Val.([]dns.RR), nil
		}
		if stale {
			r.m.lookups.WithLabelValues("stale").Inc()
			return withTTL(e.rrs, 0, staleTTL), nil
		}
		r.m.lookups.WithLabelValues("failed").Inc()
		return nil, res.Err
	case <-timer:
		r.m.lookups.WithLabelValues("stale").Inc()
		return withTTL(e.rrs, 0, staleTTL), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("resolve %s: %w", name, ctx.Err())
	}
}

// refresh asks the upstreams and caches a usable answer.
func (r *Resolver) refresh(ctx context.Context, key, name string, qtype uint16) ([]dns.RR, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	var errs []error
	start := int(r.next.Add(1))
	for i := range r.cfg.Upstreams {
		up := r.cfg.Upstreams[(start+i)%len(r.cfg.Upstreams)]
		resp, err := r.exchange(ctx, q, up)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ttl, ok := cacheTTL(resp)
		if !ok {
			errs = append(errs, fmt.Errorf("upstream %s answered %s", up, dns.RcodeToString[resp.Rcode]))
			continue
		}
		rrs := resp.Answer
		r.store(key, rrs, ttl)
		return rrs, nil
	}
	r.m.upstreamFailures.Inc()
	err := fmt.Errorf("resolve %s %s: %w: %w", name, dns.TypeToString[qtype], ErrUpstream, errors.Join(errs...))
	r.log.Warn("upstream lookup failed", zap.String("name", name), zap.String("qtype", dns.TypeToString[qtype]), zap.Error(err))
	return nil, err
}

func (r *Resolver) exchange(ctx context.Context, q *dns.Msg, upstream string) (*dns.Msg, error) {
	resp, _, err := r.udp.ExchangeContext(ctx, q, upstream)
	if err == nil && resp.Truncated {
		resp, _, err = r.tcp.ExchangeContext(ctx, q, upstream)
	}
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", upstream, err)
	}
	if resp.Id != q.Id || len(resp.Question) != 1 || !dns.IsFqdn(resp.Question[0].Name) ||
		dns.CanonicalName(resp.Question[0].Name) != dns.CanonicalName(q.Question[0].Name) {
		return nil, fmt.Errorf("upstream %s: answer does not match the question", upstream)
	}
	return resp, nil
}

// cacheTTL returns how long a response may be cached, and false for
// responses that are failures (SERVFAIL, REFUSED, ...) not to be cached.
func cacheTTL(resp *dns.Msg) (time.Duration, bool) {
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return 0, false
	}
	if len(resp.Answer) == 0 || resp.Rcode == dns.RcodeNameError {
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second, true
			}
		}
		return negativeTTL, true
	}
	ttl := resp.Answer[0].Header().Ttl
	for _, rr := range resp.Answer {
		ttl = min(ttl, rr.Header().Ttl)
	}
	return time.Duration(ttl) * time.Second, true
}

func (r *Resolver) store(key string, rrs []dns.RR, ttl time.Duration) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cache[key]; !ok && len(r.cache) >= r.cfg.MaxEntries {
		r.evictLocked(now)
	}
	r.cache[key] = &entry{rrs: rrs, stored: now, expires: now.Add(ttl)}
	r.m.entries.Set(float64(len(r.cache)))
}

// evictLocked makes room: entries too old to be served even stale go
// first; failing that, an arbitrary one (map order is random enough to
// keep hot entries most of the time).
func (r *Resolver) evictLocked(now time.Time) {
	for k, e := range r.cache {
		if now.Sub(e.expires) >= r.cfg.MaxStale {
			delete(r.cache, k)
			return
		}
	}
	for k := range r.cache {
		delete(r.cache, k)
		return
	}
}

// withTTL copies rrs with their TTLs lowered by age, or set to fixed when
// non-zero. Cached records are shared and never modified.
func withTTL(rrs []dns.RR, age time.Duration, fixed uint32) []dns.RR {
	out := make([]dns.RR, len(rrs))
	sec := uint32(age / time.Second)
	for i, rr := range rrs {
		c := dns.Copy(rr)
		h := c.Header()
		switch {
		case fixed != 0:
			h.Ttl = fixed
		case h.Ttl > sec:
			h.Ttl -= sec
		default:
			h.Ttl = 0
		}
		out[i] = c
	}
	return out
}

func splitHostPort(s string) (string, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", err
	}
	if host == "" || port == "" {
		return "", "", errors.New("want host:port")
	}
	return host, port, nil
}

type metrics struct {
	lookups          *prometheus.CounterVec
	upstreamFailures prometheus.Counter
	entries          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_resolver", Name: "lookups_total",
			Help: "Flattening target lookups, by result (hit, miss, stale, failed).",
		}, []string{"result"}),
		upstreamFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge_resolver", Name: "upstream_failures_total",
			Help: "Upstream lookups where no upstream answered usably.",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "zonegrid", Subsystem: "edge_resolver", Name: "cache_entries",
			Help: "Entries in the flattening cache.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.lookups, m.upstreamFailures, m.entries)
	}
	return m
}
