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
// etcd server. A TimeToLive sent at time s that answers r seconds proves
// the lease will not expire before s + r (the server rounds down, and its
// now is later than s); a KeepAliveOnce sent at s that succeeds proves
// s + TTL (the server renews it to its own now + TTL). Each write therefore
// runs under a deadline of the proven time - margin; a write that would
// outlive it fails, and a builder that cannot renew (etcd unreachable,
// lease gone) fails all its writes. The margin absorbs the transit time of a write that leaves just
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
// fence (no election, tests) adds no deadline. The write gets at least
// shortWrite: enough for KV puts and deltas, proven by a cheap TimeToLive.
func (f *fence) writeCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if f == nil {
		return ctx, func() {}, nil
	}
	return f.writeCtxFor(ctx, f.ttl/8)
}

// longWriteCtx is writeCtx for a write that may take long (a zone object
// of many megabytes): it gets at least half the TTL, as every write did
// before, which may cost a KeepAliveOnce.
func (f *fence) longWriteCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if f == nil {
		return ctx, func() {}, nil
	}
	return f.writeCtxFor(ctx, f.ttl/2)
}

func (f *fence) writeCtxFor(ctx context.Context, need time.Duration) (context.Context, context.CancelFunc, error) {
	until, err := f.valid(ctx, need)
	if err != nil {
		return nil, nil, err
	}
	wctx, cancel := context.WithDeadline(ctx, until)
	return wctx, cancel, nil
}

// valid returns until when writes are safe, at least need from now.
//
// It asks with a TimeToLive (unary) first, and renews with a KeepAliveOnce
// only when that does not prove enough: clientv3 opens a new stream for
// every KeepAliveOnce and authenticates again before each stream, which
// with etcd auth on is a bcrypt check on the server, ~65 ms; done about
// every second on the publish path, it was the p99 of
// BenchmarkPropagation. The server reports the remaining seconds rounded
// down, at a time after sent, so the lease cannot expire before sent + r;
// with the session's own keep-alive renewing every third of the TTL, r is
// usually TTL - 1 seconds, which covers the short writes.
func (f *fence) valid(ctx context.Context, need time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Until(f.until) >= need {
		return f.until, nil
	}
	rctx, cancel := context.WithTimeout(ctx, f.ttl/2)
	defer cancel()
	sent := time.Now()
	ttl, err := f.cli.TimeToLive(rctx, f.lease)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: lease %x time to live: %w", errDeposed, int64(f.lease), err)
	}
	if until := sent.Add(time.Duration(ttl.TTL)*time.Second - f.margin); until.After(f.until) {
		f.until = until
	}
	if time.Until(f.until) >= need {
		return f.until, nil
	}
	sent = time.Now()
	resp, err := f.cli.KeepAliveOnce(rctx, f.lease)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: renew lease %x: %w", errDeposed, int64(f.lease), err)
	}
	if resp.TTL <= 0 {
		return time.Time{}, fmt.Errorf("%w: lease %x expired", errDeposed, int64(f.lease))
	}
	if until := sent.Add(min(f.ttl, time.Duration(resp.TTL)*time.Second) - f.margin); until.After(f.until) {
		f.until = until
	}
	if time.Until(f.until) <= 0 {
		return time.Time{}, fmt.Errorf("%w: lease %x renewed too late", errDeposed, int64(f.lease))
	}
	return f.until, nil
}

// steppedWrite is a fenced context for a write made of many steps (a zone
// object of ~100 MB sent in chunks at a bounded pace, so that it does not
// take the CPU from the control plane's record writes): it can outlive one
// proven window because every step proves the lease again before it
// starts. The context ends when the window proven last ends, unless a
// step moved it on before.
type steppedWrite struct {
	ctx    context.Context
	f      *fence
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer // ends ctx at the proven window's end
}

// errWindowPassed ends a stepped write whose step came after the window it
// had proven.
var errWindowPassed = fmt.Errorf("%w: a step of a long write came after its proven window", errDeposed)

// steppedWriteCtx starts a stepped write with at least need proven. A nil
// fence (no election, tests) proves nothing and sets no end.
func (f *fence) steppedWriteCtx(ctx context.Context, need time.Duration) (*steppedWrite, error) {
	wctx, cancel := context.WithCancelCause(ctx)
	w := &steppedWrite{ctx: wctx, f: f, cancel: cancel}
	if f == nil {
		return w, nil
	}
	until, err := f.valid(ctx, need)
	if err != nil {
		cancel(err)
		return nil, err
	}
	w.timer = time.AfterFunc(time.Until(until), func() { cancel(errWindowPassed) })
	return w, nil
}

// step proves that the next step, taking at most need, ends within the
// lease, and moves the context's end to the window proven. An error ends
// the write.
func (w *steppedWrite) step(need time.Duration) error {
	if err := context.Cause(w.ctx); err != nil {
		return err
	}
	if w.f == nil {
		return nil
	}
	until, err := w.f.valid(w.ctx, need)
	if err != nil {
		w.cancel(err)
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.timer.Stop() {
		// The window had ended (and ctx with it) before this proof: what
		// the lease was doing in between is unknown.
		return errWindowPassed
	}
	w.timer.Reset(time.Until(until))
	return nil
}

// done releases the write's context.
func (w *steppedWrite) done() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel(context.Canceled)
}
