package zonecache

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// TestAppendWireIsSetsUndecoded checks that every node's wire records,
// decoded, are the records Sets returns, in the same order: sets in the
// order of their first record (regrouped when a set's records came
// apart), duplicates left out, the apex's synthesized SOA and NS among
// them, after deltas too.
func TestAppendWireIsSetsUndecoded(t *testing.T) {
	h := zonetest.Header("example.test.", 1)
	z, err := Build(zonetest.Zone(t, h, `
@      MX 10 mail.example.test.
@      TXT "apex"
mixed  A 192.0.2.1
mixed  TXT "one"
mixed  A 192.0.2.2
mixed  AAAA 2001:db8::1
mixed  TXT "two"
mixed  A 192.0.2.3
dup    A 192.0.2.4
dup    A 192.0.2.4
dup    MX 10 Mail.example.test.
dup    MX 10 mail.example.test.
alias  CNAME mixed.example.test. ; flatten
sub    NS ns.sub.example.test.
sub    DS 12345 13 2 3F7B2A2B6E9C0D1E2F3A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90
*.wild A 192.0.2.5
a.b.c  TXT "below an empty non-terminal"
`))
	if err != nil {
		t.Fatal(err)
	}
	check := func(z *Zone) {
		t.Helper()
		nodes := 0
		z.EachNode(func(n *Node) bool {
			nodes++
			var want []dns.RR
			for _, s := range n.Sets() {
				want = append(want, s.RRs...)
			}
			recs := n.AppendWire(nil)
			if len(recs) != len(want) {
				t.Fatalf("%s: %d wire records, Sets holds %d", n.Name, len(recs), len(want))
			}
			if n.Empty() != (len(recs) == 0) {
				t.Fatalf("%s: Empty %v with %d records", n.Name, n.Empty(), len(recs))
			}
			for i, r := range recs {
				hdr := dns.RR_Header{Name: n.Name, Rrtype: r.Type, Class: dns.ClassINET, Ttl: r.TTL, Rdlength: uint16(len(r.Rdata))}
				rr, _, err := dns.UnpackRRWithHeader(hdr, []byte(r.Rdata), 0)
				if err != nil {
					t.Fatalf("%s record %d: %v", n.Name, i, err)
				}
				if rr.String() != want[i].String() {
					t.Fatalf("%s record %d: wire %s, Sets %s", n.Name, i, rr, want[i])
				}
			}
			return true
		})
		if nodes != z.Len() {
			t.Fatalf("walked %d nodes of %d", nodes, z.Len())
		}
	}
	check(z)
	// A delta appends to a name's records: they come apart again.
	rr, _ := dns.NewRR("mixed.example.test. 300 IN TXT \"three\"")
	buf := make([]byte, 512)
	n, _ := dns.PackRR(rr, buf, 0, nil, false)
	nz, err := ApplyDelta(z, &snapshot.ZoneDelta{Name: "example.test.", ZoneId: h.GetZoneId(), FromVersion: 1, ToVersion: 2,
		Upserts: []*snapshot.Record{{Id: "new-1", Rr: buf[:n]}}})
	if err != nil {
		t.Fatal(err)
	}
	check(nz)
	if got := len(nz.Node("mixed.example.test.").AppendWire(nil)); got != 7 {
		t.Fatalf("mixed holds %d records after the delta, want 7", got)
	}
}
