// Package leader runs a control-plane worker's duties on one control plane
// at a time: it campaigns in an etcd election, runs the duties while it
// leads, stops them the moment the election's lease is lost, and campaigns
// again. The builder, the NOTIFY worker and the lifecycle worker each lead
// through it, so that all three stop, resign and come back the same way.
package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// ErrLeaseLost ends a term whose election lease expired or was revoked:
// another control plane may lead now.
var ErrLeaseLost = errors.New("election lease lost")

// Bounds of the wait before a stopped worker campaigns again.
const (
	MinBackoff = 200 * time.Millisecond
	MaxBackoff = 10 * time.Second
)

// Config is one worker's election.
type Config struct {
	Client *clientv3.Client
	Key    string // the election's key prefix in etcd
	ID     string // this control plane's campaign value
	TTL    int    // the session lease, seconds
	// Name is the worker's, for logs and errors ("builder").
	Name string
	Log  *zap.Logger
	// Leading, if set, is 1 while this control plane leads.
	Leading prometheus.Gauge
	// Deposed, if set, tells which errors of the duties mean leadership
	// was lost (the builder's fence proving its lease no longer holds):
	// those, like ErrLeaseLost, campaign again at once (Backoff).
	Deposed func(error) bool
}

// Duties run while leading. ctx ends when the term does (the caller's ctx
// ended, or the lease was lost: context.Cause is ErrLeaseLost then); sess
// is the election's session, whose lease fences the leader's writes.
type Duties func(ctx context.Context, sess *concurrency.Session) error

// Run leads with duties whenever this control plane wins the election,
// until ctx ends; a term that ends otherwise is logged and followed by a
// campaign after Backoff.
func Run(ctx context.Context, cfg Config, duties Duties) {
	var backoff time.Duration
	for {
		started := time.Now()
		err := Term(ctx, cfg, duties)
		if ctx.Err() != nil {
			return
		}
		backoff = Backoff(backoff, err, time.Since(started), cfg.Deposed)
		cfg.Log.Warn(cfg.Name+" stopped, restarting", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// Term is one term: a session, a campaign, the duties while leading, and
// resigning. It returns nil when ctx ended, an error wrapping ErrLeaseLost
// when the lease was lost, and otherwise what the duties returned.
func Term(ctx context.Context, cfg Config, duties Duties) error {
	// The lease is granted with ctx: with etcd away, a stop must not wait
	// for etcd to answer.
	sess, err := concurrency.NewSession(cfg.Client, concurrency.WithTTL(cfg.TTL), concurrency.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while the lease was being granted
		}
		return fmt.Errorf("%s election session: %w", cfg.Name, err)
	}
	defer sess.Close()
	el := concurrency.NewElection(sess, cfg.Key)
	// A campaign cancelled by ctx resigns with the etcd client's own
	// context, which hangs while etcd is away: do not wait for it then (it
	// ends when etcd answers or the client closes).
	won := make(chan error, 1)
	go func() { won <- el.Campaign(ctx, cfg.ID) }()
	select {
	case err := <-won:
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s campaign: %w", cfg.Name, err)
		}
	case <-ctx.Done():
		return nil
	}
	cfg.Log.Info(cfg.Name+" is leader", zap.String("id", cfg.ID), zap.Int("lease_ttl_seconds", cfg.TTL))
	if cfg.Leading != nil {
		cfg.Leading.Set(1)
		defer cfg.Leading.Set(0)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = el.Resign(rctx)
	}()

	// Leading ends when the lease does: the duties stop at once.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sess.Done():
			cancel(ErrLeaseLost)
		case <-lctx.Done():
		}
	}()
	err = duties(lctx, sess)
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(context.Cause(lctx), ErrLeaseLost):
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w (%v)", cfg.Name, ErrLeaseLost, err)
		}
		return fmt.Errorf("%s: %w", cfg.Name, ErrLeaseLost)
	case err == nil:
		return fmt.Errorf("%s: duties ended while leading", cfg.Name)
	}
	return err
}

// Backoff is the wait before campaigning again after a term that lasted
// ran and ended with err; prev is the previous wait (0 before the first).
// Failures in a row double it (a crash loop, e.g. NATS away); a term that
// worked for a minute starts over. Leadership lost (ErrLeaseLost, or an
// error deposed says so: a lease renewal too slow on a loaded machine) is
// no crash: campaigning again at once is what fencing expects, a rival's
// campaign blocks it, and doubling there left a lone builder publishing
// nothing for up to 10 s after each lapse (found by the soak,
// docs/BENCHMARKS.md).
func Backoff(prev time.Duration, err error, ran time.Duration, deposed func(error) bool) time.Duration {
	if prev == 0 || ran > time.Minute || errors.Is(err, ErrLeaseLost) || (deposed != nil && deposed(err)) {
		return MinBackoff
	}
	return min(prev*2, MaxBackoff)
}
