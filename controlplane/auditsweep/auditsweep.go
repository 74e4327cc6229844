// Package auditsweep deletes audit-log entries past their retention
// (store.Config.AuditRetention): a loop that calls store.SweepAudit at an
// interval. Listings already hide expired entries; the sweep is what frees
// their space in etcd. The same loop forgets request ids (idempotency
// keys) past store.Config.IdempotencyRetention.
//
// Why a sweeper and not etcd leases: without etcd's LeaseCheckpoint
// feature gates (off by default) every leader change resets a lease's
// remaining TTL, so 90-day leases could outlive their retention
// indefinitely on a cluster whose leader changes more often than that; and
// revoking a lease deletes every key attached to it in one request. The
// sweeper deletes in bounded requests and follows the retention as
// configured now. Entries therefore expire only while a control plane runs;
// when none ran for a while the first sweep catches up.
package auditsweep

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/store"
)

// Sweeper runs store.SweepAudit periodically. Several control planes may
// each run one: deletes are idempotent, the extra cost is a few reads.
type Sweeper struct {
	st       *store.Store
	interval time.Duration
	log      *zap.Logger
	now      func() time.Time
}

// DefaultInterval returns the sweep interval for a retention: a sixteenth
// of it (the width of the store's expiry buckets), between one second and
// ten minutes.
func DefaultInterval(retention time.Duration) time.Duration {
	return min(max(retention/16, time.Second), 10*time.Minute)
}

// New returns a sweeper of st's audit log; interval ≤ 0 means
// DefaultInterval of the store's retention.
func New(st *store.Store, interval time.Duration, log *zap.Logger) *Sweeper {
	if interval <= 0 {
		interval = DefaultInterval(st.AuditRetention())
		if r := st.IdempotencyRetention(); r >= 0 {
			interval = min(interval, DefaultInterval(r))
		}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Sweeper{st: st, interval: interval, log: log, now: time.Now}
}

// Run sweeps at once and then every interval until ctx is done. A failed
// sweep is logged and retried at the next tick (what it did not delete
// stays due). It returns nil when ctx ends.
func (w *Sweeper) Run(ctx context.Context) error {
	if w.st.AuditRetention() < 0 && w.st.IdempotencyRetention() < 0 {
		w.log.Info("audit retention unlimited: no sweeping")
		return nil
	}
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.SweepOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SweepOnce runs one sweep and returns how many entries it deleted.
func (w *Sweeper) SweepOnce(ctx context.Context) int {
	start := w.now()
	n, err := w.st.SweepAudit(ctx, start)
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Warn("audit sweep failed", zap.Int("deleted", n), zap.Error(err))
	case n > 0:
		w.log.Info("audit entries past retention deleted", zap.Int("deleted", n), zap.Duration("took", time.Since(start)))
	}
	// Request ids (store/idem.go) expire by the same loop: one sweeper,
	// one interval, no etcd leases (see the store README).
	m, err := w.st.SweepIdempotency(ctx, start)
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Warn("request id sweep failed", zap.Int("deleted", m), zap.Error(err))
	case m > 0:
		w.log.Info("request ids past retention forgotten", zap.Int("deleted", m))
	}
	return n
}
