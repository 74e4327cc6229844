package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// NATS losing its snapshots (issue 8) must not leave a new edge answering
// REFUSED for live zones: the control plane republishes what NATS lost,
// while it runs (periodic reconcile) and when it starts (from a stored
// revision whose snapshots NATS no longer holds), and an edge started
// afterwards answers every zone as soon as it is ready.
func TestNewEdgeAnswersZonesAfterNATSLostThem(t *testing.T) {
	cases := []struct {
		name string
		// lose purges the zones bucket (the control plane's NATS user may
		// purge its streams), around whatever the control plane does.
		lose func(c *cluster, purge func())
	}{
		{"purged while the control plane runs", func(_ *cluster, purge func()) { purge() }},
		{"purged while the control plane is down", func(c *cluster, purge func()) {
			c.cp.Stop()
			purge()
			c.restartControlPlaneOnly()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, quiet())
			// Start over with a short reconcile interval.
			c.cpCfg.ReconcileInterval = 300 * time.Millisecond
			c.restartControlPlane()
			z := c.createZone("acme", "lost.example", dnsv1.Plan_PLAN_FREE)
			c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.7", Ttl: 120})
			c.eventually("record answered", answerIs("www.lost.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.7"))

			nc, err := nats.Connect(c.servers.NATSURL(), nkeyOption(t, c.servers.Credentials().ControlPlaneNkeySeedFile))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			kv, err := js.KeyValue(ctx, snapshot.ZonesBucket)
			if err != nil {
				t.Fatal(err)
			}
			purge := func() {
				s, err := js.Stream(ctx, "KV_"+snapshot.ZonesBucket)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Purge(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := kv.Get(ctx, snapshot.ZoneKey("lost.example.")); err == nil {
					t.Fatal("zone still in the bucket after the purge")
				}
			}
			tc.lose(c, purge)
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := kv.Get(ctx, snapshot.ZoneKey("lost.example.")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the control plane never republished the lost zone")
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Ready means the zone is there: no polling.
			e := c.addEdge(ctx)
			if err := answerIs("www.lost.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.7")(e.UDPAddr()); err != nil {
				t.Fatalf("new edge right after ready: %v", err)
			}
		})
	}
}

// restartControlPlaneOnly starts the control plane again after c.cp.Stop.
func (c *cluster) restartControlPlaneOnly() {
	c.tb.Helper()
	_ = c.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.startControlPlane(ctx)
}

func nkeyOption(t *testing.T, seedFile string) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}
