package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/leader"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Clock tells the time; tests give a controllable one.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config configures a Worker.
type Config struct {
	Policy Policy
	// Checker runs the scheduled ownership checks; nil: none (immediate
	// activation mode), only the timers run.
	Checker Checker
	// Clock; nil means the wall clock.
	Clock Clock
	// Interval is how often due work is looked for; 0 = 10 s.
	Interval time.Duration
	// SessionTTL is the election lease in seconds; 0 = 10.
	SessionTTL int
	// Concurrency bounds the checks in flight; 0 = 16.
	Concurrency int
	// Also is other scheduled work run at the end of every Step, under the
	// same election (DNSSEC rollovers and DS checks): one control plane
	// does scheduled work at a time, with the same clock.
	Also []func(ctx context.Context, now time.Time) error
	// ID names this replica in the election.
	ID         string
	Registerer prometheus.Registerer
}

// Worker runs the lifecycle on one control plane at a time.
type Worker struct {
	st  *store.Store
	cfg Config
	log *zap.Logger

	transitions *prometheus.CounterVec
	checks      *prometheus.CounterVec
	leader      prometheus.Gauge
}

// New returns a worker; Run starts it.
func New(st *store.Store, cfg Config, log *zap.Logger) *Worker {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.Policy = cfg.Policy.WithDefaults()
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 10
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	w := &Worker{
		st: st, cfg: cfg, log: log,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_lifecycle_transitions_total", Help: "Zone status changes made by the lifecycle worker, by new status.",
		}, []string{"to"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_lifecycle_checks_total", Help: "Scheduled ownership checks, by zone status and result (pass, fail).",
		}, []string{"status", "result"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_lifecycle_leader", Help: "1 while this control plane runs the zone lifecycle.",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(w.transitions, w.checks, w.leader)
	}
	return w
}

// Run campaigns for leadership and, while leader, runs Step every
// Interval. It returns when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	leader.Run(ctx, leader.Config{
		Client: w.st.Client(), Key: w.st.LifecycleElectionKey(), ID: w.cfg.ID, TTL: w.cfg.SessionTTL,
		Name: "lifecycle worker", Log: w.log, Leading: w.leader,
	}, w.lead)
	return nil
}

// lead is one term's duties: a Step every Interval.
func (w *Worker) lead(ctx context.Context, _ *concurrency.Session) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Step(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("lifecycle step failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Stats counts what one Step did.
type Stats struct {
	Zones       int
	Transitions int
	Checks      int
	Failed      int
}

// Step makes every transition and check that is due now, once. Timers
// come first: a zone whose timer fired is not checked in the same step.
func (w *Worker) Step(ctx context.Context) (Stats, error) {
	now := w.cfg.Clock.Now()
	var st Stats
	var states map[string]*dnsv1.ActivationChecks
	if w.cfg.Checker != nil {
		var err error
		if states, err = w.st.AllZoneChecks(ctx); err != nil {
			return st, err
		}
	}
	var due []*dnsv1.Zone
	err := w.st.EachZone(ctx, 500, func(z *dnsv1.Zone) error {
		st.Zones++
		if to, at, ok := w.cfg.Policy.Timer(z); ok && !now.Before(at) {
			if err := w.transition(ctx, z, to, now); err != nil {
				st.Failed++
				w.log.Warn("lifecycle transition failed", zap.String("zone_id", z.GetId()), zap.Stringer("to", to), zap.Error(err))
			} else {
				st.Transitions++
			}
			return nil
		}
		if w.cfg.Checker == nil {
			return nil
		}
		if at, ok := w.cfg.Policy.NextCheck(z, states[z.GetId()]); ok && !now.Before(at) {
			due = append(due, z)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("lifecycle scan: %w", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, w.cfg.Concurrency)
	for _, z := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			moved, err := w.CheckZone(ctx, z, states[z.GetId()], now, false)
			mu.Lock()
			defer mu.Unlock()
			st.Checks++
			if err != nil {
				st.Failed++
				w.log.Warn("lifecycle check failed", zap.String("zone_id", z.GetId()), zap.Error(err))
			}
			if moved {
				st.Transitions++
			}
		}()
	}
	wg.Wait()
	for _, step := range w.cfg.Also {
		if err := step(ctx, now); err != nil {
			st.Failed++
			w.log.Warn("scheduled step failed", zap.Error(err))
		}
	}
	return st, nil
}

// transition makes a timer's change, if the zone is still as it was read.
func (w *Worker) transition(ctx context.Context, z *dnsv1.Zone, to dnsv1.ZoneStatus, now time.Time) error {
	if to == dnsv1.ZoneStatus_ZONE_STATUS_PURGED {
		if _, err := w.st.PurgeDeletedZone(ctx, z.GetId(), now.Add(-w.cfg.Policy.DeletedPurgeAfter)); err != nil {
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				return nil // restored or gone meanwhile
			}
			return err
		}
	} else {
		_, changed, err := w.st.SetZoneStatus(ctx, "Lifecycle", z.GetId(), []dnsv1.ZoneStatus{z.GetStatus()}, to, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || !changed {
			return err
		}
	}
	w.transitions.WithLabelValues(statusLabel(to)).Inc()
	w.log.Info("zone status changed by timer", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()),
		zap.String("account_id", z.GetAccountId()), zap.Stringer("from", z.GetStatus()), zap.Stringer("to", to))
	return nil
}

// CheckZone checks z now and acts on the result: a pending or moved zone
// that passes is activated (moving another account's active zone of the
// name), an active zone that failed FailuresToMove times in a row is
// moved. The check state is stored either way; requested marks an
// on-demand check (ActivationCheck), which its rate limit counts. Returns
// whether the status changed.
func (w *Worker) CheckZone(ctx context.Context, z *dnsv1.Zone, state *dnsv1.ActivationChecks, now time.Time, requested bool) (bool, error) {
	if w.cfg.Checker == nil {
		return false, errors.New("lifecycle: no checker configured")
	}
	c := proto.Clone(current(z, state)).(*dnsv1.ActivationChecks)
	var opts CheckOptions
	if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		opts.MultiProvider = true
	} else if z.GetType() == dnsv1.ZoneType_ZONE_TYPE_FULL {
		zs, err := w.st.GetZoneSettings(ctx, z.GetId())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("check zone %s: %w", z.GetId(), err)
		}
		opts.MultiProvider = zs.GetMultiProvider()
	}
	res := w.cfg.Checker.Check(ctx, z, opts)
	ts := timestamppb.New(now)
	c.LastCheckOn, c.LastResult = ts, res.Reason
	c.Checks++
	if requested {
		c.LastRequestedOn = ts
	}
	result := "pass"
	if !res.OK {
		result = "fail"
	}
	w.checks.WithLabelValues(statusLabel(z.GetStatus()), result).Inc()
	changed := false
	var err error
	switch z.GetStatus() {
	case dnsv1.ZoneStatus_ZONE_STATUS_PENDING, dnsv1.ZoneStatus_ZONE_STATUS_MOVED:
		if res.OK {
			var nz *dnsv1.Zone
			if nz, err = w.st.ActivateZone(ctx, z.GetId(), now); err == nil && nz.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
				changed = true
				c.Checks, c.ConsecutiveFailures = 0, 0
			}
		}
	case dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE:
		if res.OK {
			c.ConsecutiveFailures = 0
			break
		}
		c.ConsecutiveFailures++
		if int(c.GetConsecutiveFailures()) >= w.cfg.Policy.FailuresToMove {
			_, changed, err = w.st.SetZoneStatus(ctx, "Lifecycle", z.GetId(), []dnsv1.ZoneStatus{dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE}, dnsv1.ZoneStatus_ZONE_STATUS_MOVED, now)
			if changed {
				c.Checks = 0
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("check zone %s: %w", z.GetId(), err)
	}
	if changed {
		to := "ACTIVE"
		if z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			to = "MOVED"
		}
		w.transitions.WithLabelValues(to).Inc()
		w.log.Info("zone status changed by check", zap.String("zone_id", z.GetId()), zap.String("zone", z.GetName()),
			zap.Stringer("from", z.GetStatus()), zap.String("to", to), zap.String("reason", res.Reason))
	}
	if err := w.st.PutZoneChecks(ctx, z.GetId(), c); err != nil && !errors.Is(err, store.ErrNotFound) {
		return changed, err
	}
	return changed, nil
}

func statusLabel(s dnsv1.ZoneStatus) string {
	const p = "ZONE_STATUS_"
	n := s.String()
	if len(n) > len(p) {
		return n[len(p):]
	}
	return n
}
