package zonecache

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
			for _, piece := range []int{1, 3, 1 << 20} {
				z, serr := streamBuild(tt.b, piece)
				if serr == nil {
					t.Fatalf("streamed in pieces of %d bytes: built %s", piece, z.Name)
				}
				if tt.want != nil && !errors.Is(serr, tt.want) {
					t.Errorf("streamed in pieces of %d bytes: error %v, want %v", piece, serr, tt.want)
				}
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
	// Streamed, it holds about a decoding chunk of the encoding at a
	// time, not all of it.
	b, _ := snapshot.MarshalZone(s)
	st := NewStream(len(b))
	held := 0
	for rest := b; len(rest) > 0; {
		n := min(128<<10, len(rest))
		st.Write(rest[:n])
		rest = rest[n:]
		held = max(held, cap(st.buf))
	}
	if _, err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	if held > len(b)*3/4 {
		t.Errorf("streaming %d bytes held a buffer of %d", len(b), held)
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
	// Streamed in pieces of any size, the same zone comes out, and so it
	// does when the size the index is made for is far off (tables that
	// grow while the inserters probe them, or many more shards).
	for _, c := range []struct{ piece, hint int }{{1, len(b)}, {5, len(b)}, {4093, len(b)}, {256 << 10, len(b)},
		{4093, 1}, {4093, 64 * len(b)}} {
		z, err := streamBuildHint(b, c.piece, c.hint)
		if err != nil {
			t.Fatalf("streamed in pieces of %d bytes, size hint %d: %v", c.piece, c.hint, err)
		}
		if g, w := describe(z), describe(got); g != w {
			t.Fatalf("streamed in pieces of %d bytes, size hint %d: differs from BuildBytes\n got: %s\nwant: %s", c.piece, c.hint, g, w)
		}
	}
	return got, want
}

// streamBuild writes b to a Stream in pieces of the given size.
func streamBuild(b []byte, piece int) (*Zone, error) { return streamBuildHint(b, piece, len(b)) }

// streamBuildHint is streamBuild with the Stream told to expect hint bytes.
func streamBuildHint(b []byte, piece, hint int) (*Zone, error) {
	s := NewStream(hint)
	for len(b) > 0 {
		n := min(piece, len(b))
		if m, err := s.Write(b[:n]); m != n || err != nil {
			return nil, fmt.Errorf("write: %d, %v", m, err)
		}
		b = b[n:]
	}
	return s.Finish()
}

// TestStreamFieldOrder: a snapshot whose records come before its header
// (the control plane writes the header first) still loads when streamed,
// as BuildBytes loads it; a second header after the records started is
// refused (BuildBytes would build with it, the stream decoded records
// with the first).
func TestStreamFieldOrder(t *testing.T) {
	hdr, err := proto.Marshal(zonetest.Header("example.com.", 7))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := proto.Marshal(zonetest.Header("example.com.", 8))
	s := zonetest.Zone(t, zonetest.Header("example.com.", 7), "www IN A 192.0.2.1\nmail IN TXT \"x\"")
	var records []byte
	for _, r := range s.Records {
		rb, _ := proto.Marshal(r)
		records = protowire.AppendTag(records, zoneRecordsField, protowire.BytesType)
		records = protowire.AppendBytes(records, rb)
	}
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	recordsFirst := append(append([]byte(nil), records...), field(zoneHeaderField, hdr)...)
	want, err := BuildBytes(recordsFirst)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []int{1, 1 << 20} {
		got, err := streamBuild(recordsFirst, piece)
		if err != nil {
			t.Fatalf("records before the header, pieces of %d: %v", piece, err)
		}
		if g, w := describe(got), describe(want); g != w {
			t.Fatalf("records before the header, pieces of %d: differs from BuildBytes\n got: %s\nwant: %s", piece, g, w)
		}
	}
	twoHeaders := append(append(field(zoneHeaderField, hdr), records...), field(zoneHeaderField, other)...)
	if _, err := streamBuild(twoHeaders, 1<<20); !errors.Is(err, ErrInvalidZone) {
		t.Fatalf("a header after the records: %v, want %v", err, ErrInvalidZone)
	}
}
