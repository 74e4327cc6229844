package snapshot

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestZoneRoundTrip(t *testing.T) {
	in := &Zone{
		Header:  &ZoneHeader{Format: FormatVersion, Name: "example.com.", Version: 42},
		Records: []*Record{{Id: "r1", Rr: []byte{1, 2, 3}, Proxied: true}},
	}
	b, err := MarshalZone(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalZone(b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip changed the zone: %v != %v", in, out)
	}
}

func TestUnmarshalRejectsUnknownFormat(t *testing.T) {
	b, _ := MarshalZone(&Zone{Header: &ZoneHeader{Format: FormatVersion + 1, Name: "x."}})
	if _, err := UnmarshalZone(b); !errors.Is(err, ErrFormat) {
		t.Fatalf("error = %v, want ErrFormat", err)
	}
	if _, err := UnmarshalZone([]byte{0xff, 0xff}); err == nil {
		t.Fatal("garbage decoded without error")
	}
}

func TestZoneKey(t *testing.T) {
	for _, n := range []string{"example.com.", ".", "_a.b-c.org."} {
		if got := NameFromKey(ZoneKey(n)); got != n {
			t.Errorf("NameFromKey(ZoneKey(%q)) = %q", n, got)
		}
	}
}
