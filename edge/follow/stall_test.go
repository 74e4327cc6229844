package follow

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// A watch whose consumer the server lost (the NATS server hosting it was
// killed, found by the chaos suite) delivers nothing, and the client's own
// heartbeat check notices only 10 to 20 s later. The follower notices
// within two stall checks that the bucket moved on without it, and
// watches again.
func TestFollowerWatchesAgainWhenItsConsumerIsLost(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "stall.test.", 1))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1})

	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones := zonecache.NewSet()
	runFollower(t, Config{Conn: nc, Zones: zones, Accounts: zonecache.NewAccounts(), Log: zaptest.NewLogger(t),
		RetryWait: 100 * time.Millisecond, StallCheck: 200 * time.Millisecond})
	ctx := t.Context()
	natstest.Eventually(t, wait, "version 1", hasVersion(zones, "stall.test.", 1))

	// The server forgets the watch's consumer, as when the server hosting
	// it dies; the connection stays up.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "KV_"+snapshot.ZonesBucket)
	if err != nil {
		t.Fatal(err)
	}
	names := s.ConsumerNames(ctx)
	deleted := 0
	for name := range names.Name() {
		if err := s.DeleteConsumer(ctx, name); err != nil {
			t.Fatal(err)
		}
		deleted++
	}
	if deleted == 0 {
		t.Fatal("no consumer on the zones bucket")
	}
	start := time.Now()
	for v := uint64(2); ; v++ {
		pub.PutZone(zone(t, "stall.test.", v))
		if hasVersion(zones, "stall.test.", v)() {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("version %d not applied %v after the consumer was lost", v, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("following again %v after the consumer was lost", time.Since(start).Round(time.Millisecond))
}

// Watching again must not wait for the old watch's consumer to be deleted:
// while JetStream elects a stream leader (a NATS server died) that request
// goes unanswered until its 5 s timeout, and the chaos suite saw every edge
// that had reconnected start its new watch 5 s late. A user who may not
// delete consumers makes the request go unanswered the same way.
func TestFollowerWatchesAgainWithoutWaitingForTheOldConsumer(t *testing.T) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: "publisher", Password: "p"},
			{Username: "edge", Password: "e", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.CONSUMER.DELETE.>"}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	pub := natstest.NewPublisher(t, s.ClientURL(), nats.UserInfo("publisher", "p"))
	pub.PutZone(zone(t, "again.test.", 1))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1})

	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("edge", "e"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones := zonecache.NewSet()
	f := runFollower(t, Config{Conn: nc, Zones: zones, Accounts: zonecache.NewAccounts(), Log: zaptest.NewLogger(t),
		RetryWait: 100 * time.Millisecond})
	natstest.Eventually(t, wait, "version 1", hasVersion(zones, "again.test.", 1))

	// What a reconnect does: every watch starts over.
	f.Reconnected()
	start := time.Now()
	pub.PutZone(zone(t, "again.test.", 2))
	natstest.Eventually(t, wait, "version 2", hasVersion(zones, "again.test.", 2))
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("version 2 applied %v after the watch started over, want well under the 5 s a consumer deletion may wait", d.Round(time.Millisecond))
	}
	t.Logf("version 2 applied %v after the watch started over", time.Since(start).Round(time.Millisecond))
}

// A delta consumer that stops delivering while the connection stays up and
// the server goes on sending its heartbeats (paused here; a consumer the
// server wedged looks the same) is never started over by nats.go. The
// follower finds it stalled within a few checks and consumes again after
// the last delta it handled.
func TestFollowerConsumesDeltasAgainWhenItsConsumerStalls(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	s := deltaStream(t, pub)
	pub.PutZone(zone(t, "big.test.", 10))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1})

	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones := zonecache.NewSet()
	f := runFollower(t, Config{Conn: nc, Zones: zones, Accounts: zonecache.NewAccounts(), Log: zaptest.NewLogger(t),
		RetryWait: 100 * time.Millisecond, StallCheck: 100 * time.Millisecond})
	ctx := t.Context()
	natstest.Eventually(t, wait, "version 10", hasVersion(zones, "big.test.", 10))
	publishDelta(t, pub, delta(t, "big.test.", 10, 11, "a IN A 192.0.2.11"))
	natstest.Eventually(t, wait, "version 11 from a delta", hasVersion(zones, "big.test.", 11))

	paused := 0
	names := s.ConsumerNames(ctx)
	for name := range names.Name() {
		if _, err := s.PauseConsumer(ctx, name, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		paused++
	}
	if paused == 0 {
		t.Fatal("no consumer on the delta stream")
	}
	start := time.Now()
	publishDelta(t, pub, delta(t, "big.test.", 11, 12, "b IN A 192.0.2.12"))
	natstest.Eventually(t, 5*time.Second, "version 12 past the stalled consumer", hasVersion(zones, "big.test.", 12))
	t.Logf("version 12 applied %v after its delta, past the stalled consumer", time.Since(start).Round(time.Millisecond))
	if n := testutil.ToFloat64(f.m.watchStalls.WithLabelValues(deltasKey)); n < 1 {
		t.Fatalf("delta consumer stalls counted: %v, want at least 1", n)
	}
}
