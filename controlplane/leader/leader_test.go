package leader

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

func config(t *testing.T, id string) Config {
	return Config{Client: etcdCli, Key: etcdtest.Prefix(t) + "/election", ID: id, TTL: 2, Name: "test worker " + id, Log: zaptest.NewLogger(t)}
}

// candidate runs Run for id in the background and counts its terms; each
// term blocks until its context ends or release is closed.
type candidate struct {
	terms   atomic.Int32
	leading atomic.Bool
	sess    chan *concurrency.Session
	stop    context.CancelFunc
	done    chan struct{}
}

func run(t *testing.T, cfg Config) *candidate {
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{sess: make(chan *concurrency.Session, 16), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		Run(ctx, cfg, func(ctx context.Context, s *concurrency.Session) error {
			c.terms.Add(1)
			c.leading.Store(true)
			defer c.leading.Store(false)
			c.sess <- s
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOneLeaderAtATimeAndTheOtherTakesOver(t *testing.T) {
	a := run(t, config(t, "a"))
	waitFor(t, "a to lead", a.leading.Load)
	b := run(t, config(t, "b"))
	time.Sleep(300 * time.Millisecond)
	if b.leading.Load() {
		t.Fatal("b leads while a does")
	}
	a.stop()
	<-a.done
	waitFor(t, "b to lead after a stopped", b.leading.Load)
	if a.leading.Load() {
		t.Fatal("a still leads after its stop")
	}
}

func TestLostLeaseEndsTheTermAndCampaignsAgainAtOnce(t *testing.T) {
	a := run(t, config(t, "a"))
	s := <-a.sess
	// The lease lapses as it does when renewals are too slow.
	if _, err := etcdCli.Revoke(context.Background(), s.Lease()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "a second term", func() bool { return a.terms.Load() == 2 })
	// MinBackoff, not a doubled wait; generous for a loaded machine.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second term began %v after the lease was revoked", d)
	}
}

func TestTermReportsTheLostLease(t *testing.T) {
	cfg := config(t, "a")
	errc := make(chan error, 1)
	go func() {
		errc <- Term(context.Background(), cfg, func(ctx context.Context, s *concurrency.Session) error {
			if _, err := etcdCli.Revoke(context.Background(), s.Lease()); err != nil {
				return err
			}
			<-ctx.Done()
			if !errors.Is(context.Cause(ctx), ErrLeaseLost) {
				return fmt.Errorf("duties ended by %v, want ErrLeaseLost", context.Cause(ctx))
			}
			return ctx.Err()
		})
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Term = %v, want ErrLeaseLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Term did not end after its lease was revoked")
	}
}

func TestTermEndsQuietlyWhenStoppedWhileCampaigning(t *testing.T) {
	a := run(t, config(t, "a"))
	waitFor(t, "a to lead", a.leading.Load)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Term(ctx, config(t, "b"), func(context.Context, *concurrency.Session) error {
			return errors.New("b must not lead while a does")
		})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Term stopped while campaigning = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Term did not end when stopped while campaigning")
	}
}

func TestTermEndsQuietlyWhenStoppedBeforeItsSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Term(ctx, config(t, "a"), func(context.Context, *concurrency.Session) error {
		return errors.New("led with a stopped context")
	}); err != nil {
		t.Fatalf("Term stopped before its session = %v, want nil", err)
	}
}

func TestDutiesThatFailAreReported(t *testing.T) {
	boom := errors.New("connect to NATS: connection refused")
	err := Term(context.Background(), config(t, "a"), func(context.Context, *concurrency.Session) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Term = %v, want %v", err, boom)
	}
}

func TestBackoff(t *testing.T) {
	crash := errors.New("connect to NATS: connection refused")
	deposedErr := errors.New("builder: leadership lost")
	deposed := func(err error) bool { return errors.Is(err, deposedErr) }
	fenced := fmt.Errorf("publish delta of zone z.: %w: renew lease 1: context deadline exceeded", deposedErr)
	lost := fmt.Errorf("notify worker: %w", ErrLeaseLost)
	for _, tc := range []struct {
		name string
		prev time.Duration
		err  error
		ran  time.Duration
		want time.Duration
	}{
		{"first failure", 0, crash, time.Second, MinBackoff},
		{"failures in a row double", 800 * time.Millisecond, crash, time.Second, 1600 * time.Millisecond},
		{"capped", 8 * time.Second, crash, time.Second, MaxBackoff},
		{"a term of over a minute starts over", MaxBackoff, crash, 2 * time.Minute, MinBackoff},
		// The soak (a loaded 2-core machine, lease 2 s) lost leadership every
		// ~20 s; doubling made a lone builder wait 10 s after each lapse.
		{"leadership lost (the worker's own check): campaign again at once", MaxBackoff, fenced, 20 * time.Second, MinBackoff},
		{"lease lost: campaign again at once", MaxBackoff, lost, 20 * time.Second, MinBackoff},
		{"leadership lost the first time", 0, fenced, time.Second, MinBackoff},
	} {
		if got := Backoff(tc.prev, tc.err, tc.ran, deposed); got != tc.want {
			t.Errorf("%s: Backoff(%v, %v, %v) = %v, want %v", tc.name, tc.prev, tc.err, tc.ran, got, tc.want)
		}
	}
}
