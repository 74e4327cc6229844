package builder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// errDeposed stops a builder whose leadership can no longer be proven.
var errDeposed = errors.New("builder: leadership lost")

// fence bounds every NATS write of a leader by its election lease, so that
// a deposed leader stops writing before another builder can be elected
// (README.md, "Failover and fencing").
//
// The election key lives on the session's lease, and a rival's campaign
// completes only once that key is gone, i.e. once the lease expired on the
// etcd server. A KeepAliveOnce sent at time s that succeeds proves the
// lease will not expire before s + TTL (the server renews it to its own
// now + TTL, and its now is later than s). Each write therefore runs under
// a deadline of s + TTL - margin; a write that would outlive it fails, and
// a builder that cannot renew (etcd unreachable, lease gone) fails all its
// writes. The margin absorbs the transit time of a write that leaves just
// before its deadline and clock-rate differences.
type fence struct {
	cli    *clientv3.Client
	lease  clientv3.LeaseID
	ttl    time.Duration
	margin time.Duration

	mu    sync.Mutex
	until time.Time
}

func newFence(cli *clientv3.Client, lease clientv3.LeaseID, ttlSeconds int) *fence {
	ttl := time.Duration(ttlSeconds) * time.Second
	return &fence{cli: cli, lease: lease, ttl: ttl, margin: ttl / 4}
}

// writeCtx returns a context for one write, ending before the lease can
// have expired; err wraps errDeposed when leadership is not proven. A nil
// fence (no election, tests) adds no deadline.
func (f *fence) writeCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if f == nil {
		return ctx, func() {}, nil
	}
	until, err := f.valid(ctx)
	if err != nil {
		return nil, nil, err
	}
	wctx, cancel := context.WithDeadline(ctx, until)
	return wctx, cancel, nil
}

// valid returns until when writes are safe, renewing the lease when less
// than half the TTL is left (at most about twice per TTL under load; the
// session's own keep-alive runs besides).
func (f *fence) valid(ctx context.Context) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Until(f.until) > f.ttl/2 {
		return f.until, nil
	}
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, f.ttl/2)
	resp, err := f.cli.KeepAliveOnce(rctx, f.lease)
	cancel()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: renew lease %x: %w", errDeposed, int64(f.lease), err)
	}
	if resp.TTL <= 0 {
		return time.Time{}, fmt.Errorf("%w: lease %x expired", errDeposed, int64(f.lease))
	}
	f.until = sent.Add(min(f.ttl, time.Duration(resp.TTL)*time.Second) - f.margin)
	return f.until, nil
}
