package e2e

// Key rollovers end to end (issue 11): a real control plane with its
// rollover durations scaled down to seconds, a real edge, and real
// validating unbounds must answer with AD through every step of a ZSK
// rollover by pre-publication and of a KSK rollover by double signature.
// Two kinds of resolver check it: one with warm caches polls all along
// (its record caches capped at one second, the TTLs scaled as the
// durations are; unbound keeps a validated DNSKEY set in its key cache for
// the set's TTL, as resolvers do in real rollovers), and fresh ones (empty
// caches) check each step on its own, which is what catches a key set the
// parent's DS does not lead to (verified by breaking the double signature:
// the fresh resolvers answer SERVFAIL).

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// scaledTTLs caps unbound's caches at one second: the DNSKEY TTL (3600 s)
// scaled as the rollover durations are, so that the pre-publication and
// retirement delays (2 s) cover it as the real ones (2 h, 26 h) cover an
// hour and a day.
const scaledTTLs = "cache-max-ttl: 1\ncache-max-negative-ttl: 1\nkey-cache-slabs: 1"

// rolloverCluster is a cluster whose control plane runs the DNSSEC
// rollovers on policy and steps every 100 ms, its DS checks asking the
// edge (which serves the parent zones too) in delegation mode.
func rolloverCluster(t *testing.T, policy cpdnssec.Policy) *cluster {
	t.Helper()
	// The resolver is known once the edge runs: start, then restart the
	// control plane on the same etcd and NATS with it.
	c := newCluster(t, 1, withActivation("delegation", "127.0.0.1:9"))
	c.cpCfg.ActivationResolver = c.edges[0].UDPAddr()
	c.cpCfg.DNSSEC = policy
	c.cpCfg.LifecycleInterval = 100 * time.Millisecond
	c.restartControlPlane()
	return c
}

// poller asks the resolver for each question every 50 ms until stopped and
// remembers every answer that was not NOERROR with AD.
type poller struct {
	stop  chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
	asked int
	bad   []string
}

func startPoller(t *testing.T, resolver string, qs ...dns.Question) *poller {
	t.Helper()
	p := &poller{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		cl := &dns.Client{Timeout: 3 * time.Second}
		for {
			for _, q := range qs {
				m := new(dns.Msg)
				m.SetQuestion(q.Name, q.Qtype)
				m.SetEdns0(4096, true)
				r, _, err := cl.Exchange(m, resolver)
				p.mu.Lock()
				p.asked++
				switch {
				case err != nil:
					p.bad = append(p.bad, fmt.Sprintf("%s %s: %v", q.Name, dns.TypeToString[q.Qtype], err))
				case r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData:
					p.bad = append(p.bad, fmt.Sprintf("%s %s at %s: rcode %s AD %v", q.Name, dns.TypeToString[q.Qtype],
						time.Now().Format("15:04:05.000"), dns.RcodeToString[r.Rcode], r.AuthenticatedData))
				}
				p.mu.Unlock()
			}
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *poller) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}

// check stops the poller and fails the test if any answer was not green.
func (p *poller) check(t *testing.T) {
	t.Helper()
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asked < 10 {
		t.Errorf("the poller asked only %d questions", p.asked)
	}
	if len(p.bad) > 0 {
		t.Errorf("%d of %d answers during the rollover were not validated (AD): %v", len(p.bad), p.asked, p.bad)
	}
	t.Logf("%d answers during the rollover, all validated", p.asked)
}

// edgeSigs asks the edge for name/qtype with DO and returns the key tags of
// the RRSIGs in the answer and authority sections, and the answer.
func edgeSigs(t *testing.T, edge, name string, qtype uint16) ([]uint16, *dns.Msg) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(4096, true)
	m, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, edge)
	if err != nil {
		t.Fatalf("ask the edge %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	var tags []uint16
	for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
		if s, ok := rr.(*dns.RRSIG); ok {
			tags = append(tags, s.KeyTag)
		}
	}
	return tags, m
}

// freshAD asks a new unbound (empty caches) each question and fails
// unless every answer is NOERROR with AD.
func freshAD(t *testing.T, step, edge string, anchors, zones []string, qs ...dns.Question) {
	t.Helper()
	res := unboundWith(t, scaledTTLs, edge, anchors, zones...)
	for _, q := range qs {
		if m := validated(t, res, q.Name, q.Qtype); m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData {
			t.Errorf("%s: %s %s from an empty cache: rcode %s AD %v:\n%v", step, q.Name, dns.TypeToString[q.Qtype], dns.RcodeToString[m.Rcode], m.AuthenticatedData, m)
		}
	}
}

func (c *cluster) getDnssec(zoneID string) *dnsv1.Dnssec {
	c.tb.Helper()
	r, err := dnsv1.NewDnssecServiceClient(c.conn).GetDnssec(c.ctx(), &dnsv1.GetDnssecRequest{ZoneId: zoneID})
	if err != nil {
		c.tb.Fatalf("get dnssec of %s: %v", zoneID, err)
	}
	return r.GetDnssec()
}

// until polls cond every 50 ms for up to 15 s.
func until(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keyStates(d *dnsv1.Dnssec, flags uint32) map[uint32]string {
	out := map[uint32]string{}
	for _, k := range d.GetKeys() {
		if k.GetFlags() == flags {
			out[k.GetKeyTag()] = k.GetState()
		}
	}
	return out
}

func TestDnssecZSKRolloverStaysValidatedInUnbound(t *testing.T) {
	interopTool(t, "unbound")
	const prepublish = 3 * time.Second
	c := rolloverCluster(t, cpdnssec.Policy{Prepublish: prepublish, RetiredKeep: 2 * time.Second, CheckInterval: 200 * time.Millisecond})
	z := c.createZone("acme", "zskroll.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.51"})
	ds := c.enableDNSSEC(z.GetId(), false)
	c.eventually("signed DNSKEY set", signedDNSKEY("zskroll.test."))
	edge := c.edges[0].UDPAddr()
	anchors, zones := []string{ds}, []string{"zskroll.test"}
	www := dns.Question{Name: "www.zskroll.test.", Qtype: dns.TypeA}
	dnskey := dns.Question{Name: "zskroll.test.", Qtype: dns.TypeDNSKEY}
	// A name never asked before is signed at the moment: which ZSK signs.
	fresh := 0
	signer := func() uint16 {
		fresh++
		tags, m := edgeSigs(t, edge, fmt.Sprintf("n%d.zskroll.test.", fresh), dns.TypeA)
		if len(tags) == 0 {
			t.Fatalf("unsigned denial: %v", m)
		}
		return tags[0]
	}
	before := c.getDnssec(z.GetId())
	oldZSK := uint32(0)
	for tag := range keyStates(before, 256) {
		oldZSK = tag
	}
	if got := signer(); uint32(got) != oldZSK {
		t.Fatalf("signed by %d before the rollover, want the ZSK %d", got, oldZSK)
	}
	res := unboundWith(t, scaledTTLs, edge, anchors, zones...)
	poll := startPoller(t, res, www, dnskey, dns.Question{Name: "nope.zskroll.test.", Qtype: dns.TypeA})

	rolled := time.Now()
	r, err := dnsv1.NewDnssecServiceClient(c.conn).RollZsk(c.ctx(), &dnsv1.RollZskRequest{ZoneId: z.GetId()})
	if err != nil {
		t.Fatalf("roll ZSK: %v", err)
	}
	var newZSK uint32
	for tag, st := range keyStates(r.GetDnssec(), 256) {
		if st == "published" {
			newZSK = tag
		}
	}
	if newZSK == 0 {
		t.Fatalf("no published ZSK after RollZsk: %v", r.GetDnssec().GetKeys())
	}
	t.Run("published: three DNSKEYs, the old ZSK still signs", func(t *testing.T) {
		c.eventually("the next ZSK published", func(addr string) error {
			if m := query(t, addr, "zskroll.test.", dns.TypeDNSKEY, false); len(m.Answer) != 3 {
				return fmt.Errorf("DNSKEY set %v", m.Answer)
			}
			return nil
		})
		// The edge switches at activate_unix (whole seconds): the old ZSK
		// surely signs until a second before the end of pre-publication. A
		// machine too busy to get here by then skips this one check.
		if got := signer(); time.Since(rolled) < prepublish-time.Second && uint32(got) != oldZSK {
			t.Errorf("signed by %d during pre-publication, want the old ZSK %d", got, oldZSK)
		} else if time.Since(rolled) >= prepublish-time.Second {
			t.Logf("pre-publication over before the check (%v): not checked which ZSK signs", time.Since(rolled))
		}
		freshAD(t, "pre-publication", edge, anchors, zones, www, dnskey)
	})
	t.Run("switched: the new ZSK signs, the old one is retired but published", func(t *testing.T) {
		until(t, "the new ZSK signs", func() error {
			if got := signer(); uint32(got) != newZSK {
				return fmt.Errorf("signed by %d", got)
			}
			return nil
		})
		// The edge switches at activate_unix, whole seconds: up to a
		// second before the API's exact time.
		until(t, "the API shows the switch", func() error {
			if st := keyStates(c.getDnssec(z.GetId()), 256); st[oldZSK] != "retired" || st[newZSK] != "active" {
				return fmt.Errorf("ZSK states %v", st)
			}
			return nil
		})
		if m := query(t, edge, "zskroll.test.", dns.TypeDNSKEY, false); len(m.Answer) != 3 {
			t.Errorf("the retired ZSK is no longer published: %v", m.Answer)
		}
		freshAD(t, "after the switch", edge, anchors, zones, www, dnskey)
	})
	t.Run("removed: two DNSKEYs, the new ZSK signs", func(t *testing.T) {
		c.eventually("the old ZSK removed", func(addr string) error {
			if m := query(t, addr, "zskroll.test.", dns.TypeDNSKEY, false); len(m.Answer) != 2 {
				return fmt.Errorf("DNSKEY set %v", m.Answer)
			}
			return nil
		})
		if st := keyStates(c.getDnssec(z.GetId()), 256); len(st) != 1 || st[newZSK] != "active" {
			t.Errorf("ZSKs after the removal %v", st)
		}
		if tags, _ := edgeSigs(t, edge, "www.zskroll.test.", dns.TypeA); len(tags) != 1 || uint32(tags[0]) != newZSK {
			t.Errorf("www signed by %v after the removal, want %d", tags, newZSK)
		}
		freshAD(t, "after the removal", edge, anchors, zones, www, dnskey)
	})
	// One more second of polling: caches that held the old DNSKEY set
	// (capped at one second) have expired.
	time.Sleep(time.Second)
	poll.check(t)
}

func TestDnssecKSKRolloverStaysValidatedInUnbound(t *testing.T) {
	interopTool(t, "unbound")
	c := rolloverCluster(t, cpdnssec.Policy{KSKRetiredKeep: 2 * time.Second, CheckInterval: 200 * time.Millisecond})
	// The parent is a signed zone on the platform delegating to the
	// child with NS and DS records: the test plays the registrar by
	// editing the DS, and the resolver trusts only the parent.
	parent := c.createZone("acme", "kskroll.test", dnsv1.Plan_PLAN_FREE)
	parentDS := c.enableDNSSEC(parent.GetId(), false)
	child := c.createZone("acme", "child.kskroll.test", dnsv1.Plan_PLAN_ENTERPRISE)
	c.createRecord(child.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.61"})
	ds1 := c.enableDNSSEC(child.GetId(), false)
	for _, ns := range child.GetNameServers() {
		c.createRecord(parent.GetId(), &dnsv1.Record{Name: "child", Type: "NS", Content: ns})
	}
	dsRecord := func(ds string) *dnsv1.Record {
		f := strings.Fields(ds)
		return c.createRecord(parent.GetId(), &dnsv1.Record{Name: "child", Type: "DS", Content: strings.Join(f[len(f)-4:], " ")})
	}
	oldDSRecord := dsRecord(ds1)
	edge := c.edges[0].UDPAddr()
	anchors, zones := []string{parentDS}, []string{"kskroll.test"}
	www := dns.Question{Name: "www.child.kskroll.test.", Qtype: dns.TypeA}
	dnskey := dns.Question{Name: "child.kskroll.test.", Qtype: dns.TypeDNSKEY}
	until(t, "the child active (its DS seen at the parent)", func() error {
		if s := c.getDnssec(child.GetId()).GetStatus(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
	c.eventually("the child signed", signedDNSKEY("child.kskroll.test."))
	freshAD(t, "before the rollover", edge, anchors, zones, www, dnskey)
	res := unboundWith(t, scaledTTLs, edge, anchors, zones...)
	poll := startPoller(t, res, www, dnskey)

	r, err := dnsv1.NewDnssecServiceClient(c.conn).RollKsk(c.ctx(), &dnsv1.RollKskRequest{ZoneId: child.GetId()})
	if err != nil {
		t.Fatalf("roll KSK: %v", err)
	}
	d := r.GetDnssec()
	ds2 := d.GetDs()
	oldKSK, newKSK := d.GetKskRollover().GetOldKeyTag(), d.GetKskRollover().GetNewKeyTag()
	if ds2 == ds1 || len(d.GetDsRecords()) != 2 || d.GetDsRecords()[1] != ds1 || oldKSK == 0 || newKSK != d.GetKeyTag() {
		t.Fatalf("RollKsk answered DS %q, records %q, rollover %v; the old DS was %q", ds2, d.GetDsRecords(), d.GetKskRollover(), ds1)
	}
	cdsTag := func() uint16 {
		_, m := edgeSigs(t, edge, "child.kskroll.test.", dns.TypeCDS)
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CDS); ok {
				return c.KeyTag
			}
		}
		return 0
	}
	t.Run("double signature: both KSKs published and signing, CDS names the new one", func(t *testing.T) {
		c.eventually("the new KSK published", func(addr string) error {
			tags, m := edgeSigs(t, addr, "child.kskroll.test.", dns.TypeDNSKEY)
			if len(m.Answer)-len(tags) != 3 || len(tags) != 2 {
				return fmt.Errorf("DNSKEY answer %v", m.Answer)
			}
			return nil
		})
		if got := cdsTag(); uint32(got) != newKSK {
			t.Errorf("CDS names key %d, want the new KSK %d", got, newKSK)
		}
		freshAD(t, "double signature, old DS at the parent", edge, anchors, zones, www, dnskey)
		// The parent still has the old DS only: the rollover waits.
		time.Sleep(500 * time.Millisecond)
		if ro := c.getDnssec(child.GetId()).GetKskRollover(); ro.GetWaitingFor() != "ds" {
			t.Fatalf("rollover without the new DS at the parent: %v", ro)
		}
	})
	t.Run("the registrar replaces the DS: the old KSK retires, then goes", func(t *testing.T) {
		dsRecord(ds2)
		if _, err := c.records.DeleteRecord(c.ctx(), &dnsv1.DeleteRecordRequest{ZoneId: parent.GetId(), RecordId: oldDSRecord.GetId()}); err != nil {
			t.Fatal(err)
		}
		until(t, "the old KSK retired", func() error {
			d := c.getDnssec(child.GetId())
			if st := keyStates(d, 257); st[oldKSK] != "retired" && len(st) != 1 {
				return fmt.Errorf("KSK states %v, rollover %v", st, d.GetKskRollover())
			}
			return nil
		})
		freshAD(t, "new DS at the parent, old KSK still signing", edge, anchors, zones, www, dnskey)
		c.eventually("the old KSK removed", func(addr string) error {
			tags, m := edgeSigs(t, addr, "child.kskroll.test.", dns.TypeDNSKEY)
			if len(tags) != 1 || uint32(tags[0]) != newKSK || len(m.Answer) != 3 {
				return fmt.Errorf("DNSKEY answer %v", m.Answer)
			}
			return nil
		})
		d := c.getDnssec(child.GetId())
		if d.GetKskRollover() != nil || len(d.GetDsRecords()) != 1 || d.GetDs() != ds2 || d.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
			t.Errorf("after the rollover: %v", d)
		}
		freshAD(t, "after the rollover", edge, anchors, zones, www, dnskey)
	})
	time.Sleep(time.Second)
	poll.check(t)
}
