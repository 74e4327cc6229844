// Package notifyin is the control plane's side of NOTIFY for secondary
// zones (docs/ZONE_TRANSFERS.md, "NOTIFY"): it takes the notices the edges
// publish (pkg/notify), records a refresh request per zone in etcd, and,
// on the control plane that runs the transfer worker, has the worker
// refresh those zones from their primaries at once.
//
// Why a request in etcd rather than refreshing where the notice lands: the
// control planes take notices in a NATS queue group (one of them gets each
// notice), but secondary zones are refreshed by one elected worker (the
// zone lifecycle's leader, controlplane/xfrin), which may be another
// control plane. The request key <p>/xfr/notify/<zone_id> reaches it
// wherever it runs, survives a leader change (the next leader's scheduled
// step takes what is left), and turns any number of notices before the
// refresh into one. Every control plane watches the request keys and acts
// only while it leads the lifecycle election, so a notice is acted on
// within milliseconds instead of at the next step (10 s).
package notifyin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/notify"
)

// DefaultInterval is the least time between two requests this control
// plane records for one zone (notify.Coalescer): with the edges' own
// coalescing, a NOTIFY flood costs a zone a few refreshes per second.
const DefaultInterval = 250 * time.Millisecond

// MaxParallel bounds the zones refreshed at once for NOTIFY: one slow
// primary (a transfer may take minutes) must not hold up other zones.
const MaxParallel = 8

// Refresher refreshes a secondary zone now: *xfrin.Worker.
type Refresher interface {
	Refresh(ctx context.Context, zoneID string, now time.Time, force bool) error
}

// Config configures a Receiver.
type Config struct {
	Conn      *nats.Conn
	Store     *store.Store
	Refresher Refresher
	// LeaderID is this control plane's value in the lifecycle election
	// (lifecycle.Config.ID): requests are acted on only while it leads.
	LeaderID string
	// Interval: DefaultInterval when 0.
	Interval   time.Duration
	Registerer prometheus.Registerer
}

// Receiver takes notices and acts on requests.
type Receiver struct {
	cfg Config
	log *zap.Logger
	c   *notify.Coalescer[notify.Notice]
	ctx context.Context // Run's, for the coalescer's trailing records
	// subscribed is closed once the NATS server has the subscription.
	subscribed chan struct{}
	// kick asks the act loop for a pass (buffered: one pending pass
	// stands for any number of kicks).
	kick chan struct{}
	// inflight holds the zones being refreshed; sem bounds them.
	mu       sync.Mutex
	inflight map[string]bool
	sem      chan struct{}
	wg       sync.WaitGroup

	notices   *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	lag       prometheus.Histogram
}

// New returns a Receiver; Run starts it.
func New(cfg Config, log *zap.Logger) *Receiver {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Receiver{
		cfg: cfg, log: log, ctx: context.Background(), subscribed: make(chan struct{}),
		kick: make(chan struct{}, 1), inflight: map[string]bool{}, sem: make(chan struct{}, MaxParallel),
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_notifyin_notices_total",
			Help: "NOTIFY notices taken from the edges, by result (recorded: a refresh request written; coalesced: another notice of the zone within the interval stands for it; unknown_zone; bad; error).",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_notifyin_refreshes_total",
			Help: "Refreshes run for NOTIFY requests on the leading control plane, by result (ok, error).",
		}, []string{"result"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "zonegrid_notifyin_notice_to_refresh_seconds",
			Help:    "Time from an edge receiving a NOTIFY to the end of the refresh it caused.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.notices, r.refreshes, r.lag)
	}
	r.c = &notify.Coalescer[notify.Notice]{Interval: cfg.Interval, Emit: func(_ string, n notify.Notice) { r.record(r.ctx, n) }}
	return r
}

// Run subscribes to the notices and watches the requests until ctx ends.
func (r *Receiver) Run(ctx context.Context) error {
	r.ctx = ctx
	sub, err := r.cfg.Conn.QueueSubscribe(notify.SubjectPrefix+">", notify.QueueGroup, r.onMsg)
	if err != nil {
		return fmt.Errorf("notifyin: subscribe %s: %w", notify.SubjectPrefix+">", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// Notices are plain NATS: one published before the server has the
	// subscription is not delivered. Flush makes the server confirm it.
	if err := r.cfg.Conn.FlushTimeout(5 * time.Second); err != nil {
		r.log.Warn("NATS flush after subscribing failed", zap.Error(err))
	} else {
		close(r.subscribed)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.actLoop(ctx)
	}()
	r.watch(ctx)
	<-done
	r.wg.Wait() // refreshes under way end with ctx
	return nil
}

// poke asks for a pass of the act loop.
func (r *Receiver) poke() {
	select {
	case r.kick <- struct{}{}:
	default: // a pass is due already: it will see this request too
	}
}

// Subscribed is closed once the receiver's subscription is in place on the
// NATS server (notices published before may be lost).
func (r *Receiver) Subscribed() <-chan struct{} { return r.subscribed }

// onMsg runs on the subscription's goroutine: decode, check, coalesce.
func (r *Receiver) onMsg(m *nats.Msg) {
	n, err := notify.Unmarshal(m.Data)
	if err == nil && m.Subject != notify.Subject(n.Zone) {
		err = fmt.Errorf("%w: subject %s for zone %s", notify.ErrBadNotice, m.Subject, n.Zone)
	}
	if err != nil {
		r.notices.WithLabelValues("bad").Inc()
		r.log.Warn("bad NOTIFY notice dropped", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	if r.c.Offer(n.ZoneID, n) == notify.Replaced {
		r.notices.WithLabelValues("coalesced").Inc()
	}
}

// record writes the zone's refresh request.
func (r *Receiver) record(ctx context.Context, n notify.Notice) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := r.cfg.Store.RequestNotifyRefresh(ctx, n.ZoneID, n.ReceivedAt())
	switch {
	case errors.Is(err, store.ErrNotFound):
		r.notices.WithLabelValues("unknown_zone").Inc()
		r.log.Info("NOTIFY for a zone that no longer exists", zap.String("zone", n.Zone), zap.String("zone_id", n.ZoneID))
	case err != nil:
		r.notices.WithLabelValues("error").Inc()
		r.log.Warn("NOTIFY request not recorded: the zone refreshes at its next scheduled check",
			zap.String("zone", n.Zone), zap.String("zone_id", n.ZoneID), zap.Error(err))
	default:
		r.notices.WithLabelValues("recorded").Inc()
		r.log.Debug("NOTIFY request recorded", zap.String("zone", n.Zone), zap.String("zone_id", n.ZoneID),
			zap.String("source", n.Source), zap.String("edge", n.Edge), zap.Uint32("serial", n.Serial))
	}
}

// watch kicks the act loop once at start (requests left from before) and
// on every request written, until ctx ends; a broken watch restarts.
func (r *Receiver) watch(ctx context.Context) {
	for ctx.Err() == nil {
		// The watch starts right after a revision read before the kick:
		// a request written between the kick's pass and the watch's
		// registration would otherwise wait for the lifecycle step.
		opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithFilterDelete()}
		if resp, err := r.cfg.Store.Client().Get(ctx, r.cfg.Store.NotifyRequestPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil {
			opts = append(opts, clientv3.WithRev(resp.Header.Revision+1))
		}
		r.poke()
		wch := r.cfg.Store.Client().Watch(clientv3.WithRequireLeader(ctx), r.cfg.Store.NotifyRequestPrefix(), opts...)
		for resp := range wch {
			if resp.Err() != nil {
				r.log.Warn("notify request watch failed, restarting", zap.Error(resp.Err()))
				break
			}
			r.poke()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// actLoop runs a pass per kick: kicks that arrive during a pass make one
// more pass, so requests are never left waiting for the next one.
func (r *Receiver) actLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		if err := r.act(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("NOTIFY requests not handled: the lifecycle step takes them", zap.Error(err))
		}
	}
}

// leading reports whether this control plane holds the lifecycle election
// (the first key created under it holds the leader's id).
func (r *Receiver) leading(ctx context.Context) (bool, error) {
	resp, err := r.cfg.Store.Client().Get(ctx, r.cfg.Store.LifecycleElectionKey()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return false, fmt.Errorf("read lifecycle leader: %w", err)
	}
	return len(resp.Kvs) > 0 && string(resp.Kvs[0].Value) == r.cfg.LeaderID, nil
}

// act starts a refresh for every zone with a request that is not being
// refreshed already, if this control plane leads; it does not wait for
// them. A request written during a zone's refresh survives its clearing
// (a compare on its revision), and the refresh's end asks for another
// pass, which takes it.
func (r *Receiver) act(ctx context.Context) error {
	lead, err := r.leading(ctx)
	if err != nil || !lead {
		return err
	}
	reqs, err := r.cfg.Store.NotifyRequests(ctx)
	if err != nil {
		return err
	}
	for id, rev := range reqs {
		r.mu.Lock()
		busy := r.inflight[id]
		if !busy {
			r.inflight[id] = true
		}
		r.mu.Unlock()
		if busy {
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			select {
			case r.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			r.refresh(ctx, id, rev)
			<-r.sem
			r.mu.Lock()
			delete(r.inflight, id)
			r.mu.Unlock()
			r.poke()
		}()
	}
	return nil
}

// refresh refreshes one zone for its request and clears the request.
func (r *Receiver) refresh(ctx context.Context, id string, rev int64) {
	start := time.Now()
	if err := r.cfg.Refresher.Refresh(ctx, id, start, true); err != nil {
		r.refreshes.WithLabelValues("error").Inc()
		r.log.Warn("refresh after NOTIFY failed: the lifecycle step retries it", zap.String("zone_id", id), zap.Error(err))
		return
	}
	r.refreshes.WithLabelValues("ok").Inc()
	if at, err := r.requestTime(ctx, id, rev); err == nil && !at.IsZero() {
		r.lag.Observe(time.Since(at).Seconds())
	}
	if err := r.cfg.Store.ClearNotifyRequest(ctx, id, rev); err != nil {
		r.log.Warn("NOTIFY request not cleared: the zone is refreshed once more", zap.String("zone_id", id), zap.Error(err))
		return
	}
	r.log.Debug("zone refreshed after NOTIFY", zap.String("zone_id", id), zap.Duration("took", time.Since(start)))
}

// requestTime is when the edge received the notice behind a request, read
// at the request's revision (zero when unknown).
func (r *Receiver) requestTime(ctx context.Context, zoneID string, rev int64) (time.Time, error) {
	resp, err := r.cfg.Store.Client().Get(ctx, r.cfg.Store.NotifyRequestPrefix()+zoneID, clientv3.WithRev(rev))
	if err != nil || len(resp.Kvs) == 0 {
		return time.Time{}, err
	}
	var ns int64
	if _, err := fmt.Sscan(string(resp.Kvs[0].Value), &ns); err != nil {
		return time.Time{}, nil
	}
	return time.Unix(0, ns), nil
}
