package zonecache

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// A CNAME target decoded by plainName reads exactly as dns.UnpackDomainName
// reads it; names it does not handle are left to UnpackDomainName.
func TestPlainNameReadsLikeUnpackDomainName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
	}{
		{".", true},
		{"www.example.com.", true},
		{"_sip._tcp.Example-1.com.", true},
		{"*.wild.example.com.", true},
		{"a\\.b.example.com.", false},
		{"sp\\032ace.example.com.", false},
		{"\\255.example.com.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 256)
			n, err := dns.PackDomainName(tc.name, buf, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := dns.UnpackDomainName(buf[:n], 0)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := plainName(string(buf[:n]))
			if ok != tc.plain {
				t.Fatalf("plain %v, want %v", ok, tc.plain)
			}
			if ok && got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// Every record type reads back from the wire form as it was loaded, and a
// set holds exactly its stored records (Holds), whatever their order of
// types.
func TestSetsReadBackAsLoaded(t *testing.T) {
	rrs := []string{
		"x.example.com. 300 IN A 192.0.2.1",
		"x.example.com. 200 IN A 192.0.2.2",
		"x.example.com. 300 IN AAAA 2001:db8::1",
		"x.example.com. 300 IN MX 10 mail.example.net.",
		"x.example.com. 300 IN TXT \"hello world\" \"two\"",
		"x.example.com. 300 IN CAA 0 issue \"ca.example\"",
		"x.example.com. 300 IN SRV 1 2 3 target.example.com.",
		"x.example.com. 300 IN HTTPS 1 . alpn=h2,h3 ipv4hint=192.0.2.1",
	}
	n := &Node{Name: "x.example.com."}
	var b []byte
	for i, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		wire := make([]byte, 512)
		end, err := dns.PackRR(rr, wire, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		enc, _, err := encodeRecord(record{id: idKey{byte(i)}, rr: rr, end: end}, wire[:end], nil)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, enc...)
	}
	n.data = string(b)
	n.derive("example.com.")
	got := map[string]bool{}
	for _, s := range n.Sets() {
		if !n.Holds(s.Type, s.RRs) {
			t.Errorf("%s: Holds is false for the set as read", dns.TypeToString[s.Type])
		}
		if s.Type == dns.TypeA && s.MinTTL != 200 {
			t.Errorf("A MinTTL %d, want 200", s.MinTTL)
		}
		for _, rr := range s.RRs {
			got[rr.String()] = true
		}
	}
	for _, s := range rrs {
		rr, _ := dns.NewRR(s)
		if !got[rr.String()] {
			t.Errorf("%s not read back; got %v", rr, got)
		}
	}
	if len(got) != len(rrs) {
		t.Errorf("%d records read back, want %d", len(got), len(rrs))
	}
	a := n.Set(dns.TypeA)
	if n.Holds(dns.TypeA, a.RRs[:1]) {
		t.Error("Holds is true for part of the set")
	}
	a.RRs[0].(*dns.A).A[3] = 9
	if n.Holds(dns.TypeA, a.RRs) {
		t.Error("Holds is true for a changed record")
	}
	if n.Set(dns.TypeA).RRs[0].(*dns.A).A[3] != 1 {
		t.Error("changing a decoded record changed the stored one")
	}
}

// A record that duplicates an earlier one of its set (dns.IsDuplicate:
// names compared without case, TTL ignored) is not served and does not
// lower the set's TTL, and is served again once a delta deletes the earlier
// one.
func TestDuplicatesAreHiddenUntilTheFirstGoes(t *testing.T) {
	z := build(t, "example.com.", 1, `
m      IN MX 10 mail.example.net.
m      IN MX 10 MAIL.Example.NET.
m      IN MX 20 other.example.net.
d  300 IN A 192.0.2.1
d   60 IN A 192.0.2.1
`)
	targets := func(z *Zone) []string {
		var out []string
		for _, rr := range z.Node("m.example.com.").Set(dns.TypeMX).RRs {
			out = append(out, rr.(*dns.MX).Mx)
		}
		return out
	}
	if got := targets(z); len(got) != 2 || got[0] != "mail.example.net." || got[1] != "other.example.net." {
		t.Fatalf("MX %v, want the first two distinct ones", got)
	}
	if a := z.Node("d.example.com.").Set(dns.TypeA); len(a.RRs) != 1 || a.MinTTL != 300 || a.RRs[0].Header().Ttl != 300 {
		t.Fatalf("A %v MinTTL %d, want the first record alone, TTL 300", a.RRs, a.MinTTL)
	}
	nz, err := ApplyDelta(z, &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 1, ToVersion: 2, Deletes: []string{"ra0", "rd3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := targets(nz); len(got) != 2 || got[0] != "MAIL.Example.NET." {
		t.Fatalf("MX after deleting the first %v, want its duplicate served", got)
	}
	if a := nz.Node("d.example.com.").Set(dns.TypeA); len(a.RRs) != 1 || a.MinTTL != 60 {
		t.Fatalf("A after deleting the first %v MinTTL %d, want the duplicate, TTL 60", a.RRs, a.MinTTL)
	}
	if got := targets(z); len(got) != 2 || got[0] != "mail.example.net." {
		t.Fatalf("the held version changed: MX %v", got)
	}
}
