package zonecache

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// generalRecord is what the loader did for every record before fastRecord:
// ok is false for a record that is refused or not served.
func generalRecord(zone, suffix string, w wireRecord) (enc, owner string, id idKey, ok bool) {
	r, owner, err := unpackRecord(zone, suffix, w)
	if err != nil || r.rr == nil {
		return "", "", id, false
	}
	enc, _, err = encodeRecord(r, w.rr, nil)
	if err != nil {
		return "", "", id, false
	}
	return enc, owner, r.id, true
}

// checkFastRecord fails if fastRecord takes a record and the general path
// refuses it or stores it differently.
func checkFastRecord(t *testing.T, zone, suffix string, w wireRecord) bool {
	t.Helper()
	enc, owner, id, ok := fastRecord(zone, suffix, w)
	if !ok {
		return false
	}
	genc, gowner, gid, gok := generalRecord(zone, suffix, w)
	if !gok {
		t.Fatalf("fast path takes %x, general path refuses it", w.rr)
	}
	if enc != genc || owner != gowner || id != gid {
		t.Fatalf("fast path stores %x as %q %x at %q, general path as %q %x at %q", w.rr, enc, id, owner, genc, gid, gowner)
	}
	return true
}

func packed(t testing.TB, rr dns.RR) []byte {
	buf := make([]byte, 1024)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func fastSeeds(t testing.TB) [][]byte {
	hdr := func(name string, rrtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: 300}
	}
	return [][]byte{
		packed(t, &dns.A{Hdr: hdr("www.example.com.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)}),
		packed(t, &dns.A{Hdr: hdr("*.example.com.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)}),
		packed(t, &dns.A{Hdr: hdr("example.com.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)}),
		packed(t, &dns.A{Hdr: hdr("WWW.Example.com.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)}),
		packed(t, &dns.AAAA{Hdr: hdr("a-b_c.x.example.com.", dns.TypeAAAA), AAAA: net.ParseIP("2001:db8::1")}),
		packed(t, &dns.TXT{Hdr: hdr("t.example.com.", dns.TypeTXT), Txt: []string{"v=spf1 -all", "", "x\"y"}}),
		packed(t, &dns.A{Hdr: hdr("www.example.net.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)}),
		packed(t, &dns.CNAME{Hdr: hdr("c.example.com.", dns.TypeCNAME), Target: "www.example.com."}),
		packed(t, &dns.CNAME{Hdr: hdr("c.example.com.", dns.TypeCNAME), Target: "elsewhere.example.net."}),
		packed(t, &dns.CNAME{Hdr: hdr("c.example.com.", dns.TypeCNAME), Target: "Mixed.Example.COM."}),
		packed(t, &dns.MX{Hdr: hdr("example.com.", dns.TypeMX), Preference: 10, Mx: "mx1.example.net."}),
		packed(t, &dns.MX{Hdr: hdr("m.example.com.", dns.TypeMX), Preference: 0, Mx: "MX.example.net."}),
	}
}

// TestFastRecordStoresWhatTheGeneralPathStores mutates well-formed records
// (bytes changed, cut, appended) and checks that whatever the fast path
// takes, the general path takes and stores the same way; and that it takes
// the usual records at all.
func TestFastRecordStoresWhatTheGeneralPathStores(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for _, suffix := range []string{"", "cdn.zonegrid.test."} {
		for _, seed := range fastSeeds(t) {
			w := wireRecord{id: []byte("0123456789abcdef0123456789abcdef"), rr: seed, proxied: true, managed: managed.Product(1)}
			if checkFastRecord(t, "example.com.", suffix, w) {
				taken++
			}
			for range 3000 {
				b := append([]byte(nil), seed...)
				switch rng.IntN(4) {
				case 0:
					b[rng.IntN(len(b))] = byte(rng.IntN(256))
				case 1:
					b = b[:rng.IntN(len(b))]
				case 2:
					b = append(b, byte(rng.IntN(256)))
				case 3:
					i := rng.IntN(len(b))
					b[i] = []byte{0, 1, 4, 16, 63, 64, 0xc0, 'A', '.', '*'}[rng.IntN(10)]
				}
				w.rr = b
				checkFastRecord(t, "example.com.", suffix, w)
			}
		}
	}
	// A, A, A, AAAA, TXT in both zones; CNAME, CNAME, MX (lower-case
	// targets) outside the partial one.
	if taken != 2*5+3 {
		t.Errorf("fast path took %d of the well-formed in-zone records with plain names, want 13", taken)
	}
}

func FuzzFastRecord(f *testing.F) {
	for _, seed := range fastSeeds(f) {
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, rr []byte, id string) {
		if id == "" {
			id = "x"
		}
		checkFastRecord(t, "example.com.", "", wireRecord{id: []byte(id), rr: rr})
		// And a zone of it loads as Build (the general path) loads it, or
		// is refused by both.
		s := &snapshot.Zone{Header: zonetest.Header("example.com.", 7), Records: []*snapshot.Record{{Id: id, Rr: rr}}}
		b, err := snapshot.MarshalZone(s)
		if err != nil {
			t.Skip()
		}
		want, werr := Build(s)
		got, gerr := BuildBytes(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Build: %v, BuildBytes: %v", werr, gerr)
		}
		if werr == nil && describe(got) != describe(want) {
			t.Fatalf("BuildBytes differs from Build\n got: %s\nwant: %s", describe(got), describe(want))
		}
	})
}
