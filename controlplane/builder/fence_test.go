package builder

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// A stepped write (a zone object sent paced) lives longer than one proven
// window as long as each step proves the lease again, ends by itself when
// no step does, and ends at the first step after the lease is gone.
func TestSteppedWriteRenewsTheFenceBetweenSteps(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	sess, err := concurrency.NewSession(e.st.Client(), concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	f := newFence(e.st.Client(), sess.Lease(), 2)

	t.Run("steps keep it alive past the TTL", func(t *testing.T) {
		w, err := f.steppedWriteCtx(ctx, f.ttl/8)
		if err != nil {
			t.Fatal(err)
		}
		defer w.done()
		start := time.Now()
		for time.Since(start) < 3*time.Second { // longer than any one proof (TTL 2 s)
			if err := w.step(f.ttl / 8); err != nil {
				t.Fatalf("step after %v: %v", time.Since(start), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := w.ctx.Err(); err != nil {
			t.Fatalf("stepped write ended while its lease lived: %v", context.Cause(w.ctx))
		}
	})

	t.Run("without steps it ends with its window", func(t *testing.T) {
		w, err := f.steppedWriteCtx(ctx, f.ttl/8)
		if err != nil {
			t.Fatal(err)
		}
		defer w.done()
		select {
		case <-w.ctx.Done():
		case <-time.After(f.ttl):
			t.Fatal("a stepped write outlived its lease's TTL without proving it again")
		}
		if cause := context.Cause(w.ctx); !errors.Is(cause, errDeposed) {
			t.Fatalf("ended by %v, want errDeposed", cause)
		}
		if err := w.step(f.ttl / 8); err == nil {
			t.Fatal("a step after the window passed succeeded")
		}
	})

	t.Run("a step after the lease is gone ends it", func(t *testing.T) {
		w, err := f.steppedWriteCtx(ctx, f.ttl/8)
		if err != nil {
			t.Fatal(err)
		}
		defer w.done()
		if _, err := e.st.Client().Revoke(ctx, sess.Lease()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.until = time.Time{} // what was proven has passed
		f.mu.Unlock()
		if err := w.step(f.ttl / 8); !errors.Is(err, errDeposed) {
			t.Fatalf("step with the lease revoked: %v, want errDeposed", err)
		}
		if w.ctx.Err() == nil {
			t.Fatal("the write's context lives on after a failed step")
		}
	})

	var none *fence
	w, err := none.steppedWriteCtx(ctx, time.Second)
	if err != nil || w.step(time.Second) != nil {
		t.Fatalf("no fence: %v", err)
	}
	w.done()
}
