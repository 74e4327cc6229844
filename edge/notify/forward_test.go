package notify

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/pkg/natsauth"
	pkgnotify "github.com/zonegrid/zonegrid/pkg/notify"
)

// On a real NATS server with natsauth's permissions: the edge's user
// publishes notices, the control plane's user takes them in its queue
// group (one control plane per notice), and the edge's user cannot read
// them; a flood for one zone reaches the control plane a few times per
// second while another zone's notice goes at once.
func TestForwarderPublishesCoalescedNoticesTheControlPlaneReceives(t *testing.T) {
	srv := natstest.StartSecure(t, t.TempDir())
	t.Cleanup(srv.Stop)
	edgeConn, err := nats.Connect(srv.URL(), srv.Users.Option(t, natsauth.Edge), nats.Name("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edgeConn.Close)
	var got [2]atomic.Int64
	var last atomic.Value
	for i := range 2 { // two control planes
		cp, err := nats.Connect(srv.URL(), srv.Users.Option(t, natsauth.ControlPlane))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cp.Close)
		if _, err := cp.QueueSubscribe(pkgnotify.SubjectPrefix+">", pkgnotify.QueueGroup, func(m *nats.Msg) {
			n, err := pkgnotify.Unmarshal(m.Data)
			if err != nil {
				t.Errorf("bad notice: %v", err)
				return
			}
			got[i].Add(1)
			last.Store(n)
		}); err != nil {
			t.Fatal(err)
		}
		if err := cp.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// The edge may not read notices.
	errs := make(chan error, 1)
	denied, err := nats.Connect(srv.URL(), srv.Users.Option(t, natsauth.Edge), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(denied.Close)
	if _, err := denied.SubscribeSync(pkgnotify.SubjectPrefix + ">"); err == nil {
		_ = denied.Flush()
		select {
		case <-errs:
		case <-time.After(2 * time.Second):
			t.Fatal("the edge's user subscribed to notices")
		}
	}

	f := New(Config{Publisher: edgeConn, Edge: "edge-1", Interval: 200 * time.Millisecond})
	start := time.Now()
	sent := 0
	for time.Since(start) < time.Second {
		f.Accept(pkgnotify.Notice{ZoneID: "z1", Zone: "sec.example.", Source: "192.0.2.1", Serial: uint32(sent), HasSerial: true, Received: time.Now().UnixNano()})
		sent++
		time.Sleep(200 * time.Microsecond)
	}
	f.Accept(pkgnotify.Notice{ZoneID: "z2", Zone: "other.example.", Source: "192.0.2.1", Received: time.Now().UnixNano()})
	time.Sleep(500 * time.Millisecond)
	if err := edgeConn.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	total := got[0].Load() + got[1].Load()
	// One second of flood at one per 200 ms: 5 or 6 for sec.example., one
	// for other.example.
	if total < 5 || total > 8 {
		t.Fatalf("%d notices sent, %d reached the control planes (%d, %d); want about 7", sent, total, got[0].Load(), got[1].Load())
	}
	if fw := testutil.ToFloat64(f.forwarded); int64(fw) != total {
		t.Fatalf("forwarded counter %v, received %d", fw, total)
	}
	if c := testutil.ToFloat64(f.dropped.WithLabelValues("coalesced")); int(c)+int(total) != sent+1 {
		t.Fatalf("coalesced %v + forwarded %d != accepted %d", c, total, sent+1)
	}
	if n := last.Load().(pkgnotify.Notice); n.Edge != "edge-1" {
		t.Fatalf("notice without the edge's name: %+v", n)
	}
	t.Logf("%d notices in 1s became %d on the control planes", sent, total)
}
