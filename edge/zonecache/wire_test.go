package zonecache

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func TestBuildBytesEqualsBuild(t *testing.T) {
	s := zonetest.Zone(t, zonetest.Header("example.com.", 7), `
www       IN A 192.0.2.1
www       IN A 192.0.2.1
*         IN A 192.0.2.2 ; proxied managed=lb
a.b.ent   IN TXT "x"
deleg     IN NS ns.deleg
alias     IN CNAME www ; flatten
@         IN NS ignored.example.net.
`)
	got, want := buildBoth(t, s)
	if g, w := describe(got), describe(want); g != w {
		t.Errorf("BuildBytes differs from Build\n got: %s\nwant: %s", g, w)
	}
	// Deltas apply to it like to any zone: the id index is built too.
	d := &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 7, ToVersion: 8, Deletes: []string{s.Records[0].Id}}
	if _, err := ApplyDelta(got, d); err != nil {
		t.Fatal(err)
	}
}

func TestBuildBytesRejectsBadInput(t *testing.T) {
	good, err := snapshot.MarshalZone(zonetest.Zone(t, zonetest.Header("example.com.", 7), "www IN A 192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	otherFormat := zonetest.Header("example.com.", 7)
	otherFormat.Format = 99
	badFormat, _ := snapshot.MarshalZone(&snapshot.Zone{Header: otherFormat})
	pointer, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("example.com.", 7), RecordsObject: "example.com"})
	garbageRR, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("example.com.", 7),
		Records: []*snapshot.Record{{Id: "x", Rr: []byte{1, 2, 3}}}})
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrInvalidZone},
		{"truncated", good[:len(good)-3], ErrInvalidZone},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff}, ErrInvalidZone},
		{"unknown format", badFormat, snapshot.ErrFormat},
		{"records elsewhere", pointer, ErrInvalidZone},
		{"garbage record", garbageRR, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := BuildBytes(tt.b)
			if err == nil {
				t.Fatalf("built %s", z.Name)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestBuildBytesOfManyChunksEqualsBuild loads a zone of several decoding
// chunks whose names' records are spread over them (so that the parallel
// insert must keep each name's records in snapshot order: the first of two
// equal records is the one served) and compares every node's stored
// records with Build's.
func TestBuildBytesOfManyChunksEqualsBuild(t *testing.T) {
	s := &snapshot.Zone{Header: zonetest.Header("example.com.", 7)}
	buf := make([]byte, 1024)
	add := func(rr dns.RR) {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		s.Records = append(s.Records, &snapshot.Record{Id: fmt.Sprintf("%032x", len(s.Records)), Rr: append([]byte(nil), buf[:n]...),
			Proxied: len(s.Records)%7 == 0})
	}
	for i := range 3 * loadChunk {
		name := fmt.Sprintf("h%d.s%d.example.com.", i%9000, i%13)
		if i%11 == 0 {
			name = fmt.Sprintf("H%d.Example.COM.", i%500) // general path
		}
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: uint32(60 + i%5)}
		}
		switch i % 5 {
		case 0:
			add(&dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(10, 0, byte(i>>8), byte(i%3))})
		case 1:
			add(&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{fmt.Sprint("t", i%4)}})
		case 2:
			add(&dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: fmt.Sprintf("MX%d.example.net.", i%3)})
		case 3:
			add(&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP(fmt.Sprintf("2001:db8::%x", i%2))})
		default:
			hdr := dns.RR_Header{Name: "big.example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}
			add(&dns.TXT{Hdr: hdr, Txt: []string{fmt.Sprint("big", i%50)}})
		}
	}
	got, want := buildBoth(t, s)
	if got.Len() != want.Len() {
		t.Fatalf("%d names, want %d", got.Len(), want.Len())
	}
	want.nodes.each(func(w *Node) bool {
		g := got.Node(w.Name)
		if g == nil || g.data != w.data || g.children != w.children || g.Delegation != w.Delegation || g.proxied != w.proxied {
			t.Fatalf("node %s differs from Build's", w.Name)
		}
		return true
	})
	if g, w := describe(got), describe(want); g != w {
		t.Errorf("BuildBytes differs from Build")
	}
	d := &snapshot.ZoneDelta{Name: "example.com.", FromVersion: 7, ToVersion: 8, Deletes: []string{s.Records[4].Id, s.Records[len(s.Records)-1].Id}}
	if _, err := ApplyDelta(got, d); err != nil {
		t.Fatal(err)
	}
}

// buildBoth builds s from its encoding (BuildBytes) and decoded (Build).
func buildBoth(t *testing.T, s *snapshot.Zone) (got, want *Zone) {
	t.Helper()
	b, err := snapshot.MarshalZone(s)
	if err != nil {
		t.Fatal(err)
	}
	if want, err = Build(s); err != nil {
		t.Fatal(err)
	}
	if got, err = BuildBytes(b); err != nil {
		t.Fatal(err)
	}
	return got, want
}
