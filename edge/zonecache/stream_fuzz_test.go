package zonecache

import (
	"errors"
	"strings"
	"testing"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// FuzzStream feeds arbitrary encodings to Stream, in pieces, and to
// BuildBytes. Since the large zone's object is indexed while it arrives,
// before its signature is checked at the end, these bytes may come from
// whoever can write to NATS: nothing may panic, and both must agree on
// whether the bytes are a zone and, when they are, on the zone.
func FuzzStream(f *testing.F) {
	records := []*snapshot.Record{}
	for i, rr := range fastSeeds(f) {
		records = append(records, &snapshot.Record{Id: string(rune('a'+i)) + "0123456789abcdef", Rr: rr, Proxied: i%3 == 0})
	}
	for _, s := range []*snapshot.Zone{
		{Header: zonetest.Header("example.com.", 7), Records: records},
		{Header: zonetest.Header("example.com.", 7), Records: records[:1]},
		{Header: zonetest.Header("example.com.", 7)},
	} {
		b, err := snapshot.MarshalZone(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(7))
		f.Add(b, uint16(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, piece uint16) {
		want, werr := BuildBytes(b)
		got, gerr := streamBuild(b, max(int(piece), 1))
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("BuildBytes: %v, streamed: %v", werr, gerr)
		}
		if werr == nil && describe(got) != describe(want) {
			t.Fatalf("streamed differs from BuildBytes\n got: %s\nwant: %s", describe(got), describe(want))
		}
	})
}

// TestHeadersThatCannotBeServedAreRefused: a header is checked before any
// record is indexed (a large zone's records are indexed as they arrive,
// before the signature at the end is), and a header that would index names
// outside the zone, or whose SOA or NS cannot be stored, is refused rather
// than crashing the load (both were panics, found by FuzzStream).
func TestHeadersThatCannotBeServedAreRefused(t *testing.T) {
	long := strings.Repeat("x", 64)
	for _, tc := range []struct {
		name string
		edit func(h *snapshot.ZoneHeader)
	}{
		{"served name shorter than the name", func(h *snapshot.ZoneHeader) { h.ServedName = "com." }},
		{"served name not the name and a suffix", func(h *snapshot.ZoneHeader) { h.ServedName = "other.example.net." }},
		{"served name not normalized", func(h *snapshot.ZoneHeader) { h.ServedName = "Example.com.cdn.test." }},
		{"a nameserver that is no domain name", func(h *snapshot.ZoneHeader) { h.NameServers = []string{long + ".example.net."} }},
		{"an SOA mailbox that is no domain name", func(h *snapshot.ZoneHeader) { h.Soa.Rname = long + ".example.com." }},
	} {
		h := zonetest.Header("example.com.", 7)
		tc.edit(h)
		b, err := snapshot.MarshalZone(&snapshot.Zone{Header: h, Records: []*snapshot.Record{{Id: "a1", Rr: fastSeeds(t)[0]}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := BuildBytes(b); !errors.Is(err, ErrInvalidZone) {
			t.Errorf("%s: BuildBytes = %v, want ErrInvalidZone", tc.name, err)
		}
		if _, err := streamBuild(b, 3); !errors.Is(err, ErrInvalidZone) {
			t.Errorf("%s: streamed = %v, want ErrInvalidZone", tc.name, err)
		}
	}
}
