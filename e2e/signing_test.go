package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A snapshot forged straight into NATS (unsigned, signed by another key,
// or a delete) does not change what an edge answers; the control plane's
// next signed snapshot still does.
func TestForgedSnapshotInNATSDoesNotChangeAnswers(t *testing.T) {
	c := newCluster(t, 1)
	z := c.createZone("acme", "signed.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 120})
	c.eventually("signed zone answered", answerIs("www.signed.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))

	// The forger holds the control plane's NATS credential (a compromised
	// NATS or publisher), but not the signing key.
	seed, err := nats.NkeyOptionFromSeed(c.servers.Credentials().ControlPlaneNkeySeedFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(c.servers.NATSURL(), seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
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
	const key = "signed.test"
	e, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !snapshot.IsSigned(e.Value()) {
		t.Fatal("the control plane published an unsigned snapshot")
	}
	// The forgery: the genuine zone with a higher version and www pointing
	// elsewhere.
	payload, err := (*snapshot.Verifier)(nil).Open(snapshot.ZoneBinding(key), e.Value())
	if err != nil {
		t.Fatal(err)
	}
	zone, err := snapshot.UnmarshalZone(payload)
	if err != nil {
		t.Fatal(err)
	}
	zone.Header.Version += 1000
	rr, err := dns.NewRR("www.signed.test. 120 IN A 203.0.113.66")
	if err != nil {
		t.Fatal(err)
	}
	wire := make([]byte, 512)
	n, err := dns.PackRR(rr, wire, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range zone.Records {
		if got, _, err := dns.UnpackRR(r.Rr, 0); err == nil && got.Header().Rrtype == dns.TypeA {
			r.Rr = wire[:n]
		}
	}
	forged, err := snapshot.MarshalZone(zone)
	if err != nil {
		t.Fatal(err)
	}
	_, attackerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	byAttacker, err := snapshot.NewSigner(attackerKey).Seal(snapshot.ZoneBinding(key), forged)
	if err != nil {
		t.Fatal(err)
	}
	edge := c.edges[0]
	rejected := func(reason string) float64 {
		t.Helper()
		mfs, err := edge.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "zonegrid_edge_snapshot_rejected_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == reason {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	forgeries := []struct {
		name   string
		do     func() error
		reason string
	}{
		{"unsigned snapshot", func() error { _, err := kv.Put(ctx, key, forged); return err }, "unsigned"},
		{"snapshot signed by another key", func() error { _, err := kv.Put(ctx, key, byAttacker); return err }, "unknown_key"},
		{"delete of the zone", func() error { return kv.Delete(ctx, key) }, "unsigned"},
	}
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			before := rejected(f.reason)
			if err := f.do(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for rejected(f.reason) <= before {
				if time.Now().After(deadline) {
					t.Fatal("forgery never reached the edge")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := answerIs("www.signed.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1")(edge.UDPAddr()); err != nil {
				t.Fatalf("answer changed by a forged snapshot: %v", err)
			}
		})
	}
	// The control plane's next snapshot (signed) still applies: its
	// version is an etcd revision, below the forgery's, but the forgery
	// was never applied.
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "mail", Type: "A", Content: "192.0.2.2", Ttl: 120})
	c.eventually("genuine update answered", answerIs("mail.signed.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.2"))
	c.eventually("www unchanged", answerIs("www.signed.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))
}
