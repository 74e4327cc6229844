package follow

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const wait = 30 * time.Second

func zone(t *testing.T, name string, version uint64) *snapshot.Zone {
	return zonetest.Zone(t, zonetest.Header(name, version), "www IN A 192.0.2.1\n")
}

func startFollower(t *testing.T, url string) (*Follower, *zonecache.Set, *zonecache.Accounts) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones, accts := zonecache.NewSet(), zonecache.NewAccounts()
	f, err := New(Config{Conn: nc, Zones: zones, Accounts: accts, Log: zaptest.NewLogger(t), RetryWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Wired the way node wires it.
	nc.SetReconnectHandler(func(*nats.Conn) { f.Reconnected() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, zones, accts
}

// runFollower runs a follower of cfg until the test ends.
func runFollower(t *testing.T, cfg Config) *Follower {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func hasVersion(zones *zonecache.Set, name string, v uint64) func() bool {
	return func() bool { got, ok := zones.Version(name); return ok && got == v }
}

func TestFollowerLoadsThenFollowsUpdates(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "small.test.", 3))
	pub.PutZoneObject(zone(t, "large.test.", 5))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1, EnforceDnsOnly: true})

	f, zones, accts := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("follower never ready")
	}
	// Ready means the initial listing is in memory, not merely on its way.
	for _, c := range []struct {
		name    string
		version uint64
	}{{"small.test.", 3}, {"large.test.", 5}} {
		if !hasVersion(zones, c.name, c.version)() {
			t.Errorf("after ready: zone %s not at version %d", c.name, c.version)
		}
	}
	if z := zones.Get("large.test."); z == nil || z.Node("www.large.test.") == nil {
		t.Errorf("zone from the object store has no records")
	}
	if !accts.EnforceDNSOnly("acct-1") {
		t.Errorf("account settings not loaded")
	}

	steps := []struct {
		name  string
		do    func()
		until func() bool
		check func(t *testing.T)
	}{
		{"newer version replaces the zone", func() { pub.PutZone(zone(t, "small.test.", 4)) },
			hasVersion(zones, "small.test.", 4), nil},
		{"older version is ignored", func() {
			pub.PutZone(zone(t, "small.test.", 2))
			pub.PutZone(zone(t, "marker1.test.", 1))
		}, hasVersion(zones, "marker1.test.", 1), func(t *testing.T) {
			if v, _ := zones.Version("small.test."); v != 4 {
				t.Errorf("small.test. at version %d after an older snapshot, want 4", v)
			}
		}},
		{"garbage snapshot is skipped and the old zone kept", func() {
			pub.PutZoneBytes("small.test", []byte("\xff\xffnot a protobuf"))
			pub.PutZone(zone(t, "marker2.test.", 1))
		}, hasVersion(zones, "marker2.test.", 1), func(t *testing.T) {
			if v, _ := zones.Version("small.test."); v != 4 {
				t.Errorf("small.test. at version %d after garbage, want 4", v)
			}
		}},
		{"large zone update via object store", func() { pub.PutZoneObject(zone(t, "large.test.", 9)) },
			hasVersion(zones, "large.test.", 9), nil},
		{"delete removes the zone", func() { pub.DeleteZone("large.test.") },
			func() bool { return zones.Get("large.test.") == nil }, nil},
		{"account switch flips back", func() {
			pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 2})
		}, func() bool { return !accts.EnforceDNSOnly("acct-1") }, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			natstest.Eventually(t, wait, s.name, s.until)
			if s.check != nil {
				s.check(t)
			}
		})
	}
}

func TestFollowerSurvivesNATSRestart(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.Start(t, dir, 0)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "keep.test.", 1))
	f, zones, _ := startFollower(t, srv.URL())
	<-f.Ready()

	srv.Stop()
	// Nothing is lost while NATS is away.
	time.Sleep(300 * time.Millisecond)
	if !hasVersion(zones, "keep.test.", 1)() {
		t.Fatal("zone lost while NATS is down")
	}

	srv = natstest.Start(t, dir, srv.Port)
	t.Cleanup(srv.Stop)
	pub = natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "keep.test.", 2))
	pub.PutZone(zone(t, "new.test.", 1))
	natstest.Eventually(t, wait, "updates after restart", func() bool {
		return hasVersion(zones, "keep.test.", 2)() && hasVersion(zones, "new.test.", 1)()
	})
}

func TestFollowerWaitsForBuckets(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	f, zones, _ := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
		t.Fatal("ready before the buckets exist")
	case <-time.After(200 * time.Millisecond):
	}
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "late.test.", 1))
	natstest.Eventually(t, wait, "zone after buckets appear", hasVersion(zones, "late.test.", 1))
	<-f.Ready()
}

func TestFollowerDropsZonesMissingFromAFreshListing(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "kept.test.", 1))

	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones, accts := zonecache.NewSet(), zonecache.NewAccounts()
	// Held from before, as after a watch restart: deleted meanwhile.
	stale, err := zonecache.Build(zone(t, "gone.test.", 1))
	if err != nil {
		t.Fatal(err)
	}
	zones.Put(stale)
	accts.Put(&snapshot.Account{AccountId: "gone-account", Version: 1, EnforceDnsOnly: true})
	f := runFollower(t, Config{Conn: nc, Zones: zones, Accounts: accts, Log: zaptest.NewLogger(t)})
	<-f.Ready()
	if zones.Get("gone.test.") != nil || accts.EnforceDNSOnly("gone-account") {
		t.Error("snapshots missing from the listing still held")
	}
	if zones.Get("kept.test.") == nil {
		t.Error("listed zone not loaded")
	}
}

func TestObjectDeadlineGrowsWithTheObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		size uint64
		want time.Duration
	}{
		{"empty object: the client's request timeout", 0, 5 * time.Second},
		{"below one step", minObjectRate - 1, 5 * time.Second},
		{"106 MB zone object", 106371315, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := objectDeadline(tc.size); got != tc.want {
				t.Fatalf("objectDeadline(%d) = %s, want %s", tc.size, got, tc.want)
			}
		})
	}
}
