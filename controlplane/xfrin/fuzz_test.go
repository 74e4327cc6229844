package xfrin

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseTransfer feeds the transfer reader whatever a primary could
// send (the answer records of a DNS message): it must never panic, and
// what it accepts must be consistent (framed by the zone's SOA, every
// record inside the zone, IXFR sequences going forward).
func FuzzParseTransfer(f *testing.F) {
	seed := func(have uint32, lines ...string) {
		m := new(dns.Msg)
		for _, l := range lines {
			rr, err := dns.NewRR(l)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, have)
	}
	soa := func(serial string) string {
		return "sec.example. 300 IN SOA ns.sec.example. admin.sec.example. " + serial + " 7200 3600 1209600 300"
	}
	seed(0, soa("5"), "www.sec.example. 300 IN A 192.0.2.1", soa("5"))
	seed(4, soa("5"), soa("4"), "old.sec.example. 300 IN A 192.0.2.9", soa("5"), "new.sec.example. 300 IN A 192.0.2.10", soa("5"))
	seed(5, soa("5"))
	seed(4, soa("6"), soa("4"), soa("5"), soa("5"), soa("6"), soa("6"))
	f.Fuzz(func(t *testing.T, msg []byte, have uint32) {
		m := new(dns.Msg)
		if m.Unpack(msg) != nil {
			return
		}
		for _, h := range []*uint32{nil, &have} {
			res, err := parse("sec.example.", m.Answer, h)
			if err != nil {
				continue
			}
			if res.SOA == nil || res.Serial != res.SOA.Serial {
				t.Fatalf("accepted without its SOA: %+v", res)
			}
			prev := uint32(0)
			for i, d := range res.Diffs {
				if !Newer(d.To, d.From) || (i > 0 && d.From != prev) {
					t.Fatalf("accepted a broken IXFR chain: %+v", res.Diffs)
				}
				prev = d.To
			}
			for _, rr := range append(append([]dns.RR(nil), res.Records...), flatten(res.Diffs)...) {
				if !dns.IsSubDomain("sec.example.", dns.CanonicalName(rr.Header().Name)) {
					t.Fatalf("accepted %s outside the zone", rr.Header().Name)
				}
			}
		}
	})
}

func flatten(ds []Diff) []dns.RR {
	var out []dns.RR
	for _, d := range ds {
		out = append(append(out, d.Deleted...), d.Added...)
	}
	return out
}
