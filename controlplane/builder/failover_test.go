package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// failoverBudget is the issue-8 target: a leader's death to the next change
// published by its successor.
const failoverBudget = 3 * time.Second

// contender is a builder with its own etcd client, as a separate control
// plane process has. Its client reaches etcd through a TCP proxy: cutting
// the proxy is what a kill -9 does to its session (no resign, no revoke
// can get out; the lease ends by its TTL). Closing the client instead is
// not abrupt enough: a resign can slip out while it closes.
type contender struct {
	b     *Builder
	cli   *clientv3.Client
	proxy *proxy
	stop  func()
}

// proxy forwards TCP connections to one address until cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// cut closes the listener and every connection at once.
func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (e *env) startContender(t *testing.T, id string) *contender {
	t.Helper()
	target := strings.TrimPrefix(strings.TrimPrefix(e.st.Client().Endpoints()[0], "http://"), "https://")
	px := startProxy(t, target)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + px.ln.Addr().String()},
		DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(store.New(cli, "/zg", zaptest.NewLogger(t)), e.nc,
		Config{SOARname: "dns.test.", Coalesce: 5 * time.Millisecond, SessionTTL: 2, ID: id}, zaptest.NewLogger(t).Named(id))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Run(ctx)
	}()
	c := &contender{b: b, cli: cli, proxy: px}
	c.stop = func() { cancel(); <-done; cli.Close() }
	t.Cleanup(c.stop)
	return c
}

func (c *contender) leading() bool { return testutil.ToFloat64(c.b.m.leader) == 1 }

// TestFailoverPublishesWithinBudgetAfterLeaderDies kills the leader's etcd
// session abruptly three times in a row and measures the time from the
// kill to a change, made right after it, being in the zones bucket.
func TestFailoverPublishesWithinBudgetAfterLeaderDies(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	cs := []*contender{e.startContender(t, "cp-0"), e.startContender(t, "cp-1")}
	for round := range 3 {
		var leader *contender
		eventually(t, "one leader", func() (bool, string) {
			n := 0
			for _, c := range cs {
				if c.leading() {
					n++
					leader = c
				}
			}
			return n == 1, fmt.Sprint(n, " leaders")
		})
		// Make sure the leader is past its start (it publishes changes).
		warm := fmt.Sprintf("warm%d.example.", round)
		createZone(t, e.st, fmt.Sprintf("warm%d", round), "acct1", warm, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
		eventually(t, "leader publishing", func() (bool, string) {
			kv, err := e.js.KeyValue(ctx, snapshot.ZonesBucket)
			if err == nil {
				_, err = kv.Get(ctx, snapshot.ZoneKey(warm))
			}
			return err == nil, fmt.Sprint(err)
		})
		w, err := e.js.KeyValue(ctx, snapshot.ZonesBucket)
		if err != nil {
			t.Fatal(err)
		}

		// kill -9: the process's connections go without resigning or
		// revoking its lease.
		killed := time.Now()
		leader.proxy.cut()
		name := fmt.Sprintf("after-kill%d.example.", round)
		createZone(t, e.st, fmt.Sprintf("after%d", round), "acct1", name, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
		changed := time.Since(killed)
		var took time.Duration
		for {
			if _, err := w.Get(ctx, snapshot.ZoneKey(name)); err == nil {
				took = time.Since(killed)
				break
			} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatal(err)
			}
			if time.Since(killed) > 30*time.Second {
				t.Fatal("the change was never published after the leader died")
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("failover round %d: leader killed → change published by the successor in %v (lease TTL 2s; change committed %v after the kill)",
			round, took.Round(time.Millisecond), changed.Round(time.Millisecond))
		if took > failoverBudget {
			t.Errorf("failover took %v, budget %v", took, failoverBudget)
		}
		// The dead one is replaced by a fresh process.
		leader.stop()
		for i, c := range cs {
			if c == leader {
				cs[i] = e.startContender(t, fmt.Sprintf("cp-%d", round+2))
			}
		}
	}
}

// A leader that can no longer renew its lease must not write: the fence
// refuses once the lease is gone.
func TestFenceRefusesWritesOnceTheLeaseIsGone(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	sess, err := concurrency.NewSession(e.st.Client(), concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	f := newFence(e.st.Client(), sess.Lease(), 2)
	wctx, cancel, err := f.writeCtx(ctx)
	if err != nil {
		t.Fatalf("live lease: %v", err)
	}
	dl, ok := wctx.Deadline()
	cancel()
	if !ok || time.Until(dl) > 2*time.Second {
		t.Fatalf("write deadline %v: want one within the lease TTL", dl)
	}
	// A long write (a zone object) gets at least half the TTL, renewing
	// the lease if the proof at hand is shorter.
	wctx, cancel, err = f.longWriteCtx(ctx)
	if err != nil {
		t.Fatalf("live lease, long write: %v", err)
	}
	dl, ok = wctx.Deadline()
	cancel()
	if left := time.Until(dl); !ok || left < 900*time.Millisecond || left > 2*time.Second {
		t.Fatalf("long write deadline in %v: want at least half the TTL, within the TTL", left)
	}
	if _, err := e.st.Client().Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.until = time.Time{} // the proven window has passed
	f.mu.Unlock()
	if _, _, err := f.writeCtx(ctx); !errors.Is(err, errDeposed) {
		t.Fatalf("revoked lease: err = %v, want errDeposed", err)
	}
	var none *fence
	if _, _, err := none.writeCtx(ctx); err != nil {
		t.Fatalf("no fence: %v", err)
	}
}
