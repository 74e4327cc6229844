package follow

import (
	"context"
	"runtime"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// opened is a bucket entry with its value verified and unwrapped; done is
// closed once payload and err are set. A nil e is the watcher's "initial
// listing complete" marker, passed through in order.
type opened struct {
	e       jetstream.KeyValueEntry
	payload []byte
	err     error
	done    chan struct{}
	// received and verified are set only while tracing (trace.go).
	received, verified time.Time
}

// verifyAhead verifies the values of in on every core and hands them on
// in their order. An edge's cold start lists every zone at once, and an
// Ed25519 verification costs tens of microseconds: one at a time, 10,000
// signed zones would take half a second longer to load than unsigned
// ones. Deletes and purges carry no value and pass as they are. The
// stages stop when ctx ends.
func (f *Follower) verifyAhead(ctx context.Context, in <-chan jetstream.KeyValueEntry, bind bindFunc) <-chan *opened {
	workers := runtime.GOMAXPROCS(0)
	out := make(chan *opened, 64*workers)
	work := make(chan *opened, 64*workers)
	open := func(o *opened) {
		o.payload, o.err = f.cfg.Verifier.Open(bind(o.e.Key()), o.e.Value())
		if !o.received.IsZero() {
			o.verified = time.Now()
		}
		close(o.done)
	}
	for range workers {
		go func() {
			for o := range work {
				open(o)
			}
		}()
	}
	go func() {
		defer close(out)
		defer close(work)
		for {
			var e jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				return
			case e, ok = <-in:
			}
			if !ok {
				return
			}
			o := &opened{e: e, done: make(chan struct{})}
			if f.tracing() {
				o.received = time.Now()
			}
			switch {
			case e == nil || e.Operation() != jetstream.KeyValuePut:
				close(o.done)
			case len(in) == 0 && len(work) == 0:
				// A lone update (the steady state after the first
				// listing): verified here, without handing it to a
				// worker and back, each hand-off a goroutine wake-up
				// (docs/BENCHMARKS.md, "Propagation").
				open(o)
			default:
				select {
				case work <- o:
				case <-ctx.Done():
					return
				}
			}
			select {
			case out <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
