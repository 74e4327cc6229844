package builder

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// seed creates three zones (one with a record) and account settings.
func seed(t *testing.T, e *env) {
	t.Helper()
	for i, n := range []string{"a.example.", "b.example.", "c.example."} {
		createZone(t, e.st, fmt.Sprintf("zone%d", i), "acct1", n, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	}
	putRecords(t, e.st, "zone0", &dnsv1.Record{Id: "r1", Name: "www.a.example.", Type: "A", Content: "192.0.2.1", Ttl: 60})
	if _, err := e.st.UpdateAccountSettings(context.Background(), "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
		cur.EnforceDnsOnly = true
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// allPublished reports whether every seeded zone and the account are in
// NATS and the zones bucket no longer says it is filling.
func (e *env) allPublished(t *testing.T) (bool, string) {
	t.Helper()
	ctx := context.Background()
	zones, err := e.js.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		return false, err.Error()
	}
	for _, n := range []string{"a.example.", "b.example.", "c.example."} {
		entry, err := zones.Get(ctx, snapshot.ZoneKey(n))
		if err != nil {
			return false, n + ": " + err.Error()
		}
		// A nil verifier unwraps signed values without checking them.
		data, err := (*snapshot.Verifier)(nil).Open(snapshot.ZoneBinding(entry.Key()), entry.Value())
		if err != nil {
			return false, err.Error()
		}
		z, err := snapshot.UnmarshalZone(data)
		if err != nil {
			return false, err.Error()
		}
		if z.GetTombstone() || (n == "a.example." && !recordIDs(z)["r1"]) {
			return false, n + " not served: " + z.String()
		}
	}
	accts, err := e.js.KeyValue(ctx, snapshot.AccountsBucket)
	if err != nil {
		return false, err.Error()
	}
	if _, err := accts.Get(ctx, "acct1"); err != nil {
		return false, "account: " + err.Error()
	}
	for _, b := range []string{snapshot.ZonesBucket, snapshot.AccountsBucket} {
		kv, err := e.js.KeyValue(ctx, b)
		if err != nil {
			return false, err.Error()
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		if v, ok := st.Metadata()[snapshot.FillingMetadata]; ok {
			return false, b + " still filling: " + v
		}
	}
	return true, ""
}

func TestReconcileRepairsWhatNATSLostWhileRunning(t *testing.T) {
	cases := []struct {
		name string
		lose func(t *testing.T, e *env)
	}{
		{"a purged zone key", func(t *testing.T, e *env) {
			kv, err := e.js.KeyValue(context.Background(), snapshot.ZonesBucket)
			if err != nil {
				t.Fatal(err)
			}
			if err := kv.Purge(context.Background(), snapshot.ZoneKey("b.example.")); err != nil {
				t.Fatal(err)
			}
		}},
		{"the zones bucket deleted", func(t *testing.T, e *env) {
			if err := e.js.DeleteKeyValue(context.Background(), snapshot.ZonesBucket); err != nil {
				t.Fatal(err)
			}
		}},
		{"the accounts bucket deleted", func(t *testing.T, e *env) {
			if err := e.js.DeleteKeyValue(context.Background(), snapshot.AccountsBucket); err != nil {
				t.Fatal(err)
			}
		}},
		{"every stream deleted", func(t *testing.T, e *env) {
			ctx := context.Background()
			for name := range e.js.StreamNames(ctx).Name() {
				if err := e.js.DeleteStream(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			seed(t, e)
			b, _ := e.startDeltaBuilder(t, Config{ReconcileInterval: 300 * time.Millisecond})
			eventually(t, "first publication", func() (bool, string) { return e.allPublished(t) })
			tc.lose(t, e)
			// No change is made: only the reconcile can bring it back.
			lost := time.Now()
			eventually(t, "repaired", func() (bool, string) { return e.allPublished(t) })
			t.Logf("repaired %v after the loss (reconcile interval 300ms)", time.Since(lost).Round(time.Millisecond))
			// The reconcile counts itself after its last publication: the
			// edges may see the repair a moment before the metric does.
			eventually(t, "a repairing reconcile counted", func() (bool, string) {
				n := testutil.ToFloat64(b.m.reconciles.WithLabelValues("repaired"))
				return n >= 1, fmt.Sprintf("repaired reconciles = %v, want ≥ 1", n)
			})
		})
	}
}

func TestReconcileLeavesCurrentZonesAlone(t *testing.T) {
	e := newEnv(t, 0)
	seed(t, e)
	b, _ := e.startDeltaBuilder(t, Config{ReconcileInterval: 100 * time.Millisecond})
	eventually(t, "first publication", func() (bool, string) { return e.allPublished(t) })
	eventually(t, "a few clean reconciles", func() (bool, string) {
		n := testutil.ToFloat64(b.m.reconciles.WithLabelValues("ok"))
		return n >= 3, fmt.Sprint(n)
	})
	var fixed float64
	for _, why := range []string{"missing", "older", "divergent", "object_missing", "refill", "account"} {
		fixed += testutil.ToFloat64(b.m.reconcileFixed.WithLabelValues(why))
	}
	if fixed != 0 {
		t.Fatalf("reconcile republished %v things although NATS was current", fixed)
	}
}

// A NATS server whose store is wiped while no builder runs; the builder
// then resumes from its stored (advanced) revision and must republish
// everything, not only what changes afterwards.
func TestBuilderRestartedOnWipedJetStreamRepublishesEverything(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			e := newEnv(t, 0)
			dir := t.TempDir()
			startNATS := func(port int) *server.Server { return startNATSAt(t, dir, port) }
			ns := startNATS(server.RANDOM_PORT)
			t.Cleanup(func() { ns.Shutdown() })
			connect := func() {
				nc, err := nats.Connect(ns.ClientURL())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				e.nc = nc
				if e.js, err = jetstream.New(nc); err != nil {
					t.Fatal(err)
				}
			}
			connect()
			var cfg Config
			if signed {
				_, priv, _ := ed25519.GenerateKey(rand.Reader)
				cfg.Signer = snapshot.NewSigner(priv)
			}
			seed(t, e)
			_, stop := e.startDeltaBuilder(t, cfg)
			eventually(t, "first publication", func() (bool, string) { return e.allPublished(t) })
			stop()
			rev, err := e.st.BuilderRevision(context.Background())
			if err != nil || rev == 0 {
				t.Fatalf("stored revision %d, %v", rev, err)
			}

			addr := ns.Addr().String()
			ns.Shutdown()
			ns.WaitForShutdown()
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			var p int
			if _, err := fmt.Sscanf(addr[len("127.0.0.1:"):], "%d", &p); err != nil {
				t.Fatal(err)
			}
			ns = startNATS(p)
			connect()
			if _, err := e.js.KeyValue(context.Background(), snapshot.ZonesBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
				t.Fatalf("wiped store still has the zones bucket: %v", err)
			}
			e.startDeltaBuilder(t, cfg)
			eventually(t, "everything republished", func() (bool, string) { return e.allPublished(t) })
		})
	}
}

// A NATS server that comes back without its store while the builder runs:
// the reconnect is a gap, and the builder repairs it without waiting for
// the periodic reconcile.
func TestBuilderRepairsANATSServerThatCameBackEmpty(t *testing.T) {
	e := newEnv(t, 0)
	dir := t.TempDir()
	startNATS := func(port int) *server.Server { return startNATSAt(t, dir, port) }
	ns := startNATS(server.RANDOM_PORT)
	t.Cleanup(func() { ns.Shutdown() })
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	seed(t, e)
	// The periodic reconcile is far away: only the reconnect can trigger it.
	e.startDeltaBuilder(t, Config{ReconcileInterval: time.Hour})
	eventually(t, "first publication", func() (bool, string) { return e.allPublished(t) })

	var port int
	if _, err := fmt.Sscanf(ns.Addr().String()[len("127.0.0.1:"):], "%d", &port); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	ns = startNATS(port)
	back := time.Now()
	eventually(t, "repaired after the reconnect", func() (bool, string) { return e.allPublished(t) })
	t.Logf("repaired %v after the empty server came back", time.Since(back).Round(time.Millisecond))
}

// startNATSAt starts a JetStream server keeping its store in dir, on port
// (server.RANDOM_PORT for any), so a test can stop it and bring it back on
// the same address with the same or a wiped store.
func startNATSAt(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats not ready")
	}
	return ns
}
